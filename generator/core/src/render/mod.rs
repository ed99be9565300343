//! Model -> CloudFormation templates (pure). Output is deterministic, so committed templates diff
//! cleanly in review.

pub mod artifacts;
pub mod cfn;
pub mod cluster;
pub mod confluent;
pub mod debug_task;
pub mod endpoints;
pub mod foundation;
pub mod kafka_config;
pub mod limits;
pub mod metrics;
pub mod monitoring;
pub mod names;
pub mod node_metrics;
pub mod readiness;
pub mod registry_proxy;
pub mod renewal;
pub mod rollover;
pub mod secrets;
pub mod topics;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::desired::desired_state;
use crate::digest::sha256_hex;
use crate::manifest::{ArtifactDecl, LAMBDAS, Manifest, ParamSource, StackDecl};
use crate::model::{CertificateAuthority, StageModel};
use cfn::Template;

/// The rendered files of one stage, by path relative to `templates/<stage>/`, and the size of each
/// stack's template (what the CloudFormation limits look at).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedStage {
    pub files: BTreeMap<String, String>,
    pub stacks: Vec<StackSize>,
}

/// What `limits` checks of one rendered template, counted while rendering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSize {
    pub part: &'static str,
    pub resources: usize,
    pub parameters: usize,
    pub outputs: usize,
    /// Length of the YAML body.
    pub bytes: usize,
}

/// File name of the desired-state artifact.
pub const DESIRED_STATE_FILE: &str = "desired-state.json";

/// The templates of a stage, by stack part, in deployment order.
pub fn templates(model: &StageModel) -> Vec<(&'static str, Template)> {
    let desired = desired_state(model).to_json();
    templates_with(model, &sha256_hex(&desired))
}

/// The templates, given the hash of the stage's serialised desired state (built once per stage).
fn templates_with(model: &StageModel, desired_sha: &str) -> Vec<(&'static str, Template)> {
    let key = format!("{}{desired_sha}.json", desired_state_prefix(model));
    vec![
        ("artifacts", artifacts::render(model)),
        ("foundation", foundation::render(model)),
        ("secrets", secrets::render(model)),
        ("cluster", cluster::render(model)),
        ("topics", topics::render(model, &key, desired_sha)),
        ("monitoring", monitoring::render(model)),
    ]
}

fn desired_state_prefix(model: &StageModel) -> String {
    format!("desired-state/{}/", model.stage)
}

/// Renders every file of a stage: the templates, the desired state and the deploy manifest. The
/// desired state is built, serialised and hashed once; each template is serialised once.
pub fn render_stage(model: &StageModel) -> RenderedStage {
    let desired = desired_state(model).to_json();
    let templates = templates_with(model, &sha256_hex(&desired));
    let mut files = BTreeMap::new();
    let mut stacks = Vec::with_capacity(templates.len());
    for (part, template) in &templates {
        let yaml = template.to_yaml();
        stacks.push(StackSize {
            part,
            resources: template.resources.len(),
            parameters: template.parameters.len(),
            outputs: template.outputs.len(),
            bytes: yaml.len(),
        });
        files.insert(format!("{part}.yaml"), yaml);
    }
    files.insert(DESIRED_STATE_FILE.to_string(), desired);
    // Through a JSON value, whose maps are sorted, like every other rendered file.
    let manifest = serde_json::to_value(manifest(model, &templates)).expect("manifest serialises");
    let mut manifest = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    manifest.push('\n');
    files.insert("manifest.json".to_string(), manifest);
    RenderedStage { files, stacks }
}

/// What `gen deploy` needs: stacks in order, their parameters, tags and stateful resources.
fn manifest(model: &StageModel, templates: &[(&str, Template)]) -> Manifest {
    let bucket = names::artifact_bucket(model);
    let stacks = templates
        .iter()
        .enumerate()
        .map(|(i, (part, template))| {
            let rolling = (*part == "cluster").then(|| cluster::rolling(model));
            let pins = rolling.as_ref().map(|r| r.nodes.as_slice()).unwrap_or_default();
            let parameters = template
                .parameters
                .iter()
                // SSM-typed parameters are resolved by CloudFormation itself; pins are set by the deploy.
                .filter(|(_, parameter)| !parameter.kind.starts_with("AWS::SSM::Parameter::Value"))
                .filter(|(name, _)| !pins.iter().any(|n| n.pin_parameter == **name))
                .map(|(name, _)| {
                    let source = if name == "ArtifactBucket" {
                        ParamSource::Value(Value::String(bucket.clone()))
                    } else if let Some(lambda) =
                        LAMBDAS.iter().find(|l| names::code_key_parameter(l.name) == *name)
                    {
                        ParamSource::LambdaCode(lambda.name.to_string())
                    } else {
                        unreachable!("parameter {name} of {part} has no source")
                    };
                    (name.clone(), source)
                })
                .collect();
            StackDecl {
                name: names::stack_name(model, part),
                template: format!("{part}.yaml"),
                depends_on: if i == 0 { vec![] } else { vec![names::stack_name(model, templates[i - 1].0)] },
                before_upload: *part == "artifacts",
                parameters,
                stateful_resources: stateful_resources(model, part),
                rolling,
            }
        })
        .collect();
    Manifest {
        stage: model.stage.as_str().to_string(),
        region: model.region.clone(),
        account_id: model.account_id.clone(),
        artifact_bucket: bucket,
        tags: model.tags.clone(),
        termination_protection: model.production_like(),
        stacks,
        artifacts: vec![ArtifactDecl {
            file: DESIRED_STATE_FILE.to_string(),
            key_prefix: desired_state_prefix(model),
        }],
    }
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
            if model.ca.rollover().is_some() {
                ids.extend(crate::render::rollover::STATEFUL.map(String::from));
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
