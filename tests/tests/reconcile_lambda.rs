//! Custom::KafkaReconciler end to end: the real Lambda binary under the played Runtime API and
//! ResponseURL, moto as S3 (desired state) and SSM (admin mTLS material, SCRAM passwords), and the
//! real KRaft cluster of `tests/scripts/kafka.sh` (mTLS listener, admin certificate from its CA).
//! Needs MOTO_ENDPOINT and the KAFKA_TEST_* variables.

#[path = "kafka_common/mod.rs"]
mod kafka_common;
mod lambda_support;

use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use kafka_admin::AdminClient;
use kafka_platform_core::config::project::{
    AclOperation as Op, AclPatternType, AclResourceType, Authentication,
};
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic};
use kafka_platform_core::digest::sha256_hex;
use lambda_support::*;
use serde_json::{Value, json};

const TYPE: &str = "Custom::KafkaReconciler";
const BIN: &str = "reconciler-lambda";
const DEADLINE: Duration = Duration::from_secs(120);

fn desired(p: &str, password_parameter: &str, with_audit: bool) -> DesiredState {
    let topic = |name: &str| DesiredTopic {
        name: format!("{p}.{name}"),
        project: p.into(),
        partitions: 2,
        replication_factor: 3,
        configs: [("retention.ms".to_string(), "86400000".to_string())].into(),
    };
    let mut topics = vec![topic("events.v1")];
    if with_audit {
        topics.insert(0, topic("audit.v1"));
    }
    DesiredState {
        format_version: 1,
        stage: "dev".into(),
        managed_topic_prefixes: vec![format!("{p}.")],
        allow_delete: true,
        projects: Vec::new(),
        topics,
        service_accounts: vec![DesiredAccount {
            name: format!("{p}-app"),
            project: p.into(),
            principal: format!("User:{p}-app"),
            authentication: Authentication::Scram,
            password_parameter: Some(password_parameter.into()),
            scram_users: Vec::new(),
            rotation_token: None,
        }],
        acls: vec![DesiredAcl {
            principal: format!("User:{p}-app"),
            resource_type: AclResourceType::Topic,
            pattern_type: AclPatternType::Prefixed,
            resource_name: format!("{p}."),
            operation: Op::Write,
            host: "*".into(),
        }],
        subjects: Vec::new(),
        rotation_overlap_hours: 24,
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
        let bucket = unique("desired").to_lowercase();
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

    /// Uploads a desired state; returns (key, sha256).
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
            .expect("put");
        (key, sha)
    }

    async fn secure(&self, name: &str, value: &str) {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }
}

fn props(aws: &Aws, prefix: &str, key: &str, sha: &str, allow_delete: bool) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:reconciler",
        "Stage": "dev",
        "BootstrapServers": kafka_common::env("KAFKA_TEST_BOOTSTRAP_MTLS"),
        "AdminTlsParameterPrefix": prefix,
        "AdminPasswordParameter": format!("{prefix}/unused-password"),
        "DesiredStateBucket": aws.bucket,
        "DesiredStateKey": key,
        "DesiredStateSha256": sha,
        "AllowDelete": allow_delete.to_string(),
    })
}

async fn topics(admin: &AdminClient, p: &str) -> Vec<String> {
    let mut names: Vec<String> = admin
        .metadata()
        .await
        .unwrap()
        .topics
        .into_iter()
        .map(|t| t.name)
        .filter(|n| n.starts_with(&format!("{p}.")))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn create_update_and_delete_reconcile_the_cluster() {
    let aws = Aws::new().await;
    let admin = kafka_common::admin_sasl().await;
    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let p = kafka_common::unique("rl");

    // The admin's mTLS material where the certificate Lambda would have put it.
    let prefix = format!("/{}/tls/admin", unique("kafka"));
    let cert_dir = kafka_common::client_cert_dir("admin");
    let read = |f: &str| std::fs::read_to_string(cert_dir.join(f)).unwrap();
    aws.secure(&format!("{prefix}/private-key"), &read("key.pem")).await;
    aws.secure(&format!("{prefix}/certificate"), &read("cert.pem")).await;
    aws.secure(&format!("{prefix}/chain"), &std::fs::read_to_string(kafka_common::ca_file()).unwrap()).await;
    let password_parameter = format!("/{}/accounts/{p}-app", unique("kafka"));
    let password = format!("pw-{p}-0123456789abcdef");
    aws.secure(&password_parameter, &password).await;

    // Create: topics, the ACL and the SCRAM credential (password from SSM).
    let (key, sha) = aws.upload(&desired(&p, &password_parameter, true)).await;
    let created = h
        .invoke(
            h.event("Create", TYPE, "Reconciliation", None, props(&aws, &prefix, &key, &sha, false), None),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(created.physical_id(), "kafka-reconciler-dev");
    assert_eq!(created.data("TopicsCreated"), "2");
    assert_eq!(created.data("AclsCreated"), "1");
    assert_eq!(created.data("ScramCredentialsWritten"), "1");
    assert_eq!(created.data("DesiredStateSha256"), sha);
    assert_eq!(topics(&admin, &p).await, vec![format!("{p}.audit.v1"), format!("{p}.events.v1")]);
    let login = kafka_common::eventually(Duration::from_secs(20), async || {
        AdminClient::connect(kafka_common::sasl_config(&format!("{p}-app"), &password)).await.is_ok()
    })
    .await;
    assert!(login, "the account cannot log in with the password from SSM");

    // A tampered or stale object is refused.
    let failed = h
        .invoke(
            h.event(
                "Update",
                TYPE,
                "Reconciliation",
                Some("kafka-reconciler-dev"),
                props(&aws, &prefix, &key, &"0".repeat(64), false),
                Some(props(&aws, &prefix, &key, &sha, false)),
            ),
            DEADLINE,
        )
        .await
        .expect_failed("not the one the template was rendered with");
    assert_eq!(failed.physical_id(), "kafka-reconciler-dev");

    // A topic no longer declared is kept while AllowDelete is false, and counted.
    let (key2, sha2) = aws.upload(&desired(&p, &password_parameter, false)).await;
    let kept = h
        .invoke(
            h.event(
                "Update",
                TYPE,
                "Reconciliation",
                Some("kafka-reconciler-dev"),
                props(&aws, &prefix, &key2, &sha2, false),
                Some(props(&aws, &prefix, &key, &sha, false)),
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(kept.data("Skipped"), "1");
    assert_eq!(kept.data("TopicsDeleted"), "0");
    assert_eq!(topics(&admin, &p).await.len(), 2);

    // Delete without AllowDelete removes nothing; with it, every managed topic and ACL goes.
    h.invoke(
        h.event(
            "Delete",
            TYPE,
            "Reconciliation",
            Some("kafka-reconciler-dev"),
            props(&aws, &prefix, &key2, &sha2, false),
            None,
        ),
        DEADLINE,
    )
    .await
    .expect_success();
    assert_eq!(topics(&admin, &p).await.len(), 2);
    h.invoke(
        h.event(
            "Delete",
            TYPE,
            "Reconciliation",
            Some("kafka-reconciler-dev"),
            props(&aws, &prefix, &key2, &sha2, true),
            None,
        ),
        DEADLINE,
    )
    .await
    .expect_success();
    let gone =
        kafka_common::eventually(Duration::from_secs(30), async || topics(&admin, &p).await.is_empty()).await;
    assert!(gone, "managed topics left: {:?}", topics(&admin, &p).await);

    let mut texts = h.all_answers();
    texts.extend(lambda.logs());
    assert_secret_absent(&password, &texts);
}

/// Avro value schemas of the subject test: v2 adds a field without a default, which BACKWARD refuses.
const EVENT_V1: &str = r#"{"type": "record", "name": "Event", "namespace": "com.example.lambda", "fields": [{"name": "id", "type": "string"}]}"#;
const EVENT_BAD: &str = r#"{"type": "record", "name": "Event", "namespace": "com.example.lambda", "fields": [{"name": "id", "type": "string"}, {"name": "kind", "type": "string"}]}"#;

// The same run registers the declared subjects in the real registry (tests/scripts/schema-registry.sh,
// Apicurio's Confluent API, global level BACKWARD); a second run plans nothing, and an incompatible
// evolution fails the request naming the subject with nothing applied, Kafka included.
#[tokio::test(flavor = "multi_thread")]
async fn subjects_are_reconciled_in_the_same_run() {
    let url = std::env::var("SCHEMA_REGISTRY_URL")
        .expect("SCHEMA_REGISTRY_URL: run `tests/scripts/schema-registry.sh start` and eval its env");
    let aws = Aws::new().await;
    let admin = kafka_common::admin_sasl().await;
    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let p = kafka_common::unique("rs");
    let prefix = format!("/{}/tls/admin", unique("kafka"));
    let cert_dir = kafka_common::client_cert_dir("admin");
    let read = |f: &str| std::fs::read_to_string(cert_dir.join(f)).unwrap();
    aws.secure(&format!("{prefix}/private-key"), &read("key.pem")).await;
    aws.secure(&format!("{prefix}/certificate"), &read("cert.pem")).await;
    aws.secure(&format!("{prefix}/chain"), &std::fs::read_to_string(kafka_common::ca_file()).unwrap()).await;
    let password_parameter = format!("/{}/accounts/{p}-app", unique("kafka"));
    let password = format!("pw-{p}-0123456789abcdef");
    aws.secure(&password_parameter, &password).await;

    let subject = format!("{p}.events.v1-value");
    let with_schema = |schema: &str, with_audit: bool| {
        let mut d = desired(&p, &password_parameter, with_audit);
        d.subjects = vec![kafka_platform_core::desired::DesiredSubject {
            subject: subject.clone(),
            project: p.clone(),
            schema_type: kafka_platform_core::model::SchemaType::Avro,
            schema: schema.into(),
            references: Vec::new(),
            compatibility: kafka_platform_core::config::project::Compatibility::Backward,
        }];
        d
    };
    let with_registry = |key: &str, sha: &str| {
        let mut v = props(&aws, &prefix, key, sha, false);
        v["SchemaRegistryUrl"] = json!(url);
        v
    };
    let registry = kafka_reconcile::registry::RegistryClient::new(&url, None, None).unwrap();

    let (key, sha) = aws.upload(&with_schema(EVENT_V1, false)).await;
    let created = h
        .invoke(h.event("Create", TYPE, "Reconciliation", None, with_registry(&key, &sha), None), DEADLINE)
        .await
        .expect_success();
    assert_eq!(created.data("TopicsCreated"), "1");
    assert_eq!(created.data("DeclaredSubjects"), "1");
    assert_eq!(created.data("SubjectsPlanned"), "true");
    assert_eq!(created.data("SubjectsRegistered"), "1");
    assert_eq!(created.data("SubjectCompatibilityChanged"), "0", "BACKWARD is the global level already");
    assert_eq!(created.data("SubjectChangesApplied"), "1");
    assert_eq!(registry.latest_version(&subject).await.unwrap(), Some(1), "registered by the Lambda");

    // Nothing changed: the second run plans and applies nothing in the registry.
    let again = h
        .invoke(
            h.event(
                "Update",
                TYPE,
                "Reconciliation",
                Some("kafka-reconciler-dev"),
                with_registry(&key, &sha),
                Some(with_registry(&key, &sha)),
            ),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!(again.data("SubjectsRegistered"), "0");
    assert_eq!(again.data("SubjectCompatibilityChanged"), "0");
    assert_eq!(again.data("SubjectChangesApplied"), "0");

    // An incompatible evolution (and a new topic) is refused before anything is applied.
    let (bad_key, bad_sha) = aws.upload(&with_schema(EVENT_BAD, true)).await;
    h.invoke(
        h.event(
            "Update",
            TYPE,
            "Reconciliation",
            Some("kafka-reconciler-dev"),
            with_registry(&bad_key, &bad_sha),
            Some(with_registry(&key, &sha)),
        ),
        DEADLINE,
    )
    .await
    .expect_failed(&subject);
    assert_eq!(registry.latest_version(&subject).await.unwrap(), Some(1), "nothing registered");
    assert_eq!(topics(&admin, &p).await, vec![format!("{p}.events.v1")], "no Kafka change either");

    // Clean up: the topic and ACL by a delete with AllowDelete, the subject soft then hard.
    let mut delete = with_registry(&key, &sha);
    delete["AllowDelete"] = json!("true");
    h.invoke(h.event("Delete", TYPE, "Reconciliation", Some("kafka-reconciler-dev"), delete, None), DEADLINE)
        .await
        .expect_success();
    registry.delete_subject(&subject, false).await.unwrap();
    registry.delete_subject(&subject, true).await.unwrap();
    let mut texts = h.all_answers();
    texts.extend(lambda.logs());
    assert_secret_absent(&password, &texts);
}
