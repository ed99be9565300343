//! The reconciler (observe, plan, apply of kafka-reconcile) against the real 3-node KRaft cluster
//! of `tests/scripts/kafka.sh`. Each test owns a unique topic prefix and unique principals, so the
//! tests can share the cluster with each other and with earlier runs.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{
    AclBinding, AclFilter, AclOperation, AdminClient, ConfigResource, ConfigResourceType, NewTopic,
    PatternType, ResourceType, ScramMechanism, Secret,
};
use kafka_common::*;
use kafka_platform_core::config::project::{
    AclOperation as Op, AclPatternType, AclResourceType, Authentication,
};
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic};
use kafka_reconcile::{
    Action, DeletePolicy, Error, ObservedState, PasswordSource, Plan, PlanOptions, apply, observe, plan,
};

/// A project `p` owning prefix `p.`: topic `p.events.v1` (3 partitions, RF 3, retention.ms) and
/// `p.audit.v1` (1 partition, RF 1); SCRAM producer `p-app`, mTLS consumer `p-reader`.
fn desired(p: &str) -> DesiredState {
    let topic = |name: &str, partitions, rf, configs: &[(&str, &str)]| DesiredTopic {
        name: format!("{p}.{name}"),
        project: p.into(),
        partitions,
        replication_factor: rf,
        configs: configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let account = |suffix: &str, authentication| DesiredAccount {
        name: format!("{p}-{suffix}"),
        project: p.into(),
        principal: format!("User:{p}-{suffix}"),
        authentication,
        password_parameter: None,
        scram_users: Vec::new(),
        rotation_token: None,
    };
    let mut acls = vec![
        topic_acl(&format!("User:{p}-app"), &format!("{p}.events.v1"), Op::Write),
        topic_acl(&format!("User:{p}-app"), &format!("{p}.events.v1"), Op::Describe),
        topic_acl(&format!("User:{p}-reader"), &format!("{p}.events.v1"), Op::Read),
        topic_acl(&format!("User:{p}-reader"), &format!("{p}.events.v1"), Op::Describe),
        DesiredAcl {
            principal: format!("User:{p}-reader"),
            resource_type: AclResourceType::Group,
            pattern_type: AclPatternType::Prefixed,
            resource_name: format!("{p}-reader"),
            operation: Op::Read,
            host: "*".into(),
        },
    ];
    acls.sort();
    DesiredState {
        format_version: kafka_platform_core::desired::FORMAT_VERSION,
        stage: "dev".into(),
        managed_topic_prefixes: vec![format!("{p}.")],
        allow_delete: true,
        projects: Vec::new(),
        topics: vec![
            topic("audit.v1", 1, 1, &[("cleanup.policy", "compact")]),
            topic("events.v1", 3, 3, &[("retention.ms", "604800000"), ("min.insync.replicas", "2")]),
        ],
        service_accounts: vec![
            account("app", Authentication::Scram),
            account("reader", Authentication::Mtls),
        ],
        acls,
        subjects: Vec::new(),
        rotation_overlap_hours: 24,
    }
}

fn topic_acl(principal: &str, topic: &str, operation: Op) -> DesiredAcl {
    DesiredAcl {
        principal: principal.into(),
        resource_type: AclResourceType::Topic,
        pattern_type: AclPatternType::Literal,
        resource_name: topic.into(),
        operation,
        host: "*".into(),
    }
}

fn passwords(p: &str) -> PasswordSource {
    PasswordSource::Map(BTreeMap::from([(format!("{p}-app"), Secret::new(format!("pw-of-{p}")))]))
}

fn allow() -> PlanOptions {
    PlanOptions { deletes: DeletePolicy::Allow, ..PlanOptions::default() }
}

async fn plan_now(client: &AdminClient, d: &DesiredState, options: PlanOptions) -> Plan {
    let observed = observe(client, d).await.expect("observe");
    plan(d, &observed, options)
}

/// Applies and asserts that every change went through.
async fn apply_ok(client: &AdminClient, d: &DesiredState, options: PlanOptions, p: &str) -> Plan {
    let planned = plan_now(client, d, options).await;
    let report = apply(client, &planned, &passwords(p)).await.expect("plan applies");
    let failed: Vec<_> = report.failed().collect();
    assert!(failed.is_empty(), "failed changes: {failed:#?}");
    planned
}

/// Metadata reaches every broker asynchronously; a plan made right after an apply may still see
/// the old state on a lagging broker. Waits (bounded) for the plan to become empty.
async fn converges(client: &AdminClient, d: &DesiredState, options: PlanOptions) {
    let mut last = None;
    let done = eventually(Duration::from_secs(30), async || {
        let p = plan_now(client, d, options).await;
        let empty = p.is_empty();
        last = Some(p);
        empty
    })
    .await;
    assert!(done, "the plan never became empty: {:#?}", last);
}

/// A read right after a write may reach a broker whose metadata still lags; polls `read` until it
/// gives `expected`, for at most 20 s, then asserts.
async fn settles<T: PartialEq + std::fmt::Debug>(mut read: impl AsyncFnMut() -> T, expected: T) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut got = read().await;
    while got != expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        got = read().await;
    }
    assert_eq!(got, expected);
}

async fn topic_configs(client: &AdminClient, topic: &str) -> BTreeMap<String, String> {
    client
        .describe_configs(&[ConfigResource::topic(topic)])
        .await
        .remove(0)
        .expect("describe configs")
        .into_iter()
        .filter(|e| e.is_set_on_resource(ConfigResourceType::Topic))
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect()
}

async fn acls_of(client: &AdminClient, principal: &str) -> Vec<AclBinding> {
    let filter = AclFilter { principal: Some(principal.into()), ..AclFilter::any() };
    client.describe_acls(&filter).await.expect("describe acls")
}

async fn topic_names(client: &AdminClient) -> Vec<String> {
    client.metadata().await.expect("metadata").topics.into_iter().map(|t| t.name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_topics_acls_and_credentials_then_plans_nothing() {
    let admin = admin_sasl().await;
    let p = unique("rc-create");
    let d = desired(&p);

    let planned = apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    let s = planned.summary();
    assert_eq!(
        (s.topics_to_create, s.acls_to_create, s.scram_credentials_to_upsert),
        (2, 5, 1),
        "{planned:#?}"
    );

    let events = format!("{p}.events.v1");
    settles(
        async || {
            let meta = admin.describe_topics(std::slice::from_ref(&events)).await.unwrap();
            meta[&events].as_ref().map(|t| (t.partitions.len(), t.replication_factor())).ok()
        },
        Some((3, 3)),
    )
    .await;
    settles(
        async || topic_configs(&admin, &events).await,
        BTreeMap::from([
            ("min.insync.replicas".into(), "2".into()),
            ("retention.ms".into(), "604800000".into()),
        ]),
    )
    .await;
    settles(async || acls_of(&admin, &format!("User:{p}-reader")).await.len(), 3).await;
    let creds = admin.describe_user_scram_credentials(Some(&[format!("{p}-app")])).await.unwrap();
    assert_eq!(creds[&format!("{p}-app")][0].mechanism, ScramMechanism::Sha512);

    // The credential carries the password from the source: the account can log in with it.
    let login = eventually(Duration::from_secs(20), async || {
        AdminClient::connect(sasl_config(&format!("{p}-app"), &format!("pw-of-{p}"))).await.is_ok()
    })
    .await;
    assert!(login, "{p}-app cannot log in with the password the reconciler set");

    converges(&admin, &d, PlanOptions::default()).await;
    // Idempotent also when the same plan is applied twice.
    let again = apply(&admin, &planned, &passwords(&p)).await.unwrap();
    assert!(again.is_success(), "{:#?}", again.failed().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_configs_and_increases_partitions() {
    let admin = admin_sasl().await;
    let p = unique("rc-change");
    let mut d = desired(&p);
    apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    converges(&admin, &d, PlanOptions::default()).await;

    let events = format!("{p}.events.v1");
    let t = d.topics.iter_mut().find(|t| t.name == events).unwrap();
    t.partitions = 5;
    t.configs.insert("retention.ms".into(), "86400000".into());
    t.configs.insert("max.message.bytes".into(), "2097152".into());
    let planned = apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    assert_eq!(
        planned.changes.iter().map(|c| &c.action).collect::<Vec<_>>(),
        vec![
            &Action::IncreasePartitions { topic: events.clone(), from: 3, to: 5 },
            &Action::UpdateTopicConfigs {
                topic: events.clone(),
                changes: vec![
                    kafka_reconcile::ConfigDelta {
                        key: "max.message.bytes".into(),
                        old: None,
                        new: Some("2097152".into())
                    },
                    kafka_reconcile::ConfigDelta {
                        key: "retention.ms".into(),
                        old: Some("604800000".into()),
                        new: Some("86400000".into()),
                    },
                ],
            },
        ]
    );
    settles(
        async || {
            let configs = topic_configs(&admin, &events).await;
            (configs.get("retention.ms").cloned(), configs.get("max.message.bytes").cloned())
        },
        (Some("86400000".into()), Some("2097152".into())),
    )
    .await;
    settles(
        async || {
            let meta = admin.describe_topics(std::slice::from_ref(&events)).await.unwrap();
            meta[&events].as_ref().map(|t| t.partitions.len()).ok()
        },
        Some(5),
    )
    .await;
    converges(&admin, &d, PlanOptions::default()).await;

    // A key no longer declared is reset only when deletes are allowed.
    let t = d.topics.iter_mut().find(|t| t.name == events).unwrap();
    t.configs.remove("max.message.bytes");
    let refused = plan_now(&admin, &d, PlanOptions::default()).await;
    assert_eq!(refused.refusals.len(), 1, "{refused:#?}");
    assert!(matches!(apply(&admin, &refused, &passwords(&p)).await, Err(Error::Refused(1))));
    assert!(topic_configs(&admin, &events).await.contains_key("max.message.bytes"));
    apply_ok(&admin, &d, allow(), &p).await;
    settles(async || topic_configs(&admin, &events).await.contains_key("max.message.bytes"), false).await;
    converges(&admin, &d, PlanOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_partition_decrease_and_replication_change_and_applies_nothing() {
    let admin = admin_sasl().await;
    let p = unique("rc-refuse");
    let mut d = desired(&p);
    apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    converges(&admin, &d, PlanOptions::default()).await;

    let events = format!("{p}.events.v1");
    let audit = format!("{p}.audit.v1");
    for t in &mut d.topics {
        if t.name == events {
            t.partitions = 2;
            t.configs.insert("retention.ms".into(), "1000".into());
        } else {
            t.replication_factor = 3;
        }
    }
    let planned = plan_now(&admin, &d, allow()).await;
    let subjects: Vec<&str> = planned.refusals.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(subjects, vec![format!("topic {audit}"), format!("topic {events}")], "{planned:#?}");
    assert!(
        planned.refusals[0].message.contains("partition reassignment"),
        "{}",
        planned.refusals[0].message
    );
    assert!(
        planned.refusals[1].message.contains("Kafka cannot remove partitions"),
        "{}",
        planned.refusals[1].message
    );
    assert!(matches!(apply(&admin, &planned, &passwords(&p)).await, Err(Error::Refused(2))));
    // The config change of the same plan was not applied either.
    assert_eq!(topic_configs(&admin, &events).await["retention.ms"], "604800000");
    let meta = admin.describe_topics(&[events.clone(), audit.clone()]).await.unwrap();
    assert_eq!(meta[&events].as_ref().unwrap().partitions.len(), 3);
    assert_eq!(meta[&audit].as_ref().unwrap().replication_factor(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn acls_are_added_and_removed_and_unmanaged_ones_are_untouched() {
    let admin = admin_sasl().await;
    let p = unique("rc-acl");
    let outsider = unique("rc-outsider");
    // Unmanaged: another principal's grant on a topic outside the prefix, and that topic.
    let unmanaged_topic = format!("{outsider}.data.v1");
    for r in admin
        .create_topics(
            &[NewTopic {
                name: unmanaged_topic.clone(),
                partitions: 1,
                replication_factor: 1,
                configs: Default::default(),
            }],
            false,
        )
        .await
    {
        r.unwrap();
    }
    let unmanaged = AclBinding::allow(
        ResourceType::Topic,
        &unmanaged_topic,
        PatternType::Literal,
        format!("User:{outsider}"),
        AclOperation::Read,
    );
    // Owned although not declared: a hand-made grant on a managed topic.
    let stray = AclBinding::allow(
        ResourceType::Topic,
        format!("{p}.events.v1"),
        PatternType::Literal,
        format!("User:{outsider}"),
        AclOperation::Write,
    );
    for r in admin.create_acls(&[unmanaged.clone(), stray.clone()]).await {
        r.unwrap();
    }

    settles(async || acls_of(&admin, &format!("User:{outsider}")).await.len(), 2).await;

    let mut d = desired(&p);
    let planned = apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    assert!(
        planned.changes.iter().any(|c| c.action == Action::DeleteAcl { acl: stray.clone() }),
        "{planned:#?}"
    );
    converges(&admin, &d, PlanOptions::default()).await;

    // The reader loses its grants on the topic and gets one on the audit topic instead.
    let reader = format!("User:{p}-reader");
    d.acls.retain(|a| !(a.principal == reader && a.resource_type == AclResourceType::Topic));
    d.acls.push(topic_acl(&reader, &format!("{p}.audit.v1"), Op::Read));
    d.acls.sort();
    let planned = apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    let s = planned.summary();
    assert_eq!((s.acls_to_create, s.acls_to_delete), (1, 2), "{planned:#?}");
    converges(&admin, &d, PlanOptions::default()).await;

    let mut now: Vec<String> = acls_of(&admin, &reader)
        .await
        .iter()
        .map(|a| format!("{} {}", a.operation, a.resource_name))
        .collect();
    now.sort();
    assert_eq!(now, vec![format!("READ {p}-reader"), format!("READ {p}.audit.v1")]);
    let outsider_acls = acls_of(&admin, &format!("User:{outsider}")).await;
    assert_eq!(outsider_acls, vec![unmanaged.clone()], "only the unmanaged grant is left");
    assert!(topic_names(&admin).await.contains(&unmanaged_topic));

    // Clean up what this test made by hand.
    admin.delete_acls(&[AclFilter::exact(&unmanaged)]).await.remove(0).unwrap();
    admin.delete_topics(&[unmanaged_topic]).await.remove(0).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_are_refused_without_permission_and_done_with_it() {
    let admin = admin_sasl().await;
    let p = unique("rc-delete");
    let mut d = desired(&p);
    apply_ok(&admin, &d, PlanOptions::default(), &p).await;
    converges(&admin, &d, PlanOptions::default()).await;

    let audit = format!("{p}.audit.v1");
    d.topics.retain(|t| t.name != audit);

    let refused = plan_now(&admin, &d, PlanOptions::default()).await;
    assert_eq!(refused.refusals.len(), 1, "{refused:#?}");
    assert!(refused.refusals[0].message.contains("--allow-delete"), "{}", refused.refusals[0].message);
    assert!(matches!(apply(&admin, &refused, &passwords(&p)).await, Err(Error::Refused(1))));
    assert!(topic_names(&admin).await.contains(&audit));

    // A stage that forbids deletes refuses them even when the run allows them.
    d.allow_delete = false;
    let forbidden = plan_now(&admin, &d, allow()).await;
    assert!(forbidden.refusals[0].message.contains("stage dev does not allow deletes"), "{forbidden:#?}");
    // The Lambda's policy: leave them and say so.
    let skipping =
        plan_now(&admin, &d, PlanOptions { deletes: DeletePolicy::Skip, ..Default::default() }).await;
    assert!(skipping.is_empty() && skipping.skipped.len() == 1, "{skipping:#?}");

    d.allow_delete = true;
    let planned = apply_ok(&admin, &d, allow(), &p).await;
    assert_eq!(
        planned.changes.iter().map(|c| &c.action).collect::<Vec<_>>(),
        vec![&Action::DeleteTopic { topic: audit.clone() }]
    );
    let gone =
        eventually(Duration::from_secs(30), async || !topic_names(&admin).await.contains(&audit)).await;
    assert!(gone, "{audit} still exists");
    converges(&admin, &d, allow()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn observe_sees_only_managed_topics_and_never_internal_ones() {
    let admin = admin_sasl().await;
    let p = unique("rc-observe");
    let mut d = desired(&p);
    d.managed_topic_prefixes.push("_".into());
    let observed: ObservedState = observe(&admin, &d).await.unwrap();
    assert!(observed.topics.keys().all(|t| t.starts_with(&format!("{p}."))), "{:?}", observed.topics.keys());
    let planned = plan(&d, &observed, allow());
    assert!(
        planned.changes.iter().all(|c| !matches!(&c.action, Action::DeleteTopic { .. })),
        "nothing to delete: {planned:#?}"
    );
}
