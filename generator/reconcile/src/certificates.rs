//! Certificate renewal without a restart (docs/operators-guide.md, "Certificate renewal").
//!
//! - [`schedule`] (pure): which certificate renews when. Each one renews inside the stage's window
//!   (`certificates.renew_before_days` before it expires), and certificates that expire together
//!   renew on different days (sorted by name, the i-th one day i of the window's first half).
//! - [`push_node_certificate`]: gives a running node its current key and chain as per-broker dynamic
//!   configs of every listener (`listener.name.<l>.ssl.keystore.key` and `...certificate.chain`).
//!   Kafka rebuilds the listener's SSL factory (it refuses a certificate whose subject or SANs
//!   changed); new handshakes get the new certificate, open connections keep theirs.
//! - [`revocation_gate`] (pure): the old certificate may be revoked only once every listener of the
//!   node serves the new one.

use std::collections::BTreeMap;

use kafka_admin::{AdminClient, ConfigChanges, ConfigOp, ConfigResource, Secret};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateFacts {
    /// Serial, colon-separated lower-case hex (the form ACM PCA's RevokeCertificate takes).
    pub serial: String,
    /// Subject common name.
    pub common_name: String,
    /// Start and end of validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// Reads a DER certificate.
pub fn inspect_der(der: &[u8]) -> Result<CertificateFacts, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let serial = cert.raw_serial().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok(CertificateFacts {
        serial,
        common_name,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Reads the first certificate of a PEM text (a leaf, or a leaf followed by its chain).
pub fn inspect_pem(pem: &str) -> Result<CertificateFacts, String> {
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| format!("no PEM certificate: {e}"))?;
    if block.label != "CERTIFICATE" {
        return Err(format!("a PEM {} block, not a CERTIFICATE", block.label));
    }
    inspect_der(&block.contents)
}

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RenewalState {
    /// Before the renewal window.
    Valid,
    /// Inside the window, before its own renewal day.
    InWindow,
    /// Its renewal day has come.
    Due,
    /// Past not-after.
    Expired,
}

/// One certificate's place in the renewal plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheduled {
    /// The certificate's name (`b0`, `schema-registry`, `admin`, an account).
    pub name: String,
    pub serial: String,
    pub not_after: i64,
    /// Whole days until not-after (negative once expired).
    pub days_left: i64,
    /// Unix seconds of the day this certificate renews.
    pub renew_at: i64,
    pub state: RenewalState,
}

/// Schedules every certificate (pure). `renew_before_days` is the window (validated to 2..=
/// validity/2 by the stage rules, KP110); `now` is Unix seconds. Certificates are taken in name
/// order, and the i-th renews `i mod (window / 2)` days after its window opens: certificates issued
/// together (one deploy issues them all) renew on different days, and every one still renews in
/// the window's first half, leaving the second half for retries.
pub fn schedule(
    certificates: &[(String, CertificateFacts)],
    renew_before_days: u32,
    now: i64,
) -> Vec<Scheduled> {
    let mut sorted: Vec<&(String, CertificateFacts)> = certificates.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let window = i64::from(renew_before_days.max(1));
    let spread = (window / 2).max(1);
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, (name, facts))| {
            let opens = facts.not_after - window * DAY;
            let renew_at = opens + (i as i64 % spread) * DAY;
            let state = if now >= facts.not_after {
                RenewalState::Expired
            } else if now >= renew_at {
                RenewalState::Due
            } else if now >= opens {
                RenewalState::InWindow
            } else {
                RenewalState::Valid
            };
            Scheduled {
                name: name.clone(),
                serial: facts.serial.clone(),
                not_after: facts.not_after,
                days_left: (facts.not_after - now).div_euclid(DAY),
                renew_at,
                state,
            }
        })
        .collect()
}

/// `YYYY-MM-DD` (UTC) of Unix seconds.
pub fn date(unix: i64) -> String {
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's days_from_civil inverse.
    let z = unix.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Whether `now` is inside the renewal window of a certificate expiring at `not_after`.
pub fn in_window(not_after: i64, renew_before_days: u32, now: i64) -> bool {
    now >= not_after - i64::from(renew_before_days) * DAY
}

/// What one listener of a node serves, as read from a fresh handshake (`None`: no answer).
pub type Served = BTreeMap<String, Option<String>>;

/// May the old certificate of a node be revoked? Only when every listener answered and serves
/// `new_serial`; otherwise the listeners that do not, one sentence each.
pub fn revocation_gate(served: &Served, new_serial: &str) -> Result<(), Vec<String>> {
    if served.is_empty() {
        return Err(vec!["no listener of the node was checked".into()]);
    }
    let waiting: Vec<String> = served
        .iter()
        .filter_map(|(listener, serial)| match serial {
            Some(s) if s == new_serial => None,
            Some(s) => Some(format!("{listener} still serves {s}")),
            None => Some(format!("{listener} did not answer a TLS handshake")),
        })
        .collect();
    if waiting.is_empty() { Ok(()) } else { Err(waiting) }
}

/// The listener names of a `listeners` value (`NAME://host:port,...`), lower-case as Kafka's
/// `listener.name.<l>.` prefix spells them.
pub fn listener_names(listeners: &str) -> Vec<String> {
    listeners
        .split(',')
        .filter_map(|l| l.split_once("://").map(|(name, _)| name.trim().to_ascii_lowercase()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// The dynamic configs that give every listener in `listeners` this key and chain.
pub fn keystore_changes(
    node_id: i32,
    listeners: &[String],
    key_pem: &Secret,
    chain_pem: &str,
) -> ConfigChanges {
    let mut changes = BTreeMap::new();
    for l in listeners {
        changes.insert(format!("listener.name.{l}.ssl.keystore.key"), ConfigOp::Set(key_pem.expose().into()));
        changes.insert(
            format!("listener.name.{l}.ssl.keystore.certificate.chain"),
            ConfigOp::Set(chain_pem.into()),
        );
    }
    ConfigChanges { resource: ConfigResource::broker(node_id), changes }
}

/// A node's own `listeners` config (`NAME://host:port,...`; empty when it reports none), asked of
/// the node `client` reaches.
pub async fn listeners_config(client: &AdminClient, node_id: i32) -> Result<String, String> {
    let described = client.describe_configs(&[ConfigResource::broker(node_id)]).await.remove(0);
    let entries = described.map_err(|e| format!("cannot read the listeners of node {node_id}: {e}"))?;
    Ok(entries.into_iter().find(|e| e.name == "listeners").and_then(|e| e.value).unwrap_or_default())
}

/// The listener names of a node, read from its own `listeners` config.
pub async fn node_listeners(client: &AdminClient, node_id: i32) -> Result<Vec<String>, String> {
    let listeners = listener_names(&listeners_config(client, node_id).await?);
    if listeners.is_empty() {
        return Err(format!("node {node_id} reports no listeners"));
    }
    Ok(listeners)
}

/// Pushes a node's key and chain (leaf first) to every listener it has (read from its own
/// `listeners` config) and returns the listener names. The node validates the whole change before
/// it applies any of it, so a refused certificate leaves every listener as it was.
pub async fn push_node_certificate(
    client: &AdminClient,
    node_id: i32,
    key_pem: &Secret,
    chain_pem: &str,
) -> Result<Vec<String>, String> {
    let listeners = node_listeners(client, node_id).await?;
    let changes = keystore_changes(node_id, &listeners, key_pem, chain_pem);
    client
        .incremental_alter_configs(&[changes], false)
        .await
        .remove(0)
        .map_err(|e| format!("node {node_id} refused the certificate: {e}"))?;
    Ok(listeners)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(serial: &str, not_after_day: i64) -> CertificateFacts {
        CertificateFacts {
            serial: serial.into(),
            common_name: "x".into(),
            not_before: 0,
            not_after: not_after_day * DAY,
        }
    }

    #[test]
    fn certificates_that_expire_together_renew_on_different_days_inside_the_window() {
        let certs: Vec<(String, CertificateFacts)> =
            ["b2", "b0", "c1000", "b1"].iter().map(|n| (n.to_string(), facts(n, 400))).collect();
        let plan = schedule(&certs, 30, 360 * DAY);
        let names: Vec<&str> = plan.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b0", "b1", "b2", "c1000"]);
        let days: Vec<i64> = plan.iter().map(|s| s.renew_at / DAY).collect();
        assert_eq!(days, [370, 371, 372, 373]);
        // Every renewal day falls in the window's first half.
        assert!(plan.iter().all(|s| s.renew_at >= 370 * DAY && s.renew_at < 385 * DAY));
        assert!(plan.iter().all(|s| s.state == RenewalState::Valid && s.days_left == 40));
    }

    #[test]
    fn the_state_follows_the_day() {
        let certs = vec![("b0".to_string(), facts("a", 100)), ("b1".to_string(), facts("b", 100))];
        let at = |day: i64| schedule(&certs, 10, day * DAY).iter().map(|s| s.state).collect::<Vec<_>>();
        assert_eq!(at(89), [RenewalState::Valid, RenewalState::Valid]);
        assert_eq!(at(90), [RenewalState::Due, RenewalState::InWindow]);
        assert_eq!(at(91), [RenewalState::Due, RenewalState::Due]);
        assert_eq!(at(100), [RenewalState::Expired, RenewalState::Expired]);
        assert_eq!(schedule(&certs, 10, 101 * DAY)[0].days_left, -1);
        assert!(in_window(100 * DAY, 10, 90 * DAY) && !in_window(100 * DAY, 10, 90 * DAY - 1));
    }

    #[test]
    fn many_certificates_wrap_within_the_first_half() {
        let certs: Vec<(String, CertificateFacts)> =
            (0..9).map(|i| (format!("n{i}"), facts("s", 100))).collect();
        let plan = schedule(&certs, 8, 0);
        let offsets: Vec<i64> = plan.iter().map(|s| s.renew_at / DAY - 92).collect();
        assert_eq!(offsets, [0, 1, 2, 3, 0, 1, 2, 3, 0]);
    }

    #[test]
    fn the_old_certificate_is_revoked_only_when_every_listener_serves_the_new_one() {
        let mut served: Served = BTreeMap::new();
        assert!(revocation_gate(&served, "new").is_err());
        served.insert("internal".into(), Some("new".into()));
        served.insert("mtls".into(), Some("old".into()));
        served.insert("scram".into(), None);
        assert_eq!(
            revocation_gate(&served, "new").unwrap_err(),
            ["mtls still serves old", "scram did not answer a TLS handshake"]
        );
        served.insert("mtls".into(), Some("new".into()));
        served.insert("scram".into(), Some("new".into()));
        assert_eq!(revocation_gate(&served, "new"), Ok(()));
    }

    #[test]
    fn every_listener_gets_key_and_chain_and_the_key_never_shows() {
        let names = listener_names("CONTROLLER://0.0.0.0:9097,INTERNAL://0.0.0.0:9093, MTLS://h:9095");
        assert_eq!(names, ["controller", "internal", "mtls"]);
        let c = keystore_changes(3, &names, &Secret::new("KEY"), "CHAIN");
        assert_eq!(c.resource, ConfigResource::broker(3));
        assert_eq!(c.changes.len(), 6);
        assert_eq!(
            c.changes["listener.name.mtls.ssl.keystore.certificate.chain"],
            ConfigOp::Set("CHAIN".into())
        );
        assert!(format!("{:?}", Secret::new("KEY")).contains("***"));
    }

    #[test]
    fn dates_are_civil_utc_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_798_675_200), "2026-12-31");
        assert_eq!(date(-DAY), "1969-12-31");
    }

    #[test]
    fn pem_certificates_are_read() {
        assert!(inspect_pem("nothing").is_err());
        assert!(inspect_der(b"\x30\x03\x02\x01\x01").is_err());
    }
}
