//! Reading the stage manifest (`templates/<stage>/manifest.json`) and the Lambda package
//! manifest from disk, and the uploads they call for. The types and their pure checks are
//! `kafka_platform_core::manifest`, shared with the writers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kafka_platform_core::digest::sha256_hex;
pub use kafka_platform_core::manifest::{Manifest, StackDecl};
use kafka_platform_core::manifest::{PackageManifest, ParamSource, artifact_key};
use kafka_platform_core::render::metrics::EXPORTER_SHA256;
use kafka_platform_core::render::node_metrics::{EXPORTER_PACKAGE, exporter_key};

use super::error::DeployError;

/// A local file and the bucket key it must end up under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Upload {
    /// Key in the artifact bucket.
    pub key: String,
    /// Local file.
    pub path: PathBuf,
}

/// Reads and checks `<stage_dir>/manifest.json`.
pub fn load(stage_dir: &Path) -> Result<Manifest, DeployError> {
    let path = stage_dir.join("manifest.json");
    let text =
        std::fs::read_to_string(&path).map_err(|source| DeployError::Read { path: path.clone(), source })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|source| DeployError::Parse {
        path: path.clone(),
        what: "stage manifest",
        source,
    })?;
    manifest.check().map_err(|message| DeployError::Manifest { path, message })?;
    Ok(manifest)
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
            if let Some(jar) = exporter_upload(&packages, lambda_dir)? {
                uploads.files.push(jar);
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

/// The nodes' exporter jar when `gen package` put it in the package directory: uploaded under the
/// key the nodes read, and only with the pinned bytes (a node would refuse others anyway). Without
/// it the nodes run without metrics, which their alarms report.
fn exporter_upload(packages: &PackageManifest, dir: &Path) -> Result<Option<Upload>, DeployError> {
    let Some(jar) = packages.get(EXPORTER_PACKAGE) else { return Ok(None) };
    let path = dir.join(&jar.zip);
    let bytes = std::fs::read(&path).map_err(|source| DeployError::Read { path: path.clone(), source })?;
    if sha256_hex(&bytes) != EXPORTER_SHA256 || jar.s3_key != exporter_key() {
        return Err(DeployError::Package {
            dir: dir.to_path_buf(),
            message: format!(
                "{} is not the pinned JMX exporter (SHA-256 {EXPORTER_SHA256}, key {}); run gen package again",
                path.display(),
                exporter_key()
            ),
        });
    }
    Ok(Some(Upload { key: jar.s3_key.clone(), path }))
}

/// Reads `<dir>/manifest.json` of `gen package`.
fn load_packages(dir: &Path) -> Result<PackageManifest, DeployError> {
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
