//! The desired state of a stage's topics, service accounts and ACLs: what the reconciler makes true.
//! It travels as a JSON artifact next to the templates, addressed by its content hash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::project::{
    AclOperation, AclPatternType, AclResourceType, Authentication, DataClassification,
};
use crate::model::{AclBinding, StageModel};
use crate::render::names;

/// Version of the desired-state format; the reconciler refuses newer ones. Version 2: SCRAM
/// accounts have two Kafka users (rotation slots) with the same ACLs.
pub const FORMAT_VERSION: u32 = 2;

/// Appended to a SCRAM account's name for its second Kafka user (the alternate rotation slot).
/// Account names cannot end with it (KP308).
pub const ALTERNATE_USER_SUFFIX: &str = ".alt";

/// The name space of temporary debug identities (`gen access grant`: `debug.<project>.<id>`).
/// No declaration may use it (KP311), so the reconciler can never take one for a declared account.
pub const DEBUG_USER_PREFIX: &str = "debug.";

/// Hours a rotated account's previous credential keeps working when a desired state says nothing.
pub const DEFAULT_ROTATION_OVERLAP_HOURS: u32 = 24;

fn default_overlap() -> u32 {
    DEFAULT_ROTATION_OVERLAP_HOURS
}

/// Everything the reconciler needs, and nothing secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    pub format_version: u32,
    pub stage: String,
    /// Topic name prefixes this platform owns; topics outside them are never touched.
    pub managed_topic_prefixes: Vec<String>,
    /// Whether managed topics and ACLs that are no longer declared may be deleted.
    pub allow_delete: bool,
    /// Owner, classification and tags of each project, so the reconciler knows whose resources it
    /// owns (absent in files written before it existed).
    #[serde(default)]
    pub projects: Vec<DesiredProject>,
    pub topics: Vec<DesiredTopic>,
    pub service_accounts: Vec<DesiredAccount>,
    pub acls: Vec<DesiredAcl>,
    /// Schema Registry subjects, references before the subjects that use them (absent when the
    /// stage runs no registry, and in files written before schemas were registered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<DesiredSubject>,
    /// Hours a rotated SCRAM account's previous Kafka user keeps its credential after the new one
    /// was published (`passwords.rotation_overlap_hours`).
    #[serde(default = "default_overlap")]
    pub rotation_overlap_hours: u32,
}

/// A project's metadata, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredProject {
    pub name: String,
    pub description: String,
    pub owner_team: String,
    pub owner_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_classification: Option<DataClassification>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredTopic {
    pub name: String,
    pub project: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub configs: BTreeMap<String, String>,
}

/// A service account; SCRAM accounts name the SSM parameter that holds their password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredAccount {
    pub name: String,
    pub project: String,
    pub principal: String,
    pub authentication: Authentication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_parameter: Option<String>,
    /// SCRAM accounts: the two Kafka users a rotation alternates between (`<name>`,
    /// `<name>.alt`); both carry the account's ACLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scram_users: Vec<String>,
    /// SCRAM accounts: the password's rotation token, so that a rotation changes the desired
    /// state and the reconciler runs after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_token: Option<String>,
}

impl DesiredAccount {
    /// The SCRAM users of the account: the declared slots, or the account name alone (a desired
    /// state written before slots existed).
    pub fn scram_user_slots(&self) -> Vec<String> {
        if self.scram_users.is_empty() { vec![self.name.clone()] } else { self.scram_users.clone() }
    }
}

/// An ACL binding (always ALLOW; everything else is denied by the authorizer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DesiredAcl {
    pub principal: String,
    pub resource_type: AclResourceType,
    pub pattern_type: AclPatternType,
    pub resource_name: String,
    pub operation: AclOperation,
    pub host: String,
}

impl From<&AclBinding> for DesiredAcl {
    fn from(b: &AclBinding) -> Self {
        DesiredAcl {
            principal: b.principal.clone(),
            resource_type: b.resource_type,
            pattern_type: b.pattern_type,
            resource_name: b.resource_name.clone(),
            operation: b.operation,
            host: b.host.clone(),
        }
    }
}

/// The desired state of a resolved stage.
pub fn desired_state(model: &StageModel) -> DesiredState {
    let mut acls: Vec<DesiredAcl> = model.acls.iter().map(DesiredAcl::from).collect();
    acls.extend(alternate_user_acls(model, &acls));
    acls.extend(platform_acls(model));
    acls.sort();
    acls.dedup();
    DesiredState {
        format_version: FORMAT_VERSION,
        stage: model.stage.to_string(),
        managed_topic_prefixes: model.projects.iter().map(|p| format!("{}.", p.name)).collect(),
        allow_delete: model.allow_delete,
        projects: model
            .projects
            .iter()
            .map(|p| DesiredProject {
                name: p.name.clone(),
                description: p.description.clone(),
                owner_team: p.owner_team.clone(),
                owner_email: p.owner_email.clone(),
                owner_channel: p.owner_channel.clone(),
                data_classification: p.data_classification,
                tags: p.tags.clone(),
            })
            .collect(),
        topics: model
            .topics
            .iter()
            .map(|t| DesiredTopic {
                name: t.name.value.clone(),
                project: t.project.clone(),
                partitions: t.partitions.value,
                replication_factor: t.replication_factor.value,
                configs: t.configs.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
            })
            .collect(),
        service_accounts: model
            .service_accounts
            .iter()
            .map(|a| DesiredAccount {
                name: a.name.value.clone(),
                project: a.project.clone(),
                principal: a.principal(),
                authentication: a.authentication,
                password_parameter: (a.authentication == Authentication::Scram)
                    .then(|| names::account_password(model, &a.name)),
                scram_users: if a.authentication == Authentication::Scram {
                    vec![a.name.value.clone(), alternate_user(&a.name.value)]
                } else {
                    Vec::new()
                },
                rotation_token: (a.authentication == Authentication::Scram)
                    .then(|| model.passwords.account_token(&a.name.value)),
            })
            .collect(),
        acls,
        subjects: model
            .schema_registry
            .iter()
            .flat_map(|sr| &sr.subjects)
            .map(|s| DesiredSubject {
                subject: s.name.clone(),
                project: s.project.clone(),
                schema_type: s.schema_type,
                schema: s.schema.clone(),
                references: s.references.clone(),
                compatibility: s.compatibility,
            })
            .collect(),
        rotation_overlap_hours: model.passwords.rotation_overlap_hours,
    }
}

/// The Kafka user of a SCRAM account's alternate rotation slot.
pub fn alternate_user(account: &str) -> String {
    format!("{account}{ALTERNATE_USER_SUFFIX}")
}

/// A SCRAM account's alternate user gets every binding of the account, so that either slot can
/// be the current one.
fn alternate_user_acls(model: &StageModel, acls: &[DesiredAcl]) -> Vec<DesiredAcl> {
    let alternates: BTreeMap<String, String> = model
        .service_accounts
        .iter()
        .filter(|a| a.authentication == Authentication::Scram)
        .map(|a| (a.principal(), format!("User:{}", alternate_user(&a.name.value))))
        .collect();
    acls.iter()
        .filter_map(|acl| {
            let principal = alternates.get(&acl.principal)?;
            Some(DesiredAcl { principal: principal.clone(), ..acl.clone() })
        })
        .collect()
}

/// Bindings the platform's own components need (Schema Registry on its internal topic).
fn platform_acls(model: &StageModel) -> Vec<DesiredAcl> {
    if model.schema_registry.is_none() {
        return Vec::new();
    }
    let bind = |resource_type, name: &str, operation| DesiredAcl {
        principal: "User:schema-registry".into(),
        resource_type,
        pattern_type: AclPatternType::Literal,
        resource_name: name.into(),
        operation,
        host: "*".into(),
    };
    vec![
        bind(AclResourceType::Topic, "_schemas", AclOperation::Read),
        bind(AclResourceType::Topic, "_schemas", AclOperation::Write),
        bind(AclResourceType::Topic, "_schemas", AclOperation::Describe),
        bind(AclResourceType::Topic, "_schemas", AclOperation::DescribeConfigs),
        bind(AclResourceType::Topic, "_schemas", AclOperation::Create),
        bind(AclResourceType::Group, "schema-registry", AclOperation::Read),
    ]
}

/// A Schema Registry subject: the schema (the file's text), the subjects of the named schemas it
/// uses, and its compatibility level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredSubject {
    pub subject: String,
    pub project: String,
    pub schema_type: crate::model::SchemaType,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<crate::model::SubjectReference>,
    pub compatibility: crate::config::project::Compatibility,
}

impl DesiredState {
    /// The canonical JSON text (sorted keys, stable order) that is hashed and shipped.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("desired state serialises");
        text.push('\n');
        text
    }
}
