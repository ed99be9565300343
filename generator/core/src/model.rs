//! The resolved model of one stage: the single truth that render and the reconciler read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::project::{
    AclOperation, AclPatternType, AclResourceType, Authentication, Compatibility, DataClassification,
};
use crate::config::stage::{CaKeyAlgorithm, LeafKeyAlgorithm, StageName, VolumeType};
use crate::span::{Location, Spanned};

/// Everything about one stage, resolved from defaults, stage file and projects.
#[derive(Debug, Clone)]
pub struct StageModel {
    pub stage: StageName,
    pub account_id: String,
    pub region: String,
    /// Prefix of AWS resource names and parameter paths, e.g. `kafka`.
    pub resource_prefix: String,
    pub network: Network,
    pub cluster: Cluster,
    pub schema_registry: Option<SchemaRegistry>,
    /// Private hosted zone, e.g. kafka.dev.example.internal.
    pub dns_zone: String,
    pub public_endpoint: Option<PublicEndpoint>,
    pub private_link: Option<PrivateLink>,
    pub ca: CertificateAuthority,
    pub certificates: CertificatePolicy,
    pub passwords: PasswordPolicy,
    pub log_retention_days: u32,
    pub topic_policy: TopicPolicy,
    pub naming: Naming,
    /// Whether the reconciler may delete managed topics and ACLs.
    pub allow_delete: bool,
    /// Alarm subscriptions and thresholds, the scheduled drift check.
    pub monitoring: Monitoring,
    /// Who may approve write debug grants (`debug_access.approvers`).
    pub debug_approvers: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub projects: Vec<Project>,
    pub topics: Vec<Topic>,
    pub service_accounts: Vec<ServiceAccount>,
    pub acls: Vec<AclBinding>,
}

/// The resolved monitoring of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub subscriptions: Vec<(crate::config::monitoring::SubscriptionProtocol, String)>,
    pub thresholds: Thresholds,
    pub drift_interval_minutes: u32,
    pub drift_mode: crate::config::monitoring::DriftMode,
}

/// Alarm thresholds, each within its bound (`resolve::monitoring`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    pub under_replicated_partitions: u32,
    pub under_min_isr_partitions: u32,
    pub offline_partitions: u32,
    pub disk_used_percent: u32,
    pub cpu_percent: u32,
    pub memory_percent: u32,
    pub certificate_days_left: u32,
    pub drift_pending_changes: u32,
    pub evaluation_minutes: u32,
}

/// Existing VPC placement.
#[derive(Debug, Clone)]
pub struct Network {
    pub vpc_id: String,
    pub vpc_cidr: String,
    pub subnet_ids: Vec<String>,
    pub availability_zones: Vec<String>,
    pub client_cidrs: Vec<String>,
    /// The private subnets route to the internet through the operator's NAT gateway.
    pub nat: bool,
    /// VPC endpoints the cluster stack creates.
    pub vpc_endpoints: Option<VpcEndpoints>,
}

/// VPC endpoints of the stage: interface endpoints in the node subnets, S3 as a gateway endpoint.
#[derive(Debug, Clone)]
pub struct VpcEndpoints {
    /// Route tables of the private subnets (for the S3 gateway endpoint).
    pub route_table_ids: Vec<String>,
}

/// Brokers and controllers.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub brokers: Vec<Node>,
    /// Dedicated controllers; empty in combined mode (brokers are controllers too).
    pub controllers: Vec<Node>,
    pub instance_type: String,
    pub storage: Storage,
    pub image: Image,
    pub broker_heap_mib: u32,
    pub broker_memory_mib: u32,
    pub controller_heap_mib: u32,
    pub scram: bool,
    pub mtls: bool,
}

impl Cluster {
    /// Whether brokers also act as KRaft controllers.
    pub fn combined(&self) -> bool {
        self.controllers.is_empty()
    }

    /// The nodes that vote in the KRaft quorum.
    pub fn quorum(&self) -> &[Node] {
        if self.combined() { &self.brokers } else { &self.controllers }
    }
}

/// One Kafka node with a stable id and a fixed subnet (its EBS volume lives in that AZ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub node_id: u32,
    /// Short name, `b0`, `b1`, ... for brokers and `c0`, ... for controllers.
    pub name: String,
    pub subnet_index: usize,
    /// Internal DNS name, e.g. b0.kafka.dev.example.internal.
    pub dns_name: String,
}

/// EBS data volume.
#[derive(Debug, Clone)]
pub struct Storage {
    pub size_gib: u32,
    pub volume_type: VolumeType,
    pub throughput_mibps: Option<u32>,
    pub iops: Option<u32>,
}

/// Container image.
#[derive(Debug, Clone)]
pub struct Image {
    pub repository: String,
    pub tag: String,
}

impl Image {
    /// `repository:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

/// Schema Registry.
#[derive(Debug, Clone)]
pub struct SchemaRegistry {
    pub instances: u32,
    pub image: Image,
    /// The authenticating TLS proxy (nginx) in each registry task.
    pub proxy_image: Image,
    /// The stage's default (the registry's global level).
    pub compatibility: Compatibility,
    /// Subjects to register, references before the subjects that use them.
    pub subjects: Vec<Subject>,
}

/// A subject of the Schema Registry: one schema, its references and compatibility.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub project: String,
    pub schema_type: SchemaType,
    /// The schema file's text, as registered.
    pub schema: String,
    pub references: Vec<SubjectReference>,
    pub compatibility: Compatibility,
    /// Where it is declared.
    pub location: Location,
}

/// A reference from one subject's schema to a named schema registered under another subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct SubjectReference {
    /// The name the schema uses.
    pub name: String,
    /// The subject that holds it.
    pub subject: String,
}

/// Schema formats of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    /// The REST API's name.
    pub fn api_name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }
}

/// Public NLB.
#[derive(Debug, Clone)]
pub struct PublicEndpoint {
    pub subnet_ids: Vec<String>,
    pub allowed_cidrs: Vec<String>,
    pub dns_name: Option<String>,
    pub first_port: u32,
    /// Public hosted zone of `dns_name`; the cluster stack then writes the public records.
    pub hosted_zone_id: Option<String>,
}

/// PrivateLink endpoint service.
#[derive(Debug, Clone)]
pub struct PrivateLink {
    pub allowed_principals: Vec<String>,
    pub acceptance_required: bool,
    /// Consumer VPC CIDRs admitted on the PrivateLink ports of the internal NLB.
    pub consumer_cidrs: Vec<String>,
}

/// The stage's private CA.
#[derive(Debug, Clone)]
pub enum CertificateAuthority {
    Create {
        key_algorithm: CaKeyAlgorithm,
        validity_years: u32,
        common_name: String,
        organization: String,
        /// A second CA beside this one (docs/operators-guide.md, "CA rollover").
        rollover: Option<CaRollover>,
    },
    Existing {
        arn: String,
    },
}

/// The new CA of a rollover (same organisation as the old one) and the declared phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaRollover {
    pub phase: crate::config::stage::RolloverPhase,
    pub key_algorithm: CaKeyAlgorithm,
    pub validity_years: u32,
    pub common_name: String,
}

impl CertificateAuthority {
    /// The declared rollover, if any.
    pub fn rollover(&self) -> Option<&CaRollover> {
        match self {
            CertificateAuthority::Create { rollover, .. } => rollover.as_ref(),
            CertificateAuthority::Existing { .. } => None,
        }
    }
}

/// Leaf certificates.
#[derive(Debug, Clone)]
pub struct CertificatePolicy {
    pub key_algorithm: LeafKeyAlgorithm,
    pub validity_days: u32,
    pub renewal_token: String,
    /// The renewal window in days (reconcile::certificates::schedule staggers inside it).
    pub renew_before_days: u32,
}

/// Generated passwords.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub length: u32,
    pub exclude_characters: String,
    pub rotation_token: String,
    /// Per SCRAM account: a token whose change rotates that account's password alone.
    pub account_rotation_tokens: BTreeMap<String, Spanned<String>>,
    /// How long the previous password of a rotated account still logs in.
    pub rotation_overlap_hours: u32,
}

impl PasswordPolicy {
    /// The rotation token of an account's password: the stage's, plus the account's own when set
    /// (so that an account without one keeps the token it always had).
    pub fn account_token(&self, account: &str) -> String {
        match self.account_rotation_tokens.get(account) {
            Some(own) => format!("{}/{}", self.rotation_token, own.value),
            None => self.rotation_token.clone(),
        }
    }
}

/// Topic policy of the stage.
#[derive(Debug, Clone)]
pub struct TopicPolicy {
    pub default_partitions: Spanned<u32>,
    pub max_partitions: Spanned<u32>,
    pub default_replication_factor: Spanned<u32>,
    pub min_replication_factor: Spanned<u32>,
    pub min_insync_replicas: Spanned<u32>,
    pub max_retention_ms: Spanned<i64>,
    pub allow_infinite_retention: bool,
    pub allowed_config_keys: Vec<String>,
}

/// Naming conventions with `{project}` placeholders.
#[derive(Debug, Clone)]
pub struct Naming {
    pub topic_pattern: Spanned<String>,
    pub service_account_pattern: Spanned<String>,
    pub project_pattern: Spanned<String>,
}

/// Project metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub name: String,
    pub description: String,
    pub owner_team: String,
    pub owner_email: String,
    /// Chat channel for incidents, when declared.
    pub owner_channel: Option<String>,
    pub data_classification: Option<DataClassification>,
    pub tags: BTreeMap<String, String>,
}

/// A topic as it must exist in this stage.
#[derive(Debug, Clone)]
pub struct Topic {
    pub name: Spanned<String>,
    pub project: String,
    /// What the topic carries, when declared (for the catalog).
    pub description: Option<String>,
    pub partitions: Spanned<u32>,
    pub replication_factor: Spanned<u32>,
    /// Effective configs (topic, then stage override, then policy's min.insync.replicas).
    pub configs: BTreeMap<String, Spanned<String>>,
    pub readers: Vec<String>,
    pub writers: Vec<String>,
    pub schema: Option<Spanned<String>>,
}

/// A service account in this stage.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub name: Spanned<String>,
    pub project: String,
    /// What the account is used by, when declared (for the catalog).
    pub description: Option<String>,
    pub authentication: Authentication,
    pub produces: Vec<Spanned<String>>,
    pub consumes: Vec<Spanned<String>>,
    pub consumer_groups: Vec<Spanned<String>>,
    pub transactional_ids: Vec<Spanned<String>>,
}

impl ServiceAccount {
    /// The Kafka principal (SCRAM user name, or the CN of the client certificate).
    pub fn principal(&self) -> String {
        format!("User:{}", self.name.value)
    }
}

/// One allow ACL binding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AclBinding {
    pub principal: String,
    pub resource_type: AclResourceType,
    pub pattern_type: AclPatternType,
    pub resource_name: String,
    pub operation: AclOperation,
    /// Always `*`: clients move between hosts; network rules are the security groups' job.
    pub host: String,
}

/// Where a binding came from, for plan reasons and findings.
#[derive(Debug, Clone)]
pub struct AclSource {
    pub location: Location,
    pub reason: String,
}

impl StageModel {
    /// Name of the stage's resources, e.g. `kafka-dev`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.resource_prefix, self.stage)
    }

    /// Whether the stage is treated like production (see [`StageName::production_like`]).
    pub fn production_like(&self) -> bool {
        self.stage.production_like()
    }

    /// SSM parameter path root of the stage, e.g. `/kafka/dev`.
    pub fn parameter_root(&self) -> String {
        format!("/{}/{}", self.resource_prefix, self.stage)
    }

    /// Internal bootstrap name, e.g. bootstrap.kafka.dev.example.internal.
    pub fn bootstrap_dns_name(&self) -> String {
        format!("bootstrap.{}", self.dns_zone)
    }
}

/// Ports of the broker listeners. Fixed so that security groups, NLB and docs agree.
pub mod ports {
    /// Inter-broker TLS listener (mTLS between brokers).
    pub const INTERNAL: u32 = 9093;
    /// SASL_SSL client listener (SCRAM-SHA-512).
    pub const SCRAM: u32 = 9094;
    /// SSL client listener with client certificates (mTLS).
    pub const MTLS: u32 = 9095;
    /// KRaft controller listener (TLS).
    pub const CONTROLLER: u32 = 9097;
    /// Listener behind the public NLB (SASL_SSL, advertised with the public names).
    pub const PUBLIC: u32 = 9096;
    /// SASL_SSL listener reached through the PrivateLink endpoint service.
    pub const PRIVATE_LINK: u32 = 9098;
    /// First per-broker port on the internal NLB for PrivateLink consumers (broker i: +i).
    pub const PRIVATE_LINK_FIRST: u32 = 9200;
    /// Schema Registry HTTPS.
    pub const SCHEMA_REGISTRY: u32 = 8081;
}
