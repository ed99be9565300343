//! `certificate_authority` (KP110): the stage's private CA, created or existing.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use crate::config::stage::{CaKeyAlgorithm, CaMode, CaRolloverSettings, CaSettings, StageName};
use crate::diagnostics::Finding;
use crate::model::{CaRollover, CertificateAuthority};

static PCA_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority/[0-9a-f-]{36}$").unwrap()
});

/// The CA (`mode` is required, and `arn` with an existing CA); `None` when one is missing.
pub fn resolve(
    ca: Option<&CaSettings>,
    stage: StageName,
    r: &mut Required<'_>,
) -> Option<CertificateAuthority> {
    let ca = ca.cloned().unwrap_or_default();
    let mode = r.get(ca.mode.as_ref(), "certificate_authority.mode")?;
    match mode.value {
        CaMode::Existing => {
            if let Some(phase) = ca.rollover.as_ref().and_then(|ro| ro.phase.as_ref()) {
                r.push(
                    Finding::error(
                        "KP118",
                        &phase.location,
                        "a CA rollover needs `mode: create` (the trust bundle is built from the CAs' certificates, which only a created CA hands to the templates)",
                    )
                    .hint("roll over an existing CA outside the platform, then declare the new ARN"),
                );
            }
            let arn = r.get(ca.arn.as_ref(), "certificate_authority.arn")?;
            if !PCA_ARN.is_match(&arn) {
                r.push(Finding::error(
                    "KP110",
                    &arn.location,
                    format!("`{}` is not an ACM Private CA ARN", arn.value),
                ));
            }
            Some(CertificateAuthority::Existing { arn: arn.value })
        }
        CaMode::Create => {
            let years =
                ca.validity_years.clone().map(|y| y.value).unwrap_or(CaSettings::DEFAULT_VALIDITY_YEARS);
            if !(1..=30).contains(&years) {
                let loc = ca.validity_years.as_ref().map(|y| y.location.clone()).unwrap_or_default();
                r.push(
                    Finding::error("KP110", &loc, format!("CA validity {years} years")).hint("1 to 30 years"),
                );
            }
            let key_algorithm =
                ca.key_algorithm.map(|k| k.value).unwrap_or(CaSettings::DEFAULT_KEY_ALGORITHM);
            let common_name = ca.common_name.map(|c| c.value).unwrap_or_else(|| format!("Kafka {stage} CA"));
            let rollover =
                ca.rollover.as_ref().and_then(|ro| rollover(ro, key_algorithm, years, &common_name, r));
            Some(CertificateAuthority::Create {
                key_algorithm,
                validity_years: years,
                common_name,
                organization: ca
                    .organization
                    .map(|o| o.value)
                    .unwrap_or_else(|| CaSettings::DEFAULT_ORGANIZATION.into()),
                rollover,
            })
        }
    }
}

/// The new CA of a rollover (KP118): a phase, a validity of 1 to 30 years and a common name other
/// than the old CA's (`gen certs` tells the CAs apart by issuer name).
fn rollover(
    ro: &CaRolloverSettings,
    old_algorithm: CaKeyAlgorithm,
    old_years: u32,
    old_name: &str,
    r: &mut Required<'_>,
) -> Option<CaRollover> {
    let Some(phase) = ro.phase.as_ref() else {
        let loc = ro.common_name.as_ref().map_or_else(|| r.file_location(), |c| c.location.clone());
        r.push(
            Finding::error("KP118", &loc, "`certificate_authority.rollover` declares no `phase`")
                .hint("start with `phase: trust`"),
        );
        return None;
    };
    let years = ro.validity_years.as_ref().map_or(old_years, |y| y.value);
    if !(1..=30).contains(&years) {
        let loc = ro.validity_years.as_ref().map(|y| y.location.clone()).unwrap_or_default();
        r.push(Finding::error("KP118", &loc, format!("new CA validity {years} years")).hint("1 to 30 years"));
    }
    let common_name = ro.common_name.as_ref().map_or_else(|| format!("{old_name} 2"), |c| c.value.clone());
    if common_name == old_name {
        let loc = ro.common_name.as_ref().map(|c| c.location.clone()).unwrap_or_default();
        r.push(
            Finding::error(
                "KP118",
                &loc,
                format!("the new CA's common name `{common_name}` is the old CA's"),
            )
            .hint("give the new CA a name of its own, e.g. with a year"),
        );
    }
    Some(CaRollover {
        phase: phase.value,
        key_algorithm: ro.key_algorithm.as_ref().map_or(old_algorithm, |k| k.value),
        validity_years: years,
        common_name,
    })
}
