//! Builders for the unit tests: a small desired state and observed clusters.

use std::collections::BTreeMap;

use kafka_admin::{AclBinding, AclOperation, PatternType, ResourceType};
use kafka_platform_core::config::project::{
    AclOperation as Op, AclPatternType, AclResourceType, Authentication,
};
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic};

use crate::plan::{ObservedState, ObservedTopic};

/// A literal ALLOW binding from any host.
pub fn acl(principal: &str, resource_type: ResourceType, name: &str, operation: AclOperation) -> AclBinding {
    AclBinding::allow(resource_type, name, PatternType::Literal, principal, operation)
}

/// A declared literal topic binding.
pub fn declared_acl(principal: &str, topic: &str, operation: Op) -> DesiredAcl {
    DesiredAcl {
        principal: principal.into(),
        resource_type: AclResourceType::Topic,
        pattern_type: AclPatternType::Literal,
        resource_name: topic.into(),
        operation,
        host: "*".into(),
    }
}

pub fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Stage `dev` owning `orders.`: topic orders.placed.v1 (3 partitions, RF 3, retention.ms), a SCRAM
/// producer `orders-app` and an mTLS consumer `orders-audit`, and their bindings.
pub fn desired() -> DesiredState {
    DesiredState {
        format_version: kafka_platform_core::desired::FORMAT_VERSION,
        stage: "dev".into(),
        managed_topic_prefixes: vec!["orders.".into()],
        allow_delete: true,
        projects: Vec::new(),
        topics: vec![DesiredTopic {
            name: "orders.placed.v1".into(),
            project: "orders".into(),
            partitions: 3,
            replication_factor: 3,
            configs: configs(&[("retention.ms", "604800000")]),
        }],
        service_accounts: vec![
            DesiredAccount {
                name: "orders-app".into(),
                project: "orders".into(),
                principal: "User:orders-app".into(),
                authentication: Authentication::Scram,
                password_parameter: Some("/kafka/dev/service-accounts/orders-app/password".into()),
                scram_users: Vec::new(),
                rotation_token: None,
            },
            DesiredAccount {
                name: "orders-audit".into(),
                project: "orders".into(),
                principal: "User:orders-audit".into(),
                authentication: Authentication::Mtls,
                password_parameter: None,
                scram_users: Vec::new(),
                rotation_token: None,
            },
        ],
        acls: vec![
            declared_acl("User:orders-app", "orders.placed.v1", Op::Write),
            declared_acl("User:orders-app", "orders.placed.v1", Op::Describe),
            declared_acl("User:orders-audit", "orders.placed.v1", Op::Read),
        ],
        subjects: Vec::new(),
        rotation_overlap_hours: 24,
    }
}

/// A cluster that already matches [`desired`].
pub fn in_sync() -> ObservedState {
    let d = desired();
    ObservedState {
        topics: d
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    ObservedTopic {
                        partitions: t.partitions,
                        replication_factor: t.replication_factor,
                        configs: t.configs.clone(),
                    },
                )
            })
            .collect(),
        acls: d.acls.iter().map(crate::ownership::binding_of).collect(),
        scram_users: [("orders-app".to_string(), vec![kafka_admin::ScramMechanism::Sha512])].into(),
        scram_iterations: [("orders-app".to_string(), kafka_admin::DEFAULT_SCRAM_ITERATIONS)].into(),
        credentials: Default::default(),
        grants: None,
    }
}
