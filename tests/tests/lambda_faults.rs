//! Fault cases of the custom-resource Lambdas: every one is answered FAILED with a reason a
//! person can act on (naming the log stream), and nothing is left behind. Real binaries, a
//! played Runtime API and ResponseURL, moto as AWS. Needs the variables of
//! `tests/scripts/moto.sh env`.

mod lambda_support;

use std::time::Duration;

use lambda_support::*;
use serde_json::{Value, json};

const PASSWORD: &str = "Custom::SecurePassword";
const PASSWORD_BIN: &str = "secure-password-lambda";
const CERT: &str = "Custom::PrivateCertificate";
const CERT_BIN: &str = "private-certificate-lambda";
const DEADLINE: Duration = Duration::from_secs(60);

async fn parameter_exists(name: &str) -> bool {
    let ssm = aws_sdk_ssm::Client::new(&sdk_config().await);
    match ssm.get_parameter().name(name).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => false,
        Err(e) => panic!("GetParameter {name}: {e:?}"),
    }
}

fn password(name: &str, extra: Value) -> Value {
    let mut p =
        json!({"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:pw", "ParameterName": name});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[tokio::test]
async fn malformed_properties_are_named_and_the_rollback_delete_succeeds() {
    let h = Harness::start().await;
    let _lambda = h.spawn(PASSWORD_BIN, &moto_endpoint(), &[]);
    let name = format!("/{}/p", unique("fault"));
    let cases = [
        (json!({"Length": "abc"}), "property Length: expected an integer from 16 to 128, got \"abc\""),
        (json!({"Length": 8}), "property Length: expected an integer from 16 to 128, got 8"),
        (json!({"RetainOnDelete": "sometimes"}), "property RetainOnDelete: expected true or false"),
        (json!({"Tags": "team=kafka"}), "property Tags:"),
        (json!({"Lenght": "32"}), "property Lenght: unknown property"),
    ];
    for (extra, expected) in cases {
        let answer = h
            .invoke(h.event("Create", PASSWORD, "Pw", None, password(&name, extra), None), DEADLINE)
            .await
            .expect_failed(expected);
        assert!(answer.physical_id().starts_with("create-failed:"), "{}", answer.raw);
        assert!(!parameter_exists(&name).await, "nothing written for {expected}");
        // The rollback Delete of the failed resource succeeds and touches nothing.
        h.invoke(
            h.event("Delete", PASSWORD, "Pw", Some(answer.physical_id()), password(&name, json!({})), None),
            DEADLINE,
        )
        .await
        .expect_success();
    }
}

#[tokio::test]
async fn malformed_events_are_answered_when_they_can_be() {
    let h = Harness::start().await;
    let _lambda = h.spawn(PASSWORD_BIN, &moto_endpoint(), &[]);
    let name = format!("/{}/p", unique("fault"));

    let mut no_type = h.event("Create", PASSWORD, "Pw", None, password(&name, json!({})), None);
    no_type.as_object_mut().unwrap().remove("RequestType");
    h.invoke(no_type, DEADLINE).await.expect_failed("malformed custom-resource event");

    let not_an_object = h.event("Create", PASSWORD, "Pw", None, json!("ParameterName=/x"), None);
    h.invoke(not_an_object, DEADLINE).await.expect_failed("ResourceProperties must be an object");

    // An Update that keeps its physical id even though it is malformed.
    let mut update = h.event("Update", PASSWORD, "Pw", Some("/kept/id"), password(&name, json!({})), None);
    update.as_object_mut().unwrap().remove("OldResourceProperties");
    let answer = h.invoke(update, DEADLINE).await.expect_failed("malformed custom-resource event");
    assert_eq!(answer.physical_id(), "/kept/id", "a failed update must not look like a replacement");

    // Without a ResponseURL nobody can be answered: the invocation itself fails, visibly.
    let mut unanswerable = h.event("Create", PASSWORD, "Pw", None, password(&name, json!({})), None);
    unanswerable.as_object_mut().unwrap().remove("ResponseURL");
    let (kind, body) = h.invoke_unanswerable(unanswerable).await;
    assert_eq!(kind, "error", "{body}");
    assert!(body.contains("no ResponseURL"), "{body}");
    assert!(!parameter_exists(&name).await);
}

#[tokio::test]
async fn an_unknown_certificate_authority_fails_before_anything_is_written() {
    let h = Harness::start().await;
    let _lambda = h.spawn(CERT_BIN, &moto_endpoint(), &[]);
    let prefix = format!("/{}/broker-1", unique("fault"));
    let ca = format!(
        "arn:aws:acm-pca:{REGION}:{ACCOUNT}:certificate-authority/00000000-0000-0000-0000-000000000000"
    );
    let props = json!({
        "ServiceToken": "x", "CertificateAuthorityArn": ca, "CommonName": "b-1",
        "DnsNames": ["b-1.kafka.test"], "ParameterPrefix": prefix
    });
    let answer = h
        .invoke(h.event("Create", CERT, "Cert", None, props.clone(), None), DEADLINE)
        .await
        .expect_failed("acm-pca:DescribeCertificateAuthority");
    assert!(answer.reason().contains("ResourceNotFoundException"), "{}", answer.reason());
    for leaf in ["private-key", "certificate", "chain"] {
        assert!(!parameter_exists(&format!("{prefix}/{leaf}")).await);
    }

    // A certificate without DnsNames for a server is refused, naming the property.
    let mut no_names = props;
    no_names.as_object_mut().unwrap().remove("DnsNames");
    h.invoke(h.event("Create", CERT, "Cert", None, no_names, None), DEADLINE)
        .await
        .expect_failed("property DnsNames: a server certificate needs at least one DNS name");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_with_the_action_that_failed() {
    let h = Harness::start().await;
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let _lambda = h.spawn(PASSWORD_BIN, &endpoint, &[]);
    let name = format!("/{}/p", unique("fault"));
    let answer = h
        .invoke(h.event("Create", PASSWORD, "Pw", None, password(&name, json!({})), None), DEADLINE)
        .await
        .expect_failed(&format!("ssm:PutParameter {name} failed"));
    assert!(
        answer.reason().contains("dispatch failure") || answer.reason().contains("onnect"),
        "{}",
        answer.reason()
    );
    assert!(!parameter_exists(&name).await);
}

#[tokio::test]
async fn a_panic_in_the_handler_is_answered() {
    let h = Harness::start().await;
    // Debug builds only: the fault switch is compiled out of release builds.
    let _lambda = h.spawn(PASSWORD_BIN, &moto_endpoint(), &[("CFN_CUSTOM_RESOURCE_FAULT", "panic")]);
    let name = format!("/{}/p", unique("fault"));
    let (answer, (kind, _)) = h
        .invoke_full(h.event("Create", PASSWORD, "Pw", None, password(&name, json!({})), None), DEADLINE)
        .await;
    answer.expect_failed("internal error in the handler (fault injected by CFN_CUSTOM_RESOURCE_FAULT=panic)");
    assert_eq!(kind, "response", "the function survives the panic and goes on serving");
    assert!(!parameter_exists(&name).await);
    // The same process answers the next request too.
    let next = h.event("Delete", PASSWORD, "Pw", Some("create-failed:x"), password(&name, json!({})), None);
    h.invoke(next, DEADLINE).await.expect_success();
}

#[tokio::test]
async fn a_handler_that_would_outlive_the_deadline_is_answered_in_time() {
    let h = Harness::start().await;
    // An "AWS" that accepts connections and never answers: the call hangs.
    let (endpoint, _hole) = black_hole().await;
    let _lambda = h.spawn(PASSWORD_BIN, &endpoint, &[]);
    let name = format!("/{}/p", unique("fault"));
    // 8 s to live: the function keeps about 4 s (half, at most 5 s) to answer.
    let answer = h
        .invoke(
            h.event("Create", PASSWORD, "Pw", None, password(&name, json!({})), None),
            Duration::from_secs(8),
        )
        .await
        .expect_failed("the Lambda timeout left");
    assert!(answer.reason().starts_with("the handler did not finish within the"), "{}", answer.reason());
    assert!(answer.physical_id().starts_with("create-failed:"));
}

#[tokio::test]
async fn access_denied_is_reported_with_the_service_message() {
    // The IAM-enforced moto (moto.sh): a user without any policy is refused everything.
    let admin = platform_tests::moto::iam_admin_config().await;
    let iam = aws_sdk_iam::Client::new(&admin);
    let user = unique("no-rights");
    iam.create_user().user_name(&user).send().await.unwrap();
    let key = iam.create_access_key().user_name(&user).send().await.unwrap().access_key.unwrap();

    let h = Harness::start().await;
    let _lambda = h.spawn(
        PASSWORD_BIN,
        &platform_tests::moto::iam_endpoint(),
        &[("AWS_ACCESS_KEY_ID", &key.access_key_id), ("AWS_SECRET_ACCESS_KEY", &key.secret_access_key)],
    );
    let name = format!("/{}/p", unique("fault"));
    let answer = h
        .invoke(h.event("Create", PASSWORD, "Pw", None, password(&name, json!({})), None), DEADLINE)
        .await
        .expect_failed(&format!("ssm:PutParameter {name} failed"));
    assert!(answer.reason().contains("AccessDenied"), "{}", answer.reason());
    let ssm = aws_sdk_ssm::Client::new(&admin);
    assert!(ssm.get_parameter().name(&name).send().await.is_err(), "nothing written");
}
