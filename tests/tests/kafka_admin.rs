//! kafka-admin against the real 3-node KRaft cluster of tests/scripts/kafka.sh: both listeners,
//! every operation, controller routing, and the errors an operator will meet.

mod kafka_common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{
    AclBinding, AclFilter, AclOperation, AdminClient, AdminConfig, ConfigChanges, ConfigOp, ConfigResource,
    ConfigResourceType, Error, NewPartitions, NewTopic, PatternType, ResourceType, ScramDeletion,
    ScramMechanism, ScramUpsert, TlsConfig,
};
use kafka_common::*;

fn topic(name: &str, partitions: i32, configs: &[(&str, &str)]) -> NewTopic {
    NewTopic {
        name: name.to_string(),
        partitions,
        replication_factor: 3,
        configs: configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

fn all_ok<T>(results: Vec<kafka_admin::Result<T>>) -> Vec<T> {
    results.into_iter().map(|r| r.expect("item succeeds")).collect()
}

fn topic_configs(entries: &[kafka_admin::ConfigEntry]) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter(|e| e.is_set_on_resource(ConfigResourceType::Topic))
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn sasl_ssl_admin_sees_three_brokers_and_a_controller() {
    let client = admin_sasl().await;
    let metadata = client.metadata().await.unwrap();
    let ids: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    // Metadata answers with the addresses of the listener the client used.
    let addresses: Vec<String> = metadata.brokers.iter().map(|b| b.address()).collect();
    assert_eq!(addresses, bootstrap_sasl());
    // KRaft names a live broker as "controller" (it forwards to the active controller); the client
    // keeps the one it saw at its last refresh, so that its requests stay on one node.
    assert!(ids.contains(&metadata.controller_id), "controller {} is a broker", metadata.controller_id);
    assert!(client.controller_id().is_some_and(|c| ids.contains(&c)));
    assert!(metadata.cluster_id.is_some());
}

#[tokio::test]
async fn mtls_admin_is_a_super_user_through_the_principal_mapping() {
    // CN=admin maps to User:admin, the same principal as the SCRAM admin.
    let client = AdminClient::connect(mtls_config("admin")).await.expect("admin connects over mTLS");
    let metadata = client.metadata().await.unwrap();
    let addresses: Vec<String> = metadata.brokers.iter().map(|b| b.address()).collect();
    assert_eq!(addresses, bootstrap_mtls());
    let name = unique("mtls-admin");
    all_ok(client.create_topics(&[topic(&name, 1, &[])], false).await);
    all_ok(client.delete_topics(&[name]).await);
}

#[tokio::test]
async fn topic_lifecycle_create_describe_alter_grow_delete() {
    let client = admin_sasl().await;
    let a = unique("life-a");
    let b = unique("life-b");
    let topics =
        [topic(&a, 3, &[("retention.ms", "3600000"), ("cleanup.policy", "compact")]), topic(&b, 1, &[])];

    // Validation only creates nothing.
    all_ok(client.create_topics(&topics, true).await);
    let described = client.describe_topics(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(described[&a].as_ref().unwrap_err().code(), Some(3), "validate_only created {a}");

    all_ok(client.create_topics(&topics, false).await);
    // Brokers apply committed metadata asynchronously: wait until the new topics are visible.
    client.await_topics(&[a.clone(), b.clone()], true).await.unwrap();
    let described = client.describe_topics(&[a.clone(), b.clone()]).await.unwrap();
    let info_a = described[&a].as_ref().unwrap();
    assert_eq!(info_a.partitions.len(), 3);
    assert_eq!(info_a.replication_factor(), 3);
    assert!(!info_a.internal);
    assert_eq!(described[&b].as_ref().unwrap().partitions.len(), 1);

    // Creating it again is a clear, per-topic error.
    let again = client.create_topics(&topics[..1], false).await;
    let e = again[0].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(36));
    assert!(
        e.to_string().contains(&format!("topic {a}")) && e.to_string().contains("TOPIC_ALREADY_EXISTS"),
        "{e}"
    );

    // Configs: the overrides set at creation, then changed incrementally.
    let configs = client.describe_configs(&[ConfigResource::topic(&a)]).await;
    let overrides = topic_configs(configs[0].as_ref().unwrap());
    assert_eq!(
        overrides,
        BTreeMap::from([
            ("cleanup.policy".into(), "compact".into()),
            ("retention.ms".into(), "3600000".into())
        ])
    );
    let changes = ConfigChanges {
        resource: ConfigResource::topic(&a),
        changes: BTreeMap::from([
            ("retention.ms".to_string(), ConfigOp::Delete),
            ("min.insync.replicas".to_string(), ConfigOp::Set("2".into())),
            ("cleanup.policy".to_string(), ConfigOp::Append("delete".into())),
        ]),
    };
    all_ok(client.incremental_alter_configs(&[changes], false).await);
    let expected = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact,delete".to_string()),
        ("min.insync.replicas".to_string(), "2".to_string()),
    ]);
    let mut overrides = BTreeMap::new();
    let applied = eventually(Duration::from_secs(10), async || {
        let configs = client.describe_configs(&[ConfigResource::topic(&a)]).await;
        overrides = topic_configs(configs[0].as_ref().unwrap());
        overrides == expected
    })
    .await;
    assert!(applied, "overrides after the change: {overrides:?}");

    // Partitions grow; they never shrink.
    all_ok(client.create_partitions(&[NewPartitions { topic: a.clone(), total: 6 }], false).await);
    let grown = eventually(Duration::from_secs(10), async || {
        let described = client.describe_topics(std::slice::from_ref(&a)).await.unwrap();
        described[&a].as_ref().is_ok_and(|t| t.partitions.len() == 6)
    })
    .await;
    assert!(grown, "{a} did not reach 6 partitions");
    let shrink = client.create_partitions(&[NewPartitions { topic: a.clone(), total: 2 }], false).await;
    let e = shrink[0].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(37), "{e}");
    assert!(e.to_string().contains("INVALID_PARTITIONS"), "{e}");

    all_ok(client.delete_topics(&[a.clone(), b.clone()]).await);
    client.await_topics(&[a.clone(), b.clone()], false).await.unwrap();
    let described = client.describe_topics(&[a.clone(), b.clone()]).await.unwrap();
    assert!(described.values().all(|r| r.as_ref().is_err_and(|e| e.code() == Some(3))));
}

#[tokio::test]
async fn invalid_requests_fail_per_item_with_clear_messages() {
    let client = admin_sasl().await;
    let good = unique("item-ok");
    let too_many_replicas = NewTopic { replication_factor: 4, ..topic(&unique("item-rf"), 1, &[]) };
    let bad_config = topic(&unique("item-cfg"), 1, &[("cleanup.policy", "sometimes")]);
    let results = client.create_topics(&[topic(&good, 1, &[]), too_many_replicas, bad_config], false).await;
    assert!(results[0].is_ok());
    let rf = results[1].as_ref().unwrap_err();
    assert!(rf.to_string().contains("INVALID_REPLICATION_FACTOR"), "{rf}");
    let cfg = results[2].as_ref().unwrap_err();
    assert!(cfg.to_string().contains("INVALID_CONFIG"), "{cfg}");

    // Deleting a topic that does not exist answers at once (not retried as "unknown").
    let missing = client.delete_topics(&[unique("never-created")]).await;
    let e = missing[0].as_ref().unwrap_err();
    assert!(matches!(e, Error::Kafka(k) if k.name == "UNKNOWN_TOPIC_OR_PARTITION"), "{e}");
    all_ok(client.delete_topics(&[good]).await);
}

#[tokio::test]
async fn batches_are_split_and_writes_go_to_the_controller() {
    let mut config = sasl_config(&admin_user(), &admin_password());
    config.max_batch = 20;
    let client = AdminClient::connect(config).await.unwrap();
    let controller = client.controller_id().expect("controller known");
    let prefix = unique("batch");
    let topics: Vec<NewTopic> = (0..45).map(|i| topic(&format!("{prefix}-{i:02}"), 1, &[])).collect();
    all_ok(client.create_topics(&topics, false).await);
    let acl = AclBinding::allow(
        ResourceType::Topic,
        &prefix,
        PatternType::Prefixed,
        "User:batch-reader",
        AclOperation::Read,
    );
    all_ok(client.create_acls(std::slice::from_ref(&acl)).await);
    let changes = ConfigChanges {
        resource: ConfigResource::topic(&topics[0].name),
        changes: BTreeMap::from([("retention.ms".to_string(), ConfigOp::Set("60000".into()))]),
    };
    all_ok(client.incremental_alter_configs(&[changes], false).await);

    let stats = client.request_stats();
    // 45 topics in batches of at most 20: 3 requests, all to the controller.
    assert_eq!(stats.by_api["CreateTopics"], 3);
    assert_eq!(stats.by_api_and_node[&("CreateTopics".to_string(), controller)], 3);
    // ACL batches go through the other brokers (beside topic writes on the controller's connection).
    assert_eq!(stats.by_api["CreateAcls"], 1);
    let other = *client.brokers().keys().find(|n| **n != controller).expect("3 brokers");
    assert_eq!(stats.by_api_and_node[&("CreateAcls".to_string(), other)], 1);
    assert_eq!(stats.by_api_and_node[&("IncrementalAlterConfigs".to_string(), controller)], 1);
    // With no topic write beside them, the batches go through every broker, evenly: 3 bindings,
    // one request per broker (the controller-designated one included).
    let alone: Vec<AclBinding> = ["a", "b", "c"]
        .map(|s| {
            AclBinding::allow(
                ResourceType::Topic,
                format!("{prefix}-{s}"),
                PatternType::Literal,
                "User:batch-reader",
                AclOperation::Read,
            )
        })
        .into();
    all_ok(client.create_acls_alone(&alone).await);
    let stats = client.request_stats();
    assert_eq!(stats.by_api["CreateAcls"], 1 + 3);
    for node in client.brokers().keys() {
        let expected = 1 + u64::from(*node == other);
        assert_eq!(stats.by_api_and_node[&("CreateAcls".to_string(), *node)], expected, "broker {node}");
    }

    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    all_ok(client.delete_topics(&names).await);
    assert_eq!(client.request_stats().by_api_and_node[&("DeleteTopics".to_string(), controller)], 3);
    let filters: Vec<AclFilter> = std::iter::once(&acl).chain(&alone).map(AclFilter::exact).collect();
    all_ok(client.delete_acls(&filters).await);
}

#[tokio::test]
async fn acls_are_created_described_and_deleted_exactly() {
    let client = admin_sasl().await;
    let principal = format!("User:{}", unique("acl-user"));
    let topic_name = unique("acl-topic");
    let bindings = vec![
        AclBinding::allow(
            ResourceType::Topic,
            &topic_name,
            PatternType::Literal,
            &principal,
            AclOperation::Write,
        ),
        AclBinding::allow(
            ResourceType::Topic,
            &topic_name,
            PatternType::Literal,
            &principal,
            AclOperation::Describe,
        ),
        AclBinding::allow(
            ResourceType::Group,
            "acl-app.",
            PatternType::Prefixed,
            &principal,
            AclOperation::Read,
        ),
        AclBinding::allow(
            ResourceType::TransactionalId,
            "acl-app-tx",
            PatternType::Literal,
            &principal,
            AclOperation::Write,
        ),
    ];
    all_ok(client.create_acls(&bindings).await);
    // Creating the same bindings again is harmless.
    all_ok(client.create_acls(&bindings).await);

    let mine = AclFilter { principal: Some(principal.clone()), ..AclFilter::any() };
    let mut expected = bindings.clone();
    expected.sort();
    // ACL changes reach the brokers asynchronously.
    let count = async |filter: &AclFilter, n: usize| {
        eventually(Duration::from_secs(10), async || client.describe_acls(filter).await.unwrap().len() == n)
            .await
    };
    assert!(count(&mine, 4).await);
    assert_eq!(client.describe_acls(&mine).await.unwrap(), expected);

    let topic_only = AclFilter { resource_type: ResourceType::Topic, ..mine.clone() };
    assert_eq!(client.describe_acls(&topic_only).await.unwrap().len(), 2);

    // An exact filter deletes one binding and reports it; the others stay.
    let deleted = client.delete_acls(&[AclFilter::exact(&bindings[0])]).await;
    assert_eq!(deleted[0].as_ref().unwrap(), &vec![bindings[0].clone()]);
    assert!(count(&mine, 3).await, "one binding deleted, three left");

    let deleted = client.delete_acls(std::slice::from_ref(&mine)).await;
    assert_eq!(deleted[0].as_ref().unwrap().len(), 3);
    assert!(count(&mine, 0).await, "all bindings of {principal} deleted");
}

#[tokio::test]
async fn scram_credentials_upserted_here_authenticate_and_are_denied_by_default() {
    let admin = admin_sasl().await;
    let user = unique("svc");
    let password = "correct horse battery staple";
    let upsert = ScramUpsert {
        user: user.clone(),
        mechanism: ScramMechanism::Sha512,
        iterations: kafka_admin::DEFAULT_SCRAM_ITERATIONS,
        password: password.into(),
    };
    all_ok(admin.alter_user_scram_credentials(&[upsert], &[]).await);
    let users = [user.clone()];
    let visible = eventually(Duration::from_secs(10), async || {
        admin.describe_user_scram_credentials(Some(&users)).await.unwrap().contains_key(&user)
    })
    .await;
    assert!(visible, "credential of {user} not described");
    let described = admin.describe_user_scram_credentials(Some(&users)).await.unwrap();
    assert_eq!(described[&user].len(), 1);
    assert_eq!(described[&user][0].mechanism, ScramMechanism::Sha512);
    assert_eq!(described[&user][0].iterations, kafka_admin::DEFAULT_SCRAM_ITERATIONS);

    // The new credential reaches every broker through the metadata log, asynchronously.
    let mut client = None;
    let connected = eventually(Duration::from_secs(15), async || {
        client = AdminClient::connect(sasl_config(&user, password)).await.ok();
        client.is_some()
    })
    .await;
    assert!(connected, "user {user} could not authenticate with the credential just stored");
    let client = client.unwrap();

    // Deny by default: authenticated, but no ACL, so no topic may be created.
    let denied = client.create_topics(&[topic(&unique("denied"), 1, &[])], false).await;
    let e = denied[0].as_ref().unwrap_err();
    assert!(e.to_string().contains("TOPIC_AUTHORIZATION_FAILED"), "{e}");

    // Once deleted, the credential no longer authenticates.
    all_ok(
        admin
            .alter_user_scram_credentials(
                &[],
                &[ScramDeletion { user: user.clone(), mechanism: ScramMechanism::Sha512 }],
            )
            .await,
    );
    let gone = eventually(Duration::from_secs(10), async || {
        admin.describe_user_scram_credentials(Some(&users)).await.unwrap().is_empty()
    })
    .await;
    assert!(gone, "credential of {user} still described");
    let refused = eventually(Duration::from_secs(15), async || {
        matches!(AdminClient::connect(sasl_config(&user, password)).await, Err(Error::Authentication { .. }))
    })
    .await;
    assert!(refused, "deleted credential of {user} still authenticates");
}

#[tokio::test]
async fn iteration_counts_kafka_would_refuse_are_refused_before_sending() {
    let admin = admin_sasl().await;
    let upsert = ScramUpsert {
        user: unique("iter"),
        mechanism: ScramMechanism::Sha512,
        iterations: 100,
        password: "p".into(),
    };
    let results = admin.alter_user_scram_credentials(&[upsert], &[]).await;
    let e = results[0].as_ref().unwrap_err();
    assert!(matches!(e, Error::Config(_)) && e.to_string().contains("4096..=16384"), "{e}");
    assert!(!admin.request_stats().by_api.contains_key("AlterUserScramCredentials"));
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error_naming_the_user() {
    let started = std::time::Instant::now();
    let e = AdminClient::connect(sasl_config(&admin_user(), "not-the-password")).await.unwrap_err();
    let Error::Authentication { user, reason, .. } = &e else {
        panic!("expected an authentication error, got {e}")
    };
    assert_eq!(user, &admin_user());
    assert!(reason.contains("SCRAM-SHA-512") || reason.contains("credentials"), "{reason}");
    let shown = e.to_string();
    assert!(!shown.contains("not-the-password"), "the password leaked into: {shown}");
    // Not retried: a wrong password does not become right by waiting (the retry policy would
    // take about 17 s).
    assert!(started.elapsed() < Duration::from_secs(10), "authentication failure was retried");
}

#[tokio::test]
async fn an_untrusted_ca_is_a_tls_error_that_says_so() {
    let tls = TlsConfig::from_ca_file(env("KAFKA_TEST_UNTRUSTED_CA_FILE").as_ref()).unwrap();
    let config = AdminConfig::new(bootstrap_sasl(), tls).with_scram(
        ScramMechanism::Sha512,
        admin_user(),
        admin_password(),
    );
    let e = AdminClient::connect(config).await.unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
    assert!(e.to_string().contains("not signed by the configured CA"), "{e}");
}

#[tokio::test]
async fn the_mtls_listener_refuses_a_client_without_certificate() {
    let tls = TlsConfig::from_ca_file(&ca_file()).unwrap();
    let e = AdminClient::connect(AdminConfig::new(bootstrap_mtls(), tls)).await.unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
    assert!(e.to_string().contains("client certificate"), "{e}");
}

#[tokio::test]
async fn an_mtls_client_without_acls_is_authenticated_but_denied() {
    let client = AdminClient::connect(mtls_config("nobody-special")).await.expect("certificate accepted");
    let denied = client.create_topics(&[topic(&unique("mtls-denied"), 1, &[])], false).await;
    assert!(denied[0].as_ref().unwrap_err().to_string().contains("TOPIC_AUTHORIZATION_FAILED"));
    let e = client.describe_acls(&AclFilter::any()).await.unwrap_err();
    assert!(e.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"), "{e}");
}

#[tokio::test]
async fn broker_configs_are_described_on_their_own_broker() {
    let client = admin_sasl().await;
    let results = client.describe_configs(&[ConfigResource::broker(2)]).await;
    let entries = results[0].as_ref().unwrap();
    let get = |k: &str| entries.iter().find(|e| e.name == k).and_then(|e| e.value.clone());
    assert_eq!(get("node.id").as_deref(), Some("2"));
    assert_eq!(get("auto.create.topics.enable").as_deref(), Some("false"));
    // Secrets are never returned.
    let key = entries.iter().find(|e| e.name == "ssl.keystore.key").expect("ssl.keystore.key listed");
    assert!(key.sensitive && key.value.is_none());
    assert_eq!(client.request_stats().by_api_and_node[&("DescribeConfigs".to_string(), 2)], 1);
}

#[tokio::test]
async fn a_client_without_sasl_on_the_sasl_listener_is_told_why_it_was_cut_off() {
    // An mTLS identity pointed at the SASL_SSL port: TLS succeeds, then the broker drops the
    // connection at the first request that is not part of authentication.
    let mut config = mtls_config("admin");
    config.bootstrap = bootstrap_sasl();
    config.retry.max_attempts = 1;
    let e = AdminClient::connect(config).await.unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("SASL listener spoken to without SASL credentials"), "{shown}");
}

#[tokio::test]
async fn sasl_on_the_mtls_listener_is_an_authentication_error() {
    let dir = client_cert_dir("admin");
    let tls = TlsConfig::from_files(&ca_file(), &dir.join("chain.pem"), &dir.join("key.pem")).unwrap();
    let mut config = AdminConfig::new(bootstrap_mtls(), tls).with_scram(
        ScramMechanism::Sha512,
        admin_user(),
        admin_password(),
    );
    config.retry.max_attempts = 1;
    let e = AdminClient::connect(config).await.unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e}");
    assert!(e.to_string().contains("listener does not use SASL"), "{e}");
    assert!(!e.to_string().contains(&admin_password()));
}
