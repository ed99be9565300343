//! The Schema Registry's authenticating proxy: an nginx container in each registry task, in front of
//! the registry, which listens on the task's loopback only (awsvpc: the task's containers share it).
//!
//! nginx terminates TLS with the registry's certificate and asks every request for basic auth
//! against a user file built at start from two generated passwords (SSM SecureStrings): the
//! platform's reconciler, the only user that writes, and the teams' read-only user. Confluent's
//! community registry cannot tell writers from readers itself (docs/reconcile.md).

use serde_json::{Value, json};

use crate::model::{StageModel, ports};
use crate::render::cfn::{r, sub};
use crate::render::kafka_config::script;
use crate::render::names;
use crate::render::secrets::schema_registry_dns_name;

/// Port of the registry itself, on the task's loopback.
pub const REGISTRY_PORT: u32 = 8082;
/// The proxy's working directory: TLS material, user file, configuration, temporary files.
pub const STATE_DIR: &str = "/tmp/registry-proxy";
/// The official nginx images run their worker as this user; the whole proxy runs as it.
const USER: &str = "nginx";

/// The proxy's nginx configuration as rendered for the task.
pub fn nginx_config(model: &StageModel) -> String {
    include_str!("scripts/registry-proxy.conf")
        .replace("@LISTEN@", &ports::SCHEMA_REGISTRY.to_string())
        .replace("@UPSTREAM@", &format!("127.0.0.1:{REGISTRY_PORT}"))
        .replace("@UPSTREAM_SCHEME@", "https")
        .replace("@UPSTREAM_PATH@", "")
        .replace("@SERVER_NAME@", &schema_registry_dns_name(model))
        .replace("@WRITER@", names::SCHEMA_REGISTRY_WRITER)
        .replace("@STATE_DIR@", STATE_DIR)
}

/// The container's start script (`scripts/registry-proxy.sh` with the configuration inside).
pub fn start_script(model: &StageModel) -> String {
    script(include_str!("scripts/registry-proxy.sh"))
        .replace("@NGINX_CONF@\n", &nginx_config(model))
        .replace("@STATE_DIR@", STATE_DIR)
        .replace("@WRITER@", names::SCHEMA_REGISTRY_WRITER)
        .replace("@READER@", names::SCHEMA_REGISTRY_READER)
}

/// The SSM parameters the proxy reads: the registry's certificate and the two passwords.
pub fn parameters(model: &StageModel) -> Vec<String> {
    let tls = names::tls_prefix(model, "schema-registry");
    let mut p: Vec<String> =
        ["certificate", "chain", "private-key"].iter().map(|s| format!("{tls}/{s}")).collect();
    p.extend(
        [names::SCHEMA_REGISTRY_WRITER, names::SCHEMA_REGISTRY_READER]
            .iter()
            .map(|u| names::schema_registry_password(model, u)),
    );
    p
}

/// The proxy's container definition.
pub fn container(model: &StageModel, image: &str, log_group: &str) -> Value {
    let tls = names::tls_prefix(model, "schema-registry");
    let arn = |p: String| {
        sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{p}"))
    };
    let mut secrets: Vec<Value> = ["certificate", "chain", "private-key"]
        .iter()
        .map(|part| {
            json!({ "Name": format!("TLS_{}", part.replace('-', "_").to_uppercase()), "ValueFrom": arn(format!("{tls}/{part}")) })
        })
        .collect();
    for (name, user) in [
        ("WRITER_PASSWORD", names::SCHEMA_REGISTRY_WRITER),
        ("READER_PASSWORD", names::SCHEMA_REGISTRY_READER),
    ] {
        secrets.push(json!({ "Name": name, "ValueFrom": arn(names::schema_registry_password(model, user)) }));
    }
    json!({
        "Name": "registry-proxy",
        "Image": image,
        "Essential": true,
        "User": USER,
        "EntryPoint": ["sh", "-c"],
        "Command": [start_script(model)],
        "Secrets": secrets,
        "PortMappings": [{ "ContainerPort": ports::SCHEMA_REGISTRY, "Protocol": "tcp" }],
        "LogConfiguration": { "LogDriver": "awslogs", "Options": {
            "awslogs-group": log_group, "awslogs-region": r("AWS::Region"), "awslogs-stream-prefix": "registry-proxy"
        }},
    })
}
