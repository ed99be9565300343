//! Rendering, as specifications: given the committed environments (or the small baseline), expect
//! deterministic files and these fragments in the cluster template.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use kafka_platform_core::render::render_stage;
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use serde_json::Value;
use support::*;

/// The committed model of `stage`.
fn committed(stage: StageName) -> StageModel {
    let (mut models, findings) = load_and_resolve(committed_environments(), &[stage]);
    models
        .remove(&stage)
        .unwrap_or_else(|| panic!("the committed {stage} stage has errors:\n{}", show(&findings)))
}

/// The stage's cluster template, parsed.
fn cluster_template(model: &StageModel) -> Value {
    let rendered = render_stage(model);
    serde_saphyr::from_str(&rendered.files["cluster.yaml"]).expect("cluster.yaml is YAML")
}

/// Resources of `kind`, by logical id.
fn resources<'a>(template: &'a Value, kind: &str) -> BTreeMap<&'a str, &'a Value> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// `Name`/`Value` (or `Name`/`ValueFrom`) pairs of a container definition list.
fn pairs(list: &Value, value_key: &str) -> BTreeMap<String, Value> {
    list.as_array()
        .expect("a list of names and values")
        .iter()
        .map(|e| (e["Name"].as_str().expect("Name").to_string(), e[value_key].clone()))
        .collect()
}

/// Environment and secrets of a container, by name.
type Container = (BTreeMap<String, Value>, BTreeMap<String, Value>);

/// The node services of a cluster template: service name -> its container.
fn node_containers(model: &StageModel, template: &Value) -> BTreeMap<String, Container> {
    let nodes: BTreeSet<&str> =
        model.cluster.brokers.iter().chain(&model.cluster.controllers).map(|n| n.name.as_str()).collect();
    let task_definitions = resources(template, "AWS::ECS::TaskDefinition");
    let mut out = BTreeMap::new();
    for service in resources(template, "AWS::ECS::Service").values() {
        let name = service["Properties"]["ServiceName"].as_str().expect("ServiceName");
        if !nodes.contains(name) {
            continue; // the Schema Registry
        }
        assert_eq!(service["Properties"]["DesiredCount"], 1, "a node never runs twice");
        let task = service["Properties"]["TaskDefinition"]["Ref"].as_str().expect("TaskDefinition is a Ref");
        let container = &task_definitions[task]["Properties"]["ContainerDefinitions"][0];
        let previous = out.insert(
            name.to_string(),
            (pairs(&container["Environment"], "Value"), pairs(&container["Secrets"], "ValueFrom")),
        );
        assert!(previous.is_none(), "two services for node {name}");
    }
    out
}

#[test]
fn the_dev_stage_renders_the_same_files_every_time() {
    let first = render_stage(&committed(StageName::Dev));
    let again = render_stage(&committed(StageName::Dev));
    assert_eq!(first, again);
    assert_eq!(
        first.files.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "artifacts.yaml",
            "cluster.yaml",
            "desired-state.json",
            "foundation.yaml",
            "manifest.json",
            "secrets.yaml",
            "topics.yaml"
        ]
    );
}

#[test]
fn every_node_is_one_ecs_service_with_its_own_kraft_identity() {
    for stage in [StageName::Dev, StageName::Acc, StageName::Prod] {
        let model = committed(stage);
        let containers = node_containers(&model, &cluster_template(&model));
        let nodes: Vec<_> = model.cluster.brokers.iter().chain(&model.cluster.controllers).collect();
        assert_eq!(containers.len(), nodes.len(), "{stage}: one service per broker and controller");
        for node in nodes {
            let (env, _) = &containers[&node.name];
            assert_eq!(env["KAFKA_NODE_ID"], node.node_id.to_string(), "{stage} {}", node.name);
        }
        // acc and prod run dedicated controllers; dev runs combined nodes.
        assert_eq!(model.cluster.controllers.is_empty(), stage == StageName::Dev);
    }
}

#[test]
fn every_node_denies_by_default_under_the_standard_authorizer() {
    for stage in StageName::ALL {
        let model = committed(stage);
        for (node, (env, _)) in node_containers(&model, &cluster_template(&model)) {
            let context = format!("{stage} {node}");
            assert_eq!(
                env["KAFKA_AUTHORIZER_CLASS_NAME"], "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "{context}"
            );
            assert_eq!(env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"], "false", "{context}");
            assert!(
                env["KAFKA_SUPER_USERS"].as_str().unwrap().split(';').any(|u| u == "User:admin"),
                "{context}"
            );
            let protocols = env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].as_str().unwrap();
            assert!(!protocols.contains("PLAINTEXT"), "{context}: TLS everywhere, got {protocols}");
        }
    }
}

#[test]
fn brokers_require_client_certificates_on_the_mtls_listener() {
    let model = committed(StageName::Prod);
    assert!(model.cluster.mtls, "the committed stages offer mTLS");
    let containers = node_containers(&model, &cluster_template(&model));
    for broker in &model.cluster.brokers {
        let (env, _) = &containers[&broker.name];
        assert!(
            env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].as_str().unwrap().split(',').any(|p| p == "MTLS:SSL")
        );
        assert_eq!(env["KAFKA_LISTENER_NAME_MTLS_SSL_CLIENT_AUTH"], "required");
        assert_eq!(env["KAFKA_LISTENER_NAME_INTERNAL_SSL_CLIENT_AUTH"], "required");
    }
}

#[test]
fn without_mtls_a_broker_has_no_mtls_listener() {
    let env = Env::baseline().edit(
        "defaults.yaml",
        "  broker_heap_mib: 1024\n",
        "  broker_heap_mib: 1024\n  authentication:\n    mtls: false\n",
    );
    let model = env.model(StageName::Dev);
    let containers = node_containers(&model, &cluster_template(&model));
    let (broker, _) = &containers["b0"];
    assert!(!broker["KAFKA_LISTENERS"].as_str().unwrap().contains("MTLS"));
    assert!(!broker.contains_key("KAFKA_LISTENER_NAME_MTLS_SSL_CLIENT_AUTH"));
    assert_eq!(broker["KAFKA_PROCESS_ROLES"], "broker,controller", "dev runs combined");
}

#[test]
fn key_material_reaches_containers_as_ecs_secrets_never_as_environment() {
    for stage in StageName::ALL {
        let model = committed(stage);
        let root = model.parameter_root();
        let template = cluster_template(&model);
        for (id, task) in resources(&template, "AWS::ECS::TaskDefinition") {
            for container in task["Properties"]["ContainerDefinitions"].as_array().unwrap() {
                let env = pairs(&container["Environment"], "Value");
                for (name, value) in &env {
                    assert!(
                        !name.starts_with("TLS_")
                            && !name.contains("PASSWORD")
                            && !name.contains("PRIVATE_KEY"),
                        "{stage} {id}: {name} in Environment"
                    );
                    assert!(
                        !value.as_str().unwrap_or_default().contains("-----BEGIN"),
                        "{stage} {id}: PEM in {name}"
                    );
                }
                let secrets = pairs(&container["Secrets"], "ValueFrom");
                let key = secrets
                    .get("TLS_PRIVATE_KEY")
                    .unwrap_or_else(|| panic!("{stage} {id}: no TLS_PRIVATE_KEY secret"));
                let arn = key["Fn::Sub"].as_str().expect("an SSM parameter ARN");
                assert!(
                    arn.contains(&format!(":parameter{root}/")) && arn.ends_with("/private-key"),
                    "{stage} {id}: {arn}"
                );
            }
        }
    }
}
