//! The scheduled drift check: an EventBridge rule invokes the reconciler with the custom resource's
//! properties and `"DriftCheck": {"Mode": "report" | "correct"}` (render::monitoring::drift_schedule).
//! It plans without applying, publishes the number of pending changes, and in `correct` mode then
//! applies them. Every run publishes `ReconcilerFailures` (1 failed, 0 succeeded), so a check that
//! cannot reach the cluster raises the failures alarm rather than looking like "no drift".
//! Each run also reads the certificate every broker serves (a fresh TLS handshake) and publishes
//! the fewest days left as `CertificateDaysLeft`, the metric the certificate alarm reads, and asks
//! every broker how full its log directories' file system is (DescribeLogDirs, KIP-827) and
//! publishes `LogDirUsedPercent` per broker, the metric the disk alarms read.
//!
//! The event has no `ResponseURL` (the custom-resource shape); that is how main tells them apart.

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use cfn_custom_resource::{Error, Properties, Result};
use kafka_admin::{AdminClient, AdminConfig};
use kafka_platform_core::desired::DesiredState;
use kafka_platform_core::render::metrics;
use kafka_reconcile::{DeletePolicy, PasswordSource, Plan, PlanOptions, ScramSync, certificates};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::{KafkaReconciler, Spec, off_thread, phase, unix_now};

/// The key that marks a drift-check event.
pub const EVENT_KEY: &str = "DriftCheck";

/// What the check does with drift it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Publish the count only.
    Report,
    /// Publish the count, then apply the plan.
    Correct,
}

/// A parsed drift-check event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftCheck {
    pub spec: Spec,
    pub mode: Mode,
}

impl DriftCheck {
    /// `Ok(None)` for an event that is no drift check; errors name the bad field.
    pub fn from_event(event: &Value) -> Result<Option<DriftCheck>> {
        let Some(object) = event.as_object() else { return Ok(None) };
        let Some(check) = object.get(EVENT_KEY) else { return Ok(None) };
        let mode = match check.get("Mode").and_then(Value::as_str) {
            Some("report") => Mode::Report,
            Some("correct") => Mode::Correct,
            _ => return Err(Error::property("DriftCheck.Mode", "must be \"report\" or \"correct\"")),
        };
        let mut properties = object.clone();
        properties.remove(EVENT_KEY);
        let spec = Spec::from_properties(&Properties::from_value(Value::Object(properties))?)?;
        Ok(Some(DriftCheck { spec, mode }))
    }
}

/// What one check found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    pub stage: String,
    /// Changes, skipped deletes and refusals the plan holds: every difference counts as drift.
    pub pending: usize,
    /// Changes applied (`correct` mode).
    pub applied: usize,
    pub summary: String,
    /// Days until the soonest expiry among the certificates the brokers serve; `None` when no
    /// broker answered a handshake.
    pub certificate_days_left: Option<i64>,
    /// Broker id -> percent in use of its fullest log directory's file system (brokers that did
    /// not answer are left out).
    pub log_dir_used_percent: BTreeMap<i32, f64>,
}

/// The number a drift check publishes for a plan.
pub fn pending_changes(plan: &Plan) -> usize {
    plan.changes.len() + plan.skipped.len() + plan.refusals.len()
}

impl KafkaReconciler {
    /// Plans (and in `correct` mode applies) without publishing anything.
    pub async fn drift_check(&self, check: &DriftCheck) -> Result<DriftReport> {
        let spec = &check.spec;
        let desired = self.desired(spec).await?;
        let (plan, certificate_days_left, log_dir_used_percent) =
            phase(self.plan_only(spec, desired.clone(), options(spec))).await?;
        let pending = pending_changes(&plan);
        let summary = kafka_reconcile::render::summary_line(&plan);
        tracing::info!(stage = %spec.stage, pending, %summary, "drift check");
        let mut applied = 0;
        if check.mode == Mode::Correct && !plan.changes.is_empty() {
            let (_, report) = phase(self.session(spec, desired, options(spec))).await?;
            applied = report.applied();
            tracing::info!(stage = %spec.stage, applied, "drift corrected");
        }
        Ok(DriftReport {
            stage: spec.stage.clone(),
            pending,
            applied,
            summary,
            certificate_days_left,
            log_dir_used_percent,
        })
    }

    /// The scheduled entry: runs the check and publishes its metrics. The returned value is the
    /// invocation's result (counts only, never a secret).
    pub async fn drift_check_event(
        &self,
        event: Value,
        cloudwatch: &aws_sdk_cloudwatch::Client,
    ) -> Result<Value> {
        let check = DriftCheck::from_event(&event)?.ok_or_else(|| {
            Error::MalformedEvent("neither a custom-resource request nor a drift check".into())
        })?;
        let stage = check.spec.stage.clone();
        match phase(self.drift_check(&check)).await {
            Ok(report) => {
                let data = Datapoints {
                    failed: false,
                    pending: Some(report.pending),
                    certificate_days_left: report.certificate_days_left,
                    log_dir_used_percent: report.log_dir_used_percent.clone(),
                };
                publish(cloudwatch, &stage, &data).await?;
                let disk: BTreeMap<String, f64> =
                    report.log_dir_used_percent.iter().map(|(id, p)| (id.to_string(), *p)).collect();
                Ok(json!({
                    "Stage": report.stage,
                    "PendingChanges": report.pending,
                    "Applied": report.applied,
                    "Summary": report.summary,
                    "CertificateDaysLeft": report.certificate_days_left,
                    "LogDirUsedPercent": disk,
                }))
            }
            Err(e) => {
                tracing::error!(%stage, error = %e, "drift check failed");
                if let Err(p) = publish(cloudwatch, &stage, &Datapoints::failure()).await {
                    tracing::error!(error = %p, "could not publish the failure metric");
                }
                Err(e)
            }
        }
    }

    /// Observe and plan, apply nothing; and the fewest days left of the brokers' served
    /// certificates, and how full each broker's log directories are.
    async fn plan_only(
        &self,
        spec: &Spec,
        desired: DesiredState,
        options: PlanOptions,
    ) -> Result<(Plan, Option<i64>, BTreeMap<i32, f64>)> {
        let tls = self.admin_tls(spec).await?;
        let config = AdminConfig::new(spec.bootstrap.clone(), tls.clone());
        let ssm = self.ssm.clone();
        let grants = spec.debug_grants.clone();
        off_thread(move || async move {
            let client = AdminClient::connect(config)
                .await
                .map_err(|e| Error::Refused(format!("cannot connect to Kafka: {e}")))?;
            let observed = Box::pin(kafka_reconcile::observe(&client, &desired)).await;
            let brokers = client.brokers();
            let disk = log_dir_used_percent(&client, brokers.keys().copied()).await;
            client.close().await;
            let mut observed =
                observed.map_err(|e| Error::Refused(format!("cannot read the cluster's state: {e}")))?;
            observed.credentials = PasswordSource::Ssm(ssm.clone()).credentials(&desired).await;
            observed.grants = crate::observe_grants(&ssm, grants.as_deref()).await;
            let days_left = certificate_days_left(brokers.values(), &tls, options.now).await;
            Ok((kafka_reconcile::plan(&desired, &observed, options), days_left, disk))
        })
        .await
    }
}

/// The fewest days left among the certificates the brokers serve (a broker that does not complete
/// a handshake is left out: the node alarms and `gen status` report it).
async fn certificate_days_left<'a>(
    addresses: impl Iterator<Item = &'a String>,
    tls: &kafka_admin::TlsConfig,
    now: u64,
) -> Option<i64> {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let mut fewest = None;
    for address in addresses {
        let served = kafka_admin::served_certificate(address, tls, Duration::from_secs(10)).await;
        match served.map_err(|e| e.to_string()).and_then(|der| certificates::inspect_der(&der)) {
            Ok(facts) => {
                let days = (facts.not_after - now).div_euclid(certificates::DAY);
                fewest = Some(fewest.map_or(days, |f: i64| f.min(days)));
            }
            Err(e) => tracing::warn!(%address, error = %e, "no served certificate read"),
        }
    }
    fewest
}

/// Per broker, the percentage in use of its fullest log directory's file system, as the broker
/// reports it (a broker that does not answer is left out: the node alarms and `gen status` report
/// it, and its disk alarm sees no data).
async fn log_dir_used_percent(
    client: &AdminClient,
    brokers: impl Iterator<Item = i32>,
) -> BTreeMap<i32, f64> {
    let mut used = BTreeMap::new();
    for id in brokers {
        match client.describe_log_dirs(id).await {
            Ok(dirs) => {
                if let Some(max) = dirs.iter().map(kafka_admin::LogDirUsage::used_percent).reduce(f64::max) {
                    used.insert(id, max);
                }
            }
            Err(e) => tracing::warn!(broker = id, error = %e, "no log directory sizes read"),
        }
    }
    used
}

/// The plan options of a deploy, so that the check counts exactly what a deploy would do.
fn options(spec: &Spec) -> PlanOptions {
    PlanOptions {
        deletes: if spec.allow_delete { DeletePolicy::Allow } else { DeletePolicy::Skip },
        scram: ScramSync::Missing,
        now: unix_now(),
    }
}

/// What one run publishes: the failure flag always, the rest when known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Datapoints {
    pub failed: bool,
    pub pending: Option<usize>,
    pub certificate_days_left: Option<i64>,
    /// Broker id -> percent in use (dimension `BrokerId`).
    pub log_dir_used_percent: BTreeMap<i32, f64>,
}

impl Datapoints {
    /// A failed run: `ReconcilerFailures` 1 and nothing else.
    pub fn failure() -> Self {
        Datapoints { failed: true, ..Datapoints::default() }
    }
}

/// Puts the run's metrics under the platform namespace, dimension `Stage` (and `BrokerId` for the
/// disk metric): the contract of kafka_platform_core::render::metrics.
pub async fn publish(cloudwatch: &aws_sdk_cloudwatch::Client, stage: &str, data: &Datapoints) -> Result<()> {
    let stage_dimension = || Dimension::builder().name(metrics::STAGE_DIMENSION).value(stage).build();
    let datum = |name: &str, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(stage_dimension())
            .value(value)
            .unit(StandardUnit::Count)
            .build()
    };
    let mut points = vec![datum(metrics::RECONCILER_FAILURES, if data.failed { 1.0 } else { 0.0 })];
    if let Some(pending) = data.pending {
        points.push(datum(metrics::DRIFT_PENDING_CHANGES, pending as f64));
    }
    if let Some(days) = data.certificate_days_left {
        points.push(datum(metrics::CERTIFICATE_DAYS_LEFT, days as f64));
    }
    for (broker, percent) in &data.log_dir_used_percent {
        points.push(
            MetricDatum::builder()
                .metric_name(metrics::LOG_DIR_USED_PERCENT)
                .dimensions(stage_dimension())
                .dimensions(
                    Dimension::builder().name(metrics::BROKER_DIMENSION).value(broker.to_string()).build(),
                )
                .value(*percent)
                .unit(StandardUnit::Percent)
                .build(),
        );
    }
    // PutMetricData takes at most 1000 data points per call; a stage has a handful of brokers.
    for chunk in points.chunks(1000) {
        cloudwatch
            .put_metric_data()
            .namespace(metrics::PLATFORM_NAMESPACE)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                Error::aws(format!("cloudwatch:PutMetricData {}", metrics::PLATFORM_NAMESPACE), e)
            })?;
    }
    Ok(())
}
