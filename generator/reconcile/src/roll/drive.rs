//! The roll loop: observe, decide, restart one node or wait (bounded), report progress.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_admin::AdminClient;

use super::{Blocker, Decision, Health, NodeRunner, RollNode, RollPolicy, decide, observe, order};

/// How a roll paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollOptions {
    /// Bounds of "caught up".
    pub policy: RollPolicy,
    /// Longest wait for the cluster to be caught up before each restart (and at the end).
    pub wait_per_node: Duration,
    /// Pause between two health reads while waiting.
    pub poll_interval: Duration,
}

impl Default for RollOptions {
    /// 10 minutes per node (a broker with much data to catch up needs it), polled every 2 s.
    fn default() -> Self {
        RollOptions {
            policy: RollPolicy::default(),
            wait_per_node: Duration::from_secs(600),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// What the roll is doing, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollEvent {
    /// Not ready for the next step; `next` would be restarted next.
    Waiting { next: Option<i32>, blockers: Vec<Blocker>, waited: Duration },
    /// Restarting node `position` of `total`.
    Restarting { node: RollNode, position: usize, total: usize },
    /// The runner reports the node running again; the gate now waits for it to catch up.
    Restarted { node: RollNode },
    /// Every selected node was restarted and the cluster is caught up.
    Done { restarted: Vec<i32> },
}

/// Why a roll stopped before the end. Nodes restarted so far are listed; the cluster is never
/// left with a node stopped by the roll (the runner's restart is one step).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollError {
    /// The cluster did not become caught up within the wait.
    #[error(
        "the cluster was not caught up within {waited:?} (restarted so far: {restarted:?}); still blocking: {}",
        super::summary(blockers)
    )]
    GateTimeout { waited: Duration, blockers: Vec<Blocker>, restarted: Vec<i32> },
    /// The runner failed to restart a node.
    #[error("restarting node {node} failed (restarted before: {restarted:?}): {error}")]
    Runner { node: String, error: String, restarted: Vec<i32> },
}

/// Restarts the `selected` nodes one at a time through `runner`, each only when [`decide`] says
/// so; `nodes` is the whole cluster (every node's health gates every step). Returns the nodes in
/// the order restarted.
pub async fn roll<R: NodeRunner>(
    client: &AdminClient,
    runner: &R,
    nodes: &[RollNode],
    selected: &BTreeSet<i32>,
    options: RollOptions,
    mut progress: impl FnMut(&RollEvent),
) -> Result<Vec<i32>, RollError> {
    let mut remaining = selected.clone();
    let total = remaining.len();
    let mut restarted = Vec::new();
    let mut targets: BTreeMap<i32, i64> = BTreeMap::new();
    // Restarted controllers whose target is taken from the first quorum read after the restart.
    let mut untargeted: BTreeSet<i32> = BTreeSet::new();
    let mut waiting_since = tokio::time::Instant::now();
    loop {
        let (health, decision) = match observe(client).await {
            Ok(health) => {
                if let Some(q) = &health.quorum {
                    for id in std::mem::take(&mut untargeted) {
                        targets.insert(id, q.high_watermark);
                    }
                }
                let d = decide(nodes, &remaining, &health, &targets, options.policy);
                (health, d)
            }
            Err(e) => (Health::default(), Decision::Wait(vec![Blocker::Unobservable(e.to_string())])),
        };
        match decision {
            Decision::Done => {
                let event = RollEvent::Done { restarted: restarted.clone() };
                progress(&event);
                return Ok(restarted);
            }
            Decision::Wait(blockers) => {
                let waited = waiting_since.elapsed();
                if waited >= options.wait_per_node {
                    return Err(RollError::GateTimeout { waited, blockers, restarted });
                }
                let next = order(nodes, &remaining, &health).first().copied();
                progress(&RollEvent::Waiting { next, blockers, waited });
                tokio::time::sleep(options.poll_interval).await;
            }
            Decision::Restart(id) => {
                let node = nodes.iter().find(|n| n.id == id).expect("decide picks from nodes").clone();
                progress(&RollEvent::Restarting { node: node.clone(), position: restarted.len() + 1, total });
                runner.restart(&node).await.map_err(|error| RollError::Runner {
                    node: node.name.clone(),
                    error,
                    restarted: restarted.clone(),
                })?;
                remaining.remove(&id);
                restarted.push(id);
                if node.controller {
                    targets.remove(&id);
                    untargeted.insert(id);
                }
                progress(&RollEvent::Restarted { node });
                waiting_since = tokio::time::Instant::now();
            }
        }
    }
}
