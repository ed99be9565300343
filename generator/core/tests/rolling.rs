//! Rolling node updates, as rendered: every node service runs the task definition its own pin
//! parameter names, or its own rendered one when the pin is empty; no node service waits for
//! another (a new combined-mode stage would deadlock); a first create needs no parameter; the
//! manifest tells `gen deploy` the nodes in Kafka's order.

mod support;

use kafka_platform_core::manifest::Manifest;
use kafka_platform_core::render::render_stage;
use kafka_platform_core::{StageName, load_and_resolve};
use serde_json::{Value, json};
use support::*;

/// Every committed stage: its cluster template (parsed) and its manifest.
fn stages() -> Vec<(StageName, Vec<String>, Value, Manifest)> {
    let all = [StageName::Dev, StageName::Test, StageName::Acc, StageName::Prod];
    let (models, findings) = load_and_resolve(committed_environments(), &all);
    assert_eq!(models.len(), all.len(), "committed stages have errors:\n{}", show(&findings));
    models
        .iter()
        .map(|(stage, model)| {
            let rendered = render_stage(model);
            let template = serde_saphyr::from_str(&rendered.files["cluster.yaml"]).expect("cluster.yaml");
            let manifest = serde_json::from_str(&rendered.files["manifest.json"]).expect("manifest.json");
            let controllers = model.cluster.controllers.iter().map(|n| n.name.clone());
            let nodes = controllers.chain(model.cluster.brokers.iter().map(|n| n.name.clone())).collect();
            (*stage, nodes, template, manifest)
        })
        .collect()
}

#[test]
fn every_node_service_runs_its_own_pin_or_its_own_task_definition() {
    for (stage, nodes, template, manifest) in stages() {
        let cluster = manifest.stacks.iter().find(|s| s.template == "cluster.yaml").expect("cluster stack");
        let rolling = cluster.rolling.as_ref().expect("the cluster stack declares its rolling nodes");
        let names: Vec<&str> = rolling.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, nodes, "{stage}: dedicated controllers first, then brokers");
        assert_eq!(template["Resources"][&rolling.cluster]["Type"], "AWS::ECS::Cluster", "{stage}");
        let services = resources(&template, "AWS::ECS::Service");
        for node in &rolling.nodes {
            let service = services[node.service.as_str()];
            assert_eq!(service["Properties"]["ServiceName"], node.name.as_str(), "{stage}");
            let choice = &service["Properties"]["TaskDefinition"]["Fn::If"];
            let condition = choice[0].as_str().expect("a condition name");
            assert_eq!(choice[1], json!({ "Ref": node.pin_parameter }), "{stage} {}", node.name);
            assert_eq!(choice[2], json!({ "Ref": node.task_definition }), "{stage} {}", node.name);
            assert_eq!(
                template["Conditions"][condition],
                json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": node.pin_parameter }, ""] }] }),
                "{stage} {}: pinned exactly when the pin is not empty",
                node.name
            );
            // A first create passes no pin: the default starts every node on its own.
            let parameter = &template["Parameters"][&node.pin_parameter];
            assert_eq!(parameter["Type"], "String", "{stage}");
            assert_eq!(parameter["Default"], "", "{stage}");
            assert!(
                !cluster.parameters.contains_key(&node.pin_parameter),
                "{stage}: the deploy alone sets the pins"
            );
            let task = &template["Resources"][&node.task_definition];
            assert_eq!(task["Type"], "AWS::ECS::TaskDefinition", "{stage}");
            assert_eq!(
                task["UpdateReplacePolicy"], "Retain",
                "{stage}: a pinned service's revision stays registered"
            );
        }
    }
}

#[test]
fn no_node_service_waits_for_another() {
    for (stage, _, template, manifest) in stages() {
        let cluster = manifest.stacks.iter().find(|s| s.template == "cluster.yaml").expect("cluster stack");
        let services: Vec<&str> =
            cluster.rolling.as_ref().expect("rolling").nodes.iter().map(|n| n.service.as_str()).collect();
        for service in &services {
            let depends =
                template["Resources"][*service]["DependsOn"].as_array().cloned().unwrap_or_default();
            for dep in depends {
                let dep = dep.as_str().expect("a logical id");
                assert!(!services.contains(&dep), "{stage}: {service} depends on {dep}");
            }
        }
    }
}

#[test]
fn only_the_cluster_stack_is_rolled() {
    for (stage, _, _, manifest) in stages() {
        let rolled: Vec<&str> =
            manifest.stacks.iter().filter(|s| s.rolling.is_some()).map(|s| s.template.as_str()).collect();
        assert_eq!(rolled, vec!["cluster.yaml"], "{stage}");
        assert_eq!(manifest.check(), Ok(()), "{stage}");
    }
}
