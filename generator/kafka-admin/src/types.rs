//! The values the admin operations take and return, in Kafka's own vocabulary but typed.

use std::collections::BTreeMap;

/// Defines a Kafka wire enum: a Rust enum with an `Unknown(i8)` catch-all for codes a newer broker
/// may send, the wire code, and Kafka's upper-case name (used by Display and FromStr, as in
/// `kafka-acls.sh` output).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A code this client does not know.
            Unknown(i8),
        }

        impl $name {
            /// The code on the wire.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code,)* $name::Unknown(c) => c }
            }

            /// The value for a wire code.
            pub fn from_code(code: i8) -> Self {
                match code { $($code => $name::$variant,)* other => $name::Unknown(other) }
            }

            /// Kafka's name, e.g. `PREFIXED`.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* $name::Unknown(_) => "UNKNOWN" }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $name::Unknown(c) => write!(f, "UNKNOWN({c})"),
                    other => f.write_str(other.as_str()),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            /// Accepts Kafka's names in any case, with `-` or `_`.
            fn from_str(s: &str) -> Result<Self, String> {
                let norm = s.trim().to_ascii_uppercase().replace('-', "_");
                match norm.as_str() {
                    $($text => Ok($name::$variant),)*
                    _ => Err(format!(
                        "unknown {} '{s}' (expected one of: {})",
                        stringify!($name),
                        [$($text),*].join(", ")
                    )),
                }
            }
        }
    };
}

wire_enum! {
    /// The kind of resource an ACL applies to.
    ResourceType {
        /// Matches every type (filters only).
        Any = 1 => "ANY",
        /// A topic.
        Topic = 2 => "TOPIC",
        /// A consumer group.
        Group = 3 => "GROUP",
        /// The cluster (name `kafka-cluster`).
        Cluster = 4 => "CLUSTER",
        /// A transactional id.
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        /// A delegation token.
        DelegationToken = 6 => "DELEGATION_TOKEN",
        /// A user (for CreateTokens/DescribeTokens).
        User = 7 => "USER",
    }
}

wire_enum! {
    /// How an ACL's resource name is matched.
    PatternType {
        /// Any pattern type (filters only).
        Any = 1 => "ANY",
        /// Every binding that would apply to the name (filters only).
        Match = 2 => "MATCH",
        /// The exact name (or `*`).
        Literal = 3 => "LITERAL",
        /// Every name that starts with the given prefix.
        Prefixed = 4 => "PREFIXED",
    }
}

wire_enum! {
    /// What an ACL allows or denies.
    AclOperation {
        /// Any operation (filters only).
        Any = 1 => "ANY",
        /// Every operation.
        All = 2 => "ALL",
        /// Read (consume, fetch offsets).
        Read = 3 => "READ",
        /// Write (produce).
        Write = 4 => "WRITE",
        /// Create.
        Create = 5 => "CREATE",
        /// Delete.
        Delete = 6 => "DELETE",
        /// Alter.
        Alter = 7 => "ALTER",
        /// Describe.
        Describe = 8 => "DESCRIBE",
        /// Inter-broker actions.
        ClusterAction = 9 => "CLUSTER_ACTION",
        /// Describe configurations.
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        /// Alter configurations.
        AlterConfigs = 11 => "ALTER_CONFIGS",
        /// Idempotent produce.
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        /// Create delegation tokens.
        CreateTokens = 13 => "CREATE_TOKENS",
        /// Describe delegation tokens.
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
        /// Two-phase commit of transactions.
        TwoPhaseCommit = 15 => "TWO_PHASE_COMMIT",
    }
}

wire_enum! {
    /// Whether an ACL allows or denies.
    AclPermission {
        /// Either (filters only).
        Any = 1 => "ANY",
        /// Deny; wins over any allow.
        Deny = 2 => "DENY",
        /// Allow.
        Allow = 3 => "ALLOW",
    }
}

wire_enum! {
    /// The kind of resource a configuration belongs to.
    ConfigResourceType {
        /// A topic.
        Topic = 2 => "TOPIC",
        /// A broker (name = node id, or empty for the cluster-wide default).
        Broker = 4 => "BROKER",
        /// A broker's loggers.
        BrokerLogger = 8 => "BROKER_LOGGER",
        /// Client metrics subscriptions.
        ClientMetrics = 16 => "CLIENT_METRICS",
        /// A consumer group.
        Group = 32 => "GROUP",
    }
}

wire_enum! {
    /// Where a configuration value comes from.
    ConfigSource {
        /// Set on the topic (what a topic declaration manages).
        DynamicTopic = 1 => "DYNAMIC_TOPIC_CONFIG",
        /// Set dynamically for one broker.
        DynamicBroker = 2 => "DYNAMIC_BROKER_CONFIG",
        /// Set dynamically as the default of all brokers.
        DynamicDefaultBroker = 3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        /// From the broker's server.properties.
        StaticBroker = 4 => "STATIC_BROKER_CONFIG",
        /// Kafka's built-in default.
        Default = 5 => "DEFAULT_CONFIG",
        /// Set dynamically for a broker logger.
        DynamicBrokerLogger = 6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        /// A client metrics subscription.
        ClientMetrics = 7 => "CLIENT_METRICS_CONFIG",
        /// Set on a group.
        Group = 8 => "GROUP_CONFIG",
    }
}

/// The name of the cluster resource in ACLs.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";

/// One ACL: `principal` may (or may not) do `operation` on the resource from `host`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// Kind of resource.
    pub resource_type: ResourceType,
    /// Resource name, prefix, or `*`.
    pub resource_name: String,
    /// Literal or prefixed.
    pub pattern_type: PatternType,
    /// e.g. `User:orders-producer`.
    pub principal: String,
    /// `*` for any host.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

impl AclBinding {
    /// An ALLOW binding from any host, the usual kind.
    pub fn allow(
        resource_type: ResourceType,
        resource_name: impl Into<String>,
        pattern_type: PatternType,
        principal: impl Into<String>,
        operation: AclOperation,
    ) -> Self {
        AclBinding {
            resource_type,
            resource_name: resource_name.into(),
            pattern_type,
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission: AclPermission::Allow,
        }
    }
}

impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} on {}:{}:{} from {}",
            self.principal,
            self.permission,
            self.operation,
            self.resource_type,
            self.pattern_type,
            self.resource_name,
            self.host
        )
    }
}

/// Selects ACL bindings to describe or delete; `None` and the `Any` values match everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclFilter {
    /// Kind of resource, or `Any`.
    pub resource_type: ResourceType,
    /// Exact resource name (with `Match`: every binding that applies to it).
    pub resource_name: Option<String>,
    /// Pattern type, `Any` or `Match`.
    pub pattern_type: PatternType,
    /// Exact principal.
    pub principal: Option<String>,
    /// Exact host.
    pub host: Option<String>,
    /// Operation, or `Any`.
    pub operation: AclOperation,
    /// Permission, or `Any`.
    pub permission: AclPermission,
}

impl AclFilter {
    /// Matches every binding.
    pub fn any() -> Self {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Matches exactly this binding (to delete it and nothing else).
    pub fn exact(binding: &AclBinding) -> Self {
        AclFilter {
            resource_type: binding.resource_type,
            resource_name: Some(binding.resource_name.clone()),
            pattern_type: binding.pattern_type,
            principal: Some(binding.principal.clone()),
            host: Some(binding.host.clone()),
            operation: binding.operation,
            permission: binding.permission,
        }
    }
}

/// A configuration resource: a topic, a broker (by node id), ...
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// What kind.
    pub kind: ConfigResourceType,
    /// Topic name, broker id, ...
    pub name: String,
}

impl ConfigResource {
    /// A topic's configuration.
    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource { kind: ConfigResourceType::Topic, name: name.into() }
    }

    /// One broker's configuration.
    pub fn broker(node_id: i32) -> Self {
        ConfigResource { kind: ConfigResourceType::Broker, name: node_id.to_string() }
    }
}

impl std::fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str().to_ascii_lowercase().replace('_', " "), self.name)
    }
}

/// One configuration entry as the broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key, e.g. `retention.ms`.
    pub name: String,
    /// The value; `None` for sensitive values and unset ones.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it can be changed at run time.
    pub read_only: bool,
    /// Whether the value is a secret (and so not returned).
    pub sensitive: bool,
}

impl ConfigEntry {
    /// Whether the value was set on the resource itself (for a topic: a topic-level override).
    pub fn is_set_on_resource(&self, kind: ConfigResourceType) -> bool {
        match kind {
            ConfigResourceType::Topic => self.source == ConfigSource::DynamicTopic,
            ConfigResourceType::Broker => self.source == ConfigSource::DynamicBroker,
            ConfigResourceType::BrokerLogger => self.source == ConfigSource::DynamicBrokerLogger,
            ConfigResourceType::ClientMetrics => self.source == ConfigSource::ClientMetrics,
            ConfigResourceType::Group => self.source == ConfigSource::Group,
            ConfigResourceType::Unknown(_) => false,
        }
    }
}

/// One incremental change to a configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set the key to a value.
    Set(String),
    /// Remove the override, back to the inherited value.
    Delete,
    /// Add to a list-valued key.
    Append(String),
    /// Remove from a list-valued key.
    Subtract(String),
}

impl ConfigOp {
    pub(crate) fn code(&self) -> i8 {
        match self {
            ConfigOp::Set(_) => 0,
            ConfigOp::Delete => 1,
            ConfigOp::Append(_) => 2,
            ConfigOp::Subtract(_) => 3,
        }
    }

    pub(crate) fn value(&self) -> Option<&str> {
        match self {
            ConfigOp::Set(v) | ConfigOp::Append(v) | ConfigOp::Subtract(v) => Some(v),
            ConfigOp::Delete => None,
        }
    }
}

/// The changes for one resource; all of them are applied atomically by the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChanges {
    /// The resource.
    pub resource: ConfigResource,
    /// Key -> change.
    pub changes: BTreeMap<String, ConfigOp>,
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i16,
    /// Topic-level configuration overrides.
    pub configs: BTreeMap<String, String>,
}

/// A partition increase for an existing topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The topic.
    pub topic: String,
    /// The new total number of partitions (must be larger than the current one).
    pub total: i32,
}

/// A broker of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Host as advertised on the listener the client used.
    pub host: String,
    /// Port on that listener.
    pub port: i32,
    /// Rack, when configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition number.
    pub index: i32,
    /// Leader node id, -1 when none.
    pub leader: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline: Vec<i32>,
}

/// A topic as the cluster's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id in Kafka's base64 form (as the Kafka tools print it).
    pub topic_id: String,
    /// Whether Kafka marks it internal (`__consumer_offsets`, `__transaction_state`, ...).
    pub internal: bool,
    /// Partitions, ordered by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The replication factor: the replica count of the partitions (the smallest, should they differ
    /// during a reassignment).
    pub fn replication_factor(&self) -> usize {
        self.partitions.iter().map(|p| p.replicas.len()).min().unwrap_or(0)
    }
}

/// The cluster as one Metadata response describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The node that takes controller-bound requests (in KRaft a broker that forwards them).
    pub controller_id: i32,
    /// Brokers, ordered by node id.
    pub brokers: Vec<BrokerInfo>,
    /// Topics, ordered by name (only those asked for, or all).
    pub topics: Vec<TopicInfo>,
}

/// A SCRAM credential's public part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: crate::scram::ScramMechanism,
    /// The iteration count.
    pub iterations: i32,
}

/// Create or replace a user's SCRAM credential. The password is salted and hashed here; only the
/// salted password travels to the broker.
#[derive(Debug, Clone)]
pub struct ScramUpsert {
    /// User name (principal `User:<user>`).
    pub user: String,
    /// The mechanism.
    pub mechanism: crate::scram::ScramMechanism,
    /// Iterations (Kafka accepts 4096..=16384).
    pub iterations: i32,
    /// The password.
    pub password: crate::secret::Secret,
}

/// Remove a user's SCRAM credential for one mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramDeletion {
    /// User name.
    pub user: String,
    /// The mechanism.
    pub mechanism: crate::scram::ScramMechanism,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_enums_round_trip_codes_and_names() {
        assert_eq!(AclOperation::from_code(3), AclOperation::Read);
        assert_eq!(AclOperation::Read.code(), 3);
        assert_eq!(AclOperation::from_code(99), AclOperation::Unknown(99));
        assert_eq!(AclOperation::Unknown(99).code(), 99);
        assert_eq!("idempotent-write".parse::<AclOperation>().unwrap(), AclOperation::IdempotentWrite);
        assert_eq!(PatternType::Prefixed.to_string(), "PREFIXED");
        let e = "sideways".parse::<AclPermission>().unwrap_err();
        assert!(e.contains("ANY, DENY, ALLOW"), "{e}");
        assert_eq!(ConfigSource::from_code(1), ConfigSource::DynamicTopic);
    }

    #[test]
    fn acl_binding_reads_like_kafka_acls() {
        let b = AclBinding::allow(
            ResourceType::Topic,
            "orders.",
            PatternType::Prefixed,
            "User:app",
            AclOperation::Write,
        );
        assert_eq!(b.to_string(), "User:app ALLOW WRITE on TOPIC:PREFIXED:orders. from *");
        let f = AclFilter::exact(&b);
        assert_eq!(f.principal.as_deref(), Some("User:app"));
        assert_eq!(f.pattern_type, PatternType::Prefixed);
    }

    #[test]
    fn replication_factor_is_the_smallest_replica_count() {
        let p =
            |r: Vec<i32>| PartitionInfo { index: 0, leader: 1, isr: r.clone(), replicas: r, offline: vec![] };
        let t = TopicInfo {
            name: "t".into(),
            topic_id: String::new(),
            internal: false,
            partitions: vec![p(vec![1, 2, 3]), p(vec![1, 2])],
        };
        assert_eq!(t.replication_factor(), 2);
    }

    #[test]
    fn topic_overrides_are_recognised() {
        let e = ConfigEntry {
            name: "retention.ms".into(),
            value: Some("1".into()),
            source: ConfigSource::DynamicTopic,
            read_only: false,
            sensitive: false,
        };
        assert!(e.is_set_on_resource(ConfigResourceType::Topic));
        assert!(
            !ConfigEntry { source: ConfigSource::Default, ..e }.is_set_on_resource(ConfigResourceType::Topic)
        );
    }
}
