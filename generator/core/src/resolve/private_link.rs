//! `private_link` (KP105, KP115): the VPC endpoint service for consumers in other VPCs and accounts.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use super::cidr_policy::{self, Bounds};
use crate::config::stage::PrivateLinkSettings;
use crate::diagnostics::Finding;
use crate::model::PrivateLink;

/// IAM names are ASCII: the classes are spelled out rather than `\w` and `\d`, whose Unicode tables
/// made this one regex cost about 1 % of a large stage's render to compile, and admitted letters
/// IAM refuses.
static PRINCIPAL_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/[A-Za-z0-9_+=,.@/-]+|user/[A-Za-z0-9_+=,.@/-]+)$")
        .unwrap()
});

/// Checks an enabled endpoint service (consumer CIDRs within the client `bounds`) and builds it.
pub fn resolve(p: Option<&PrivateLinkSettings>, bounds: Bounds, r: &mut Required<'_>) -> Option<PrivateLink> {
    let p = p.filter(|p| p.enabled.as_ref().is_some_and(|e| e.value))?.clone();
    let principals = p.allowed_principals.clone().map(|c| c.value).unwrap_or_default();
    for principal in &principals {
        if !PRINCIPAL_ARN.is_match(principal) {
            r.push(
                Finding::error(
                    "KP115",
                    &principal.location,
                    format!("`{}` is not an IAM principal ARN", principal.value),
                )
                .hint("e.g. arn:aws:iam::123456789012:root; `*` is not allowed"),
            );
        }
    }
    // The internal NLB evaluates PrivateLink traffic by the consumer's own address, so the
    // consumers' networks must be declared to be admitted (docs/architecture.md).
    let consumers = p.consumer_cidrs.clone().map(|c| c.value).unwrap_or_default();
    if consumers.is_empty() {
        let loc = p.enabled.as_ref().map(|e| e.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP115", &loc, "PrivateLink without consumer_cidrs").hint(
                "list the consumers' VPC CIDRs; the NLB admits PrivateLink clients by their own address",
            ),
        );
    }
    let nets = cidr_policy::check_cidrs(&consumers, r);
    if let Some(list) = &p.consumer_cidrs {
        cidr_policy::check_coverage(&nets, bounds, "private_link.consumer_cidrs", &list.location, r);
    }
    Some(PrivateLink {
        allowed_principals: principals.into_iter().map(|p| p.value).collect(),
        acceptance_required: p
            .acceptance_required
            .map(|a| a.value)
            .unwrap_or(PrivateLinkSettings::DEFAULT_ACCEPTANCE_REQUIRED),
        consumer_cidrs: consumers.into_iter().map(|c| c.value).collect(),
    })
}
