//! The deploy path's share of `ReconcilerFailures`: every custom-resource request (Create, Update,
//! Delete) publishes 1 when it fails and 0 when it succeeds, as the scheduled check does, so a
//! deploy whose reconciliation failed raises the failures alarm too (CloudFormation's rollback
//! alone tells no one who is not watching the deploy).
//!
//! Publishing never stands between the request and its answer: it runs after the work, is
//! bounded by [`PUBLISH_TIMEOUT`], and its own failure is only logged. The custom-resource guard
//! still answers at the deadline whatever happens here.

use std::time::Duration;

use cfn_custom_resource::{Request, Result};

use crate::KafkaReconciler;
use crate::drift::{Datapoints, publish};

/// Longest a request waits for CloudWatch before answering without the metric.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

impl KafkaReconciler {
    /// Publishes the request's outcome under its `Stage`; without a CloudWatch client (tests that
    /// build the resource alone) or without a readable `Stage` there is nothing to publish.
    pub(crate) async fn publish_outcome<T>(&self, request: &Request, result: &Result<T>) {
        let Some(cloudwatch) = &self.cloudwatch else { return };
        let Ok(Some(stage)) = request.properties.optional_str("Stage") else {
            tracing::warn!("no Stage property: the outcome is not published");
            return;
        };
        let data = if result.is_ok() { Datapoints::default() } else { Datapoints::failure() };
        match tokio::time::timeout(PUBLISH_TIMEOUT, publish(cloudwatch, &stage, &data)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(%stage, error = %e, "could not publish the reconciler outcome"),
            Err(_) => tracing::error!(%stage, "publishing the reconciler outcome timed out"),
        }
    }
}
