//! Certificate renewal without a restart, on the real cluster (issue 10, point 2): a node gets a
//! new certificate, issued by the private-certificate Lambda against moto's ACM Private CA, through
//! the reconciler's push (per-broker dynamic `listener.name.<l>.ssl.keystore.*` configs over the
//! project's admin client). Then a new TLS handshake on every listener of the node, controller
//! listener included, serves the new serial; the node is the same process; a TLS connection opened
//! before the renewal still answers Kafka requests (and still holds the old certificate). A
//! certificate with another subject is refused and changes nothing. No node is stopped.

mod kafka_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kafka_admin::{Secret, TlsConfig, served_certificate};
use kafka_common::*;
use kafka_reconcile::certificates::{
    Served, inspect_der, inspect_pem, push_node_certificate, revocation_gate,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The node renewed here: node 3 (`b2` of the rendered settings). Its listeners on one machine:
/// SCRAM, MTLS, CONTROLLER, INTERNAL (tests/scripts/rendered-node-env.sh, test_port).
const NODE: i32 = 3;
const DNS_NAME: &str = "b2.kafka.local.test";
const PORTS: [(&str, u16); 4] =
    [("scram", 19094), ("mtls", 19194), ("controller", 19294), ("internal", 19394)];

fn state_dir() -> PathBuf {
    PathBuf::from(env("KAFKA_TEST_STATE_DIR"))
}

fn pid_of_node() -> String {
    let file = state_dir().join(format!("node-{NODE}/kafka.pid"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().to_string()
}

/// A new node certificate (same subject and SANs as the running one) from the certificate Lambda,
/// through the issuer kafka.sh recorded when it made the CA.
fn issue_node_certificate(out: &Path) {
    let certs = state_dir().join("certs");
    let issuer = std::fs::read_to_string(certs.join("issuer")).expect(
        "certs/issuer: the cluster's CA must come from the certificate Lambda (start it as tests/run.sh does, \
         with KAFKA_CERT_ISSUER)",
    );
    let mut lines = issuer.lines();
    let (binary, moto) = (lines.next().unwrap(), lines.next().unwrap());
    let status = Command::new(binary)
        .args(["--moto", moto, "leaf", "--arn-file"])
        .arg(certs.join("ca.arn"))
        .args(["--common-name", DNS_NAME, "--usage", "server-and-client"])
        .args(["--ip-address", "127.0.0.1", "--dns-name", DNS_NAME, "--out"])
        .arg(out)
        .status()
        .expect("issue-test-cert runs");
    assert!(status.success(), "the certificate Lambda did not issue {DNS_NAME}");
}

async fn served_serials(tls: &TlsConfig) -> Served {
    let mut served = Served::new();
    for (listener, port) in PORTS {
        let der = served_certificate(&format!("127.0.0.1:{port}"), tls, Duration::from_secs(10)).await;
        served.insert(listener.into(), der.ok().and_then(|d| inspect_der(&d).ok()).map(|f| f.serial));
    }
    served
}

/// A raw mTLS connection (the admin's client certificate) to the node's mTLS listener.
async fn open_connection() -> tokio_rustls::client::TlsStream<TcpStream> {
    let dir = client_cert_dir("admin");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("chain.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", PORTS[1].1)).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("mTLS handshake")
}

/// One ApiVersions v0 request on the connection; true when the broker answers it without error.
async fn api_versions(stream: &mut tokio_rustls::client::TlsStream<TcpStream>, correlation: i32) -> bool {
    let client_id = b"day2-cert-renewal";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // version 0
    body.extend_from_slice(&correlation.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    if stream.write_all(&frame).await.is_err() {
        return false;
    }
    let mut size = [0u8; 4];
    if stream.read_exact(&mut size).await.is_err() {
        return false;
    }
    let mut response = vec![0u8; i32::from_be_bytes(size).clamp(0, 1 << 20) as usize];
    if stream.read_exact(&mut response).await.is_err() || response.len() < 6 {
        return false;
    }
    let answered = i32::from_be_bytes(response[..4].try_into().unwrap());
    let error = i16::from_be_bytes(response[4..6].try_into().unwrap());
    answered == correlation && error == 0
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let tls = TlsConfig::from_ca_file(&ca_file()).unwrap();
    let before = served_serials(&tls).await;
    assert!(before.values().all(Option::is_some), "node {NODE} does not serve TLS everywhere: {before:?}");
    let pid = pid_of_node();

    let mut open = open_connection().await;
    let old_serial = inspect_der(open.get_ref().1.peer_certificates().unwrap()[0].as_ref()).unwrap().serial;
    assert!(api_versions(&mut open, 1).await, "the connection does not work before the renewal");

    let dir = std::env::temp_dir().join(unique("day2-cert-renewal"));
    issue_node_certificate(&dir);
    let chain = std::fs::read_to_string(dir.join("chain.pem")).unwrap();
    let key = Secret::new(std::fs::read_to_string(dir.join("key.pem")).unwrap());
    let new_serial = inspect_pem(&chain).unwrap().serial;
    assert_ne!(new_serial, old_serial);
    assert!(revocation_gate(&before, &new_serial).is_err(), "nothing serves the new certificate yet");

    let admin = admin_sasl().await;
    let listeners = push_node_certificate(&admin, NODE, &key, &chain).await.expect("the node takes it");
    assert_eq!(listeners, ["controller", "internal", "scram", "mtls"]);

    // Kafka applies the change when the node sees the config record: wait for it, bounded.
    let mut after = Served::new();
    let applied = eventually(Duration::from_secs(30), async || {
        after = served_serials(&tls).await;
        revocation_gate(&after, &new_serial).is_ok()
    })
    .await;
    assert!(applied, "node {NODE} does not serve {new_serial} on every listener: {after:?}");
    assert_eq!(pid_of_node(), pid, "node {NODE} was restarted");

    // The connection opened before the renewal still works, on its own (old) handshake.
    assert!(api_versions(&mut open, 2).await, "the open connection broke at the renewal");
    let still = inspect_der(open.get_ref().1.peer_certificates().unwrap()[0].as_ref()).unwrap().serial;
    assert_eq!(still, old_serial);
    // And clients keep working through the renewed listeners.
    admin.describe_cluster().await.expect("admin requests after the renewal");

    // Leave the shared cluster as the suite found it: the node serves the certificate the Lambda
    // stored for it at start again (tests/tests/kafka_lambda_certificates.rs compares the two).
    let original = state_dir().join("certs/servers").join(DNS_NAME);
    let original_chain = std::fs::read_to_string(original.join("chain.pem")).unwrap();
    let original_key = Secret::new(std::fs::read_to_string(original.join("key.pem")).unwrap());
    push_node_certificate(&admin, NODE, &original_key, &original_chain)
        .await
        .expect("the node takes it back");
    let original_serial = inspect_pem(&original_chain).unwrap().serial;
    let restored = eventually(Duration::from_secs(30), async || {
        revocation_gate(&served_serials(&tls).await, &original_serial).is_ok()
    })
    .await;
    assert!(restored, "node {NODE} does not serve its original certificate {original_serial} again");
    admin.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_certificate_for_another_subject_is_refused_and_changes_nothing() {
    let tls = TlsConfig::from_ca_file(&ca_file()).unwrap();
    let other = kafka_sh(&["server-cert", "b1.kafka.local.test"]);
    assert!(other.status.success(), "{}", String::from_utf8_lossy(&other.stderr));
    let dir = PathBuf::from(String::from_utf8(other.stdout).unwrap().trim());
    let chain = std::fs::read_to_string(dir.join("chain.pem")).unwrap();
    let key = Secret::new(std::fs::read_to_string(dir.join("key.pem")).unwrap());
    let wrong = inspect_pem(&chain).unwrap().serial;

    let admin = admin_sasl().await;
    let e = push_node_certificate(&admin, NODE, &key, &chain).await.expect_err("another subject");
    admin.close().await;
    assert!(e.contains(&format!("node {NODE} refused the certificate")), "{e}");
    assert!(!e.contains("PRIVATE KEY"), "the error shows key material: {e}");
    let served = served_serials(&tls).await;
    assert!(served.values().all(|s| s.is_some() && s.as_deref() != Some(wrong.as_str())), "{served:?}");
}

/// `gen status` reads each broker's served certificate from a handshake and counts one inside the
/// stage's renewal window as a problem (exit 3). The served certificates have about 365 days left:
/// a window of 400 days (validity 825) puts them inside it; the fixture's default (30) does not.
#[test]
fn gen_status_counts_a_served_certificate_inside_the_renewal_window() {
    let status = |environments: &Path| {
        Command::new(platform_tests::gen_binary())
            .arg("--environments")
            .arg(environments)
            .args(["status", "dev", "--format", "json", "--bootstrap", &env("KAFKA_TEST_BOOTSTRAP_SASL")])
            .arg("--ca-file")
            .arg(ca_file())
            .args([
                "--scram-user",
                &admin_user(),
                "--scram-password-file",
                &env("KAFKA_TEST_ADMIN_PASSWORD_FILE"),
            ])
            .output()
            .expect("gen runs")
    };
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/local-environment");
    let out = status(&fixture);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let certificates = report["certificates"].as_array().expect("certificates listed");
    assert_eq!(certificates.len(), 3, "{report}");
    assert!(
        certificates.iter().all(|c| c["serial"].is_string() && c["in_renewal_window"] == false),
        "{report}"
    );

    let dir = std::env::temp_dir().join(unique("status-window"));
    copy_tree(&fixture, &dir);
    let defaults = dir.join("defaults.yaml");
    let text = std::fs::read_to_string(&defaults).unwrap();
    let wide = text.replace("  validity_days: 365\n", "  validity_days: 825\n  renew_before_days: 400\n");
    assert_ne!(wide, text);
    std::fs::write(&defaults, wide).unwrap();
    let out = status(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].to_string();
    assert!(problems.contains("inside the 400-day renewal window"), "{problems}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
