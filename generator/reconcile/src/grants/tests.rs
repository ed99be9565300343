use kafka_admin::ScramMechanism;

use super::*;
use crate::plan::{PlanOptions, plan};
use crate::testkit::{desired, in_sync};

const NOW: u64 = 1_800_000_000;

fn record(id: &str, expires_at: u64) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        stage: "dev".into(),
        project: "orders".into(),
        topics: vec!["orders.placed.v1".into()],
        write: false,
        reason: "lag investigation".into(),
        requested_by: "arn:aws:sts::111111111111:assumed-role/Dev/alice".into(),
        local_user: Some("alice".into()),
        approver: None,
        created_at: expires_at - 3600,
        expires_at,
    }
}

/// The cluster in sync with the declaration, plus the grant's identity as `gen access` leaves it.
fn with_identity(observed: &mut ObservedState, r: &GrantRecord) {
    observed.acls.extend(r.acls());
    observed.scram_users.insert(r.user(), vec![ScramMechanism::Sha512]);
}

fn grants(records: Vec<GrantRecord>) -> Option<ObservedGrants> {
    Some(ObservedGrants { prefix: "/kafka/dev/debug".into(), records })
}

#[test]
fn ttl_is_parsed_and_bounded() {
    assert_eq!(parse_ttl("2h"), Ok(7200));
    assert_eq!(parse_ttl("1h30m"), Ok(5400));
    assert_eq!(parse_ttl("5m"), Ok(300));
    assert_eq!(parse_ttl("24h"), Ok(86_400));
    for refused in ["4m", "299s", "24h1s", "25h", "0h"] {
        assert!(parse_ttl(refused).unwrap_err().contains("at most 24h"), "{refused}");
    }
    for bad in ["", "2", "2d", "h", "-1h", "99999999999999999999h"] {
        assert!(parse_ttl(bad).unwrap_err().contains("not a duration"), "{bad}");
    }
}

#[test]
fn read_grants_read_their_topics_and_their_own_groups_only() {
    let r = record("orders.0a1b2c3d", NOW);
    let acls = r.acls();
    let ops: BTreeSet<_> =
        acls.iter().map(|a| (a.resource_type, a.resource_name.as_str(), a.operation)).collect();
    assert_eq!(
        ops,
        BTreeSet::from([
            (ResourceType::Topic, "orders.placed.v1", AclOperation::Read),
            (ResourceType::Topic, "orders.placed.v1", AclOperation::Describe),
            (ResourceType::Group, "debug.orders.0a1b2c3d.", AclOperation::Read),
        ])
    );
    assert!(
        acls.iter()
            .all(|a| a.principal == "User:debug.orders.0a1b2c3d" && a.permission == AclPermission::Allow)
    );
    let write = GrantRecord { write: true, ..r };
    assert!(
        write
            .acls()
            .iter()
            .any(|a| a.operation == AclOperation::Write && a.resource_type == ResourceType::Topic)
    );
}

#[test]
fn topics_must_be_the_projects() {
    let own = vec!["orders.placed.v1".to_string(), "orders.shipped.v1".to_string()];
    assert_eq!(grant_topics(&[], "orders", &own), Ok(own.clone()));
    assert_eq!(
        grant_topics(&["orders.shipped.v1".into()], "orders", &own),
        Ok(vec!["orders.shipped.v1".into()])
    );
    let e = grant_topics(&["billing.invoice.v1".into()], "orders", &own).unwrap_err();
    assert!(e.contains("billing.invoice.v1"), "{e}");
    assert!(grant_topics(&[], "orders", &[]).is_err());
}

#[test]
fn write_in_production_like_stages_needs_a_declared_approver_other_than_the_requester() {
    let approvers = vec!["bob".to_string(), "carol".to_string()];
    let requester = vec!["alice".to_string()];
    let ask = |production_like, approver| WriteApproval {
        production_like,
        approver,
        approvers: &approvers,
        requester: &requester,
    };
    assert!(check_write(ask(false, None)).is_ok());
    assert!(check_write(ask(true, None)).unwrap_err().contains("--approver"));
    assert!(check_write(ask(true, Some("mallory"))).unwrap_err().contains("not an approver"));
    assert!(check_write(ask(true, Some("bob"))).is_ok());
    let self_approved = WriteApproval { requester: &["Bob".to_string()], ..ask(true, Some("bob")) };
    assert!(check_write(self_approved).unwrap_err().contains("second person"));
    let none = WriteApproval { approvers: &[], ..ask(true, Some("bob")) };
    assert!(check_write(none).unwrap_err().contains("none declared"));
}

#[test]
fn names_and_ids() {
    let id = new_id("orders", [0x0a, 0x1b, 0x2c, 0x3d]);
    assert_eq!(id, "orders.0a1b2c3d");
    assert!(is_valid_id(&id));
    for bad in ["orders", "orders.0A1B2C3D", "orders.0a1b2c3", "../x.0a1b2c3d", ".0a1b2c3d"] {
        assert!(!is_valid_id(bad), "{bad}");
    }
    assert_eq!(user_of(&id), "debug.orders.0a1b2c3d");
    assert!(is_debug_principal("User:debug.orders.0a1b2c3d"));
    assert!(!is_debug_principal("User:orders-app"));
    assert!(!is_debug_principal("User:debug."));
    assert_eq!(caller_name("arn:aws:sts::111111111111:assumed-role/Dev/alice"), Some("alice"));
    assert_eq!(caller_name("arn:aws:iam::111111111111:user/bob"), Some("bob"));
    assert_eq!(caller_name("arn:aws:iam::111111111111:root"), None);
    assert_eq!(utc(0), "1970-01-01 00:00");
}

#[test]
fn an_active_grant_is_no_drift_and_an_expired_one_is_its_own_change() {
    let d = desired();
    let r = record("orders.0a1b2c3d", NOW + 60);
    let mut observed = in_sync();
    with_identity(&mut observed, &r);
    observed.grants = grants(vec![r.clone()]);
    let active = plan(&d, &observed, PlanOptions { now: NOW, ..PlanOptions::default() });
    assert!(active.is_empty(), "{:?}", active.changes);

    let expired = plan(&d, &observed, PlanOptions { now: NOW + 60, ..PlanOptions::default() });
    assert_eq!(expired.changes.len(), 1, "{:?}", expired.changes);
    let Action::ExpireGrant { grant, user, acls, scram_credential, parameters } = &expired.changes[0].action
    else {
        panic!("{:?}", expired.changes)
    };
    assert_eq!(
        (grant.as_str(), user.as_str(), *scram_credential),
        ("orders.0a1b2c3d", "debug.orders.0a1b2c3d", true)
    );
    assert_eq!(acls.iter().cloned().collect::<BTreeSet<_>>(), r.acls());
    assert_eq!(
        parameters,
        &["/kafka/dev/debug/orders.0a1b2c3d/grant", "/kafka/dev/debug/orders.0a1b2c3d/credential"]
    );
    assert!(expired.changes[0].reason.contains("ended at"), "{}", expired.changes[0].reason);
    assert_eq!(expired.summary().grants_to_expire, 1);
    let text = crate::render::text(&expired);
    assert!(text.contains("- expire debug grant orders.0a1b2c3d"), "{text}");
    assert!(text.contains("1 to delete"), "{text}");
}

#[test]
fn without_grant_records_the_debug_name_space_is_left_alone() {
    let d = desired();
    let r = record("orders.0a1b2c3d", NOW + 60);
    let mut observed = in_sync();
    with_identity(&mut observed, &r);
    // SSM not read: debug ACLs on managed topics are not taken for undeclared ones.
    let unknown = plan(&d, &observed, PlanOptions { now: NOW, ..PlanOptions::default() });
    assert!(unknown.is_empty(), "{:?}", unknown.changes);
    // SSM read, no record: a leftover, removed whole.
    observed.grants = grants(Vec::new());
    let leftover = plan(&d, &observed, PlanOptions { now: NOW, ..PlanOptions::default() });
    assert_eq!(leftover.summary().grants_to_expire, 1, "{:?}", leftover.changes);
    assert_eq!(leftover.changes.len(), 1);
    assert!(leftover.changes[0].reason.contains("without a grant record"));
}

#[test]
fn an_active_grants_extra_acls_are_revoked() {
    let d = desired();
    let r = record("orders.0a1b2c3d", NOW + 60);
    let mut observed = in_sync();
    with_identity(&mut observed, &r);
    let extra = AclBinding { operation: AclOperation::Write, ..r.acls().into_iter().next().unwrap() };
    observed.acls.insert(extra.clone());
    observed.grants = grants(vec![r]);
    let p = plan(&d, &observed, PlanOptions { now: NOW, ..PlanOptions::default() });
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::DeleteAcl { acl: extra });
}
