//! Credential rotation end to end (docs/operators-guide.md, "Credential rotation"): the real
//! password Lambda writes and rotates two accounts' credentials in moto's SSM, the real reconciler
//! Lambda (no sync flag, as CloudFormation runs it) brings the real KRaft cluster of
//! `tests/scripts/kafka.sh` to them. At every step the value clients read from SSM logs in; the
//! previous value logs in until the overlap ends and is refused after; the other account is never
//! touched. Needs MOTO_ENDPOINT and the KAFKA_TEST_* variables.
//!
//! The overlap is a stage setting of at least an hour; the test ends it by moving the promotion
//! time (`rotated_at`) in the parameter an hour and a second back instead of waiting.

#[path = "kafka_common/mod.rs"]
mod kafka_common;
mod lambda_support;

use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use kafka_admin::AdminClient;
use kafka_platform_core::config::project::{
    AclOperation as Op, AclPatternType, AclResourceType, Authentication,
};
use kafka_platform_core::credential::StoredCredential;
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic, alternate_user};
use kafka_platform_core::digest::sha256_hex;
use lambda_support::*;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(120);

/// Topic `p.events.v1`; SCRAM accounts `p-app` (rotated) and `p-other`, each with both users and
/// Describe/Write on the topic for both.
fn desired(p: &str, parameters: &dyn Fn(&str) -> String, app_token: &str) -> DesiredState {
    let names = [format!("{p}-app"), format!("{p}-other")];
    let mut acls = Vec::new();
    for name in &names {
        for user in [name.clone(), alternate_user(name)] {
            for operation in [Op::Describe, Op::Write] {
                acls.push(DesiredAcl {
                    principal: format!("User:{user}"),
                    resource_type: AclResourceType::Topic,
                    pattern_type: AclPatternType::Literal,
                    resource_name: format!("{p}.events.v1"),
                    operation,
                    host: "*".into(),
                });
            }
        }
    }
    acls.sort();
    DesiredState {
        format_version: kafka_platform_core::desired::FORMAT_VERSION,
        stage: "dev".into(),
        managed_topic_prefixes: vec![format!("{p}.")],
        allow_delete: false,
        projects: Vec::new(),
        topics: vec![DesiredTopic {
            name: format!("{p}.events.v1"),
            project: p.into(),
            partitions: 1,
            replication_factor: 3,
            configs: Default::default(),
        }],
        service_accounts: names
            .iter()
            .map(|name| DesiredAccount {
                name: name.clone(),
                project: p.into(),
                principal: format!("User:{name}"),
                authentication: Authentication::Scram,
                password_parameter: Some(parameters(name)),
                scram_users: vec![name.clone(), alternate_user(name)],
                rotation_token: Some(if name.ends_with("-app") { app_token.into() } else { "1".into() }),
            })
            .collect(),
        acls,
        subjects: Vec::new(),
        rotation_overlap_hours: 1,
    }
}

struct Aws {
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
    bucket: String,
}

impl Aws {
    async fn new() -> Aws {
        let config = sdk_config().await;
        let s3 = platform_tests::moto::s3(&config);
        let bucket = unique("rotation").to_lowercase();
        s3.create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .expect("bucket");
        Aws { s3, ssm: aws_sdk_ssm::Client::new(&config), bucket }
    }

    async fn upload(&self, d: &DesiredState) -> (String, String) {
        let text = d.to_json();
        let sha = sha256_hex(&text);
        let key = format!("desired-state/{sha}.json");
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(text.into_bytes().into())
            .send()
            .await
            .unwrap();
        (key, sha)
    }

    async fn put(&self, name: &str, value: &str) {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .key_id("alias/kafka-test")
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }

    /// What a client reads: the parameter's credential.
    async fn credential(&self, name: &str) -> StoredCredential {
        let out = self.ssm.get_parameter().name(name).with_decryption(true).send().await.unwrap();
        StoredCredential::parse(&out.parameter.unwrap().value.unwrap(), "unused").unwrap()
    }
}

fn password_props(name: &str, account: &str, token: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:pw",
        "ParameterName": name,
        "KmsKeyId": "alias/kafka-test",
        "RotationToken": token,
        "Usernames": [account, alternate_user(account)],
    })
}

fn reconciler_props(aws: &Aws, prefix: &str, key: &str, sha: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:reconciler",
        "Stage": "dev",
        "BootstrapServers": kafka_common::env("KAFKA_TEST_BOOTSTRAP_MTLS"),
        "AdminTlsParameterPrefix": prefix,
        "AdminPasswordParameter": format!("{prefix}/unused-password"),
        "DesiredStateBucket": aws.bucket,
        "DesiredStateKey": key,
        "DesiredStateSha256": sha,
        "AllowDelete": "false",
    })
}

/// Whether the credential logs in (the SCRAM exchange on the SASL_SSL listener) and may see the
/// account's topic (the user's ACLs are there).
async fn logs_in(c: &StoredCredential, topic: &str) -> bool {
    match AdminClient::connect(kafka_common::sasl_config(&c.username, &c.password)).await {
        Ok(client) => {
            let sees = client.metadata().await.is_ok_and(|m| m.topics.iter().any(|t| t.name == topic));
            client.close().await;
            sees
        }
        Err(_) => false,
    }
}

/// Whether the broker refuses the credential's authentication.
async fn refused(c: &StoredCredential) -> bool {
    matches!(
        AdminClient::connect(kafka_common::sasl_config(&c.username, &c.password)).await,
        Err(kafka_admin::Error::Authentication { .. })
    )
}

/// Credentials reach every broker through the metadata log, asynchronously: bounded waits.
async fn eventually_logs_in(c: &StoredCredential, topic: &str) -> bool {
    kafka_common::eventually(Duration::from_secs(20), async || logs_in(c, topic).await).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_account_switches_users_without_a_gap_and_its_old_password_ends_with_the_overlap() {
    let aws = Aws::new().await;
    let passwords = Harness::start().await;
    let password_lambda = passwords.spawn("secure-password-lambda", &moto_endpoint(), &[]);
    let reconciler = Harness::start().await;
    let reconciler_lambda = reconciler.spawn("reconciler-lambda", &moto_endpoint(), &[]);
    let p = kafka_common::unique("rot");
    let topic = format!("{p}.events.v1");
    let root = format!("/{}", unique("kafka"));
    let parameter = |account: &str| format!("{root}/service-accounts/{account}/password");
    let (app, other) = (format!("{p}-app"), format!("{p}-other"));

    // The admin's mTLS material where the certificate Lambda would have put it.
    let prefix = format!("{root}/tls/admin");
    let cert_dir = kafka_common::client_cert_dir("admin");
    let read = |f: &str| std::fs::read_to_string(cert_dir.join(f)).unwrap();
    aws.put(&format!("{prefix}/private-key"), &read("key.pem")).await;
    aws.put(&format!("{prefix}/certificate"), &read("cert.pem")).await;
    aws.put(&format!("{prefix}/chain"), &std::fs::read_to_string(kafka_common::ca_file()).unwrap()).await;

    // Deploy 1: the secrets stack creates both credentials, the topics stack reconciles.
    for account in [&app, &other] {
        let props = password_props(&parameter(account), account, "1");
        let id = format!("Account{account}Password").replace('-', "");
        passwords
            .invoke(passwords.event("Create", "Custom::SecurePassword", &id, None, props, None), DEADLINE)
            .await
            .expect_success();
    }
    let (key, sha) = aws.upload(&desired(&p, &parameter, "1")).await;
    let props1 = reconciler_props(&aws, &prefix, &key, &sha);
    let created = reconciler
        .invoke(
            reconciler.event(
                "Create",
                "Custom::KafkaReconciler",
                "Reconciliation",
                None,
                props1.clone(),
                None,
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(created.data("ScramCredentialsWritten"), "2");
    let first = aws.credential(&parameter(&app)).await;
    let other_value = aws.credential(&parameter(&other)).await;
    assert_eq!((first.username.as_str(), first.generation), (app.as_str(), 1));
    assert!(eventually_logs_in(&first, &topic).await, "generation 1 of {app} does not log in");
    assert!(eventually_logs_in(&other_value, &topic).await, "{other} does not log in");

    // Deploy 2 rotates p-app (its account token): the secrets stack writes a pending generation;
    // what clients read is unchanged and still logs in.
    let rotate = password_props(&parameter(&app), &app, "1/2");
    let id = format!("Account{app}Password").replace('-', "");
    passwords
        .invoke(
            passwords.event(
                "Update",
                "Custom::SecurePassword",
                &id,
                Some(&parameter(&app)),
                rotate,
                Some(password_props(&parameter(&app), &app, "1")),
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    let pending = aws.credential(&parameter(&app)).await;
    assert_eq!(
        (pending.username.as_str(), pending.password.as_str()),
        (first.username.as_str(), first.password.as_str())
    );
    assert_eq!(
        pending.pending.as_ref().map(|p| (p.username.clone(), p.generation)),
        Some((alternate_user(&app), 2))
    );
    assert!(logs_in(&first, &topic).await, "the current value stops working before the reconciler ran");

    // ... and the topics stack's reconciler (the desired state changed with the token) writes
    // the new user's credential, then publishes it.
    let (key2, sha2) = aws.upload(&desired(&p, &parameter, "1/2")).await;
    let props2 = reconciler_props(&aws, &prefix, &key2, &sha2);
    let updated = reconciler
        .invoke(
            reconciler.event(
                "Update",
                "Custom::KafkaReconciler",
                "Reconciliation",
                Some("kafka-reconciler-dev"),
                props2.clone(),
                Some(props1),
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(
        (
            updated.data("ScramCredentialsWritten"),
            updated.data("CredentialsPromoted"),
            updated.data("ScramCredentialsDeleted")
        ),
        ("1", "1", "0")
    );
    let second = aws.credential(&parameter(&app)).await;
    assert_eq!(
        (second.username.clone(), second.generation, second.pending.is_none()),
        (alternate_user(&app), 2, true)
    );
    assert_ne!(second.password, first.password);
    assert!(eventually_logs_in(&second, &topic).await, "the published generation 2 does not log in");
    assert!(logs_in(&first, &topic).await, "generation 1 must keep working during the overlap");
    assert!(logs_in(&other_value, &topic).await, "{other} was affected");
    assert_eq!(aws.credential(&parameter(&other)).await, other_value, "{other}'s parameter changed");

    // Within the overlap a run changes nothing.
    let again = reconciler
        .invoke(
            reconciler.event(
                "Update",
                "Custom::KafkaReconciler",
                "Reconciliation",
                Some("kafka-reconciler-dev"),
                props2.clone(),
                Some(props2.clone()),
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(again.data("Applied"), "0");

    // The overlap ends (promotion moved an hour and a second back); the next run deletes the
    // previous user's credential: the old value is refused, the new one and the other account work.
    let mut aged = second.clone();
    aged.rotated_at = aged.rotated_at.map(|t| t - 3601);
    aws.put(&parameter(&app), &aged.to_json()).await;
    let expired = reconciler
        .invoke(
            reconciler.event(
                "Update",
                "Custom::KafkaReconciler",
                "Reconciliation",
                Some("kafka-reconciler-dev"),
                props2.clone(),
                Some(props2.clone()),
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(
        (expired.data("ScramCredentialsDeleted"), expired.data("ScramCredentialsWritten")),
        ("1", "0")
    );
    let gone = kafka_common::eventually(Duration::from_secs(20), async || refused(&first).await).await;
    assert!(gone, "the old value still logs in after the overlap");
    assert!(logs_in(&second, &topic).await, "the current value stopped working");
    assert!(logs_in(&other_value, &topic).await, "{other} was affected");

    // No password in any log, answer or runtime result of either Lambda.
    for secret in [&first.password, &second.password, &other_value.password] {
        for (h, lambda) in [(&passwords, &password_lambda), (&reconciler, &reconciler_lambda)] {
            let mut texts = lambda.logs();
            texts.extend(h.all_answers());
            texts.extend(h.all_runtime_results());
            assert_secret_absent(secret, &texts);
        }
    }
}
