//! KP125: `monitoring` within bounds, resolved into the stage's [`Monitoring`] (thresholds with
//! named defaults, subscriptions, drift check).

use std::ops::RangeInclusive;

use crate::config::monitoring::{
    DriftCheckSettings, MonitoringSettings, SubscriptionProtocol, ThresholdSettings,
};
use crate::diagnostics::Finding;
use crate::model::{Monitoring, Thresholds};
use crate::resolve::Required;
use crate::span::Spanned;

/// One bounded threshold: key under `monitoring.thresholds`, default, bounds.
pub struct Bound {
    pub key: &'static str,
    pub default: u32,
    pub range: RangeInclusive<u32>,
}

pub const UNDER_REPLICATED: Bound = Bound {
    key: "under_replicated_partitions",
    default: ThresholdSettings::DEFAULT_UNDER_REPLICATED_PARTITIONS,
    range: 0..=100_000,
};
pub const UNDER_MIN_ISR: Bound = Bound {
    key: "under_min_isr_partitions",
    default: ThresholdSettings::DEFAULT_UNDER_MIN_ISR_PARTITIONS,
    range: 0..=100_000,
};
pub const OFFLINE: Bound = Bound {
    key: "offline_partitions",
    default: ThresholdSettings::DEFAULT_OFFLINE_PARTITIONS,
    range: 0..=100_000,
};
pub const DISK: Bound =
    Bound { key: "disk_used_percent", default: ThresholdSettings::DEFAULT_DISK_USED_PERCENT, range: 50..=95 };
pub const CPU: Bound =
    Bound { key: "cpu_percent", default: ThresholdSettings::DEFAULT_CPU_PERCENT, range: 50..=100 };
pub const MEMORY: Bound =
    Bound { key: "memory_percent", default: ThresholdSettings::DEFAULT_MEMORY_PERCENT, range: 50..=100 };
/// Certificates are renewed well before expiry; fewer days than this left means renewal stalled.
pub const CERTIFICATE_DAYS: Bound = Bound {
    key: "certificate_days_left",
    default: ThresholdSettings::DEFAULT_CERTIFICATE_DAYS_LEFT,
    range: 1..=365,
};
pub const DRIFT: Bound = Bound {
    key: "drift_pending_changes",
    default: ThresholdSettings::DEFAULT_DRIFT_PENDING_CHANGES,
    range: 0..=10_000,
};
pub const EVALUATION: Bound = Bound {
    key: "evaluation_minutes",
    default: ThresholdSettings::DEFAULT_EVALUATION_MINUTES,
    range: 1..=60,
};
/// Minutes between scheduled drift checks: at least 5 (a run takes up to the Lambda's timeout), at
/// most a day.
pub const DRIFT_INTERVAL: Bound = Bound {
    key: "drift_check.interval_minutes",
    default: DriftCheckSettings::DEFAULT_INTERVAL_MINUTES,
    range: 5..=1440,
};
/// SNS topics take many subscriptions; a stage that needs more than this wants a distribution list.
pub const MAX_SUBSCRIPTIONS: usize = 20;

fn bounded(value: Option<&Spanned<u32>>, bound: &Bound, r: &mut Required<'_>) -> u32 {
    let Some(v) = value else { return bound.default };
    if bound.range.contains(&v.value) {
        return v.value;
    }
    r.push(
        Finding::error("KP125", &v.location, format!("monitoring {} of {}", bound.key, v.value))
            .hint(format!("{} to {} (default {})", bound.range.start(), bound.range.end(), bound.default)),
    );
    bound.default
}

/// Resolves `monitoring` (already merged over the defaults).
pub fn resolve(settings: Option<&MonitoringSettings>, r: &mut Required<'_>) -> Monitoring {
    let s = settings.cloned().unwrap_or_default();
    let t = s.thresholds.unwrap_or_default();
    let thresholds = Thresholds {
        under_replicated_partitions: bounded(t.under_replicated_partitions.as_ref(), &UNDER_REPLICATED, r),
        under_min_isr_partitions: bounded(t.under_min_isr_partitions.as_ref(), &UNDER_MIN_ISR, r),
        offline_partitions: bounded(t.offline_partitions.as_ref(), &OFFLINE, r),
        disk_used_percent: bounded(t.disk_used_percent.as_ref(), &DISK, r),
        cpu_percent: bounded(t.cpu_percent.as_ref(), &CPU, r),
        memory_percent: bounded(t.memory_percent.as_ref(), &MEMORY, r),
        certificate_days_left: bounded(t.certificate_days_left.as_ref(), &CERTIFICATE_DAYS, r),
        drift_pending_changes: bounded(t.drift_pending_changes.as_ref(), &DRIFT, r),
        evaluation_minutes: bounded(t.evaluation_minutes.as_ref(), &EVALUATION, r),
    };
    let drift = s.drift_check.unwrap_or_default();
    let drift_interval_minutes = bounded(drift.interval_minutes.as_ref(), &DRIFT_INTERVAL, r);
    let drift_mode = drift.mode.map(|m| m.value).unwrap_or(DriftCheckSettings::DEFAULT_MODE);

    let mut subscriptions = Vec::new();
    if let Some(list) = &s.alarm_subscriptions {
        if list.value.len() > MAX_SUBSCRIPTIONS {
            r.push(
                Finding::error("KP125", &list.location, format!("{} alarm subscriptions", list.value.len()))
                    .hint(format!(
                        "at most {MAX_SUBSCRIPTIONS}; subscribe a distribution list or an incident tool"
                    )),
            );
        }
        for sub in list.value.iter().take(MAX_SUBSCRIPTIONS) {
            let (protocol, endpoint) = (sub.value.protocol, sub.value.endpoint.trim());
            if let Some(problem) = endpoint_problem(protocol, endpoint) {
                r.push(
                    Finding::error("KP125", &sub.location, format!("alarm subscription: {problem}")).hint(
                        "email: name@domain; https: https://host/path; sqs: arn:aws:sqs:region:account:queue",
                    ),
                );
                continue;
            }
            if subscriptions
                .iter()
                .any(|(p, e): &(SubscriptionProtocol, String)| *p == protocol && e == endpoint)
            {
                r.push(Finding::error("KP125", &sub.location, "the same alarm subscription twice"));
                continue;
            }
            subscriptions.push((protocol, endpoint.to_string()));
        }
    }
    Monitoring { subscriptions, thresholds, drift_interval_minutes, drift_mode }
}

/// Why an endpoint does not fit its protocol, if it does not. Kept short: the value is echoed
/// nowhere, only its shape is described.
fn endpoint_problem(protocol: SubscriptionProtocol, endpoint: &str) -> Option<&'static str> {
    let printable =
        !endpoint.is_empty() && endpoint.len() <= 512 && endpoint.chars().all(|c| c.is_ascii_graphic());
    if !printable {
        return Some("the endpoint must be 1 to 512 printable ASCII characters without spaces");
    }
    match protocol {
        SubscriptionProtocol::Email => match endpoint.split_once('@') {
            Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') => {
                None
            }
            _ => Some("not an email address"),
        },
        SubscriptionProtocol::Https => (!endpoint.starts_with("https://")
            || endpoint.len() <= "https://".len())
        .then_some("an https subscription needs an https:// URL"),
        SubscriptionProtocol::Sqs => (!endpoint.starts_with("arn:aws") || !endpoint.contains(":sqs:"))
            .then_some("an sqs subscription needs a queue ARN"),
    }
}
