//! The monitoring stack: the stage's alarm topic (encrypted with the stage key) and its declared
//! subscriptions, one alarm per condition with the stage's thresholds, and a dashboard. A stack of its
//! own: it holds no state, changes more often than the cluster (thresholds, subscriptions), and a
//! mistake in it must never touch a node. The scheduled drift check lives next to the reconciler in
//! the topics stack ([`drift_schedule`]).

use serde_json::{Value, json};

use crate::model::StageModel;
use crate::render::cfn::{Resource, Template, att, logical_id, r, sub, tags};
use crate::render::metrics::{
    self as m, CLUSTER_DIMENSION, KAFKA_NAMESPACE, NODE_DIMENSION, PLATFORM_NAMESPACE,
};
use crate::render::secrets::import;

/// Where an alarm's metric comes from (namespace, name, dimensions) and how it is read.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub id: String,
    pub description: String,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub statistic: &'static str,
    pub comparison: &'static str,
    pub threshold: f64,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    /// `breaching`: no data is itself the fault (an exporter, agent or node gone quiet).
    pub missing: &'static str,
    /// Set for the memory alarm: 100 * MemoryUtilized / MemoryReserved instead of one metric.
    pub memory_ratio: bool,
}

/// Every alarm of the stage, with its thresholds from `monitoring.thresholds`.
pub fn alarms(model: &StageModel) -> Vec<AlarmSpec> {
    let t = &model.monitoring.thresholds;
    let cluster = model.name();
    let eval = t.evaluation_minutes;
    let kafka = |id: &str, description: String, metric, comparison, threshold: f64| AlarmSpec {
        id: id.to_string(),
        description,
        namespace: KAFKA_NAMESPACE,
        metric,
        dimensions: vec![(CLUSTER_DIMENSION, cluster.clone())],
        statistic: "Maximum",
        comparison,
        threshold,
        period_seconds: 60,
        evaluation_periods: eval,
        missing: "breaching",
        memory_ratio: false,
    };
    let mut alarms = vec![
        kafka(
            "UnderReplicatedPartitions",
            format!("More than {} under-replicated partitions on a broker", t.under_replicated_partitions),
            m::UNDER_REPLICATED,
            "GreaterThanThreshold",
            f64::from(t.under_replicated_partitions),
        ),
        kafka(
            "UnderMinIsrPartitions",
            format!(
                "More than {} partitions under min.insync.replicas: acks=all producers fail",
                t.under_min_isr_partitions
            ),
            m::UNDER_MIN_ISR,
            "GreaterThanThreshold",
            f64::from(t.under_min_isr_partitions),
        ),
        kafka(
            "OfflinePartitions",
            format!("More than {} partitions without a leader", t.offline_partitions),
            m::OFFLINE_PARTITIONS,
            "GreaterThanThreshold",
            f64::from(t.offline_partitions),
        ),
        kafka(
            "ActiveController",
            "No active KRaft controller (or no controller metrics at all)".to_string(),
            m::ACTIVE_CONTROLLERS,
            "LessThanThreshold",
            1.0,
        ),
    ];
    let nodes = model.cluster.brokers.iter().chain(&model.cluster.controllers);
    for node in nodes {
        let per_node = vec![(CLUSTER_DIMENSION, cluster.clone()), (NODE_DIMENSION, node.name.clone())];
        let service = vec![("ClusterName", cluster.clone()), ("ServiceName", node.name.clone())];
        let id = |what: &str| format!("{}-{what}", node.name);
        // Brokers only: the scheduled drift check asks each broker (DescribeLogDirs); a dedicated
        // controller's volume holds the metadata log, which Kafka caps by
        // metadata.max.retention.bytes, and answers no DescribeLogDirs.
        if model.cluster.brokers.contains(node) {
            alarms.push(disk_alarm(model, node));
        }
        alarms.push(AlarmSpec {
            id: id("cpu"),
            description: format!("{}: CPU load above {} %", node.name, t.cpu_percent),
            namespace: KAFKA_NAMESPACE,
            metric: m::CPU_LOAD,
            dimensions: per_node,
            statistic: "Average",
            comparison: "GreaterThanThreshold",
            // The exporter reports the load from 0 to 1.
            threshold: f64::from(t.cpu_percent) / 100.0,
            period_seconds: 60,
            evaluation_periods: eval,
            missing: "breaching",
            memory_ratio: false,
        });
        alarms.push(AlarmSpec {
            id: id("memory"),
            description: format!(
                "{}: container memory above {} % of its reservation",
                node.name, t.memory_percent
            ),
            namespace: m::CONTAINER_INSIGHTS_NAMESPACE,
            metric: m::MEMORY_UTILIZED,
            dimensions: service.clone(),
            statistic: "Maximum",
            comparison: "GreaterThanThreshold",
            threshold: f64::from(t.memory_percent),
            period_seconds: 60,
            evaluation_periods: eval,
            missing: "breaching",
            memory_ratio: true,
        });
        alarms.push(AlarmSpec {
            id: id("running"),
            description: format!("{}: no task running", node.name),
            namespace: m::CONTAINER_INSIGHTS_NAMESPACE,
            metric: m::RUNNING_TASKS,
            dimensions: service,
            statistic: "Minimum",
            comparison: "LessThanThreshold",
            threshold: 1.0,
            period_seconds: 60,
            evaluation_periods: eval,
            missing: "breaching",
            memory_ratio: false,
        });
    }
    let stage = vec![(m::STAGE_DIMENSION, model.stage.as_str().to_string())];
    alarms.push(AlarmSpec {
        id: "CertificateDaysLeft".into(),
        description: format!(
            "A certificate expires in fewer than {} days: renewal has stalled",
            t.certificate_days_left
        ),
        namespace: PLATFORM_NAMESPACE,
        metric: m::CERTIFICATE_DAYS_LEFT,
        dimensions: stage.clone(),
        statistic: "Minimum",
        comparison: "LessThanThreshold",
        threshold: f64::from(t.certificate_days_left),
        // Renewal publishes at least daily (docs/operators-guide.md, "Monitoring and alarms").
        period_seconds: 86_400,
        evaluation_periods: 1,
        missing: "notBreaching",
        memory_ratio: false,
    });
    alarms.push(AlarmSpec {
        id: "ReconcilerFailures".into(),
        description: "A reconciler run (deploy or scheduled drift check) failed".into(),
        namespace: PLATFORM_NAMESPACE,
        metric: m::RECONCILER_FAILURES,
        dimensions: stage.clone(),
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
        threshold: 0.0,
        period_seconds: 300,
        evaluation_periods: 1,
        missing: "notBreaching",
        memory_ratio: false,
    });
    alarms.push(AlarmSpec {
        id: "Drift".into(),
        description: format!(
            "The scheduled drift check found more than {} changes between the declarations and the cluster",
            t.drift_pending_changes
        ),
        namespace: PLATFORM_NAMESPACE,
        metric: m::DRIFT_PENDING_CHANGES,
        dimensions: stage,
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
        threshold: f64::from(t.drift_pending_changes),
        period_seconds: model.monitoring.drift_interval_minutes * 60,
        evaluation_periods: 1,
        missing: "notBreaching",
        memory_ratio: false,
    });
    alarms
}

/// A broker's disk alarm: the drift check publishes one datapoint per broker and run, so the period
/// is the check's interval; a missing datapoint is a check that did not run or a broker that did
/// not answer, which the reconciler-failure and running-task alarms report.
fn disk_alarm(model: &StageModel, node: &crate::model::Node) -> AlarmSpec {
    let threshold = model.monitoring.thresholds.disk_used_percent;
    AlarmSpec {
        id: format!("{}-disk", node.name),
        description: format!("{}: data volume above {threshold} % used", node.name),
        namespace: PLATFORM_NAMESPACE,
        metric: m::LOG_DIR_USED_PERCENT,
        dimensions: vec![
            (m::STAGE_DIMENSION, model.stage.as_str().to_string()),
            (m::BROKER_DIMENSION, node.node_id.to_string()),
        ],
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
        threshold: f64::from(threshold),
        period_seconds: model.monitoring.drift_interval_minutes * 60,
        evaluation_periods: 1,
        missing: "notBreaching",
        memory_ratio: false,
    }
}

fn dimensions(d: &[(&str, String)]) -> Value {
    json!(d.iter().map(|(k, v)| json!({ "Name": k, "Value": v })).collect::<Vec<_>>())
}

fn alarm_resource(model: &StageModel, a: &AlarmSpec) -> Resource {
    let mut p = json!({
        "AlarmName": format!("{}-{}", model.name(), a.id),
        "AlarmDescription": a.description,
        "ComparisonOperator": a.comparison,
        "Threshold": a.threshold,
        "EvaluationPeriods": a.evaluation_periods,
        "DatapointsToAlarm": a.evaluation_periods,
        "TreatMissingData": a.missing,
        "AlarmActions": [r("AlarmTopic")],
        "OKActions": [r("AlarmTopic")],
    });
    if a.memory_ratio {
        let metric = |id: &str, name: &str| {
            json!({
                "Id": id, "ReturnData": false,
                "MetricStat": { "Metric": { "Namespace": a.namespace, "MetricName": name, "Dimensions": dimensions(&a.dimensions) },
                                "Period": a.period_seconds, "Stat": a.statistic },
            })
        };
        p["Metrics"] = json!([
            metric("used", m::MEMORY_UTILIZED),
            metric("reserved", m::MEMORY_RESERVED),
            { "Id": "percent", "Expression": "100 * used / reserved", "Label": "memory used (%)", "ReturnData": true },
        ]);
    } else {
        p["Namespace"] = json!(a.namespace);
        p["MetricName"] = json!(a.metric);
        p["Dimensions"] = dimensions(&a.dimensions);
        p["Statistic"] = json!(a.statistic);
        p["Period"] = json!(a.period_seconds);
    }
    Resource::new("AWS::CloudWatch::Alarm", p)
}

/// Renders the monitoring stack.
pub fn render(model: &StageModel) -> Template {
    let mut t = Template::new(format!("Kafka platform {}: alarm topic, alarms and dashboard", model.stage));
    import(&mut t, model, "KmsKeyArn", "kms-key-arn");
    t.add(
        "AlarmTopic",
        Resource::new(
            "AWS::SNS::Topic",
            json!({
                "TopicName": format!("{}-alarms", model.name()),
                "DisplayName": format!("Kafka {} alarms", model.stage),
                "KmsMasterKeyId": r("KmsKeyArn"),
                "Tags": tags(&model.tags),
            }),
        ),
    );
    t.add("AlarmTopicPolicy", Resource::new("AWS::SNS::TopicPolicy", json!({
        "Topics": [r("AlarmTopic")],
        "PolicyDocument": { "Version": "2012-10-17", "Statement": [
            { "Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": { "Service": "cloudwatch.amazonaws.com" },
              "Action": "sns:Publish", "Resource": r("AlarmTopic"),
              "Condition": { "StringEquals": { "aws:SourceAccount": r("AWS::AccountId") } } },
            { "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": r("AlarmTopic"),
              "Condition": { "Bool": { "aws:SecureTransport": "false" } } },
        ]},
    })));
    for (i, (protocol, endpoint)) in model.monitoring.subscriptions.iter().enumerate() {
        t.add(
            format!("AlarmSubscription{i}"),
            Resource::new(
                "AWS::SNS::Subscription",
                json!({ "TopicArn": r("AlarmTopic"), "Protocol": protocol.as_str(), "Endpoint": endpoint }),
            ),
        );
    }
    for a in alarms(model) {
        t.add(logical_id(&[&a.id, "alarm"]), alarm_resource(model, &a));
    }
    t.add(
        "Dashboard",
        Resource::new(
            "AWS::CloudWatch::Dashboard",
            json!({ "DashboardName": model.name(), "DashboardBody": sub(dashboard_body(model)) }),
        ),
    );
    t.output("AlarmTopicArn", "SNS topic of the stage's alarms", r("AlarmTopic"));
    t
}

/// Every (namespace, metric) the dashboard shows.
pub fn dashboard_metrics(model: &StageModel) -> Vec<(&'static str, &'static str)> {
    let _ = model;
    vec![
        (KAFKA_NAMESPACE, m::UNDER_REPLICATED),
        (KAFKA_NAMESPACE, m::UNDER_MIN_ISR),
        (KAFKA_NAMESPACE, m::OFFLINE_PARTITIONS),
        (KAFKA_NAMESPACE, m::ACTIVE_CONTROLLERS),
        (KAFKA_NAMESPACE, m::CPU_LOAD),
        (KAFKA_NAMESPACE, m::HEAP_USED),
        (KAFKA_NAMESPACE, m::HEAP_MAX),
        (PLATFORM_NAMESPACE, m::LOG_DIR_USED_PERCENT),
        (m::CONTAINER_INSIGHTS_NAMESPACE, m::MEMORY_UTILIZED),
        (m::CONTAINER_INSIGHTS_NAMESPACE, m::RUNNING_TASKS),
        (PLATFORM_NAMESPACE, m::DRIFT_PENDING_CHANGES),
        (PLATFORM_NAMESPACE, m::RECONCILER_FAILURES),
        (PLATFORM_NAMESPACE, m::CERTIFICATE_DAYS_LEFT),
    ]
}

fn dashboard_body(model: &StageModel) -> String {
    let cluster = model.name();
    let stage = model.stage.as_str();
    let nodes: Vec<&str> =
        model.cluster.brokers.iter().chain(&model.cluster.controllers).map(|n| n.name.as_str()).collect();
    let per_node = |metric: &str| -> Vec<Value> {
        nodes
            .iter()
            .map(|n| json!([KAFKA_NAMESPACE, metric, CLUSTER_DIMENSION, cluster, NODE_DIMENSION, n]))
            .collect()
    };
    let per_service = |metric: &str| -> Vec<Value> {
        nodes
            .iter()
            .map(|n| {
                json!([m::CONTAINER_INSIGHTS_NAMESPACE, metric, "ClusterName", cluster, "ServiceName", n])
            })
            .collect()
    };
    let widget = |title: &str, metrics: Vec<Value>, stat: &str, x: u32, y: u32| {
        json!({ "type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": {
            "title": title, "region": "${AWS::Region}", "stat": stat, "period": 60, "view": "timeSeries", "metrics": metrics } })
    };
    let cluster_metric = |metric: &str| json!([KAFKA_NAMESPACE, metric, CLUSTER_DIMENSION, cluster]);
    let platform = |metric: &str| json!([PLATFORM_NAMESPACE, metric, m::STAGE_DIMENSION, stage]);
    let disk: Vec<Value> = model
        .cluster
        .brokers
        .iter()
        .map(|b| json!([PLATFORM_NAMESPACE, m::LOG_DIR_USED_PERCENT, m::STAGE_DIMENSION, stage, m::BROKER_DIMENSION, b.node_id.to_string(), { "label": b.name }]))
        .collect();
    let mut heap = per_node(m::HEAP_USED);
    heap.extend(per_node(m::HEAP_MAX));
    let body = json!({ "widgets": [
        widget("Partitions (max over brokers)", vec![cluster_metric(m::UNDER_REPLICATED), cluster_metric(m::UNDER_MIN_ISR), cluster_metric(m::OFFLINE_PARTITIONS)], "Maximum", 0, 0),
        widget("Active controller", vec![cluster_metric(m::ACTIVE_CONTROLLERS)], "Maximum", 12, 0),
        widget("CPU load per node (0-1)", per_node(m::CPU_LOAD), "Average", 0, 6),
        widget("JVM heap per node (bytes)", heap, "Maximum", 12, 6),
        widget("Data volume used per broker (%)", disk, "Maximum", 0, 12),
        widget("Container memory per node (MiB)", per_service(m::MEMORY_UTILIZED), "Maximum", 12, 12),
        widget("Running tasks per node", per_service(m::RUNNING_TASKS), "Minimum", 0, 18),
        widget("Reconciler: drift and failures", vec![platform(m::DRIFT_PENDING_CHANGES), platform(m::RECONCILER_FAILURES)], "Maximum", 12, 18),
        widget("Certificate days left", vec![platform(m::CERTIFICATE_DAYS_LEFT)], "Minimum", 0, 24),
    ]});
    serde_json::to_string(&body).expect("dashboard serialises")
}

/// The scheduled drift check, rendered into the topics stack next to the reconciler function: an
/// EventBridge rule that invokes it with a `DriftCheck` event (the custom resource's connection
/// settings, and whether to correct), and the permission to do so.
pub fn drift_schedule(t: &mut Template, model: &StageModel, connection: &Value) {
    let mut input = connection.clone();
    input["DriftCheck"] = json!({ "Mode": model.monitoring.drift_mode.as_str() });
    let description = format!(
        "Kafka {}: plan-only reconciler run every {} minutes ({})",
        model.stage,
        model.monitoring.drift_interval_minutes,
        model.monitoring.drift_mode.as_str()
    );
    let rate = format!("rate({} minutes)", model.monitoring.drift_interval_minutes);
    reconciler_schedule(t, "DriftCheck", &description, &rate, &input);
}

/// An EventBridge rule `<name>Schedule` that invokes the reconciler function with `input` on
/// `expression`, and the permission `<name>Permission` that lets EventBridge (this rule only, from
/// this account) do so.
pub fn reconciler_schedule(t: &mut Template, name: &str, description: &str, expression: &str, input: &Value) {
    let rule = format!("{name}Schedule");
    t.add(
        &rule,
        Resource::new(
            "AWS::Events::Rule",
            json!({
                "Description": description,
                "ScheduleExpression": expression,
                "State": "ENABLED",
                "Targets": [{ "Id": "reconciler", "Arn": att("ReconcilerFunction", "Arn"),
                              "Input": serde_json::to_string(input).expect("input serialises") }],
            }),
        ),
    );
    t.add(
        format!("{name}Permission"),
        Resource::new(
            "AWS::Lambda::Permission",
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": r("ReconcilerFunction"),
                "Principal": "events.amazonaws.com",
                "SourceArn": att(&rule, "Arn"),
                "SourceAccount": r("AWS::AccountId"),
            }),
        ),
    );
}
