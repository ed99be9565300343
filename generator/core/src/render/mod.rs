//! Model -> CloudFormation templates (pure). Output is deterministic, so committed templates diff
//! cleanly in review.

pub mod artifacts;
pub mod cfn;
pub mod cluster;
pub mod foundation;
pub mod kafka_config;
pub mod limits;
pub mod names;
pub mod secrets;
pub mod topics;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::desired::{desired_state, sha256_hex};
use crate::model::{CertificateAuthority, StageModel};
use cfn::Template;

/// The rendered files of one stage, by path relative to `templates/<stage>/`.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedStage {
    pub files: BTreeMap<String, String>,
}

/// File name of the desired-state artifact.
pub const DESIRED_STATE_FILE: &str = "desired-state.json";

/// The templates of a stage, by stack part, in deployment order.
pub fn templates(model: &StageModel) -> Vec<(&'static str, Template)> {
    let desired = desired_state(model).to_json();
    let sha = sha256_hex(&desired);
    let key = format!("{}{sha}.json", desired_state_prefix(model));
    vec![
        ("artifacts", artifacts::render(model)),
        ("foundation", foundation::render(model)),
        ("secrets", secrets::render(model)),
        ("cluster", cluster::render(model)),
        ("topics", topics::render(model, &key, &sha)),
    ]
}

fn desired_state_prefix(model: &StageModel) -> String {
    format!("desired-state/{}/", model.stage)
}

/// Renders every file of a stage: the templates, the desired state and the deploy manifest.
pub fn render_stage(model: &StageModel) -> RenderedStage {
    let mut files = BTreeMap::new();
    let templates = templates(model);
    for (part, template) in &templates {
        files.insert(format!("{part}.yaml"), template.to_yaml());
    }
    files.insert(DESIRED_STATE_FILE.to_string(), desired_state(model).to_json());
    let mut manifest =
        serde_json::to_string_pretty(&manifest(model, &templates)).expect("manifest serialises");
    manifest.push('\n');
    files.insert("manifest.json".to_string(), manifest);
    RenderedStage { files }
}

/// What `gen deploy` needs: stacks in order, their parameters, tags and stateful resources.
fn manifest(model: &StageModel, templates: &[(&str, Template)]) -> Value {
    let bucket = names::artifact_bucket(model);
    let stacks: Vec<Value> = templates
        .iter()
        .enumerate()
        .map(|(i, (part, template))| {
            let mut parameters = serde_json::Map::new();
            for (name, parameter) in &template.parameters {
                if parameter.kind.starts_with("AWS::SSM::Parameter::Value") {
                    continue; // resolved by CloudFormation from SSM
                }
                let value = if name == "ArtifactBucket" {
                    json!({ "value": bucket })
                } else if let Some(function) = names::LAMBDAS.iter().find(|f| names::code_key_parameter(f) == *name) {
                    json!({ "lambda_code": function })
                } else {
                    unreachable!("parameter {name} of {part} has no source")
                };
                parameters.insert(name.clone(), value);
            }
            json!({
                "name": names::stack_name(model, part),
                "template": format!("{part}.yaml"),
                "depends_on": if i == 0 { vec![] } else { vec![names::stack_name(model, templates[i - 1].0)] },
                "before_upload": *part == "artifacts",
                "parameters": parameters,
                "stateful_resources": stateful_resources(model, part),
            })
        })
        .collect();
    json!({
        "stage": model.stage.as_str(),
        "region": model.region,
        "account_id": model.account_id,
        "artifact_bucket": bucket,
        "tags": model.tags,
        "termination_protection": model.stage == crate::StageName::Prod,
        "stacks": stacks,
        "artifacts": [{ "file": DESIRED_STATE_FILE, "key_prefix": desired_state_prefix(model) }],
    })
}

/// Resources whose replacement or deletion would lose data or identity.
fn stateful_resources(model: &StageModel, part: &str) -> Vec<String> {
    match part {
        "artifacts" => vec!["ArtifactBucket".into()],
        "foundation" => {
            let mut ids = vec!["Key".to_string()];
            if let CertificateAuthority::Create { .. } = model.ca {
                ids.extend(
                    [
                        "CertificateAuthority",
                        "CertificateAuthorityCertificate",
                        "CertificateAuthorityActivation",
                    ]
                    .map(String::from),
                );
            }
            ids
        }
        "cluster" => model
            .cluster
            .brokers
            .iter()
            .chain(&model.cluster.controllers)
            .map(|n| cfn::logical_id(&[&n.name, "volume"]))
            .collect(),
        _ => Vec::new(),
    }
}
