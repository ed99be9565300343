//! Rolling node updates of `gen deploy` against moto server's CloudFormation and ECS.
//!
//! Needs moto on MOTO_ENDPOINT (`eval "$(tests/scripts/moto.sh env)"`; tests/run.sh does both).
//! Runs the real `gen` binary (GEN_BIN, or built with cargo).
//!
//! moto cannot execute the rendered cluster stack (docs/deploy.md), so the stage here is a small
//! cluster stack written like the rendered one where the roll depends on it: an ECS cluster, and per
//! node a task definition, a pin parameter with its condition, and a service whose TaskDefinition is
//! `Fn::If [pinned, pin, own task definition]`; the manifest declares the nodes in Kafka's order
//! (controller first). What moto cannot show: it never runs tasks, so no health check gates a step
//! (CloudFormation on AWS waits for the service to be stable); it deregisters a replaced task
//! definition in spite of `UpdateReplacePolicy: Retain`; and it lists no change-set rows for
//! parameter-only changes. The deploy reads back, after every step, which node services changed
//! task definition and stops unless it was exactly the step's node; this test checks those lines
//! and the services' task definitions in ECS.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use platform_tests::gen_binary;
use platform_tests::moto::endpoint as moto_endpoint;
use serde_json::{Value, json};

/// Node names in the order the manifest declares them (dedicated controller first).
const NODES: [&str; 3] = ["c0", "b0", "b1"];

fn logical(node: &str, suffix: &str) -> String {
    format!("{}{suffix}", node.to_uppercase())
}

/// The cluster template with every node on `image`.
fn template(id: &str, image: &str) -> String {
    let mut parameters = serde_json::Map::new();
    let mut conditions = serde_json::Map::new();
    let mut resources = serde_json::Map::new();
    resources
        .insert("Cluster".into(), json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": id}}));
    for node in NODES {
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

struct Stage {
    root: PathBuf,
    id: String,
}

impl Stage {
    fn new(label: &str, region: &str) -> Stage {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let id = format!("kafka-{label}{}x{}", std::process::id(), nanos % 1_000_000_000);
        let root = std::env::temp_dir().join(format!("gen-rolling-{id}"));
        std::fs::create_dir_all(root.join("templates/dev")).unwrap();
        let nodes: Vec<Value> = NODES
            .iter()
            .map(|n| {
                json!({"name": n, "service": logical(n, "Service"), "task_definition": logical(n, "TaskDefinition"),
                       "pin_parameter": logical(n, "PinnedTaskDefinition")})
            })
            .collect();
        let manifest = json!({
            "stage": "dev", "region": region, "account_id": "123456789012",
            "artifact_bucket": format!("{id}-artifacts"),
            "stacks": [{"name": format!("{id}-cluster"), "template": "cluster.json",
                        "rolling": {"cluster": "Cluster", "nodes": nodes}}],
        });
        std::fs::write(root.join("templates/dev/manifest.json"), manifest.to_string()).unwrap();
        let stage = Stage { root, id };
        stage.set_image("confluentinc/cp-kafka:8.1.0");
        stage
    }

    fn set_image(&self, image: &str) {
        std::fs::write(self.root.join("templates/dev/cluster.json"), template(&self.id, image)).unwrap();
    }

    fn command_line(&self, args: &[&str]) -> Vec<String> {
        let templates = self.root.join("templates").display().to_string();
        let lambda = self.root.join("lambda").display().to_string();
        let mut line: Vec<String> = vec![gen_binary().display().to_string()];
        line.extend(
            ["deploy", "dev", "--templates", &templates, "--poll-interval", "1", "--lambda-dir", &lambda]
                .map(String::from),
        );
        line.extend(args.iter().map(|a| a.to_string()));
        line
    }

    /// `gen deploy` on a pseudo-terminal (util-linux `script`), typing `answers`, one per line.
    fn deploy_on_terminal(&self, answers: &[&str]) -> Run {
        let quoted: Vec<String> =
            self.command_line(&[]).iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
        let mut child = Command::new("script")
            .args(["-qec", &quoted.join(" "), "/dev/null"])
            .env("AWS_ENDPOINT_URL", moto_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
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
        Run {
            code: output.status.code(),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    fn deploy(&self, args: &[&str]) -> Run {
        let line = self.command_line(args);
        let output = Command::new(&line[0])
            .args(&line[1..])
            .env("AWS_ENDPOINT_URL", moto_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("gen runs");
        let run = Run {
            code: output.status.code(),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        };
        assert_eq!(run.code, Some(0), "gen deploy {args:?} failed\n{}", run.out);
        run
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Run {
    code: Option<i32>,
    out: String,
}

impl Run {
    /// Positions of the lines that start with `prefix`, with the lines.
    fn lines_starting(&self, prefix: &str) -> Vec<String> {
        self.out.lines().filter(|l| l.starts_with(prefix)).map(str::to_string).collect()
    }
}

/// Reads what ECS and CloudFormation say.
struct Aws {
    rt: tokio::runtime::Runtime,
    ecs: aws_sdk_ecs::Client,
    cfn: aws_sdk_cloudformation::Client,
    region: String,
}

impl Aws {
    fn new() -> Aws {
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

    /// `family:revision` each node service runs.
    fn running(&self, stage: &Stage) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_services()
                    .cluster(&stage.id)
                    .set_services(Some(NODES.iter().map(|n| n.to_string()).collect()))
                    .send(),
            )
            .unwrap();
        NODES
            .iter()
            .map(|n| {
                let service = out.services().iter().find(|s| s.service_name() == Some(n)).expect("service");
                service.task_definition().unwrap().rsplit('/').next().unwrap().to_string()
            })
            .collect()
    }

    fn pins(&self, stage: &Stage) -> Vec<String> {
        let out = self
            .rt
            .block_on(self.cfn.describe_stacks().stack_name(format!("{}-cluster", stage.id)).send())
            .unwrap();
        let params = out.stacks()[0].parameters();
        NODES
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

#[test]
fn an_image_change_restarts_one_node_per_change_set_in_kafka_order_and_a_second_deploy_does_nothing() {
    let aws = Aws::new();
    let stage = Stage::new("roll", &aws.region);
    let first: Vec<String> = NODES.iter().map(|n| format!("{}-{n}:1", stage.id)).collect();
    let second: Vec<String> = NODES.iter().map(|n| format!("{}-{n}:2", stage.id)).collect();

    // A first create passes no pins: every node starts on its own task definition.
    let run = stage.deploy(&["--yes"]);
    assert!(run.out.contains("new stack"), "{}", run.out);
    assert!(run.lines_starting("--> step").is_empty(), "a create is one change set\n{}", run.out);
    assert_eq!(aws.running(&stage), first);

    let run = stage.deploy(&["--yes"]);
    assert!(run.out.contains("No changes."), "{}", run.out);
    assert!(run.lines_starting("--> step").is_empty(), "{}", run.out);

    stage.set_image("confluentinc/cp-kafka:8.2.1");
    // The review shows the plan and executes nothing.
    let run = stage.deploy(&["--dry-run"]);
    assert!(
        run.out.contains("Node services change (c0, b0, b1): applied in steps, one node at a time"),
        "{}",
        run.out
    );
    assert!(run.lines_starting("--> step").is_empty(), "{}", run.out);
    assert_eq!(aws.running(&stage), first, "a dry run restarts nothing");

    let run = stage.deploy(&["--yes"]);
    let steps = run.lines_starting("--> step");
    assert_eq!(
        steps,
        [
            "--> step 1: everything but the node restarts (each node holds the task definition it runs)",
            "--> step 2: node c0",
            "--> step 3: node b0",
            "--> step 4: node b1",
        ],
        "{}",
        run.out
    );
    assert!(run.out.contains("Nodes to restart, one at a time: c0, b0, b1"), "{}", run.out);
    // What the deploy read back from ECS after each step: nothing moved in step 1, then exactly the
    // step's node, in order.
    let moves: Vec<&str> = run
        .out
        .lines()
        .filter(|l| l.starts_with("No node changed task definition.") || l.contains(" now runs "))
        .collect();
    let expected: Vec<String> = std::iter::once("No node changed task definition.".to_string())
        .chain(NODES.iter().zip(&second).map(|(n, td)| format!("{n} now runs {td}.")))
        .collect();
    assert_eq!(moves, expected, "{}", run.out);
    assert!(!run.out.contains("FAILED"), "{}", run.out);
    assert_eq!(aws.running(&stage), second);
    assert_eq!(aws.pins(&stage), ["", "", ""], "the rollout leaves no pin: the stack is the template");

    let run = stage.deploy(&["--yes"]);
    assert!(run.out.contains("No changes."), "{}", run.out);
    assert!(run.lines_starting("--> step").is_empty(), "{}", run.out);
    assert_eq!(aws.running(&stage), second);
}

#[test]
fn all_nodes_at_once_is_one_change_set_and_says_so() {
    let aws = Aws::new();
    let stage = Stage::new("once", &aws.region);
    stage.deploy(&["--yes"]);
    stage.set_image("confluentinc/cp-kafka:8.2.1");
    let run = stage.deploy(&["--yes", "--all-nodes-at-once"]);
    assert!(
        run.out.contains("WARNING: --all-nodes-at-once: nodes c0, b0, b1 restart together"),
        "{}",
        run.out
    );
    assert!(run.lines_starting("--> step").is_empty(), "{}", run.out);
    // One change set replaced every task definition. moto does not update a resource because a
    // resource it references was replaced (AWS does: every service moves at once), so the
    // services' task definitions are not checked here.
    assert_eq!(run.out.matches("UPDATE_COMPLETE in").count(), 1, "{}", run.out);
}

#[test]
fn on_a_terminal_each_node_is_asked_for_and_a_declined_rollout_goes_on_at_the_next_deploy() {
    let aws = Aws::new();
    let stage = Stage::new("ask", &aws.region);
    stage.deploy(&["--yes"]);
    let first: Vec<String> = NODES.iter().map(|n| format!("{}-{n}:1", stage.id)).collect();
    stage.set_image("confluentinc/cp-kafka:8.2.1");
    // Yes to the update, yes to c0, no to b0.
    let run = stage.deploy_on_terminal(&["yes", "yes", "no"]);
    assert_eq!(run.code, Some(1), "{}", run.out);
    assert!(run.out.contains("Restart node c0 of "), "{}", run.out);
    assert!(run.out.contains("Stopped before node b0. Restarted: c0."), "{}", run.out);
    assert!(!run.out.contains("--> step 4"), "{}", run.out);
    let running = aws.running(&stage);
    assert_eq!(running[0], format!("{}-c0:2", stage.id));
    assert_eq!(running[1..], first[1..], "b0 and b1 were not restarted");
    let pins = aws.pins(&stage);
    assert_eq!(pins[0], "", "c0 runs its own task definition");
    for (pin, node) in pins[1..].iter().zip(&first[1..]) {
        assert!(pin.ends_with(&format!("/{node}")), "{node} stays pinned to its previous revision: {pin}");
    }

    // Run again: the rollout goes on with the nodes still pinned, one at a time.
    let run = stage.deploy(&["--yes"]);
    assert!(run.out.contains("unfinished rolling update"), "{}", run.out);
    assert_eq!(run.lines_starting("--> step").len(), 3, "step 1, then b0 and b1\n{}", run.out);
    assert!(run.out.contains("Nodes to restart, one at a time: b0, b1"), "{}", run.out);
    let second: Vec<String> = NODES.iter().map(|n| format!("{}-{n}:2", stage.id)).collect();
    assert_eq!(aws.running(&stage), second);
    assert_eq!(aws.pins(&stage), ["", "", ""]);
}
