//! Merging a stage file over the shared defaults: a value set in the stage wins, sections merge
//! field by field, lists are replaced whole, tag maps are united.

use std::collections::BTreeMap;

use crate::config::monitoring::{DriftCheckSettings, MonitoringSettings, ThresholdSettings};
use crate::config::stage::*;
use crate::span::Spanned;

/// Merge `self` (the more specific declaration) over `base`.
pub trait Merge {
    /// Returns `self` with every unset value taken from `base`.
    fn merge(self, base: Self) -> Self;
}

impl<T> Merge for Spanned<T> {
    fn merge(self, _base: Self) -> Self {
        self
    }
}

impl<T: Merge> Merge for Option<T> {
    fn merge(self, base: Self) -> Self {
        match (self, base) {
            (Some(over), Some(base)) => Some(over.merge(base)),
            (over, base) => over.or(base),
        }
    }
}

impl<V> Merge for BTreeMap<String, V> {
    fn merge(mut self, base: Self) -> Self {
        for (key, value) in base {
            self.entry(key).or_insert(value);
        }
        self
    }
}

macro_rules! merge_fields {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl Merge for $ty {
            fn merge(self, base: Self) -> Self {
                $ty { $($field: self.$field.merge(base.$field)),* }
            }
        }
    )*};
}

merge_fields! {
    StageSettings {
        stage, account_id, region, naming, network, cluster, schema_registry, dns, public_endpoint,
        private_link, certificate_authority, certificates, passwords, logs, cidr_policy, topic_policy,
        reconciler, monitoring, debug_access, tags,
    }
    CidrPolicySettings { client_ipv4_prefix, client_ipv6_prefix, public_ipv4_prefix, public_ipv6_prefix }
    NamingSettings { resource_prefix, topic_pattern, service_account_pattern, project_pattern }
    NetworkSettings { vpc_id, vpc_cidr, subnet_ids, availability_zones, client_cidrs, nat, vpc_endpoints }
    VpcEndpointSettings { enabled, route_table_ids }
    ClusterSettings {
        brokers, controllers, instance_type, storage, image, broker_heap_mib, broker_memory_mib,
        authentication,
    }
    ControllerSettings { mode, count, heap_mib }
    StorageSettings { size_gib, volume_type, throughput_mibps, iops }
    ImageSettings { repository, tag }
    AuthenticationSettings { scram, mtls }
    SchemaRegistrySettings { enabled, instances, image, proxy_image, compatibility }
    DnsSettings { zone_name }
    PublicEndpointSettings { enabled, subnet_ids, allowed_cidrs, dns_name, first_port, hosted_zone_id }
    PrivateLinkSettings { enabled, allowed_principals, acceptance_required, consumer_cidrs }
    CaSettings { mode, arn, key_algorithm, validity_years, common_name, organization, rollover }
    CaRolloverSettings { phase, common_name, key_algorithm, validity_years }
    CertificateSettings { key_algorithm, validity_days, renewal_token, renew_before_days }
    PasswordSettings { length, exclude_characters, rotation_token, account_rotation_tokens, rotation_overlap_hours }
    LogSettings { retention_days }
    TopicPolicySettings {
        default_partitions, max_partitions, default_replication_factor, min_replication_factor,
        min_insync_replicas, max_retention_ms, allow_infinite_retention, allowed_config_keys,
    }
    ReconcilerSettings { allow_delete }
    DebugAccessSettings { approvers }
}

impl Merge for MonitoringSettings {
    fn merge(self, base: Self) -> Self {
        MonitoringSettings {
            alarm_subscriptions: self.alarm_subscriptions.merge(base.alarm_subscriptions),
            thresholds: self.thresholds.merge(base.thresholds),
            drift_check: self.drift_check.merge(base.drift_check),
        }
    }
}

impl Merge for ThresholdSettings {
    fn merge(self, b: Self) -> Self {
        ThresholdSettings {
            under_replicated_partitions: self
                .under_replicated_partitions
                .merge(b.under_replicated_partitions),
            under_min_isr_partitions: self.under_min_isr_partitions.merge(b.under_min_isr_partitions),
            offline_partitions: self.offline_partitions.merge(b.offline_partitions),
            disk_used_percent: self.disk_used_percent.merge(b.disk_used_percent),
            cpu_percent: self.cpu_percent.merge(b.cpu_percent),
            memory_percent: self.memory_percent.merge(b.memory_percent),
            certificate_days_left: self.certificate_days_left.merge(b.certificate_days_left),
            drift_pending_changes: self.drift_pending_changes.merge(b.drift_pending_changes),
            evaluation_minutes: self.evaluation_minutes.merge(b.evaluation_minutes),
        }
    }
}

impl Merge for DriftCheckSettings {
    fn merge(self, b: Self) -> Self {
        DriftCheckSettings {
            interval_minutes: self.interval_minutes.merge(b.interval_minutes),
            mode: self.mode.merge(b.mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brokers(n: u32) -> Option<ClusterSettings> {
        Some(ClusterSettings { brokers: Some(Spanned::generated(n)), ..Default::default() })
    }

    #[test]
    fn stage_value_wins_and_missing_values_come_from_defaults() {
        let defaults = StageSettings {
            region: Some(Spanned::generated("eu-west-1".into())),
            cluster: Some(ClusterSettings {
                instance_type: Some(Spanned::generated("m6i.large".into())),
                ..brokers(3).unwrap()
            }),
            ..Default::default()
        };
        let stage = StageSettings { cluster: brokers(1), ..Default::default() };
        let merged = stage.merge(defaults);
        let cluster = merged.cluster.unwrap();
        assert_eq!(*cluster.brokers.unwrap(), 1);
        assert_eq!(cluster.instance_type.unwrap().value, "m6i.large");
        assert_eq!(merged.region.unwrap().value, "eu-west-1");
    }

    #[test]
    fn tags_are_united_with_stage_winning() {
        let tag = |v: &str| Spanned::generated(v.to_string());
        let defaults = StageSettings {
            tags: Some(BTreeMap::from([("a".into(), tag("1")), ("b".into(), tag("2"))])),
            ..Default::default()
        };
        let stage =
            StageSettings { tags: Some(BTreeMap::from([("b".into(), tag("3"))])), ..Default::default() };
        let tags = stage.merge(defaults).tags.unwrap();
        assert_eq!(tags["a"].value, "1");
        assert_eq!(tags["b"].value, "3");
    }
}
