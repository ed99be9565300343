//! `certificate_authority` (KP110): the stage's private CA, created or existing.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use crate::config::stage::{CaMode, CaSettings, StageName};
use crate::diagnostics::Finding;
use crate::model::CertificateAuthority;

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
            Some(CertificateAuthority::Create {
                key_algorithm: ca.key_algorithm.map(|k| k.value).unwrap_or(CaSettings::DEFAULT_KEY_ALGORITHM),
                validity_years: years,
                common_name: ca.common_name.map(|c| c.value).unwrap_or_else(|| format!("Kafka {stage} CA")),
                organization: ca
                    .organization
                    .map(|o| o.value)
                    .unwrap_or_else(|| CaSettings::DEFAULT_ORGANIZATION.into()),
            })
        }
    }
}
