//! What the platform owns on a cluster, and so may change: topics under the managed prefixes, and
//! ACLs of managed principals or on managed topics. Internal topics are never owned.

use std::collections::BTreeSet;

use kafka_admin::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType};
use kafka_platform_core::config::project::{
    AclOperation as DeclaredOperation, AclPatternType, AclResourceType,
};
use kafka_platform_core::desired::{DesiredAcl, DesiredState};

/// Topic names that belong to Kafka or to platform components (`__consumer_offsets`,
/// `__transaction_state`, `_schemas`, `_confluent-*`, ...): every name starting with `_`.
/// No topic declaration may use them and the reconciler never changes them.
pub fn is_internal_topic(name: &str) -> bool {
    name.starts_with('_')
}

/// The ownership rules of one desired state.
#[derive(Debug, Clone)]
pub struct Ownership {
    prefixes: Vec<String>,
    principals: BTreeSet<String>,
    declared_topics: BTreeSet<String>,
}

impl Ownership {
    /// Ownership as the desired state declares it: its managed prefixes, the principals of its
    /// service accounts and of its platform bindings, and its declared topics.
    pub fn of(desired: &DesiredState) -> Self {
        Ownership {
            prefixes: desired.managed_topic_prefixes.iter().filter(|p| !p.is_empty()).cloned().collect(),
            principals: desired
                .service_accounts
                .iter()
                .map(|a| a.principal.clone())
                // Both rotation users of a SCRAM account are the account's.
                .chain(
                    desired
                        .service_accounts
                        .iter()
                        .flat_map(|a| a.scram_users.iter().map(|u| format!("User:{u}"))),
                )
                .chain(desired.acls.iter().map(|a| a.principal.clone()))
                .collect(),
            declared_topics: desired.topics.iter().map(|t| t.name.clone()).collect(),
        }
    }

    /// Whether `name` is under a managed prefix (and not internal).
    pub fn is_managed_topic_name(&self, name: &str) -> bool {
        !is_internal_topic(name) && self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// Whether the reconciler looks at this topic at all: managed or declared, never internal.
    pub fn observes_topic(&self, name: &str) -> bool {
        !is_internal_topic(name) && (self.is_managed_topic_name(name) || self.declared_topics.contains(name))
    }

    /// Whether an ACL on the cluster is the platform's to keep in line with the declaration.
    ///
    /// Owned: ALLOW bindings whose principal is managed or whose topic (or topic prefix) lies under
    /// a managed prefix. Never owned: DENY bindings (revoking a deny would widen access, so they
    /// are left to the operator) and bindings on internal topics (the declared platform bindings
    /// on them are still created, just never removed).
    pub fn owns_acl(&self, acl: &AclBinding) -> bool {
        if acl.permission != AclPermission::Allow {
            return false;
        }
        let on_topic = acl.resource_type == ResourceType::Topic;
        if on_topic && is_internal_topic(&acl.resource_name) {
            return false;
        }
        self.principals.contains(&acl.principal)
            || (on_topic && self.is_managed_topic_name(&acl.resource_name))
    }
}

/// The Kafka binding of a declared ACL (always ALLOW).
pub fn binding_of(acl: &DesiredAcl) -> AclBinding {
    let resource_type = match acl.resource_type {
        AclResourceType::Topic => ResourceType::Topic,
        AclResourceType::Group => ResourceType::Group,
        AclResourceType::TransactionalId => ResourceType::TransactionalId,
        AclResourceType::Cluster => ResourceType::Cluster,
    };
    let resource_name = if acl.resource_type == AclResourceType::Cluster {
        // Kafka knows the cluster resource only by this name.
        kafka_admin::CLUSTER_RESOURCE_NAME.to_string()
    } else {
        acl.resource_name.clone()
    };
    let operation = match acl.operation {
        DeclaredOperation::Read => AclOperation::Read,
        DeclaredOperation::Write => AclOperation::Write,
        DeclaredOperation::Create => AclOperation::Create,
        DeclaredOperation::Delete => AclOperation::Delete,
        DeclaredOperation::Alter => AclOperation::Alter,
        DeclaredOperation::Describe => AclOperation::Describe,
        DeclaredOperation::DescribeConfigs => AclOperation::DescribeConfigs,
        DeclaredOperation::AlterConfigs => AclOperation::AlterConfigs,
        DeclaredOperation::IdempotentWrite => AclOperation::IdempotentWrite,
    };
    let pattern_type = match acl.pattern_type {
        AclPatternType::Literal => PatternType::Literal,
        AclPatternType::Prefixed => PatternType::Prefixed,
    };
    AclBinding {
        resource_type,
        resource_name,
        pattern_type,
        principal: acl.principal.clone(),
        host: acl.host.clone(),
        operation,
        permission: AclPermission::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{acl, desired};

    #[test]
    fn internal_topics_are_never_managed_even_under_an_empty_looking_prefix() {
        let d = desired();
        let o = Ownership::of(&d);
        for name in ["__consumer_offsets", "__transaction_state", "_schemas", "_confluent-license"] {
            assert!(is_internal_topic(name));
            assert!(!o.observes_topic(name), "{name}");
        }
        assert!(o.is_managed_topic_name("orders.placed.v1"));
        assert!(!o.is_managed_topic_name("legacy.placed"));
        assert!(!o.is_managed_topic_name("orders"), "a prefix matches with its dot only");
    }

    #[test]
    fn acls_are_owned_by_principal_or_by_managed_topic_but_never_deny_or_internal() {
        let o = Ownership::of(&desired());
        let managed_principal = acl("User:orders-app", ResourceType::Topic, "legacy", AclOperation::Read);
        assert!(o.owns_acl(&managed_principal));
        let other_on_managed_topic = acl("User:someone", ResourceType::Topic, "orders.x", AclOperation::Read);
        assert!(o.owns_acl(&other_on_managed_topic));
        let unrelated = acl("User:someone", ResourceType::Topic, "legacy", AclOperation::Read);
        assert!(!o.owns_acl(&unrelated));
        let unrelated_group = acl("User:someone", ResourceType::Group, "orders.x", AclOperation::Read);
        assert!(!o.owns_acl(&unrelated_group), "groups are not topics");
        let deny = AclBinding { permission: AclPermission::Deny, ..managed_principal.clone() };
        assert!(!o.owns_acl(&deny));
        let internal = acl("User:orders-app", ResourceType::Topic, "__consumer_offsets", AclOperation::Read);
        assert!(!o.owns_acl(&internal));
    }

    #[test]
    fn declared_cluster_bindings_use_kafkas_cluster_resource_name() {
        let d = DesiredAcl {
            principal: "User:ops".into(),
            resource_type: AclResourceType::Cluster,
            pattern_type: AclPatternType::Literal,
            resource_name: "cluster".into(),
            operation: DeclaredOperation::IdempotentWrite,
            host: "*".into(),
        };
        let b = binding_of(&d);
        assert_eq!(b.resource_name, "kafka-cluster");
        assert_eq!(b.operation, AclOperation::IdempotentWrite);
        assert_eq!(b.permission, AclPermission::Allow);
    }
}
