//! `logs` (KP112): retention of the stage's log groups.

use super::Required;
use crate::config::stage::LogSettings;
use crate::diagnostics::Finding;

/// Log retention values CloudWatch accepts.
const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// The retention in days, one CloudWatch accepts.
pub fn resolve(logs: Option<&LogSettings>, r: &mut Required<'_>) -> u32 {
    let retention = logs.and_then(|l| l.retention_days.as_ref());
    let retention_days = retention.map(|d| d.value).unwrap_or(LogSettings::DEFAULT_RETENTION_DAYS);
    if !LOG_RETENTION_DAYS.contains(&retention_days) {
        let loc = retention.map(|d| d.location.clone()).unwrap_or_default();
        r.push(Finding::error("KP112", &loc, format!("log retention of {retention_days} days")).hint(
            format!(
                "CloudWatch accepts {}",
                LOG_RETENTION_DAYS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    retention_days
}
