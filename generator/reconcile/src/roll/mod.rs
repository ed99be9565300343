//! Rolling restarts, one node at a time, gated by the cluster's health.
//!
//! The decision is a pure function ([`decide`]) of one [`Health`] snapshot: restart the next node
//! only when every node is back and caught up (brokers registered and unfenced, no under-replicated
//! or offline partition, every controller close to the quorum's high watermark) and the quorum
//! keeps a majority without the candidate; otherwise wait and say why. Order: dedicated
//! controllers first, then brokers (and combined nodes); within each group the active controller
//! last, so that leadership moves once. The I/O is at the edges: [`observe`] reads the health,
//! a [`NodeRunner`] restarts one node (ECS in `gen`, a script in the tests) and [`roll`] drives.

mod drive;
mod ecs;
mod runner;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kafka_admin::{AdminClient, QuorumInfo, RegisteredBroker, TopicInfo};

pub use drive::{RollError, RollEvent, RollOptions, roll};
pub use ecs::EcsRunner;
pub use runner::{NodeRunner, NodeStatus, ScriptRunner};

/// One node of the cluster as the roll sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollNode {
    /// KRaft node id.
    pub id: i32,
    /// The name the runner knows it by (ECS service name `b0`, `c0`, ...; the id for a script).
    pub name: String,
    /// Serves clients (process role `broker`).
    pub broker: bool,
    /// Votes in the KRaft quorum (process role `controller`).
    pub controller: bool,
}

/// Bounds of "caught up".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollPolicy {
    /// Most records a controller's metadata log may be behind the high watermark.
    pub max_controller_lag: i64,
    /// Longest a controller may have been behind the most recently caught-up voter, in ms of
    /// the quorum leader's clock (so the two clocks compared are the same one).
    pub max_controller_staleness_ms: i64,
}

impl Default for RollPolicy {
    /// 50 records (the quorum writes a no-op record every 500 ms when idle, so a healthy follower
    /// is a handful behind) and 10 s.
    fn default() -> Self {
        RollPolicy { max_controller_lag: 50, max_controller_staleness_ms: 10_000 }
    }
}

/// One snapshot of what the gate reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Broker registrations (DescribeCluster; fenced ones marked).
    pub brokers: Vec<RegisteredBroker>,
    /// The controller quorum; `None` when it could not be read.
    pub quorum: Option<QuorumInfo>,
    /// Every topic with its partitions' leaders, replicas and ISRs.
    pub topics: Vec<TopicInfo>,
}

/// Reads one [`Health`] snapshot: DescribeCluster, DescribeQuorum and Metadata for all topics.
pub async fn observe(client: &AdminClient) -> kafka_admin::Result<Health> {
    let brokers = client.describe_cluster().await?.brokers;
    let quorum = client.describe_quorum().await?;
    let topics = client.metadata().await?.topics;
    Ok(Health { brokers, quorum: Some(quorum), topics })
}

/// Why the roll may not restart the next node yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// The cluster's health could not be read.
    Unobservable(String),
    /// A broker has no registration.
    NotRegistered(i32),
    /// A broker is registered but fenced (not caught up with the metadata log, or shutting down).
    Fenced(i32),
    /// The quorum has no leader (an election is running) or could not be read.
    NoQuorumLeader,
    /// A controller is not a voter of the quorum.
    NotAVoter(i32),
    /// A controller's metadata log is too far behind.
    ControllerLagging { node: i32, lag: i64 },
    /// A controller has not been caught up for too long.
    ControllerStale { node: i32, behind_ms: i64 },
    /// A restarted controller has not yet reached the log end the quorum had when it came back.
    NotCaughtUpSinceRestart { node: i32, log_end_offset: i64, target: i64 },
    /// A partition's ISR lacks some of its replicas.
    UnderReplicated { topic: String, partition: i32, missing: Vec<i32> },
    /// A partition has no leader.
    Offline { topic: String, partition: i32 },
    /// Restarting this controller would leave fewer than a majority of voters caught up.
    WouldLoseQuorum { node: i32, voters: usize },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Unobservable(e) => write!(f, "cluster health unreadable: {e}"),
            Blocker::NotRegistered(n) => write!(f, "broker {n} is not registered"),
            Blocker::Fenced(n) => write!(f, "broker {n} is fenced"),
            Blocker::NoQuorumLeader => write!(f, "the controller quorum has no leader"),
            Blocker::NotAVoter(n) => write!(f, "controller {n} is not a voter of the quorum"),
            Blocker::ControllerLagging { node, lag } => {
                write!(f, "controller {node} is {lag} metadata records behind")
            }
            Blocker::ControllerStale { node, behind_ms } => {
                write!(f, "controller {node} was last caught up {behind_ms} ms before the others")
            }
            Blocker::NotCaughtUpSinceRestart { node, log_end_offset, target } => write!(
                f,
                "controller {node} has metadata log end {log_end_offset}, not yet {target} (the end when it restarted)"
            ),
            Blocker::UnderReplicated { topic, partition, missing } => {
                write!(f, "{topic}-{partition} is under-replicated (not in sync: {missing:?})")
            }
            Blocker::Offline { topic, partition } => write!(f, "{topic}-{partition} has no leader"),
            Blocker::WouldLoseQuorum { node, voters } => write!(
                f,
                "restarting controller {node} would leave no caught-up majority of the {voters} voters"
            ),
        }
    }
}

/// The blockers in one line: every one but under-replicated partitions, which are counted with
/// one example (a broker's restart makes hundreds of them at once).
pub fn summary(blockers: &[Blocker]) -> String {
    let (partitions, others): (Vec<&Blocker>, Vec<&Blocker>) =
        blockers.iter().partition(|b| matches!(b, Blocker::UnderReplicated { .. }));
    let mut parts: Vec<String> = others.iter().map(ToString::to_string).collect();
    if let Some(first) = partitions.first() {
        parts.push(format!("{} partition(s) under-replicated, e.g. {first}", partitions.len()));
    }
    parts.join("; ")
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Restart this node now.
    Restart(i32),
    /// Wait: the cluster is not ready for the next restart (or, with nothing left, for the end).
    Wait(Vec<Blocker>),
    /// Every selected node was restarted and the cluster is healthy again.
    Done,
}

/// The order in which `remaining` would be restarted given the quorum's current leader:
/// controller-only nodes first, then brokers and combined nodes; the active controller last
/// within its group; otherwise by node id.
pub fn order(nodes: &[RollNode], remaining: &BTreeSet<i32>, health: &Health) -> Vec<i32> {
    let leader = health.quorum.as_ref().map(|q| q.leader_id);
    let mut ids: Vec<&RollNode> = nodes.iter().filter(|n| remaining.contains(&n.id)).collect();
    ids.sort_by_key(|n| (n.broker, Some(n.id) == leader, n.id));
    ids.into_iter().map(|n| n.id).collect()
}

/// Everything that keeps the cluster from being "all caught up". `targets`: for controllers
/// restarted during this roll, the quorum's high watermark when they came back.
pub fn blockers(
    nodes: &[RollNode],
    health: &Health,
    targets: &BTreeMap<i32, i64>,
    policy: RollPolicy,
) -> Vec<Blocker> {
    let mut out = Vec::new();
    for node in nodes.iter().filter(|n| n.broker) {
        match health.brokers.iter().find(|b| b.node_id == node.id) {
            None => out.push(Blocker::NotRegistered(node.id)),
            Some(b) if b.fenced => out.push(Blocker::Fenced(node.id)),
            Some(_) => {}
        }
    }
    match &health.quorum {
        Some(q) if q.leader_id >= 0 => out.extend(controller_blockers(nodes, q, targets, policy)),
        _ => out.push(Blocker::NoQuorumLeader),
    }
    for topic in &health.topics {
        for p in &topic.partitions {
            if p.leader < 0 {
                out.push(Blocker::Offline { topic: topic.name.clone(), partition: p.index });
            }
            let missing: Vec<i32> = p.replicas.iter().copied().filter(|r| !p.isr.contains(r)).collect();
            if !missing.is_empty() {
                out.push(Blocker::UnderReplicated { topic: topic.name.clone(), partition: p.index, missing });
            }
        }
    }
    out
}

fn controller_blockers(
    nodes: &[RollNode],
    q: &QuorumInfo,
    targets: &BTreeMap<i32, i64>,
    policy: RollPolicy,
) -> Vec<Blocker> {
    let mut out = Vec::new();
    let freshest = q.voters.iter().map(|v| v.last_caught_up_ms).max().unwrap_or(-1);
    for node in nodes.iter().filter(|n| n.controller) {
        let Some(voter) = q.voters.iter().find(|v| v.node_id == node.id) else {
            out.push(Blocker::NotAVoter(node.id));
            continue;
        };
        if voter.node_id == q.leader_id {
            continue;
        }
        let lag = q.lag(voter);
        if lag > policy.max_controller_lag {
            out.push(Blocker::ControllerLagging { node: node.id, lag });
        }
        // -1: the broker does not report timestamps (DescribeQuorum v0); the lag has to do.
        if voter.last_caught_up_ms >= 0
            && freshest - voter.last_caught_up_ms > policy.max_controller_staleness_ms
        {
            out.push(Blocker::ControllerStale {
                node: node.id,
                behind_ms: freshest - voter.last_caught_up_ms,
            });
        }
        if let Some(&target) = targets.get(&node.id)
            && voter.log_end_offset < target
        {
            out.push(Blocker::NotCaughtUpSinceRestart {
                node: node.id,
                log_end_offset: voter.log_end_offset,
                target,
            });
        }
    }
    out
}

/// The next step of a roll: `nodes` is the whole cluster (all are checked), `remaining` the
/// selected nodes not yet restarted, `targets` as in [`blockers`].
pub fn decide(
    nodes: &[RollNode],
    remaining: &BTreeSet<i32>,
    health: &Health,
    targets: &BTreeMap<i32, i64>,
    policy: RollPolicy,
) -> Decision {
    let blocking = blockers(nodes, health, targets, policy);
    if !blocking.is_empty() {
        return Decision::Wait(blocking);
    }
    let Some(&next) = order(nodes, remaining, health).first() else {
        return Decision::Done;
    };
    let candidate = nodes.iter().find(|n| n.id == next).expect("ordered ids come from nodes");
    if candidate.controller {
        // Every voter is caught up here (no blockers); without the candidate a majority must remain.
        let voters = health.quorum.as_ref().map_or(0, |q| q.voters.len());
        if voters.saturating_sub(1) <= voters / 2 {
            return Decision::Wait(vec![Blocker::WouldLoseQuorum { node: next, voters }]);
        }
    }
    Decision::Restart(next)
}

/// The nodes of a cluster as its health shows them (for a cluster the stage model does not
/// describe, such as the test cluster): voters are controllers, registered brokers are brokers,
/// and each is named by its id.
pub fn nodes_from_health(health: &Health) -> Vec<RollNode> {
    let voters: BTreeSet<i32> =
        health.quorum.iter().flat_map(|q| q.voters.iter().map(|v| v.node_id)).collect();
    let brokers: BTreeSet<i32> = health.brokers.iter().map(|b| b.node_id).collect();
    voters
        .union(&brokers)
        .map(|&id| RollNode {
            id,
            name: id.to_string(),
            broker: brokers.contains(&id),
            controller: voters.contains(&id),
        })
        .collect()
}

#[cfg(test)]
mod tests;
