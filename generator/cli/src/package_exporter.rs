//! The node's metrics javaagent as a package artifact: `gen package` fetches the pinned Prometheus
//! JMX exporter jar from a Maven repository (Maven Central by default), refuses any bytes whose
//! SHA-256 is not the pinned one, and records it in the package manifest under
//! [`EXPORTER_PACKAGE`] with the S3 key the nodes read at boot (render::node_metrics). `gen deploy`
//! uploads it with the Lambda zips, so no operator copies it by hand.

use std::path::Path;
use std::time::Duration;

use kafka_platform_core::digest::sha256_hex;
use kafka_platform_core::manifest::LambdaPackage;
use kafka_platform_core::render::metrics::{EXPORTER_SHA256, EXPORTER_VERSION};
use kafka_platform_core::render::node_metrics::{EXPORTER_PACKAGE, exporter_key};

use crate::package::PackageError;

/// Maven Central, where the exporter is published.
pub const MAVEN_CENTRAL: &str = "https://repo1.maven.org/maven2";
/// Longest a download may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The jar's file name in the package directory.
pub fn file_name() -> String {
    format!("jmx_prometheus_javaagent-{EXPORTER_VERSION}.jar")
}

/// The jar's URL under a Maven repository's base URL.
pub fn url(repository: &str) -> String {
    format!(
        "{}/io/prometheus/jmx/jmx_prometheus_javaagent/{EXPORTER_VERSION}/{}",
        repository.trim_end_matches('/'),
        file_name()
    )
}

/// Puts the pinned jar into `out` (downloading it unless a copy with the pinned hash is there) and
/// returns its manifest entry. Nothing is written unless the bytes have the pinned SHA-256.
pub fn fetch(out: &Path, repository: &str) -> Result<(String, LambdaPackage), PackageError> {
    let path = out.join(file_name());
    let bytes = match std::fs::read(&path) {
        Ok(bytes) if sha256_hex(&bytes) == EXPORTER_SHA256 => bytes,
        _ => {
            let url = url(repository);
            let bytes = download(&url)?;
            let found = sha256_hex(&bytes);
            if found != EXPORTER_SHA256 {
                return Err(PackageError::Build(format!(
                    "{url}: SHA-256 {found} is not the pinned {EXPORTER_SHA256} of the JMX exporter {EXPORTER_VERSION}; nothing written"
                )));
            }
            crate::package::write_atomically(&path, &bytes)?;
            bytes
        }
    };
    let entry = LambdaPackage {
        zip: file_name(),
        sha256: EXPORTER_SHA256.to_string(),
        s3_key: exporter_key(),
        size: bytes.len() as u64,
    };
    Ok((EXPORTER_PACKAGE.to_string(), entry))
}

fn download(url: &str) -> Result<Vec<u8>, PackageError> {
    let failed = |e: &dyn std::fmt::Display| PackageError::Build(format!("downloading {url}: {e}"));
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| failed(&e))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(|e| failed(&e))?;
        let response = client.get(url).send().await.map_err(|e| failed(&e))?;
        if !response.status().is_success() {
            return Err(failed(&format!("HTTP {}", response.status())));
        }
        Ok(response.bytes().await.map_err(|e| failed(&e))?.to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_maven_layout_of_the_pinned_version() {
        assert_eq!(
            url("https://repo1.maven.org/maven2/"),
            format!(
                "https://repo1.maven.org/maven2/io/prometheus/jmx/jmx_prometheus_javaagent/{v}/jmx_prometheus_javaagent-{v}.jar",
                v = EXPORTER_VERSION
            )
        );
    }

    #[test]
    fn a_copy_with_the_pinned_hash_is_reused_and_other_bytes_are_never_kept() {
        let dir = std::env::temp_dir().join(format!("gen-exporter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Not the pinned bytes, and no repository to fetch from: an error naming the URL, and the
        // stale file is not taken for the jar.
        std::fs::write(dir.join(file_name()), b"not the jar").unwrap();
        let e = fetch(&dir, "http://127.0.0.1:9").unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:9/io/prometheus/jmx"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
