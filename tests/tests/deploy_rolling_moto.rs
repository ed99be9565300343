//! Rolling node updates of `gen deploy` against moto server's CloudFormation and ECS.
//!
//! Needs moto on MOTO_ENDPOINT (`eval "$(tests/scripts/moto.sh env)"`; tests/run.sh does both).
//! Runs the real `gen` binary (GEN_BIN, or built with cargo).
//!
//! The stage is the small cluster stack of `rolling_stage` (a dedicated controller c0, then
//! brokers b0 and b1), since moto cannot execute the rendered one (docs/deploy.md). What moto
//! cannot show: it never runs tasks, so no health check gates a step (CloudFormation on AWS waits
//! for the service to be stable); it deregisters a replaced task definition in spite of
//! `UpdateReplacePolicy: Retain`; and it lists no change-set rows for parameter-only changes. The
//! deploy reads back, after every step, which node services changed task definition and stops
//! unless it was exactly the step's node; these tests check those lines and the services' task
//! definitions in ECS. No Kafka here: a dev stage rolls without the Kafka health gate (and says
//! so), a production-like one refuses unless told `--skip-kafka-gate`; deploy_gate_kafka runs the
//! gate against the test cluster.

mod rolling_stage;

use rolling_stage::{Aws, Stage};

#[test]
fn an_image_change_restarts_one_node_per_change_set_in_kafka_order_and_a_second_deploy_does_nothing() {
    let aws = Aws::new();
    let stage = Stage::new("roll", &aws.region);
    let (first, second) = (stage.revisions(1), stage.revisions(2));

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
    assert!(
        run.out.contains("WARNING: no Kafka connection (--ca-file): nodes roll on CloudFormation's"),
        "a dev stage rolls without the gate, and says so\n{}",
        run.out
    );
    // What the deploy read back from ECS after each step: nothing moved in step 1, then exactly the
    // step's node, in order.
    let moves: Vec<&str> = run
        .out
        .lines()
        .filter(|l| l.starts_with("No node changed task definition.") || l.contains(" now runs "))
        .collect();
    let expected: Vec<String> = std::iter::once("No node changed task definition.".to_string())
        .chain(stage.names().iter().zip(&second).map(|(n, td)| format!("{n} now runs {td}.")))
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
    let first = stage.revisions(1);
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
    assert_eq!(aws.running(&stage), stage.revisions(2));
    assert_eq!(aws.pins(&stage), ["", "", ""]);
}

#[test]
fn a_production_like_stage_refuses_to_roll_nodes_without_the_kafka_gate_unless_told_to_skip_it() {
    let aws = Aws::new();
    let stage = Stage::with("prodgate", &aws.region, "prod", &rolling_stage::DEDICATED);
    // moto 5.2.5 has no UpdateTerminationProtection, the last call of every executed deploy of a
    // protected stage: such a deploy does its work, then exits 1 naming that call (deploy_moto).
    let moto_gap = |run: &rolling_stage::Run| {
        assert_eq!(run.code, Some(1), "{}", run.out);
        assert!(
            run.out.contains("UpdateTerminationProtection") && run.out.contains("HTTP 500"),
            "{}",
            run.out
        );
    };
    // A create restarts no running node: no gate needed.
    moto_gap(&stage.run(&["--yes"]));
    let first = stage.revisions(1);
    assert_eq!(aws.running(&stage), first);
    stage.set_image("confluentinc/cp-kafka:8.2.1");

    let review = stage.deploy(&["--dry-run"]);
    assert!(
        review
            .out
            .contains("A deploy (not a dry run) would refuse this update: stage prod is production-like"),
        "{}",
        review.out
    );

    let refused = stage.run(&["--yes"]);
    assert_eq!(refused.code, Some(1), "{}", refused.out);
    assert!(
        refused.out.contains(
            "error: stage prod is production-like: a rolling node update waits for the Kafka health gate"
        ),
        "{}",
        refused.out
    );
    assert!(refused.out.contains("--skip-kafka-gate"), "the way out is named\n{}", refused.out);
    assert!(refused.lines_starting("--> step").is_empty(), "nothing executed\n{}", refused.out);
    assert_eq!(aws.running(&stage), first, "no node restarted");
    assert_eq!(aws.pins(&stage), ["", "", ""], "not even the first step ran");

    let skipped = stage.run(&["--yes", "--skip-kafka-gate"]);
    moto_gap(&skipped);
    assert!(skipped.out.contains("WARNING: --skip-kafka-gate: each node waits only for"), "{}", skipped.out);
    assert_eq!(skipped.lines_starting("--> step").len(), 4, "{}", skipped.out);
    assert_eq!(aws.running(&stage), stage.revisions(2));
    assert_eq!(aws.pins(&stage), ["", "", ""]);
}
