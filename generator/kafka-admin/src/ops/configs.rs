//! DescribeConfigs and IncrementalAlterConfigs.

use std::collections::HashMap;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::client::{AdminClient, Target};
use crate::error::{Error, Result};
use crate::types::{ConfigChanges, ConfigEntry, ConfigResource, ConfigResourceType, ConfigSource};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Broker and broker-logger resources must be handled by the broker they name; an empty name is
/// the cluster-wide default, which any broker (or, for writes, the controller) handles.
fn target_for(resource: &ConfigResource, write: bool) -> Target {
    let own_broker = matches!(resource.kind, ConfigResourceType::Broker | ConfigResourceType::BrokerLogger);
    match resource.name.parse::<i32>() {
        Ok(id) if own_broker => Target::Node(id),
        _ if write => Target::Controller,
        _ => Target::Any,
    }
}

/// Splits items by target, keeping each item's original position.
fn group_by_target<I>(items: &[I], target: impl Fn(&I) -> Target) -> Vec<(Target, Vec<usize>)> {
    let mut groups: Vec<(Target, Vec<usize>)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let t = target(it);
        match groups.iter_mut().find(|(g, _)| *g == t) {
            Some((_, idx)) => idx.push(i),
            None => groups.push((t, vec![i])),
        }
    }
    groups
}

impl AdminClient {
    /// Describes the configuration of each resource (every key, with its source). Results are in
    /// the order of `resources`.
    pub async fn describe_configs(&self, resources: &[ConfigResource]) -> Vec<Result<Vec<ConfigEntry>>> {
        let mut results: Vec<Option<Result<Vec<ConfigEntry>>>> = resources.iter().map(|_| None).collect();
        for (target, indices) in group_by_target(resources, |r| target_for(r, false)) {
            let group: Vec<ConfigResource> = indices.iter().map(|&i| resources[i].clone()).collect();
            let outcome = self
                .batch(&group, async |_, batch| self.describe_configs_once(target, batch).await, |_| None)
                .await;
            for (i, r) in indices.into_iter().zip(outcome) {
                results[i] = Some(r);
            }
        }
        results.into_iter().map(|r| r.expect("every resource has a result")).collect()
    }

    /// The configuration of each resource as broker `node` serves it (its metadata image, which
    /// follows the metadata log asynchronously), in the order of `resources`; one attempt.
    pub async fn describe_configs_on(
        &self,
        node: i32,
        resources: &[ConfigResource],
    ) -> Result<Vec<Result<Vec<ConfigEntry>>>> {
        let mut results = Vec::with_capacity(resources.len());
        for chunk in resources.chunks(self.config().max_batch) {
            results.extend(self.describe_configs_once(Target::Node(node), chunk.to_vec()).await?);
        }
        Ok(results)
    }

    async fn describe_configs_once(
        &self,
        target: Target,
        batch: Vec<ConfigResource>,
    ) -> Result<Vec<Result<Vec<ConfigEntry>>>> {
        let response = self
            .send(target, |_| {
                DescribeConfigsRequest::default().with_resources(
                    batch
                        .iter()
                        .map(|r| {
                            DescribeConfigsResource::default()
                                .with_resource_type(r.kind.code())
                                .with_resource_name(s(&r.name))
                                .with_configuration_keys(None)
                        })
                        .collect(),
                )
            })
            .await?;
        let mut by_resource: HashMap<(i8, String), Result<Vec<ConfigEntry>>> = HashMap::new();
        for r in response.results {
            let resource = ConfigResource {
                kind: ConfigResourceType::from_code(r.resource_type),
                name: r.resource_name.to_string(),
            };
            let result = Error::check_item(
                "DescribeConfigs",
                resource.to_string(),
                r.error_code,
                r.error_message.as_deref(),
            )
            .map(|()| {
                let mut entries: Vec<ConfigEntry> = r
                    .configs
                    .into_iter()
                    .map(|c| ConfigEntry {
                        name: c.name.to_string(),
                        value: c.value.map(|v| v.to_string()),
                        source: ConfigSource::from_code(c.config_source),
                        read_only: c.read_only,
                        sensitive: c.is_sensitive,
                    })
                    .collect();
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                entries
            });
            by_resource.insert((resource.kind.code(), resource.name), result);
        }
        Ok(batch
            .iter()
            .map(|r| {
                by_resource
                    .remove(&(r.kind.code(), r.name.clone()))
                    .unwrap_or_else(|| Err(missing("DescribeConfigs", &r.to_string())))
            })
            .collect())
    }

    /// Applies incremental changes (set, delete, append, subtract) per resource. Topic and default
    /// resources go to the controller, broker resources to their broker; each resource's changes
    /// are applied atomically by Kafka. Results are in the order of `changes`.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[ConfigChanges],
        validate_only: bool,
    ) -> Vec<Result<()>> {
        let mut results: Vec<Option<Result<()>>> = changes.iter().map(|_| None).collect();
        for (target, indices) in group_by_target(changes, |c| target_for(&c.resource, true)) {
            let group: Vec<ConfigChanges> = indices.iter().map(|&i| changes[i].clone()).collect();
            let outcome = self
                .batch(
                    &group,
                    async |_, batch| self.alter_configs_once(target, batch, validate_only).await,
                    |_| None,
                )
                .await;
            for (i, r) in indices.into_iter().zip(outcome) {
                results[i] = Some(r);
            }
        }
        results.into_iter().map(|r| r.expect("every resource has a result")).collect()
    }

    async fn alter_configs_once(
        &self,
        target: Target,
        batch: Vec<ConfigChanges>,
        validate_only: bool,
    ) -> Result<Vec<Result<()>>> {
        let response = self
            .send(target, |_| {
                IncrementalAlterConfigsRequest::default().with_validate_only(validate_only).with_resources(
                    batch
                        .iter()
                        .map(|c| {
                            AlterConfigsResource::default()
                                .with_resource_type(c.resource.kind.code())
                                .with_resource_name(s(&c.resource.name))
                                .with_configs(
                                    c.changes
                                        .iter()
                                        .map(|(key, op)| {
                                            AlterableConfig::default()
                                                .with_name(s(key))
                                                .with_config_operation(op.code())
                                                .with_value(op.value().map(s))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
            })
            .await?;
        let mut by_resource: HashMap<(i8, String), Result<()>> = HashMap::new();
        for r in response.responses {
            let resource = ConfigResource {
                kind: ConfigResourceType::from_code(r.resource_type),
                name: r.resource_name.to_string(),
            };
            let result = Error::check_item(
                "IncrementalAlterConfigs",
                resource.to_string(),
                r.error_code,
                r.error_message.as_deref(),
            );
            by_resource.insert((resource.kind.code(), resource.name), result);
        }
        Ok(batch
            .iter()
            .map(|c| {
                by_resource
                    .remove(&(c.resource.kind.code(), c.resource.name.clone()))
                    .unwrap_or_else(|| Err(missing("IncrementalAlterConfigs", &c.resource.to_string())))
            })
            .collect())
    }
}

/// The broker left an item out of its response (should not happen; reported, never ignored).
pub(crate) fn missing(api: &'static str, what: &str) -> Error {
    Error::Protocol { broker: String::new(), api, reason: format!("the response has no result for {what}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_resources_go_to_their_broker_topics_to_the_controller() {
        assert_eq!(target_for(&ConfigResource::broker(2), true), Target::Node(2));
        assert_eq!(target_for(&ConfigResource::broker(2), false), Target::Node(2));
        assert_eq!(target_for(&ConfigResource::topic("t"), true), Target::Controller);
        assert_eq!(target_for(&ConfigResource::topic("123"), false), Target::Any);
        let default = ConfigResource { kind: ConfigResourceType::Broker, name: String::new() };
        assert_eq!(target_for(&default, true), Target::Controller);
    }

    #[test]
    fn grouping_keeps_positions() {
        let items = [ConfigResource::topic("a"), ConfigResource::broker(1), ConfigResource::topic("b")];
        let groups = group_by_target(&items, |r| target_for(r, true));
        assert_eq!(groups, vec![(Target::Controller, vec![0, 2]), (Target::Node(1), vec![1])]);
    }
}
