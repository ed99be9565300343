//! How a node's Kafka and JVM metrics reach CloudWatch: the Prometheus JMX exporter javaagent in
//! the broker JVM (rules and names from [`metrics`]), and a CloudWatch agent sidecar in the same
//! task that scrapes it on 127.0.0.1 and ships the named metrics as embedded metric format (EMF)
//! through CloudWatch Logs. Reasons in docs/architecture.md ("Metrics"). The data volume's fill level
//! is not the agent's: each broker reports it (render::metrics::LOG_DIR_USED_PERCENT).
//!
//! The jar comes from the stage's artifact bucket (`gen package` fetches the pinned jar, `gen deploy`
//! uploads it with the Lambda zips), fetched and checked against [`metrics::EXPORTER_SHA256`] at boot. A
//! node whose fetch fails still starts, without the agent: its metrics go missing, and the alarms
//! that read them treat missing data as breaching, so the gap is reported rather than hidden.

use serde_json::{Value, json};

use crate::model::{Node, StageModel};
use crate::render::cfn::{r, sub};
use crate::render::metrics::{
    self as m, BROKER_METRICS, CLUSTER_DIMENSION, EXPORTER_PORT, EXPORTER_SHA256, EXPORTER_VERSION,
    KAFKA_NAMESPACE, NODE_DIMENSION,
};
use crate::render::names;

/// Host directory (and read-only container mount) with the agent jar and its rules.
pub const METRICS_DIR: &str = "/opt/kafka-metrics";
/// The CloudWatch agent image of the sidecar (its Prometheus input and EMF output), pinned to a
/// release build: agent 1.300062.0 (release notes of aws/amazon-cloudwatch-agent, 2025-11-05);
/// public ECR tags carry the build number after `b`. Configured as AWS documents for ECS
/// (ContainerInsights-Prometheus-Setup-configure-ECS): the agent JSON in `CW_CONFIG_CONTENT`, the
/// Prometheus scrape configuration in `PROMETHEUS_CONFIG_CONTENT`, here as plain environment
/// values since neither holds a secret.
pub const AGENT_IMAGE: &str = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304";

/// Name of the exporter jar's entry in the package manifest (`gen package` writes it, `gen deploy`
/// uploads it under [`exporter_key`]).
pub const EXPORTER_PACKAGE: &str = "metrics-exporter";

/// S3 key of the exporter jar in the artifact bucket.
pub fn exporter_key() -> String {
    format!("monitoring/jmx_prometheus_javaagent-{EXPORTER_VERSION}.jar")
}

/// The log group of the agent's EMF records (under the stage's log prefix, so the stage key's
/// CloudWatch Logs grant covers it).
pub fn metrics_log_group(model: &StageModel) -> String {
    format!("/{}/{}/metrics", model.resource_prefix, model.stage)
}

/// User-data lines (inside a `Fn::Sub`): fetch and check the jar, write the rules. Never fatal.
pub fn boot_step(model: &StageModel) -> String {
    let bucket = names::artifact_bucket(model);
    let key = exporter_key();
    let config = m::exporter_config();
    format!(
        "# Metrics agent (render::node_metrics): a failure leaves the node without metrics, never down.\nmkdir -p {METRICS_DIR}\ncat > {METRICS_DIR}/exporter.yaml <<'RULES'\n{config}RULES\nif aws s3 cp --region ${{AWS::Region}} s3://{bucket}/{key} {METRICS_DIR}/agent.jar.part && echo '{EXPORTER_SHA256}  {METRICS_DIR}/agent.jar.part' | sha256sum -c --quiet -; then\n  mv {METRICS_DIR}/agent.jar.part {METRICS_DIR}/agent.jar\nelse\n  rm -f {METRICS_DIR}/agent.jar.part\n  echo \"kafka node: metrics agent s3://{bucket}/{key} missing or not the pinned build; the node runs without metrics\" >&2\nfi\n"
    )
}

/// Launcher lines: load the javaagent when the boot put it there.
pub fn launcher_step() -> String {
    format!(
        "if [ -f {METRICS_DIR}/agent.jar ]; then\n  export KAFKA_OPTS=\"${{KAFKA_OPTS:-}} -javaagent:{METRICS_DIR}/agent.jar=127.0.0.1:{EXPORTER_PORT}:{METRICS_DIR}/exporter.yaml\"\nelse\n  echo 'launcher: no metrics agent on this host; starting without it' >&2\nfi\n"
    )
}

/// The sidecar container of a node's task.
pub fn agent_container(model: &StageModel, node: &Node, log_group: &str) -> Value {
    let cluster = model.name();
    let selectors: Vec<String> = BROKER_METRICS.iter().map(|b| format!("^{}$", b.name)).collect();
    let agent = json!({
        "agent": { "region": model.region },
        "logs": {
            "metrics_collected": { "prometheus": {
                "log_group_name": metrics_log_group(model),
                "prometheus_config_path": "env:PROMETHEUS_CONFIG_CONTENT",
                "emf_processor": {
                    "metric_namespace": KAFKA_NAMESPACE,
                    "metric_declaration": [{
                        "source_labels": ["job"],
                        "label_matcher": "^kafka$",
                        "dimensions": [[CLUSTER_DIMENSION, NODE_DIMENSION], [CLUSTER_DIMENSION]],
                        "metric_selectors": selectors,
                    }],
                },
            }},
            "force_flush_interval": 15,
        },
    });
    let prometheus = format!(
        "global:\n  scrape_interval: 30s\n  scrape_timeout: 10s\nscrape_configs:\n  - job_name: kafka\n    static_configs:\n      - targets: ['127.0.0.1:{EXPORTER_PORT}']\n        labels:\n          {CLUSTER_DIMENSION}: {cluster}\n          {NODE_DIMENSION}: {node}\n",
        node = node.name
    );
    json!({
        "Name": "metrics-agent",
        "Image": AGENT_IMAGE,
        // Metrics must never take the node down with them.
        "Essential": false,
        "Memory": 256,
        "Environment": [
            { "Name": "CW_CONFIG_CONTENT", "Value": serde_json::to_string(&agent).expect("agent config serialises") },
            { "Name": "PROMETHEUS_CONFIG_CONTENT", "Value": prometheus },
        ],
        "LogConfiguration": { "LogDriver": "awslogs", "Options": {
            "awslogs-group": log_group, "awslogs-region": r("AWS::Region"), "awslogs-stream-prefix": format!("{}-metrics", node.name)
        }},
    })
}

/// The only AWS calls the sidecar makes with this configuration: the agent's CloudWatch Logs
/// output creates its stream, then puts the EMF records (it calls CreateLogGroup only when the
/// group is missing, and the cluster stack creates it; PutRetentionPolicy only with a retention
/// configured, and none is). EMF needs no cloudwatch:PutMetricData: CloudWatch extracts the
/// metrics from the log group. AWS's ECS guide grants CloudWatchAgentServerPolicy plus ECS and EC2
/// reads for service discovery; static targets need none of that.
pub const TASK_ROLE_ACTIONS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];

/// Task role statements of the sidecar: [`TASK_ROLE_ACTIONS`] on its own log group only.
pub fn task_role_statements(model: &StageModel) -> Value {
    json!([
        { "Sid": "MetricsLogGroup", "Effect": "Allow",
          "Action": TASK_ROLE_ACTIONS,
          "Resource": [
              sub(format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}", metrics_log_group(model))),
              sub(format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}:*", metrics_log_group(model))),
          ] },
    ])
}

/// Instance role statement: read the pinned jar, nothing else of the bucket.
pub fn instance_role_statement(model: &StageModel) -> Value {
    json!({ "Sid": "MetricsAgentJar", "Effect": "Allow", "Action": ["s3:GetObject"],
            "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{}/{}", names::artifact_bucket(model), exporter_key())) })
}
