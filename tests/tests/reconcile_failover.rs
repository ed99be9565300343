//! A broker stopped while the reconciler applies a plan (issue 4): the apply still completes, or it
//! reports per change why not, and never leaves anything behind that a rerun does not fix.
//!
//! Two cases against the real cluster of `tests/scripts/kafka.sh`, each stopping the node that
//! the admin client sends its requests to (so its pooled connection breaks):
//! - deterministic: the node stops between plan and apply. The apply still completes: every
//!   change is applied through the two nodes left (Kafka places the third replica of a
//!   replication-factor-3 topic on the stopped node, under-replicated until it is back). The plan
//!   is empty while the node is down, and once it is back the replicas catch up.
//! - racing: the node is killed (SIGKILL, as a lost host) while the apply runs. Whatever the
//!   timing, the apply returns a report (no hang, no panic) whose failures all carry a reason, and
//!   reruns after the restart converge.
//!
//! One test only: it stops a node, so no other test of this binary may share the cluster meanwhile.

mod kafka_common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{AclFilter, AdminClient, ScramDeletion, ScramMechanism, Secret};
use kafka_common::*;
use kafka_platform_core::config::project::{
    AclOperation as Op, AclPatternType, AclResourceType, Authentication,
};
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic};
use kafka_reconcile::{ApplyReport, PasswordSource, Plan, PlanOptions, apply, observe, plan};

/// Longest an apply may take with a node going down (client retries included) before the test
/// calls it a hang.
const APPLY_LIMIT: Duration = Duration::from_secs(180);

/// Topics of the racing case: enough that its apply (1-4 s here) overlaps the kill.
const RACING_TOPICS: usize = 500;

/// When the racing case kills the node, counted from the start of the apply.
const KILL_AFTER: Duration = Duration::from_millis(100);

/// Project `p`: `rf2` topics with replication factor 2, `rf3` with 3, a SCRAM account `p-app` that
/// may write every topic, and a prefixed read grant for `p-reader`.
fn desired(p: &str, rf2: usize, rf3: usize) -> DesiredState {
    let topic = |name: String, replication_factor| DesiredTopic {
        name,
        project: p.into(),
        partitions: 2,
        replication_factor,
        configs: BTreeMap::from([("retention.ms".to_string(), "3600000".to_string())]),
    };
    let topics: Vec<DesiredTopic> = (0..rf2)
        .map(|i| topic(format!("{p}.rf2-{i:02}"), 2))
        .chain((0..rf3).map(|i| topic(format!("{p}.rf3-{i:02}"), 3)))
        .collect();
    let acl = |principal: String, resource_name: String, pattern_type, operation| DesiredAcl {
        principal,
        resource_type: AclResourceType::Topic,
        pattern_type,
        resource_name,
        operation,
        host: "*".into(),
    };
    let mut acls: Vec<DesiredAcl> = topics
        .iter()
        .map(|t| acl(format!("User:{p}-app"), t.name.clone(), AclPatternType::Literal, Op::Write))
        .collect();
    acls.push(acl(format!("User:{p}-reader"), format!("{p}."), AclPatternType::Prefixed, Op::Read));
    acls.sort();
    DesiredState {
        format_version: kafka_platform_core::desired::FORMAT_VERSION,
        stage: "dev".into(),
        managed_topic_prefixes: vec![format!("{p}.")],
        allow_delete: false,
        projects: Vec::new(),
        topics,
        service_accounts: vec![DesiredAccount {
            name: format!("{p}-app"),
            project: p.into(),
            principal: format!("User:{p}-app"),
            authentication: Authentication::Scram,
            password_parameter: None,
            scram_users: Vec::new(),
            rotation_token: None,
        }],
        acls,
        subjects: Vec::new(),
        rotation_overlap_hours: 24,
    }
}

fn passwords(p: &str) -> PasswordSource {
    PasswordSource::Map(BTreeMap::from([(format!("{p}-app"), Secret::new(format!("pw-of-{p}")))]))
}

async fn plan_now(client: &AdminClient, d: &DesiredState) -> Plan {
    let observed = observe(client, d).await.expect("observe");
    plan(d, &observed, PlanOptions::default())
}

/// Applies within [`APPLY_LIMIT`]; a refused plan or a hang fails the test.
async fn apply_bounded(client: &AdminClient, planned: &Plan, p: &str) -> ApplyReport {
    tokio::time::timeout(APPLY_LIMIT, apply(client, planned, &passwords(p)))
        .await
        .unwrap_or_else(|_| panic!("apply did not return within {APPLY_LIMIT:?}"))
        .expect("plan is not refused")
}

/// Every failure names its cause (Kafka's error, or the client's after its retries).
fn assert_reasons(report: &ApplyReport) {
    for outcome in report.failed() {
        let reason = outcome.error.as_deref().unwrap_or_default();
        assert!(reason.trim().len() > 10, "failure without a usable reason: {outcome:#?}");
    }
}

/// The node the admin client sends its requests to, after a fresh metadata round.
async fn request_target(client: &AdminClient) -> i32 {
    client.refresh_metadata().await.expect("metadata");
    client.controller_id().expect("controller known")
}

/// Waits (bounded) until `node` is back in the cluster metadata.
async fn rejoined(client: &AdminClient, node: i32) {
    let back = eventually(Duration::from_secs(90), async || {
        client.refresh_metadata().await.is_ok() && client.brokers().contains_key(&node)
    })
    .await;
    assert!(back, "node {node} did not rejoin the cluster");
}

/// Reruns plan + apply until the plan is empty (metadata reaches the restarted node and its
/// unfencing asynchronously, so one rerun may still fail); at most `attempts` applies.
async fn converge_by_rerunning(client: &AdminClient, d: &DesiredState, p: &str, attempts: usize) {
    let mut last = None;
    for _ in 0..attempts {
        let planned = plan_now(client, d).await;
        if planned.is_empty() {
            return;
        }
        let report = apply_bounded(client, &planned, p).await;
        assert_reasons(&report);
        last = Some((planned.summary(), report.failed().cloned().collect::<Vec<_>>()));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let settled = eventually(Duration::from_secs(30), async || plan_now(client, d).await.is_empty()).await;
    assert!(settled, "reruns did not converge; last rerun: {last:#?}");
}

async fn cleanup(client: &AdminClient, d: &DesiredState, p: &str) {
    let names: Vec<String> = d.topics.iter().map(|t| t.name.clone()).collect();
    for r in client.delete_topics(&names).await {
        r.expect("delete topic");
    }
    for principal in [format!("User:{p}-app"), format!("User:{p}-reader")] {
        let filter = AclFilter { principal: Some(principal), ..AclFilter::any() };
        client.delete_acls(&[filter]).await.remove(0).expect("delete acls");
    }
    let deletion = ScramDeletion { user: format!("{p}-app"), mechanism: ScramMechanism::Sha512 };
    client.alter_user_scram_credentials(&[], &[deletion]).await.remove(0).expect("delete credential");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_stopped_during_apply_leaves_nothing_a_rerun_does_not_fix() {
    let admin = admin_sasl().await;

    // Deterministic: the node goes down between plan and apply.
    let p = unique("rc-down");
    let d = desired(&p, 6, 2);
    let planned = plan_now(&admin, &d).await;
    let s = planned.summary();
    assert_eq!(
        (s.topics_to_create, s.acls_to_create, s.scram_credentials_to_upsert),
        (8, 9, 1),
        "{planned:#?}"
    );
    let down = request_target(&admin).await;
    let stopped = StoppedNode::stop(down);

    let report = apply_bounded(&admin, &planned, &p).await;
    assert!(report.is_success(), "with node {down} down: {:#?}", report.failed().collect::<Vec<_>>());
    assert_eq!(report.applied(), planned.changes.len());
    let settled = eventually(Duration::from_secs(30), async || plan_now(&admin, &d).await.is_empty()).await;
    assert!(settled, "plan not empty after a complete apply with node {down} down");

    drop(stopped);
    rejoined(&admin, down).await;
    converge_by_rerunning(&admin, &d, &p, 1).await;
    // The replication-factor-3 topics are fully in sync once the node is back.
    let rf3: Vec<String> = (0..2).map(|i| format!("{p}.rf3-{i:02}")).collect();
    let mut last = None;
    let in_sync = eventually(Duration::from_secs(60), async || {
        let described = admin.describe_topics(&rf3).await.expect("describe");
        let ok = described.values().all(|t| {
            t.as_ref()
                .is_ok_and(|t| t.replication_factor() == 3 && t.partitions.iter().all(|p| p.isr.len() == 3))
        });
        last = Some(described);
        ok
    })
    .await;
    assert!(in_sync, "replication-factor-3 topics not in sync after node {down} came back: {last:#?}");
    let login = eventually(Duration::from_secs(20), async || {
        AdminClient::connect(sasl_config(&format!("{p}-app"), &format!("pw-of-{p}"))).await.is_ok()
    })
    .await;
    assert!(login, "{p}-app cannot log in with the password the reconciler set");
    cleanup(&admin, &d, &p).await;

    // Racing: the node is killed while the apply runs.
    let p = unique("rc-race");
    let d = desired(&p, RACING_TOPICS, 0);
    let planned = plan_now(&admin, &d).await;
    assert_eq!(planned.summary().topics_to_create, RACING_TOPICS);
    let down = request_target(&admin).await;
    let started = std::time::Instant::now();
    let (report, killed) =
        tokio::join!(async { (apply_bounded(&admin, &planned, &p).await, started.elapsed()) }, async {
            // By then the big CreateTopics request is in flight at the node being killed.
            tokio::time::sleep(KILL_AFTER).await;
            let node =
                tokio::task::spawn_blocking(move || StoppedNode::kill(down)).await.expect("kill-node thread");
            (node, started.elapsed())
        },);
    let ((report, applied_at), (killed, killed_at)) = (report, killed);
    assert_reasons(&report);
    eprintln!(
        "node {} killed at {killed_at:.1?} of an apply that returned at {applied_at:.1?}: {} of {} changes applied; failed: {:?}",
        killed.id(),
        report.applied(),
        planned.changes.len(),
        report.failed().map(|o| (&o.change.action, &o.error)).collect::<Vec<_>>()
    );
    drop(killed);
    rejoined(&admin, down).await;
    converge_by_rerunning(&admin, &d, &p, 5).await;
    let names: Vec<String> = d.topics.iter().map(|t| t.name.clone()).collect();
    let described = admin.describe_topics(&names).await.expect("describe");
    assert!(
        described.values().all(|t| t.as_ref().is_ok_and(|t| t.replication_factor() == 2)),
        "{described:#?}"
    );
    cleanup(&admin, &d, &p).await;
}
