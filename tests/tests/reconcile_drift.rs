//! The scheduled drift check end to end: the real reconciler binary under the played Runtime API,
//! invoked with the EventBridge input the topics stack renders (no ResponseURL), moto as S3, SSM and
//! CloudWatch, and the real KRaft cluster. A topic config changed out of band is one pending change;
//! `report` leaves it, `correct` puts the declared value back; the count and the failure flag reach
//! CloudWatch under the metric contract (render::metrics), with each broker's log directory fill level
//! (checked against df on the same directory).

#[path = "kafka_common/mod.rs"]
mod kafka_common;
mod lambda_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_ssm::types::ParameterType;
use kafka_admin::{AdminClient, ConfigChanges, ConfigOp, ConfigResource};
use kafka_platform_core::desired::DesiredState;
use kafka_platform_core::digest::sha256_hex;
use kafka_platform_core::render::metrics;
use lambda_support::*;
use serde_json::{Value, json};

const BIN: &str = "reconciler-lambda";
const DECLARED_RETENTION: &str = "86400000";

/// Through JSON, so that fields other parts add later (with their defaults) need no change here.
fn desired(p: &str) -> DesiredState {
    serde_json::from_value(json!({
        "format_version": 1,
        "stage": "dev",
        "managed_topic_prefixes": [format!("{p}.")],
        "allow_delete": false,
        "topics": [{
            "name": format!("{p}.orders.v1"),
            "project": p,
            "partitions": 1,
            "replication_factor": 3,
            "configs": { "retention.ms": DECLARED_RETENTION },
        }],
        "service_accounts": [],
        "acls": [],
    }))
    .expect("a desired state")
}

/// The schedule's input as render::monitoring::drift_schedule builds it.
fn drift_event(connection: &Value, mode: &str) -> Value {
    let mut event = connection.clone();
    event["DriftCheck"] = json!({ "Mode": mode });
    event
}

async fn retention(admin: &AdminClient, topic: &str) -> String {
    let configs = admin.describe_configs(&[ConfigResource::topic(topic)]).await;
    let entries = configs.into_iter().next().unwrap().unwrap();
    entries.into_iter().find(|e| e.name == "retention.ms").and_then(|e| e.value).unwrap_or_default()
}

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The earliest not-after among the certificates the test cluster's brokers serve on the mTLS
/// listener (the one the reconciler connects to).
async fn soonest_served_expiry() -> i64 {
    let tls = kafka_admin::TlsConfig::from_ca_file(&kafka_common::ca_file()).expect("CA");
    let mut soonest = i64::MAX;
    for address in kafka_common::env("KAFKA_TEST_BOOTSTRAP_MTLS").split(',') {
        let der =
            kafka_admin::served_certificate(address, &tls, Duration::from_secs(10)).await.expect("handshake");
        let facts = kafka_reconcile::certificates::inspect_der(&der).expect("a certificate");
        soonest = soonest.min(facts.not_after);
    }
    soonest
}

async fn statistic(
    cw: &aws_sdk_cloudwatch::Client,
    name: &str,
    stat: Statistic,
    since: DateTime,
) -> Option<f64> {
    let answer = cw
        .get_metric_statistics()
        .namespace(metrics::PLATFORM_NAMESPACE)
        .metric_name(name)
        .dimensions(Dimension::builder().name(metrics::STAGE_DIMENSION).value("dev").build())
        .start_time(since)
        .end_time(DateTime::from_secs(since.secs() + 3600))
        .period(3600)
        .statistics(stat.clone())
        .send()
        .await
        .expect("GetMetricStatistics");
    let points = answer.datapoints.unwrap_or_default();
    points.first().and_then(|d| match stat {
        Statistic::Maximum => d.maximum,
        Statistic::Minimum => d.minimum,
        _ => d.sample_count,
    })
}

/// Percent in use of the file system under `dir`, as Kafka computes it from its FileStore (size
/// minus what is usable, over size): df's size and avail columns, which read the same statvfs.
fn df_used_percent(dir: &Path) -> f64 {
    let out =
        std::process::Command::new("df").args(["--output=size,avail", "-B1"]).arg(dir).output().expect("df");
    assert!(out.status.success(), "df {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let numbers: Vec<f64> =
        text.lines().nth(1).expect("a df line").split_whitespace().map(|n| n.parse().unwrap()).collect();
    100.0 * (numbers[0] - numbers[1]) / numbers[0]
}

/// The maximum of a broker's published LogDirUsedPercent since `since`.
async fn disk_statistic(cw: &aws_sdk_cloudwatch::Client, broker: &str, since: DateTime) -> Option<f64> {
    let answer = cw
        .get_metric_statistics()
        .namespace(metrics::PLATFORM_NAMESPACE)
        .metric_name(metrics::LOG_DIR_USED_PERCENT)
        .dimensions(Dimension::builder().name(metrics::STAGE_DIMENSION).value("dev").build())
        .dimensions(Dimension::builder().name(metrics::BROKER_DIMENSION).value(broker).build())
        .start_time(since)
        .end_time(DateTime::from_secs(since.secs() + 3600))
        .period(3600)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("GetMetricStatistics");
    answer.datapoints.unwrap_or_default().first().and_then(|d| d.maximum)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_band_config_change_is_one_pending_change_reported_then_corrected() {
    let config = sdk_config().await;
    let s3 = platform_tests::moto::s3(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let since = DateTime::from_secs(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 1,
    );
    let bucket = unique("drift").to_lowercase();
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    let prefix = format!("/{}/tls/admin", unique("kafka"));
    let cert_dir = kafka_common::client_cert_dir("admin");
    let read = |f: &str| std::fs::read_to_string(cert_dir.join(f)).unwrap();
    for (name, value) in [
        ("private-key", read("key.pem")),
        ("certificate", read("cert.pem")),
        ("chain", std::fs::read_to_string(kafka_common::ca_file()).unwrap()),
    ] {
        ssm.put_parameter()
            .name(format!("{prefix}/{name}"))
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }
    let p = kafka_common::unique("drift");
    let state = desired(&p);
    let text = state.to_json();
    let sha = sha256_hex(&text);
    let key = format!("desired-state/{sha}.json");
    s3.put_object().bucket(&bucket).key(&key).body(text.into_bytes().into()).send().await.expect("put");
    let connection = json!({
        "Stage": "dev",
        "BootstrapServers": kafka_common::env("KAFKA_TEST_BOOTSTRAP_MTLS"),
        "AdminTlsParameterPrefix": prefix,
        "AdminPasswordParameter": format!("{prefix}/unused-password"),
        "DesiredStateBucket": bucket,
        "DesiredStateKey": key,
        "DesiredStateSha256": sha,
        "AllowDelete": false,
    });

    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let admin = kafka_common::admin_sasl().await;
    let topic = format!("{p}.orders.v1");

    // The deploy's run creates the topic as declared: no drift yet.
    let (kind, body) = h.invoke_unanswerable(drift_event(&connection, "correct")).await;
    assert_eq!(kind, "response", "{body}\n{}", lambda.logs().join("\n"));
    let before = now();
    let (_, body) = h.invoke_unanswerable(drift_event(&connection, "report")).await;
    let after = now();
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["PendingChanges"], 0, "{body}");
    // The certificate alarm's metric: the fewest days left of what the brokers serve, as a
    // handshake of the test's own shows it (either side of a day boundary the run may have crossed).
    let soonest = soonest_served_expiry().await;
    let expected = [(soonest - after).div_euclid(DAY), (soonest - before).div_euclid(DAY)];
    let days = report["CertificateDaysLeft"].as_i64().expect("CertificateDaysLeft in the result");
    assert!(expected.contains(&days), "{days} not in {expected:?}: {body}");
    // The disk alarms' metric: each broker's own report of the file system under its log directory
    // (DescribeLogDirs), against statvfs of that directory here (df); within one point, for what
    // other tests write in between.
    let disk = report["LogDirUsedPercent"].as_object().expect("LogDirUsedPercent in the result");
    let brokers = kafka_common::env("KAFKA_TEST_BOOTSTRAP_MTLS").split(',').count();
    assert_eq!(disk.len(), brokers, "{body}");
    for (id, reported) in disk {
        let dir = Path::new(&kafka_common::env("KAFKA_TEST_STATE_DIR")).join(format!("node-{id}/data"));
        let (reported, measured) = (reported.as_f64().unwrap(), df_used_percent(&dir));
        assert!((reported - measured).abs() < 1.0, "broker {id}: reported {reported} %, df {measured} %");
    }

    // Out of band: someone shortens the retention by hand.
    let change = ConfigChanges {
        resource: ConfigResource::topic(&topic),
        changes: BTreeMap::from([("retention.ms".to_string(), ConfigOp::Set("60000".into()))]),
    };
    for result in admin.incremental_alter_configs(&[change], false).await {
        result.expect("alter the topic's config");
    }
    let changed = kafka_common::eventually(Duration::from_secs(10), async || {
        retention(&admin, &topic).await == "60000"
    })
    .await;
    assert!(changed, "the out-of-band change did not take");

    // report: one pending change, nothing applied, the cluster keeps the hand-made value.
    let (kind, body) = h.invoke_unanswerable(drift_event(&connection, "report")).await;
    assert_eq!(kind, "response", "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["PendingChanges"], 1, "{body}");
    assert_eq!(report["Applied"], 0, "{body}");
    assert_eq!(retention(&admin, &topic).await, "60000");

    // correct: the same one change is found, and applied.
    let (_, body) = h.invoke_unanswerable(drift_event(&connection, "correct")).await;
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((report["PendingChanges"].as_u64(), report["Applied"].as_u64()), (Some(1), Some(1)), "{body}");
    let back = kafka_common::eventually(Duration::from_secs(10), async || {
        retention(&admin, &topic).await == DECLARED_RETENTION
    })
    .await;
    assert!(back, "the drift was not corrected");
    let (_, body) = h.invoke_unanswerable(drift_event(&connection, "report")).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["PendingChanges"], 0, "{body}");

    // The metrics the drift alarm reads: 1 at most, 0 at least, and no failure.
    assert_eq!(statistic(&cw, metrics::DRIFT_PENDING_CHANGES, Statistic::Maximum, since).await, Some(1.0));
    assert_eq!(statistic(&cw, metrics::DRIFT_PENDING_CHANGES, Statistic::Minimum, since).await, Some(0.0));
    assert_eq!(statistic(&cw, metrics::RECONCILER_FAILURES, Statistic::Maximum, since).await, Some(0.0));
    let published = statistic(&cw, metrics::CERTIFICATE_DAYS_LEFT, Statistic::Minimum, since).await;
    assert!(published.is_some_and(|d| expected.contains(&(d as i64))), "{published:?} not in {expected:?}");
    for id in disk.keys() {
        let published = disk_statistic(&cw, id, since).await;
        assert!(published.is_some_and(|p| (0.0..=100.0).contains(&p)), "broker {id}: {published:?}");
    }

    // A check that cannot reach the cluster fails visibly and raises the failure metric.
    let mut unreachable = connection.clone();
    unreachable["BootstrapServers"] = json!(format!("127.0.0.1:{}", closed_port()));
    let (kind, body) = h.invoke_unanswerable(drift_event(&unreachable, "report")).await;
    assert_eq!(kind, "error", "{body}");
    assert!(body.contains("cannot connect to Kafka"), "{body}");
    assert_eq!(statistic(&cw, metrics::RECONCILER_FAILURES, Statistic::Maximum, since).await, Some(1.0));

    // A malformed mode is refused before anything runs.
    let (kind, body) = h.invoke_unanswerable(drift_event(&connection, "fix")).await;
    assert_eq!(kind, "error", "{body}");
    assert!(body.contains("DriftCheck.Mode"), "{body}");
}
