//! `certificates` (KP110): leaf certificates the certificate Lambda issues, and when they renew.

use super::Required;
use crate::config::stage::CertificateSettings;
use crate::diagnostics::Finding;
use crate::model::CertificatePolicy;

/// The leaf certificate policy; out-of-range values are reported.
pub fn resolve(certs: Option<&CertificateSettings>, r: &mut Required<'_>) -> CertificatePolicy {
    let certs = certs.cloned().unwrap_or_default();
    let validity_days =
        certs.validity_days.as_ref().map(|d| d.value).unwrap_or(CertificateSettings::DEFAULT_VALIDITY_DAYS);
    if !(1..=825).contains(&validity_days) {
        let loc = certs.validity_days.as_ref().map(|d| d.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP110", &loc, format!("certificate validity {validity_days} days"))
                .hint("1 to 825 days"),
        );
    }
    let renew_before_days = match &certs.renew_before_days {
        Some(d) if d.value < 2 || u64::from(d.value) * 2 > u64::from(validity_days) => {
            r.push(
                Finding::error("KP110", &d.location, format!("renewal window {} days", d.value))
                    .hint(format!("2 to half the validity ({} days)", validity_days / 2)),
            );
            2
        }
        Some(d) => d.value,
        None => CertificateSettings::DEFAULT_RENEW_BEFORE_DAYS.min(validity_days / 2).max(1),
    };
    CertificatePolicy {
        key_algorithm: certs
            .key_algorithm
            .map(|k| k.value)
            .unwrap_or(CertificateSettings::DEFAULT_KEY_ALGORITHM),
        validity_days,
        renewal_token: certs
            .renewal_token
            .map(|t| t.value)
            .unwrap_or_else(|| CertificateSettings::DEFAULT_RENEWAL_TOKEN.into()),
        renew_before_days,
    }
}
