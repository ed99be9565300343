//! Benchmark (ignored by default; run with `cargo test -p platform-tests --test kafka_bench --
//! --ignored --nocapture` against the test cluster): 1,000 topics and 3,000 ACL bindings created,
//! read back as a plan would, and removed. Prints times, request counts and peak memory; asserts
//! only that everything succeeded.

mod kafka_common;

use std::time::Instant;

use kafka_admin::{AclBinding, AclFilter, AclOperation, NewTopic, PatternType, ResourceType};
use kafka_common::*;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test]
#[ignore = "benchmark: run explicitly"]
async fn thousand_topics_and_three_thousand_acls() {
    let client = admin_sasl().await;
    // Leftovers of an interrupted run would distort the figures.
    let old: Vec<String> = client
        .metadata()
        .await
        .unwrap()
        .topics
        .into_iter()
        .map(|t| t.name)
        .filter(|n| n.starts_with("bench-"))
        .collect();
    client.delete_topics(&old).await;
    client
        .delete_acls(&[AclFilter {
            resource_type: ResourceType::Topic,
            resource_name: None,
            pattern_type: PatternType::Any,
            ..AclFilter::any()
        }])
        .await;
    client.await_topics(&old, false).await.unwrap();
    let prefix = unique("bench");
    let topics: Vec<NewTopic> = (0..1000)
        .map(|i| NewTopic {
            name: format!("{prefix}.t{i:04}"),
            partitions: 1,
            replication_factor: 3,
            configs: [("retention.ms".to_string(), "86400000".to_string())].into(),
        })
        .collect();
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    let acls: Vec<AclBinding> = names
        .iter()
        .flat_map(|n| {
            [
                AclBinding::allow(
                    ResourceType::Topic,
                    n,
                    PatternType::Literal,
                    format!("User:{prefix}-producer"),
                    AclOperation::Write,
                ),
                AclBinding::allow(
                    ResourceType::Topic,
                    n,
                    PatternType::Literal,
                    format!("User:{prefix}-producer"),
                    AclOperation::Describe,
                ),
                AclBinding::allow(
                    ResourceType::Topic,
                    n,
                    PatternType::Literal,
                    format!("User:{prefix}-consumer"),
                    AclOperation::Read,
                ),
            ]
        })
        .collect();

    let t = Instant::now();
    assert!(client.create_topics(&topics, false).await.iter().all(|r| r.is_ok()));
    let create_topics = t.elapsed();
    let t = Instant::now();
    client.await_topics(&names, true).await.unwrap();
    let visible = t.elapsed();
    let t = Instant::now();
    assert!(client.create_acls(&acls).await.iter().all(|r| r.is_ok()));
    let create_acls = t.elapsed();
    let mine = AclFilter { principal: Some(format!("User:{prefix}-producer")), ..AclFilter::any() };
    let acls_visible = eventually(std::time::Duration::from_secs(30), async || {
        client.describe_acls(&mine).await.unwrap().len() == 2000
    })
    .await;
    assert!(acls_visible);

    // What a plan reads: all topics, their configs, all ACLs.
    let t = Instant::now();
    let metadata = client.metadata().await.unwrap();
    let resources: Vec<_> = names.iter().map(kafka_admin::ConfigResource::topic).collect();
    let configs = client.describe_configs(&resources).await;
    let bindings = client.describe_acls(&AclFilter::any()).await.unwrap();
    let observe = t.elapsed();
    assert!(metadata.topics.len() >= 1000, "{} topics", metadata.topics.len());
    assert!(configs.iter().all(|c| c.is_ok()));
    assert!(bindings.len() >= 3000, "{} bindings", bindings.len());

    let stats = client.request_stats();
    let t = Instant::now();
    assert!(client.delete_topics(&names).await.iter().all(|r| r.is_ok()));
    let filters: Vec<AclFilter> = ["producer", "consumer"]
        .iter()
        .map(|r| AclFilter { principal: Some(format!("User:{prefix}-{r}")), ..AclFilter::any() })
        .collect();
    assert!(client.delete_acls(&filters).await.iter().all(|r| r.is_ok()));
    let cleanup = t.elapsed();

    println!("create 1000 topics (RF 3): {create_topics:?}; visible after {visible:?} more");
    println!("create 3000 ACL bindings: {create_acls:?}");
    println!("observe (metadata + 1000 topic configs + all ACLs): {observe:?}");
    println!("delete 1000 topics + 3000 bindings: {cleanup:?}");
    println!("requests before cleanup: {} {:?}", stats.total, stats.by_api);
    println!("peak RSS of the test process: {:.1} MiB", peak_rss_mib());
}
