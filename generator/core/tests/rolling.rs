//! Rolling node updates, as rendered: every node service runs the task definition its own pin
//! parameter names, or its own rendered one when the pin is empty; no node service waits for
//! another (a new combined-mode stage would deadlock); a first create needs no parameter; the
//! manifest tells `gen deploy` the nodes in Kafka's order.

mod support;

use kafka_platform_core::manifest::Manifest;
use kafka_platform_core::model::ports;
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

#[test]
fn the_manifest_gives_the_kafka_gate_each_nodes_id_and_roles_and_the_internal_bootstrap() {
    let all = [StageName::Dev, StageName::Test, StageName::Acc, StageName::Prod];
    let (models, _) = load_and_resolve(committed_environments(), &all);
    for (stage, _, _, manifest) in stages() {
        let model = &models[&stage];
        let cluster = manifest.stacks.iter().find(|s| s.template == "cluster.yaml").expect("cluster stack");
        let rolling = cluster.rolling.as_ref().expect("rolling");
        assert_eq!(
            rolling.kafka_bootstrap,
            format!("{}:{}", model.bootstrap_dns_name(), ports::MTLS),
            "{stage}"
        );
        for node in &rolling.nodes {
            let declared = model.cluster.brokers.iter().chain(&model.cluster.controllers);
            let declared = declared.clone().find(|n| n.name == node.name).expect("a declared node");
            assert_eq!(i64::from(node.node_id), i64::from(declared.node_id), "{stage} {}", node.name);
            let is_broker = model.cluster.brokers.contains(declared);
            assert_eq!(node.broker, is_broker, "{stage} {}", node.name);
            assert_eq!(node.controller, !is_broker || model.cluster.combined(), "{stage} {}", node.name);
        }
    }
}

// How ECS deploys a node service, as AWS documents it, and what the rendered services must say
// for one node to be replaced at a time, never twice at once, and only once it is healthy:
//
// - DeploymentConfiguration (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
//   aws-properties-ecs-service-deploymentconfiguration.html): during a rolling update (ECS
//   deployment type) maximumPercent caps the tasks RUNNING or PENDING, as a share of desiredCount
//   rounded down, and minimumHealthyPercent is the share that must stay RUNNING, rounded up. For a
//   one-task service 100 / 0 means at most one task, so the old one stops before the new starts.
// - minimumHealthyPercent (docs.aws.amazon.com/AmazonECS/latest/APIReference/
//   API_DeploymentConfiguration.html): without a load balancer a task counts once its essential
//   containers pass their health checks; a task with no health check counts 40 s after RUNNING.
// - Container health checks (AWS::ECS::TaskDefinition HealthCheck): only checks in the task
//   definition count; a service task reported UNHEALTHY is stopped and replaced; startPeriod is at
//   most 300 s.
// - Deployment circuit breaker (docs.aws.amazon.com/AmazonECS/latest/developerguide/
//   deployment-circuit-breaker.html): only for the rolling update type; a deployment whose tasks
//   do not reach RUNNING and then pass their health checks fails (at least 3 failed tasks), and with
//   rollback the service returns to its last completed deployment.
// - healthCheckGracePeriodSeconds (API_CreateService): how long the scheduler ignores failing load
//   balancer (and, in today's text, container) checks after a task starts; default 0. The API used
//   to refuse it on a service without a load balancer, so only broker services set it.

/// The node services and task definitions of every committed stage's cluster template.
fn node_services() -> Vec<(StageName, String, Value, Value)> {
    let mut out = Vec::new();
    for (stage, _, template, manifest) in stages() {
        let cluster = manifest.stacks.iter().find(|s| s.template == "cluster.yaml").expect("cluster stack");
        for node in &cluster.rolling.as_ref().expect("rolling").nodes {
            let service = template["Resources"][&node.service].clone();
            let task = template["Resources"][&node.task_definition].clone();
            out.push((stage, node.name.clone(), service, task));
        }
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn a_node_service_stops_its_one_task_before_starting_the_next_so_a_node_never_runs_twice() {
    for (stage, node, service, _) in node_services() {
        let p = &service["Properties"];
        assert_eq!(p["DesiredCount"], 1, "{stage} {node}");
        let deployment = &p["DeploymentConfiguration"];
        assert_eq!(deployment["MaximumPercent"], 100, "{stage} {node}: at most one task");
        assert_eq!(deployment["MinimumHealthyPercent"], 0, "{stage} {node}: the old task may stop first");
        // The percentages and the circuit breaker hold for the rolling update (ECS) type only.
        let controller = p["DeploymentController"]["Type"].as_str().unwrap_or("ECS");
        assert_eq!(controller, "ECS", "{stage} {node}");
    }
}

#[test]
fn a_node_deployment_that_never_becomes_healthy_fails_and_rolls_back() {
    for (stage, node, service, _) in node_services() {
        let breaker = &service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"];
        assert_eq!(breaker, &json!({ "Enable": true, "Rollback": true }), "{stage} {node}");
    }
}

#[test]
fn every_essential_container_of_a_node_task_has_a_health_check_within_ecs_bounds() {
    for (stage, node, _, task) in node_services() {
        let containers = task["Properties"]["ContainerDefinitions"].as_array().expect("containers");
        // Essential defaults to true.
        let essential: Vec<&Value> = containers.iter().filter(|c| c["Essential"] != false).collect();
        assert!(!essential.is_empty(), "{stage} {node}");
        for container in essential {
            let check = &container["HealthCheck"];
            let name = &container["Name"];
            assert_eq!(check["Command"][0], "CMD-SHELL", "{stage} {node} {name}: a health check");
            let (interval, timeout) = (check["Interval"].as_u64(), check["Timeout"].as_u64());
            assert!(timeout < interval, "{stage} {node} {name}");
            assert!(check["StartPeriod"].as_u64().is_some_and(|s| s <= 300), "{stage} {node} {name}");
        }
    }
}

#[test]
fn a_broker_behind_a_load_balancer_gets_its_start_period_as_grace_and_no_other_service_sets_one() {
    let mut graced = 0;
    for (stage, node, service, task) in node_services() {
        let p = &service["Properties"];
        let grace = &p["HealthCheckGracePeriodSeconds"];
        if p["LoadBalancers"].as_array().is_some_and(|lbs| !lbs.is_empty()) {
            let start = task["Properties"]["ContainerDefinitions"][0]["HealthCheck"]["StartPeriod"].as_u64();
            assert!(grace.as_u64() >= start && start.is_some(), "{stage} {node}: {grace} < {start:?}");
            graced += 1;
        } else {
            assert!(grace.is_null(), "{stage} {node}: a grace period without a load balancer");
        }
    }
    assert!(graced > 0, "the brokers sit behind the bootstrap load balancer");
}
