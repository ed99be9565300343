//! The monitoring stack and the drift schedule: every alarm threshold comes from its key in the stage
//! file (or its named default), the alarm topic is encrypted with the stage key and that key admits
//! CloudWatch alarms, the drift schedule carries the declared interval and mode, and the monitoring
//! stack is deployed after the others.

mod support;

use kafka_platform_core::StageName;
use kafka_platform_core::render::metrics;
use kafka_platform_core::render::templates;
use kafka_platform_core::resolve::monitoring as bounds;
use serde_json::Value;
use support::*;

fn rendered(env: &Env, part: &str) -> Value {
    let model = env.model(StageName::Dev);
    let (_, template) = templates(&model).into_iter().find(|(p, _)| *p == part).expect("part");
    serde_json::to_value(&template).expect("templates serialise")
}

fn alarm<'a>(template: &'a Value, id: &str) -> &'a Value {
    let alarms = resources(template, "AWS::CloudWatch::Alarm");
    let name_suffix = format!("-{id}");
    alarms
        .values()
        .find(|a| a["Properties"]["AlarmName"].as_str().is_some_and(|n| n.ends_with(&name_suffix)))
        .unwrap_or_else(|| panic!("no alarm {id}"))
}

/// (threshold key, a value inside the bounds other than the default, alarm id, threshold in the
/// template for that value).
const SOURCES: &[(&str, u32, &str, f64)] = &[
    ("under_replicated_partitions", 7, "UnderReplicatedPartitions", 7.0),
    ("under_min_isr_partitions", 3, "UnderMinIsrPartitions", 3.0),
    ("offline_partitions", 2, "OfflinePartitions", 2.0),
    ("disk_used_percent", 66, "b0-disk", 66.0),
    ("cpu_percent", 70, "b0-cpu", 0.7),
    ("memory_percent", 77, "b0-memory", 77.0),
    ("certificate_days_left", 45, "CertificateDaysLeft", 45.0),
    ("drift_pending_changes", 4, "Drift", 4.0),
];

#[test]
fn each_threshold_goes_from_the_stage_file_into_its_alarm() {
    let defaults = rendered(&Env::baseline(), "monitoring");
    for (key, value, id, expected) in SOURCES {
        let env = Env::baseline()
            .with("stages/dev.yaml", &format!("{DEV}monitoring:\n  thresholds:\n    {key}: {value}\n"));
        let t = rendered(&env, "monitoring");
        assert_eq!(alarm(&t, id)["Properties"]["Threshold"].as_f64(), Some(*expected), "{key}");
        assert_ne!(
            alarm(&defaults, id)["Properties"]["Threshold"],
            alarm(&t, id)["Properties"]["Threshold"],
            "{key}"
        );
    }
}

#[test]
fn unset_thresholds_take_their_named_defaults() {
    let t = rendered(&Env::baseline(), "monitoring");
    for (bound, id, scale) in [
        (bounds::UNDER_REPLICATED, "UnderReplicatedPartitions", 1.0),
        (bounds::UNDER_MIN_ISR, "UnderMinIsrPartitions", 1.0),
        (bounds::OFFLINE, "OfflinePartitions", 1.0),
        (bounds::DISK, "b0-disk", 1.0),
        (bounds::CPU, "b0-cpu", 0.01),
        (bounds::MEMORY, "b0-memory", 1.0),
        (bounds::CERTIFICATE_DAYS, "CertificateDaysLeft", 1.0),
        (bounds::DRIFT, "Drift", 1.0),
    ] {
        let threshold = alarm(&t, id)["Properties"]["Threshold"].as_f64().unwrap();
        assert!((threshold - f64::from(bound.default) * scale).abs() < 1e-9, "{}", bound.key);
    }
    let urp = &alarm(&t, "UnderReplicatedPartitions")["Properties"];
    assert_eq!(urp["EvaluationPeriods"], bounds::EVALUATION.default);
    assert_eq!(urp["TreatMissingData"], "breaching");
}

#[test]
fn evaluation_minutes_reach_every_cluster_and_node_alarm() {
    let env = Env::baseline()
        .with("stages/dev.yaml", &format!("{DEV}monitoring:\n  thresholds:\n    evaluation_minutes: 9\n"));
    let t = rendered(&env, "monitoring");
    for id in ["UnderReplicatedPartitions", "ActiveController", "b0-cpu", "b0-running"] {
        assert_eq!(alarm(&t, id)["Properties"]["EvaluationPeriods"], 9, "{id}");
    }
}

/// The disk alarms read what the drift check publishes (reconciler drift.rs, proven on the real
/// brokers by tests/tests/reconcile_drift.rs): one per broker, by node id, one datapoint per check.
#[test]
fn disk_alarms_read_each_brokers_own_report_at_the_drift_interval() {
    let env = Env::baseline()
        .with("stages/dev.yaml", &format!("{DEV}monitoring:\n  drift_check:\n    interval_minutes: 30\n"));
    let model = env.model(StageName::Dev);
    let t = rendered(&env, "monitoring");
    for broker in &model.cluster.brokers {
        let p = &alarm(&t, &format!("{}-disk", broker.name))["Properties"];
        assert_eq!(p["Namespace"], metrics::PLATFORM_NAMESPACE);
        assert_eq!(p["MetricName"], metrics::LOG_DIR_USED_PERCENT);
        assert_eq!(
            p["Dimensions"],
            serde_json::json!([
                { "Name": metrics::STAGE_DIMENSION, "Value": "dev" },
                { "Name": metrics::BROKER_DIMENSION, "Value": broker.node_id.to_string() },
            ])
        );
        assert_eq!((p["Period"].as_u64(), p["EvaluationPeriods"].as_u64()), (Some(1800), Some(1)));
    }
    let disk_alarms = resources(&t, "AWS::CloudWatch::Alarm")
        .values()
        .filter(|a| a["Properties"]["MetricName"] == metrics::LOG_DIR_USED_PERCENT)
        .count();
    assert_eq!(disk_alarms, model.cluster.brokers.len(), "brokers only");
}

#[test]
fn subscriptions_are_the_declared_ones_on_the_encrypted_topic() {
    let env = Env::baseline().with(
        "stages/dev.yaml",
        &format!("{DEV}monitoring:\n  alarm_subscriptions:\n    - {{ protocol: email, endpoint: ops@example.com }}\n    - {{ protocol: https, endpoint: \"https://hooks.example.com/kafka\" }}\n"),
    );
    let t = rendered(&env, "monitoring");
    let subs = resources(&t, "AWS::SNS::Subscription");
    let mut declared: Vec<(String, String)> = subs
        .values()
        .map(|s| {
            (
                s["Properties"]["Protocol"].as_str().unwrap().into(),
                s["Properties"]["Endpoint"].as_str().unwrap().into(),
            )
        })
        .collect();
    declared.sort();
    assert_eq!(
        declared,
        vec![
            ("email".into(), "ops@example.com".into()),
            ("https".into(), "https://hooks.example.com/kafka".into())
        ]
    );
    let topic = resources(&t, "AWS::SNS::Topic");
    let topic = topic.values().next().expect("one topic");
    assert_eq!(topic["Properties"]["KmsMasterKeyId"], serde_json::json!({ "Ref": "KmsKeyArn" }));
    for a in resources(&t, "AWS::CloudWatch::Alarm").values() {
        assert_eq!(a["Properties"]["AlarmActions"], serde_json::json!([{ "Ref": "AlarmTopic" }]));
    }
}

/// SNS developer guide, "Enable compatibility between event sources from AWS services and
/// encrypted topics": the key policy must allow the service principal cloudwatch.amazonaws.com
/// kms:Decrypt and kms:GenerateDataKey*, or alarms deploy cleanly and never deliver.
#[test]
fn the_stage_key_admits_cloudwatch_alarms_to_the_encrypted_topic() {
    let t = rendered(&Env::baseline(), "foundation");
    let key = resources(&t, "AWS::KMS::Key");
    let key = key.values().next().expect("the stage key");
    let statements = key["Properties"]["KeyPolicy"]["Statement"].as_array().unwrap();
    let cloudwatch: Vec<&Value> =
        statements.iter().filter(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com").collect();
    assert_eq!(cloudwatch.len(), 1);
    let s = cloudwatch[0];
    assert_eq!(s["Effect"], "Allow");
    let actions: Vec<&str> = s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(actions.contains(&"kms:Decrypt") && actions.contains(&"kms:GenerateDataKey*"), "{actions:?}");
    assert!(
        !actions.iter().any(|a| a.contains("Encrypt") || *a == "kms:*"),
        "only what SNS needs: {actions:?}"
    );
    // Only on behalf of this account's alarms.
    assert_eq!(
        s["Condition"]["StringEquals"]["aws:SourceAccount"],
        serde_json::json!({ "Ref": "AWS::AccountId" })
    );
}

#[test]
fn the_drift_schedule_carries_the_declared_interval_and_mode() {
    for (settings, rate, mode) in [
        ("", "rate(60 minutes)", "report"),
        (
            "monitoring:\n  drift_check:\n    interval_minutes: 15\n    mode: correct\n",
            "rate(15 minutes)",
            "correct",
        ),
    ] {
        let env = Env::baseline().with("stages/dev.yaml", &format!("{DEV}{settings}"));
        let t = rendered(&env, "topics");
        let rules = resources(&t, "AWS::Events::Rule");
        let rule = rules.get("DriftCheckSchedule").expect("the drift schedule");
        assert_eq!(rule["Properties"]["ScheduleExpression"], rate);
        let target = &rule["Properties"]["Targets"][0];
        assert_eq!(target["Arn"], serde_json::json!({ "Fn::GetAtt": ["ReconcilerFunction", "Arn"] }));
        let input: Value = serde_json::from_str(target["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["DriftCheck"]["Mode"], mode);
        // The same connection settings as the custom resource, so both plan the same thing.
        let custom = resources(&t, "Custom::KafkaReconciler");
        let props = &custom.values().next().unwrap()["Properties"];
        for key in [
            "Stage",
            "BootstrapServers",
            "AdminTlsParameterPrefix",
            "DesiredStateKey",
            "DesiredStateSha256",
            "AllowDelete",
        ] {
            assert_eq!(input[key], props[key], "{key}");
        }
        let drift = alarm(&rendered(&env, "monitoring"), "Drift").clone();
        let minutes: u64 = rate.trim_start_matches("rate(").split(' ').next().unwrap().parse().unwrap();
        assert_eq!(drift["Properties"]["Period"], minutes * 60);
        assert_eq!(drift["Properties"]["MetricName"], metrics::DRIFT_PENDING_CHANGES);
    }
}

#[test]
fn the_monitoring_stack_is_deployed_last() {
    let model = Env::baseline().model(StageName::Dev);
    let parts: Vec<&str> = templates(&model).iter().map(|(p, _)| *p).collect();
    assert_eq!(parts.last(), Some(&"monitoring"));
}
