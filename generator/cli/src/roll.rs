//! `gen roll STAGE`: restart a stage's Kafka nodes one at a time, each only when the cluster is
//! caught up (see `kafka_reconcile::roll`): after a change to the node task definitions, or to
//! pick up a new image. On AWS each node is an ECS service; `--node-script` drives a local
//! cluster through `SCRIPT stop-node ID` / `start-node ID` instead (the test cluster).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use kafka_admin::{AdminClient, RetryPolicy};
use kafka_platform_core::StageName;
use kafka_platform_core::model::StageModel;
use kafka_reconcile::roll::{
    self, EcsRunner, NodeRunner, RollEvent, RollNode, RollOptions, RollPolicy, ScriptRunner,
};

use crate::deploy::confirm::{self, Confirmation};
use crate::diagnostics::{FindingFormat, print_findings};
use crate::plan::{ConnectionArgs, admin_config, load_desired};

/// Arguments of `gen roll`.
#[derive(Debug, Clone, clap::Args)]
pub struct RollArgs {
    /// Stage whose nodes to restart.
    #[arg(value_parser = crate::validate::parse_stage)]
    pub stage: StageName,
    /// Nodes to restart, by name (`b0,c1`) or node id; default: all. Every node's health gates
    /// every step either way.
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Restart without asking (for pipelines). Without it a terminal is asked; with no terminal
    /// nothing is restarted.
    #[arg(long)]
    pub yes: bool,
    /// Show the order and what the gate waits for now; restart nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restart nodes with `SCRIPT stop-node ID` and `SCRIPT start-node ID` instead of ECS; the
    /// nodes are then the cluster's own (voters and registered brokers), named by id.
    #[arg(long, value_name = "SCRIPT")]
    pub node_script: Option<PathBuf>,
    /// AWS region of the stage's ECS cluster (default: the SDK's configuration).
    #[arg(long)]
    pub region: Option<String>,
    /// Longest wait, in seconds, for the cluster to be caught up before each restart, and for
    /// ECS to run a node's new task.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub wait_per_node: u64,
    /// Most metadata records a controller may be behind and still count as caught up.
    #[arg(long, default_value_t = RollPolicy::default().max_controller_lag)]
    pub max_controller_lag: i64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `gen roll`: exit 0 when every selected node was restarted and the cluster is caught up again,
/// 1 otherwise (nothing restarted without confirmation; a roll that stops says where).
pub async fn run(environments: &Path, args: &RollArgs) -> ExitCode {
    match roll_stage(environments, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn roll_stage(environments: &Path, args: &RollArgs) -> Result<(), String> {
    let model = load_model(environments, args.stage)?;
    let stage = load_desired(environments, args.stage).ok_or("the stage does not validate")?;
    let mut config = admin_config(&stage, &args.connection)?;
    // The roll polls and waits itself; a short retry keeps one poll short while a node restarts.
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
    };
    config.request_timeout = Duration::from_secs(15);
    let client = AdminClient::connect(config).await.map_err(|e| e.to_string())?;
    let result = roll_with(&client, &model, args).await;
    client.close().await;
    result
}

async fn roll_with(client: &AdminClient, model: &StageModel, args: &RollArgs) -> Result<(), String> {
    let health = roll::observe(client).await.map_err(|e| format!("cannot read the cluster's health: {e}"))?;
    let nodes = match args.node_script {
        Some(_) => roll::nodes_from_health(&health),
        None => stage_nodes(model),
    };
    let selected = select(&nodes, &args.nodes)?;
    let order = roll::order(&nodes, &selected, &health);
    let names: Vec<String> = order.iter().map(|id| node_label(&nodes, *id)).collect();
    println!("Roll of stage {}: {} node(s), in this order: {}", args.stage, order.len(), names.join(", "));
    let policy = RollPolicy { max_controller_lag: args.max_controller_lag, ..RollPolicy::default() };
    let blocking = roll::blockers(&nodes, &health, &Default::default(), policy);
    if blocking.is_empty() {
        println!("The cluster is caught up now: the first restart may begin.");
    } else {
        println!("The first restart waits for:");
        for b in &blocking {
            println!("  - {b}");
        }
    }
    println!("(the order is re-decided before each restart: the active controller always goes last)");
    if args.dry_run {
        return Ok(());
    }
    confirmed(args.stage, args.yes)?;
    let options = RollOptions {
        policy,
        wait_per_node: Duration::from_secs(args.wait_per_node),
        ..RollOptions::default()
    };
    let done = match &args.node_script {
        Some(script) => drive(client, &ScriptRunner::new(script), &nodes, &selected, options).await?,
        None => {
            let sdk = crate::aws::sdk_config(args.region.clone()).await;
            let runner = EcsRunner::new(
                aws_sdk_ecs::Client::new(&sdk),
                model.name(),
                Duration::from_secs(args.wait_per_node),
            );
            drive(client, &runner, &nodes, &selected, options).await?
        }
    };
    println!("Roll complete: restarted {} node(s); the cluster is caught up.", done.len());
    Ok(())
}

/// Runs the roll with one progress line per step (and per change in what it waits for).
async fn drive<R: NodeRunner>(
    client: &AdminClient,
    runner: &R,
    nodes: &[RollNode],
    selected: &BTreeSet<i32>,
    options: RollOptions,
) -> Result<Vec<i32>, String> {
    let mut last_wait = String::new();
    let progress = |event: &RollEvent| match event {
        RollEvent::Restarting { node, position, total } => {
            eprintln!("[{position}/{total}] restarting {}", node_label(nodes, node.id));
        }
        RollEvent::Restarted { node } => {
            eprintln!("        {} runs again; waiting until it has caught up", node_label(nodes, node.id));
        }
        RollEvent::Waiting { blockers, waited, .. } => {
            let line = roll::summary(blockers);
            if line != last_wait {
                eprintln!("        waiting ({}s): {line}", waited.as_secs());
                last_wait = line;
            }
        }
        RollEvent::Done { .. } => {}
    };
    roll::roll(client, runner, nodes, selected, options, progress).await.map_err(|e| e.to_string())
}

/// The stage's nodes as its model declares them (ECS service names `b0`, `c0`, ...).
fn stage_nodes(model: &StageModel) -> Vec<RollNode> {
    let combined = model.cluster.combined();
    let node = |n: &kafka_platform_core::model::Node, broker: bool| RollNode {
        id: i32::try_from(n.node_id).expect("node ids are small"),
        name: n.name.clone(),
        broker,
        controller: !broker || combined,
    };
    let brokers = model.cluster.brokers.iter().map(|n| node(n, true));
    brokers.chain(model.cluster.controllers.iter().map(|n| node(n, false))).collect()
}

/// The ids of `wanted` (names or ids); all nodes when empty.
fn select(nodes: &[RollNode], wanted: &[String]) -> Result<BTreeSet<i32>, String> {
    if wanted.is_empty() {
        return Ok(nodes.iter().map(|n| n.id).collect());
    }
    wanted
        .iter()
        .map(|w| {
            let w = w.trim();
            nodes.iter().find(|n| n.name == w || n.id.to_string() == w).map(|n| n.id).ok_or_else(|| {
                let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                format!("--nodes: no node `{w}` in this cluster (nodes: {})", known.join(", "))
            })
        })
        .collect()
}

fn node_label(nodes: &[RollNode], id: i32) -> String {
    match nodes.iter().find(|n| n.id == id) {
        Some(n) if n.name != id.to_string() => format!("{} (node {id})", n.name),
        _ => format!("node {id}"),
    }
}

fn load_model(environments: &Path, stage: StageName) -> Result<StageModel, String> {
    let (mut models, findings) = kafka_platform_core::load_and_resolve(environments, &[stage]);
    match models.remove(&stage) {
        Some(model) if !findings.iter().any(|f| f.is_error()) => Ok(model),
        _ => {
            print_findings(&findings, FindingFormat::Text);
            Err(format!("stage {stage} does not validate; run `gen validate {stage}`"))
        }
    }
}

/// The confirmation policy of `gen apply` and `gen deploy` ([`confirm`]).
fn confirmed(stage: StageName, yes: bool) -> Result<(), String> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    match confirm::confirmation(yes, interactive, stage.production_like(), stage.as_str()) {
        Confirmation::Proceed => Ok(()),
        Confirmation::Refuse(message) => Err(message),
        Confirmation::Ask { expected } => {
            eprint!("Restart these nodes of stage {stage}, one at a time? Type `{expected}` to go on: ");
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if confirm::confirms(&answer, &expected) { Ok(()) } else { Err("nothing restarted".into()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<RollNode> {
        [(1, "b0"), (2, "b1"), (1000, "c0")]
            .into_iter()
            .map(|(id, name)| RollNode { id, name: name.into(), broker: id < 1000, controller: id >= 1000 })
            .collect()
    }

    #[test]
    fn nodes_are_selected_by_name_or_id() {
        assert_eq!(select(&nodes(), &[]).unwrap(), [1, 2, 1000].into());
        assert_eq!(select(&nodes(), &["b1".into(), "1000".into()]).unwrap(), [2, 1000].into());
        let e = select(&nodes(), &["b7".into()]).unwrap_err();
        assert_eq!(e, "--nodes: no node `b7` in this cluster (nodes: b0, b1, c0)");
    }

    #[test]
    fn labels_name_the_service_and_the_node_id() {
        assert_eq!(node_label(&nodes(), 1000), "c0 (node 1000)");
        assert_eq!(node_label(&nodes(), 7), "node 7");
    }

    #[test]
    fn the_committed_stages_roll_their_declared_nodes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
        let model = load_model(&root, StageName::Prod).unwrap();
        let nodes = stage_nodes(&model);
        let brokers = nodes.iter().filter(|n| n.broker).count();
        assert_eq!(brokers, model.cluster.brokers.len());
        assert!(nodes.iter().filter(|n| n.controller).count() >= 3, "{nodes:?}");
    }
}
