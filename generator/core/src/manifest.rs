//! The deploy contracts that `gen render` and `gen package` write and `gen deploy` reads: one
//! type per file, used by writer and reader alike, with the checks a deploy relies on (pure).
//!
//! - the stage manifest, `templates/<stage>/manifest.json` ([`Manifest`]);
//! - the Lambda package manifest, `<package dir>/manifest.json` ([`PackageManifest`]);
//! - the table of the platform's Lambdas ([`LAMBDAS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One Lambda function of the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lambda {
    /// Name in the templates, the package manifest and the zip's file name.
    pub name: &'static str,
    /// Cargo package (and binary) that builds it.
    pub package: &'static str,
}

/// Every Lambda the templates reference and `gen package` builds.
pub const LAMBDAS: &[Lambda] = &[
    Lambda { name: "secure-password", package: "secure-password-lambda" },
    Lambda { name: "private-certificate", package: "private-certificate-lambda" },
    Lambda { name: "reconciler", package: "reconciler-lambda" },
];

/// The Lambda package manifest of `gen package`: function name -> entry, sorted by name.
pub type PackageManifest = BTreeMap<String, LambdaPackage>;

/// One entry of the package manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaPackage {
    /// Zip file name, relative to the package manifest (or absolute).
    pub zip: String,
    /// Lower-case hex SHA-256 of the zip.
    pub sha256: String,
    /// Key in the artifact bucket: `lambdas/<name>-<sha256>.zip`.
    pub s3_key: String,
    /// Zip size in bytes.
    pub size: u64,
}

/// One stage as `gen render` declares it for deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Stage name (dev, test, acc, prod).
    pub stage: String,
    /// AWS region every stack of the stage lives in.
    pub region: String,
    /// The account the stage must be deployed to.
    pub account_id: String,
    /// Bucket for Lambda zips, artifacts and large templates (created by the before_upload stack).
    pub artifact_bucket: String,
    /// Tags put on every stack (CloudFormation passes them on to the resources).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Production stacks get termination protection and a stack policy.
    #[serde(default)]
    pub termination_protection: bool,
    /// Stacks in dependency order.
    pub stacks: Vec<StackDecl>,
    /// Files next to the templates that are uploaded by content hash.
    #[serde(default)]
    pub artifacts: Vec<ArtifactDecl>,
}

/// One CloudFormation stack of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackDecl {
    /// Stack name.
    pub name: String,
    /// Template file, relative to the stage directory.
    pub template: String,
    /// Stacks that must be deployed before this one.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The stack that creates the artifact bucket: deployed before anything is uploaded.
    #[serde(default)]
    pub before_upload: bool,
    /// Template parameters and where their values come from.
    #[serde(default)]
    pub parameters: BTreeMap<String, ParamSource>,
    /// Logical ids that must never be replaced or deleted in production.
    #[serde(default)]
    pub stateful_resources: Vec<String>,
    /// The node services `gen deploy` updates one at a time (the cluster stack only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<RollingDecl>,
}

/// The node services of a stack that an update must restart one at a time, and how: each node
/// service runs the task definition named by its pin parameter when that is not empty, and its
/// own rendered task definition otherwise (docs/deploy.md, "Rolling node updates").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingDecl {
    /// Logical id of the ECS cluster the node services run in.
    pub cluster: String,
    /// The nodes in the order Kafka wants them restarted: dedicated controllers, then brokers.
    pub nodes: Vec<RollingNode>,
    /// The internal mTLS bootstrap (`host:port`) the deploy's Kafka health gate connects to
    /// unless `--bootstrap` names another.
    pub kafka_bootstrap: String,
}

/// One node of a [`RollingDecl`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingNode {
    /// Node name (b0, c1, ...).
    pub name: String,
    /// Logical id of the node's ECS service.
    pub service: String,
    /// Logical id of the node's task definition.
    pub task_definition: String,
    /// The String parameter that pins the service to a task definition ARN ("" = its own).
    pub pin_parameter: String,
    /// KRaft node id (what the Kafka health gate knows the node by).
    pub node_id: i32,
    /// Serves clients (process role `broker`).
    pub broker: bool,
    /// Votes in the KRaft quorum (process role `controller`).
    pub controller: bool,
}

/// Where a parameter value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// A literal value (strings, numbers and booleans are passed as text).
    Value(serde_json::Value),
    /// The S3 key of the packaged Lambda of this name.
    LambdaCode(String),
    /// The S3 key of this artifact file of the stage.
    Artifact(String),
}

/// A file of the stage uploaded by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactDecl {
    /// File name, relative to the stage directory.
    pub file: String,
    /// Key prefix; the key is prefix + sha256 + extension.
    pub key_prefix: String,
}

impl Manifest {
    /// Checks what the deploy relies on: unique valid names, dependencies listed earlier,
    /// before_upload stacks that need no uploads, and parameters that name declared artifacts.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = BTreeSet::new();
        let artifacts: BTreeSet<&str> = self.artifacts.iter().map(|a| a.file.as_str()).collect();
        let before_upload: BTreeSet<&str> =
            self.stacks.iter().filter(|s| s.before_upload).map(|s| s.name.as_str()).collect();
        for stack in &self.stacks {
            if !valid_stack_name(&stack.name) {
                return Err(format!(
                    "stack name {:?} is not valid for CloudFormation (a letter, then letters, digits and hyphens, at most 128)",
                    stack.name
                ));
            }
            for dep in &stack.depends_on {
                if !seen.contains(dep.as_str()) {
                    return Err(format!(
                        "stack {} depends on {dep}, which is not listed before it (stacks must be in dependency order)",
                        stack.name
                    ));
                }
                if stack.before_upload && !before_upload.contains(dep.as_str()) {
                    return Err(format!(
                        "stack {} is deployed before the uploads but depends on {dep}, which is not",
                        stack.name
                    ));
                }
            }
            for (key, source) in &stack.parameters {
                match source {
                    ParamSource::Artifact(file) if !artifacts.contains(file.as_str()) => {
                        return Err(format!(
                            "parameter {key} of stack {} names artifact {file}, which is not in `artifacts`",
                            stack.name
                        ));
                    }
                    ParamSource::Artifact(_) | ParamSource::LambdaCode(_) if stack.before_upload => {
                        return Err(format!(
                            "parameter {key} of stack {} needs an uploaded file, but the stack is deployed before the uploads",
                            stack.name
                        ));
                    }
                    ParamSource::Value(v) if v.is_object() || v.is_array() || v.is_null() => {
                        return Err(format!(
                            "parameter {key} of stack {}: a value must be a string, number or boolean",
                            stack.name
                        ));
                    }
                    _ => {}
                }
            }
            if let Some(rolling) = &stack.rolling {
                let mut pins = BTreeSet::new();
                for node in &rolling.nodes {
                    if stack.parameters.contains_key(&node.pin_parameter) || !pins.insert(&node.pin_parameter)
                    {
                        return Err(format!(
                            "stack {}: the pin parameter {} of node {} is used twice (pins are set by the deploy alone)",
                            stack.name, node.pin_parameter, node.name
                        ));
                    }
                }
            }
            if !seen.insert(stack.name.as_str()) {
                return Err(format!("stack {} is listed twice", stack.name));
            }
        }
        Ok(())
    }

    /// The stacks to deploy, in order: the before_upload stacks first, then the rest, both in
    /// manifest order. `only` restricts the deploy to one stack (its dependencies must exist).
    pub fn deployment_order(&self, only: Option<&str>) -> Result<Vec<&StackDecl>, String> {
        if let Some(name) = only {
            return match self.stacks.iter().find(|s| s.name == name) {
                Some(stack) => Ok(vec![stack]),
                None => Err(format!(
                    "stage {} has no stack {name}; its stacks are: {}",
                    self.stage,
                    self.stacks.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            };
        }
        let (first, rest): (Vec<&StackDecl>, Vec<&StackDecl>) =
            self.stacks.iter().partition(|s| s.before_upload);
        Ok(first.into_iter().chain(rest).collect())
    }

    /// Lambda names referenced by the given stacks.
    pub fn lambdas_needed<'a>(stacks: &[&'a StackDecl]) -> BTreeSet<&'a str> {
        stacks
            .iter()
            .flat_map(|s| s.parameters.values())
            .filter_map(|p| match p {
                ParamSource::LambdaCode(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128.
fn valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= 128
}

/// The bucket key of an artifact: prefix + sha256 + the file's extension (with its dot).
pub fn artifact_key(decl: &ArtifactDecl, sha256: &str) -> String {
    let ext =
        Path::new(&decl.file).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    format!("{}{sha256}{ext}", decl.key_prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(json: serde_json::Value) -> Manifest {
        serde_json::from_value(json).expect("test manifest parses")
    }

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "stage": "dev", "region": "eu-west-1", "account_id": "123456789012",
            "artifact_bucket": "kafka-dev-artifacts-123456789012",
            "stacks": [
                {"name": "kafka-dev-artifacts", "template": "artifacts.yaml", "before_upload": true,
                 "parameters": {"BucketName": {"value": "b"}}},
                {"name": "kafka-dev-security", "template": "security.yaml", "depends_on": ["kafka-dev-artifacts"],
                 "parameters": {"Code": {"lambda_code": "secure-password"}, "Retention": {"value": 7}}},
                {"name": "kafka-dev-cluster", "template": "cluster.yaml",
                 "depends_on": ["kafka-dev-artifacts", "kafka-dev-security"],
                 "parameters": {"State": {"artifact": "desired-state.json"}}}
            ],
            "artifacts": [{"file": "desired-state.json", "key_prefix": "desired-state/dev/"}]
        })
    }

    #[test]
    fn a_well_formed_manifest_passes_the_checks() {
        assert_eq!(manifest(sample()).check(), Ok(()));
    }

    #[test]
    fn parameter_sources_parse_from_their_single_key() {
        let m = manifest(sample());
        let security = &m.stacks[1];
        assert_eq!(security.parameters["Code"], ParamSource::LambdaCode("secure-password".into()));
        assert_eq!(security.parameters["Retention"], ParamSource::Value(serde_json::json!(7)));
    }

    #[test]
    fn a_dependency_listed_later_is_rejected() {
        let mut json = sample();
        json["stacks"][1]["depends_on"] = serde_json::json!(["kafka-dev-cluster"]);
        let err = manifest(json).check().unwrap_err();
        assert!(err.contains("not listed before it"), "{err}");
    }

    #[test]
    fn an_unknown_artifact_is_rejected() {
        let mut json = sample();
        json["stacks"][2]["parameters"]["State"] = serde_json::json!({"artifact": "nope.json"});
        let err = manifest(json).check().unwrap_err();
        assert!(err.contains("nope.json"), "{err}");
    }

    #[test]
    fn a_before_upload_stack_cannot_use_uploaded_files() {
        let mut json = sample();
        json["stacks"][0]["parameters"]["Code"] = serde_json::json!({"lambda_code": "x"});
        let err = manifest(json).check().unwrap_err();
        assert!(err.contains("before the uploads"), "{err}");
    }

    #[test]
    fn duplicate_and_invalid_stack_names_are_rejected() {
        let mut json = sample();
        json["stacks"][2]["name"] = serde_json::json!("kafka-dev-security");
        json["stacks"][2]["depends_on"] = serde_json::json!([]);
        assert!(manifest(json).check().unwrap_err().contains("listed twice"));
        let mut json = sample();
        json["stacks"][2]["name"] = serde_json::json!("kafka_dev");
        assert!(manifest(json).check().unwrap_err().contains("not valid"));
    }

    #[test]
    fn a_pin_parameter_used_twice_or_set_by_the_manifest_is_rejected() {
        let node = |name: &str, pin: &str| {
            serde_json::json!({"name": name, "service": "S", "task_definition": "T", "pin_parameter": pin,
                               "node_id": 1, "broker": true, "controller": false})
        };
        let mut json = sample();
        json["stacks"][2]["rolling"] = serde_json::json!({"cluster": "Cluster", "kafka_bootstrap": "bootstrap:9094", "nodes": [node("b0", "B0Pin"), node("b1", "B1Pin")]});
        assert_eq!(manifest(json.clone()).check(), Ok(()));
        json["stacks"][2]["rolling"]["nodes"][1]["pin_parameter"] = "B0Pin".into();
        let err = manifest(json.clone()).check().unwrap_err();
        assert!(err.contains("B0Pin of node b1 is used twice"), "{err}");
        json["stacks"][2]["rolling"]["nodes"][1]["pin_parameter"] = "State".into();
        let err = manifest(json).check().unwrap_err();
        assert!(err.contains("State of node b1"), "{err}");
    }

    #[test]
    fn structured_values_are_rejected() {
        let mut json = sample();
        json["stacks"][1]["parameters"]["Retention"] = serde_json::json!({"value": [1]});
        assert!(manifest(json).check().unwrap_err().contains("string, number or boolean"));
    }

    #[test]
    fn before_upload_stacks_come_first_then_manifest_order() {
        let mut json = sample();
        // Move the artifacts stack to the end; it must still be deployed first.
        let stacks = json["stacks"].as_array_mut().unwrap();
        let first = stacks.remove(0);
        stacks.push(first);
        stacks[0]["depends_on"] = serde_json::json!([]);
        stacks[1]["depends_on"] = serde_json::json!([]);
        let m = manifest(json);
        let names: Vec<&str> = m.deployment_order(None).unwrap().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["kafka-dev-artifacts", "kafka-dev-security", "kafka-dev-cluster"]);
    }

    #[test]
    fn one_stack_can_be_selected_and_an_unknown_one_is_named() {
        let m = manifest(sample());
        let only = m.deployment_order(Some("kafka-dev-cluster")).unwrap();
        assert_eq!(only.len(), 1);
        let err = m.deployment_order(Some("kafka-dev-nope")).unwrap_err();
        assert!(err.contains("kafka-dev-artifacts, kafka-dev-security, kafka-dev-cluster"));
    }

    #[test]
    fn artifact_keys_are_prefix_hash_and_extension() {
        let decl =
            ArtifactDecl { file: "desired-state.json".into(), key_prefix: "desired-state/dev/".into() };
        assert_eq!(artifact_key(&decl, "ab12"), "desired-state/dev/ab12.json");
    }

    #[test]
    fn lambdas_needed_are_the_lambda_code_parameters() {
        let m = manifest(sample());
        assert_eq!(
            Manifest::lambdas_needed(&[&m.stacks[1], &m.stacks[2]]),
            BTreeSet::from(["secure-password"])
        );
    }

    #[test]
    fn a_package_entry_round_trips() {
        let entry = LambdaPackage {
            zip: "reconciler.zip".into(),
            sha256: "ab".into(),
            s3_key: "lambdas/reconciler-ab.zip".into(),
            size: 3,
        };
        let text = serde_json::to_string(&entry).unwrap();
        assert_eq!(serde_json::from_str::<LambdaPackage>(&text).unwrap(), entry);
    }
}
