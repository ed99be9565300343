//! Temporary debug access (`gen access`): a grant gives a SCRAM identity in the reserved `debug.`
//! name space read (or, approved, write) ACLs on one project's topics until it expires. This module
//! is pure: the grant record, its names, the TTL bounds, the approver rule, the ACL set, and what a
//! reconciler plan does with grants. Reading and writing the records in SSM is [`store`].
//!
//! The reconciler recognises debug identities by name alone (`User:debug.*`, which no declaration
//! may use: KP311), never as declared accounts: an identity with an unexpired record is left alone;
//! an expired one, or one without a record, is removed as one [`Action::ExpireGrant`].

pub(crate) mod apply;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use kafka_admin::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType};
use kafka_platform_core::desired::DEBUG_USER_PREFIX;
use serde::{Deserialize, Serialize};

use crate::plan::{Action, ObservedState};

/// Shortest grant: anything shorter is over before a debug task has started.
pub const MIN_TTL_SECS: u64 = 5 * 60;
/// Longest grant: standing access is what the platform avoids; ask again tomorrow.
pub const MAX_TTL_SECS: u64 = 24 * 3600;

/// What `gen access grant` records (as the String parameter `<prefix>/<id>/grant`): who, what, why
/// and until when. Never the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// `<project>.<8 hex digits>`; the Kafka user is `debug.<id>`.
    pub id: String,
    /// Stage the grant is for.
    pub stage: String,
    /// The project whose topics it reads.
    pub project: String,
    /// The topics, resolved when granted (a later declaration change does not widen it).
    pub topics: Vec<String>,
    /// Write and Describe on the topics as well (approved in production-like stages).
    pub write: bool,
    /// Why, as the requester said.
    pub reason: String,
    /// The AWS caller identity (ARN) that made the grant, or `unknown` without one.
    pub requested_by: String,
    /// `$USER` of the requester's shell, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_user: Option<String>,
    /// Who approved a write grant (a stage approver, not the requester).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; from then on the reconciler removes the grant.
    pub expires_at: u64,
}

impl GrantRecord {
    /// The Kafka user, `debug.<id>`.
    pub fn user(&self) -> String {
        user_of(&self.id)
    }

    /// Whether the grant has ended at `now` (Unix seconds).
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The consumer group prefix the identity may use: its user name and a dot.
    pub fn group_prefix(&self) -> String {
        format!("{}.", self.user())
    }

    /// The ACL set: Read and Describe on each topic (Write too for a write grant) and Read on its
    /// own group prefix. Nothing on the cluster, no other group, no transactional id.
    pub fn acls(&self) -> BTreeSet<AclBinding> {
        let principal = format!("User:{}", self.user());
        let binding = |resource_type, resource_name: &str, pattern_type, operation| AclBinding {
            resource_type,
            resource_name: resource_name.to_string(),
            pattern_type,
            principal: principal.clone(),
            host: "*".into(),
            operation,
            permission: AclPermission::Allow,
        };
        let mut out = BTreeSet::new();
        for topic in &self.topics {
            let mut ops = vec![AclOperation::Read, AclOperation::Describe];
            if self.write {
                ops.push(AclOperation::Write);
            }
            for op in ops {
                out.insert(binding(ResourceType::Topic, topic, PatternType::Literal, op));
            }
        }
        out.insert(binding(
            ResourceType::Group,
            &self.group_prefix(),
            PatternType::Prefixed,
            AclOperation::Read,
        ));
        out
    }
}

/// The Kafka user of grant `id`.
pub fn user_of(id: &str) -> String {
    format!("{DEBUG_USER_PREFIX}{id}")
}

/// The grant id of a debug user (`debug.<id>`), or `None` for any other user.
pub fn id_of_user(user: &str) -> Option<&str> {
    user.strip_prefix(DEBUG_USER_PREFIX).filter(|id| !id.is_empty())
}

/// Whether an ACL principal is a debug identity (`User:debug.*`).
pub fn is_debug_principal(principal: &str) -> bool {
    principal.strip_prefix("User:").and_then(id_of_user).is_some()
}

/// A new grant id from four random bytes: `<project>.<8 hex digits>`.
pub fn new_id(project: &str, random: [u8; 4]) -> String {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{project}.{hex}")
}

/// Whether `id` has the shape [`new_id`] gives (so a typo in `revoke` or `shell` is refused
/// before anything is looked up).
pub fn is_valid_id(id: &str) -> bool {
    let Some((project, hex)) = id.rsplit_once('.') else { return false };
    !project.is_empty()
        && project.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && hex.len() == 8
        && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Parses a TTL such as `90m`, `2h`, `1h30m` or `600s` and checks it lies within
/// [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`].
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let bad = || format!("TTL `{text}` is not a duration such as 30m, 2h or 1h30m");
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || text.trim().is_empty() {
        return Err(bad());
    }
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&total) {
        return Err(format!("TTL {text} is refused: debug access lasts at least 5m and at most 24h"));
    }
    Ok(total)
}

/// The topics of a grant: the project's declared topics, or the named subset, each of which must
/// be one of them.
pub fn grant_topics(
    requested: &[String],
    project: &str,
    project_topics: &[String],
) -> Result<Vec<String>, String> {
    if project_topics.is_empty() {
        return Err(format!("project {project} declares no topics in this stage"));
    }
    if requested.is_empty() {
        return Ok(project_topics.to_vec());
    }
    let foreign: Vec<&str> =
        requested.iter().filter(|t| !project_topics.contains(t)).map(String::as_str).collect();
    if !foreign.is_empty() {
        return Err(format!(
            "not topics of project {project} in this stage: {} (a grant reads only its own project's topics)",
            foreign.join(", ")
        ));
    }
    let mut topics = requested.to_vec();
    topics.sort();
    topics.dedup();
    Ok(topics)
}

/// Who asks for a write grant, and who approves it.
#[derive(Debug, Clone, Copy)]
pub struct WriteApproval<'a> {
    /// The stage is production-like (`StageName::production_like`).
    pub production_like: bool,
    /// `--approver`, if given.
    pub approver: Option<&'a str>,
    /// The stage file's `debug_access.approvers`.
    pub approvers: &'a [String],
    /// Every name the requester goes by (`$USER`, the caller identity's session or user name).
    pub requester: &'a [String],
}

/// The approver rule: write access in a production-like stage needs `--approver` naming a
/// declared approver who is not the requester. Elsewhere write needs nothing (an approver, when
/// given, is still checked).
pub fn check_write(a: WriteApproval<'_>) -> Result<(), String> {
    let Some(approver) = a.approver else {
        return if a.production_like {
            Err("write access in a production-like stage needs --approver NAME, one of the stage file's \
                 debug_access.approvers"
                .into())
        } else {
            Ok(())
        };
    };
    if !a.approvers.iter().any(|n| n == approver) {
        return Err(format!(
            "{approver} is not an approver of this stage (debug_access.approvers: {})",
            if a.approvers.is_empty() { "none declared".to_string() } else { a.approvers.join(", ") }
        ));
    }
    if a.requester.iter().any(|r| r.eq_ignore_ascii_case(approver)) {
        return Err(format!("{approver} is the requester; a grant needs a second person to approve it"));
    }
    Ok(())
}

/// The name an AWS caller ARN goes by: the session of an assumed role, the user of an IAM user.
pub fn caller_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let last = resource.rsplit('/').next()?;
    (!last.is_empty() && resource.contains('/')).then_some(last)
}

/// `YYYY-MM-DD HH:MM` (UTC) of Unix seconds.
pub fn utc(unix: u64) -> String {
    let t = i64::try_from(unix).unwrap_or(i64::MAX);
    format!(
        "{} {:02}:{:02}",
        crate::certificates::date(t),
        t.rem_euclid(86_400) / 3600,
        t.rem_euclid(3600) / 60
    )
}

/// The grants the reconciler knows of, read from the stage's `debug` parameter tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedGrants {
    /// The tree, e.g. `/kafka/dev/debug`.
    pub prefix: String,
    /// Every readable record.
    pub records: Vec<GrantRecord>,
}

impl ObservedGrants {
    /// The parameters of grant `id`: its record and its credential.
    pub fn parameters(&self, id: &str) -> Vec<String> {
        vec![store::record_name(&self.prefix, id), store::credential_name(&self.prefix, id)]
    }
}

/// The plan's part for debug identities. Without grants (`None`: SSM not read) nothing about the
/// `debug.` name space is planned. Otherwise each expired grant, and each debug identity on the
/// cluster without a record, becomes one [`Action::ExpireGrant`] with its observed ACLs, its
/// credential and its parameters; an active grant's ACLs that are not in its set are revoked.
pub fn plan_grants(
    grants: Option<&ObservedGrants>,
    observed: &ObservedState,
    now: u64,
) -> Vec<(Action, String)> {
    let Some(grants) = grants else { return Vec::new() };
    let mut acls_of: BTreeMap<String, Vec<AclBinding>> = BTreeMap::new();
    for acl in observed.acls.iter().filter(|a| is_debug_principal(&a.principal)) {
        let user = acl.principal.trim_start_matches("User:").to_string();
        acls_of.entry(user).or_default().push(acl.clone());
    }
    let users: BTreeSet<String> = acls_of
        .keys()
        .cloned()
        .chain(observed.scram_users.keys().filter(|u| id_of_user(u).is_some()).cloned())
        .collect();
    let records: BTreeMap<String, &GrantRecord> = grants.records.iter().map(|r| (r.user(), r)).collect();
    let mut out = Vec::new();
    let expire = |id: &str, user: &str, parameters: Vec<String>| Action::ExpireGrant {
        grant: id.to_string(),
        user: user.to_string(),
        acls: acls_of.get(user).cloned().unwrap_or_default(),
        scram_credential: observed.scram_users.contains_key(user),
        parameters,
    };
    for (user, record) in &records {
        if record.is_expired(now) {
            let reason = format!(
                "debug access of {} for {} ended at {} UTC",
                record.requested_by,
                record.project,
                utc(record.expires_at)
            );
            out.push((expire(&record.id, user, grants.parameters(&record.id)), reason));
        } else {
            let allowed = record.acls();
            for acl in acls_of.get(user).into_iter().flatten().filter(|a| !allowed.contains(*a)) {
                let reason =
                    format!("not part of debug grant {} (until {} UTC)", record.id, utc(record.expires_at));
                out.push((Action::DeleteAcl { acl: acl.clone() }, reason));
            }
        }
    }
    for user in users.iter().filter(|u| !records.contains_key(*u)) {
        let id = id_of_user(user).unwrap_or_default();
        let reason = "debug identity without a grant record (revoked, or a grant that failed half-way)";
        out.push((expire(id, user, grants.parameters(id)), reason.to_string()));
    }
    out
}

#[cfg(test)]
mod tests;
