use std::collections::{BTreeMap, BTreeSet};

use kafka_platform_core::config::project::Compatibility;
use kafka_platform_core::desired::{DesiredState, DesiredSubject};
use kafka_platform_core::model::{SchemaType, SubjectReference};

use super::*;
use crate::registry::{CompatibilityCheck, ObservedRegistry, ObservedSubject};

fn subject(name: &str, references: &[&str]) -> DesiredSubject {
    DesiredSubject {
        subject: name.into(),
        project: "orders".into(),
        schema_type: SchemaType::Avro,
        schema: r#"{"type":"string"}"#.into(),
        references: references
            .iter()
            .map(|r| SubjectReference { name: format!("x.{r}"), subject: (*r).to_string() })
            .collect(),
        compatibility: Compatibility::Backward,
    }
}

fn desired(subjects: Vec<DesiredSubject>) -> DesiredState {
    let mut d = crate::testkit::desired();
    d.managed_topic_prefixes = vec!["orders.".into()];
    d.allow_delete = true;
    d.subjects = subjects;
    d
}

fn seen(latest: Option<u32>, registered: Option<u32>, check: CompatibilityCheck) -> ObservedSubject {
    ObservedSubject {
        latest_version: latest,
        registered_version: registered,
        compatibility: Some(Compatibility::Backward),
        check,
        reference_versions: BTreeMap::new(),
    }
}

fn observed(subjects: &[(&str, ObservedSubject)]) -> ObservedRegistry {
    ObservedRegistry {
        subjects: subjects.iter().map(|(n, s)| (n.to_string(), s.clone())).collect(),
        live: subjects
            .iter()
            .filter(|(_, s)| s.latest_version.is_some())
            .map(|(n, _)| n.to_string())
            .collect(),
        ..ObservedRegistry::default()
    }
}

#[test]
fn new_subjects_are_registered_references_first_and_registered_ones_are_left_alone() {
    let d = desired(vec![subject("orders.Money", &[]), subject("orders.placed.v1-value", &["orders.Money"])]);
    let o = observed(&[
        ("orders.Money", seen(None, None, CompatibilityCheck::NotChecked)),
        ("orders.placed.v1-value", seen(None, None, CompatibilityCheck::NotChecked)),
    ]);
    let p = plan_subjects(&d, &o, DeletePolicy::Refuse);
    let subjects: Vec<&str> = p.changes.iter().map(|c| c.action.subject()).collect();
    assert_eq!(subjects, ["orders.Money", "orders.placed.v1-value"], "{p:?}");
    match &p.changes[1].action {
        SubjectAction::RegisterSchema { version, references, .. } => {
            assert_eq!(*version, 1);
            assert_eq!(references[0].version, None, "resolved at apply, after the reference");
        }
        other => panic!("{other:?}"),
    }
    let done = observed(&[
        ("orders.Money", seen(Some(1), Some(1), CompatibilityCheck::NotChecked)),
        ("orders.placed.v1-value", seen(Some(1), Some(1), CompatibilityCheck::NotChecked)),
    ]);
    assert!(plan_subjects(&d, &done, DeletePolicy::Refuse).is_empty());
}

#[test]
fn an_incompatible_schema_is_refused_naming_the_subject_and_the_registry_reason() {
    let d = desired(vec![subject("orders.placed.v1-value", &[])]);
    let o = observed(&[(
        "orders.placed.v1-value",
        seen(
            Some(3),
            None,
            CompatibilityCheck::Incompatible(vec!["READER_FIELD_MISSING_DEFAULT_VALUE b".into()]),
        ),
    )]);
    let p = plan_subjects(&d, &o, DeletePolicy::Refuse);
    assert!(p.changes.is_empty());
    assert_eq!(p.refusals.len(), 1);
    assert_eq!(p.refusals[0].subject, "subject orders.placed.v1-value");
    let m = &p.refusals[0].message;
    assert!(m.contains("version 3") && m.contains("BACKWARD") && m.contains("READER_FIELD_MISSING"), "{m}");

    let compatible =
        observed(&[("orders.placed.v1-value", seen(Some(3), None, CompatibilityCheck::Compatible))]);
    let p = plan_subjects(&d, &compatible, DeletePolicy::Refuse);
    assert!(matches!(p.changes[0].action, SubjectAction::RegisterSchema { version: 4, .. }), "{p:?}");
}

#[test]
fn a_level_change_is_set_before_the_schema_and_lets_the_registry_check_again() {
    let mut s = subject("orders.placed.v1-value", &[]);
    s.compatibility = Compatibility::None;
    let d = desired(vec![s]);
    let o = observed(&[(
        "orders.placed.v1-value",
        seen(Some(1), None, CompatibilityCheck::Incompatible(vec![])),
    )]);
    let p = plan_subjects(&d, &o, DeletePolicy::Refuse);
    assert!(p.refusals.is_empty(), "{p:?}");
    assert!(matches!(
        p.changes[0].action,
        SubjectAction::SetCompatibility { from: Some(Compatibility::Backward), to: Compatibility::None, .. }
    ));
    assert!(matches!(p.changes[1].action, SubjectAction::RegisterSchema { .. }));
    assert!(render_text(&p).contains("~ compatibility orders.placed.v1-value: BACKWARD -> NONE"));
}

#[test]
fn undeclared_managed_subjects_are_deleted_only_with_the_flags_soft_then_hard() {
    let d = desired(vec![]);
    let o = ObservedRegistry {
        live: BTreeSet::from(["orders.old-value".to_string(), "other.team-value".to_string()]),
        soft_deleted: BTreeSet::from(["orders.older-value".to_string()]),
        ..ObservedRegistry::default()
    };
    let refused = plan_subjects(&d, &o, DeletePolicy::Refuse);
    assert!(refused.changes.is_empty());
    assert_eq!(refused.refusals.len(), 2, "{refused:?}");
    assert!(refused.refusals[0].message.contains("--allow-delete"));

    let allowed = plan_subjects(&d, &o, DeletePolicy::Allow);
    let actions: Vec<_> = allowed.changes.iter().map(|c| c.action.clone()).collect();
    assert_eq!(
        actions,
        [
            SubjectAction::DeleteSubject { subject: "orders.old-value".into(), permanent: false },
            SubjectAction::DeleteSubject { subject: "orders.older-value".into(), permanent: true },
        ]
    );
    let mut stage_forbids = d.clone();
    stage_forbids.allow_delete = false;
    assert_eq!(plan_subjects(&stage_forbids, &o, DeletePolicy::Allow).refusals.len(), 2);
    let skipped = plan_subjects(&d, &o, DeletePolicy::Skip);
    assert_eq!((skipped.changes.len(), skipped.skipped.len()), (0, 2));

    let capped = ObservedRegistry { listing_capped: true, ..o };
    let p = plan_subjects(&d, &capped, DeletePolicy::Allow);
    assert!(p.changes.is_empty() && p.refusals[0].message.contains("cap of 1000"), "{p:?}");
}
