//! The Metadata request and its response as [`ClusterMetadata`], without I/O: the client's cluster
//! view and the metadata operations both read it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::{Error, Result};
use crate::types::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};

/// The request for `topics`: `None` for all, `Some(&[])` for none (brokers and controller only),
/// otherwise those names.
pub(crate) fn request(version: i16, topics: Option<&[String]>) -> MetadataRequest {
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
        if let Err(e) = Error::check_item("Metadata", format!("topic {name}"), t.error_code, None) {
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

/// Checks the response's own error code, then converts it; topics that came back with an error are
/// returned separately.
pub(crate) fn decode(response: MetadataResponse) -> Result<(ClusterMetadata, BTreeMap<String, Error>)> {
    Error::check("Metadata", None, response.error_code, None)?;
    Ok(convert(response))
}
