//! Who writes and who reads each topic, from the stage's ACL bindings (those that `produces` and
//! `consumes` generate and the explicit ones), literal and prefixed alike.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::project::{AclOperation, AclPatternType, AclResourceType};
use crate::model::StageModel;

/// The accounts that may write to and read from one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicAccess {
    pub producers: BTreeSet<String>,
    pub consumers: BTreeSet<String>,
}

/// Access per declared topic, by topic name; accounts by name (the principal without `User:`).
/// Only the stage's service accounts count (platform principals are not clients).
pub fn by_topic(model: &StageModel) -> BTreeMap<String, TopicAccess> {
    let accounts: BTreeSet<String> = model.service_accounts.iter().map(|a| a.name.value.clone()).collect();
    let mut out: BTreeMap<String, TopicAccess> =
        model.topics.iter().map(|t| (t.name.value.clone(), TopicAccess::default())).collect();
    for binding in &model.acls {
        if binding.resource_type != AclResourceType::Topic {
            continue;
        }
        let Some(account) = binding.principal.strip_prefix("User:").filter(|a| accounts.contains(*a)) else {
            continue;
        };
        for (topic, access) in out.iter_mut() {
            let matches = match binding.pattern_type {
                AclPatternType::Literal => *topic == binding.resource_name,
                AclPatternType::Prefixed => topic.starts_with(&binding.resource_name),
            };
            if !matches {
                continue;
            }
            match binding.operation {
                AclOperation::Write => {
                    access.producers.insert(account.to_string());
                }
                AclOperation::Read => {
                    access.consumers.insert(account.to_string());
                }
                _ => {}
            }
        }
    }
    out
}
