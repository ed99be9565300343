//! The pure diff: desired state + observed cluster -> a [`Plan`] of typed actions with reasons,
//! and refusals for what the reconciler will not do.

use std::collections::{BTreeMap, BTreeSet};

use kafka_admin::{AclBinding, ScramMechanism};
use kafka_platform_core::config::project::Authentication;
use kafka_platform_core::credential::scram_iterations;
use kafka_platform_core::desired::DesiredState;
use serde::Serialize;

use crate::ownership::{Ownership, binding_of, is_internal_topic};

/// The parts of a cluster the reconciler compares (see [`crate::observe`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedState {
    /// Topics under the managed prefixes or declared, by name.
    pub topics: BTreeMap<String, ObservedTopic>,
    /// Every ACL binding on the cluster; ownership is decided by the plan.
    pub acls: BTreeSet<AclBinding>,
    /// SCRAM mechanisms per user that has credentials.
    pub scram_users: BTreeMap<String, Vec<ScramMechanism>>,
    /// Iteration count of each user's SCRAM-SHA-512 credential: it tells which generation of a
    /// rotating account the user holds ([`kafka_platform_core::credential::scram_iterations`]).
    pub scram_iterations: BTreeMap<String, i32>,
    /// What the SCRAM accounts' parameters say, by account (see [`crate::PasswordSource::credentials`]);
    /// an account without an entry is treated as one user with an unknown generation.
    pub credentials: BTreeMap<String, ObservedCredential>,
    /// Debug access grants from SSM ([`crate::grants`]); `None` when not read, and then nothing
    /// about debug identities is planned.
    pub grants: Option<crate::grants::ObservedGrants>,
}

/// The non-secret part of a SCRAM account's stored credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedCredential {
    /// The Kafka user clients log in as.
    pub username: String,
    /// Its generation.
    pub generation: u64,
    /// When it was promoted (Unix seconds).
    pub rotated_at: Option<u64>,
    /// The pending next generation's user and generation.
    pub pending: Option<(String, u64)>,
}

/// A topic as it is on the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedTopic {
    /// Partition count.
    pub partitions: u32,
    /// Replication factor (smallest replica count of the partitions).
    pub replication_factor: u32,
    /// Topic-level overrides only (source `DYNAMIC_TOPIC_CONFIG`); inherited values are not here.
    pub configs: BTreeMap<String, String>,
}

/// What happens to changes that can lose data (topic deletes, config resets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Report them as refusals; the plan cannot be applied (the CLI without `--allow-delete`).
    #[default]
    Refuse,
    /// Leave them undone and list them as skipped (the Lambda when the stage forbids deletes).
    Skip,
    /// Plan them, if the stage's desired state allows deletes at all; otherwise refuse them.
    Allow,
}

/// Which SCRAM credentials to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScramSync {
    /// Only accounts without a SCRAM-SHA-512 credential (Kafka never reveals a password, so an
    /// existing credential cannot be compared; writing it every time would never converge).
    #[default]
    Missing,
    /// Every SCRAM account, e.g. after passwords were rotated in SSM.
    All,
}

/// Knobs of [`plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// Deletes and config resets.
    pub deletes: DeletePolicy,
    /// SCRAM credentials.
    pub scram: ScramSync,
    /// The time the plan is made at (Unix seconds): a rotated account's previous user keeps its
    /// credential until `rotated_at` plus the stage's overlap.
    pub now: u64,
}

/// One configuration key of a topic: `old` on the cluster (`None`: not set on the topic), `new`
/// declared (`None`: remove the override, back to the cluster default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDelta {
    /// The key, e.g. `retention.ms`.
    pub key: String,
    /// The topic-level value on the cluster.
    pub old: Option<String>,
    /// The declared value.
    pub new: Option<String>,
}

/// A change the reconciler makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a topic with its configuration.
    CreateTopic {
        /// Topic name.
        topic: String,
        /// Partitions.
        partitions: u32,
        /// Replication factor.
        replication_factor: u32,
        /// Topic-level configuration.
        configs: BTreeMap<String, String>,
    },
    /// Raise the partition count.
    IncreasePartitions {
        /// Topic name.
        topic: String,
        /// Count on the cluster.
        from: u32,
        /// Declared count.
        to: u32,
    },
    /// Set and/or remove topic-level configuration keys (one atomic change per topic).
    UpdateTopicConfigs {
        /// Topic name.
        topic: String,
        /// Changed keys, sorted.
        changes: Vec<ConfigDelta>,
    },
    /// Write a SCRAM-SHA-512 credential.
    UpsertScramCredential {
        /// User name (principal `User:<user>`).
        user: String,
        /// The service account.
        account: String,
        /// SSM parameter holding the password, when declared.
        password_parameter: Option<String>,
        /// The credential generation written (`None`: whatever the parameter holds at apply).
        generation: Option<u64>,
    },
    /// Make a rotated account's pending generation the one clients read (after it is in Kafka).
    PromoteCredential {
        /// The service account.
        account: String,
        /// Its SSM parameter.
        password_parameter: String,
        /// The pending generation.
        generation: u64,
        /// The user it logs in as.
        user: String,
    },
    /// Delete the SCRAM-SHA-512 credential of a rotated account's previous user.
    DeleteScramCredential {
        /// User name.
        user: String,
        /// The service account.
        account: String,
    },
    /// Create an ACL binding.
    CreateAcl {
        /// The binding.
        #[serde(serialize_with = "crate::render::serialize_acl")]
        acl: AclBinding,
    },
    /// Delete an ACL binding (exactly this one).
    DeleteAcl {
        /// The binding.
        #[serde(serialize_with = "crate::render::serialize_acl")]
        acl: AclBinding,
    },
    /// Remove an expired (or unrecorded) debug grant: its ACLs and SCRAM credential, then its
    /// SSM parameters (by the caller, after the apply: [`crate::grants::store::GrantStore::remove_expired`]).
    ExpireGrant {
        /// Grant id.
        grant: String,
        /// Its Kafka user, `debug.<id>`.
        user: String,
        /// Its ACL bindings on the cluster.
        #[serde(serialize_with = "crate::render::serialize_acls")]
        acls: Vec<AclBinding>,
        /// Whether the user has a SCRAM credential to delete.
        scram_credential: bool,
        /// Its record and credential parameters.
        parameters: Vec<String>,
    },
    /// Delete a topic and its data.
    DeleteTopic {
        /// Topic name.
        topic: String,
    },
}

impl Action {
    /// Whether the change can lose data (topic delete, config reset).
    pub fn is_destructive(&self) -> bool {
        match self {
            Action::DeleteTopic { .. } => true,
            Action::UpdateTopicConfigs { changes, .. } => changes.iter().any(|c| c.new.is_none()),
            _ => false,
        }
    }

    /// Apply order: topics first, then credentials and grants, revocations and deletes last.
    fn rank(&self) -> u8 {
        match self {
            Action::CreateTopic { .. } => 0,
            Action::IncreasePartitions { .. } => 1,
            Action::UpdateTopicConfigs { .. } => 2,
            Action::UpsertScramCredential { .. } => 3,
            Action::CreateAcl { .. } => 4,
            // After its credential and the ACLs of its user exist.
            Action::PromoteCredential { .. } => 5,
            Action::DeleteScramCredential { .. } => 6,
            Action::DeleteAcl { .. } | Action::ExpireGrant { .. } => 7,
            Action::DeleteTopic { .. } => 8,
        }
    }
}

/// An action with the reason it is planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// Why.
    pub reason: String,
}

/// Something the declaration asks for (or implies) that the reconciler will not do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// What it is about, e.g. `topic orders.placed.v1`.
    pub subject: String,
    /// Why, and what the operator can do.
    pub message: String,
}

/// The result of [`plan`]: what to do, in apply order, and what is refused or skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Stage of the desired state.
    pub stage: String,
    /// Changes in apply order.
    pub changes: Vec<Change>,
    /// Refused changes; a plan with any cannot be applied.
    pub refusals: Vec<Refusal>,
    /// Destructive changes left undone under [`DeletePolicy::Skip`].
    pub skipped: Vec<Change>,
}

/// Counts of a plan by kind, for summaries and the Lambda's Data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Topics to create.
    pub topics_to_create: usize,
    /// Topics whose partitions are raised.
    pub partitions_to_increase: usize,
    /// Topics whose configuration changes.
    pub topics_to_reconfigure: usize,
    /// Topics to delete.
    pub topics_to_delete: usize,
    /// ACL bindings to create.
    pub acls_to_create: usize,
    /// ACL bindings to delete.
    pub acls_to_delete: usize,
    /// SCRAM credentials to write.
    pub scram_credentials_to_upsert: usize,
    /// Rotated credentials to publish to clients.
    pub credentials_to_promote: usize,
    /// Previous users' SCRAM credentials to delete (their overlap ended).
    pub scram_credentials_to_delete: usize,
    /// Debug grants to remove (expired, or without a record).
    pub grants_to_expire: usize,
    /// Refusals.
    pub refused: usize,
    /// Skipped destructive changes.
    pub skipped: usize,
}

impl Plan {
    /// Whether there is nothing to do and nothing refused.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.refusals.is_empty()
    }

    /// Whether anything is refused (the plan must not be applied).
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    /// Counts by kind.
    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary {
            refused: self.refusals.len(),
            skipped: self.skipped.len(),
            ..PlanSummary::default()
        };
        for c in &self.changes {
            match c.action {
                Action::CreateTopic { .. } => s.topics_to_create += 1,
                Action::IncreasePartitions { .. } => s.partitions_to_increase += 1,
                Action::UpdateTopicConfigs { .. } => s.topics_to_reconfigure += 1,
                Action::DeleteTopic { .. } => s.topics_to_delete += 1,
                Action::CreateAcl { .. } => s.acls_to_create += 1,
                Action::DeleteAcl { .. } => s.acls_to_delete += 1,
                Action::UpsertScramCredential { .. } => s.scram_credentials_to_upsert += 1,
                Action::PromoteCredential { .. } => s.credentials_to_promote += 1,
                Action::DeleteScramCredential { .. } => s.scram_credentials_to_delete += 1,
                Action::ExpireGrant { .. } => s.grants_to_expire += 1,
            }
        }
        s
    }
}

/// Compares the desired state with the cluster. Pure: no I/O, deterministic order.
pub fn plan(desired: &DesiredState, observed: &ObservedState, options: PlanOptions) -> Plan {
    let mut builder = Builder::new(desired, options);
    let owner = Ownership::of(desired);
    plan_topics(desired, observed, &owner, &mut builder);
    plan_scram(desired, observed, options, &mut builder);
    plan_acls(desired, observed, &owner, &mut builder);
    for (action, reason) in crate::grants::plan_grants(observed.grants.as_ref(), observed, options.now) {
        builder.add(action, reason);
    }
    builder.finish()
}

/// Collects changes and sorts destructive ones by the delete policy.
struct Builder {
    stage: String,
    changes: Vec<Change>,
    refusals: Vec<Refusal>,
    skipped: Vec<Change>,
    /// `None` when destructive changes may be planned, else what to do and why not.
    delete_block: Option<(DeletePolicy, String)>,
}

impl Builder {
    fn new(desired: &DesiredState, options: PlanOptions) -> Self {
        let delete_block = match options.deletes {
            DeletePolicy::Allow if desired.allow_delete => None,
            DeletePolicy::Allow => Some((
                DeletePolicy::Refuse,
                format!(
                    "stage {} does not allow deletes (reconciler.allow_delete is false in its stage file)",
                    desired.stage
                ),
            )),
            DeletePolicy::Refuse => Some((
                DeletePolicy::Refuse,
                "deletes were not allowed for this run (pass --allow-delete; the stage must also set \
                 reconciler.allow_delete: true)"
                    .to_string(),
            )),
            DeletePolicy::Skip => Some((DeletePolicy::Skip, String::new())),
        };
        Builder {
            stage: desired.stage.clone(),
            changes: Vec::new(),
            refusals: Vec::new(),
            skipped: Vec::new(),
            delete_block,
        }
    }

    fn add(&mut self, action: Action, reason: impl Into<String>) {
        self.changes.push(Change { action, reason: reason.into() });
    }

    fn refuse(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.refusals.push(Refusal { subject: subject.into(), message: message.into() });
    }

    /// A change that can lose data: planned, refused or skipped by the policy.
    fn destructive(&mut self, subject: String, what: String, action: Action, reason: String) {
        match &self.delete_block {
            None => self.add(action, reason),
            Some((DeletePolicy::Skip, _)) => self.skipped.push(Change { action, reason }),
            Some((_, why)) => {
                let message = format!("{what} ({reason}) is refused: {why}");
                self.refuse(subject, message);
            }
        }
    }

    fn finish(mut self) -> Plan {
        // Stable sort: within a kind the order of planning (by name) is kept.
        self.changes.sort_by_key(|c| c.action.rank());
        Plan { stage: self.stage, changes: self.changes, refusals: self.refusals, skipped: self.skipped }
    }
}

fn plan_topics(desired: &DesiredState, observed: &ObservedState, owner: &Ownership, b: &mut Builder) {
    let mut declared = BTreeSet::new();
    for topic in &desired.topics {
        let subject = format!("topic {}", topic.name);
        if is_internal_topic(&topic.name) {
            b.refuse(subject, "names starting with `_` are internal to Kafka and its components; the reconciler never manages them");
            continue;
        }
        declared.insert(topic.name.as_str());
        let Some(actual) = observed.topics.get(&topic.name) else {
            b.add(
                Action::CreateTopic {
                    topic: topic.name.clone(),
                    partitions: topic.partitions,
                    replication_factor: topic.replication_factor,
                    configs: topic.configs.clone(),
                },
                format!("declared by project {}, not on the cluster", topic.project),
            );
            continue;
        };
        if actual.replication_factor != topic.replication_factor {
            b.refuse(
                subject.clone(),
                format!(
                    "replication factor is {} on the cluster but {} is declared: changing it is a partition \
                     reassignment (kafka-reassign-partitions) that the operator must plan and run; the \
                     reconciler never moves replicas. Declare {} again to go on",
                    actual.replication_factor, topic.replication_factor, actual.replication_factor
                ),
            );
        }
        if topic.partitions > actual.partitions {
            b.add(
                Action::IncreasePartitions {
                    topic: topic.name.clone(),
                    from: actual.partitions,
                    to: topic.partitions,
                },
                format!("{} partitions declared, {} on the cluster", topic.partitions, actual.partitions),
            );
        } else if topic.partitions < actual.partitions {
            b.refuse(
                subject.clone(),
                format!(
                    "{} partitions declared but the topic has {}: Kafka cannot remove partitions. Declare {} \
                     again, or create a new topic and migrate",
                    topic.partitions, actual.partitions, actual.partitions
                ),
            );
        }
        plan_configs(&topic.name, &topic.configs, &actual.configs, b);
    }
    for name in observed.topics.keys() {
        if declared.contains(name.as_str()) || !owner.is_managed_topic_name(name) {
            continue;
        }
        b.destructive(
            format!("topic {name}"),
            format!("deleting topic {name}"),
            Action::DeleteTopic { topic: name.clone() },
            "under a managed prefix and no longer declared".into(),
        );
    }
}

/// Declared keys are set; overrides on the topic that are not declared are removed (the
/// declaration is the whole truth of a managed topic), which is destructive because it can, for
/// instance, shorten retention.
fn plan_configs(
    topic: &str,
    declared: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
    b: &mut Builder,
) {
    let sets: Vec<ConfigDelta> = declared
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| ConfigDelta { key: k.clone(), old: actual.get(k).cloned(), new: Some(v.clone()) })
        .collect();
    let resets: Vec<ConfigDelta> = actual
        .iter()
        .filter(|(k, _)| !declared.contains_key(*k))
        .map(|(k, v)| ConfigDelta { key: k.clone(), old: Some(v.clone()), new: None })
        .collect();
    if !sets.is_empty() {
        b.add(
            Action::UpdateTopicConfigs { topic: topic.to_string(), changes: sets },
            "declared configuration differs from the topic's",
        );
    }
    if !resets.is_empty() {
        let keys: Vec<&str> = resets.iter().map(|d| d.key.as_str()).collect();
        b.destructive(
            format!("topic {topic}"),
            format!("resetting {} of topic {topic} to the cluster default", keys.join(", ")),
            Action::UpdateTopicConfigs { topic: topic.to_string(), changes: resets },
            "set on the topic but no longer declared".into(),
        );
    }
}

/// Per SCRAM account: the generation clients read (or the pending one) has its credential in
/// Kafka; a pending one is then promoted; the previous user's credential is deleted once the
/// overlap after the last promotion ends.
fn plan_scram(desired: &DesiredState, observed: &ObservedState, options: PlanOptions, b: &mut Builder) {
    let overlap = u64::from(desired.rotation_overlap_hours) * 3600;
    for account in desired.service_accounts.iter().filter(|a| a.authentication == Authentication::Scram) {
        let has =
            |user: &str| observed.scram_users.get(user).is_some_and(|m| m.contains(&ScramMechanism::Sha512));
        let holds = |user: &str, generation: u64| {
            observed.scram_iterations.get(user) == Some(&scram_iterations(generation))
        };
        let upsert = |user: &str, generation: Option<u64>| Action::UpsertScramCredential {
            user: user.to_string(),
            account: account.name.clone(),
            password_parameter: account.password_parameter.clone(),
            generation,
        };
        let Some(stored) = observed.credentials.get(&account.name) else {
            // Generation unknown (no SSM here): the first user, written when missing.
            let user = &account.scram_user_slots()[0];
            let reason = match (has(user), options.scram) {
                (false, _) => "SCRAM account without a SCRAM-SHA-512 credential on the cluster",
                (true, ScramSync::All) => "password sync of every SCRAM account requested",
                (true, ScramSync::Missing) => continue,
            };
            b.add(upsert(user, None), reason);
            continue;
        };
        let (user, generation) =
            stored.pending.clone().unwrap_or((stored.username.clone(), stored.generation));
        let reason = if !has(&user) {
            Some(format!("generation {generation} is not on the cluster yet"))
        } else if !holds(&user, generation) {
            Some(format!("user {user} holds another generation than {generation}"))
        } else if options.scram == ScramSync::All {
            Some("password sync of every SCRAM account requested".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            b.add(upsert(&user, Some(generation)), reason);
        }
        if stored.pending.is_some() {
            b.add(
                Action::PromoteCredential {
                    account: account.name.clone(),
                    password_parameter: account.password_parameter.clone().unwrap_or_default(),
                    generation,
                    user: user.clone(),
                },
                format!("rotated: clients get generation {generation} once it is on the cluster"),
            );
            continue;
        }
        // The previous user: kept for the overlap only if it holds the previous generation.
        for previous in account.scram_user_slots().into_iter().filter(|u| *u != user && has(u)) {
            let within = stored.rotated_at.is_some_and(|at| options.now < at.saturating_add(overlap));
            if within && generation > 1 && holds(&previous, generation - 1) {
                continue;
            }
            let reason = match stored.rotated_at {
                Some(_) if generation > 1 && holds(&previous, generation - 1) => format!(
                    "previous generation; its overlap of {} hours after the rotation ended",
                    desired.rotation_overlap_hours
                ),
                _ => format!("not the user of generation {generation} and not its previous generation"),
            };
            b.add(Action::DeleteScramCredential { user: previous, account: account.name.clone() }, reason);
        }
    }
}

fn plan_acls(desired: &DesiredState, observed: &ObservedState, owner: &Ownership, b: &mut Builder) {
    let wanted: BTreeSet<AclBinding> = desired.acls.iter().map(binding_of).collect();
    for acl in wanted.difference(&observed.acls) {
        b.add(Action::CreateAcl { acl: acl.clone() }, "declared, missing on the cluster");
    }
    // Debug identities are never declared: their ACLs are the grants' (crate::grants).
    let owned = |a: &&AclBinding| owner.owns_acl(a) && !crate::grants::is_debug_principal(&a.principal);
    for acl in observed.acls.difference(&wanted).filter(owned) {
        // Revoking grants loses no data, and a stale grant is a security hole: no flag needed.
        b.add(Action::DeleteAcl { acl: acl.clone() }, "owned by the platform and no longer declared");
    }
}

#[cfg(test)]
mod tests;
