//! The stage manifest written by `gen render` (templates/<stage>/manifest.json) and the
//! Lambda package manifest written by `gen package`, with the checks a deploy relies on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::DeployError;

/// One stage as `gen render` declares it for deployment.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
}

/// Where a parameter value comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
pub struct ArtifactDecl {
    /// File name, relative to the stage directory.
    pub file: String,
    /// Key prefix; the key is prefix + sha256 + extension.
    pub key_prefix: String,
}

/// One entry of the package manifest (`gen package`).
#[derive(Debug, Clone, Deserialize)]
pub struct LambdaPackage {
    /// Zip file, relative to the package directory (or absolute).
    pub zip: String,
    /// Hex SHA-256 of the zip.
    pub sha256: String,
    /// Key in the artifact bucket.
    pub s3_key: String,
}

/// A local file and the bucket key it must end up under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Upload {
    /// Key in the artifact bucket.
    pub key: String,
    /// Local file.
    pub path: PathBuf,
}

impl Manifest {
    /// Reads and checks `<stage_dir>/manifest.json`.
    pub fn load(stage_dir: &Path) -> Result<Manifest, DeployError> {
        let path = stage_dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|source| DeployError::Read { path: path.clone(), source })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|source| DeployError::Parse {
            path: path.clone(),
            what: "stage manifest",
            source,
        })?;
        manifest.check().map_err(|message| DeployError::Manifest { path, message })?;
        Ok(manifest)
    }

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

/// Hex SHA-256 of a byte string.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bucket key of an artifact: prefix + sha256 + the file's extension (with its dot).
pub fn artifact_key(decl: &ArtifactDecl, sha256: &str) -> String {
    let ext =
        Path::new(&decl.file).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    format!("{}{sha256}{ext}", decl.key_prefix)
}

/// What the deploy knows about the files it uploads: every key a parameter can refer to.
#[derive(Debug, Default)]
pub struct Uploads {
    /// Artifact file name -> key.
    pub artifact_keys: BTreeMap<String, String>,
    /// Lambda name -> key.
    pub lambda_keys: BTreeMap<String, String>,
    /// Everything to put in the bucket, sorted by key, without duplicates.
    pub files: Vec<Upload>,
}

impl Uploads {
    /// Hashes the stage's artifacts and reads the package manifest for the Lambdas needed.
    /// Zips are checked against their recorded hash so that a stale package is caught here.
    pub fn prepare(
        manifest: &Manifest,
        stage_dir: &Path,
        lambda_dir: &Path,
        lambdas: &BTreeSet<&str>,
    ) -> Result<Uploads, DeployError> {
        let mut uploads = Uploads::default();
        for decl in &manifest.artifacts {
            let path = stage_dir.join(&decl.file);
            let bytes =
                std::fs::read(&path).map_err(|source| DeployError::Read { path: path.clone(), source })?;
            let key = artifact_key(decl, &sha256_hex(&bytes));
            uploads.artifact_keys.insert(decl.file.clone(), key.clone());
            uploads.files.push(Upload { key, path });
        }
        if !lambdas.is_empty() {
            let packages = load_packages(lambda_dir)?;
            for name in lambdas {
                let package = packages.get(*name).ok_or_else(|| DeployError::Package {
                    dir: lambda_dir.to_path_buf(),
                    message: format!("the package manifest has no Lambda {name}"),
                })?;
                let path = lambda_dir.join(&package.zip);
                let bytes = std::fs::read(&path)
                    .map_err(|source| DeployError::Read { path: path.clone(), source })?;
                if sha256_hex(&bytes) != package.sha256.to_ascii_lowercase() {
                    return Err(DeployError::Package {
                        dir: lambda_dir.to_path_buf(),
                        message: format!(
                            "{} does not match the sha256 in the package manifest",
                            path.display()
                        ),
                    });
                }
                uploads.lambda_keys.insert(name.to_string(), package.s3_key.clone());
                uploads.files.push(Upload { key: package.s3_key.clone(), path });
            }
        }
        uploads.files.sort();
        uploads.files.dedup_by(|a, b| a.key == b.key);
        Ok(uploads)
    }

    /// The CloudFormation parameter values of a stack, in key order.
    pub fn parameters(&self, stack: &StackDecl) -> Result<Vec<(String, String)>, String> {
        stack
            .parameters
            .iter()
            .map(|(key, source)| {
                let value = match source {
                    ParamSource::Value(serde_json::Value::String(s)) => s.clone(),
                    ParamSource::Value(other) => other.to_string(),
                    ParamSource::LambdaCode(name) => self
                        .lambda_keys
                        .get(name)
                        .cloned()
                        .ok_or_else(|| format!("Lambda {name} was not prepared"))?,
                    ParamSource::Artifact(file) => self
                        .artifact_keys
                        .get(file)
                        .cloned()
                        .ok_or_else(|| format!("artifact {file} was not prepared"))?,
                };
                Ok((key.clone(), value))
            })
            .collect()
    }
}

/// Reads `<dir>/manifest.json` of `gen package`.
fn load_packages(dir: &Path) -> Result<BTreeMap<String, LambdaPackage>, DeployError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| DeployError::Package {
        dir: dir.to_path_buf(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    serde_json::from_str(&text).map_err(|source| DeployError::Parse {
        path,
        what: "Lambda package manifest",
        source,
    })
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
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn parameters_resolve_literals_lambda_keys_and_artifact_keys() {
        let m = manifest(sample());
        let mut uploads = Uploads::default();
        uploads.lambda_keys.insert("secure-password".into(), "lambdas/secure-password-aa.zip".into());
        uploads.artifact_keys.insert("desired-state.json".into(), "desired-state/dev/bb.json".into());
        assert_eq!(
            uploads.parameters(&m.stacks[1]).unwrap(),
            vec![
                ("Code".to_string(), "lambdas/secure-password-aa.zip".to_string()),
                ("Retention".to_string(), "7".to_string()),
            ]
        );
        assert_eq!(
            uploads.parameters(&m.stacks[2]).unwrap(),
            vec![("State".to_string(), "desired-state/dev/bb.json".to_string())]
        );
        assert_eq!(Manifest::lambdas_needed(&[&m.stacks[1], &m.stacks[2]]).len(), 1);
    }

    #[test]
    fn prepare_checks_zips_against_the_package_manifest() {
        let dir = std::env::temp_dir().join(format!("gen-deploy-prepare-{}", std::process::id()));
        let stage = dir.join("stage");
        let lambdas = dir.join("lambda");
        std::fs::create_dir_all(&stage).unwrap();
        std::fs::create_dir_all(&lambdas).unwrap();
        std::fs::write(stage.join("desired-state.json"), b"{}").unwrap();
        std::fs::write(lambdas.join("secure-password.zip"), b"zip").unwrap();
        let good = sha256_hex(b"zip");
        let write_packages = |sha: &str| {
            std::fs::write(
                lambdas.join("manifest.json"),
                serde_json::json!({"secure-password": {"zip": "secure-password.zip", "sha256": sha,
                    "s3_key": format!("lambdas/secure-password-{sha}.zip"), "size": 3}})
                .to_string(),
            )
            .unwrap();
        };
        let m = manifest(sample());
        let needed = BTreeSet::from(["secure-password"]);

        write_packages(&good);
        let uploads = Uploads::prepare(&m, &stage, &lambdas, &needed).unwrap();
        assert_eq!(uploads.files.len(), 2);
        assert_eq!(
            uploads.artifact_keys["desired-state.json"],
            format!("desired-state/dev/{}.json", sha256_hex(b"{}"))
        );

        write_packages(&"0".repeat(64));
        let err = Uploads::prepare(&m, &stage, &lambdas, &needed).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
