//! Given a desired state and a cluster, expect this plan.

use kafka_admin::{AclOperation, AclPermission, ResourceType, ScramMechanism};
use kafka_platform_core::config::project::AclOperation as Op;

use super::*;
use crate::testkit::{acl, configs, declared_acl, desired, in_sync};

fn allow() -> PlanOptions {
    PlanOptions { deletes: DeletePolicy::Allow, ..PlanOptions::default() }
}

fn actions(p: &Plan) -> Vec<&Action> {
    p.changes.iter().map(|c| &c.action).collect()
}

fn topic_mut<'a>(o: &'a mut ObservedState, name: &str) -> &'a mut ObservedTopic {
    o.topics.get_mut(name).expect("topic observed")
}

#[test]
fn a_cluster_in_sync_plans_nothing() {
    for options in
        [PlanOptions::default(), allow(), PlanOptions { deletes: DeletePolicy::Skip, ..Default::default() }]
    {
        let p = plan(&desired(), &in_sync(), options);
        assert!(p.is_empty(), "{p:#?}");
        assert!(p.skipped.is_empty());
    }
}

#[test]
fn an_empty_cluster_gets_topics_then_credentials_then_acls() {
    let p = plan(&desired(), &ObservedState::default(), PlanOptions::default());
    assert!(!p.is_refused());
    let a = actions(&p);
    assert_eq!(
        a[0],
        &Action::CreateTopic {
            topic: "orders.placed.v1".into(),
            partitions: 3,
            replication_factor: 3,
            configs: configs(&[("retention.ms", "604800000")]),
        }
    );
    assert_eq!(
        a[1],
        &Action::UpsertScramCredential {
            user: "orders-app".into(),
            account: "orders-app".into(),
            password_parameter: Some("/kafka/dev/service-accounts/orders-app/password".into()),
            generation: None,
        }
    );
    assert!(a[2..].iter().all(|a| matches!(a, Action::CreateAcl { .. })));
    assert_eq!(a.len(), 5);
    assert_eq!(p.changes[0].reason, "declared by project orders, not on the cluster");
    let s = p.summary();
    assert_eq!((s.topics_to_create, s.acls_to_create, s.scram_credentials_to_upsert), (1, 3, 1));
}

#[test]
fn a_changed_and_a_new_config_key_are_one_update_with_old_and_new_values() {
    let mut d = desired();
    d.topics[0].configs = configs(&[("retention.ms", "86400000"), ("cleanup.policy", "compact")]);
    let p = plan(&d, &in_sync(), PlanOptions::default());
    assert_eq!(
        actions(&p),
        vec![&Action::UpdateTopicConfigs {
            topic: "orders.placed.v1".into(),
            changes: vec![
                ConfigDelta { key: "cleanup.policy".into(), old: None, new: Some("compact".into()) },
                ConfigDelta {
                    key: "retention.ms".into(),
                    old: Some("604800000".into()),
                    new: Some("86400000".into())
                },
            ],
        }]
    );
    assert!(!p.changes[0].action.is_destructive());
}

#[test]
fn an_override_no_longer_declared_is_reset_only_when_deletes_are_allowed() {
    let mut o = in_sync();
    topic_mut(&mut o, "orders.placed.v1").configs.insert("segment.ms".into(), "3600000".into());

    let refused = plan(&desired(), &o, PlanOptions::default());
    assert!(refused.changes.is_empty());
    assert_eq!(refused.refusals.len(), 1);
    let m = &refused.refusals[0].message;
    assert!(m.contains("resetting segment.ms of topic orders.placed.v1 to the cluster default"), "{m}");
    assert!(m.contains("--allow-delete"), "{m}");

    let allowed = plan(&desired(), &o, allow());
    let reset = Action::UpdateTopicConfigs {
        topic: "orders.placed.v1".into(),
        changes: vec![ConfigDelta { key: "segment.ms".into(), old: Some("3600000".into()), new: None }],
    };
    assert_eq!(actions(&allowed), vec![&reset]);
    assert!(reset.is_destructive());

    let skipped = plan(&desired(), &o, PlanOptions { deletes: DeletePolicy::Skip, ..Default::default() });
    assert!(skipped.is_empty());
    assert_eq!(skipped.skipped[0].action, reset);
}

#[test]
fn the_stage_must_allow_deletes_too() {
    let mut d = desired();
    d.allow_delete = false;
    let mut o = in_sync();
    o.topics.insert(
        "orders.old.v1".into(),
        ObservedTopic { partitions: 1, replication_factor: 3, ..Default::default() },
    );
    let p = plan(&d, &o, allow());
    assert!(p.changes.is_empty());
    assert_eq!(p.refusals[0].subject, "topic orders.old.v1");
    assert!(p.refusals[0].message.contains("stage dev does not allow deletes"), "{}", p.refusals[0].message);
}

#[test]
fn partitions_only_grow() {
    let mut o = in_sync();
    topic_mut(&mut o, "orders.placed.v1").partitions = 1;
    let p = plan(&desired(), &o, PlanOptions::default());
    assert_eq!(
        actions(&p),
        vec![&Action::IncreasePartitions { topic: "orders.placed.v1".into(), from: 1, to: 3 }]
    );
    assert_eq!(p.changes[0].reason, "3 partitions declared, 1 on the cluster");

    topic_mut(&mut o, "orders.placed.v1").partitions = 6;
    let p = plan(&desired(), &o, allow());
    assert!(p.changes.is_empty());
    assert_eq!(p.refusals.len(), 1);
    assert!(p.refusals[0].message.contains("Kafka cannot remove partitions"), "{}", p.refusals[0].message);
}

#[test]
fn a_replication_factor_change_is_refused_as_a_reassignment_and_other_changes_are_still_planned() {
    let mut o = in_sync();
    let t = topic_mut(&mut o, "orders.placed.v1");
    t.replication_factor = 2;
    t.configs.clear();
    let p = plan(&desired(), &o, allow());
    assert_eq!(p.refusals.len(), 1);
    assert_eq!(p.refusals[0].subject, "topic orders.placed.v1");
    assert!(p.refusals[0].message.contains("partition reassignment"), "{}", p.refusals[0].message);
    assert!(matches!(actions(&p)[..], [Action::UpdateTopicConfigs { .. }]));
    assert!(p.is_refused());
}

#[test]
fn only_managed_topics_that_are_no_longer_declared_are_deleted() {
    let mut o = in_sync();
    for name in ["orders.old.v1", "legacy.orders", "orders", "ordersx.y"] {
        o.topics.insert(
            name.into(),
            ObservedTopic { partitions: 1, replication_factor: 1, ..Default::default() },
        );
    }
    let p = plan(&desired(), &o, allow());
    assert_eq!(actions(&p), vec![&Action::DeleteTopic { topic: "orders.old.v1".into() }]);
    assert_eq!(p.summary().topics_to_delete, 1);

    let refused = plan(&desired(), &o, PlanOptions::default());
    assert!(refused.changes.is_empty());
    assert_eq!(refused.refusals.len(), 1);
    assert!(refused.refusals[0].message.starts_with(
        "deleting topic orders.old.v1 (under a managed prefix and no longer declared) is refused"
    ));
}

#[test]
fn internal_topics_are_neither_created_nor_deleted() {
    let mut d = desired();
    d.managed_topic_prefixes.push("_".into());
    d.topics.push(kafka_platform_core::desired::DesiredTopic {
        name: "__consumer_offsets".into(),
        project: "orders".into(),
        partitions: 1,
        replication_factor: 1,
        configs: Default::default(),
    });
    let mut o = in_sync();
    o.topics.insert(
        "_schemas".into(),
        ObservedTopic { partitions: 1, replication_factor: 3, ..Default::default() },
    );
    let p = plan(&d, &o, allow());
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
    assert_eq!(p.refusals.len(), 1);
    assert_eq!(p.refusals[0].subject, "topic __consumer_offsets");
}

#[test]
fn missing_acls_are_created_and_owned_undeclared_ones_deleted_without_any_flag() {
    let mut o = in_sync();
    let declared_read = acl("User:orders-audit", ResourceType::Topic, "orders.placed.v1", AclOperation::Read);
    o.acls.remove(&declared_read);
    let stale_of_managed_principal =
        acl("User:orders-app", ResourceType::Topic, "legacy.orders", AclOperation::Read);
    let stale_on_managed_topic =
        acl("User:someone", ResourceType::Topic, "orders.placed.v1", AclOperation::Read);
    o.acls.insert(stale_of_managed_principal.clone());
    o.acls.insert(stale_on_managed_topic.clone());
    let p = plan(&desired(), &o, PlanOptions::default());
    assert!(!p.is_refused());
    assert_eq!(
        actions(&p),
        vec![
            &Action::CreateAcl { acl: declared_read },
            &Action::DeleteAcl { acl: stale_of_managed_principal },
            &Action::DeleteAcl { acl: stale_on_managed_topic },
        ]
    );
}

#[test]
fn unowned_deny_and_internal_topic_acls_are_left_alone() {
    let mut o = in_sync();
    o.acls.insert(acl("User:someone", ResourceType::Topic, "legacy.orders", AclOperation::Read));
    o.acls.insert(acl("User:someone", ResourceType::Group, "orders.group", AclOperation::Read));
    o.acls.insert(acl("User:orders-app", ResourceType::Topic, "__consumer_offsets", AclOperation::Read));
    let mut deny = acl("User:orders-app", ResourceType::Topic, "orders.placed.v1", AclOperation::Read);
    deny.permission = AclPermission::Deny;
    o.acls.insert(deny);
    let p = plan(&desired(), &o, allow());
    assert!(p.is_empty(), "{:#?}", p.changes);
}

#[test]
fn declared_platform_bindings_on_internal_topics_are_created_but_never_deleted() {
    let mut d = desired();
    d.acls.push(declared_acl("User:schema-registry", "_schemas", Op::Read));
    let mut o = in_sync();
    let extra = acl("User:schema-registry", ResourceType::Topic, "_schemas", AclOperation::Write);
    o.acls.insert(extra);
    let p = plan(&d, &o, allow());
    assert_eq!(
        actions(&p),
        vec![&Action::CreateAcl {
            acl: acl("User:schema-registry", ResourceType::Topic, "_schemas", AclOperation::Read)
        }]
    );
}

#[test]
fn scram_credentials_are_written_when_missing_or_when_a_sync_is_asked_for() {
    let mut o = in_sync();
    assert!(plan(&desired(), &o, PlanOptions::default()).is_empty());
    let all = plan(&desired(), &o, PlanOptions { scram: ScramSync::All, ..Default::default() });
    assert_eq!(all.summary().scram_credentials_to_upsert, 1, "mTLS accounts have no SCRAM credential");

    o.scram_users.insert("orders-app".into(), vec![ScramMechanism::Sha256]);
    let p = plan(&desired(), &o, PlanOptions::default());
    assert!(matches!(actions(&p)[..], [Action::UpsertScramCredential { user, .. }] if user == "orders-app"));
}

#[test]
fn deletes_come_last_in_apply_order() {
    let mut d = desired();
    d.topics[0].partitions = 4;
    d.topics.push(kafka_platform_core::desired::DesiredTopic {
        name: "orders.new.v1".into(),
        project: "orders".into(),
        partitions: 1,
        replication_factor: 3,
        configs: Default::default(),
    });
    let mut o = in_sync();
    o.topics.insert(
        "orders.old.v1".into(),
        ObservedTopic { partitions: 1, replication_factor: 3, ..Default::default() },
    );
    o.acls.insert(acl("User:orders-app", ResourceType::Topic, "orders.old.v1", AclOperation::Write));
    d.acls.push(declared_acl("User:orders-app", "orders.new.v1", Op::Write));
    let p = plan(&d, &o, allow());
    let kinds: Vec<u8> = p.changes.iter().map(|c| c.action.rank()).collect();
    assert_eq!(kinds, vec![0, 1, 4, 7, 8], "{:#?}", p.changes);
}

#[test]
fn plans_serialise_with_typed_actions() {
    let p = plan(&desired(), &ObservedState::default(), PlanOptions::default());
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["changes"][0]["action"], "create_topic");
    assert_eq!(json["changes"][0]["topic"], "orders.placed.v1");
    let acl = &json["changes"][2];
    assert_eq!(acl["action"], "create_acl");
    assert_eq!(acl["acl"]["principal"], "User:orders-app");
    assert_eq!(acl["acl"]["operation"], "WRITE");
}

/// A SCRAM account with both rotation users, as rendered desired states have it.
fn rotating() -> (DesiredState, ObservedState) {
    let mut d = desired();
    d.acls.clear();
    d.topics.clear();
    d.service_accounts.retain(|a| a.name == "orders-app");
    d.service_accounts[0].scram_users = vec!["orders-app".into(), "orders-app.alt".into()];
    d.rotation_overlap_hours = 2;
    (d, ObservedState::default())
}

fn stored(
    o: &mut ObservedState,
    user: &str,
    generation: u64,
    rotated_at: Option<u64>,
    pending: Option<(&str, u64)>,
) {
    o.credentials.insert(
        "orders-app".into(),
        ObservedCredential {
            username: user.into(),
            generation,
            rotated_at,
            pending: pending.map(|(u, g)| (u.to_string(), g)),
        },
    );
}

fn in_kafka(o: &mut ObservedState, user: &str, generation: u64) {
    o.scram_users.insert(user.into(), vec![ScramMechanism::Sha512]);
    o.scram_iterations.insert(user.into(), kafka_platform_core::credential::scram_iterations(generation));
}

fn at(now: u64) -> PlanOptions {
    PlanOptions { now, ..PlanOptions::default() }
}

#[test]
fn a_rotation_writes_the_pending_user_then_publishes_it_then_drops_the_previous_after_the_overlap() {
    let (d, mut o) = rotating();
    in_kafka(&mut o, "orders-app", 1);
    stored(&mut o, "orders-app", 1, None, None);
    assert!(plan(&d, &o, at(0)).is_empty(), "generation 1 in Kafka: nothing to do");

    // Rotated: generation 2 pending for the alternate user.
    stored(&mut o, "orders-app", 1, None, Some(("orders-app.alt", 2)));
    let p = plan(&d, &o, at(100));
    assert!(
        matches!(&actions(&p)[..], [
        Action::UpsertScramCredential { user, generation: Some(2), .. },
        Action::PromoteCredential { user: promoted, generation: 2, .. },
    ] if user == "orders-app.alt" && promoted == "orders-app.alt"),
        "{p:#?}"
    );

    // Written and published at 100: the previous user stays for 2 hours, then goes.
    in_kafka(&mut o, "orders-app.alt", 2);
    stored(&mut o, "orders-app.alt", 2, Some(100), None);
    assert!(plan(&d, &o, at(100 + 7199)).is_empty(), "within the overlap");
    let p = plan(&d, &o, at(100 + 7200));
    assert!(
        matches!(&actions(&p)[..], [Action::DeleteScramCredential { user, .. }] if user == "orders-app"),
        "{p:#?}"
    );
    let s = p.summary();
    assert_eq!((s.scram_credentials_to_delete, s.credentials_to_promote), (1, 0));
}

#[test]
fn a_user_holding_an_older_generation_is_rewritten_and_a_stale_previous_user_goes_at_once() {
    let (d, mut o) = rotating();
    // Generation 3 pending for `orders-app`, which still holds generation 1 (never deleted).
    in_kafka(&mut o, "orders-app", 1);
    in_kafka(&mut o, "orders-app.alt", 2);
    stored(&mut o, "orders-app.alt", 2, Some(50), Some(("orders-app", 3)));
    let p = plan(&d, &o, at(60));
    assert!(
        matches!(&actions(&p)[..], [
        Action::UpsertScramCredential { user, generation: Some(3), .. }, Action::PromoteCredential { .. },
    ] if user == "orders-app"),
        "{p:#?}"
    );
    assert!(p.changes[0].reason.contains("holds another generation"), "{}", p.changes[0].reason);

    // Current generation 3 on `orders-app`; `.alt` holds generation 1, not the previous one.
    let mut o = rotating().1;
    in_kafka(&mut o, "orders-app", 3);
    in_kafka(&mut o, "orders-app.alt", 1);
    stored(&mut o, "orders-app", 3, Some(50), None);
    let p = plan(&d, &o, at(60));
    assert!(
        matches!(&actions(&p)[..], [Action::DeleteScramCredential { user, .. }] if user == "orders-app.alt"),
        "{p:#?}"
    );
}
