//! Metadata: brokers, controller, topics with partitions and replicas.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

use crate::client::{AdminClient, Target};
use crate::error::{Error, KafkaError, Result};
use crate::metadata_codec::{decode, request};
use crate::types::{ClusterMetadata, TopicInfo};

impl AdminClient {
    /// Waits until every named topic exists with a leader for each partition (`exist`) or none
    /// exists (`!exist`) in the metadata the client reads, polling with the retry policy's backoff.
    /// Brokers apply committed changes asynchronously; call this after creating or deleting topics
    /// and before reading them back.
    pub async fn await_topics(&self, names: &[String], exist: bool) -> Result<()> {
        self.retrying(async || {
            let found = self.describe_topics_once(names).await?;
            let pending: Vec<&String> = names
                .iter()
                .filter(|n| match found.get(*n) {
                    Some(Ok(t)) => !exist || t.partitions.iter().any(|p| p.leader < 0),
                    Some(Err(e)) if e.kind() == Some(ResponseError::UnknownTopicOrPartition) => exist,
                    Some(Err(_)) | None => true,
                })
                .collect();
            match pending.first() {
                None => Ok(()),
                // LEADER_NOT_AVAILABLE: retriable, and the honest state of a topic still settling.
                Some(name) => Err(Error::Kafka(KafkaError::new(
                    "Metadata",
                    Some(format!("topic {name} ({} of {} pending)", pending.len(), names.len())),
                    ResponseError::LeaderNotAvailable.code(),
                    Some(if exist { "not visible yet".into() } else { "still visible".into() }),
                ))),
            }
        })
        .await
    }

    /// Brokers, controller and every topic the principal may describe (Kafka leaves out topics it
    /// is not authorised to see).
    pub async fn metadata(&self) -> Result<ClusterMetadata> {
        self.retrying(async || {
            let response = self.send(Target::Any, |version| request(version, None)).await?;
            Ok(decode(response)?.0)
        })
        .await
    }

    /// The named topics, each with its metadata or its error (`UNKNOWN_TOPIC_OR_PARTITION` for
    /// one that does not exist). Retried while any topic has a retriable error such as
    /// LEADER_NOT_AVAILABLE right after its creation.
    pub async fn describe_topics(&self, names: &[String]) -> Result<BTreeMap<String, Result<TopicInfo>>> {
        self.retrying(async || {
            let found = self.describe_topics_once(names).await?;
            // Retry the whole request while a topic is settling (e.g. LEADER_NOT_AVAILABLE).
            if let Some(Err(e)) = found.values().find(|r| r.as_ref().is_err_and(Error::is_retriable)) {
                return Err(e.clone());
            }
            Ok(found)
        })
        .await
    }

    /// The named topics as broker `node` serves them (its metadata cache, which follows the
    /// metadata log asynchronously), per-topic errors included; one attempt.
    pub async fn describe_topics_on(
        &self,
        node: i32,
        names: &[String],
    ) -> Result<BTreeMap<String, Result<TopicInfo>>> {
        self.describe_topics_at(Target::Node(node), names).await
    }

    /// One Metadata request for the named topics, per-topic errors included, no retries.
    async fn describe_topics_once(&self, names: &[String]) -> Result<BTreeMap<String, Result<TopicInfo>>> {
        self.describe_topics_at(Target::Any, names).await
    }

    async fn describe_topics_at(
        &self,
        target: Target,
        names: &[String],
    ) -> Result<BTreeMap<String, Result<TopicInfo>>> {
        let response = self.send(target, |v| request(v, Some(names))).await?;
        let (metadata, errors) = decode(response)?;
        let mut out: BTreeMap<String, Result<TopicInfo>> =
            metadata.topics.into_iter().map(|t| (t.name.clone(), Ok(t))).collect();
        out.extend(errors.into_iter().map(|(name, e)| (name, Err(e))));
        Ok(out)
    }
}
