//! The metrics sidecar of every node task, against what AWS documents for the CloudWatch agent on
//! ECS ("Scraping additional Prometheus sources and importing those metrics",
//! https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContainerInsights-Prometheus-Setup-configure-ECS.html):
//! the agent JSON in `CW_CONFIG_CONTENT`, the Prometheus scrape configuration in
//! `PROMETHEUS_CONFIG_CONTENT` (read through `prometheus_config_path: env:...`), an image pinned
//! to a release build of the official public ECR repository, and a task role that grants exactly
//! the calls the agent's CloudWatch Logs output makes (CreateLogStream, PutLogEvents; the log group
//! exists, no retention is set), not the CloudWatchAgentServerPolicy the guide attaches.

mod support;

use std::collections::BTreeSet;

use kafka_platform_core::StageName;
use kafka_platform_core::render::{metrics, node_metrics, templates};
use serde_json::{Value, json};
use support::*;

fn cluster(env: &Env) -> Value {
    let model = env.model(StageName::Dev);
    let (_, template) = templates(&model).into_iter().find(|(p, _)| *p == "cluster").expect("cluster");
    serde_json::to_value(&template).expect("templates serialise")
}

fn agents(template: &Value) -> Vec<Value> {
    resources(template, "AWS::ECS::TaskDefinition")
        .values()
        .filter_map(|t| {
            t["Properties"]["ContainerDefinitions"]
                .as_array()?
                .iter()
                .find(|c| c["Name"] == "metrics-agent")
                .cloned()
        })
        .collect()
}

fn env_value<'a>(container: &'a Value, name: &str) -> &'a str {
    container["Environment"]
        .as_array()
        .and_then(|e| e.iter().find(|v| v["Name"] == name))
        .and_then(|v| v["Value"].as_str())
        .unwrap_or_else(|| panic!("no {name} in {container}"))
}

#[test]
fn every_node_runs_the_pinned_official_agent_configured_through_its_environment() {
    let t = cluster(&Env::baseline());
    let model = Env::baseline().model(StageName::Dev);
    let nodes = model.cluster.brokers.len() + model.cluster.controllers.len();
    let agents = agents(&t);
    assert_eq!(agents.len(), nodes, "one sidecar per node task");
    let (repository, tag) = node_metrics::AGENT_IMAGE.rsplit_once(':').unwrap();
    assert_eq!(repository, "public.ecr.aws/cloudwatch-agent/cloudwatch-agent");
    // A release build: <major>.<release>.<patch>b<build>, never a moving tag such as `latest`.
    let (version, build) = tag.split_once('b').expect("a build number");
    assert_eq!(version.split('.').filter(|p| p.parse::<u32>().is_ok()).count(), 3, "{tag}");
    assert!(build.parse::<u32>().is_ok(), "{tag}");
    for agent in &agents {
        assert_eq!(agent["Image"], node_metrics::AGENT_IMAGE);
        assert_eq!(agent["Essential"], false, "metrics never take a node down");
        assert!(agent.get("MountPoints").is_none_or(|m| m == &json!([])), "the agent reads no volume");
        let config: Value = serde_json::from_str(env_value(agent, "CW_CONFIG_CONTENT")).expect("agent JSON");
        let prometheus = &config["logs"]["metrics_collected"]["prometheus"];
        assert_eq!(prometheus["prometheus_config_path"], "env:PROMETHEUS_CONFIG_CONTENT");
        assert_eq!(prometheus["log_group_name"], node_metrics::metrics_log_group(&model));
        assert!(config.get("metrics").is_none(), "no agent input publishes through PutMetricData");
        let scrape = env_value(agent, "PROMETHEUS_CONFIG_CONTENT");
        assert!(scrape.contains(&format!("targets: ['127.0.0.1:{}']", metrics::EXPORTER_PORT)), "{scrape}");
        // The EMF declaration keeps every contract metric with the dimensions the alarms read.
        let declaration = &prometheus["emf_processor"]["metric_declaration"][0];
        assert_eq!(
            declaration["dimensions"],
            json!([[metrics::CLUSTER_DIMENSION, metrics::NODE_DIMENSION], [metrics::CLUSTER_DIMENSION]])
        );
        let selectors = declaration["metric_selectors"].as_array().unwrap();
        for m in metrics::BROKER_METRICS {
            assert!(selectors.contains(&json!(format!("^{}$", m.name))), "{}", m.name);
        }
    }
}

#[test]
fn the_task_role_grants_exactly_what_the_agent_calls_on_its_own_log_group() {
    let t = cluster(&Env::baseline());
    let model = Env::baseline().model(StageName::Dev);
    let role = &resources(&t, "AWS::IAM::Role")["TaskRole"];
    let statements: Vec<&Value> = role["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect();
    let actions: BTreeSet<&str> = statements
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap())
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(actions, BTreeSet::from(["logs:CreateLogStream", "logs:PutLogEvents"]));
    assert_eq!(
        node_metrics::TASK_ROLE_ACTIONS.iter().copied().collect::<BTreeSet<_>>(),
        actions,
        "the documented list and the rendered role agree"
    );
    let group = node_metrics::metrics_log_group(&model);
    for s in &statements {
        let resources = s["Resource"].as_array().unwrap();
        assert_eq!(resources.len(), 2, "{s}");
        for r in resources {
            let arn = r["Fn::Sub"].as_str().unwrap();
            assert!(
                arn.ends_with(&format!(":log-group:{group}"))
                    || arn.ends_with(&format!(":log-group:{group}:*")),
                "{arn}"
            );
        }
    }
    // The group the agent writes to is one the stack creates (so CreateLogGroup is never needed).
    let groups: Vec<&Value> =
        resources(&t, "AWS::Logs::LogGroup").values().map(|g| &g["Properties"]["LogGroupName"]).collect();
    assert!(groups.contains(&&json!(group)), "{groups:?}");
}
