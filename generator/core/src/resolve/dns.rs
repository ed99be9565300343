//! `dns` (KP116): the stage's private hosted zone.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use crate::config::stage::DnsSettings;
use crate::diagnostics::Finding;

static DNS_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$").unwrap());

/// The private zone name (required), checked to be a DNS name.
pub fn resolve(dns: Option<&DnsSettings>, r: &mut Required<'_>) -> Option<String> {
    let zone = r.get(dns.and_then(|d| d.zone_name.as_ref()), "dns.zone_name")?;
    if !is_dns_name(&zone) {
        r.push(Finding::error("KP116", &zone.location, format!("`{}` is not a DNS zone name", zone.value)));
    }
    Some(zone.value)
}

/// A lowercase DNS name: labels of letters, digits and inner '-', at most 253 characters.
pub(super) fn is_dns_name(name: &str) -> bool {
    name.len() <= 253 && DNS_NAME.is_match(name)
}
