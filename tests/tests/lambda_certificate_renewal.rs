//! The certificate Lambda's direct renewal requests (lambdas/private-certificate/src/renew.rs):
//! the real binary behind a played Runtime API, moto as ACM PCA and SSM. A certificate the
//! function issued through CloudFormation is renewed by a direct invoke (no ResponseURL): same
//! subject, SANs and usage, a new key and serial, the old serial kept in `<prefix>/superseded`
//! until RevokeSuperseded revokes it. Refused: a prefix outside the renewable subtree, a
//! parameter the function did not store, a certificate the CA did not issue, a second renewal
//! before the first is finished. No answer or log line carries the key. The CloudFormation
//! Delete of the resource afterwards removes the renewed parameters too.
//! Needs MOTO_ENDPOINT (tests/scripts/moto.sh). moto shows no revocations (no CRL; see
//! lambda_private_certificate.rs), so revocation is observed as the function's log line.

mod lambda_support;

use std::time::Duration;

use lambda_support::*;
use serde_json::{Value, json};

const TYPE: &str = "Custom::PrivateCertificate";
const BIN: &str = "private-certificate-lambda";
const DEADLINE: Duration = Duration::from_secs(120);

async fn get(ssm: &aws_sdk_ssm::Client, name: &str) -> Option<String> {
    match ssm.get_parameter().name(name).with_decryption(true).send().await {
        Ok(out) => out.parameter.and_then(|p| p.value),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => None,
        Err(e) => panic!("GetParameter {name}: {e:?}"),
    }
}

fn facts(pem: &str) -> kafka_reconcile::certificates::CertificateFacts {
    kafka_reconcile::certificates::inspect_pem(pem).unwrap()
}

fn sans(pem: &str) -> Vec<String> {
    use x509_parser::prelude::*;
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&block.contents).unwrap();
    cert.subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect()
}

/// Invokes a direct request; (ok, body).
async fn direct(h: &Harness, event: Value) -> (bool, Value) {
    let (kind, body) = h.invoke_unanswerable(event).await;
    (kind == "response", serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_stored_certificate_is_renewed_and_its_predecessor_revoked_on_request() {
    let config = sdk_config().await;
    let pca = aws_sdk_acmpca::Client::new(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let (ca, root_pem) =
        platform_tests::private_ca::create_root_ca(&pca, &unique("Renewal Root")).await.unwrap();
    let root = format!("/{}/tls/", unique("renew"));
    let prefix = format!("{root}nodes/b0");
    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[("RENEWABLE_PARAMETER_PREFIX", &root)]);
    let props = json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:cert",
        "CertificateAuthorityArn": ca, "CommonName": "b0.kafka.test",
        "DnsNames": ["b0.kafka.test"], "IpAddresses": ["127.0.0.1"], "Usage": "server-and-client",
        "ParameterPrefix": prefix, "KmsKeyId": "alias/kafka-test",
    });
    let created = h
        .invoke(h.event("Create", TYPE, "B0Cert", None, props.clone(), None), DEADLINE)
        .await
        .expect_success();
    let first_arn = created.physical_id().to_string();
    let old_pem = get(&ssm, &format!("{prefix}/certificate")).await.unwrap();
    let old_key = get(&ssm, &format!("{prefix}/private-key")).await.unwrap();
    let old = facts(&old_pem);

    // Refusals that change nothing.
    let outside = json!({"RenewCertificate": {"ParameterPrefix": "/elsewhere/tls/nodes/b0"}});
    let (ok, body) = direct(&h, outside).await;
    assert!(!ok && body["errorMessage"].as_str().unwrap().contains("is not under"), "{body}");
    let by_hand = format!("{root}nodes/b1");
    ssm.put_parameter()
        .name(format!("{by_hand}/certificate"))
        .value(&old_pem)
        .description("set by hand")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let (ok, body) = direct(&h, json!({"RenewCertificate": {"ParameterPrefix": by_hand}})).await;
    assert!(
        !ok && body["errorMessage"].as_str().unwrap().contains("was not stored by this function"),
        "{body}"
    );

    // The renewal.
    let (ok, renewed) = direct(&h, json!({"RenewCertificate": {"ParameterPrefix": prefix}})).await;
    assert!(ok, "{renewed}\n{}", lambda.logs().join("\n"));
    let new_pem = get(&ssm, &format!("{prefix}/certificate")).await.unwrap();
    let new_key = get(&ssm, &format!("{prefix}/private-key")).await.unwrap();
    let new = facts(&new_pem);
    assert_ne!(new.serial, old.serial);
    assert_ne!(new_key, old_key, "a new key");
    assert_eq!(renewed["Serial"], new.serial.as_str());
    assert_eq!(renewed["SupersededSerial"], old.serial.as_str());
    assert_eq!(renewed["SupersededCertificateArn"], first_arn.as_str());
    assert_eq!(new.common_name, "b0.kafka.test");
    assert_eq!(sans(&new_pem), sans(&old_pem));
    let record: Value =
        serde_json::from_str(&get(&ssm, &format!("{prefix}/superseded")).await.unwrap()).unwrap();
    assert_eq!(record["Serial"], old.serial.as_str());
    assert!(record["RevokedAt"].is_null());

    // Not twice before the first one is finished.
    let (ok, body) = direct(&h, json!({"RenewCertificate": {"ParameterPrefix": prefix}})).await;
    assert!(!ok && body["errorMessage"].as_str().unwrap().contains("not finished"), "{body}");

    // A certificate the CA did not issue under the same description is not renewed.
    // (the CA's own certificate: genuine, but not the one the description names)
    let forged = root_pem.clone();
    let description = {
        let d = ssm
            .describe_parameters()
            .parameter_filters(
                aws_sdk_ssm::types::ParameterStringFilter::builder()
                    .key("Name")
                    .option("Equals")
                    .values(format!("{prefix}/certificate"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        d.parameters.unwrap()[0].description.clone().unwrap()
    };
    let forged_prefix = format!("{root}nodes/b2");
    ssm.put_parameter()
        .name(format!("{forged_prefix}/certificate"))
        .value(&forged)
        .description(&description)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let (ok, body) = direct(&h, json!({"RenewCertificate": {"ParameterPrefix": forged_prefix}})).await;
    assert!(!ok && body["errorMessage"].as_str().unwrap().contains("is not the certificate"), "{body}");

    // Revoke the superseded one: recorded, and the current one stays.
    let (ok, revoked) = direct(&h, json!({"RevokeSuperseded": {"ParameterPrefix": prefix}})).await;
    assert!(ok, "{revoked}");
    assert_eq!(revoked["RevokedSerial"], old.serial.as_str());
    assert_eq!(revoked["CurrentSerial"], new.serial.as_str());
    let record: Value =
        serde_json::from_str(&get(&ssm, &format!("{prefix}/superseded")).await.unwrap()).unwrap();
    assert!(record["RevokedAt"].is_i64(), "{record}");
    let logs = lambda.logs().join("\n");
    assert!(logs.contains("certificate revoked") && logs.contains("SUPERSEDED"), "{logs}");

    // No key in any answer or log line.
    let mut texts = h.all_runtime_results();
    texts.extend(lambda.logs());
    assert_secret_absent(&new_key, &texts);
    assert!(!texts.iter().any(|t| t.contains("PRIVATE KEY")));

    // The stack's Delete removes the renewed parameters and the record.
    h.invoke(h.event("Delete", TYPE, "B0Cert", Some(&first_arn), props, None), DEADLINE)
        .await
        .expect_success();
    for leaf in ["certificate", "private-key", "chain", "superseded"] {
        assert_eq!(get(&ssm, &format!("{prefix}/{leaf}")).await, None, "{leaf} kept after Delete");
    }
}
