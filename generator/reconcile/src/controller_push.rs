//! A renewed certificate for a dedicated KRaft controller (docs/operators-guide.md, "Certificate
//! renewal"). A controller has no broker listener: the reconciler reaches it on its own controller
//! listener, which answers ApiVersions, DescribeConfigs and IncrementalAlterConfigs (KIP-919) but
//! not Metadata, with the admin's mTLS certificate (the listener requires client authentication;
//! the admin is a super user on every node). The per-node configs land in the metadata log and the
//! controller's dynamic config publisher rebuilds its listener's SSL factory.
//!
//! A controller does not validate a key store before it accepts it: it checks only the resource
//! name of a BROKER config (Kafka's ControllerConfigurationValidator), while the key store check
//! runs on the broker that receives a request (ConfigAdminManager). A certificate the controller
//! cannot use would stay in the metadata log and fail each later reconfiguration of that node, so
//! [`check_replacement`] checks first what a broker would: the key belongs to the certificate, and
//! subject and subject alternative names equal those the listener serves now.

use std::time::Duration;

use kafka_admin::{AdminClient, ConfigResource, Secret, TlsConfig, check_key_pair, served_certificate};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::certificates::{keystore_changes, node_listeners};

/// The `host:port` of controller `node_id` in a `controller.quorum.voters` value
/// (`id@host:port,...`).
pub fn voter_address(voters: &str, node_id: i32) -> Option<String> {
    voters.split(',').find_map(|v| {
        let (id, address) = v.trim().split_once('@')?;
        (id.trim().parse::<i32>().ok()? == node_id).then(|| address.trim().to_string())
    })
}

/// Subject (RFC 4514) and subject alternative names of a DER certificate.
fn identity(der: &[u8]) -> Result<(String, Vec<String>), String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().map(ToString::to_string).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("unreadable subject alternative names: {e}")),
    };
    names.sort();
    Ok((cert.subject().to_string(), names))
}

/// May `chain_pem` (leaf first) with `key` replace the certificate a listener serves
/// (`served_der`)? What a broker checks before it takes a key store: the key belongs to the leaf,
/// and subject and subject alternative names are unchanged. The error never shows key material.
pub fn check_replacement(chain_pem: &str, key: &Secret, served_der: &[u8]) -> Result<(), String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes())
        .map_err(|e| format!("the new chain has no PEM certificate: {e}"))?;
    let (subject, names) = identity(&block.contents)?;
    let (served_subject, served_names) = identity(served_der)?;
    if subject != served_subject {
        return Err(format!("its subject is {subject}, the node serves {served_subject}"));
    }
    if names != served_names {
        return Err(format!(
            "its subject alternative names are [{}], the node serves [{}]",
            names.join(", "),
            served_names.join(", ")
        ));
    }
    check_key_pair(chain_pem, key).map_err(|e| e.to_string())
}

/// An admin connection to one controller's own listener.
pub struct ControllerRoute {
    pub client: AdminClient,
    /// `host:port` of the controller listener.
    pub address: String,
    /// `controller.quorum.voters`, where the active controller's address is found.
    voters: String,
}

impl ControllerRoute {
    /// The host the controller is reached at (for listeners bound to a wildcard).
    pub fn host(&self) -> &str {
        self.address.rsplit_once(':').map_or(self.address.as_str(), |(h, _)| h)
    }
}

/// Opens a connection to controller `node_id` on its controller listener, found in the
/// `controller.quorum.voters` of a broker `cluster` reaches, with `cluster`'s TLS identity.
pub async fn connect(cluster: &AdminClient, node_id: i32) -> Result<ControllerRoute, String> {
    if !cluster.config().tls.has_client_certificate() {
        return Err(format!(
            "controller {node_id} is reached on its controller listener, which takes only mTLS: connect \
             with the admin's certificate (not SCRAM)"
        ));
    }
    let broker = *cluster.brokers().keys().next().ok_or("the cluster metadata lists no broker")?;
    let entries = cluster.describe_configs(&[ConfigResource::broker(broker)]).await.remove(0);
    let entries = entries.map_err(|e| format!("cannot read the quorum voters from broker {broker}: {e}"))?;
    let voters = entries
        .iter()
        .find(|e| e.name == "controller.quorum.voters")
        .and_then(|e| e.value.clone())
        .unwrap_or_default();
    let address = voter_address(&voters, node_id).ok_or_else(|| {
        format!("node {node_id} is not in broker {broker}'s controller.quorum.voters ({voters})")
    })?;
    let client = connect_to(cluster, &address).await?;
    Ok(ControllerRoute { client, address, voters })
}

async fn connect_to(cluster: &AdminClient, address: &str) -> Result<AdminClient, String> {
    let mut config = cluster.config().clone();
    config.bootstrap = vec![address.to_string()];
    config.sasl = None;
    AdminClient::connect_to_node(config)
        .await
        .map_err(|e| format!("cannot reach the controller listener {address}: {e}"))
}

/// Checks `chain_pem` and `key` against what the controller listener serves now
/// ([`check_replacement`]) and that a handshake to it with `trust` (the revocation gate's) would
/// accept the chain, then gives every listener of the node (its own `listeners`) key and chain.
/// The change is written through the active controller, the only one that takes writes (another
/// answers NOT_CONTROLLER), and the node applies it when it reads the record. Returns the
/// listener names.
pub async fn push_controller_certificate(
    cluster: &AdminClient,
    route: &ControllerRoute,
    trust: &TlsConfig,
    node_id: i32,
    key: &Secret,
    chain_pem: &str,
) -> Result<Vec<String>, String> {
    let served = served_certificate(&route.address, trust, Duration::from_secs(10))
        .await
        .map_err(|e| format!("cannot read what controller {node_id} serves: {e}"))?;
    check_replacement(chain_pem, key, &served)
        .and_then(|()| trust.verify_server_chain(chain_pem, route.host()).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!("not pushing to controller {node_id}, it could not take this certificate: {e}")
        })?;
    let listeners = node_listeners(&route.client, node_id).await?;
    // Asked of a broker: a controller other than the leader does not answer DescribeQuorum.
    let leader =
        cluster.describe_quorum().await.map_err(|e| format!("cannot find the active controller: {e}"))?;
    let leader = leader.leader_id;
    let writer = if leader == node_id {
        None
    } else {
        let address = voter_address(&route.voters, leader)
            .ok_or_else(|| format!("the active controller {leader} is not in {}", route.voters))?;
        Some(connect_to(cluster, &address).await?)
    };
    let changes = keystore_changes(node_id, &listeners, key, chain_pem);
    let written = writer.as_ref().unwrap_or(&route.client).incremental_alter_configs(&[changes], false).await;
    if let Some(w) = writer {
        w.close().await;
    }
    written.into_iter().next().expect("one result per resource").map_err(|e| {
        format!("the active controller {leader} refused the certificate of node {node_id}: {e}")
    })?;
    Ok(listeners)
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair};

    use super::*;

    fn issue(common_name: &str, names: &[&str], key: &KeyPair) -> String {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("names");
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        params.self_signed(key).expect("signed").pem()
    }

    fn der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents
    }

    #[test]
    fn the_chain_must_pass_a_handshake_to_the_controller_with_the_gates_trust() {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "stage CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["c0.kafka.internal".to_string()]).unwrap();
        let leaf = leaf.signed_by(&leaf_key, &ca).unwrap().pem();
        let trust = TlsConfig::new(ca.pem().as_bytes()).unwrap();
        assert!(trust.verify_server_chain(&leaf, "c0.kafka.internal").is_ok());
        let e = trust.verify_server_chain(&leaf, "c1.kafka.internal").unwrap_err().to_string();
        assert!(e.contains("a handshake to c1.kafka.internal would refuse it"), "{e}");
        // Another CA's certificate (here: self-signed) is refused.
        let other = issue("c0.kafka.internal", &["c0.kafka.internal"], &leaf_key);
        assert!(trust.verify_server_chain(&other, "c0.kafka.internal").is_err());
    }

    #[test]
    fn voters_name_the_controller_address() {
        let voters = "1000@c0.kafka.internal:9097, 1001@c1.kafka.internal:9097,1002@[::1]:9097";
        assert_eq!(voter_address(voters, 1001).as_deref(), Some("c1.kafka.internal:9097"));
        assert_eq!(voter_address(voters, 1002).as_deref(), Some("[::1]:9097"));
        assert_eq!(voter_address(voters, 1), None);
        assert_eq!(voter_address("", 1), None);
    }

    #[test]
    fn only_the_same_identity_with_its_own_key_may_replace_a_served_certificate() {
        let old_key = KeyPair::generate().unwrap();
        let served = der(&issue("c0.kafka.internal", &["c0.kafka.internal"], &old_key));
        let new_key = KeyPair::generate().unwrap();
        let secret = Secret::new(new_key.serialize_pem());

        let renewed = issue("c0.kafka.internal", &["c0.kafka.internal"], &new_key);
        assert_eq!(check_replacement(&renewed, &secret, &served), Ok(()));

        let other_san = issue("c0.kafka.internal", &["c0.kafka.internal", "extra.test"], &new_key);
        let e = check_replacement(&other_san, &secret, &served).unwrap_err();
        assert!(e.contains("subject alternative names are [DNSName(c0.kafka.internal)"), "{e}");

        let other_subject = issue("c1.kafka.internal", &["c0.kafka.internal"], &new_key);
        let e = check_replacement(&other_subject, &secret, &served).unwrap_err();
        assert!(e.contains("subject is CN=c1.kafka.internal"), "{e}");

        let wrong_key = Secret::new(old_key.serialize_pem());
        let e = check_replacement(&renewed, &wrong_key, &served).unwrap_err();
        assert!(e.contains("does not belong to the certificate"), "{e}");
        assert!(!e.contains("PRIVATE KEY"), "{e}");
        let e = check_replacement(&renewed, &Secret::new("junk"), &served).unwrap_err();
        assert!(e.contains("not an unencrypted PEM key") && !e.contains("junk"), "{e}");
    }
}
