//! Rolling restarts on the real 3-node cluster, driven by the project's roll logic through the
//! same `NodeRunner` interface ECS uses (here the script runner over `kafka.sh stop-node` /
//! `start-node`).
//!
//! - A full roll of all three nodes while the console producer (acks=all, idempotent) writes to a
//!   topic with replication factor 3 and min.insync.replicas=2 and the console consumer reads it:
//!   every record is acknowledged and the consumer receives every one.
//! - The gate waits: with node 3 stopped outside the roll, a roll of nodes 1 and 2 restarts
//!   nothing and keeps naming node 3 as the reason; once node 3 is started again it proceeds.
//!
//! The two tests take turns (one lock), and every node is started again when a test ends, also
//! when it fails.

mod kafka_common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_admin::{AdminClient, NewTopic, RetryPolicy};
use kafka_common::*;
use kafka_reconcile::roll::{
    self, Blocker, NodeRunner, NodeStatus, RollEvent, RollNode, RollOptions, ScriptRunner,
};

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts every node of the cluster again when dropped (`start-node` of a running node is a no-op).
struct AllNodesStarted;

impl Drop for AllNodesStarted {
    fn drop(&mut self) {
        for n in ["1", "2", "3"] {
            let out = kafka_sh(&["start-node", n]);
            if !out.status.success() {
                eprintln!("starting node {n} failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

/// The script runner, recording which nodes it restarted.
struct Recording {
    inner: ScriptRunner,
    restarted: Arc<Mutex<Vec<i32>>>,
}

impl Recording {
    fn new() -> Self {
        Recording { inner: ScriptRunner::new(env("KAFKA_TEST_SCRIPT")), restarted: Arc::default() }
    }

    fn restarted(&self) -> Vec<i32> {
        self.restarted.lock().unwrap().clone()
    }
}

impl NodeRunner for Recording {
    async fn restart(&self, node: &RollNode) -> Result<(), String> {
        self.restarted.lock().unwrap().push(node.id);
        self.inner.restart(node).await
    }

    async fn status(&self, node: &RollNode) -> Result<NodeStatus, String> {
        self.inner.status(node).await
    }
}

/// An admin client that gives up quickly: the roll polls and waits by itself.
async fn roll_client() -> AdminClient {
    let mut config = sasl_config(&admin_user(), &admin_password());
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
    };
    config.request_timeout = Duration::from_secs(15);
    AdminClient::connect(config).await.expect("admin connects")
}

fn admin_properties() -> String {
    let out = kafka_sh(&["client-config", "sasl", &admin_user(), &env("KAFKA_TEST_ADMIN_PASSWORD_FILE")]);
    assert!(out.status.success(), "client-config: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn spawn_kafka_sh(args: &[&str], stdin: Stdio) -> Child {
    Command::new(env("KAFKA_TEST_SCRIPT"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka.sh runs")
}

/// Collects the lines of a child's output in the background.
fn collect_lines(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn received(lines: &Arc<Mutex<Vec<String>>>) -> BTreeSet<u64> {
    lines.lock().unwrap().iter().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Kills a child process when dropped (the consumer runs until the test has read enough).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_roll_under_load_loses_no_acknowledged_record() {
    let _turn = TURN.lock().await;
    let _restart_all = AllNodesStarted;
    let admin = admin_sasl().await;
    let topic = unique("roll");
    let configs = [("min.insync.replicas".to_string(), "2".to_string())].into();
    let new = NewTopic { name: topic.clone(), partitions: 3, replication_factor: 3, configs };
    admin.create_topics(&[new], false).await.remove(0).expect("topic created");
    admin.await_topics(std::slice::from_ref(&topic), true).await.unwrap();
    let props = admin_properties();

    let mut consumer =
        spawn_kafka_sh(&["console-consumer", &props, &topic, &unique("roll-group")], Stdio::null());
    let consumed = collect_lines(consumer.stdout.take().unwrap());
    let consumer_log = collect_lines(consumer.stderr.take().unwrap());
    let consumer = Killed(consumer);

    let mut producer = spawn_kafka_sh(
        &[
            "console-producer",
            &props,
            &topic,
            "--request-required-acks",
            "all",
            "--command-property",
            "acks=all",
            "--command-property",
            "enable.idempotence=true",
            "--command-property",
            "delivery.timeout.ms=300000",
            "--command-property",
            "linger.ms=5",
        ],
        Stdio::piped(),
    );
    let producer_log = collect_lines(producer.stderr.take().unwrap());
    let mut stdin = producer.stdin.take().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (sent, stop) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n = sent.load(Ordering::Relaxed) + 1;
                if stdin.write_all(format!("{n}\n").as_bytes()).is_err() {
                    break;
                }
                sent.store(n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
            // Dropping stdin ends the producer, which flushes what it holds first.
        })
    };
    let flowing = eventually(Duration::from_secs(90), async || received(&consumed).len() >= 50).await;
    assert!(
        flowing,
        "records do not flow before the roll; producer: {:?}; consumer: {:?}",
        producer_log.lock().unwrap(),
        consumer_log.lock().unwrap()
    );

    let client = roll_client().await;
    let health = roll::observe(&client).await.expect("health readable");
    let nodes = roll::nodes_from_health(&health);
    assert_eq!(
        nodes.iter().map(|n| (n.id, n.broker, n.controller)).collect::<Vec<_>>(),
        vec![(1, true, true), (2, true, true), (3, true, true)]
    );
    let runner = Recording::new();
    let all: BTreeSet<i32> = [1, 2, 3].into();
    let options = RollOptions {
        wait_per_node: Duration::from_secs(180),
        poll_interval: Duration::from_millis(500),
        ..RollOptions::default()
    };
    let mut events = Vec::new();
    let result = roll::roll(&client, &runner, &nodes, &all, options, |e| events.push(e.clone())).await;
    client.close().await;
    let restarted = result.unwrap_or_else(|e| panic!("roll failed: {e}"));
    assert_eq!(restarted.iter().copied().collect::<BTreeSet<_>>(), all, "{restarted:?}");
    assert_eq!(runner.restarted(), restarted);
    assert!(matches!(events.last(), Some(RollEvent::Done { .. })), "{events:?}");

    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = sent.load(Ordering::Relaxed);
    let exited = tokio::task::spawn_blocking(move || producer.wait()).await.unwrap().unwrap();
    let producer_errors: Vec<String> =
        producer_log.lock().unwrap().iter().filter(|l| l.contains("ERROR")).cloned().collect();
    assert!(exited.success(), "producer exited {exited}: {producer_errors:?}");
    // The console producer logs every send that was not acknowledged (after its retries).
    assert!(producer_errors.is_empty(), "unacknowledged sends: {producer_errors:?}");

    let expected: BTreeSet<u64> = (1..=total).collect();
    let complete =
        eventually(Duration::from_secs(120), async || received(&consumed).is_superset(&expected)).await;
    let missing: Vec<u64> = expected.difference(&received(&consumed)).copied().collect();
    drop(consumer);
    assert!(
        complete,
        "{} of {total} acknowledged records never reached the consumer: {missing:?}",
        missing.len()
    );
    eprintln!(
        "rolled nodes {restarted:?}; {total} records produced during the roll, all acknowledged and consumed"
    );
    admin.delete_topics(&[topic]).await.remove(0).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_holds_the_roll_while_a_node_is_down_and_proceeds_once_it_is_back() {
    let _turn = TURN.lock().await;
    let _restart_all = AllNodesStarted;
    let client = roll_client().await;
    let nodes = roll::nodes_from_health(&roll::observe(&client).await.unwrap());
    let out = kafka_sh(&["stop-node", "3"]);
    assert!(out.status.success(), "stop-node 3: {}", String::from_utf8_lossy(&out.stderr));

    // `gen roll --dry-run` shows the same gate.
    let dry_run = std::process::Command::new(platform_tests::gen_binary())
        .args(["roll", "dev", "--dry-run", "--node-script", &env("KAFKA_TEST_SCRIPT")])
        .args(["--bootstrap", &env("KAFKA_TEST_BOOTSTRAP_SASL"), "--ca-file", &env("KAFKA_TEST_CA_FILE")])
        .args([
            "--scram-user",
            &admin_user(),
            "--scram-password-file",
            &env("KAFKA_TEST_ADMIN_PASSWORD_FILE"),
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&dry_run.stdout);
    assert!(dry_run.status.success(), "{shown}{}", String::from_utf8_lossy(&dry_run.stderr));
    assert!(shown.contains("The first restart waits for:") && shown.contains("broker 3 is"), "{shown}");

    let runner = Recording::new();
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let options = RollOptions {
        wait_per_node: Duration::from_secs(300),
        poll_interval: Duration::from_millis(500),
        ..RollOptions::default()
    };
    let selected: BTreeSet<i32> = [1, 2].into();
    // The roll and its observer run side by side in this task (the roll borrows the client).
    let (client_ref, runner_ref, nodes_ref, selected_ref) = (&client, &runner, &nodes, &selected);
    let rolling = async move {
        let send = move |e: &RollEvent| drop(events_tx.send(e.clone()));
        roll::roll(client_ref, runner_ref, nodes_ref, selected_ref, options, send).await
    };
    let about_node_3 = |b: &Blocker| {
        matches!(b, Blocker::NotRegistered(3) | Blocker::Fenced(3))
            || matches!(
                b,
                Blocker::ControllerLagging { node: 3, .. } | Blocker::ControllerStale { node: 3, .. }
            )
    };
    let observing = async {
        let mut holds = 0;
        while holds < 5 {
            let event = tokio::time::timeout(Duration::from_secs(60), events.recv()).await;
            match event {
                Ok(Some(RollEvent::Waiting { blockers, .. })) if blockers.iter().any(about_node_3) => {
                    holds += 1
                }
                // A poll may also fail to read the health at all while node 3 is away.
                Ok(Some(RollEvent::Waiting { .. })) => {}
                Ok(Some(other)) => panic!("the roll went on while node 3 was down: {other:?}"),
                Ok(None) => panic!("the roll ended while node 3 was down"),
                Err(_) => panic!("no progress from the roll within 60 s"),
            }
        }
        let restarted_while_down = runner.restarted();
        let out = tokio::task::spawn_blocking(|| kafka_sh(&["start-node", "3"])).await.unwrap();
        assert!(out.status.success(), "start-node 3: {}", String::from_utf8_lossy(&out.stderr));
        restarted_while_down
    };
    let (result, restarted_while_down) = tokio::join!(rolling, observing);
    client.close().await;
    assert_eq!(restarted_while_down, Vec::<i32>::new(), "nothing restarted while node 3 is down");
    let restarted = result.unwrap_or_else(|e| panic!("roll failed after node 3 returned: {e}"));
    assert_eq!(restarted.iter().copied().collect::<BTreeSet<_>>(), [1, 2].into(), "{restarted:?}");
    assert_eq!(runner.restarted(), restarted);
}
