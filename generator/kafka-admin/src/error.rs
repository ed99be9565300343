//! The one error type of the crate.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;

use crate::codes;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to Kafka. `Clone` so that one failed batch request can be
/// reported against each of its items.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The client was configured with something unusable (bad PEM, empty bootstrap list, ...).
    #[error("invalid Kafka client configuration: {0}")]
    Config(String),

    /// A TCP connection could not be opened.
    #[error("cannot connect to Kafka broker {broker}: {source}")]
    Connect {
        /// `host:port` of the broker.
        broker: String,
        /// What the operating system said.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The TLS handshake failed or the broker ended the TLS session with an alert.
    #[error("TLS with Kafka broker {broker} failed: {reason}")]
    Tls {
        /// `host:port` of the broker.
        broker: String,
        /// Why, with a hint at the usual cause.
        reason: String,
    },

    /// SASL/SCRAM authentication was refused or could not be completed.
    #[error("SASL authentication as user '{user}' at Kafka broker {broker} failed: {reason}")]
    Authentication {
        /// `host:port` of the broker.
        broker: String,
        /// The SASL user name (never the password).
        user: String,
        /// The broker's message or what was wrong with its answer.
        reason: String,
    },

    /// An established connection broke while a request was under way.
    #[error("connection to Kafka broker {broker} failed during {api}: {reason}")]
    Network {
        /// `host:port` of the broker.
        broker: String,
        /// The API being called, e.g. `CreateTopics`.
        api: &'static str,
        /// What happened.
        reason: String,
    },

    /// No response arrived in time.
    #[error("no response from Kafka broker {broker} to {api} within {timeout:?}")]
    Timeout {
        /// `host:port` of the broker.
        broker: String,
        /// The API being called.
        api: &'static str,
        /// The configured request timeout.
        timeout: Duration,
    },

    /// The broker and this client share no version of an API.
    #[error(
        "Kafka broker {broker} does not support {api} in a version this client speaks \
         (client {client_min}..={client_max}, broker {broker_range})"
    )]
    UnsupportedVersion {
        /// `host:port` of the broker.
        broker: String,
        /// The API.
        api: &'static str,
        /// Lowest version this client can encode.
        client_min: i16,
        /// Highest version this client can encode.
        client_max: i16,
        /// What the broker offers, e.g. `0..=4` or `none`.
        broker_range: String,
    },

    /// A message could not be encoded or a response could not be decoded.
    #[error("Kafka protocol error with broker {broker} in {api}: {reason}")]
    Protocol {
        /// `host:port` of the broker.
        broker: String,
        /// The API.
        api: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// The broker answered with a protocol error code.
    #[error("{0}")]
    Kafka(KafkaError),

    /// Retriable errors went on longer than the retry policy allows.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<Error>,
    },
}

/// A protocol error code returned by a broker, with what it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    /// The API that returned it, e.g. `CreateTopics`.
    pub api: &'static str,
    /// The item it is about (topic name, ACL binding, user), when the error is per item.
    pub resource: Option<String>,
    /// The numeric error code.
    pub code: i16,
    /// Kafka's name of the code, e.g. `TOPIC_AUTHORIZATION_FAILED`.
    pub name: &'static str,
    /// What the code means.
    pub message: &'static str,
    /// The broker's own error message, when it sent one.
    pub detail: Option<String>,
    /// Whether sending the same request again may succeed.
    pub retriable: bool,
}

impl KafkaError {
    /// Builds the error for a non-zero code.
    pub fn new(api: &'static str, resource: Option<String>, code: i16, detail: Option<String>) -> Self {
        let info = codes::lookup(code);
        // Brokers often repeat the generic text of the code as the detail; drop it then.
        let detail = detail.filter(|d| !d.trim().is_empty() && d.trim() != info.message);
        // Kafka calls an unknown topic retriable because a broker's metadata may lag. An admin
        // client asks the controller-backed metadata, where "unknown" is the answer, and retrying
        // it would only delay reporting a missing topic.
        let unknown = matches!(
            ResponseError::try_from_code(code),
            Some(ResponseError::UnknownTopicOrPartition | ResponseError::UnknownTopicId)
        );
        let retriable = info.retriable && !unknown;
        KafkaError { api, resource, code, name: info.name, message: info.message, detail, retriable }
    }

    /// Whether sending the same request again may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// The code as `kafka_protocol` names it (`ResponseError::Unknown` for a code it does not know).
    pub fn kind(&self) -> ResponseError {
        ResponseError::try_from_code(self.code).unwrap_or(ResponseError::Unknown(self.code))
    }
}

impl std::fmt::Display for KafkaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.api)?;
        if let Some(resource) = &self.resource {
            write!(f, " of {resource}")?;
        }
        write!(f, " failed: {} (code {}): {}", self.name, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "; broker says: {detail}")?;
        }
        Ok(())
    }
}

impl Error {
    /// Whether the operation may succeed when tried again after a pause.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Network { .. } | Error::Timeout { .. } => true,
            Error::Kafka(e) => e.is_retriable(),
            _ => false,
        }
    }

    /// The protocol error code, when the broker returned one.
    pub fn code(&self) -> Option<i16> {
        match self {
            Error::Kafka(e) => Some(e.code),
            Error::RetriesExhausted { last, .. } => last.code(),
            _ => None,
        }
    }

    /// The protocol error, as `kafka_protocol` names it, when the broker returned one.
    pub fn kind(&self) -> Option<ResponseError> {
        match self {
            Error::Kafka(e) => Some(e.kind()),
            Error::RetriesExhausted { last, .. } => last.kind(),
            _ => None,
        }
    }

    /// Whether the cached cluster view (controller, broker addresses) should be refreshed before the
    /// next attempt.
    pub(crate) fn needs_metadata_refresh(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::Network { .. } | Error::Timeout { .. })
            || matches!(
                self.kind(),
                Some(
                    ResponseError::LeaderNotAvailable
                        | ResponseError::NotLeaderOrFollower
                        | ResponseError::NotController
                        | ResponseError::ListenerNotFound
                )
            )
    }

    /// Turns a per-item or per-response error code into a result.
    pub(crate) fn check(
        api: &'static str,
        resource: Option<String>,
        code: i16,
        detail: Option<String>,
    ) -> Result<()> {
        if code == 0 { Ok(()) } else { Err(Error::Kafka(KafkaError::new(api, resource, code, detail))) }
    }

    /// [`Error::check`] for one item of a batch, with the broker's message as it arrives.
    pub(crate) fn check_item(
        api: &'static str,
        resource: String,
        code: i16,
        detail: Option<&str>,
    ) -> Result<()> {
        Error::check(api, Some(resource), code, detail.map(String::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_name_the_code_the_item_and_the_broker_detail() {
        let e = Error::check(
            "CreateTopics",
            Some("topic orders".into()),
            38,
            Some("Replication factor: 4 larger than available brokers: 3.".into()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CreateTopics of topic orders failed: INVALID_REPLICATION_FACTOR (code 38): the replication \
             factor is below 1 or larger than the number of available brokers; broker says: Replication \
             factor: 4 larger than available brokers: 3."
        );
        assert!(!e.is_retriable());
        assert_eq!(e.code(), Some(38));
    }

    #[test]
    fn success_code_is_ok() {
        assert!(Error::check("Metadata", None, 0, Some("ignored".into())).is_ok());
    }

    #[test]
    fn not_controller_and_timeouts_are_retriable_and_refresh_metadata() {
        let e = Error::check("CreateAcls", None, 41, None).unwrap_err();
        assert!(e.is_retriable());
        assert!(e.needs_metadata_refresh());
        let e = Error::check("CreateTopics", None, 7, None).unwrap_err();
        assert!(e.is_retriable());
        let e = Error::Timeout { broker: "b:1".into(), api: "Metadata", timeout: Duration::from_secs(1) };
        assert!(e.is_retriable() && e.needs_metadata_refresh());
    }

    #[test]
    fn unknown_topics_are_an_answer_not_a_transient_state() {
        assert!(!Error::check("DeleteTopics", None, 3, None).unwrap_err().is_retriable());
        assert!(Error::check("Metadata", None, 5, None).unwrap_err().is_retriable());
    }

    #[test]
    fn authorization_failures_are_final() {
        let e = Error::check("CreateTopics", Some("topic x".into()), 29, None).unwrap_err();
        assert!(!e.is_retriable());
        assert!(e.to_string().contains("TOPIC_AUTHORIZATION_FAILED"));
        assert!(e.to_string().contains("an ACL is missing"));
    }

    #[test]
    fn empty_or_repeated_broker_detail_is_dropped() {
        let e = KafkaError::new("DeleteTopics", None, 3, Some(" ".into()));
        assert_eq!(e.detail, None);
        let generic = codes::lookup(3).message.to_string();
        assert_eq!(KafkaError::new("DeleteTopics", None, 3, Some(generic)).detail, None);
    }
}
