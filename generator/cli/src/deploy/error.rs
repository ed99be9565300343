//! The one error type of `gen deploy`.

use std::path::PathBuf;

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

/// Everything that can stop a deploy before or between stacks.
///
/// A stack that fails while CloudFormation executes it is not an error of this type: the
/// deploy prints the failure summary and returns [`super::Outcome::Failed`] instead.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The environment configures the AWS SDK in a way it cannot use.
    #[error("{0}")]
    Environment(String),
    /// A file the deploy needs could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON manifest is malformed.
    #[error("{path} is not a valid {what}: {source}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The stage manifest contradicts itself (unknown dependency, wrong order, ...).
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    /// The Lambda packages do not match what the stage needs.
    #[error("{message}\n  hint: run `gen package` to build the Lambda zips (looked in {dir})")]
    Package { dir: PathBuf, message: String },
    /// The credentials belong to another account than the stage declares.
    #[error(
        "the AWS credentials belong to account {actual}, but stage {stage} is declared for account {expected}\n  hint: choose the right profile (AWS_PROFILE) or credentials for this stage"
    )]
    WrongAccount { stage: String, expected: String, actual: String },
    /// The stack is in a state from which no change set can be made.
    #[error("stack {stack} is {status}: {hint}")]
    StackState { stack: String, status: String, hint: String },
    /// CloudFormation refused to create a change set.
    #[error("stack {stack}: CloudFormation rejected the change set: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    /// Confirmation is required but cannot be asked for.
    #[error("{0}")]
    NeedsConfirmation(String),
    /// The Kafka health gate of a rolling node update refused or could not connect.
    #[error("{0}")]
    KafkaGate(String),
    /// An AWS call failed.
    #[error("{operation} failed: {message}")]
    Aws { operation: String, message: String },
    /// Writing to the terminal failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl DeployError {
    /// The same error with secret values masked in the texts that come from AWS.
    pub(crate) fn redacted(self, redactor: &super::redact::Redactor) -> Self {
        match self {
            DeployError::ChangeSetFailed { stack, reason } => {
                DeployError::ChangeSetFailed { stack, reason: redactor.redact(&reason) }
            }
            DeployError::Aws { operation, message } => {
                DeployError::Aws { operation, message: redactor.redact(&message) }
            }
            other => other,
        }
    }

    /// Wraps an AWS SDK error with the operation that caused it, keeping the service's message.
    pub(crate) fn aws<E>(operation: impl Into<String>, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        DeployError::Aws { operation: operation.into(), message: aws_message(&err) }
    }
}

/// The most useful text of an SDK error: the service's code and message when there is one,
/// the HTTP status when the endpoint answered without an AWS error (an emulator that lacks the
/// operation), otherwise the chain of causes (connection refused, timeout, ...).
pub(crate) fn aws_message<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message.to_string(),
        (Some(code), None) => code.to_string(),
        (None, None) => match err.raw_response() {
            Some(raw) => format!(
                "the endpoint answered HTTP {} without an AWS error (does it support this operation?): {}",
                raw.status().as_u16(),
                error_chain(err)
            ),
            None => error_chain(err),
        },
    }
}

/// The Display of an error and all its sources, without the SDK's empty wrappers.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.retain(|p| p != "service error" && p != "dispatch failure" && p != "io error");
    if parts.is_empty() { "unknown error".to_string() } else { parts.join(": ") }
}
