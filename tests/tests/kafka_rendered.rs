//! The test cluster runs the broker settings that `gen` renders: tests/run.sh boots it from
//! `gen node-env dev bN` on tests/fixtures/local-environment/ (via tests/scripts/rendered-node-env.sh),
//! and this test compares what each running broker reports (DescribeConfigs) with a fresh render.
//! Only what cannot hold on one machine may differ: addresses and ports and the data directory. Everything else, the security settings above all, must be what was rendered.

mod kafka_common;

use std::collections::BTreeMap;

use std::process::Command;

use kafka_admin::{AclFilter, ConfigEntry, ConfigResource, NewTopic};
use kafka_common::*;
use platform_tests::gen_binary;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/local-environment");

/// Settings rendered-node-env.sh rewrites for one machine (compared separately or not at all).
const LOCALISED: &[&str] = &["listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"];

/// Rendered keys DescribeConfigs never shows: the SCRAM JAAS configuration (a secret) and the
/// authorizer's keys (Kafka does not know their type, so it treats them as sensitive).
const HIDDEN: &[&str] =
    &["listener.name.scram.scram-sha-512.sasl.jaas.config", "allow.everyone.if.no.acl.found", "super.users"];

/// The broker properties rendered for `node`, named the way the Confluent image names them.
fn rendered_properties(node: &str) -> BTreeMap<String, String> {
    let out = Command::new(gen_binary())
        .args(["--environments", FIXTURE, "node-env", "dev", node])
        .output()
        .expect("gen runs");
    assert!(out.status.success(), "gen node-env dev {node}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(k, _)| k.starts_with("KAFKA_") && *k != "KAFKA_HEAP_OPTS")
        .map(|(k, v)| (property_name(k), v.to_string()))
        .collect()
}

/// KAFKA_FOO__BAR___BAZ -> foo_bar-baz (the Confluent image convention).
fn property_name(variable: &str) -> String {
    variable["KAFKA_".len()..]
        .to_ascii_lowercase()
        .replace("___", "-")
        .replace("__", "\u{0}")
        .replace('_', ".")
        .replace('\u{0}', "_")
}

/// The listener names of a listener list (`NAME://host:port,...`), in order.
fn listener_names(listeners: &str) -> Vec<String> {
    listeners.split(',').map(|l| l.split_once("://").map_or(l, |(name, _)| name).to_string()).collect()
}

async fn effective_properties(node_id: i32) -> Vec<ConfigEntry> {
    let client = admin_sasl().await;
    let mut results = client.describe_configs(&[ConfigResource::broker(node_id)]).await;
    results.remove(0).unwrap_or_else(|e| panic!("describe configs of broker {node_id}: {e}"))
}

#[test]
fn property_names_follow_the_image_convention() {
    assert_eq!(
        property_name("KAFKA_LISTENER_NAME_MTLS_SSL_CLIENT_AUTH"),
        "listener.name.mtls.ssl.client.auth"
    );
    assert_eq!(
        property_name("KAFKA_LISTENER_NAME_SCRAM_SCRAM___SHA___512_SASL_JAAS_CONFIG"),
        "listener.name.scram.scram-sha-512.sasl.jaas.config"
    );
    assert_eq!(property_name("KAFKA_FOO__BAR"), "foo_bar");
}

#[tokio::test]
async fn every_broker_runs_the_rendered_settings() {
    for (index, node_id) in [(0, 1), (1, 2), (2, 3)] {
        let node = format!("b{index}");
        let rendered = rendered_properties(&node);
        assert_eq!(rendered.get("node.id").map(String::as_str), Some(node_id.to_string().as_str()));
        let effective = effective_properties(node_id).await;
        let entry = |key: &str| {
            effective.iter().find(|e| e.name == key).unwrap_or_else(|| {
                panic!("broker {node_id} does not report {key}; was the cluster started from the rendered settings?")
            })
        };
        let hint = "start the cluster as tests/run.sh does: KAFKA_NODE_ENV_DIR=<dir> tests/scripts/kafka.sh start \
                    after tests/scripts/rendered-node-env.sh <dir>";

        for (key, value) in rendered.iter().filter(|(k, _)| !LOCALISED.contains(&k.as_str())) {
            let e = entry(key);
            if e.sensitive {
                // Never described: secrets, and the authorizer's own keys, whose type Kafka does
                // not know. The behaviour tests below prove those.
                assert!(
                    HIDDEN.contains(&key.as_str()),
                    "{key} of broker {node_id} is described as sensitive"
                );
                assert!(e.value.is_none(), "{key} of broker {node_id} was returned although sensitive");
            } else {
                assert_eq!(
                    e.value.as_deref(),
                    Some(value.as_str()),
                    "{key} of broker {node_id} ({node}); {hint}"
                );
            }
        }
        // Localised: the same listeners, only bound and advertised elsewhere.
        for key in ["listeners", "advertised.listeners"] {
            let running = entry(key).value.clone().unwrap_or_default();
            assert_eq!(listener_names(&running), listener_names(&rendered[key]), "{key} of broker {node_id}");
        }

        // The settings the platform's security rests on, spelled out.
        let value = |key: &str| entry(key).value.clone();
        assert_eq!(
            value("authorizer.class.name").as_deref(),
            Some("org.apache.kafka.metadata.authorizer.StandardAuthorizer")
        );
        assert_eq!(value("listener.name.mtls.ssl.client.auth").as_deref(), Some("required"));
        assert_eq!(value("listener.name.internal.ssl.client.auth").as_deref(), Some("required"));
        assert_eq!(value("listener.name.controller.ssl.client.auth").as_deref(), Some("required"));
        assert_eq!(value("sasl.enabled.mechanisms").as_deref(), Some("SCRAM-SHA-512"));
        assert_eq!(value("ssl.principal.mapping.rules").as_deref(), Some("RULE:^CN=([^,]+).*$/$1/,DEFAULT"));
        // The key store is inline, as the launcher sets it (what lets a renewal replace it per
        // listener without a restart), and never described.
        assert!(value("ssl.keystore.location").is_none(), "broker {node_id} has a key store file");
        let key = entry("ssl.keystore.key");
        assert!(key.sensitive && key.value.is_none(), "ssl.keystore.key of broker {node_id}");
    }
}

/// The rendered super.users (User:admin and the nodes' DNS names, via the rendered principal
/// mapping of certificate CNs) hold: those identities may describe ACLs, a stranger may not.
#[tokio::test]
async fn the_rendered_super_users_are_super_users() {
    let rendered = rendered_properties("b0");
    assert!(rendered["super.users"].split(';').any(|u| u == "User:admin"), "{}", rendered["super.users"]);
    for name in ["admin", "b0.kafka.local.test", "b2.kafka.local.test"] {
        assert!(rendered["super.users"].split(';').any(|u| u == format!("User:{name}")));
        let client =
            kafka_admin::AdminClient::connect(mtls_config(name)).await.expect("certificate accepted");
        client
            .describe_acls(&AclFilter::any())
            .await
            .unwrap_or_else(|e| panic!("{name} is not a super user: {e}"));
    }
    let stranger =
        kafka_admin::AdminClient::connect(mtls_config(&unique("rendered-stranger"))).await.unwrap();
    let e = stranger.describe_acls(&AclFilter::any()).await.unwrap_err();
    assert!(e.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"), "{e}");
}

/// allow.everyone.if.no.acl.found=false as rendered: a topic without any ACL is closed to an
/// authenticated identity that has none (with `true` it would be open).
#[tokio::test]
async fn a_topic_without_acls_is_closed_to_everyone_but_super_users() {
    assert_eq!(rendered_properties("b0")["allow.everyone.if.no.acl.found"], "false");
    let admin = admin_sasl().await;
    let name = unique("rendered-no-acl");
    let topic =
        NewTopic { name: name.clone(), partitions: 1, replication_factor: 3, configs: Default::default() };
    admin.create_topics(&[topic], false).await.remove(0).expect("admin creates the topic");
    admin.await_topics(std::slice::from_ref(&name), true).await.unwrap();
    let stranger = kafka_admin::AdminClient::connect(mtls_config(&unique("rendered-reader"))).await.unwrap();
    let result = stranger.describe_configs(&[ConfigResource::topic(&name)]).await.remove(0);
    let e = result.expect_err("a topic without ACLs must be closed");
    assert!(e.to_string().contains("TOPIC_AUTHORIZATION_FAILED"), "{e}");
    admin.delete_topics(&[name]).await.remove(0).unwrap();
}

/// The admin credential was created the way the rendered nodes create it: each node's storage was
/// formatted by the launcher's own step (the text in every rendered task definition), and what it
/// printed holds neither the password nor the credential's keys.
#[test]
fn the_admin_credential_comes_from_the_rendered_launcher_step() {
    let state = std::path::PathBuf::from(env("KAFKA_TEST_STATE_DIR"));
    let ran =
        std::fs::read_to_string(state.join("format-storage.sh")).expect("kafka.sh records the step it ran");
    let rendered = kafka_platform_core::render::kafka_config::format_storage_function();
    assert_eq!(ran.trim_end(), rendered.trim_end(), "kafka.sh ran another format step than the launcher's");
    let password = admin_password();
    for node in 1..=3 {
        let log = std::fs::read_to_string(state.join(format!("node-{node}/format.log"))).unwrap();
        assert!(log.starts_with("Formatting metadata directory"), "node {node}: {log}");
        for secret in [password.as_str(), "storedKey", "serverKey", "Bootstrap metadata", "SCRAM"] {
            assert!(!log.contains(secret), "node {node}: the format output shows {secret:?}");
        }
    }
}
