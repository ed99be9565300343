//! `public_endpoint` (KP100, KP105, KP106, KP116, KP121): the internet-facing NLB with one listener
//! per broker.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use super::cidr_policy::{self, Bounds};
use super::dns::is_dns_name;
use crate::config::stage::PublicEndpointSettings;
use crate::diagnostics::Finding;
use crate::model::PublicEndpoint;
use crate::span::Spanned;

static HOSTED_ZONE_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^Z[A-Z0-9]{1,31}$").unwrap());

/// Checks an enabled endpoint (its CIDRs within `bounds`, a port per broker) and builds it.
pub fn resolve(
    p: Option<&PublicEndpointSettings>,
    bounds: Bounds,
    brokers: Option<u32>,
    r: &mut Required<'_>,
) -> Option<PublicEndpoint> {
    let p = p.filter(|p| p.enabled.as_ref().is_some_and(|e| e.value))?.clone();
    let enabled_location = p.enabled.as_ref().map(|e| e.location.clone()).unwrap_or_default();
    let cidrs = p.allowed_cidrs.clone().map(|c| c.value).unwrap_or_default();
    if cidrs.is_empty() {
        r.push(
            Finding::error("KP105", &enabled_location, "public endpoint without allowed_cidrs")
                .hint("list the source CIDRs that may connect"),
        );
    }
    let nets = cidr_policy::check_cidrs(&cidrs, r);
    if let Some(list) = &p.allowed_cidrs {
        cidr_policy::check_coverage(&nets, bounds, "public_endpoint.allowed_cidrs", &list.location, r);
    }
    let subnet_ids = p.subnet_ids.clone().map(|s| s.value).unwrap_or_default();
    if subnet_ids.is_empty() {
        r.push(
            Finding::error(
                "KP100",
                &enabled_location,
                "missing required setting `public_endpoint.subnet_ids`",
            )
            .hint("public subnets for the NLB, one per AZ"),
        );
    }
    let first_port = p
        .first_port
        .clone()
        .unwrap_or_else(|| Spanned::generated(PublicEndpointSettings::DEFAULT_FIRST_PORT));
    let broker_count = brokers.unwrap_or(1);
    // In u64: a declared port near u32::MAX plus the brokers must not overflow.
    if first_port.value < 1024 || u64::from(first_port.value) + u64::from(broker_count) + 1 > 65535 {
        r.push(
            Finding::error("KP106", &first_port.location, format!("first public port {}", first_port.value))
                .hint("use a port from 1024 with room for one port per broker plus the bootstrap port"),
        );
    }
    if let Some(name) = &p.dns_name
        && !is_dns_name(name)
    {
        r.push(
            Finding::error("KP116", &name.location, format!("`{}` is not a DNS name", name.value))
                .hint("a lowercase host name such as kafka.example.com: no port, path or scheme"),
        );
    }
    check_public_zone(&p, r);
    Some(PublicEndpoint {
        subnet_ids: subnet_ids.into_iter().map(|s| s.value).collect(),
        allowed_cidrs: cidrs.into_iter().map(|c| c.value).collect(),
        dns_name: p.dns_name.map(|d| d.value),
        first_port: first_port.value,
        hosted_zone_id: p.hosted_zone_id.map(|z| z.value),
    })
}

/// KP121: a public hosted zone is a Route 53 zone id, and the records need `dns_name`.
fn check_public_zone(p: &PublicEndpointSettings, r: &mut Required<'_>) {
    let Some(zone) = &p.hosted_zone_id else { return };
    if !HOSTED_ZONE_ID.is_match(zone) {
        r.push(
            Finding::error("KP121", &zone.location, format!("`{}` is not a hosted zone id", zone.value))
                .hint("the id of the public Route 53 zone, e.g. Z0123456789ABCDEFGHIJ"),
        );
    }
    if p.dns_name.is_none() {
        r.push(
            Finding::error("KP121", &zone.location, "a public hosted zone without `dns_name`")
                .hint("set `public_endpoint.dns_name` to the bootstrap name inside that zone"),
        );
    }
}
