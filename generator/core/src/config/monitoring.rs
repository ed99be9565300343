//! `monitoring` of a stage: who is notified of alarms, the alarm thresholds, and the scheduled drift
//! check. Bounds and defaults are in `resolve::monitoring`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::span::Spanned;

/// Alarms, dashboard and the scheduled drift check of a stage.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSettings {
    /// Subscriptions of the stage's alarm topic (the list replaces the defaults' list).
    pub alarm_subscriptions: Option<Spanned<Vec<Spanned<AlarmSubscription>>>>,
    /// Alarm thresholds; each unset one takes its default.
    pub thresholds: Option<ThresholdSettings>,
    /// The scheduled plan-only run of the reconciler.
    pub drift_check: Option<DriftCheckSettings>,
}

/// One subscription of the alarm topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmSubscription {
    /// `email` (confirmed by the recipient), `https` (an incident tool's webhook) or `sqs` (a queue ARN).
    pub protocol: SubscriptionProtocol,
    /// The address, URL or queue ARN.
    pub endpoint: String,
}

/// SNS protocols an alarm subscription may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionProtocol {
    Email,
    Https,
    Sqs,
}

impl SubscriptionProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionProtocol::Email => "email",
            SubscriptionProtocol::Https => "https",
            SubscriptionProtocol::Sqs => "sqs",
        }
    }
}

/// Alarm thresholds. An alarm fires when its metric is beyond the threshold for
/// `evaluation_minutes` one-minute periods in a row.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSettings {
    /// Alarm above this many under-replicated partitions on any broker.
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_UNDER_REPLICATED_PARTITIONS))]
    pub under_replicated_partitions: Option<Spanned<u32>>,
    /// Alarm above this many partitions under min.insync.replicas on any broker.
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_UNDER_MIN_ISR_PARTITIONS))]
    pub under_min_isr_partitions: Option<Spanned<u32>>,
    /// Alarm above this many offline partitions.
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_OFFLINE_PARTITIONS))]
    pub offline_partitions: Option<Spanned<u32>>,
    /// Alarm above this share of a node's data volume in use (percent).
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_DISK_USED_PERCENT))]
    pub disk_used_percent: Option<Spanned<u32>>,
    /// Alarm above this CPU load of a node (percent).
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_CPU_PERCENT))]
    pub cpu_percent: Option<Spanned<u32>>,
    /// Alarm above this share of a node's container memory in use (percent).
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_MEMORY_PERCENT))]
    pub memory_percent: Option<Spanned<u32>>,
    /// Alarm when a certificate has fewer days left than this.
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_CERTIFICATE_DAYS_LEFT))]
    pub certificate_days_left: Option<Spanned<u32>>,
    /// Alarm when the scheduled drift check finds more pending changes than this.
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_DRIFT_PENDING_CHANGES))]
    pub drift_pending_changes: Option<Spanned<u32>>,
    /// Consecutive one-minute periods beyond a threshold before an alarm fires.
    #[schemars(extend("default" = ThresholdSettings::DEFAULT_EVALUATION_MINUTES))]
    pub evaluation_minutes: Option<Spanned<u32>>,
}

/// Each threshold when none is declared (bounds in `resolve::monitoring`).
impl ThresholdSettings {
    pub const DEFAULT_UNDER_REPLICATED_PARTITIONS: u32 = 0;
    pub const DEFAULT_UNDER_MIN_ISR_PARTITIONS: u32 = 0;
    pub const DEFAULT_OFFLINE_PARTITIONS: u32 = 0;
    pub const DEFAULT_DISK_USED_PERCENT: u32 = 80;
    pub const DEFAULT_CPU_PERCENT: u32 = 85;
    pub const DEFAULT_MEMORY_PERCENT: u32 = 90;
    pub const DEFAULT_CERTIFICATE_DAYS_LEFT: u32 = 21;
    pub const DEFAULT_DRIFT_PENDING_CHANGES: u32 = 0;
    pub const DEFAULT_EVALUATION_MINUTES: u32 = 5;
}

/// The scheduled drift check.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftCheckSettings {
    /// Minutes between two runs.
    #[schemars(extend("default" = DriftCheckSettings::DEFAULT_INTERVAL_MINUTES))]
    pub interval_minutes: Option<Spanned<u32>>,
    /// `report` (plan only: publish the pending changes) or `correct` (then apply them).
    #[schemars(extend("default" = DriftCheckSettings::DEFAULT_MODE))]
    pub mode: Option<Spanned<DriftMode>>,
}

impl DriftCheckSettings {
    /// `interval_minutes` when none is declared.
    pub const DEFAULT_INTERVAL_MINUTES: u32 = 60;
    /// `mode` when none is declared: report only.
    pub const DEFAULT_MODE: DriftMode = DriftMode::Report;
}

/// What the scheduled drift check does with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftMode {
    Report,
    Correct,
}

impl DriftMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftMode::Report => "report",
            DriftMode::Correct => "correct",
        }
    }
}
