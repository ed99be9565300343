//! `cidr_policy` (KP105): how much of the address space the declared CIDR lists may cover, and the
//! CIDR checks every list shares.

use ipnet::IpNet;

use super::Required;
use crate::config::stage::CidrPolicySettings;
use crate::diagnostics::Finding;
use crate::span::{Location, Spanned};

/// The loosest bound a `cidr_policy` may declare, per family (IPv4, IPv6).
const LOOSEST_PREFIX: (u8, u8) = (8, 32);

/// Coverage bounds as prefix lengths (IPv4, IPv6).
pub type Bounds = (u8, u8);

/// The resolved bounds: client CIDRs (also PrivateLink consumers), public endpoint CIDRs.
pub struct CidrBounds {
    pub client: Bounds,
    pub public: Bounds,
}

/// Checks the declared bounds; an out-of-range one is reported and its default used.
pub fn resolve(p: Option<&CidrPolicySettings>, r: &mut Required<'_>) -> CidrBounds {
    let p = p.cloned().unwrap_or_default();
    CidrBounds {
        client: (
            coverage_bound(
                p.client_ipv4_prefix.as_ref(),
                CidrPolicySettings::DEFAULT_CLIENT_IPV4_PREFIX,
                false,
                r,
            ),
            coverage_bound(
                p.client_ipv6_prefix.as_ref(),
                CidrPolicySettings::DEFAULT_CLIENT_IPV6_PREFIX,
                true,
                r,
            ),
        ),
        public: (
            coverage_bound(
                p.public_ipv4_prefix.as_ref(),
                CidrPolicySettings::DEFAULT_PUBLIC_IPV4_PREFIX,
                false,
                r,
            ),
            coverage_bound(
                p.public_ipv6_prefix.as_ref(),
                CidrPolicySettings::DEFAULT_PUBLIC_IPV6_PREFIX,
                true,
                r,
            ),
        ),
    }
}

/// The declared coverage bound (a prefix length) of one family, checked against the loosest
/// allowed, or the default.
fn coverage_bound(declared: Option<&Spanned<u8>>, default: u8, ipv6: bool, r: &mut Required<'_>) -> u8 {
    let Some(declared) = declared else { return default };
    let (loosest, bits) = if ipv6 { (LOOSEST_PREFIX.1, 128) } else { (LOOSEST_PREFIX.0, 32) };
    if !(loosest..=bits).contains(&declared.value) {
        r.push(
            Finding::error("KP105", &declared.location, format!("coverage bound /{}", declared.value))
                .hint(format!("a prefix length from {loosest} to {bits}")),
        );
        return default;
    }
    declared.value
}

/// Number of addresses of a network (saturating: an IPv6 /0 has 2^128).
fn addresses(net: &IpNet) -> u128 {
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}

/// Checks every CIDR of a list (KP105 for each that does not parse or has host bits) and returns
/// the ones that parse.
pub fn check_cidrs(cidrs: &[Spanned<String>], r: &mut Required<'_>) -> Vec<(IpNet, Spanned<String>)> {
    cidrs.iter().filter_map(|cidr| check_cidr(cidr, r).map(|net| (net, cidr.clone()))).collect()
}

/// KP105: the union of `nets` covers no more addresses per family than one network of the bound's
/// prefix length; overlapping CIDRs count once. A CIDR that alone is too wide is reported at
/// itself, a set that is too wide together at the list.
pub fn check_coverage(
    nets: &[(IpNet, Spanned<String>)],
    (ipv4_prefix, ipv6_prefix): Bounds,
    key: &str,
    location: &Location,
    r: &mut Required<'_>,
) {
    for (ipv6, prefix, bits) in [(false, ipv4_prefix, 32u32), (true, ipv6_prefix, 128u32)] {
        let family: Vec<&(IpNet, Spanned<String>)> =
            nets.iter().filter(|(n, _)| matches!(n, IpNet::V6(_)) == ipv6).collect();
        let bound = 1u128.checked_shl(bits - u32::from(prefix)).unwrap_or(u128::MAX);
        let hint = format!("list narrower CIDRs; cidr_policy bounds {key} to the addresses of one /{prefix}");
        let mut alone = false;
        for (net, cidr) in &family {
            if addresses(net) > bound {
                alone = true;
                let message = if net.prefix_len() == 0 {
                    "the whole internet may not reach the brokers".to_string()
                } else {
                    format!("`{}` covers more addresses than one /{prefix}", cidr.value)
                };
                r.push(Finding::error("KP105", &cidr.location, message).hint(hint.clone()));
            }
        }
        let union = IpNet::aggregate(&family.iter().map(|(n, _)| n.trunc()).collect());
        let covered = union.iter().map(addresses).fold(0u128, u128::saturating_add);
        if !alone && covered > bound {
            let name = if ipv6 { "IPv6" } else { "IPv4" };
            r.push(
                Finding::error(
                    "KP105",
                    location,
                    format!("{key} together cover {covered} {name} addresses, more than one /{prefix}"),
                )
                .hint(hint),
            );
        }
    }
}

/// Checks that a CIDR parses and has no host bits (its coverage is checked with its list).
pub fn check_cidr(cidr: &Spanned<String>, r: &mut Required<'_>) -> Option<IpNet> {
    match cidr.value.parse::<IpNet>() {
        Ok(net) => {
            if net.trunc() != net {
                r.push(
                    Finding::error("KP105", &cidr.location, format!("`{}` has host bits set", cidr.value))
                        .hint(format!("did you mean {}?", net.trunc())),
                );
            }
            Some(net)
        }
        Err(_) => {
            r.push(
                Finding::error("KP105", &cidr.location, format!("`{}` is not a CIDR", cidr.value))
                    .hint("e.g. 10.20.0.0/16"),
            );
            None
        }
    }
}
