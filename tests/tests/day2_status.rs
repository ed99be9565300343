//! `gen status` on the real cluster: healthy (exit 0); with one node stopped it reports the node
//! down and the partitions it leaves under-replicated (exit 3, degraded); after the node is
//! started again it reports the recovery. The node is started again even when the test fails.

mod kafka_common;

use std::process::Command;
use std::time::Duration;

use kafka_admin::NewTopic;
use kafka_common::*;
use serde_json::Value;

/// Runs `gen status dev --format json` as the admin; returns the exit code and the report.
fn status() -> (i32, Value) {
    let out = Command::new(platform_tests::gen_binary())
        .args(["status", "dev", "--format", "json"])
        .args(["--bootstrap", &env("KAFKA_TEST_BOOTSTRAP_SASL"), "--ca-file", &env("KAFKA_TEST_CA_FILE")])
        .args([
            "--scram-user",
            &admin_user(),
            "--scram-password-file",
            &env("KAFKA_TEST_ADMIN_PASSWORD_FILE"),
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("gen runs");
    let code = out.status.code().expect("gen exits");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("exit {code}, no JSON report ({e}): {}", String::from_utf8_lossy(&out.stderr))
    });
    (code, report)
}

/// The partitions of `topic` the report lists as under-replicated, with their ISRs.
fn under_replicated(report: &Value, topic: &str) -> Vec<(i64, Vec<i64>)> {
    report["under_replicated"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["topic"] == topic)
        .map(|p| {
            let isr = p["isr"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).collect();
            (p["partition"].as_i64().unwrap(), isr)
        })
        .collect()
}

fn node(report: &Value, id: i64) -> &Value {
    report["nodes"].as_array().unwrap().iter().find(|n| n["id"] == id).expect("node listed")
}

#[tokio::test]
async fn status_reports_a_stopped_node_its_under_replicated_partitions_and_the_recovery() {
    let admin = admin_sasl().await;
    let topic = unique("status");
    let new =
        NewTopic { name: topic.clone(), partitions: 3, replication_factor: 3, configs: Default::default() };
    admin.create_topics(&[new], false).await.remove(0).expect("topic created");
    admin.await_topics(std::slice::from_ref(&topic), true).await.unwrap();

    let mut last = (0, Value::Null);
    let healthy = eventually(Duration::from_secs(60), async || {
        last = status();
        last.0 == 0
    })
    .await;
    assert!(healthy, "the cluster is not healthy before the test: {:#}", last.1);
    assert_eq!(last.1["state"], "healthy");
    assert_eq!(last.1["nodes_up"], 3);
    assert!(last.1["finalized_features"]["metadata.version"].as_i64().unwrap() > 0, "{:#}", last.1);
    assert!(last.1["quorum"]["leader"].as_i64().unwrap() >= 1, "{:#}", last.1);

    let stopped = StoppedNode::stop(2);
    let degraded = eventually(Duration::from_secs(60), async || {
        last = status();
        last.0 == 3 && under_replicated(&last.1, &topic).len() == 3
    })
    .await;
    assert!(degraded, "no degraded report with node 2 stopped: exit {}, {:#}", last.0, last.1);
    let report = &last.1;
    assert_eq!(report["state"], "degraded");
    assert_eq!(report["nodes_up"], 2);
    assert_eq!(node(report, 2)["up"], false);
    for (partition, isr) in under_replicated(report, &topic) {
        assert!(!isr.contains(&2) && isr.len() == 2, "{topic}-{partition}: in sync {isr:?}");
    }
    let problems: Vec<&str> =
        report["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(problems.iter().any(|p| p.starts_with("broker 2 is")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.starts_with(&format!("{topic}-0 is under-replicated"))),
        "{problems:?}"
    );

    drop(stopped);
    let recovered = eventually(Duration::from_secs(120), async || {
        last = status();
        last.0 == 0
    })
    .await;
    assert!(recovered, "no recovery reported after node 2 started: exit {}, {:#}", last.0, last.1);
    assert_eq!(last.1["nodes_up"], 3);
    assert!(under_replicated(&last.1, &topic).is_empty(), "{:#}", last.1);
    admin.delete_topics(&[topic]).await.remove(0).unwrap();
}
