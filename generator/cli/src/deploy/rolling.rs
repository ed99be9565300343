//! Rolling node updates (pure): whether an update of the cluster stack restarts nodes, and the
//! pin parameter values of each change set that applies it one node at a time.
//!
//! Each node service runs the task definition its pin parameter names, or its own rendered one
//! when the pin is empty. The update is applied as: one change set that holds every existing node
//! on the task definition it runs now (everything else changes, new revisions are registered, no
//! node restarts), then one change set per node whose rendered task definition differs, in the
//! manifest's order (dedicated controllers, then brokers), each releasing that node alone. The last
//! change set leaves every pin empty, so the stack ends as the committed template says.

use std::collections::BTreeMap;

use kafka_platform_core::manifest::RollingDecl;

use super::changes::{Action, ResourceChange};

/// Parameter values of the pins, in the manifest's node order.
pub type Pins = Vec<(String, String)>;

/// One change set of the rollout after the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The node this change set restarts; None for the last one when no node needed a restart
    /// (it only clears the pins).
    pub node: Option<String>,
    /// Every pin parameter and its value in this change set.
    pub pins: Pins,
}

/// The existing nodes whose service or task definition the reviewed change set (the template
/// with every pin empty) would modify or remove: the update restarts them, so it must roll.
pub fn nodes_touched<'a>(rows: &[ResourceChange], rolling: &'a RollingDecl) -> Vec<&'a str> {
    rolling
        .nodes
        .iter()
        .filter(|node| {
            rows.iter().any(|row| {
                matches!(row.action, Action::Modify | Action::Remove | Action::Dynamic)
                    && (row.logical_id == node.service || row.logical_id == node.task_definition)
            })
        })
        .map(|node| node.name.as_str())
        .collect()
}

/// Every pin empty: the template as committed, the state a rollout ends in.
pub fn released(rolling: &RollingDecl) -> Pins {
    rolling.nodes.iter().map(|n| (n.pin_parameter.clone(), String::new())).collect()
}

/// Whether the stack's current parameters pin any node (a rollout did not finish).
pub fn any_pinned(rolling: &RollingDecl, parameters: &BTreeMap<String, String>) -> bool {
    rolling.nodes.iter().any(|n| parameters.get(&n.pin_parameter).is_some_and(|v| !v.is_empty()))
}

/// The first change set: each node that has a service holds the task definition it runs
/// (`running`, by node name); a node without one yet starts on its own.
pub fn hold_all(rolling: &RollingDecl, running: &BTreeMap<String, String>) -> Pins {
    rolling
        .nodes
        .iter()
        .map(|n| (n.pin_parameter.clone(), running.get(&n.name).cloned().unwrap_or_default()))
        .collect()
}

/// The change sets after the first: one per node whose running task definition differs from its
/// rendered one (`rendered`, by node name, read after the first change set), in manifest order.
/// Nodes that need no restart are released with the first of them. When none needs a restart,
/// one change set clears the pins.
pub fn roll_steps(
    rolling: &RollingDecl,
    running: &BTreeMap<String, String>,
    rendered: &BTreeMap<String, String>,
) -> Vec<Step> {
    let pending: Vec<&str> = rolling
        .nodes
        .iter()
        .filter(|n| running.get(&n.name).is_some_and(|arn| rendered.get(&n.name) != Some(arn)))
        .map(|n| n.name.as_str())
        .collect();
    if pending.is_empty() {
        return vec![Step { node: None, pins: released(rolling) }];
    }
    pending
        .iter()
        .enumerate()
        .map(|(turn, name)| Step {
            node: Some(name.to_string()),
            pins: rolling
                .nodes
                .iter()
                .map(|n| {
                    // Still held: a node whose turn comes later.
                    let later = pending[turn + 1..].contains(&n.name.as_str());
                    let value = if later { running[&n.name].clone() } else { String::new() };
                    (n.pin_parameter.clone(), value)
                })
                .collect(),
        })
        .collect()
}

/// The nodes whose task definition differs between two readings, in manifest order.
pub fn moved(
    rolling: &RollingDecl,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    rolling
        .nodes
        .iter()
        .filter(|n| before.get(&n.name) != after.get(&n.name))
        .map(|n| n.name.clone())
        .collect()
}

/// `family:revision` of a task definition ARN, for messages.
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::changes::Replacement;
    use kafka_platform_core::manifest::RollingNode;

    fn decl(names: &[&str]) -> RollingDecl {
        RollingDecl {
            cluster: "Cluster".into(),
            nodes: names
                .iter()
                .map(|n| {
                    let id = n.to_uppercase();
                    RollingNode {
                        name: n.to_string(),
                        service: format!("{id}Service"),
                        task_definition: format!("{id}TaskDefinition"),
                        pin_parameter: format!("{id}PinnedTaskDefinition"),
                        node_id: 0,
                        broker: n.starts_with('b'),
                        controller: n.starts_with('c'),
                    }
                })
                .collect(),
            kafka_bootstrap: "bootstrap.example.internal:9094".into(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn row(action: Action, id: &str) -> ResourceChange {
        ResourceChange {
            action,
            logical_id: id.into(),
            resource_type: "T".into(),
            replacement: Replacement::Unknown,
        }
    }

    fn values(pins: &Pins) -> Vec<&str> {
        pins.iter().map(|(_, v)| v.as_str()).collect()
    }

    #[test]
    fn only_modified_or_removed_node_resources_make_an_update_roll() {
        let d = decl(&["c0", "b0", "b1"]);
        let rows = [
            row(Action::Modify, "B1TaskDefinition"),
            row(Action::Modify, "C0Service"),
            row(Action::Add, "B0TaskDefinition"),
            row(Action::Modify, "KafkaLogGroup"),
        ];
        assert_eq!(nodes_touched(&rows, &d), vec!["c0", "b1"]);
        assert!(nodes_touched(&[row(Action::Modify, "InternalLoadBalancer")], &d).is_empty());
        assert!(nodes_touched(&[], &d).is_empty());
    }

    #[test]
    fn the_first_change_set_holds_every_existing_node_and_starts_new_ones() {
        let d = decl(&["c0", "b0", "b1"]);
        let running = map(&[("c0", "arn:c0:1"), ("b0", "arn:b0:1")]);
        let pins = hold_all(&d, &running);
        assert_eq!(pins[0].0, "C0PinnedTaskDefinition");
        assert_eq!(values(&pins), vec!["arn:c0:1", "arn:b0:1", ""]);
    }

    #[test]
    fn one_change_set_per_changed_node_in_manifest_order_each_releasing_that_node_alone() {
        let d = decl(&["c0", "c1", "b0", "b1"]);
        let running = map(&[("c0", "c0:1"), ("c1", "c1:1"), ("b0", "b0:1"), ("b1", "b1:1")]);
        // c1 already runs what the template renders (e.g. a rollout interrupted after it).
        let rendered = map(&[("c0", "c0:2"), ("c1", "c1:1"), ("b0", "b0:2"), ("b1", "b1:2")]);
        let steps = roll_steps(&d, &running, &rendered);
        let nodes: Vec<_> = steps.iter().map(|s| s.node.as_deref().unwrap()).collect();
        assert_eq!(nodes, vec!["c0", "b0", "b1"]);
        assert_eq!(values(&steps[0].pins), vec!["", "", "b0:1", "b1:1"]);
        assert_eq!(values(&steps[1].pins), vec!["", "", "", "b1:1"]);
        assert_eq!(values(&steps[2].pins), vec!["", "", "", ""], "the last step leaves no pin");
        // Between two consecutive steps exactly one pin changes: one node restarts per change set.
        for pair in steps.windows(2) {
            let changed = pair[0].pins.iter().zip(&pair[1].pins).filter(|(a, b)| a != b).count();
            assert_eq!(changed, 1, "{pair:?}");
        }
    }

    #[test]
    fn a_stack_is_pinned_while_any_pin_is_set() {
        let d = decl(&["c0", "b0"]);
        assert!(!any_pinned(&d, &map(&[])));
        assert!(!any_pinned(&d, &map(&[("C0PinnedTaskDefinition", ""), ("B0PinnedTaskDefinition", "")])));
        assert!(any_pinned(&d, &map(&[("C0PinnedTaskDefinition", ""), ("B0PinnedTaskDefinition", "b0:1")])));
        assert!(!any_pinned(&d, &map(&[("Other", "x")])));
    }

    #[test]
    fn moved_nodes_are_those_whose_task_definition_changed() {
        let d = decl(&["c0", "b0", "b1"]);
        let before = map(&[("c0", "c0:1"), ("b0", "b0:1")]);
        let after = map(&[("c0", "c0:1"), ("b0", "b0:2"), ("b1", "b1:1")]);
        assert_eq!(moved(&d, &before, &after), vec!["b0", "b1"]);
        assert!(moved(&d, &after, &after).is_empty());
        assert_eq!(short_arn("arn:aws:ecs:eu-west-1:1:task-definition/kafka-dev-b0:7"), "kafka-dev-b0:7");
    }

    #[test]
    fn a_node_without_a_service_is_never_a_step_and_no_restart_still_clears_the_pins() {
        let d = decl(&["b0", "b1"]);
        let running = map(&[("b0", "b0:1")]);
        let rendered = map(&[("b0", "b0:1"), ("b1", "b1:1")]);
        assert_eq!(roll_steps(&d, &running, &rendered), vec![Step { node: None, pins: released(&d) }]);
        let rendered = map(&[("b0", "b0:2"), ("b1", "b1:1")]);
        let steps = roll_steps(&d, &running, &rendered);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].node.as_deref(), Some("b0"));
        assert_eq!(values(&steps[0].pins), vec!["", ""]);
    }
}
