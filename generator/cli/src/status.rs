//! `gen status STAGE`: how the cluster is, for people and monitors. Cluster id, controller quorum
//! (leader, each voter's lag), nodes up, under-replicated and offline partitions, feature versions
//! and the count of reconcile changes pending. Exit 0 healthy, 3 degraded, 1 error or unreachable
//! (2 stays reserved for "changes pending", as with `gen plan --detailed-exitcode`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use kafka_admin::{AdminClient, Features};
use kafka_platform_core::StageName;
use kafka_reconcile::certificates;
use kafka_reconcile::roll::{self, Health, RollPolicy};
use serde::Serialize;

use crate::plan::{ConnectionArgs, plan_stage};

/// Exit code of a degraded cluster.
pub const DEGRADED: u8 = 3;
/// Most partitions listed one by one in the text output (JSON lists all).
const LISTED_PARTITIONS: usize = 20;

/// How the status is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// A short report for people.
    Text,
    /// One JSON object for monitors.
    Json,
}

/// Arguments of `gen status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Stage to report on.
    #[arg(value_parser = crate::validate::parse_stage)]
    pub stage: StageName,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: StatusFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// The report, as printed with `--format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub stage: String,
    pub cluster_id: String,
    /// `healthy` or `degraded`.
    pub state: &'static str,
    pub quorum: Option<QuorumStatus>,
    pub nodes_up: usize,
    pub nodes: Vec<NodeStatus>,
    pub partitions: usize,
    pub under_replicated: Vec<PartitionStatus>,
    pub offline: Vec<PartitionStatus>,
    /// Finalised feature levels (`metadata.version`, `kraft.version`, ...).
    pub finalized_features: BTreeMap<String, i16>,
    pub pending_changes: usize,
    pub refused_changes: usize,
    /// Why the cluster is degraded, one sentence each (what `gen roll` would wait for).
    pub problems: Vec<String>,
    /// The certificate each broker serves (from a TLS handshake on the listener `gen` uses).
    pub certificates: Vec<ServedCertificate>,
}

/// The certificate a broker serves, with the days left until it expires.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServedCertificate {
    pub node: i32,
    /// None when the handshake failed (the node is reported down elsewhere).
    pub serial: Option<String>,
    pub days_left: Option<i64>,
    /// Inside the stage's renewal window (`certificates.renew_before_days`).
    pub in_renewal_window: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuorumStatus {
    pub leader: i32,
    pub epoch: i32,
    pub high_watermark: i64,
    /// Voter id -> records behind the high watermark.
    pub voter_lag: BTreeMap<i32, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeStatus {
    pub id: i32,
    pub broker: bool,
    pub controller: bool,
    pub up: bool,
    pub fenced: bool,
    /// Highest `metadata.version` the node's software supports (None: unknown or unreachable).
    pub metadata_version_max: Option<i16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// `gen status`: see the module documentation for the exit codes.
pub async fn run(environments: &Path, args: &StatusArgs) -> ExitCode {
    let Some((client, plan)) = plan_stage(environments, args.stage, false, &args.connection).await else {
        return ExitCode::FAILURE;
    };
    let health = roll::observe(&client).await;
    let brokers = client.brokers();
    let report = match health {
        Ok(health) => {
            let features = node_features(&client, &health).await;
            let changes = Changes { pending: plan.changes.len(), refused: plan.refusals.len() };
            Ok(report(args.stage, client.cluster_id().unwrap_or_default(), &health, &features, changes))
        }
        Err(e) => Err(e),
    };
    client.close().await;
    let mut report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read the cluster's health: {e}");
            return ExitCode::FAILURE;
        }
    };
    served_certificates(environments, args, &brokers, &mut report).await;
    match args.format {
        StatusFormat::Text => print!("{}", text(&report)),
        StatusFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report).expect("reports serialise"))
        }
    }
    if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(DEGRADED) }
}

/// Adds the certificate each broker serves, and a problem for each one inside the stage's renewal
/// window (or expired). A failed handshake adds nothing: the node's state says why.
async fn served_certificates(
    environments: &Path,
    args: &StatusArgs,
    brokers: &BTreeMap<i32, String>,
    report: &mut StatusReport,
) {
    let (models, _) = kafka_platform_core::load_and_resolve(environments, &[args.stage]);
    let window = models.get(&args.stage).map_or(30, |m| m.certificates.renew_before_days);
    let Ok(tls) = kafka_admin::TlsConfig::from_ca_file(&args.connection.ca_file) else { return };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    for (&node, address) in brokers {
        let timeout = std::time::Duration::from_secs(10);
        let facts = kafka_admin::served_certificate(address, &tls, timeout)
            .await
            .ok()
            .and_then(|der| certificates::inspect_der(&der).ok());
        let in_window = facts.as_ref().is_some_and(|f| certificates::in_window(f.not_after, window, now));
        let days_left = facts.as_ref().map(|f| (f.not_after - now).div_euclid(certificates::DAY));
        if let (true, Some(days)) = (in_window, days_left) {
            report.problems.push(format!(
                "node {node} serves a certificate with {days} day(s) left, inside the {window}-day renewal window"
            ));
        }
        report.certificates.push(ServedCertificate {
            node,
            serial: facts.map(|f| f.serial),
            days_left,
            in_renewal_window: in_window,
        });
    }
    if !report.problems.is_empty() {
        report.state = "degraded";
    }
}

/// Each registered broker's features (a stopped node has none), and the cluster's finalised
/// levels as any broker reports them under `None`.
async fn node_features(client: &AdminClient, health: &Health) -> BTreeMap<Option<i32>, Features> {
    let mut out = BTreeMap::new();
    if let Ok(f) = client.features(None).await {
        out.insert(None, f);
    }
    for b in health.brokers.iter().filter(|b| !b.fenced) {
        if let Ok(f) = client.features(Some(b.node_id)).await {
            out.insert(Some(b.node_id), f);
        }
    }
    out
}

/// Reconcile changes the plan has pending and refuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub pending: usize,
    pub refused: usize,
}

/// Builds the report (pure). The nodes are those the cluster knows (voters and registrations):
/// a stopped node stays a voter and a fenced registration, so it is listed as down.
pub fn report(
    stage: StageName,
    cluster_id: String,
    health: &Health,
    features: &BTreeMap<Option<i32>, Features>,
    changes: Changes,
) -> StatusReport {
    let nodes = roll::nodes_from_health(health);
    let blockers = roll::blockers(&nodes, health, &BTreeMap::new(), RollPolicy::default());
    let lagging: BTreeSet<i32> = blockers
        .iter()
        .filter_map(|b| match b {
            roll::Blocker::ControllerLagging { node, .. } | roll::Blocker::ControllerStale { node, .. } => {
                Some(*node)
            }
            _ => None,
        })
        .collect();
    let nodes: Vec<NodeStatus> = nodes
        .iter()
        .map(|n| {
            let registration = health.brokers.iter().find(|b| b.node_id == n.id);
            let fenced = registration.is_some_and(|b| b.fenced);
            let broker_up = !n.broker || registration.is_some_and(|b| !b.fenced);
            let voter = health.quorum.as_ref().and_then(|q| q.voters.iter().find(|v| v.node_id == n.id));
            let controller_up = !n.controller || (voter.is_some() && !lagging.contains(&n.id));
            NodeStatus {
                id: n.id,
                broker: n.broker,
                controller: n.controller,
                up: broker_up && controller_up,
                fenced,
                metadata_version_max: features
                    .get(&Some(n.id))
                    .and_then(|f| f.supported.get("metadata.version"))
                    .map(|r| r.max),
            }
        })
        .collect();
    let partition = |topic: &str, p: &kafka_admin::PartitionInfo| PartitionStatus {
        topic: topic.to_string(),
        partition: p.index,
        leader: p.leader,
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
    };
    let mut under_replicated = Vec::new();
    let mut offline = Vec::new();
    for t in &health.topics {
        for p in &t.partitions {
            if p.leader < 0 {
                offline.push(partition(&t.name, p));
            }
            if p.replicas.iter().any(|r| !p.isr.contains(r)) {
                under_replicated.push(partition(&t.name, p));
            }
        }
    }
    let problems: Vec<String> = blockers.iter().map(ToString::to_string).collect();
    StatusReport {
        stage: stage.to_string(),
        cluster_id,
        state: if problems.is_empty() { "healthy" } else { "degraded" },
        quorum: health.quorum.as_ref().map(|q| QuorumStatus {
            leader: q.leader_id,
            epoch: q.leader_epoch,
            high_watermark: q.high_watermark,
            voter_lag: q.voters.iter().map(|v| (v.node_id, q.lag(v))).collect(),
        }),
        nodes_up: nodes.iter().filter(|n| n.up).count(),
        nodes,
        partitions: health.topics.iter().map(|t| t.partitions.len()).sum(),
        under_replicated,
        offline,
        finalized_features: features
            .get(&None)
            .map(|f| f.finalized.iter().map(|(k, r)| (k.clone(), r.max)).collect())
            .unwrap_or_default(),
        pending_changes: changes.pending,
        refused_changes: changes.refused,
        problems,
        certificates: Vec::new(),
    }
}

/// The report for people.
pub fn text(r: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Stage {} cluster {}: {}", r.stage, r.cluster_id, r.state.to_uppercase());
    match &r.quorum {
        Some(q) => {
            let lags: Vec<String> = q.voter_lag.iter().map(|(id, lag)| format!("{id}: {lag}")).collect();
            let _ = writeln!(
                out,
                "Controller quorum: leader {} (epoch {}), high watermark {}, voter lag [{}]",
                q.leader,
                q.epoch,
                q.high_watermark,
                lags.join(", ")
            );
        }
        None => out.push_str("Controller quorum: unknown\n"),
    }
    let _ = writeln!(out, "Nodes: {} of {} up", r.nodes_up, r.nodes.len());
    for n in &r.nodes {
        let roles = match (n.broker, n.controller) {
            (true, true) => "broker+controller",
            (true, false) => "broker",
            _ => "controller",
        };
        let state = match (n.up, n.fenced) {
            (true, _) => "up",
            (false, true) => "DOWN (fenced)",
            (false, false) => "DOWN",
        };
        let version = n.metadata_version_max.map(|v| format!(", supports metadata.version <= {v}"));
        let _ = writeln!(out, "  {:>5}  {roles:<17}  {state}{}", n.id, version.unwrap_or_default());
    }
    let _ = writeln!(
        out,
        "Partitions: {}, under-replicated {}, offline {}",
        r.partitions,
        r.under_replicated.len(),
        r.offline.len()
    );
    for p in r.offline.iter().chain(&r.under_replicated).take(LISTED_PARTITIONS) {
        let _ = writeln!(
            out,
            "  {}-{}: leader {}, replicas {:?}, in sync {:?}",
            p.topic, p.partition, p.leader, p.replicas, p.isr
        );
    }
    let listed = r.offline.len() + r.under_replicated.len();
    if listed > LISTED_PARTITIONS {
        let _ = writeln!(out, "  ... and {} more (--format json lists all)", listed - LISTED_PARTITIONS);
    }
    let features: Vec<String> = r.finalized_features.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "Finalised features: {}",
        if features.is_empty() { "unknown".into() } else { features.join(", ") }
    );
    let _ = writeln!(
        out,
        "Reconcile: {} change(s) pending, {} refused (details: gen plan {})",
        r.pending_changes, r.refused_changes, r.stage
    );
    for c in &r.certificates {
        let _ = match (&c.serial, c.days_left) {
            (Some(serial), Some(days)) => {
                writeln!(out, "Certificate of node {}: {serial}, {days} day(s) left", c.node)
            }
            _ => writeln!(out, "Certificate of node {}: no TLS handshake", c.node),
        };
    }
    if !r.problems.is_empty() {
        out.push_str("Problems:\n");
        for p in &r.problems {
            let _ = writeln!(out, "  - {p}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_admin::{FeatureRange, PartitionInfo, QuorumInfo, QuorumReplica, RegisteredBroker, TopicInfo};

    fn health(stopped: Option<i32>) -> Health {
        let up = |id: i32| Some(id) != stopped;
        let voter = |id: i32| QuorumReplica {
            node_id: id,
            log_end_offset: if up(id) { 500 } else { 100 },
            last_fetch_ms: 0,
            last_caught_up_ms: -1,
        };
        let all = vec![1, 2, 3];
        let isr: Vec<i32> = all.iter().copied().filter(|&id| up(id)).collect();
        Health {
            brokers: all
                .iter()
                .map(|&id| RegisteredBroker { node_id: id, address: format!("h:{id}"), fenced: !up(id) })
                .collect(),
            quorum: Some(QuorumInfo {
                leader_id: 1,
                leader_epoch: 4,
                high_watermark: 500,
                voters: all.iter().map(|&id| voter(id)).collect(),
                observers: vec![],
            }),
            topics: vec![TopicInfo {
                name: "orders".into(),
                topic_id: "x".into(),
                internal: false,
                partitions: vec![PartitionInfo {
                    index: 0,
                    leader: 1,
                    replicas: all.clone(),
                    isr,
                    offline: vec![],
                }],
            }],
        }
    }

    fn features() -> BTreeMap<Option<i32>, Features> {
        let range = |v| FeatureRange { min: 1, max: v };
        let f = |v| Features {
            supported: [("metadata.version".to_string(), range(v))].into(),
            finalized: [("metadata.version".to_string(), range(v))].into(),
            finalized_epoch: 3,
        };
        [(None, f(27)), (Some(1), f(27)), (Some(2), f(28))].into()
    }

    #[test]
    fn a_healthy_cluster_reports_no_problems() {
        let r = report(StageName::Dev, "c1".into(), &health(None), &features(), Changes::default());
        assert_eq!((r.state, r.nodes_up, r.nodes.len()), ("healthy", 3, 3));
        assert!(r.under_replicated.is_empty() && r.offline.is_empty() && r.problems.is_empty());
        assert_eq!(r.finalized_features["metadata.version"], 27);
        assert_eq!(r.nodes[1].metadata_version_max, Some(28));
        assert_eq!(r.quorum.as_ref().unwrap().voter_lag[&2], 0);
    }

    #[test]
    fn a_stopped_node_is_down_with_the_partitions_it_leaves_under_replicated() {
        let r = report(StageName::Dev, "c1".into(), &health(Some(3)), &features(), Changes::default());
        assert_eq!((r.state, r.nodes_up), ("degraded", 2));
        assert!(!r.nodes[2].up && r.nodes[2].fenced);
        assert_eq!(r.under_replicated.len(), 1);
        assert_eq!(r.under_replicated[0].isr, vec![1, 2]);
        assert_eq!(r.quorum.as_ref().unwrap().voter_lag[&3], 400);
        assert_eq!(
            r.problems,
            vec![
                "broker 3 is fenced",
                "controller 3 is 400 metadata records behind",
                "orders-0 is under-replicated (not in sync: [3])"
            ]
        );
        let shown = text(&r);
        assert!(shown.contains("Nodes: 2 of 3 up"), "{shown}");
        assert!(shown.contains("DOWN (fenced)"), "{shown}");
        assert!(shown.contains("orders-0: leader 1, replicas [1, 2, 3], in sync [1, 2]"), "{shown}");
    }
}
