//! The roll decision, given a cluster's health: which node next, and why not yet.

use std::collections::{BTreeMap, BTreeSet};

use kafka_admin::{PartitionInfo, QuorumInfo, QuorumReplica, RegisteredBroker, TopicInfo};

use super::*;

fn node(id: i32, broker: bool, controller: bool) -> RollNode {
    RollNode { id, name: format!("n{id}"), broker, controller }
}

/// Three combined nodes, as in the test cluster.
fn combined() -> Vec<RollNode> {
    (1..=3).map(|id| node(id, true, true)).collect()
}

/// Brokers 1..=3 and dedicated controllers 1000..=1002, as in a production stage.
fn dedicated() -> Vec<RollNode> {
    let brokers = (1..=3).map(|id| node(id, true, false));
    brokers.chain((1000..=1002).map(|id| node(id, false, true))).collect()
}

fn voter(node_id: i32, log_end_offset: i64) -> QuorumReplica {
    QuorumReplica { node_id, log_end_offset, last_fetch_ms: 50_000, last_caught_up_ms: 50_000 }
}

/// Every node registered and caught up, every partition fully in sync.
fn healthy(nodes: &[RollNode], leader: i32) -> Health {
    let brokers: Vec<i32> = nodes.iter().filter(|n| n.broker).map(|n| n.id).collect();
    Health {
        brokers: brokers
            .iter()
            .map(|&id| RegisteredBroker { node_id: id, address: format!("h:{id}"), fenced: false })
            .collect(),
        quorum: Some(QuorumInfo {
            leader_id: leader,
            leader_epoch: 3,
            high_watermark: 1000,
            voters: nodes.iter().filter(|n| n.controller).map(|n| voter(n.id, 1000)).collect(),
            observers: vec![],
        }),
        topics: vec![TopicInfo {
            name: "orders".into(),
            topic_id: "x".into(),
            internal: false,
            partitions: (0..2)
                .map(|index| PartitionInfo {
                    index,
                    leader: brokers[index as usize % brokers.len()],
                    replicas: brokers.clone(),
                    isr: brokers.clone(),
                    offline: vec![],
                })
                .collect(),
        }],
    }
}

fn all(nodes: &[RollNode]) -> BTreeSet<i32> {
    nodes.iter().map(|n| n.id).collect()
}

fn decide_now(nodes: &[RollNode], remaining: &BTreeSet<i32>, health: &Health) -> Decision {
    decide(nodes, remaining, health, &BTreeMap::new(), RollPolicy::default())
}

fn waits_for(decision: Decision) -> Vec<Blocker> {
    match decision {
        Decision::Wait(b) => b,
        other => panic!("expected to wait, got {other:?}"),
    }
}

#[test]
fn combined_nodes_roll_by_id_with_the_active_controller_last() {
    let nodes = combined();
    let health = healthy(&nodes, 2);
    assert_eq!(order(&nodes, &all(&nodes), &health), vec![1, 3, 2]);
    assert_eq!(decide_now(&nodes, &all(&nodes), &health), Decision::Restart(1));
}

#[test]
fn dedicated_controllers_go_first_leader_last_then_brokers() {
    let nodes = dedicated();
    let health = healthy(&nodes, 1000);
    assert_eq!(order(&nodes, &all(&nodes), &health), vec![1001, 1002, 1000, 1, 2, 3]);
    assert_eq!(decide_now(&nodes, &all(&nodes), &health), Decision::Restart(1001));
    // With the controllers done, brokers follow in id order.
    let brokers: BTreeSet<i32> = [3, 1].into();
    assert_eq!(decide_now(&nodes, &brokers, &health), Decision::Restart(1));
}

#[test]
fn the_order_follows_leadership_as_it_moves() {
    let nodes = combined();
    let remaining: BTreeSet<i32> = [2, 3].into();
    assert_eq!(order(&nodes, &remaining, &healthy(&nodes, 3)), vec![2, 3]);
    assert_eq!(order(&nodes, &remaining, &healthy(&nodes, 2)), vec![3, 2]);
    assert_eq!(order(&nodes, &remaining, &healthy(&nodes, 1)), vec![2, 3]);
}

#[test]
fn nothing_left_and_all_caught_up_is_done() {
    let nodes = combined();
    assert_eq!(decide_now(&nodes, &BTreeSet::new(), &healthy(&nodes, 1)), Decision::Done);
}

#[test]
fn nothing_left_but_a_node_still_catching_up_waits() {
    let nodes = combined();
    let mut health = healthy(&nodes, 1);
    health.brokers[2].fenced = true;
    assert_eq!(waits_for(decide_now(&nodes, &BTreeSet::new(), &health)), vec![Blocker::Fenced(3)]);
}

#[test]
fn a_stopped_node_holds_the_roll_with_every_reason() {
    let nodes = combined();
    let mut health = healthy(&nodes, 1);
    // Node 3 is down: unregistered, its voter entry stale, out of every ISR.
    health.brokers.retain(|b| b.node_id != 3);
    let q = health.quorum.as_mut().unwrap();
    q.voters[2] =
        QuorumReplica { node_id: 3, log_end_offset: 900, last_fetch_ms: 1_000, last_caught_up_ms: 1_000 };
    for p in &mut health.topics[0].partitions {
        p.isr.retain(|&r| r != 3);
    }
    let blockers = waits_for(decide_now(&nodes, &all(&nodes), &health));
    assert_eq!(
        blockers,
        vec![
            Blocker::NotRegistered(3),
            Blocker::ControllerLagging { node: 3, lag: 100 },
            Blocker::ControllerStale { node: 3, behind_ms: 49_000 },
            Blocker::UnderReplicated { topic: "orders".into(), partition: 0, missing: vec![3] },
            Blocker::UnderReplicated { topic: "orders".into(), partition: 1, missing: vec![3] },
        ]
    );
    // Also when node 3 is not among the nodes to roll: every node's health gates every step.
    let others: BTreeSet<i32> = [1, 2].into();
    assert!(matches!(decide_now(&nodes, &others, &health), Decision::Wait(_)));
}

#[test]
fn lag_and_staleness_at_their_bounds_are_caught_up_and_one_more_is_not() {
    let nodes = combined();
    let policy = RollPolicy { max_controller_lag: 10, max_controller_staleness_ms: 500 };
    let mut health = healthy(&nodes, 1);
    let q = health.quorum.as_mut().unwrap();
    q.voters[1].log_end_offset = 990;
    q.voters[2].last_caught_up_ms = 49_500;
    let none = BTreeMap::new();
    assert_eq!(blockers(&nodes, &health, &none, policy), vec![]);
    let q = health.quorum.as_mut().unwrap();
    q.voters[1].log_end_offset = 989;
    q.voters[2].last_caught_up_ms = 49_499;
    assert_eq!(
        blockers(&nodes, &health, &none, policy),
        vec![
            Blocker::ControllerLagging { node: 2, lag: 11 },
            Blocker::ControllerStale { node: 3, behind_ms: 501 }
        ]
    );
}

#[test]
fn the_leader_is_never_lagging_and_missing_timestamps_fall_back_to_the_lag() {
    let nodes = combined();
    let mut health = healthy(&nodes, 1);
    let q = health.quorum.as_mut().unwrap();
    for v in &mut q.voters {
        v.last_caught_up_ms = -1;
    }
    q.voters[0].log_end_offset = 0;
    assert_eq!(blockers(&nodes, &health, &BTreeMap::new(), RollPolicy::default()), vec![]);
}

#[test]
fn a_restarted_controller_must_reach_the_log_end_it_came_back_to() {
    let nodes = combined();
    let mut health = healthy(&nodes, 1);
    health.quorum.as_mut().unwrap().voters[1].log_end_offset = 995; // within the lag bound
    let targets: BTreeMap<i32, i64> = [(2, 998)].into();
    let remaining: BTreeSet<i32> = [3].into();
    let decision = decide(&nodes, &remaining, &health, &targets, RollPolicy::default());
    assert_eq!(
        waits_for(decision),
        vec![Blocker::NotCaughtUpSinceRestart { node: 2, log_end_offset: 995, target: 998 }]
    );
    health.quorum.as_mut().unwrap().voters[1].log_end_offset = 998;
    assert_eq!(decide(&nodes, &remaining, &health, &targets, RollPolicy::default()), Decision::Restart(3));
}

#[test]
fn no_leader_or_no_quorum_reading_waits() {
    let nodes = combined();
    let mut health = healthy(&nodes, -1);
    assert_eq!(waits_for(decide_now(&nodes, &all(&nodes), &health)), vec![Blocker::NoQuorumLeader]);
    health.quorum = None;
    assert_eq!(waits_for(decide_now(&nodes, &all(&nodes), &health)), vec![Blocker::NoQuorumLeader]);
}

#[test]
fn a_controller_missing_from_the_voters_waits() {
    let nodes = dedicated();
    let mut health = healthy(&nodes, 1000);
    health.quorum.as_mut().unwrap().voters.retain(|v| v.node_id != 1002);
    assert_eq!(waits_for(decide_now(&nodes, &all(&nodes), &health)), vec![Blocker::NotAVoter(1002)]);
}

#[test]
fn offline_partitions_wait() {
    let nodes = combined();
    let mut health = healthy(&nodes, 1);
    health.topics[0].partitions[1].leader = -1;
    assert_eq!(
        waits_for(decide_now(&nodes, &all(&nodes), &health)),
        vec![Blocker::Offline { topic: "orders".into(), partition: 1 }]
    );
}

#[test]
fn an_under_replicated_partition_elsewhere_blocks_a_broker_it_does_not_involve() {
    // Restarting broker 1 while 2 is out of a partition on 2 and 3 would leave it one replica.
    let nodes = combined();
    let mut health = healthy(&nodes, 3);
    let p = &mut health.topics[0].partitions[0];
    p.replicas = vec![2, 3];
    p.isr = vec![3];
    let remaining: BTreeSet<i32> = [1].into();
    assert_eq!(
        waits_for(decide_now(&nodes, &remaining, &health)),
        vec![Blocker::UnderReplicated { topic: "orders".into(), partition: 0, missing: vec![2] }]
    );
}

#[test]
fn a_quorum_without_a_spare_voter_is_never_restarted() {
    let nodes = vec![node(1, true, false), node(1000, false, true)];
    let health = healthy(&nodes, 1000);
    let remaining: BTreeSet<i32> = [1000].into();
    assert_eq!(
        waits_for(decide_now(&nodes, &remaining, &health)),
        vec![Blocker::WouldLoseQuorum { node: 1000, voters: 1 }]
    );
    // Two voters: one left is not a majority either; brokers still roll.
    let nodes = vec![node(1, true, false), node(1000, false, true), node(1001, false, true)];
    let health = healthy(&nodes, 1000);
    assert!(matches!(decide_now(&nodes, &all(&nodes), &health), Decision::Wait(_)));
    assert_eq!(decide_now(&nodes, &[1].into(), &health), Decision::Restart(1));
}

#[test]
fn a_broker_only_in_the_quorum_as_an_observer_is_gated_by_its_registration() {
    let nodes = dedicated();
    let mut health = healthy(&nodes, 1000);
    health.quorum.as_mut().unwrap().observers = vec![voter(2, -1)];
    assert_eq!(decide_now(&nodes, &[2].into(), &health), Decision::Restart(2));
    health.brokers.retain(|b| b.node_id != 2);
    assert_eq!(waits_for(decide_now(&nodes, &[2].into(), &health)), vec![Blocker::NotRegistered(2)]);
}

#[test]
fn blockers_read_as_sentences() {
    let shown: Vec<String> = [
        Blocker::NotRegistered(3),
        Blocker::UnderReplicated { topic: "t".into(), partition: 0, missing: vec![3] },
        Blocker::WouldLoseQuorum { node: 1000, voters: 1 },
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        shown,
        [
            "broker 3 is not registered",
            "t-0 is under-replicated (not in sync: [3])",
            "restarting controller 1000 would leave no caught-up majority of the 1 voters",
        ]
    );
}

#[test]
fn nodes_are_discovered_from_voters_and_registrations() {
    let nodes = dedicated();
    let health = healthy(&nodes, 1000);
    let found = nodes_from_health(&health);
    assert_eq!(
        found.iter().map(|n| (n.id, n.broker, n.controller)).collect::<Vec<_>>(),
        vec![
            (1, true, false),
            (2, true, false),
            (3, true, false),
            (1000, false, true),
            (1001, false, true),
            (1002, false, true)
        ]
    );
    assert_eq!(found[0].name, "1");
    let combined = nodes_from_health(&healthy(&combined(), 1));
    assert!(combined.iter().all(|n| n.broker && n.controller));
}

#[test]
fn a_summary_counts_under_replicated_partitions() {
    let partition = |p| Blocker::UnderReplicated { topic: "t".into(), partition: p, missing: vec![3] };
    let blockers = vec![partition(0), Blocker::Fenced(3), partition(1), partition(2)];
    assert_eq!(
        summary(&blockers),
        "broker 3 is fenced; 3 partition(s) under-replicated, e.g. t-0 is under-replicated (not in sync: [3])"
    );
    assert_eq!(summary(&[]), "");
}
