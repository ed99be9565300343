//! ACLs written through kafka-admin are enforced for Kafka's own clients: the console producer and
//! consumer of the same Kafka release, over SASL_SSL (SCRAM) and mTLS.

mod kafka_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kafka_admin::{
    AclBinding, AclFilter, AclOperation, AdminClient, NewTopic, PatternType, ResourceType, ScramMechanism,
    ScramUpsert,
};
use kafka_common::*;

/// A properties file for `identity` (from `kafka.sh client-config`) plus short client timeouts, so
/// a refused client gives up in seconds instead of minutes.
fn client_properties(identity: &[&str], extra: &[&str]) -> PathBuf {
    let mut args = vec!["client-config"];
    args.extend_from_slice(identity);
    let out = kafka_sh(&args);
    assert!(out.status.success(), "client-config failed: {}", String::from_utf8_lossy(&out.stderr));
    let base = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut text = std::fs::read_to_string(&base).unwrap();
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    let path = std::env::temp_dir().join(format!("{}.properties", unique("client")));
    std::fs::write(&path, text).unwrap();
    path
}

fn producer_properties(identity: &[&str]) -> PathBuf {
    client_properties(
        identity,
        &["max.block.ms=15000", "delivery.timeout.ms=15000", "request.timeout.ms=10000"],
    )
}

fn consumer_properties(identity: &[&str]) -> PathBuf {
    client_properties(identity, &["default.api.timeout.ms=15000", "request.timeout.ms=10000"])
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

fn produce(props: &Path, topic: &str, records: &[&str]) -> Run {
    let input = records.iter().map(|r| format!("{r}\n")).collect::<String>();
    let out = kafka_sh_with_input(&["console-producer", props.to_str().unwrap(), topic], &input);
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn consume(props: &Path, topic: &str, group: &str, max: u32) -> Run {
    let max = max.to_string();
    let out = kafka_sh(&[
        "console-consumer",
        props.to_str().unwrap(),
        topic,
        group,
        "--max-messages",
        &max,
        "--timeout-ms",
        "15000",
    ]);
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn records(run: &Run) -> Vec<String> {
    let mut lines: Vec<String> = run.stdout.lines().map(String::from).collect();
    lines.sort();
    lines
}

async fn scram_user(admin: &AdminClient, user: &str, password: &str) -> PathBuf {
    let upsert = ScramUpsert {
        user: user.into(),
        mechanism: ScramMechanism::Sha512,
        iterations: 4096,
        password: password.into(),
    };
    admin.alter_user_scram_credentials(&[upsert], &[]).await.remove(0).unwrap();
    let known = eventually(Duration::from_secs(15), async || {
        AdminClient::connect(sasl_config(user, password)).await.is_ok()
    })
    .await;
    assert!(known, "credential of {user} did not become usable");
    let path = std::env::temp_dir().join(format!("{user}.password"));
    std::fs::write(&path, password).unwrap();
    path
}

#[tokio::test]
async fn producers_write_but_cannot_read_consumers_read_in_their_group_outsiders_see_nothing() {
    let admin = admin_sasl().await;
    let topic = unique("enf-orders");
    let producer = unique("enf-producer");
    let consumer = unique("enf-consumer");
    let group_prefix = format!("{consumer}.");
    admin
        .create_topics(
            &[NewTopic {
                name: topic.clone(),
                partitions: 1,
                replication_factor: 3,
                configs: Default::default(),
            }],
            false,
        )
        .await
        .remove(0)
        .unwrap();
    let producer_password = scram_user(&admin, &producer, "producer-secret-1").await;
    let consumer_password = scram_user(&admin, &consumer, "consumer-secret-1").await;
    let p = format!("User:{producer}");
    let c = format!("User:{consumer}");
    let bindings = vec![
        AclBinding::allow(ResourceType::Topic, &topic, PatternType::Literal, &p, AclOperation::Write),
        AclBinding::allow(ResourceType::Topic, &topic, PatternType::Literal, &p, AclOperation::Describe),
        AclBinding::allow(ResourceType::Topic, &topic, PatternType::Literal, &c, AclOperation::Read),
        AclBinding::allow(ResourceType::Topic, &topic, PatternType::Literal, &c, AclOperation::Describe),
        AclBinding::allow(ResourceType::Group, &group_prefix, PatternType::Prefixed, &c, AclOperation::Read),
    ];
    for r in admin.create_acls(&bindings).await {
        r.unwrap();
    }
    let mine = AclFilter { resource_name: Some(topic.clone()), ..AclFilter::any() };
    let visible =
        eventually(Duration::from_secs(10), async || admin.describe_acls(&mine).await.unwrap().len() == 4)
            .await;
    assert!(visible, "ACLs of {topic} not visible");

    let producer_sasl = ["sasl", producer.as_str(), producer_password.to_str().unwrap()];
    let consumer_sasl = ["sasl", consumer.as_str(), consumer_password.to_str().unwrap()];

    // The producer writes.
    let run = produce(&producer_properties(&producer_sasl), &topic, &["m1", "m2"]);
    assert!(run.success && !run.stderr.contains("Exception"), "producer failed: {}", run.stderr);

    // The consumer reads, in a group under its prefix.
    let run = consume(&consumer_properties(&consumer_sasl), &topic, &format!("{group_prefix}g1"), 2);
    assert_eq!(records(&run), vec!["m1", "m2"], "consumer stderr: {}", run.stderr);

    // The consumer may not use a group outside its prefix.
    let run = consume(&consumer_properties(&consumer_sasl), &topic, &unique("foreign-group"), 1);
    assert!(records(&run).is_empty());
    assert!(run.stderr.contains("GroupAuthorizationException"), "{}", run.stderr);

    // The producer may not read, even with a group it names.
    let run = consume(&consumer_properties(&producer_sasl), &topic, &format!("{producer}.g"), 1);
    assert!(records(&run).is_empty());
    assert!(run.stderr.contains("AuthorizationException"), "{}", run.stderr);

    // The consumer may not write: nothing new arrives. (Its idempotent producer is already refused
    // an id, as a principal without WRITE on any topic, hence a cluster authorization error.)
    let run = produce(&producer_properties(&consumer_sasl), &topic, &["intruder"]);
    assert!(run.stderr.contains("AuthorizationException"), "{}", run.stderr);

    // An mTLS client of another project, without ACLs, cannot read the topic.
    let outsider = unique("enf-outsider");
    let run =
        consume(&consumer_properties(&["mtls", outsider.as_str()]), &topic, &format!("{outsider}.g"), 1);
    assert!(records(&run).is_empty());
    assert!(run.stderr.contains("AuthorizationException"), "{}", run.stderr);

    // Same for mTLS once it is granted: the certificate's CN is the principal.
    let o = format!("User:{outsider}");
    let grant = vec![
        AclBinding::allow(ResourceType::Topic, &topic, PatternType::Literal, &o, AclOperation::Read),
        AclBinding::allow(
            ResourceType::Group,
            format!("{outsider}."),
            PatternType::Prefixed,
            &o,
            AclOperation::Read,
        ),
    ];
    for r in admin.create_acls(&grant).await {
        r.unwrap();
    }
    let run =
        consume(&consumer_properties(&["mtls", outsider.as_str()]), &topic, &format!("{outsider}.g2"), 3);
    assert_eq!(
        records(&run),
        vec!["m1", "m2"],
        "the intruder's record must not be there; stderr: {}",
        run.stderr
    );

    for principal in [p, c, o] {
        admin
            .delete_acls(&[AclFilter { principal: Some(principal), ..AclFilter::any() }])
            .await
            .remove(0)
            .unwrap();
    }
    admin.delete_topics(&[topic]).await.remove(0).unwrap();
}
