//! Benchmark (ignored by default; run with `cargo test -p platform-tests --test reconcile_bench --
//! --ignored --nocapture` against `tests/scripts/kafka.sh`): 1,000 topics and 3,000 ACL bindings
//! from scratch, then a plan with nothing to do, then the cleanup delete. Prints times, request
//! counts and the process's peak memory; asserts only the outcomes, never the times.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::time::Instant;

use kafka_common::*;
use kafka_platform_core::config::project::{
    AclOperation as Op, AclPatternType, AclResourceType, Authentication,
};
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic};
use kafka_reconcile::{DeletePolicy, PasswordSource, PlanOptions, apply, await_served, observe, plan};

const TOPICS: usize = 1000;

fn desired(p: &str) -> DesiredState {
    let acl = |principal: &str, topic: &str, operation| DesiredAcl {
        principal: principal.into(),
        resource_type: AclResourceType::Topic,
        pattern_type: AclPatternType::Literal,
        resource_name: topic.into(),
        operation,
        host: "*".into(),
    };
    let (app, reader) = (format!("User:{p}-app"), format!("User:{p}-reader"));
    let mut topics = Vec::new();
    let mut acls = Vec::new();
    for i in 0..TOPICS {
        let name = format!("{p}.t{i:04}.v1");
        acls.push(acl(&app, &name, Op::Write));
        acls.push(acl(&app, &name, Op::Describe));
        acls.push(acl(&reader, &name, Op::Read));
        topics.push(DesiredTopic {
            name,
            project: p.into(),
            partitions: 1,
            replication_factor: 1,
            configs: [("retention.ms".to_string(), "86400000".to_string())].into(),
        });
    }
    acls.sort();
    let account = |suffix: &str| DesiredAccount {
        name: format!("{p}-{suffix}"),
        project: p.into(),
        principal: format!("User:{p}-{suffix}"),
        authentication: Authentication::Mtls,
        password_parameter: None,
        scram_users: Vec::new(),
        rotation_token: None,
    };
    DesiredState {
        format_version: 1,
        stage: "dev".into(),
        managed_topic_prefixes: vec![format!("{p}.")],
        allow_delete: true,
        projects: Vec::new(),
        topics,
        service_accounts: vec![account("app"), account("reader")],
        acls,
        subjects: Vec::new(),
        rotation_overlap_hours: 24,
    }
}

fn peak_rss_kib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run explicitly with --ignored"]
async fn thousand_topics_and_three_thousand_acls() {
    let admin = admin_sasl().await;
    let p = unique("bench");
    let d = desired(&p);
    let none = PasswordSource::Unavailable("mTLS accounts only".into());
    let options = PlanOptions { deletes: DeletePolicy::Allow, ..Default::default() };

    let stats0 = admin.request_stats().total;
    let t = Instant::now();
    let observed = observe(&admin, &d).await.unwrap();
    let first_plan = plan(&d, &observed, options);
    let planned = t.elapsed();
    let s = first_plan.summary();
    assert_eq!((s.topics_to_create, s.acls_to_create), (TOPICS, 3 * TOPICS));
    let t = Instant::now();
    let report = apply(&admin, &first_plan, &none).await.unwrap();
    let applied = t.elapsed();
    assert!(report.is_success(), "{:#?}", report.failed().take(3).collect::<Vec<_>>());
    let stats1 = admin.request_stats();
    println!(
        "bench: plan from scratch {planned:?}, apply {applied:?} ({} changes), {} requests in all: {:?}",
        report.outcomes.len(),
        stats1.total - stats0,
        stats1.by_api
    );

    // Wait until every broker serves it (as gen apply does), then plan again: nothing to do.
    let t = Instant::now();
    let before = admin.request_stats().total;
    let served = await_served(&admin, &report, std::time::Duration::from_secs(60), |_| {}).await;
    let waited = (t.elapsed(), admin.request_stats().total - before);
    assert!(served.converged(), "{}", served.last);
    let t = Instant::now();
    let before = admin.request_stats().total;
    let o = observe(&admin, &d).await.unwrap();
    let p2 = plan(&d, &o, options);
    assert!(p2.is_empty(), "second plan not empty: {}", kafka_reconcile::render::summary_line(&p2));
    println!(
        "bench: wait for every broker {:?} in {} requests ({} rounds); second plan (nothing to do) {:?} in {} requests",
        waited.0,
        waited.1,
        served.rounds,
        t.elapsed(),
        admin.request_stats().total - before
    );

    // Clean up: every topic and ACL of the benchmark, through the reconciler.
    let empty = DesiredState { topics: vec![], acls: vec![], ..d.clone() };
    let t = Instant::now();
    let o = observe(&admin, &empty).await.unwrap();
    let cleanup = plan(&empty, &o, options);
    let report = apply(&admin, &cleanup, &none).await.unwrap();
    println!(
        "bench: delete {} changes in {:?}; peak RSS of the test process {} KiB",
        report.outcomes.len(),
        t.elapsed(),
        peak_rss_kib()
    );
    assert!(report.is_success());
}
