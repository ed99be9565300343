//! The one error type of the crate.

/// What went wrong while serving a custom-resource request.
///
/// The `Display` text becomes the `Reason` that CloudFormation shows to a person, so every
/// variant says what to fix. None of them may ever carry a secret value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource property is missing, unknown or has a bad value.
    #[error("property {name}: {problem}")]
    Property {
        /// The property name as written in the template.
        name: String,
        /// What is wrong and what is accepted.
        problem: String,
    },
    /// The event is not a CloudFormation custom-resource request.
    #[error("malformed custom-resource event: {0}")]
    MalformedEvent(String),
    /// A call to an AWS service failed.
    #[error("{action} failed: {detail}")]
    Aws {
        /// The operation and its subject, e.g. "ssm:PutParameter /kafka/dev/admin".
        action: String,
        /// The service's answer, with error code and message.
        detail: String,
    },
    /// The handler refuses the request for a domain reason (e.g. a name owned by someone else).
    #[error("{0}")]
    Refused(String),
    /// The response could not be delivered to CloudFormation's ResponseURL.
    #[error("could not deliver the response to CloudFormation: {0}")]
    Response(String),
}

impl Error {
    /// A property error naming `name`.
    pub fn property(name: &str, problem: impl Into<String>) -> Self {
        Error::Property { name: name.to_string(), problem: problem.into() }
    }

    /// Wraps an AWS SDK error with the action that failed, keeping the service's code and message.
    pub fn aws<E>(action: impl Into<String>, err: E) -> Self
    where
        E: std::error::Error + 'static,
    {
        Error::Aws {
            action: action.into(),
            detail: aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
