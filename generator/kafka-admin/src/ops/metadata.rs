//! Metadata: brokers, controller, topics with partitions and replicas.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::client::{AdminClient, Target, item};
use crate::error::{Error, Result};
use crate::types::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};

/// One Metadata request to any broker. `topics`: `None` for all, `Some(&[])` for none (brokers and
/// controller only), otherwise those names.
pub(crate) async fn fetch(client: &AdminClient, topics: Option<&[String]>) -> Result<ClusterMetadata> {
    let response = client.send(Target::Any, |version| request(version, topics)).await?;
    Error::check("Metadata", None, response.error_code, None)?;
    let (metadata, _) = convert(response);
    Ok(metadata)
}

fn request(version: i16, topics: Option<&[String]>) -> MetadataRequest {
    let topics = topics.map(|names| {
        names
            .iter()
            .map(|n| {
                MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(n.clone()))))
            })
            .collect()
    });
    let request = MetadataRequest::default().with_topics(topics);
    // The field exists from v4; before that the default (true) is implied and cannot be sent.
    if version >= 4 { request.with_allow_auto_topic_creation(false) } else { request }
}

/// Converts a response; topics that came back with an error are returned separately.
fn convert(response: MetadataResponse) -> (ClusterMetadata, BTreeMap<String, Error>) {
    let mut brokers: Vec<BrokerInfo> = response
        .brokers
        .into_iter()
        .map(|b| BrokerInfo {
            node_id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.map(|r| r.to_string()),
        })
        .collect();
    brokers.sort_by_key(|b| b.node_id);
    let mut topics = Vec::new();
    let mut errors = BTreeMap::new();
    for t in response.topics {
        let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
        if let Err(e) = item("Metadata", format!("topic {name}"), t.error_code, None) {
            errors.insert(name, e);
            continue;
        }
        let mut partitions: Vec<PartitionInfo> = t
            .partitions
            .into_iter()
            .map(|p| PartitionInfo {
                index: p.partition_index,
                leader: p.leader_id.0,
                replicas: p.replica_nodes.into_iter().map(|b| b.0).collect(),
                isr: p.isr_nodes.into_iter().map(|b| b.0).collect(),
                offline: p.offline_replicas.into_iter().map(|b| b.0).collect(),
            })
            .collect();
        partitions.sort_by_key(|p| p.index);
        topics.push(TopicInfo {
            name,
            topic_id: URL_SAFE_NO_PAD.encode(t.topic_id.as_bytes()),
            internal: t.is_internal,
            partitions,
        });
    }
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let metadata = ClusterMetadata {
        cluster_id: response.cluster_id.map(|c| c.to_string()),
        controller_id: response.controller_id.0,
        brokers,
        topics,
    };
    (metadata, errors)
}

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
                    Some(Err(e)) if e.code() == Some(3) => exist,
                    Some(Err(_)) | None => true,
                })
                .collect();
            match pending.first() {
                None => Ok(()),
                // LEADER_NOT_AVAILABLE: retriable, and the honest state of a topic still settling.
                Some(name) => Err(Error::Kafka(crate::error::KafkaError::new(
                    "Metadata",
                    Some(format!("topic {name} ({} of {} pending)", pending.len(), names.len())),
                    5,
                    Some(if exist { "not visible yet".into() } else { "still visible".into() }),
                ))),
            }
        })
        .await
    }

    /// Brokers, controller and every topic the principal may describe (Kafka leaves out topics it
    /// is not authorised to see).
    pub async fn metadata(&self) -> Result<ClusterMetadata> {
        self.retrying(async || fetch(self, None).await).await
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

    /// One Metadata request for the named topics, per-topic errors included, no retries.
    async fn describe_topics_once(&self, names: &[String]) -> Result<BTreeMap<String, Result<TopicInfo>>> {
        let response = self.send(Target::Any, |v| request(v, Some(names))).await?;
        Error::check("Metadata", None, response.error_code, None)?;
        let (metadata, errors) = convert(response);
        let mut out: BTreeMap<String, Result<TopicInfo>> =
            metadata.topics.into_iter().map(|t| (t.name.clone(), Ok(t))).collect();
        out.extend(errors.into_iter().map(|(name, e)| (name, Err(e))));
        Ok(out)
    }
}
