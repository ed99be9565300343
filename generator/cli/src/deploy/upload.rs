//! Uploads to the artifact bucket by content hash: a key that exists already holds the
//! same bytes, so it is never written twice.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::error::DeployError;
use super::manifest::Upload;

/// What an upload pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UploadReport {
    /// Keys written now.
    pub uploaded: Vec<String>,
    /// Keys that were there already.
    pub present: Vec<String>,
}

/// Thin wrapper over the S3 client for one bucket.
pub struct Bucket {
    client: Client,
    name: String,
}

impl Bucket {
    /// The artifact bucket `name`.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Bucket { client, name: name.into() }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the bucket exists and is reachable.
    pub async fn exists(&self) -> Result<bool, DeployError> {
        match self.client.head_bucket().bucket(&self.name).send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(DeployError::aws(format!("HeadBucket {}", self.name), err)),
        }
    }

    /// True when the key exists.
    pub async fn has(&self, key: &str) -> Result<bool, DeployError> {
        match self.client.head_object().bucket(&self.name).key(key).send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(DeployError::aws(format!("HeadObject s3://{}/{key}", self.name), err)),
        }
    }

    /// Puts every file whose key is missing; with `dry_run` only finds out which those are.
    pub async fn sync(&self, files: &[Upload], dry_run: bool) -> Result<UploadReport, DeployError> {
        let mut report = UploadReport::default();
        for file in files {
            if self.has(&file.key).await? {
                report.present.push(file.key.clone());
                continue;
            }
            if !dry_run {
                self.put_file(file).await?;
            }
            report.uploaded.push(file.key.clone());
        }
        Ok(report)
    }

    /// Puts one file with its SHA-256, which S3 checks: a body that arrives changed is refused.
    ///
    /// The file goes in memory (Lambda zips under 8 MB, a jar) and is sent with a plain
    /// Content-Length. A body streamed from the file would get the SDK's aws-chunked encoding,
    /// where aws-sdk-s3 1.96 with aws-runtime 1.10 declares the length of 64 KiB chunks but sends
    /// one chunk: every file over 64 KiB left the server waiting for bytes that never came.
    pub async fn put_file(&self, file: &Upload) -> Result<(), DeployError> {
        let bytes = std::fs::read(&file.path)
            .map_err(|source| DeployError::Read { path: file.path.clone(), source })?;
        let sha256 = BASE64.encode(Sha256::digest(&bytes));
        self.client
            .put_object()
            .bucket(&self.name)
            .key(&file.key)
            .checksum_sha256(sha256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("PutObject s3://{}/{}", self.name, file.key), e))?;
        Ok(())
    }
}
