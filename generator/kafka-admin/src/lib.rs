//! A Kafka admin client for the platform's reconciler: topics, configurations, ACLs and SCRAM
//! credentials, over TLS (with mTLS or SASL/SCRAM), on top of the `kafka-protocol` wire format.
//!
//! - One connection per broker, opened with TLS, ApiVersions negotiation (the highest version both
//!   sides support) and, for SASL_SSL listeners, SCRAM-SHA-512 authentication.
//! - Reads go to any broker; topic, ACL and SCRAM writes go to the controller named by Metadata
//!   (in KRaft any broker forwards them, which is also the fallback when that node is down).
//! - Retriable errors (not controller, timeouts, leader not available, lost connections) are retried
//!   with exponential backoff up to a bound; batch operations retry only the items that failed.
//! - Every error code becomes an [`Error`] that names the API, the item, Kafka's name for the code
//!   and what it means.
//!
//! ```no_run
//! # async fn demo() -> kafka_admin::Result<()> {
//! use kafka_admin::{AdminClient, AdminConfig, NewTopic, ScramMechanism, TlsConfig};
//! let tls = TlsConfig::from_ca_file("ca.pem".as_ref())?;
//! let config = AdminConfig::new(["b-1.kafka.internal:9096"], tls)
//!     .with_scram(ScramMechanism::Sha512, "admin", "secret");
//! let client = AdminClient::connect(config).await?;
//! let topic = NewTopic { name: "orders".into(), partitions: 6, replication_factor: 3, configs: Default::default() };
//! for result in client.create_topics(&[topic], false).await {
//!     result?;
//! }
//! # Ok(()) }
//! ```

mod bounds;
mod client;
mod codes;
mod connection;
mod error;
mod frame;
mod metadata_codec;
mod ops;
mod probe;
mod scram;
mod secret;
mod tls;
mod types;

pub use client::{AdminClient, AdminConfig, RequestStats, RetryPolicy};
pub use codes::{CodeInfo, lookup as error_code_info};
pub use connection::ScramCredentials;
pub use error::{Error, KafkaError, Result};
/// Kafka's protocol error codes by name, as [`Error::kind`] returns them.
pub use kafka_protocol::error::ResponseError;
pub use ops::cluster_health::{
    ClusterDescription, FeatureRange, Features, QuorumInfo, QuorumReplica, RegisteredBroker,
};
pub use ops::credentials::DEFAULT_SCRAM_ITERATIONS;
pub use ops::log_dirs::LogDirUsage;
pub use probe::served_certificate;
pub use scram::{
    MAX_ITERATIONS as SCRAM_MAX_ITERATIONS, MIN_ITERATIONS as SCRAM_MIN_ITERATIONS, ScramMechanism,
};
pub use secret::Secret;
pub use tls::{TlsConfig, check_key_pair};
pub use types::*;

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let upsert = crate::ScramUpsert {
            user: "app".into(),
            mechanism: crate::ScramMechanism::Sha512,
            iterations: 8192,
            password: "hunter2".into(),
        };
        let shown = format!("{upsert:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret(***)"));
    }
}
