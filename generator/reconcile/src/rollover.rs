//! CA rollover with overlapping trust (docs/operators-guide.md, "CA rollover").
//!
//! - [`trust_bundle`] (pure): the CA certificates a trust store holds, in order, each once.
//! - [`bundle_for`] (pure): which CAs a phase trusts: old and new while certificates of both may
//!   exist (`trust`, `issue`), the new one alone once the old one retires.
//! - [`push_trust_store`]: gives a running node the bundle as per-broker dynamic configs of every
//!   listener (`listener.name.<l>.ssl.truststore.certificates`), like the key store push.
//!   Kafka validates a trust store change on the inter-broker listener with handshakes between the
//!   old and the new SSL factory in both directions, so a trust store that no longer trusts the
//!   node's own certificate is refused there; adding first and removing last passes.
//! - [`retire_gate`] (pure): the old CA may leave the trust stores only when no stored certificate
//!   and no served node certificate comes from it.

use std::collections::BTreeMap;

use kafka_admin::{AdminClient, ConfigChanges, ConfigOp, ConfigResource};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::certificates::{listeners_config, node_listeners};

/// The phases of a rollover, in order (`certificate_authority.rollover.phase`).
pub use kafka_platform_core::config::stage::RolloverPhase;

/// The PEM CERTIFICATE blocks of a text, each re-encoded as one block.
pub fn pem_blocks(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let pem = pem.map_err(|e| format!("not PEM: {e}"))?;
        if pem.label != "CERTIFICATE" {
            return Err(format!("a PEM {} block, not a CERTIFICATE", pem.label));
        }
        out.push(pem.contents);
    }
    Ok(out)
}

fn to_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The trust bundle of several CA texts (each one or more PEM certificates): every certificate
/// must be a CA certificate; duplicates are kept once, in first-seen order. An empty bundle is an
/// error: a listener without trusted CAs would refuse every client.
pub fn trust_bundle(cas: &[&str]) -> Result<String, String> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for (i, text) in cas.iter().enumerate() {
        for der in pem_blocks(text).map_err(|e| format!("CA {}: {e}", i + 1))? {
            let (_, cert) = X509Certificate::from_der(&der)
                .map_err(|e| format!("CA {}: not an X.509 certificate: {e}", i + 1))?;
            if !cert.is_ca() {
                return Err(format!("CA {}: {} is not a CA certificate", i + 1, cert.subject()));
            }
            if !seen.contains(&der) {
                seen.push(der);
            }
        }
    }
    if seen.is_empty() {
        return Err("no CA certificate to trust".into());
    }
    Ok(seen.iter().map(|d| to_pem(d)).collect())
}

/// The CAs a phase trusts (pure): old then new in `trust` and `issue`, the new CA alone in
/// `retire`.
pub fn bundle_for(phase: RolloverPhase, old_ca: &str, new_ca: &str) -> Result<String, String> {
    match phase {
        RolloverPhase::Trust | RolloverPhase::Issue => trust_bundle(&[old_ca, new_ca]),
        RolloverPhase::Retire => trust_bundle(&[new_ca]),
    }
}

/// The distinguished name of a certificate's issuer (PEM; the first certificate).
pub fn issuer_of(pem: &str) -> Result<String, String> {
    let der = pem_blocks(pem)?.into_iter().next().ok_or("no PEM certificate")?;
    issuer_of_der(&der)
}

/// The distinguished name of a certificate's issuer (DER, as a handshake gives it).
pub fn issuer_of_der(der: &[u8]) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(cert.issuer().to_string())
}

/// The distinguished name of a CA certificate (PEM; the first certificate).
pub fn subject_of(pem: &str) -> Result<String, String> {
    let der = pem_blocks(pem)?.into_iter().next().ok_or("no PEM certificate")?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(cert.subject().to_string())
}

/// May the old CA leave the trust stores? Only when no stored certificate (`name -> issuer DN`,
/// as `gen certs` reads them) and no listener of any node (`node -> listener -> issuer DN` from a
/// fresh handshake; `None`: no answer) is of the old CA. Otherwise one sentence per reason.
pub fn retire_gate(
    old_ca: &str,
    stored: &BTreeMap<String, Option<String>>,
    served: &BTreeMap<String, BTreeMap<String, Option<String>>>,
) -> Result<(), Vec<String>> {
    let mut waiting = Vec::new();
    if stored.is_empty() {
        waiting.push("no stored certificate was read".to_string());
    }
    for (name, issuer) in stored {
        match issuer {
            Some(i) if i == old_ca => waiting.push(format!("certificate {name} is still issued by {old_ca}")),
            Some(_) => {}
            None => waiting.push(format!("certificate {name} cannot be read")),
        }
    }
    if served.is_empty() {
        waiting.push("no node was checked".to_string());
    }
    for (node, listeners) in served {
        if listeners.is_empty() {
            waiting.push(format!("node {node}: no listener was checked"));
        }
        for (listener, issuer) in listeners {
            match issuer {
                Some(i) if i == old_ca => waiting
                    .push(format!("node {node} still serves a certificate of the old CA on {listener}")),
                Some(_) => {}
                None => waiting.push(format!("node {node}: {listener} did not answer a TLS handshake")),
            }
        }
    }
    if waiting.is_empty() { Ok(()) } else { Err(waiting) }
}

/// The dynamic configs that give every listener in `listeners` this trust bundle.
pub fn truststore_changes(node_id: i32, listeners: &[String], bundle: &str) -> ConfigChanges {
    let changes = listeners
        .iter()
        .map(|l| (format!("listener.name.{l}.ssl.truststore.certificates"), ConfigOp::Set(bundle.into())))
        .collect();
    ConfigChanges { resource: ConfigResource::broker(node_id), changes }
}

/// Pushes a trust bundle to every listener of a running node and returns the listener names.
/// The node validates the whole change before it applies any of it.
pub async fn push_trust_store(
    client: &AdminClient,
    node_id: i32,
    bundle: &str,
) -> Result<Vec<String>, String> {
    trust_bundle(&[bundle])?;
    let listeners = node_listeners(client, node_id).await?;
    client
        .incremental_alter_configs(&[truststore_changes(node_id, &listeners, bundle)], false)
        .await
        .remove(0)
        .map_err(|e| format!("node {node_id} refused the trust store: {e}"))?;
    Ok(listeners)
}

/// Removes the pushed trust store of every listener of a node: it falls back to its static
/// `ssl.truststore.certificates` (what it started with).
pub async fn reset_trust_store(client: &AdminClient, node_id: i32) -> Result<Vec<String>, String> {
    let listeners = node_listeners(client, node_id).await?;
    let changes = ConfigChanges {
        resource: ConfigResource::broker(node_id),
        changes: listeners
            .iter()
            .map(|l| (format!("listener.name.{l}.ssl.truststore.certificates"), ConfigOp::Delete))
            .collect::<BTreeMap<_, _>>(),
    };
    client
        .incremental_alter_configs(&[changes], false)
        .await
        .remove(0)
        .map_err(|e| format!("node {node_id} refused the trust store reset: {e}"))?;
    Ok(listeners)
}

/// The issuer each listener of a node serves on a fresh handshake (`None`: no answer), verified
/// with `tls` (the trust bundle: certificates of either CA).
pub async fn served_issuers(
    client: &AdminClient,
    tls: &kafka_admin::TlsConfig,
    node_id: i32,
) -> Result<BTreeMap<String, Option<String>>, String> {
    let listeners = listeners_config(client, node_id).await?;
    let host = crate::renewal::advertised_host(client, node_id);
    let mut out = BTreeMap::new();
    for (name, address) in crate::renewal::listener_addresses(&listeners, &host) {
        let der =
            kafka_admin::served_certificate(&address, tls, std::time::Duration::from_secs(10)).await.ok();
        out.insert(name, der.and_then(|d| issuer_of_der(&d).ok()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
    }

    fn leaf(name: &str) -> String {
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
    }

    #[test]
    fn a_bundle_holds_each_ca_once_in_order_and_only_cas() {
        let (old, new) = (ca("old"), ca("new"));
        let both = trust_bundle(&[&old, &new, &old]).unwrap();
        assert_eq!(pem_blocks(&both).unwrap().len(), 2);
        assert_eq!(
            pem_blocks(&both).unwrap(),
            [pem_blocks(&old).unwrap(), pem_blocks(&new).unwrap()].concat()
        );
        // A bundle read back is the same bundle (the PEM is re-encoded faithfully).
        assert_eq!(trust_bundle(&[&both]).unwrap(), both);
        assert!(trust_bundle(&[&leaf("b0")]).unwrap_err().contains("not a CA certificate"));
        assert!(trust_bundle(&[]).unwrap_err().contains("no CA"));
        assert!(trust_bundle(&["junk"]).is_err());
    }

    #[test]
    fn both_cas_are_trusted_until_the_old_one_retires() {
        let (old, new) = (ca("old"), ca("new"));
        let n = |p| pem_blocks(&bundle_for(p, &old, &new).unwrap()).unwrap();
        assert_eq!(n(RolloverPhase::Trust).len(), 2);
        assert_eq!(n(RolloverPhase::Issue).len(), 2);
        assert_eq!(n(RolloverPhase::Retire), pem_blocks(&new).unwrap());
        assert_eq!(subject_of(&old).unwrap(), "CN=old");
    }

    #[test]
    fn the_old_ca_retires_only_when_nothing_is_of_it() {
        let old = "CN=old".to_string();
        let new = Some("CN=new".to_string());
        let mut stored =
            BTreeMap::from([("admin".to_string(), new.clone()), ("b0".into(), Some(old.clone()))]);
        let mut served =
            BTreeMap::from([("1".to_string(), BTreeMap::from([("mtls".to_string(), Some(old.clone()))]))]);
        let e = retire_gate(&old, &stored, &served).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("certificate b0 is still issued by CN=old"));
        assert!(e[1].contains("node 1 still serves a certificate of the old CA on mtls"));
        stored.insert("b0".into(), new.clone());
        served.get_mut("1").unwrap().insert("mtls".into(), new.clone());
        assert_eq!(retire_gate(&old, &stored, &served), Ok(()));
        served.get_mut("1").unwrap().insert("internal".into(), None);
        assert!(retire_gate(&old, &stored, &served).unwrap_err()[0].contains("did not answer"));
        assert!(retire_gate(&old, &BTreeMap::new(), &BTreeMap::new()).unwrap_err().len() == 2);
    }

    #[test]
    fn every_listener_gets_the_bundle() {
        let c = truststore_changes(2, &["internal".into(), "mtls".into()], "PEM");
        assert_eq!(c.resource, ConfigResource::broker(2));
        assert_eq!(c.changes["listener.name.mtls.ssl.truststore.certificates"], ConfigOp::Set("PEM".into()));
        assert_eq!(c.changes.len(), 2);
    }
}
