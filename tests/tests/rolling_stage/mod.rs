//! A stage for `gen deploy`'s rolling node updates on moto server's CloudFormation and ECS, shared by
//! deploy_rolling_moto (moto alone) and deploy_gate_kafka (moto and the Kafka test cluster).
//!
//! moto cannot execute the rendered cluster stack (docs/deploy.md), so the stage is a small
//! cluster stack written like the rendered one where the roll depends on it: an ECS cluster, and
//! per node a task definition, a pin parameter with its condition, and a service whose
//! TaskDefinition is `Fn::If [pinned, pin, own task definition]`; the manifest declares the nodes
//! in Kafka's order with their node ids and roles, as `gen render` writes them.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use platform_tests::gen_binary;
use platform_tests::moto::endpoint as moto_endpoint;
use serde_json::{Value, json};

/// One node of the stage: ECS service name, KRaft node id, roles.
#[derive(Debug, Clone, Copy)]
pub struct NodeDecl {
    pub name: &'static str,
    pub id: i32,
    pub broker: bool,
    pub controller: bool,
}

/// A dedicated controller and two brokers, in the order the manifest declares them.
pub const DEDICATED: [NodeDecl; 3] = [
    NodeDecl { name: "c0", id: 1000, broker: false, controller: true },
    NodeDecl { name: "b0", id: 1, broker: true, controller: false },
    NodeDecl { name: "b1", id: 2, broker: true, controller: false },
];

/// The Kafka test cluster's three combined nodes (ids 1, 2, 3).
pub const COMBINED: [NodeDecl; 3] = [
    NodeDecl { name: "k1", id: 1, broker: true, controller: true },
    NodeDecl { name: "k2", id: 2, broker: true, controller: true },
    NodeDecl { name: "k3", id: 3, broker: true, controller: true },
];

fn logical(node: &str, suffix: &str) -> String {
    format!("{}{suffix}", node.to_uppercase())
}

/// The cluster template with every node on `image`.
fn template(id: &str, nodes: &[NodeDecl], image: &str) -> String {
    let mut parameters = serde_json::Map::new();
    let mut conditions = serde_json::Map::new();
    let mut resources = serde_json::Map::new();
    resources
        .insert("Cluster".into(), json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": id}}));
    for node in nodes.iter().map(|n| n.name) {
        let pin = logical(node, "PinnedTaskDefinition");
        parameters.insert(pin.clone(), json!({"Type": "String", "Default": ""}));
        conditions.insert(logical(node, "Pinned"), json!({"Fn::Not": [{"Fn::Equals": [{"Ref": pin}, ""]}]}));
        resources.insert(
            logical(node, "TaskDefinition"),
            json!({"Type": "AWS::ECS::TaskDefinition", "UpdateReplacePolicy": "Retain", "Properties": {
                "Family": format!("{id}-{node}"),
                "ContainerDefinitions": [{"Name": "kafka", "Image": image, "Memory": 512, "Essential": true}],
            }}),
        );
        resources.insert(
            logical(node, "Service"),
            json!({"Type": "AWS::ECS::Service", "Properties": {
                "ServiceName": node,
                "Cluster": {"Ref": "Cluster"},
                "DesiredCount": 1,
                "TaskDefinition": {"Fn::If": [logical(node, "Pinned"), {"Ref": pin}, {"Ref": logical(node, "TaskDefinition")}]},
            }}),
        );
    }
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
    });
    serde_json::to_string_pretty(&template).unwrap()
}

/// A rendered-like stage directory and its stack name prefix.
pub struct Stage {
    root: PathBuf,
    pub id: String,
    /// The stage name (`dev`, `prod`, ...): production-like ones need the Kafka gate.
    pub stage: &'static str,
    pub nodes: Vec<NodeDecl>,
}

impl Stage {
    /// A `dev` stage of [`DEDICATED`] nodes.
    pub fn new(label: &str, region: &str) -> Stage {
        Stage::with(label, region, "dev", &DEDICATED)
    }

    /// A stage named `stage` of `nodes`.
    pub fn with(label: &str, region: &str, stage: &'static str, nodes: &[NodeDecl]) -> Stage {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let id = format!("kafka-{label}{}x{}", std::process::id(), nanos % 1_000_000_000);
        let root = std::env::temp_dir().join(format!("gen-rolling-{id}"));
        std::fs::create_dir_all(root.join("templates").join(stage)).unwrap();
        let declared: Vec<Value> = nodes
            .iter()
            .map(|n| {
                json!({"name": n.name, "service": logical(n.name, "Service"),
                       "task_definition": logical(n.name, "TaskDefinition"),
                       "pin_parameter": logical(n.name, "PinnedTaskDefinition"),
                       "node_id": n.id, "broker": n.broker, "controller": n.controller})
            })
            .collect();
        let manifest = json!({
            "stage": stage, "region": region, "account_id": "123456789012",
            "artifact_bucket": format!("{id}-artifacts"),
            "stacks": [{"name": format!("{id}-cluster"), "template": "cluster.json",
                        "rolling": {"cluster": "Cluster", "nodes": declared,
                                    "kafka_bootstrap": "bootstrap.kafka.invalid:9094"}}],
        });
        std::fs::write(root.join("templates").join(stage).join("manifest.json"), manifest.to_string())
            .unwrap();
        let stage = Stage { root, id, stage, nodes: nodes.to_vec() };
        stage.set_image("confluentinc/cp-kafka:8.1.0");
        stage
    }

    /// The node names in manifest order.
    pub fn names(&self) -> Vec<&'static str> {
        self.nodes.iter().map(|n| n.name).collect()
    }

    /// `family:revision` of every node's task definition at `revision`.
    pub fn revisions(&self, revision: u32) -> Vec<String> {
        self.nodes.iter().map(|n| format!("{}-{}:{revision}", self.id, n.name)).collect()
    }

    pub fn set_image(&self, image: &str) {
        let path = self.root.join("templates").join(self.stage).join("cluster.json");
        std::fs::write(path, template(&self.id, &self.nodes, image)).unwrap();
    }

    fn command_line(&self, args: &[&str]) -> Vec<String> {
        let templates = self.root.join("templates").display().to_string();
        let lambda = self.root.join("lambda").display().to_string();
        let mut line: Vec<String> = vec![gen_binary().display().to_string()];
        line.extend(
            [
                "deploy",
                self.stage,
                "--templates",
                &templates,
                "--poll-interval",
                "1",
                "--lambda-dir",
                &lambda,
            ]
            .map(String::from),
        );
        line.extend(args.iter().map(|a| a.to_string()));
        line
    }

    /// `gen deploy` on a pseudo-terminal (util-linux `script`), typing `answers`, one per line.
    pub fn deploy_on_terminal(&self, answers: &[&str]) -> Run {
        let quoted: Vec<String> =
            self.command_line(&[]).iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
        let mut command = Command::new("script");
        command.args(["-qec", &quoted.join(" "), "/dev/null"]);
        let mut child = aws_env(&mut command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs");
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(answers.iter().map(|a| format!("{a}\n")).collect::<String>().as_bytes()).unwrap();
        drop(stdin);
        let output = child.wait_with_output().expect("script finishes");
        Run::from(output)
    }

    /// `gen deploy ARGS` without a terminal, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> Run {
        let line = self.command_line(args);
        let mut command = Command::new(&line[0]);
        command.args(&line[1..]);
        Run::from(aws_env(&mut command).stdin(Stdio::null()).output().expect("gen runs"))
    }

    /// `gen deploy ARGS`, which must succeed.
    pub fn deploy(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, Some(0), "gen deploy {args:?} failed\n{}", run.out);
        run
    }
}

/// moto's endpoint and test credentials; no Kafka connection unless the arguments give one.
fn aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    for var in [
        "GEN_KAFKA_BOOTSTRAP",
        "GEN_KAFKA_CA_FILE",
        "GEN_KAFKA_CLIENT_CERT",
        "GEN_KAFKA_CLIENT_KEY",
        "GEN_KAFKA_SCRAM_USER",
        "GEN_KAFKA_SCRAM_PASSWORD_FILE",
    ] {
        command.env_remove(var);
    }
    command
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// How one `gen deploy` ended: exit code and stdout followed by stderr.
pub struct Run {
    pub code: Option<i32>,
    pub out: String,
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Run {
        Run {
            code: output.status.code(),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

impl Run {
    /// The lines that start with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<String> {
        self.out.lines().filter(|l| l.starts_with(prefix)).map(str::to_string).collect()
    }
}

/// Reads what ECS and CloudFormation say.
pub struct Aws {
    rt: tokio::runtime::Runtime,
    ecs: aws_sdk_ecs::Client,
    cfn: aws_sdk_cloudformation::Client,
    pub region: String,
}

impl Aws {
    pub fn new() -> Aws {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = rt.block_on(platform_tests::moto::sdk_config());
        let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        Aws {
            ecs: aws_sdk_ecs::Client::new(&config),
            cfn: aws_sdk_cloudformation::Client::new(&config),
            rt,
            region,
        }
    }

    /// `family:revision` each node service runs, in manifest order.
    pub fn running(&self, stage: &Stage) -> Vec<String> {
        let names = stage.names();
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_services()
                    .cluster(&stage.id)
                    .set_services(Some(names.iter().map(|n| n.to_string()).collect()))
                    .send(),
            )
            .unwrap();
        names
            .iter()
            .map(|n| {
                let service = out.services().iter().find(|s| s.service_name() == Some(n)).expect("service");
                service.task_definition().unwrap().rsplit('/').next().unwrap().to_string()
            })
            .collect()
    }

    /// The pin parameter of each node in the stack, in manifest order.
    pub fn pins(&self, stage: &Stage) -> Vec<String> {
        let out = self
            .rt
            .block_on(self.cfn.describe_stacks().stack_name(format!("{}-cluster", stage.id)).send())
            .unwrap();
        let params = out.stacks()[0].parameters();
        stage
            .names()
            .iter()
            .map(|n| {
                let key = logical(n, "PinnedTaskDefinition");
                params
                    .iter()
                    .find(|p| p.parameter_key() == Some(key.as_str()))
                    .and_then(|p| p.parameter_value())
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }
}
