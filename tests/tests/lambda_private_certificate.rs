//! Custom::PrivateCertificate end to end: the real binary, a played Runtime API and ResponseURL,
//! and moto as ACM PCA and SSM. Needs MOTO_ENDPOINT (tests/scripts/moto.sh).
//!
//! Where moto differs from AWS, and what is therefore not asserted:
//! - moto's CA always signs with its own RSA key, SHA-512 and one year, whatever the CA's
//!   configured SigningAlgorithm, KeyAlgorithm or the requested Validity; the tests check the
//!   chain and the handshake, not the validity period.
//! - moto adds KeyUsage/ExtendedKeyUsage only for the EndEntityCertificate/V1 template
//!   (Usage server-and-client); AWS adds them for EndEntityServerAuthCertificate/V1 (server)
//!   and EndEntityClientAuthCertificate/V1 (client) too. Key usage is asserted for
//!   server-and-client only.
//! - moto ignores IssueCertificate's IdempotencyToken; AWS returns the same certificate for the
//!   same token within five minutes.
//! - moto accepts any KmsKeyId; AWS would fail the PutParameter of the key with a KMS error.
//! - moto offers no way to read revocations back (no CRL, and its GetCertificate check of a
//!   revoked serial depends on its own serial formatting), so revocation is observed as the
//!   function's log line after RevokeCertificate succeeded.

mod lambda_support;

use std::sync::Arc;
use std::time::Duration;

use lambda_support::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use x509_parser::prelude::*;

const TYPE: &str = "Custom::PrivateCertificate";
const BIN: &str = "private-certificate-lambda";
const DEADLINE: Duration = Duration::from_secs(120);

async fn root_ca(pca: &aws_sdk_acmpca::Client) -> (String, String) {
    platform_tests::private_ca::create_root_ca(pca, &unique("Kafka Test Root"))
        .await
        .expect("root CA in moto")
}

struct Params(aws_sdk_ssm::Client);

impl Params {
    /// (value, type, description) or None.
    async fn get(&self, name: &str) -> Option<(String, String, String)> {
        let value = match self.0.get_parameter().name(name).with_decryption(true).send().await {
            Ok(out) => out.parameter.unwrap(),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => return None,
            Err(e) => panic!("GetParameter {name}: {e:?}"),
        };
        let described = self
            .0
            .describe_parameters()
            .parameter_filters(
                aws_sdk_ssm::types::ParameterStringFilter::builder()
                    .key("Name")
                    .option("Equals")
                    .values(name)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let description = described.parameters.unwrap()[0].description.clone().unwrap_or_default();
        Some((value.value.unwrap(), value.r#type.unwrap().as_str().to_string(), description))
    }
}

fn props(ca: &str, prefix: &str, extra: Value) -> Value {
    let mut p = json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:cert",
        "CertificateAuthorityArn": ca,
        "CommonName": "broker-1",
        "DnsNames": ["b-1.kafka.test", "bootstrap.kafka.test"],
        "Usage": "server-and-client",
        "ValidityDays": "30",
        "ParameterPrefix": prefix,
        "KmsKeyId": "alias/kafka-test",
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

/// Did the function revoke the certificate? RevokeCertificate succeeded when it logs so (see the
/// file comment for why moto cannot be asked).
async fn revoked(lambda: &LambdaProcess, cert_arn: &str) -> bool {
    // The log line is written before the answer, but read by another thread: give it a moment.
    for _ in 0..50 {
        if lambda.logs().iter().any(|l| l.contains("certificate revoked") && l.contains(cert_arn)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn der_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>().unwrap()
}

/// A real TLS 1.3 handshake over TCP on 127.0.0.1: rustls server with the issued key and
/// chain, client trusting only `root_pem`, connecting by `dns_name`; with `mutual`, the client
/// presents the same certificate and the server verifies it against the same root.
async fn handshake(
    key_pem: &str,
    cert_pem: &str,
    chain_pem: &str,
    root_pem: &str,
    dns_name: &str,
    mutual: bool,
) {
    try_handshake(key_pem, cert_pem, chain_pem, root_pem, dns_name, mutual).await.expect("TLS handshake");
}

async fn try_handshake(
    key_pem: &str,
    cert_pem: &str,
    chain_pem: &str,
    root_pem: &str,
    dns_name: &str,
    mutual: bool,
) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in der_certs(root_pem) {
        roots.add(c).unwrap();
    }
    let roots = Arc::new(roots);
    let mut presented = der_certs(cert_pem);
    presented.extend(der_certs(chain_pem));
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("PKCS#8 PEM key");

    let server_builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let server_config = if mutual {
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .unwrap();
        server_builder.with_client_cert_verifier(verifier)
    } else {
        server_builder.with_no_client_auth()
    }
    .with_single_cert(presented.clone(), key.clone_key())
    .unwrap();
    let client_builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let client_config = if mutual {
        client_builder.with_client_auth_cert(presented, key).unwrap()
    } else {
        client_builder.with_no_client_auth()
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| format!("server side: {e}"))?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.shutdown().await.ok();
        Ok::<_, String>(buf)
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(dns_name.to_string()).unwrap();
    let mut tls = connector.connect(name, tcp).await.map_err(|e| format!("client side: {e}"))?;
    tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    assert_eq!(&buf, b"pong");
    assert_eq!(&server.await.unwrap()?, b"ping");
    Ok(())
}

fn parse(pem_text: &str) -> Vec<u8> {
    let (_, pem) = parse_x509_pem(pem_text.as_bytes()).unwrap();
    pem.contents
}

#[tokio::test]
async fn create_update_renew_rename_delete() {
    let config = sdk_config().await;
    let pca = aws_sdk_acmpca::Client::new(&config);
    let ssm = Params(aws_sdk_ssm::Client::new(&config));
    let (ca, root_pem) = root_ca(&pca).await;
    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let prefix = format!("/{}/broker-1", unique("cert"));

    // Create.
    let p1 = props(&ca, &prefix, json!({}));
    let created = h
        .invoke(h.event("Create", TYPE, "Broker1Cert", None, p1.clone(), None), DEADLINE)
        .await
        .expect_success();
    let arn1 = created.physical_id().to_string();
    assert!(arn1.starts_with(&format!("{ca}/certificate/")), "{arn1}");
    assert_eq!(created.data("CertificateArn"), arn1);
    assert_eq!(created.data("KeyParameter"), format!("{prefix}/private-key"));
    assert_eq!(created.data("CertificateParameter"), format!("{prefix}/certificate"));
    assert_eq!(created.data("ChainParameter"), format!("{prefix}/chain"));
    assert!(created.data("NotAfter").ends_with('Z'));

    let (key1, key_type, key_description) =
        ssm.get(&format!("{prefix}/private-key")).await.expect("key parameter");
    let (cert1, cert_type, cert_description) =
        ssm.get(&format!("{prefix}/certificate")).await.expect("certificate parameter");
    let (chain1, chain_type, _) = ssm.get(&format!("{prefix}/chain")).await.expect("chain parameter");
    assert_eq!(
        (key_type.as_str(), cert_type.as_str(), chain_type.as_str()),
        ("SecureString", "String", "String")
    );
    assert!(key1.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    assert!(key_description.contains(&arn1) && cert_description.contains(&arn1));

    // The certificate: requested names, EC key, key usage (see the file comment), serial as
    // reported, and a signature by the CA in the chain, which is the root we trust.
    let cert_der = parse(&cert1);
    let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
    let sans: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .expect("SAN extension")
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    assert_eq!(sans, ["b-1.kafka.test", "bootstrap.kafka.test"]);
    assert_eq!(cert.subject().iter_common_name().next().unwrap().as_str().unwrap(), "broker-1");
    assert_eq!(cert.public_key().algorithm.algorithm, x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY);
    let ku = cert.key_usage().unwrap().expect("key usage").value;
    assert!(ku.digital_signature() && ku.key_encipherment());
    let eku = cert.extended_key_usage().unwrap().expect("extended key usage").value;
    assert!(eku.server_auth && eku.client_auth);
    assert_eq!(cert.raw_serial_as_string(), created.data("Serial"));
    let chain_der = parse(&chain1);
    let (_, issuer) = X509Certificate::from_der(&chain_der).unwrap();
    assert_eq!(chain1.trim(), root_pem.trim(), "the chain of a root-issued certificate is the root");
    cert.verify_signature(Some(issuer.public_key())).expect("signed by the CA");
    handshake(&key1, &cert1, &chain1, &root_pem, "bootstrap.kafka.test", true).await;

    // No-op update: same certificate, same data.
    let same = h
        .invoke(
            h.event("Update", TYPE, "Broker1Cert", Some(&arn1), json!(p1.clone()), Some(p1.clone())),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(same.physical_id(), arn1);
    assert_eq!(same.body["Data"], created.body["Data"]);
    assert_eq!(ssm.get(&format!("{prefix}/private-key")).await.unwrap().0, key1);

    // Renewal: same names, new key and certificate, new physical id. CloudFormation then
    // deletes the old certificate with the old properties: it is revoked, and the parameters,
    // which now hold the new one, stay.
    let p2 = props(&ca, &prefix, json!({"RenewalToken": "2026-06"}));
    let renewed = h
        .invoke(h.event("Update", TYPE, "Broker1Cert", Some(&arn1), p2.clone(), Some(p1.clone())), DEADLINE)
        .await
        .expect_success();
    let arn2 = renewed.physical_id().to_string();
    assert_ne!(arn2, arn1);
    let (key2, _, key2_description) = ssm.get(&format!("{prefix}/private-key")).await.unwrap();
    assert_ne!(key2, key1);
    assert!(key2_description.contains(&arn2));
    h.invoke(h.event("Delete", TYPE, "Broker1Cert", Some(&arn1), p1.clone(), None), DEADLINE)
        .await
        .expect_success();
    assert!(revoked(&lambda, &arn1).await, "old certificate revoked");
    assert!(!revoked(&lambda, &arn2).await);
    let (cert2, _, _) =
        ssm.get(&format!("{prefix}/certificate")).await.expect("parameters kept for the new certificate");
    let (chain2, _, _) = ssm.get(&format!("{prefix}/chain")).await.unwrap();
    handshake(&key2, &cert2, &chain2, &root_pem, "b-1.kafka.test", false).await;

    // Rename and another key algorithm: a new certificate under the new prefix.
    let prefix3 = format!("{prefix}-rsa");
    let p3 = props(&ca, &prefix3, json!({"RenewalToken": "2026-06", "KeyAlgorithm": "RSA_2048"}));
    let moved = h
        .invoke(h.event("Update", TYPE, "Broker1Cert", Some(&arn2), p3.clone(), Some(p2.clone())), DEADLINE)
        .await
        .expect_success();
    let arn3 = moved.physical_id().to_string();
    assert_ne!(arn3, arn2);
    let (key3, _, _) = ssm.get(&format!("{prefix3}/private-key")).await.expect("new key parameter");
    let (cert3, _, _) = ssm.get(&format!("{prefix3}/certificate")).await.unwrap();
    let (chain3, _, _) = ssm.get(&format!("{prefix3}/chain")).await.unwrap();
    let cert3_der = parse(&cert3);
    let (_, parsed3) = X509Certificate::from_der(&cert3_der).unwrap();
    assert_eq!(parsed3.public_key().algorithm.algorithm, x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION);
    handshake(&key3, &cert3, &chain3, &root_pem, "b-1.kafka.test", true).await;
    h.invoke(h.event("Delete", TYPE, "Broker1Cert", Some(&arn2), p2, None), DEADLINE).await.expect_success();
    for leaf in ["private-key", "certificate", "chain"] {
        assert!(ssm.get(&format!("{prefix}/{leaf}")).await.is_none(), "old {leaf} removed");
    }
    assert!(revoked(&lambda, &arn2).await);

    // Delete: revoked, parameters gone; a repeated Delete succeeds.
    h.invoke(h.event("Delete", TYPE, "Broker1Cert", Some(&arn3), p3.clone(), None), DEADLINE)
        .await
        .expect_success();
    assert!(revoked(&lambda, &arn3).await);
    for leaf in ["private-key", "certificate", "chain"] {
        assert!(ssm.get(&format!("{prefix3}/{leaf}")).await.is_none(), "{leaf} removed");
    }
    h.invoke(h.event("Delete", TYPE, "Broker1Cert", Some(&arn3), p3, None), DEADLINE).await.expect_success();

    // No private key in any log line, response body or Runtime API result.
    let mut texts = lambda.logs();
    texts.extend(h.all_answers());
    texts.extend(h.all_runtime_results());
    for key in [&key1, &key2, &key3] {
        let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_secret_absent(&body[..40], &texts);
        assert_secret_absent(&body[body.len() - 40..], &texts);
    }
    if let Some(first_next) = h.first_next() {
        eprintln!(
            "private-certificate: first /next {:?} after spawn, peak RSS {:?} KiB",
            first_next.duration_since(lambda.started()),
            lambda.peak_rss_kib()
        );
    }
}

#[tokio::test]
async fn a_server_certificate_serves_tls_for_its_dns_names_only() {
    let config = sdk_config().await;
    let pca = aws_sdk_acmpca::Client::new(&config);
    let ssm = Params(aws_sdk_ssm::Client::new(&config));
    let (ca, root_pem) = root_ca(&pca).await;
    let h = Harness::start().await;
    let _lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let prefix = format!("/{}/schema-registry", unique("cert"));
    let p = props(&ca, &prefix, json!({"Usage": "server", "DnsNames": "sr.kafka.test", "CommonName": "sr"}));
    let created =
        h.invoke(h.event("Create", TYPE, "SrCert", None, p.clone(), None), DEADLINE).await.expect_success();
    let (key, _, _) = ssm.get(&format!("{prefix}/private-key")).await.unwrap();
    let (cert, _, _) = ssm.get(&format!("{prefix}/certificate")).await.unwrap();
    let (chain, _, _) = ssm.get(&format!("{prefix}/chain")).await.unwrap();
    handshake(&key, &cert, &chain, &root_pem, "sr.kafka.test", false).await;
    // A name the certificate does not carry must fail verification on the client.
    let wrong = try_handshake(&key, &cert, &chain, &root_pem, "other.kafka.test", false).await;
    let error = wrong.expect_err("a handshake for a name outside the SANs must fail");
    assert!(error.contains("not valid for name"), "{error}");
    h.invoke(h.event("Delete", TYPE, "SrCert", Some(created.physical_id()), p, None), DEADLINE)
        .await
        .expect_success();
}
