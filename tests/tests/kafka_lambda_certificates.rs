//! The test cluster's certificates come from the private-certificate Lambda against moto's ACM
//! Private CA (tests/run.sh sets KAFKA_CERT_ISSUER, so kafka.sh issues every certificate through
//! `issue-test-cert`). This proves that what the Lambda stores in SSM is what a broker loads: on
//! every listener of every node, the TLS handshake presents exactly the certificate and chain of
//! the node's SSM parameters, chained to the CA that moto holds; and the admin's client
//! certificate from the Lambda authenticates on the mTLS listener.
//!
//! Needs the cluster of `tests/scripts/kafka.sh` (KAFKA_TEST_*) and MOTO_ENDPOINT.

mod kafka_common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kafka_admin::AdminClient;
use kafka_common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Rendered node names of the fixture (tests/scripts/rendered-node-env.sh), node id = index + 1.
const NODES: [&str; 3] = ["b0.kafka.local.test", "b1.kafka.local.test", "b2.kafka.local.test"];

/// Test ports of the listeners SCRAM, MTLS, CONTROLLER and INTERNAL for node index 0.
const LISTENER_BASE_PORTS: [(&str, u16); 4] =
    [("SCRAM", 19092), ("MTLS", 19192), ("CONTROLLER", 19292), ("INTERNAL", 19392)];

fn certs_dir() -> PathBuf {
    let dir = ca_file().parent().expect("CA file has a directory").to_path_buf();
    assert!(
        dir.join("issuer").is_file(),
        "the test cluster's certificates were not issued by the certificate Lambda ({} is missing): start it \
         with KAFKA_CERT_ISSUER and MOTO_ENDPOINT set, as tests/run.sh does",
        dir.join("issuer").display()
    );
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn der_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>().expect("PEM certificates")
}

async fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&platform_tests::moto::sdk_config().await)
}

async fn parameter(ssm: &aws_sdk_ssm::Client, name: &str) -> String {
    ssm.get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetParameter {name}: {e:?}"))
        .parameter
        .and_then(|p| p.value)
        .unwrap_or_else(|| panic!("{name} has no value"))
}

/// The certificate chain that 127.0.0.1:`port` presents in a TLS handshake, verified against
/// `ca_pem`; the admin's client certificate is offered for the listeners that require one.
async fn served_chain(port: u16, ca_pem: &str, client_dir: &Path) -> Vec<CertificateDer<'static>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in der_certs(ca_pem) {
        roots.add(c).unwrap();
    }
    let key =
        PrivateKeyDer::from_pem_slice(read(&client_dir.join("key.pem")).as_bytes()).expect("PKCS#8 key");
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(der_certs(&read(&client_dir.join("chain.pem"))), key)
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("connect {port}: {e}"));
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with 127.0.0.1:{port}: {e}"));
    tls.get_ref().1.peer_certificates().expect("server presented certificates").to_vec()
}

#[tokio::test]
async fn every_listener_serves_the_certificate_the_lambda_stored() {
    let certs = certs_dir();
    let ca_pem = read(&certs.join("ca.crt"));
    let ssm = ssm().await;
    let admin_dir = client_cert_dir(&admin_user());
    for (index, node) in NODES.iter().enumerate() {
        let prefix = read(&certs.join("servers").join(node).join("parameter-prefix")).trim().to_string();
        let stored_certificate = parameter(&ssm, &format!("{prefix}/certificate")).await;
        let stored_chain = parameter(&ssm, &format!("{prefix}/chain")).await;
        let mut expected = der_certs(&stored_certificate);
        expected.extend(der_certs(&stored_chain));
        assert_eq!(der_certs(&stored_chain), der_certs(&ca_pem), "{node}: the Lambda's chain is the test CA");
        for (listener, base) in LISTENER_BASE_PORTS {
            let port = base + index as u16;
            let served = served_chain(port, &ca_pem, &admin_dir).await;
            assert_eq!(
                served, expected,
                "{node} {listener} (127.0.0.1:{port}) serves other certificates than {prefix}"
            );
        }
    }
}

#[tokio::test]
async fn the_admin_authenticates_with_the_client_certificate_the_lambda_stored() {
    let certs = certs_dir();
    let admin_dir = client_cert_dir(&admin_user());
    let prefix = read(&admin_dir.join("parameter-prefix")).trim().to_string();
    let ssm = ssm().await;
    assert_eq!(
        read(&admin_dir.join("cert.pem")).trim(),
        parameter(&ssm, &format!("{prefix}/certificate")).await.trim(),
        "clients/{} holds another certificate than {prefix}",
        admin_user()
    );
    assert_eq!(
        read(&admin_dir.join("key.pem")).trim(),
        parameter(&ssm, &format!("{prefix}/private-key")).await.trim()
    );
    assert!(certs.join("ca.arn").is_file());
    let client = AdminClient::connect(mtls_config(&admin_user())).await.expect("admin connects over mTLS");
    assert_eq!(client.metadata().await.expect("metadata").brokers.len(), NODES.len());
}
