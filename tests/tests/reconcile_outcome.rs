//! The deploy path publishes `ReconcilerFailures` too: the real reconciler binary under the played
//! Runtime API and ResponseURL, moto as S3 and CloudWatch. A Create that fails (its desired state is
//! not in the bucket) is answered FAILED and publishes 1; a request that succeeds publishes 0, under
//! the stage's dimension (the contract of render::metrics). With CloudWatch unreachable, the
//! request is still answered, without the metric. Needs MOTO_ENDPOINT only (no Kafka: neither
//! request reaches the cluster).

mod lambda_support;

use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use kafka_platform_core::render::metrics;
use lambda_support::*;
use serde_json::{Value, json};

const TYPE: &str = "Custom::KafkaReconciler";
const BIN: &str = "reconciler-lambda";
const DEADLINE: Duration = Duration::from_secs(60);

/// Properties of a reconciler whose desired state does not exist (any Create or Update fails).
fn props(stage: &str, bucket: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:reconciler",
        "Stage": stage,
        "BootstrapServers": format!("127.0.0.1:{}", closed_port()),
        "AdminTlsParameterPrefix": "/kafka/outcome/tls/admin",
        "AdminPasswordParameter": "/kafka/outcome/admin/password",
        "DesiredStateBucket": bucket,
        "DesiredStateKey": "desired-state/missing.json",
        "DesiredStateSha256": "0".repeat(64),
        "AllowDelete": "false",
    })
}

/// The (minimum, maximum) of ReconcilerFailures for `stage` since `since`, `None` without data.
async fn failures(cw: &aws_sdk_cloudwatch::Client, stage: &str, since: i64) -> Option<(f64, f64)> {
    let answer = cw
        .get_metric_statistics()
        .namespace(metrics::PLATFORM_NAMESPACE)
        .metric_name(metrics::RECONCILER_FAILURES)
        .dimensions(Dimension::builder().name(metrics::STAGE_DIMENSION).value(stage).build())
        .start_time(DateTime::from_secs(since))
        .end_time(DateTime::from_secs(since + 3600))
        .period(3600)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("GetMetricStatistics");
    let point = answer.datapoints.unwrap_or_default().into_iter().next()?;
    Some((point.minimum?, point.maximum?))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deploy_request_publishes_a_failure_and_a_good_one_publishes_none() {
    let config = sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let since = now() - 1;
    // A stage name of this test alone: other tests publish under `dev`.
    let stage = unique("outcome").to_lowercase();
    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[]);

    // Delete without AllowDelete removes nothing and succeeds: 0.
    h.invoke(
        h.event(
            "Delete",
            TYPE,
            "Reconciliation",
            Some("kafka-reconciler-x"),
            props(&stage, "no-bucket"),
            None,
        ),
        DEADLINE,
    )
    .await
    .expect_success();
    assert_eq!(failures(&cw, &stage, since).await, Some((0.0, 0.0)), "{}", lambda.logs().join("\n"));

    // Create whose desired state cannot be read: FAILED, and 1.
    h.invoke(h.event("Create", TYPE, "Reconciliation", None, props(&stage, "no-bucket"), None), DEADLINE)
        .await
        .expect_failed("s3:GetObject");
    assert_eq!(failures(&cw, &stage, since).await, Some((0.0, 1.0)), "{}", lambda.logs().join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cloudwatch_never_keeps_the_answer_from_cloudformation() {
    let (hole, _task) = black_hole().await;
    let stage = unique("outcome").to_lowercase();
    let h = Harness::start().await;
    // S3 and SSM on moto; CloudWatch alone on an endpoint that accepts and never answers.
    let lambda = h.spawn(BIN, &moto_endpoint(), &[("AWS_ENDPOINT_URL_CLOUDWATCH", &hole)]);
    h.invoke(h.event("Create", TYPE, "Reconciliation", None, props(&stage, "no-bucket"), None), DEADLINE)
        .await
        .expect_failed("s3:GetObject");
    let logs = lambda.logs().join("\n");
    assert!(logs.contains("publishing the reconciler outcome timed out"), "{logs}");
}
