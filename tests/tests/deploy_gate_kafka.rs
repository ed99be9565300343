//! The Kafka health gate of `gen deploy`'s rolling node updates, against the suite's real Kafka
//! cluster: CloudFormation and ECS on moto (the `rolling_stage` stack with nodes k1, k2, k3 standing
//! for the cluster's combined nodes 1, 2, 3), the gate through the cluster's SASL listener with the
//! flags an operator passes.
//!
//! With node 3 stopped, a rolling update of the three nodes runs its first step (every node held
//! on the task definition it runs) and then does not proceed: the gate waits, naming node 3, gives
//! up after --kafka-gate-wait, no node's service moves and the nodes stay pinned. Once node 3 is
//! started again (`kafka.sh start-node`, as the suite starts it), `gen deploy` goes on from there:
//! it rolls every node, the gate passing before each and after the last.
//!
//! moto runs no task, so the ECS side of a step completes at once; what waits here is the gate.
//! Needs moto and the Kafka test cluster (tests/run.sh starts both). Stops node 3 for about half a
//! minute; it is started again when the test ends, also when it fails.

mod kafka_common;
mod rolling_stage;

use kafka_common::{admin_user, env, kafka_sh};
use rolling_stage::{Aws, COMBINED, Stage};

/// Starts a node again when dropped (`start-node` of a running node does nothing).
struct NodeStarted(&'static str);

impl Drop for NodeStarted {
    fn drop(&mut self) {
        let out = kafka_sh(&["start-node", self.0]);
        if !out.status.success() {
            eprintln!("starting node {} failed: {}", self.0, String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn the_deploy_waits_for_a_stopped_node_names_it_and_goes_on_once_it_is_back() {
    let aws = Aws::new();
    let stage = Stage::with("gate", &aws.region, "dev", &COMBINED);
    let (bootstrap, ca) = (env("KAFKA_TEST_BOOTSTRAP_SASL"), env("KAFKA_TEST_CA_FILE"));
    let (user, password_file) = (admin_user(), env("KAFKA_TEST_ADMIN_PASSWORD_FILE"));
    let gate = [
        "--yes",
        "--bootstrap",
        &bootstrap,
        "--ca-file",
        &ca,
        "--scram-user",
        &user,
        "--scram-password-file",
        &password_file,
    ];
    // A create restarts no running node: no gate.
    stage.deploy(&["--yes"]);
    let first = stage.revisions(1);
    stage.set_image("confluentinc/cp-kafka:8.2.1");

    let _started = NodeStarted("3");
    let out = kafka_sh(&["stop-node", "3"]);
    assert!(out.status.success(), "stop-node 3: {}", String::from_utf8_lossy(&out.stderr));
    let held = stage.run(&[&gate[..], &["--kafka-gate-wait", "20"]].concat());
    assert_eq!(held.code, Some(1), "{}", held.out);
    let steps = held.lines_starting("--> step");
    assert_eq!(steps.len(), 2, "step 1, then the first node's turn, where the gate stops\n{}", held.out);
    let waits = held.lines_starting("Kafka health gate: waiting");
    let names_node_3 = |line: &String| {
        ["broker 3 is", "controller 3 ", "not in sync: [3]"].iter().any(|about| line.contains(about))
    };
    assert!(waits.iter().any(names_node_3), "the gate names node 3 while it waits\n{}", held.out);
    assert!(
        held.out.contains("FAILED: Kafka health gate before node k1: the cluster was not caught up within"),
        "{}",
        held.out
    );
    assert!(held.out.contains("run `gen deploy` again: it goes on"), "{}", held.out);
    assert_eq!(aws.running(&stage), first, "no node's service moved while node 3 was down");
    assert!(aws.pins(&stage).iter().all(|pin| !pin.is_empty()), "every node stays pinned: resumable");

    let out = kafka_sh(&["start-node", "3"]);
    assert!(out.status.success(), "start-node 3: {}", String::from_utf8_lossy(&out.stderr));
    let resumed = stage.run(&[&gate[..], &["--kafka-gate-wait", "180"]].concat());
    assert_eq!(resumed.code, Some(0), "{}", resumed.out);
    assert!(resumed.out.contains("unfinished rolling update"), "{}", resumed.out);
    assert_eq!(
        resumed.lines_starting("--> "),
        [
            "--> step 1: everything but the node restarts (each node holds the task definition it runs)",
            "--> step 2: node k1",
            "--> step 3: node k2",
            "--> step 4: node k3",
            "--> Kafka health gate after the last step",
        ],
        "{}",
        resumed.out
    );
    let passed = resumed.lines_starting("Kafka health gate: the cluster is caught up").len();
    assert_eq!(passed, 4, "the gate passes before each node and after the last\n{}", resumed.out);
    assert_eq!(aws.running(&stage), stage.revisions(2));
    assert_eq!(aws.pins(&stage), ["", "", ""]);
}
