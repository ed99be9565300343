//! A project (one use case) as declared in `projects/<project>.yaml`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::stage_name::StageName;
use crate::span::Spanned;

/// One project file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Project name; must match the file name and prefixes its topics and accounts.
    pub project: Spanned<String>,
    /// What the project is for.
    pub description: Option<Spanned<String>>,
    /// Who owns the project.
    pub owner: Option<Owner>,
    /// Data classification of the project's topics.
    pub data_classification: Option<Spanned<DataClassification>>,
    /// Tags (cost centre etc.), added to the project's reconciled resources' metadata.
    #[serde(default)]
    pub tags: BTreeMap<String, Spanned<String>>,
    /// The project's topics.
    #[serde(default)]
    pub topics: Vec<TopicDecl>,
    /// The project's service accounts.
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccountDecl>,
    /// Explicit ACL bindings beyond what produces/consumes generate.
    #[serde(default)]
    pub acls: Vec<AclDecl>,
}

/// Owner of a project.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Team name.
    pub team: Option<Spanned<String>>,
    /// Team e-mail address.
    pub email: Option<Spanned<String>>,
    /// Chat channel for incidents.
    pub channel: Option<Spanned<String>>,
}

/// Data classification levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataClassification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

impl DataClassification {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataClassification::Public => "public",
            DataClassification::Internal => "internal",
            DataClassification::Confidential => "confidential",
            DataClassification::Restricted => "restricted",
        }
    }
}

/// A topic config value as written: Kafka takes strings, YAML gives numbers and booleans too.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ConfigValue {
    /// The string Kafka receives.
    pub fn to_kafka_string(&self) -> String {
        match self {
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Int(i) => i.to_string(),
            ConfigValue::Float(f) => f.to_string(),
            ConfigValue::Text(s) => s.clone(),
        }
    }
}

/// Topic configs keyed by Kafka config name.
pub type TopicConfigs = BTreeMap<Spanned<String>, Spanned<ConfigValue>>;

/// A topic.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicDecl {
    /// Full topic name, following the naming convention (e.g. `contracts.contract-changed.v1`).
    pub name: Spanned<String>,
    /// What the topic carries.
    pub description: Option<Spanned<String>>,
    /// Number of partitions (default from the stage's topic policy).
    pub partitions: Option<Spanned<u32>>,
    /// Replication factor (default from the stage's topic policy).
    pub replication_factor: Option<Spanned<u32>>,
    /// Topic configs (only keys the stage policy allows).
    #[serde(default)]
    pub configs: TopicConfigs,
    /// Value schema file (Avro `.avsc`, JSON Schema `.json` or Protobuf `.proto`), relative to the
    /// project file; registered under the subject `<topic>-value`.
    pub schema: Option<Spanned<String>>,
    /// Key schema file, as `schema`; registered under the subject `<topic>-key`.
    pub key_schema: Option<Spanned<String>>,
    /// Named types the key and value schemas use, each registered first under its own subject.
    #[serde(default)]
    pub schema_references: Vec<SchemaReferenceDecl>,
    /// Compatibility of the topic's subjects (default: the stage's `schema_registry.compatibility`).
    pub compatibility: Option<Spanned<Compatibility>>,
    /// How the topic's subjects are named (default `topic_name`: `<topic>-key`, `<topic>-value`).
    pub subject_naming: Option<Spanned<SubjectNaming>>,
    /// Other projects that may read or write this topic.
    pub shared_with: Option<SharedWith>,
    /// Stages the topic exists in (default: all). A topic in a stage must exist in every stage below it.
    pub stages: Option<Spanned<Vec<Spanned<StageName>>>>,
    /// Per-stage overrides.
    #[serde(default)]
    pub overrides: BTreeMap<StageName, TopicOverride>,
}

/// A named schema another schema refers to (Avro: a record, enum or fixed by its full name).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaReferenceDecl {
    /// The name the referring schema uses (Avro: the full name, e.g. `com.example.Money`).
    pub name: Spanned<String>,
    /// Schema file defining it, relative to the project file.
    pub schema: Spanned<String>,
    /// Subject it is registered under (default `<project>.<name>`); must start with `<project>.`.
    pub subject: Option<Spanned<String>>,
}

/// Schema Registry compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    /// Every level.
    pub const ALL: [Compatibility; 7] = [
        Compatibility::None,
        Compatibility::Backward,
        Compatibility::BackwardTransitive,
        Compatibility::Forward,
        Compatibility::ForwardTransitive,
        Compatibility::Full,
        Compatibility::FullTransitive,
    ];

    /// The lowercase name, as declared (and as Confluent's registry takes it in its settings).
    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::None => "none",
            Compatibility::Backward => "backward",
            Compatibility::BackwardTransitive => "backward_transitive",
            Compatibility::Forward => "forward",
            Compatibility::ForwardTransitive => "forward_transitive",
            Compatibility::Full => "full",
            Compatibility::FullTransitive => "full_transitive",
        }
    }

    /// The name of the registry's REST API, e.g. `BACKWARD_TRANSITIVE`.
    pub fn api_name(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// Parses the REST API's name (any case).
    pub fn from_api_name(name: &str) -> Option<Compatibility> {
        Compatibility::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

/// Subject naming strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectNaming {
    /// `<topic>-key` and `<topic>-value` (Confluent's TopicNameStrategy).
    TopicName,
    /// `<topic>-<record full name>` (TopicRecordNameStrategy); Avro only.
    TopicRecordName,
}

/// Projects a topic is shared with.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedWith {
    /// Projects whose accounts may consume the topic.
    #[serde(default)]
    pub read: Vec<Spanned<String>>,
    /// Projects whose accounts may produce to the topic.
    #[serde(default)]
    pub write: Vec<Spanned<String>>,
}

/// Per-stage changes to a topic.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicOverride {
    /// Partitions in this stage.
    pub partitions: Option<Spanned<u32>>,
    /// Replication factor in this stage.
    pub replication_factor: Option<Spanned<u32>>,
    /// Configs merged over the topic's configs in this stage.
    #[serde(default)]
    pub configs: TopicConfigs,
}

/// How a service account authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Authentication {
    /// SASL/SCRAM-SHA-512; the password is generated into SSM.
    Scram,
    /// Mutual TLS; a client certificate is issued into SSM.
    Mtls,
}

impl Authentication {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Authentication::Scram => "scram",
            Authentication::Mtls => "mtls",
        }
    }
}

/// A service account: a principal that produces and/or consumes.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountDecl {
    /// Account name, following the naming convention (e.g. `contracts-ingest`); the Kafka principal is `User:<name>`.
    pub name: Spanned<String>,
    /// What the account is used by.
    pub description: Option<Spanned<String>>,
    /// scram or mtls.
    pub authentication: Spanned<Authentication>,
    /// Topics the account writes to (own or shared for write).
    #[serde(default)]
    pub produces: Vec<Spanned<String>>,
    /// Topics the account reads (own or shared for read).
    #[serde(default)]
    pub consumes: Vec<Spanned<String>>,
    /// Consumer group id prefixes (default: the account name).
    pub consumer_groups: Option<Vec<Spanned<String>>>,
    /// Transactional id prefixes for exactly-once producers.
    #[serde(default)]
    pub transactional_ids: Vec<Spanned<String>>,
    /// Stages the account exists in (default: all).
    pub stages: Option<Spanned<Vec<Spanned<StageName>>>>,
}

/// An explicit ACL binding.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AclDecl {
    /// A service account of this project (`User:<name>` is derived).
    pub service_account: Spanned<String>,
    /// topic, group, transactional_id or cluster.
    pub resource_type: Spanned<AclResourceType>,
    /// literal or prefixed.
    pub pattern_type: Option<Spanned<AclPatternType>>,
    /// Resource name (or prefix); ignored for cluster.
    pub resource_name: Spanned<String>,
    /// The operation allowed.
    pub operation: Spanned<AclOperation>,
    /// Why the binding is needed (required: reviewers ask).
    pub reason: Option<Spanned<String>>,
}

/// ACL resource types teams may bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AclResourceType {
    Topic,
    Group,
    TransactionalId,
    Cluster,
}

/// ACL pattern types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AclPatternType {
    Literal,
    Prefixed,
}

/// ACL operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AclOperation {
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}
