//! Cluster settings of a stage, as declared in `defaults.yaml` and `stages/<stage>.yaml`.
//!
//! Every field is optional here: a stage file is merged over the defaults first
//! (see [`crate::config::merge`]) and required fields are checked when the model is resolved.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::config::stage_name::StageName;
use crate::span::Spanned;

/// Settings of one stage (or the shared defaults under all stages).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSettings {
    /// Stage name; required in stage files, must match the file name, absent in defaults.
    pub stage: Option<Spanned<StageName>>,
    /// AWS account id (12 digits) the stage deploys to.
    pub account_id: Option<Spanned<String>>,
    /// AWS region, e.g. eu-west-1.
    pub region: Option<Spanned<String>>,
    /// Naming conventions for topics, service accounts and AWS resources.
    pub naming: Option<NamingSettings>,
    /// The existing VPC and subnets the cluster runs in.
    pub network: Option<NetworkSettings>,
    /// Brokers, controllers, instances and storage.
    pub cluster: Option<ClusterSettings>,
    /// Confluent Schema Registry.
    pub schema_registry: Option<SchemaRegistrySettings>,
    /// Private DNS for brokers.
    pub dns: Option<DnsSettings>,
    /// Internet-facing network load balancer with one listener per broker.
    pub public_endpoint: Option<PublicEndpointSettings>,
    /// PrivateLink endpoint service for consumers in other VPCs/accounts.
    pub private_link: Option<PrivateLinkSettings>,
    /// The private CA that issues broker and client certificates.
    pub certificate_authority: Option<CaSettings>,
    /// Broker and client certificates.
    pub certificates: Option<CertificateSettings>,
    /// Generated passwords (admin, inter-broker, service accounts).
    pub passwords: Option<PasswordSettings>,
    /// Log groups.
    pub logs: Option<LogSettings>,
    /// How much of the address space may reach the cluster.
    pub cidr_policy: Option<CidrPolicySettings>,
    /// The topic policy of the stage.
    pub topic_policy: Option<TopicPolicySettings>,
    /// The topic/ACL reconciler that runs inside the VPC.
    pub reconciler: Option<ReconcilerSettings>,
    /// Alarms, their subscriptions and thresholds, and the scheduled drift check.
    pub monitoring: Option<crate::config::monitoring::MonitoringSettings>,
    /// Temporary debug access (`gen access grant`).
    pub debug_access: Option<DebugAccessSettings>,
    /// Tags on every AWS resource (merged over the defaults' tags).
    pub tags: Option<BTreeMap<String, Spanned<String>>>,
}

/// Naming conventions. `{project}` in a pattern stands for the project name.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamingSettings {
    /// Prefix of every AWS resource name and SSM parameter path, e.g. `kafka`.
    pub resource_prefix: Option<Spanned<String>>,
    /// Regular expression a topic name must match.
    pub topic_pattern: Option<Spanned<String>>,
    /// Regular expression a service account name must match.
    pub service_account_pattern: Option<Spanned<String>>,
    /// Regular expression a project name must match.
    #[schemars(extend("default" = NamingSettings::DEFAULT_PROJECT_PATTERN))]
    pub project_pattern: Option<Spanned<String>>,
}

impl NamingSettings {
    /// `project_pattern` when none is declared.
    pub const DEFAULT_PROJECT_PATTERN: &'static str = "^[a-z][a-z0-9-]{1,30}$";
}

/// The existing network the cluster is placed in.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Existing VPC id (vpc-...).
    pub vpc_id: Option<Spanned<String>>,
    /// The VPC's CIDR block; clients inside it may reach the brokers.
    pub vpc_cidr: Option<Spanned<String>>,
    /// One private subnet per availability zone (subnet-...).
    pub subnet_ids: Option<Spanned<Vec<Spanned<String>>>>,
    /// The availability zone of each subnet, in the same order (broker volumes are created there).
    pub availability_zones: Option<Spanned<Vec<Spanned<String>>>>,
    /// Extra CIDRs (peered networks, VPN) allowed to reach the internal listeners.
    pub client_cidrs: Option<Spanned<Vec<Spanned<String>>>>,
    /// Whether the private subnets route to the internet through a NAT gateway (the operator's).
    #[schemars(extend("default" = false))]
    pub nat: Option<Spanned<bool>>,
    /// Interface and gateway endpoints for the AWS services the nodes and the reconciler call.
    pub vpc_endpoints: Option<VpcEndpointSettings>,
}

/// VPC endpoints rendered into the cluster stack, so that the private subnets reach AWS without NAT.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VpcEndpointSettings {
    /// Whether to create the endpoints (the VPC must not have endpoints of these services yet).
    #[schemars(extend("default" = false))]
    pub enabled: Option<Spanned<bool>>,
    /// Route tables of the private subnets, for the S3 gateway endpoint (rtb-...).
    pub route_table_ids: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Bounds of the address ranges that may reach the cluster, as prefix lengths: the CIDRs of a list
/// together may cover at most as many addresses as one network of that length (so that
/// `[0.0.0.0/1, 128.0.0.0/1]` is refused like `0.0.0.0/0`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CidrPolicySettings {
    /// Bound of the IPv4 `network.client_cidrs` together, as a prefix length (8..=32).
    #[schemars(extend("default" = CidrPolicySettings::DEFAULT_CLIENT_IPV4_PREFIX))]
    pub client_ipv4_prefix: Option<Spanned<u8>>,
    /// Bound of the IPv6 `network.client_cidrs` together, as a prefix length (32..=128).
    #[schemars(extend("default" = CidrPolicySettings::DEFAULT_CLIENT_IPV6_PREFIX))]
    pub client_ipv6_prefix: Option<Spanned<u8>>,
    /// Bound of the IPv4 `public_endpoint.allowed_cidrs` together, as a prefix length (8..=32).
    #[schemars(extend("default" = CidrPolicySettings::DEFAULT_PUBLIC_IPV4_PREFIX))]
    pub public_ipv4_prefix: Option<Spanned<u8>>,
    /// Bound of the IPv6 `public_endpoint.allowed_cidrs` together, as a prefix length (32..=128).
    #[schemars(extend("default" = CidrPolicySettings::DEFAULT_PUBLIC_IPV6_PREFIX))]
    pub public_ipv6_prefix: Option<Spanned<u8>>,
}

impl CidrPolicySettings {
    /// `client_ipv4_prefix` when none is declared.
    pub const DEFAULT_CLIENT_IPV4_PREFIX: u8 = 8;
    /// `client_ipv6_prefix` when none is declared.
    pub const DEFAULT_CLIENT_IPV6_PREFIX: u8 = 32;
    /// `public_ipv4_prefix` when none is declared.
    pub const DEFAULT_PUBLIC_IPV4_PREFIX: u8 = 16;
    /// `public_ipv6_prefix` when none is declared.
    pub const DEFAULT_PUBLIC_IPV6_PREFIX: u8 = 48;
}

/// Brokers, controllers and their hosts.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Number of brokers (1..=30).
    pub brokers: Option<Spanned<u32>>,
    /// KRaft controllers.
    pub controllers: Option<ControllerSettings>,
    /// EC2 instance type of the container hosts, e.g. m6i.large.
    pub instance_type: Option<Spanned<String>>,
    /// EBS data volume per broker.
    pub storage: Option<StorageSettings>,
    /// Confluent Kafka image.
    pub image: Option<ImageSettings>,
    /// JVM heap of a broker in MiB.
    #[schemars(extend("default" = ClusterSettings::DEFAULT_BROKER_HEAP_MIB))]
    pub broker_heap_mib: Option<Spanned<u32>>,
    /// Memory reserved for a broker container in MiB (heap plus page cache headroom).
    pub broker_memory_mib: Option<Spanned<u32>>,
    /// Authentication mechanisms offered to clients.
    pub authentication: Option<AuthenticationSettings>,
}

impl ClusterSettings {
    /// `broker_heap_mib` when none is declared (`broker_memory_mib` defaults to twice the heap).
    pub const DEFAULT_BROKER_HEAP_MIB: u32 = 1024;
}

/// How KRaft controllers run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControllerSettings {
    /// `dedicated` (own tasks; required in acc and prod) or `combined` (brokers are controllers too).
    pub mode: Option<Spanned<ControllerMode>>,
    /// Number of dedicated controllers (3 or 5); ignored in combined mode.
    #[schemars(extend("default" = ControllerSettings::DEFAULT_COUNT))]
    pub count: Option<Spanned<u32>>,
    /// JVM heap of a dedicated controller in MiB.
    #[schemars(extend("default" = ControllerSettings::DEFAULT_HEAP_MIB))]
    pub heap_mib: Option<Spanned<u32>>,
}

impl ControllerSettings {
    /// `count` when none is declared.
    pub const DEFAULT_COUNT: u32 = 3;
    /// `heap_mib` when none is declared.
    pub const DEFAULT_HEAP_MIB: u32 = 512;
}

/// KRaft controller placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ControllerMode {
    Dedicated,
    Combined,
}

/// EBS data volume per broker.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Size in GiB.
    pub size_gib: Option<Spanned<u32>>,
    /// gp3, io2 or st1.
    #[schemars(extend("default" = StorageSettings::DEFAULT_VOLUME_TYPE))]
    pub volume_type: Option<Spanned<VolumeType>>,
    /// gp3 throughput in MiB/s (125..=1000).
    pub throughput_mibps: Option<Spanned<u32>>,
    /// gp3/io2 IOPS.
    pub iops: Option<Spanned<u32>>,
}

impl StorageSettings {
    /// `volume_type` when none is declared.
    pub const DEFAULT_VOLUME_TYPE: VolumeType = VolumeType::Gp3;
}

/// EBS volume types suitable for Kafka logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Gp3,
    Io2,
    St1,
}

impl VolumeType {
    /// The EBS API name.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Gp3 => "gp3",
            VolumeType::Io2 => "io2",
            VolumeType::St1 => "st1",
        }
    }
}

/// A container image with a pinned tag.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    /// Repository, e.g. confluentinc/cp-kafka or an ECR mirror.
    pub repository: Option<Spanned<String>>,
    /// Pinned tag (not `latest`), e.g. 7.9.1.
    pub tag: Option<Spanned<String>>,
}

/// Client authentication mechanisms.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationSettings {
    /// SASL/SCRAM-SHA-512 over TLS on port 9094.
    #[schemars(extend("default" = AuthenticationSettings::DEFAULT_SCRAM))]
    pub scram: Option<Spanned<bool>>,
    /// Mutual TLS on port 9095.
    #[schemars(extend("default" = AuthenticationSettings::DEFAULT_MTLS))]
    pub mtls: Option<Spanned<bool>>,
}

impl AuthenticationSettings {
    /// `scram` when not declared: on.
    pub const DEFAULT_SCRAM: bool = true;
    /// `mtls` when not declared: on.
    pub const DEFAULT_MTLS: bool = true;
}

/// Confluent Schema Registry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistrySettings {
    /// Whether the stage runs a Schema Registry.
    #[schemars(extend("default" = false))]
    pub enabled: Option<Spanned<bool>>,
    /// Number of instances.
    #[schemars(extend("default" = SchemaRegistrySettings::DEFAULT_INSTANCES))]
    pub instances: Option<Spanned<u32>>,
    /// Confluent Schema Registry image.
    pub image: Option<ImageSettings>,
    /// Image of the authenticating TLS proxy in front of the registry (nginx; an ECR mirror where
    /// the stage has no NAT).
    pub proxy_image: Option<ImageSettings>,
    /// Default compatibility of the stage's subjects (the registry's global level).
    #[schemars(extend("default" = SchemaRegistrySettings::DEFAULT_COMPATIBILITY))]
    pub compatibility: Option<Spanned<crate::config::project::Compatibility>>,
}

impl SchemaRegistrySettings {
    /// `instances` when none is declared.
    pub const DEFAULT_INSTANCES: u32 = 2;
    /// `image.repository` when none is declared (the tag defaults to the Kafka image's).
    pub const DEFAULT_REPOSITORY: &'static str = "confluentinc/cp-schema-registry";
    /// `proxy_image.repository` when none is declared: the official nginx image.
    pub const DEFAULT_PROXY_REPOSITORY: &'static str = "nginx";
    /// `proxy_image.tag` when none is declared.
    pub const DEFAULT_PROXY_TAG: &'static str = "1.28.0-alpine";
    /// `compatibility` when none is declared.
    pub const DEFAULT_COMPATIBILITY: crate::config::project::Compatibility =
        crate::config::project::Compatibility::BackwardTransitive;
}

/// Private DNS.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// Private hosted zone created for the stage, e.g. kafka.dev.example.internal.
    pub zone_name: Option<Spanned<String>>,
}

/// Public endpoint through a network load balancer.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicEndpointSettings {
    /// Whether to create the internet-facing NLB.
    #[schemars(extend("default" = false))]
    pub enabled: Option<Spanned<bool>>,
    /// Public subnets for the NLB, one per AZ.
    pub subnet_ids: Option<Spanned<Vec<Spanned<String>>>>,
    /// Source CIDRs allowed through (never 0.0.0.0/0).
    pub allowed_cidrs: Option<Spanned<Vec<Spanned<String>>>>,
    /// Public DNS name of the bootstrap endpoint, e.g. kafka.example.com (brokers get b0., b1., ...).
    pub dns_name: Option<Spanned<String>>,
    /// First NLB port; broker i listens on first_port + i.
    #[schemars(extend("default" = PublicEndpointSettings::DEFAULT_FIRST_PORT))]
    pub first_port: Option<Spanned<u32>>,
    /// Public Route 53 hosted zone (Z...) of dns_name; when set the stack creates the public records.
    pub hosted_zone_id: Option<Spanned<String>>,
}

impl PublicEndpointSettings {
    /// `first_port` when none is declared.
    pub const DEFAULT_FIRST_PORT: u32 = 9100;
}

/// VPC endpoint service (PrivateLink).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateLinkSettings {
    /// Whether to create the endpoint service.
    #[schemars(extend("default" = false))]
    pub enabled: Option<Spanned<bool>>,
    /// IAM principals (ARNs) allowed to create endpoints.
    pub allowed_principals: Option<Spanned<Vec<Spanned<String>>>>,
    /// Whether connection requests need manual acceptance.
    #[schemars(extend("default" = PrivateLinkSettings::DEFAULT_ACCEPTANCE_REQUIRED))]
    pub acceptance_required: Option<Spanned<bool>>,
    /// The consumers' VPC CIDRs: the internal NLB sees PrivateLink clients by their own address.
    pub consumer_cidrs: Option<Spanned<Vec<Spanned<String>>>>,
}

impl PrivateLinkSettings {
    /// `acceptance_required` when not declared: connections wait for acceptance.
    pub const DEFAULT_ACCEPTANCE_REQUIRED: bool = true;
}

/// Private CA of the stage.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaSettings {
    /// `create` a new root CA in the stage, or use an `existing` one by ARN.
    pub mode: Option<Spanned<CaMode>>,
    /// ARN of the existing CA (mode existing).
    pub arn: Option<Spanned<String>>,
    /// Key algorithm of the new CA.
    #[schemars(extend("default" = CaSettings::DEFAULT_KEY_ALGORITHM))]
    pub key_algorithm: Option<Spanned<CaKeyAlgorithm>>,
    /// Validity of the new CA in years.
    #[schemars(extend("default" = CaSettings::DEFAULT_VALIDITY_YEARS))]
    pub validity_years: Option<Spanned<u32>>,
    /// Subject common name of the new CA.
    pub common_name: Option<Spanned<String>>,
    /// Subject organisation of the new CA.
    #[schemars(extend("default" = CaSettings::DEFAULT_ORGANIZATION))]
    pub organization: Option<Spanned<String>>,
    /// A rollover to a second CA created beside this one, with overlapping trust
    /// (docs/operators-guide.md, "CA rollover"). Mode `create` only.
    pub rollover: Option<CaRolloverSettings>,
}

/// The second CA of a rollover and how far the rollover is.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaRolloverSettings {
    /// `trust`: the new CA exists and every trust bundle holds both CAs; `issue`: renewals issue
    /// from the new CA; `retire`: the old CA leaves the trust bundles and is disabled. One step at
    /// a time (`gen certs rollover` checks it against the deployed phase).
    pub phase: Option<Spanned<RolloverPhase>>,
    /// Subject common name of the new CA; must differ from the old one's.
    pub common_name: Option<Spanned<String>>,
    /// Key algorithm of the new CA (default: the old one's).
    pub key_algorithm: Option<Spanned<CaKeyAlgorithm>>,
    /// Validity of the new CA in years (default: the old one's).
    pub validity_years: Option<Spanned<u32>>,
}

/// The rule id of a rollover phase that skips one or goes back (checked by `gen certs rollover`
/// against the deployed phase).
pub const ROLLOVER_STEP_RULE: &str = "KP119";

/// The phases of a CA rollover, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RolloverPhase {
    Trust,
    Issue,
    Retire,
}

impl RolloverPhase {
    /// The phase's name as declared.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloverPhase::Trust => "trust",
            RolloverPhase::Issue => "issue",
            RolloverPhase::Retire => "retire",
        }
    }

    /// Reads a declared name.
    pub fn parse(s: &str) -> Option<RolloverPhase> {
        [RolloverPhase::Trust, RolloverPhase::Issue, RolloverPhase::Retire]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    /// May a stage deployed at `deployed` (`None`: no rollover) go to `declared`? Only the same
    /// phase or the next one (KP119): every step has its check (docs/operators-guide.md).
    pub fn step(deployed: Option<RolloverPhase>, declared: Option<RolloverPhase>) -> Result<(), String> {
        let rank = |p: Option<RolloverPhase>| p.map_or(0, |p| p as u8 + 1);
        let (from, to) = (rank(deployed), rank(declared));
        let name = |p: Option<RolloverPhase>| p.map_or("no rollover", RolloverPhase::as_str);
        if to == from || to == from + 1 {
            Ok(())
        } else if to > from {
            Err(format!(
                "the rollover may move one phase at a time: deployed {}, declared {}; declare {} first",
                name(deployed),
                name(declared),
                name(Some(
                    [RolloverPhase::Trust, RolloverPhase::Issue, RolloverPhase::Retire][from as usize]
                ))
            ))
        } else {
            Err(format!(
                "the rollover cannot go back: deployed {}, declared {}",
                name(deployed),
                name(declared)
            ))
        }
    }
}

impl CaSettings {
    /// `validity_years` of a created CA when none is declared.
    pub const DEFAULT_VALIDITY_YEARS: u32 = 10;
    /// `key_algorithm` of a created CA when none is declared.
    pub const DEFAULT_KEY_ALGORITHM: CaKeyAlgorithm = CaKeyAlgorithm::EcPrime256v1;
    /// `organization` of a created CA when none is declared (the common name defaults to
    /// `Kafka <stage> CA`).
    pub const DEFAULT_ORGANIZATION: &'static str = "Kafka Platform";
}

/// Whether the stage creates its CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaMode {
    Create,
    Existing,
}

/// Key algorithms of ACM Private CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum CaKeyAlgorithm {
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    #[serde(rename = "RSA_4096")]
    Rsa4096,
    #[serde(rename = "EC_prime256v1")]
    EcPrime256v1,
    #[serde(rename = "EC_secp384r1")]
    EcSecp384r1,
}

impl CaKeyAlgorithm {
    /// The ACM PCA API name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaKeyAlgorithm::Rsa2048 => "RSA_2048",
            CaKeyAlgorithm::Rsa4096 => "RSA_4096",
            CaKeyAlgorithm::EcPrime256v1 => "EC_prime256v1",
            CaKeyAlgorithm::EcSecp384r1 => "EC_secp384r1",
        }
    }

    /// The signing algorithm ACM PCA uses with this key.
    pub fn signing_algorithm(self) -> &'static str {
        match self {
            CaKeyAlgorithm::Rsa2048 | CaKeyAlgorithm::Rsa4096 => "SHA256WITHRSA",
            CaKeyAlgorithm::EcPrime256v1 => "SHA256WITHECDSA",
            CaKeyAlgorithm::EcSecp384r1 => "SHA384WITHECDSA",
        }
    }
}

/// Leaf certificates issued by the certificate Lambda.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSettings {
    /// Key algorithm of leaf keys made in the Lambda.
    #[schemars(extend("default" = CertificateSettings::DEFAULT_KEY_ALGORITHM))]
    pub key_algorithm: Option<Spanned<LeafKeyAlgorithm>>,
    /// Validity of leaf certificates in days.
    #[schemars(extend("default" = CertificateSettings::DEFAULT_VALIDITY_DAYS))]
    pub validity_days: Option<Spanned<u32>>,
    /// Change to re-issue every certificate of the stage.
    #[schemars(extend("default" = CertificateSettings::DEFAULT_RENEWAL_TOKEN))]
    pub renewal_token: Option<Spanned<String>>,
    /// Renewal window: each certificate renews this many days before it expires, staggered
    /// (2 to half the validity; default 30, or half the validity when that is shorter).
    #[schemars(extend("default" = CertificateSettings::DEFAULT_RENEW_BEFORE_DAYS))]
    pub renew_before_days: Option<Spanned<u32>>,
}

impl CertificateSettings {
    /// `key_algorithm` when none is declared.
    pub const DEFAULT_KEY_ALGORITHM: LeafKeyAlgorithm = LeafKeyAlgorithm::EcPrime256v1;
    /// `validity_days` when none is declared.
    pub const DEFAULT_VALIDITY_DAYS: u32 = 365;
    /// `renew_before_days` when none is declared, or half the validity when that is shorter.
    pub const DEFAULT_RENEW_BEFORE_DAYS: u32 = 30;
    /// `renewal_token` when none is declared.
    pub const DEFAULT_RENEWAL_TOKEN: &'static str = "1";
}

/// Key algorithms the certificate Lambda supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum LeafKeyAlgorithm {
    #[serde(rename = "EC_prime256v1")]
    EcPrime256v1,
    #[serde(rename = "RSA_2048")]
    Rsa2048,
}

impl LeafKeyAlgorithm {
    /// The name the Lambda expects.
    pub fn as_str(self) -> &'static str {
        match self {
            LeafKeyAlgorithm::EcPrime256v1 => "EC_prime256v1",
            LeafKeyAlgorithm::Rsa2048 => "RSA_2048",
        }
    }
}

/// Generated passwords.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// Length (16..=128).
    #[schemars(extend("default" = PasswordSettings::DEFAULT_LENGTH))]
    pub length: Option<Spanned<u32>>,
    /// Characters never used (quotes and the like break JAAS and shell).
    #[schemars(extend("default" = PasswordSettings::DEFAULT_EXCLUDE_CHARACTERS))]
    pub exclude_characters: Option<Spanned<String>>,
    /// Change to rotate every generated password of the stage.
    #[schemars(extend("default" = PasswordSettings::DEFAULT_ROTATION_TOKEN))]
    pub rotation_token: Option<Spanned<String>>,
    /// Change an account's token to rotate that SCRAM account's password alone (account -> token).
    pub account_rotation_tokens: Option<BTreeMap<String, Spanned<String>>>,
    /// Hours the previous password of a rotated SCRAM account still logs in (1..=720, default 24).
    #[schemars(extend("default" = PasswordSettings::DEFAULT_ROTATION_OVERLAP_HOURS))]
    pub rotation_overlap_hours: Option<Spanned<u32>>,
}

impl PasswordSettings {
    /// `length` when none is declared.
    pub const DEFAULT_LENGTH: u32 = 32;
    /// `exclude_characters` when none is declared: what breaks JAAS, shell and `kafka-storage`.
    pub const DEFAULT_EXCLUDE_CHARACTERS: &'static str = "\"'`\\/@$ ;:,";
    /// `rotation_token` when none is declared.
    pub const DEFAULT_ROTATION_TOKEN: &'static str = "1";
    /// `rotation_overlap_hours` when none is declared.
    pub const DEFAULT_ROTATION_OVERLAP_HOURS: u32 = 24;
}

/// CloudWatch logs.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Retention in days (a value CloudWatch accepts, e.g. 7, 30, 365).
    #[schemars(extend("default" = LogSettings::DEFAULT_RETENTION_DAYS))]
    pub retention_days: Option<Spanned<u32>>,
}

impl LogSettings {
    /// `retention_days` when none is declared.
    pub const DEFAULT_RETENTION_DAYS: u32 = 30;
}

/// The topic policy of a stage.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicPolicySettings {
    /// Partitions when a topic declares none.
    #[schemars(extend("default" = TopicPolicySettings::DEFAULT_PARTITIONS))]
    pub default_partitions: Option<Spanned<u32>>,
    /// Upper bound of partitions per topic.
    #[schemars(extend("default" = TopicPolicySettings::DEFAULT_MAX_PARTITIONS))]
    pub max_partitions: Option<Spanned<u32>>,
    /// Replication factor when a topic declares none.
    pub default_replication_factor: Option<Spanned<u32>>,
    /// Lowest replication factor allowed.
    pub min_replication_factor: Option<Spanned<u32>>,
    /// min.insync.replicas when a topic declares none.
    pub min_insync_replicas: Option<Spanned<u32>>,
    /// Upper bound of retention.ms (-1, infinite, only with allow_infinite_retention).
    pub max_retention_ms: Option<Spanned<i64>>,
    /// Whether retention.ms = -1 is allowed.
    #[schemars(extend("default" = false))]
    pub allow_infinite_retention: Option<Spanned<bool>>,
    /// Topic config keys teams may set.
    pub allowed_config_keys: Option<Spanned<Vec<Spanned<String>>>>,
}

impl TopicPolicySettings {
    /// `default_partitions` when none is declared.
    pub const DEFAULT_PARTITIONS: u32 = 3;
    /// `max_partitions` when none is declared.
    pub const DEFAULT_MAX_PARTITIONS: u32 = 1000;
}

/// Temporary debug access (`gen access grant`, docs/operators-guide.md "Temporary debug access").
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebugAccessSettings {
    /// People who may approve a write grant in a production-like stage (`--approver NAME`); an
    /// approver cannot approve their own grant.
    #[schemars(extend("default" = []))]
    pub approvers: Option<Spanned<Vec<Spanned<String>>>>,
}

/// The reconciler custom resource.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcilerSettings {
    /// Whether the reconciler may delete managed topics and ACLs that are no longer declared.
    #[schemars(extend("default" = false))]
    pub allow_delete: Option<Spanned<bool>>,
}
