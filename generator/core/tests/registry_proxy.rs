//! The Schema Registry behind its authenticating proxy, as rendered for the committed prod stage:
//! the registry on the task's loopback only, the proxy with exactly its secrets, the passwords and
//! who may read them. tests/tests/schema_registry_auth.rs runs the same proxy against a registry.

mod support;

use std::collections::BTreeSet;

use kafka_platform_core::render::names;
use kafka_platform_core::render::render_stage;
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use serde_json::{Value, json};
use support::*;

fn prod() -> StageModel {
    let (mut models, findings) = load_and_resolve(committed_environments(), &[StageName::Prod]);
    models.remove(&StageName::Prod).unwrap_or_else(|| panic!("prod has errors:\n{}", show(&findings)))
}

fn template(model: &StageModel, file: &str) -> Value {
    serde_saphyr::from_str(&render_stage(model).files[file]).expect("YAML")
}

fn arn(parameter: &str) -> Value {
    json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}") })
}

#[test]
fn the_registry_answers_only_through_its_proxy() {
    let model = prod();
    let cluster = template(&model, "cluster.yaml");
    let resources = &cluster["Resources"];
    let containers = resources["SchemaRegistryTaskDefinition"]["Properties"]["ContainerDefinitions"]
        .as_array()
        .expect("containers");
    let names: Vec<&str> = containers.iter().map(|c| c["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["schema-registry", "registry-proxy"]);
    let (registry, proxy) = (&containers[0], &containers[1]);

    // The registry: loopback only, no port of the task; it advertises the proxy's port.
    let env: Vec<(&str, &str)> = registry["Environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["Name"].as_str().unwrap(), e["Value"].as_str().unwrap()))
        .collect();
    assert!(env.contains(&("SCHEMA_REGISTRY_LISTENERS", "https://127.0.0.1:8082")), "{env:?}");
    assert!(env.contains(&("SCHEMA_REGISTRY_HOST_PORT", "8081")), "{env:?}");
    assert!(
        !env.iter().any(|(k, _)| *k == "SCHEMA_REGISTRY_HOST_NAME"),
        "set at start from the task's address"
    );
    assert!(registry.get("PortMappings").is_none(), "{registry:#}");
    assert!(registry["Command"][0].as_str().unwrap().contains("ECS_CONTAINER_METADATA_URI_V4"));

    // The proxy: the service's port, an unprivileged user, and its configuration inside.
    assert_eq!(proxy["PortMappings"], json!([{ "ContainerPort": 8081, "Protocol": "tcp" }]));
    assert_eq!(proxy["User"], "nginx");
    assert_eq!(proxy["Image"], "nginx:1.28.0-alpine");
    let script = proxy["Command"][0].as_str().unwrap();
    for needle in [
        "listen 8081 ssl;",
        "auth_basic_user_file /tmp/registry-proxy/users;",
        "\"0:reconciler\" 0;",
        "server 127.0.0.1:8082;",
        "proxy_ssl_verify on;",
        &format!("proxy_ssl_name schema-registry.{};", model.dns_zone),
        "unset TLS_PRIVATE_KEY TLS_CERTIFICATE TLS_CHAIN WRITER_PASSWORD READER_PASSWORD",
    ] {
        assert!(script.contains(needle), "{needle} in {script}");
    }
    assert!(!script.contains('@'), "no placeholder left: {script}");

    // Each container reads its own secrets; the execution role reads exactly those.
    let value_from = |c: &Value| -> BTreeSet<String> {
        c["Secrets"].as_array().unwrap().iter().map(|s| s["ValueFrom"].to_string()).collect()
    };
    let tls = names::tls_prefix(&model, "schema-registry");
    let proxy_secrets: BTreeSet<String> = ["certificate", "chain", "private-key"]
        .iter()
        .map(|p| format!("{tls}/{p}"))
        .chain(
            [names::SCHEMA_REGISTRY_WRITER, names::SCHEMA_REGISTRY_READER]
                .map(|u| names::schema_registry_password(&model, u)),
        )
        .map(|p| arn(&p).to_string())
        .collect();
    assert_eq!(value_from(proxy), proxy_secrets);
    assert!(value_from(registry).is_subset(&proxy_secrets));
    let role = &resources["SchemaRegistryExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        [0];
    let readable: BTreeSet<String> =
        role["Resource"].as_array().unwrap().iter().map(Value::to_string).collect();
    assert_eq!(readable, proxy_secrets);

    // Followers forward writes to the leader's proxy.
    let egress =
        resources["SchemaRegistrySecurityGroup"]["Properties"]["SecurityGroupEgress"].as_array().unwrap();
    assert!(egress.iter().any(|e| e["FromPort"] == 8081), "{egress:?}");
}

#[test]
fn the_reconciler_alone_reads_the_writer_password_and_teams_get_the_reader_policy() {
    let model = prod();
    let (writer, reader) = (
        names::schema_registry_password(&model, names::SCHEMA_REGISTRY_WRITER),
        names::schema_registry_password(&model, names::SCHEMA_REGISTRY_READER),
    );
    let secrets = template(&model, "secrets.yaml");
    let r = &secrets["Resources"];
    assert_eq!(r["SchemaRegistryWriterPassword"]["Properties"]["ParameterName"], json!(writer));
    assert_eq!(r["SchemaRegistryReaderPassword"]["Properties"]["ParameterName"], json!(reader));
    for id in ["SchemaRegistryWriterPassword", "SchemaRegistryReaderPassword"] {
        let exclude = r[id]["Properties"]["ExcludeCharacters"].as_str().unwrap();
        assert!(exclude.contains(':'), "':' ends a password in nginx's user file: {exclude}");
        assert_eq!(r[id]["DeletionPolicy"], "Retain", "prod keeps its passwords");
    }
    let policy = &r["SchemaRegistryReaderReadPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Resource"], arn(&reader));

    let topics = template(&model, "topics.yaml");
    let reconciliation = &topics["Resources"]["Reconciliation"]["Properties"];
    assert_eq!(reconciliation["SchemaRegistryUser"], names::SCHEMA_REGISTRY_WRITER);
    assert_eq!(reconciliation["SchemaRegistryPasswordParameter"], json!(writer));
    let statements =
        topics["Resources"]["ReconcilerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    let list = |v: &Value| -> Vec<Value> { v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) };
    let readable: Vec<Value> = statements
        .iter()
        .filter(|s| list(&s["Action"]).contains(&json!("ssm:GetParameter")))
        .flat_map(|s| list(&s["Resource"]))
        .collect();
    assert!(readable.contains(&arn(&writer)), "{readable:?}");
    assert!(!readable.contains(&arn(&reader)), "the reconciler writes; it needs no reader password");
}
