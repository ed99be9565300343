//! `topic_policy` (KP113): the stage's defaults and bounds for topics.

use super::Required;
use crate::config::stage::TopicPolicySettings;
use crate::diagnostics::Finding;
use crate::model::TopicPolicy;
use crate::span::Spanned;

/// The topic policy (replication, ISR, retention and config keys are required); `None` when one
/// is missing. `brokers` bounds the default replication factor.
pub fn resolve(
    p: Option<&TopicPolicySettings>,
    brokers: Option<u32>,
    r: &mut Required<'_>,
) -> Option<TopicPolicy> {
    let p = p.cloned().unwrap_or_default();
    let default_rf =
        r.get(p.default_replication_factor.as_ref(), "topic_policy.default_replication_factor")?;
    let min_rf = r.get(p.min_replication_factor.as_ref(), "topic_policy.min_replication_factor")?;
    let min_isr = r.get(p.min_insync_replicas.as_ref(), "topic_policy.min_insync_replicas")?;
    let max_retention = r.get(p.max_retention_ms.as_ref(), "topic_policy.max_retention_ms")?;
    let allowed = r.get(p.allowed_config_keys.as_ref(), "topic_policy.allowed_config_keys")?;
    let default_partitions = p
        .default_partitions
        .clone()
        .unwrap_or_else(|| Spanned::generated(TopicPolicySettings::DEFAULT_PARTITIONS));
    let max_partitions = p
        .max_partitions
        .clone()
        .unwrap_or_else(|| Spanned::generated(TopicPolicySettings::DEFAULT_MAX_PARTITIONS));
    if min_rf.value < 1 || min_rf.value > default_rf.value {
        r.push(Finding::error(
            "KP113",
            &min_rf.location,
            format!("minimum replication factor {} above the default {}", min_rf.value, default_rf.value),
        ));
    }
    if let Some(brokers) = brokers
        && default_rf.value > brokers
    {
        r.push(Finding::error(
            "KP113",
            &default_rf.location,
            format!("default replication factor {} with {brokers} brokers", default_rf.value),
        ));
    }
    if min_isr.value < 1 || (min_isr.value >= default_rf.value && default_rf.value > 1) {
        r.push(Finding::error("KP113", &min_isr.location, format!("min.insync.replicas {} with default replication factor {}", min_isr.value, default_rf.value))
            .hint("min.insync.replicas must be below the replication factor, or one broker down stops all producers"));
    }
    if max_retention.value < 1 {
        r.push(
            Finding::error("KP113", &max_retention.location, "max_retention_ms must be positive")
                .hint("allow infinite retention with allow_infinite_retention: true"),
        );
    }
    for key in &allowed.value {
        if crate::validate::kafka_configs::spec(key).is_none() {
            r.push(Finding::error(
                "KP113",
                &key.location,
                format!("`{}` is not a topic config Kafka knows", key.value),
            ));
        }
    }
    Some(TopicPolicy {
        default_partitions,
        max_partitions,
        default_replication_factor: default_rf,
        min_replication_factor: min_rf,
        min_insync_replicas: min_isr,
        max_retention_ms: max_retention,
        allow_infinite_retention: p.allow_infinite_retention.as_ref().is_some_and(|a| a.value),
        allowed_config_keys: allowed.value.into_iter().map(|k| k.value).collect(),
    })
}
