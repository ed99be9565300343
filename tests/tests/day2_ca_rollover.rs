//! CA rollover with overlapping trust, on the real cluster (issue 10, docs/operators-guide.md "CA
//! rollover"): a second CA is made in moto's ACM Private CA beside the cluster's CA (both through
//! the certificate Lambda's tool, issue-test-cert). Node 3 gets a trust store with both CAs pushed
//! per listener (`listener.name.<l>.ssl.truststore.certificates`, kafka_reconcile::rollover):
//! then a client whose certificate comes from the NEW CA is accepted by its mTLS listener, which
//! refused it before, while a connection opened before the push and old-CA clients keep working.
//! The node is then renewed from the new CA (key store push) and serves a new-CA certificate on a
//! fresh handshake from the same process. The retire gate refuses while a certificate of the old
//! CA is left. No node is stopped.
//!
//! The cluster is shared: other tests' clients trust only the old CA. So that they can still
//! verify node 3 while it serves a new-CA certificate, the chain pushed with it carries the new
//! CA's certificate cross-signed by the old CA (moto issues it from the new CA's CSR); a real
//! rollover does not need this, because there every client trusts both CAs before any node renews
//! from the new one. At the end node 3 gets its original certificate back and its pushed trust
//! store is deleted, and the test checks it fell back to its static one (the new-CA client is
//! refused again).

mod kafka_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_acmpca::primitives::Blob;
use kafka_admin::{Secret, TlsConfig, served_certificate};
use kafka_common::*;
use kafka_reconcile::certificates::{inspect_der, inspect_pem, push_node_certificate};
use kafka_reconcile::rollover::{
    RolloverPhase, bundle_for, issuer_of, issuer_of_der, push_trust_store, reset_trust_store, retire_gate,
    subject_of,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Node 3 (`b2`), as in day2_cert_renewal.rs: SCRAM, MTLS, CONTROLLER, INTERNAL.
const NODE: i32 = 3;
const DNS_NAME: &str = "b2.kafka.local.test";
const PORTS: [(&str, u16); 4] =
    [("scram", 19094), ("mtls", 19194), ("controller", 19294), ("internal", 19394)];
const MTLS: u16 = 19194;

type Stream = tokio_rustls::client::TlsStream<TcpStream>;

/// The two tests both look at what node 3 trusts: one at a time.
static NODE3: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn state_dir() -> PathBuf {
    PathBuf::from(env("KAFKA_TEST_STATE_DIR"))
}

fn pid_of_node() -> String {
    let file = state_dir().join(format!("node-{NODE}/kafka.pid"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().to_string()
}

/// The issue-test-cert binary and moto endpoint kafka.sh recorded when it made the cluster's CA.
fn issuer() -> (String, String) {
    let text = std::fs::read_to_string(state_dir().join("certs/issuer"))
        .expect("certs/issuer: start the cluster as tests/run.sh does (KAFKA_CERT_ISSUER)");
    let mut lines = text.lines();
    (lines.next().unwrap().to_string(), lines.next().unwrap().to_string())
}

/// Makes the new CA in moto (`issue-test-cert ca`): its ARN into `arn_file`, certificate to `out`.
fn new_ca(arn_file: &Path, out: &Path) {
    let (binary, moto) = issuer();
    let run = Command::new(binary)
        .args(["--moto", &moto, "ca", "--arn-file"])
        .arg(arn_file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("issue-test-cert runs");
    assert!(run.status.success(), "new CA: {}", String::from_utf8_lossy(&run.stderr));
}

/// A leaf from the CA in `arn_file` into `out` (key.pem, cert.pem, chain.pem).
fn leaf(arn_file: &Path, common_name: &str, server: bool, out: &Path) {
    let mut args = vec!["leaf", "--common-name", common_name];
    if server {
        args.extend(["--usage", "server-and-client", "--ip-address", "127.0.0.1", "--dns-name", DNS_NAME]);
    } else {
        args.extend(["--usage", "client"]);
    }
    let (binary, moto) = issuer();
    let out = Command::new(binary)
        .args(["--moto", &moto, "leaf", "--arn-file"])
        .arg(arn_file)
        .args(&args[1..])
        .arg("--out")
        .arg(out)
        .output()
        .expect("issue-test-cert runs");
    assert!(out.status.success(), "leaf {common_name}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The new CA's certificate cross-signed by the old CA (see the module documentation).
async fn cross_signed(old_arn: &str, new_arn: &str) -> String {
    let (_, moto) = issuer();
    let config = platform_tests::lambda_harness::sdk_config_for(&moto, "testing", "testing").await;
    let pca = aws_sdk_acmpca::Client::new(&config);
    let csr = pca.get_certificate_authority_csr().certificate_authority_arn(new_arn).send().await.unwrap();
    let issued = pca
        .issue_certificate()
        .certificate_authority_arn(old_arn)
        .csr(Blob::new(csr.csr.unwrap().into_bytes()))
        .signing_algorithm(aws_sdk_acmpca::types::SigningAlgorithm::Sha256Withrsa)
        .template_arn("arn:aws:acm-pca:::template/RootCACertificate/V1")
        .validity(
            aws_sdk_acmpca::types::Validity::builder()
                .r#type(aws_sdk_acmpca::types::ValidityPeriodType::Years)
                .value(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = issued.certificate_arn.unwrap();
    let got =
        pca.get_certificate().certificate_authority_arn(old_arn).certificate_arn(arn).send().await.unwrap();
    got.certificate.unwrap()
}

/// An mTLS connection to node 3's mTLS listener with the client certificate in `dir`, verifying
/// the node with the CAs in `roots`.
async fn connect(dir: &Path, roots: &Path) -> Result<Stream, String> {
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(roots).map_err(|e| e.to_string())? {
        store.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("chain.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_client_auth_cert(chain, key)
            .map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(("127.0.0.1", MTLS)).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())
}

/// One ApiVersions v0 request; true when the broker answers it without error. A client
/// certificate the listener does not trust fails here (TLS 1.3 refuses it after the handshake).
async fn api_versions(stream: &mut Stream, correlation: i32) -> bool {
    let client_id = b"day2-ca-rollover";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let exchange = async {
        stream.write_all(&frame).await.ok()?;
        let mut size = [0u8; 4];
        stream.read_exact(&mut size).await.ok()?;
        let mut response = vec![0u8; i32::from_be_bytes(size).clamp(0, 1 << 20) as usize];
        stream.read_exact(&mut response).await.ok()?;
        (response.len() >= 6).then_some(response)
    };
    match tokio::time::timeout(Duration::from_secs(15), exchange).await {
        Ok(Some(r)) => {
            i32::from_be_bytes(r[..4].try_into().unwrap()) == correlation
                && i16::from_be_bytes(r[4..6].try_into().unwrap()) == 0
        }
        _ => false,
    }
}

/// A fresh connection with the client certificate in `dir` gets an answer.
async fn accepted(dir: &Path, roots: &Path) -> bool {
    match connect(dir, roots).await {
        Ok(mut s) => api_versions(&mut s, 7).await,
        Err(_) => false,
    }
}

/// Serial and issuer each listener of node 3 serves on a fresh handshake.
async fn served(tls: &TlsConfig) -> BTreeMap<String, Option<(String, String)>> {
    let mut out = BTreeMap::new();
    for (listener, port) in PORTS {
        let der = served_certificate(&format!("127.0.0.1:{port}"), tls, Duration::from_secs(10)).await.ok();
        let facts = der.and_then(|d| Some((inspect_der(&d).ok()?.serial, issuer_of_der(&d).ok()?)));
        out.insert(listener.to_string(), facts);
    }
    out
}

fn issuers(served: &BTreeMap<String, Option<(String, String)>>) -> BTreeMap<String, Option<String>> {
    served.iter().map(|(l, f)| (l.clone(), f.as_ref().map(|(_, i)| i.clone()))).collect()
}

#[tokio::test]
async fn overlapping_trust_admits_a_new_ca_client_and_a_new_ca_node_certificate_without_a_restart() {
    let _one_at_a_time = NODE3.lock().await;
    let dir = std::env::temp_dir().join(unique("day2-ca-rollover"));
    std::fs::create_dir_all(&dir).unwrap();
    let certs = state_dir().join("certs");
    let old_arn = std::fs::read_to_string(certs.join("ca.arn")).unwrap().trim().to_string();
    let old_pem = std::fs::read_to_string(ca_file()).unwrap();
    let old_ca = subject_of(&old_pem).unwrap();

    // The new CA beside the old one, and a client certificate from it.
    let new_arn_file = dir.join("new-ca.arn");
    new_ca(&new_arn_file, &dir.join("new-ca.pem"));
    let new_arn = std::fs::read_to_string(&new_arn_file).unwrap().trim().to_string();
    let new_pem = std::fs::read_to_string(dir.join("new-ca.pem")).unwrap();
    let new_ca = subject_of(&new_pem).unwrap();
    assert_ne!(new_ca, old_ca);
    let new_client = dir.join("new-client");
    leaf(&new_arn_file, "rollover-client", false, &new_client);
    assert_eq!(issuer_of(&std::fs::read_to_string(new_client.join("cert.pem")).unwrap()).unwrap(), new_ca);
    let old_client = client_cert_dir("admin");

    let tls = TlsConfig::from_ca_file(&ca_file()).unwrap();
    let pid = pid_of_node();
    let before = served(&tls).await;
    assert!(before.values().all(|f| f.as_ref().is_some_and(|(_, i)| *i == old_ca)), "{before:?}");
    let original_serial = before["mtls"].clone().unwrap().0;

    assert!(!accepted(&new_client, &ca_file()).await, "node {NODE} accepts a new-CA client before the push");
    let mut open = connect(&old_client, &ca_file()).await.expect("old-CA client connects");
    assert!(api_versions(&mut open, 1).await);

    let admin = admin_sasl().await;
    // Everything below returns its failure so that the node is restored before the test fails.
    let result: Result<(), String> = async {
        let bundle = bundle_for(RolloverPhase::Trust, &old_pem, &new_pem)?;
        let listeners = push_trust_store(&admin, NODE, &bundle).await?;
        if listeners.len() != 4 {
            return Err(format!("trust pushed to {listeners:?}"));
        }
        let mut ok = false;
        for _ in 0..30 {
            if accepted(&new_client, &ca_file()).await {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if !ok {
            return Err("the new-CA client is not accepted after the two-CA trust push".into());
        }
        if !api_versions(&mut open, 2).await {
            return Err("the connection opened before the trust push broke".into());
        }
        if !accepted(&old_client, &ca_file()).await {
            return Err("an old-CA client is refused after the trust push".into());
        }

        // Retire is refused: node 3 serves an old-CA certificate and b2's stored one is old too.
        let stored_b2 = issuer_of(
            &std::fs::read_to_string(certs.join("servers").join(DNS_NAME).join("chain.pem")).unwrap(),
        )?;
        let stored = BTreeMap::from([("b2".to_string(), Some(stored_b2))]);
        let nodes = BTreeMap::from([(NODE.to_string(), issuers(&served(&tls).await))]);
        let refused =
            retire_gate(&old_ca, &stored, &nodes).expect_err("retire with old-CA certificates left");
        if !refused.iter().any(|r| r.contains("certificate b2 is still issued by"))
            || !refused
                .iter()
                .any(|r| r.contains(&format!("node {NODE} still serves a certificate of the old CA")))
        {
            return Err(format!("retire refused for other reasons: {refused:?}"));
        }

        // Renewal from the new CA: a new key and certificate for b2, pushed like any renewal.
        let renewed = dir.join("b2-new");
        leaf(&new_arn_file, DNS_NAME, true, &renewed);
        let cert = std::fs::read_to_string(renewed.join("cert.pem")).unwrap();
        let chain = format!("{}\n{}", cert.trim_end(), cross_signed(&old_arn, &new_arn).await);
        let key = Secret::new(std::fs::read_to_string(renewed.join("key.pem")).unwrap());
        let new_serial = inspect_pem(&cert)?.serial;
        push_node_certificate(&admin, NODE, &key, &chain).await?;
        let mut now = BTreeMap::new();
        for _ in 0..30 {
            now = served(&tls).await;
            if now.values().all(|f| f.as_ref().is_some_and(|(s, i)| *s == new_serial && *i == new_ca)) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if !now.values().all(|f| f.as_ref().is_some_and(|(s, i)| *s == new_serial && *i == new_ca)) {
            return Err(format!("node {NODE} does not serve the new-CA certificate {new_serial}: {now:?}"));
        }
        if pid_of_node() != pid {
            return Err(format!("node {NODE} was restarted"));
        }
        if !api_versions(&mut open, 3).await {
            return Err("the open connection broke at the new-CA renewal".into());
        }
        // The node is through; a client certificate of the old CA (admin) still holds retire back.
        let stored = BTreeMap::from([
            ("b2".to_string(), Some(new_ca.clone())),
            (
                "admin".to_string(),
                Some(issuer_of(&std::fs::read_to_string(old_client.join("cert.pem")).unwrap())?),
            ),
        ]);
        let nodes = BTreeMap::from([(NODE.to_string(), issuers(&now))]);
        let refused = retire_gate(&old_ca, &stored, &nodes).expect_err("admin is of the old CA");
        if refused != [format!("certificate admin is still issued by {old_ca}")] {
            return Err(format!("retire refused for other reasons: {refused:?}"));
        }
        let stored = BTreeMap::from([("b2".to_string(), Some(new_ca.clone()))]);
        retire_gate(&old_ca, &stored, &nodes).map_err(|e| format!("retire refused: {e:?}"))
    }
    .await;

    // Restore: the original certificate first (the node trusts both CAs, so the inter-broker
    // listener's validation passes), then the static trust store.
    let original = certs.join("servers").join(DNS_NAME);
    let original_chain = std::fs::read_to_string(original.join("chain.pem")).unwrap();
    let original_key = Secret::new(std::fs::read_to_string(original.join("key.pem")).unwrap());
    push_node_certificate(&admin, NODE, &original_key, &original_chain)
        .await
        .expect("original certificate back");
    let restored = eventually(Duration::from_secs(30), async || {
        served(&tls).await.values().all(|f| f.as_ref().is_some_and(|(s, _)| *s == original_serial))
    })
    .await;
    assert!(restored, "node {NODE} does not serve its original certificate again");
    reset_trust_store(&admin, NODE).await.expect("pushed trust store removed");
    let back = eventually(Duration::from_secs(30), async || !accepted(&new_client, &ca_file()).await).await;
    assert!(back, "node {NODE} still accepts the new CA: it did not fall back to its static trust store");
    assert!(accepted(&old_client, &ca_file()).await, "old-CA clients are refused after the restore");
    admin.describe_cluster().await.expect("admin requests after the restore");
    admin.close().await;
    assert_eq!(pid_of_node(), pid, "node {NODE} was restarted");
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap();
}

/// `gen certs rollover` on the real cluster (the fixture stage under its own SSM root in moto):
/// a phase that skips one is refused (KP119), and the retire step is refused, before anything is
/// pushed, while the nodes serve and SSM stores certificates of the old CA.
#[tokio::test]
async fn gen_certs_rollover_refuses_a_skipped_phase_and_a_retire_with_old_ca_certificates_left() {
    let _one_at_a_time = NODE3.lock().await;
    let (_, moto) = issuer();
    let root = format!("kr{}", std::process::id() % 100_000);
    let dir = std::env::temp_dir().join(unique("ca-rollover-cli"));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/local-environment");
    copy_dir(&fixture, &dir.join("env"));
    let defaults = dir.join("env/defaults.yaml");
    let declare = |phase: &str| {
        let text = std::fs::read_to_string(fixture.join("defaults.yaml")).unwrap();
        let text = text.replacen("resource_prefix: kafka", &format!("resource_prefix: {root}"), 1).replacen(
            "  mode: create\n",
            &format!("  mode: create\n  rollover:\n    phase: {phase}\n"),
            1,
        );
        assert!(text.contains("rollover:") && text.contains(&root));
        std::fs::write(&defaults, text).unwrap();
    };
    let run = || {
        let out = Command::new(platform_tests::gen_binary())
            .arg("--environments")
            .arg(dir.join("env"))
            .args(["certs", "rollover", "dev"])
            .args(["--bootstrap", &env("KAFKA_TEST_BOOTSTRAP_SASL"), "--scram-user", &admin_user()])
            .arg("--scram-password-file")
            .arg(env("KAFKA_TEST_ADMIN_PASSWORD_FILE"))
            .arg("--ca-file")
            .arg(ca_file())
            .env("AWS_ENDPOINT_URL", &moto)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "eu-west-1")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    // Nothing deployed, `issue` declared: one phase skipped.
    declare("issue");
    let (code, stderr) = run();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("KP119") && stderr.contains("declare trust first"), "{stderr}");

    // Deployed `issue` (the exports the foundation stack writes), `retire` declared: the gate runs.
    let config = platform_tests::lambda_harness::sdk_config_for(&moto, "testing", "testing").await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let new_arn_file = dir.join("new-ca.arn");
    new_ca(&new_arn_file, &dir.join("new-ca.pem"));
    let certs = state_dir().join("certs");
    let b0_cert = std::fs::read_to_string(certs.join("servers/b0.kafka.local.test/cert.pem")).unwrap();
    for (name, value) in [
        (format!("/{root}/dev/cfn/ca-rollover-phase"), "issue".to_string()),
        (
            format!("/{root}/dev/cfn/ca-arn"),
            std::fs::read_to_string(certs.join("ca.arn")).unwrap().trim().into(),
        ),
        (
            format!("/{root}/dev/cfn/next-ca-arn"),
            std::fs::read_to_string(&new_arn_file).unwrap().trim().into(),
        ),
        (format!("/{root}/dev/tls/nodes/b0/certificate"), b0_cert),
    ] {
        ssm.put_parameter()
            .name(&name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
    declare("retire");
    let (code, stderr) = run();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("the old CA cannot retire yet"), "{stderr}");
    assert!(stderr.contains("certificate b0 is still issued by"), "{stderr}");
    assert!(stderr.contains("still serves a certificate of the old CA"), "{stderr}");
    // The gate refused before any push: the nodes accept no new-CA client.
    let new_client = dir.join("new-client");
    leaf(&new_arn_file, "rollover-client", false, &new_client);
    assert!(!accepted(&new_client, &ca_file()).await, "a trust store was pushed although retire was refused");
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
