//! Schema Registry subjects, in the reconciler's shape: a pure plan from the desired state and
//! the observed registry ([`crate::registry::observe_registry`]), its text, and its apply.
//!
//! - A schema the registry finds incompatible is refused in the plan, with the registry's reason.
//! - Subjects are registered in the desired state's order (references first); the level of a
//!   subject is set before its schema is registered, so the registry checks under the new level.
//! - Only subjects under the managed prefixes are deleted, and only with the delete policy that
//!   deletes topics: a live subject is soft-deleted, a soft-deleted one permanently (the next run).
//! - Applying is idempotent: registering a registered schema changes nothing, and the next plan
//!   is empty.

use std::collections::BTreeMap;

use kafka_platform_core::config::project::Compatibility;
use kafka_platform_core::desired::{DesiredState, DesiredSubject};
use kafka_platform_core::model::SchemaType;
use serde::Serialize;

use crate::plan::{DeletePolicy, Refusal};
use crate::registry::{CompatibilityCheck, ObservedRegistry, RegistryClient, schema_body};

/// A reference with its version: None when the referenced schema is registered earlier in the
/// same apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedReference {
    /// Name the schema uses.
    pub name: String,
    /// Subject holding it.
    pub subject: String,
    /// Version, when registered already.
    pub version: Option<u32>,
}

/// A change to the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SubjectAction {
    /// Set the subject's compatibility level.
    SetCompatibility {
        /// Subject.
        subject: String,
        /// Effective level now.
        from: Option<Compatibility>,
        /// Declared level.
        to: Compatibility,
    },
    /// Register the declared schema as the subject's next version.
    RegisterSchema {
        /// Subject.
        subject: String,
        /// The version it becomes (the registry numbers them).
        version: u32,
        /// AVRO, JSON or PROTOBUF.
        schema_type: SchemaType,
        /// Schema text.
        schema: String,
        /// References.
        references: Vec<PlannedReference>,
    },
    /// Delete a subject: soft, or permanently after an earlier soft delete.
    DeleteSubject {
        /// Subject.
        subject: String,
        /// Permanent (hard) delete.
        permanent: bool,
    },
}

impl SubjectAction {
    /// The subject the action is about.
    pub fn subject(&self) -> &str {
        match self {
            SubjectAction::SetCompatibility { subject, .. }
            | SubjectAction::RegisterSchema { subject, .. }
            | SubjectAction::DeleteSubject { subject, .. } => subject,
        }
    }
}

/// An action with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectChange {
    /// What to do.
    #[serde(flatten)]
    pub action: SubjectAction,
    /// Why.
    pub reason: String,
}

/// What to change in the registry, in apply order, and what is refused or skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubjectPlan {
    /// Changes in apply order.
    pub changes: Vec<SubjectChange>,
    /// Refusals (incompatible schemas, deletes without the flags); the plan cannot be applied.
    pub refusals: Vec<Refusal>,
    /// Deletes left undone under [`DeletePolicy::Skip`].
    pub skipped: Vec<SubjectChange>,
}

impl SubjectPlan {
    /// Nothing to do and nothing refused.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.refusals.is_empty()
    }

    /// Anything refused.
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }
}

/// Compares the declared subjects with the registry. Pure.
pub fn plan_subjects(
    desired: &DesiredState,
    observed: &ObservedRegistry,
    deletes: DeletePolicy,
) -> SubjectPlan {
    let mut plan = SubjectPlan::default();
    for subject in &desired.subjects {
        let name = subject.subject.as_str();
        let Some(seen) = observed.subjects.get(name) else {
            plan.refusals.push(Refusal {
                subject: format!("subject {name}"),
                message: "not observed in the registry (observe and plan from the same desired state)".into(),
            });
            continue;
        };
        if seen.compatibility != Some(subject.compatibility) {
            plan.changes.push(SubjectChange {
                action: SubjectAction::SetCompatibility {
                    subject: name.to_string(),
                    from: seen.compatibility,
                    to: subject.compatibility,
                },
                reason: format!("compatibility {} declared", subject.compatibility.api_name()),
            });
        }
        if seen.registered_version.is_some() {
            continue;
        }
        let level_changes = seen.compatibility != Some(subject.compatibility);
        if let CompatibilityCheck::Incompatible(messages) = &seen.check {
            let current = seen.compatibility.map_or("its current level".to_string(), |c| c.api_name());
            if !level_changes {
                plan.refusals.push(Refusal {
                    subject: format!("subject {name}"),
                    message: incompatible_message(name, seen.latest_version, &current, messages),
                });
                continue;
            }
        }
        let version = seen.latest_version.map_or(1, |v| v + 1);
        let references = subject
            .references
            .iter()
            .map(|r| PlannedReference {
                name: r.name.clone(),
                subject: r.subject.clone(),
                version: seen.reference_versions.get(&r.subject).copied(),
            })
            .collect();
        let reason = register_reason(subject, seen.latest_version, &seen.check, level_changes);
        plan.changes.push(SubjectChange {
            action: SubjectAction::RegisterSchema {
                subject: name.to_string(),
                version,
                schema_type: subject.schema_type,
                schema: subject.schema.clone(),
                references,
            },
            reason,
        });
    }
    plan_deletes(desired, observed, deletes, &mut plan);
    plan
}

fn incompatible_message(subject: &str, latest: Option<u32>, level: &str, messages: &[String]) -> String {
    let why = if messages.is_empty() {
        "the registry gives no detail".to_string()
    } else {
        messages.iter().map(|m| m.lines().next().unwrap_or(m)).collect::<Vec<_>>().join("; ")
    };
    format!(
        "the declared schema is incompatible with version {} of {subject} under {level} ({why}): the \
         registry would refuse it (409). Make the change compatible, or declare a new topic version",
        latest.unwrap_or_default()
    )
}

fn register_reason(
    subject: &DesiredSubject,
    latest: Option<u32>,
    check: &CompatibilityCheck,
    level_changes: bool,
) -> String {
    match (latest, check) {
        (None, _) => format!("declared by project {}, not in the registry", subject.project),
        (Some(v), CompatibilityCheck::Compatible) => {
            format!("declared schema differs from version {v}; compatible")
        }
        (Some(v), CompatibilityCheck::Incompatible(_)) if level_changes => format!(
            "declared schema differs from version {v}; incompatible under the current level, checked again under {} when registered",
            subject.compatibility.api_name()
        ),
        (Some(v), CompatibilityCheck::Unavailable(why)) => format!(
            "declared schema differs from version {v}; the registry could not check it in advance ({why}), it checks when registering"
        ),
        (Some(v), _) => {
            format!("declared schema differs from version {v}; checked when registered, after its references")
        }
    }
}

/// Managed subjects that are no longer declared: soft, then hard delete.
fn plan_deletes(
    desired: &DesiredState,
    observed: &ObservedRegistry,
    deletes: DeletePolicy,
    plan: &mut SubjectPlan,
) {
    let managed = |s: &str| desired.managed_topic_prefixes.iter().any(|p| s.starts_with(p.as_str()));
    let declared = |s: &str| desired.subjects.iter().any(|d| d.subject == s);
    let candidates = observed
        .live
        .iter()
        .map(|s| (s, false))
        .chain(observed.soft_deleted.iter().map(|s| (s, true)))
        .filter(|(s, _)| managed(s) && !declared(s));
    for (subject, permanent) in candidates {
        let change = SubjectChange {
            action: SubjectAction::DeleteSubject { subject: subject.clone(), permanent },
            reason: if permanent {
                "soft-deleted earlier and no longer declared".into()
            } else {
                "under a managed prefix and no longer declared".into()
            },
        };
        let kind = if permanent { "permanently deleting" } else { "deleting" };
        let refuse = |why: &str| Refusal {
            subject: format!("subject {subject}"),
            message: format!("{kind} subject {subject} ({}) is refused: {why}", change.reason),
        };
        if observed.listing_capped {
            plan.refusals.push(refuse(&format!(
                "the registry's subject listing reached its cap of {} entries, so what is declared elsewhere cannot be told apart",
                crate::registry::LISTING_CAP
            )));
            continue;
        }
        match deletes {
            DeletePolicy::Allow if desired.allow_delete => plan.changes.push(change),
            DeletePolicy::Allow => plan.refusals.push(refuse(&format!(
                "stage {} does not allow deletes (reconciler.allow_delete is false in its stage file)",
                desired.stage
            ))),
            DeletePolicy::Refuse => plan.refusals.push(refuse(
                "deletes were not allowed for this run (pass --allow-delete; the stage must also set reconciler.allow_delete: true)",
            )),
            DeletePolicy::Skip => plan.skipped.push(change),
        }
    }
}

/// The plan as text lines, `+` register, `~` compatibility, `-` delete, `!` refused.
pub fn render_text(plan: &SubjectPlan) -> String {
    let mut out = String::new();
    if plan.is_empty() && plan.skipped.is_empty() {
        return out;
    }
    out.push_str("Schema Registry subjects:\n");
    for c in &plan.changes {
        out.push_str(&format!("  {}\n      # {}\n", headline(&c.action), c.reason));
    }
    for c in &plan.skipped {
        out.push_str(&format!("  (skipped) {}\n", headline(&c.action)));
    }
    for r in &plan.refusals {
        out.push_str(&format!("  ! refused: {}: {}\n", r.subject, r.message));
    }
    let registers =
        plan.changes.iter().filter(|c| matches!(c.action, SubjectAction::RegisterSchema { .. })).count();
    let levels =
        plan.changes.iter().filter(|c| matches!(c.action, SubjectAction::SetCompatibility { .. })).count();
    let deletes = plan.changes.len() - registers - levels;
    out.push_str(&format!(
        "Subjects: {registers} to register, {levels} compatibility change(s), {deletes} to delete, {} refused.\n",
        plan.refusals.len()
    ));
    out
}

/// One line for an action.
pub fn headline(action: &SubjectAction) -> String {
    match action {
        SubjectAction::SetCompatibility { subject, from, to } => format!(
            "~ compatibility {subject}: {} -> {}",
            from.map_or("unknown".to_string(), |c| c.api_name()),
            to.api_name()
        ),
        SubjectAction::RegisterSchema { subject, version, schema_type, references, .. } => {
            let refs = if references.is_empty() {
                String::new()
            } else {
                format!(
                    ", references {}",
                    references.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            format!("+ register {subject} version {version} ({}{refs})", schema_type.api_name())
        }
        SubjectAction::DeleteSubject { subject, permanent: false } => {
            format!("- delete subject {subject} (soft)")
        }
        SubjectAction::DeleteSubject { subject, permanent: true } => {
            format!("- delete subject {subject} permanently (hard)")
        }
    }
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectOutcome {
    /// The change.
    #[serde(flatten)]
    pub change: SubjectChange,
    /// None when applied (or deferred), else why not.
    pub error: Option<String>,
    /// Why a delete was left for a later run: other subjects still refer to the subject.
    pub deferred: Option<String>,
}

/// Applies the plan in order; a failed change is reported and the rest go on, except that a
/// schema whose reference failed is not registered. Err when the plan is refused.
pub async fn apply_subjects(
    client: &RegistryClient,
    plan: &SubjectPlan,
) -> Result<Vec<SubjectOutcome>, String> {
    if plan.is_refused() {
        return Err(format!(
            "the subject plan has {} refused change(s); nothing applied",
            plan.refusals.len()
        ));
    }
    // Versions of schemas registered by this apply, for the references of later ones.
    let mut versions: BTreeMap<String, u32> = BTreeMap::new();
    let mut outcomes = Vec::new();
    for change in &plan.changes {
        let result = match &change.action {
            SubjectAction::SetCompatibility { subject, to, .. } => {
                client.set_compatibility(subject, *to).await.map_err(|e| e.to_string())
            }
            SubjectAction::RegisterSchema { subject, schema_type, schema, references, .. } => {
                register(client, subject, *schema_type, schema, references, &mut versions).await
            }
            SubjectAction::DeleteSubject { subject, permanent } => {
                client.delete_subject(subject, *permanent).await.map_err(|e| e.to_string())
            }
        };
        outcomes.push(SubjectOutcome { change: change.clone(), error: result.err(), deferred: None });
    }
    // A subject others refer to can only go after them (the registry answers 42206): try once
    // more after the other deletes, and otherwise leave it to a later run, which plans it again.
    for outcome in outcomes.iter_mut().filter(|o| o.error.is_some()) {
        let SubjectAction::DeleteSubject { subject, permanent } = &outcome.change.action else { continue };
        match client.delete_subject(subject, *permanent).await {
            Ok(()) => outcome.error = None,
            Err(e) if e.error_code == Some(REFERENCED) => {
                outcome.error = None;
                outcome.deferred =
                    Some(format!("other subjects still refer to {subject}; a later run deletes it"));
            }
            Err(e) => outcome.error = Some(e.to_string()),
        }
    }
    Ok(outcomes)
}

/// The registry's error code for a subject that other subjects refer to.
const REFERENCED: i64 = 42206;

async fn register(
    client: &RegistryClient,
    subject: &str,
    schema_type: SchemaType,
    schema: &str,
    references: &[PlannedReference],
    versions: &mut BTreeMap<String, u32>,
) -> Result<(), String> {
    let mut resolved = BTreeMap::new();
    for r in references {
        match r.version.or_else(|| versions.get(&r.subject).copied()) {
            Some(v) => {
                resolved.insert(r.subject.clone(), v);
            }
            None => return Err(format!("reference {} ({}) was not registered", r.name, r.subject)),
        }
    }
    let desired = DesiredSubject {
        subject: subject.to_string(),
        project: String::new(),
        schema_type,
        schema: schema.to_string(),
        references: references
            .iter()
            .map(|r| kafka_platform_core::model::SubjectReference {
                name: r.name.clone(),
                subject: r.subject.clone(),
            })
            .collect(),
        compatibility: Compatibility::None,
    };
    let body = schema_body(&desired, &resolved).expect("every reference resolved above");
    client.register(subject, &body).await.map_err(|e| e.to_string())?;
    // The registry answers with the schema id only: look the version up for later references.
    match client.lookup(subject, &body).await {
        Ok(Some(v)) => {
            versions.insert(subject.to_string(), v);
            Ok(())
        }
        Ok(None) => Err("registered, but the registry does not find it under the subject".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
