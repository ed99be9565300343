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
        // Fn::If [pinned, the pin, the node's own task definition] (rolling updates).
        let task = service["Properties"]["TaskDefinition"]["Fn::If"][2]["Ref"]
            .as_str()
            .expect("TaskDefinition is the node's own when not pinned");
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
            "monitoring.yaml",
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
                // The registry's proxy has no environment of its own.
                let env = if container["Environment"].is_null() {
                    BTreeMap::new()
                } else {
                    pairs(&container["Environment"], "Value")
                };
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
                if container["Name"] == "metrics-agent" {
                    // The metrics sidecar gets no secret at all.
                    assert!(container["Secrets"].is_null(), "{stage} {id}: secrets in the metrics agent");
                    continue;
                }
                let secrets = pairs(&container["Secrets"], "ValueFrom");
                if container["Name"] == "kafka-debug" {
                    // The debug task logs in with its grant's SCRAM credential: the CA chain only.
                    assert_eq!(secrets.keys().collect::<Vec<_>>(), ["TLS_CHAIN"], "{stage} {id}");
                    continue;
                }
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

/// The task definition of a node.
fn task_definition<'a>(template: &'a Value, node: &str) -> &'a Value {
    let family = format!("-{node}");
    resources(template, "AWS::ECS::TaskDefinition")
        .into_values()
        .find(|t| t["Properties"]["Family"].as_str().is_some_and(|f| f.ends_with(&family)))
        .unwrap_or_else(|| panic!("no task definition for {node}"))
}

/// The launcher (container command) of a node's task definition.
fn launcher(template: &Value, node: &str) -> String {
    let container = &task_definition(template, node)["Properties"]["ContainerDefinitions"][0];
    assert_eq!(container["EntryPoint"], serde_json::json!(["bash", "-c"]));
    container["Command"][0].as_str().expect("the launcher script").to_string()
}

/// Whether the execution role of a node's task may read the SSM parameter whose ARN ends in `suffix`.
fn execution_role_reads(template: &Value, node: &str, suffix: &str) -> bool {
    let role_id = task_definition(template, node)["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
        .as_str()
        .expect("ExecutionRoleArn is a GetAtt");
    let role = &template["Resources"][role_id];
    role["Properties"]["Policies"].as_array().expect("inline policies").iter().any(|policy| {
        policy["PolicyDocument"]["Statement"].as_array().unwrap().iter().any(|s| {
            let actions = s["Action"].as_array().map(Vec::as_slice).unwrap_or_default();
            let resources = match &s["Resource"] {
                Value::Array(list) => list.clone(),
                one => vec![one.clone()],
            };
            s["Effect"] == "Allow"
                && actions.iter().any(|a| a == "ssm:GetParameters")
                && resources.iter().any(|r| r["Fn::Sub"].as_str().is_some_and(|r| r.ends_with(suffix)))
        })
    })
}

#[test]
fn controllers_format_their_storage_with_the_admin_credential_from_the_injected_secret() {
    use kafka_platform_core::render::kafka_config::{ADMIN_PASSWORD_ENV, format_storage_function};
    use kafka_platform_core::render::names;
    let step = format_storage_function();
    // The step formats an empty data directory only, with the admin's SCRAM-SHA-512 credential
    // taken from the injected secret, through an argument file (never a process argument).
    assert!(step.contains("kafka.tools.StorageTool format --ignore-formatted"), "{step}");
    assert!(step.contains("--add-scram 'SCRAM-SHA-512=[name=admin,password=%s]'"), "{step}");
    assert!(step.contains(&format!("\"${ADMIN_PASSWORD_ENV}\")")), "{step}");
    assert!(step.contains("kafka-run-class @<(printf "), "{step}");
    assert!(!step.contains("set -x") && !step.contains(&format!("echo \"${ADMIN_PASSWORD_ENV}")), "{step}");
    for stage in StageName::ALL {
        let model = committed(stage);
        let template = cluster_template(&model);
        let password = format!(":parameter{}", names::admin_password(&model));
        let containers = node_containers(&model, &template);
        for node in model.cluster.brokers.iter().chain(&model.cluster.controllers) {
            let context = format!("{stage} {}", node.name);
            let (env, secrets) = &containers[&node.name];
            let controller =
                env["KAFKA_PROCESS_ROLES"].as_str().unwrap().split(',').any(|r| r == "controller");
            let secret = secrets.get(ADMIN_PASSWORD_ENV).and_then(|s| s["Fn::Sub"].as_str());
            if controller {
                let arn = secret.unwrap_or_else(|| panic!("{context}: no {ADMIN_PASSWORD_ENV} secret"));
                assert!(arn.ends_with(&password), "{context}: {arn} is not the admin password parameter");
                assert!(
                    execution_role_reads(&template, &node.name, &password),
                    "{context}: the task execution role cannot read the admin password"
                );
            } else {
                assert!(secret.is_none(), "{context}: a broker-only node needs no admin password");
            }
            // Configure (the image writes kafka.properties), format, forget the password, run.
            let script = launcher(&template, &node.name);
            let order = [
                step.as_str(),
                "/etc/confluent/docker/configure\n",
                "format_storage /etc/kafka/kafka.properties\n",
                &format!("unset {ADMIN_PASSWORD_ENV}\n"),
                "exec /etc/confluent/docker/run\n",
            ];
            let mut at = 0;
            for part in order {
                let found = script[at..].find(part).unwrap_or_else(|| {
                    panic!("{context}: the launcher lacks, or misorders, {part:?}:\n{script}")
                });
                at += found + part.len();
            }
        }
    }
}

#[test]
fn rendered_settings_mean_to_the_confluent_8_image_what_they_say() {
    // The image's configure step (confluentinc/kafka-images, kafka/include/etc/confluent/docker,
    // 8.x) exits on an advertised listener of a controller-only node, demands JKS keystore files
    // when an advertised listener's name ends in SSL (`*"SSL://"*`), and a JAAS file in KAFKA_OPTS
    // when one contains `SASL_`; its name conversion (ub ConvertKey) turns only underscores between
    // two other characters into dots, so a one-character segment would be mistranslated.
    for stage in StageName::ALL {
        let model = committed(stage);
        for (node, (env, _)) in node_containers(&model, &cluster_template(&model)) {
            let context = format!("{stage} {node}");
            assert!(env.contains_key("CLUSTER_ID") && env.contains_key("KAFKA_PROCESS_ROLES"), "{context}");
            let broker = env["KAFKA_PROCESS_ROLES"].as_str().unwrap().split(',').any(|r| r == "broker");
            match env.get("KAFKA_ADVERTISED_LISTENERS").and_then(Value::as_str) {
                Some(advertised) => {
                    assert!(broker, "{context}: a controller-only node advertises listeners");
                    for listener in advertised.split(',') {
                        let name = listener.split("://").next().unwrap();
                        assert!(
                            !name.ends_with("SSL") && !name.contains("SASL_"),
                            "{context}: listener {name}"
                        );
                    }
                }
                None => assert!(!broker, "{context}: a broker must advertise its listeners"),
            }
            for name in env.keys().filter(|k| k.starts_with("KAFKA_")) {
                assert!(!name.starts_with("KAFKA_ZOOKEEPER"), "{context}: {name}: there is no ZooKeeper");
                assert!(
                    name.split('_').filter(|s| !s.is_empty()).all(|s| s.len() > 1),
                    "{context}: {name} has a one-character segment"
                );
            }
        }
    }
}

// The reconciler reconciles the stage's subjects in the same run: its custom resource (and the drift
// schedule's input) name the registry the cluster serves, and its security group may reach it.
#[test]
fn the_reconciler_reaches_the_registry_the_cluster_serves() {
    let model = committed(StageName::Dev);
    let rendered = render_stage(&model);
    let cluster = cluster_template(&model);
    let topics: Value = serde_saphyr::from_str(&rendered.files["topics.yaml"]).expect("topics.yaml is YAML");
    let served = cluster["Outputs"]["SchemaRegistryUrl"]["Value"].as_str().expect("the registry's URL");
    let custom = resources(&topics, "Custom::KafkaReconciler");
    assert_eq!(custom["Reconciliation"]["Properties"]["SchemaRegistryUrl"], served);
    let rule = resources(&topics, "AWS::Events::Rule");
    let input: Value = serde_json::from_str(
        rule.values().next().unwrap()["Properties"]["Targets"][0]["Input"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(input["SchemaRegistryUrl"], served);
    let port = served.rsplit(':').next().unwrap().parse::<u64>().unwrap();
    let group = &resources(&cluster, "AWS::EC2::SecurityGroup")["ReconcilerSecurityGroup"];
    let egress = group["Properties"]["SecurityGroupEgress"].as_array().unwrap();
    assert!(
        egress.iter().any(|e| e["FromPort"] == port && e["ToPort"] == port),
        "no egress to the registry's port {port}: {egress:?}"
    );
}
