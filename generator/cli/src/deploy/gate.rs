//! The Kafka health gate of a rolling node update: before each node's change set, and after the
//! last one, the deploy waits until the cluster is caught up, the same gate `gen roll` uses before
//! each restart (`kafka_reconcile::roll::blockers`): brokers registered and unfenced, no offline or
//! under-replicated partition, every controller close to the quorum's high watermark and, for a
//! controller just restarted, back at the log end the quorum had when it returned.
//!
//! CloudFormation's wait for a stable ECS service and the container health check (the node's TLS
//! listener answers) say that the node runs; they do not say that its partitions are in sync
//! again, so without this gate the next node could leave partitions with too few replicas.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kafka_admin::{AdminClient, RetryPolicy};
use kafka_platform_core::manifest::RollingDecl;
use kafka_reconcile::roll::{self, Blocker, RollNode, RollPolicy};

use crate::plan::{AdminIdentity, AdminLoginArgs};

/// The connection of the gate: the flags (and environment variables) of `gen plan` and `gen roll`.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Bootstrap servers of the Kafka health gate, `host:port[,...]`; default: the stage's
    /// internal mTLS bootstrap (reachable from inside the VPC only).
    #[arg(long, env = "GEN_KAFKA_BOOTSTRAP")]
    pub bootstrap: Option<String>,
    /// PEM file with the CA certificates of the brokers. With it, a rolling node update waits for
    /// the cluster to be caught up before each node and after the last.
    #[arg(long, env = "GEN_KAFKA_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// How the admin logs in (the same flags as `gen plan`).
    #[command(flatten)]
    pub login: AdminLoginArgs,
    /// Roll nodes on CloudFormation's service stability alone, without the Kafka health gate
    /// (needed to roll a production-like stage from outside the VPC).
    #[arg(long)]
    pub skip_kafka_gate: bool,
    /// Longest wait, in seconds, for the cluster to be caught up before each node (and after the
    /// last); then the deploy stops and a later `gen deploy` goes on from there.
    #[arg(long, value_name = "SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub kafka_gate_wait: u64,
    /// Most metadata records a controller may be behind and still count as caught up.
    #[arg(long, default_value_t = RollPolicy::default().max_controller_lag)]
    pub max_controller_lag: i64,
}

/// Whether a rolling node update runs with the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Connect and gate every node.
    Gate,
    /// Roll on CloudFormation's stability alone; the warning says why.
    Off(String),
    /// Roll nothing: the stage needs the gate and none can be had.
    Refused(String),
}

/// The gate's mode: `--skip-kafka-gate` turns it off; connection flags (`--ca-file`) turn it on;
/// without either a production-like stage refuses to roll and others warn and roll ungated.
pub fn mode(skip: bool, connection_given: bool, production_like: bool, stage: &str) -> Mode {
    if skip {
        return Mode::Off(
            "WARNING: --skip-kafka-gate: each node waits only for CloudFormation's service stability \
             (the node's listener answers), not for its partitions to be back in sync."
                .into(),
        );
    }
    if connection_given {
        return Mode::Gate;
    }
    if production_like {
        return Mode::Refused(format!(
            "stage {stage} is production-like: a rolling node update waits for the Kafka health gate, \
             which needs a connection to the cluster\n  hint: run gen deploy from a runner inside the \
             VPC with --ca-file and --client-cert/--client-key (or --scram-user/--scram-password-file), \
             as for gen plan; or pass --skip-kafka-gate to roll on CloudFormation's service stability alone"
        ));
    }
    Mode::Off(
        "WARNING: no Kafka connection (--ca-file): nodes roll on CloudFormation's service stability \
         alone, without waiting for partitions to be back in sync (production-like stages refuse this)."
            .into(),
    )
}

/// The gate gave up: the cluster was not caught up in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCaughtUp {
    pub waited: Duration,
    pub blockers: Vec<Blocker>,
}

impl std::fmt::Display for NotCaughtUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cluster was not caught up within {}s; still blocking: {}",
            self.waited.as_secs(),
            roll::summary(&self.blockers)
        )
    }
}

/// A connected gate over the nodes a manifest declares.
pub struct KafkaGate {
    client: AdminClient,
    nodes: Vec<RollNode>,
    policy: RollPolicy,
    wait: Duration,
    poll: Duration,
}

/// The nodes of a rolling declaration as the roll module knows them.
pub fn roll_nodes(decl: &RollingDecl) -> Vec<RollNode> {
    decl.nodes
        .iter()
        .map(|n| RollNode { id: n.node_id, name: n.name.clone(), broker: n.broker, controller: n.controller })
        .collect()
}

impl KafkaGate {
    /// Connects to the cluster (`--bootstrap`, else the manifest's internal bootstrap).
    pub async fn connect(args: &GateArgs, decl: &RollingDecl, poll: Duration) -> Result<Self, String> {
        let ca_file = args.ca_file.as_deref().ok_or("the Kafka health gate needs --ca-file")?;
        let identity = AdminIdentity::new(ca_file, &args.login);
        let mut config = identity.config(args.bootstrap.as_deref().unwrap_or(&decl.kafka_bootstrap))?;
        // The gate polls and waits itself; a short retry keeps one poll short while a node restarts.
        config.retry = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
        };
        config.request_timeout = Duration::from_secs(15);
        let client = AdminClient::connect(config)
            .await
            .map_err(|e| format!("the Kafka health gate cannot connect: {e}"))?;
        Ok(KafkaGate {
            client,
            nodes: roll_nodes(decl),
            policy: RollPolicy { max_controller_lag: args.max_controller_lag, ..RollPolicy::default() },
            wait: Duration::from_secs(args.kafka_gate_wait),
            poll,
        })
    }

    /// Waits until nothing blocks (see the module); `restarted` names the node of the change set
    /// just executed, whose log end is held to the quorum's high watermark at the first read when
    /// it is a controller. `progress` gets a line each time what blocks changes.
    pub async fn wait(
        &self,
        restarted: Option<&str>,
        mut progress: impl FnMut(String),
    ) -> Result<(), NotCaughtUp> {
        let started = tokio::time::Instant::now();
        let mut pending_target = restarted
            .and_then(|name| self.nodes.iter().find(|n| n.name == name && n.controller))
            .map(|n| n.id);
        let mut targets: BTreeMap<i32, i64> = BTreeMap::new();
        let mut last = String::new();
        loop {
            let blocking = match roll::observe(&self.client).await {
                Ok(health) => {
                    if let (Some(id), Some(q)) = (pending_target, &health.quorum) {
                        targets.insert(id, q.high_watermark);
                        pending_target = None;
                    }
                    roll::blockers(&self.nodes, &health, &targets, self.policy)
                }
                Err(e) => vec![Blocker::Unobservable(e.to_string())],
            };
            let waited = started.elapsed();
            if blocking.is_empty() {
                progress(format!("Kafka health gate: the cluster is caught up ({}s).", waited.as_secs()));
                return Ok(());
            }
            if waited >= self.wait {
                return Err(NotCaughtUp { waited, blockers: blocking });
            }
            let line = roll::summary(&blocking);
            if line != last {
                progress(format!("Kafka health gate: waiting ({}s): {line}", waited.as_secs()));
                last = line;
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.client.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_turns_the_gate_off_a_connection_turns_it_on() {
        assert!(matches!(mode(true, true, true, "prod"), Mode::Off(w) if w.contains("--skip-kafka-gate")));
        assert_eq!(mode(false, true, true, "prod"), Mode::Gate);
        assert_eq!(mode(false, true, false, "dev"), Mode::Gate);
    }

    #[test]
    fn without_a_connection_production_like_stages_refuse_and_others_warn() {
        let Mode::Refused(message) = mode(false, false, true, "prod") else { panic!("prod must refuse") };
        assert!(message.starts_with("stage prod is production-like"), "{message}");
        assert!(message.contains("--skip-kafka-gate") && message.contains("inside the VPC"), "{message}");
        let Mode::Off(warning) = mode(false, false, false, "dev") else { panic!("dev must warn") };
        assert!(warning.starts_with("WARNING: no Kafka connection"), "{warning}");
    }

    #[test]
    fn the_gate_knows_the_nodes_by_the_manifests_ids_and_roles() {
        let decl: RollingDecl = serde_json::from_value(serde_json::json!({
            "cluster": "Cluster", "kafka_bootstrap": "bootstrap.kafka.example.internal:9094",
            "nodes": [
                {"name": "c0", "service": "C0Service", "task_definition": "C0TaskDefinition",
                 "pin_parameter": "C0PinnedTaskDefinition", "node_id": 1000, "broker": false, "controller": true},
                {"name": "b0", "service": "B0Service", "task_definition": "B0TaskDefinition",
                 "pin_parameter": "B0PinnedTaskDefinition", "node_id": 1, "broker": true, "controller": false},
            ],
        }))
        .unwrap();
        let nodes = roll_nodes(&decl);
        assert_eq!(
            nodes.iter().map(|n| (n.id, n.name.as_str(), n.broker, n.controller)).collect::<Vec<_>>(),
            vec![(1000, "c0", false, true), (1, "b0", true, false)]
        );
    }
}
