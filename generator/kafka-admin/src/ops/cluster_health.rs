//! Cluster health for day-2 operations: the KRaft quorum (DescribeQuorum), broker registrations
//! with their fencing (DescribeCluster) and the feature levels a node supports and the cluster has
//! finalised (the feature fields of ApiVersions, which is what Kafka's DescribeFeatures reads).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_quorum_response::ReplicaState;
use kafka_protocol::messages::{
    ApiVersionsRequest, DescribeClusterRequest, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::{AdminClient, Target};
use crate::error::{Error, Result};

/// The topic that holds the KRaft metadata log.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// One replica of the KRaft metadata log, as the quorum leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumReplica {
    /// Node id.
    pub node_id: i32,
    /// The end offset of its copy of the metadata log (-1 when the leader does not know it).
    pub log_end_offset: i64,
    /// When it last fetched from the leader (ms since the epoch; -1 unknown).
    pub last_fetch_ms: i64,
    /// When it was last caught up with the leader (ms since the epoch; -1 unknown).
    pub last_caught_up_ms: i64,
}

/// The KRaft controller quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The active controller (quorum leader); -1 while an election is running.
    pub leader_id: i32,
    /// The leader's epoch.
    pub leader_epoch: i32,
    /// The high watermark of the metadata log.
    pub high_watermark: i64,
    /// The voters (controllers), ordered by node id.
    pub voters: Vec<QuorumReplica>,
    /// The observers (brokers that are not voters), ordered by node id.
    pub observers: Vec<QuorumReplica>,
}

impl QuorumInfo {
    /// How far a replica's log end offset is behind the high watermark (never negative).
    pub fn lag(&self, replica: &QuorumReplica) -> i64 {
        (self.high_watermark - replica.log_end_offset).max(0)
    }
}

/// A broker registration as the controller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredBroker {
    /// Node id.
    pub node_id: i32,
    /// `host:port` on the listener the client used.
    pub address: String,
    /// Fenced: registered but not (yet, or no longer) serving; Kafka 4.0+ reports fenced brokers.
    pub fenced: bool,
}

/// The cluster as DescribeCluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The node that takes controller-bound requests.
    pub controller_id: i32,
    /// Registered brokers (fenced ones included where the broker can say), ordered by node id.
    pub brokers: Vec<RegisteredBroker>,
}

/// A feature's version range (supported) or level (finalised: `min == max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

/// Feature flags (`metadata.version`, `kraft.version`, ...) as one node reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// What the node's software supports.
    pub supported: BTreeMap<String, FeatureRange>,
    /// What the cluster has finalised (the level in force).
    pub finalized: BTreeMap<String, FeatureRange>,
    /// The epoch of the finalised features (-1 unknown).
    pub finalized_epoch: i64,
}

fn replicas(states: Vec<ReplicaState>) -> Vec<QuorumReplica> {
    let mut out: Vec<QuorumReplica> = states
        .into_iter()
        .map(|r| QuorumReplica {
            node_id: r.replica_id.0,
            log_end_offset: r.log_end_offset,
            last_fetch_ms: r.last_fetch_timestamp,
            last_caught_up_ms: r.last_caught_up_timestamp,
        })
        .collect();
    out.sort_by_key(|r| r.node_id);
    out
}

fn quorum(response: DescribeQuorumResponse) -> Result<QuorumInfo> {
    let message = |m: Option<StrBytes>| m.map(|m| m.to_string()).filter(|m| !m.is_empty());
    Error::check("DescribeQuorum", None, response.error_code, message(response.error_message))?;
    let partition = response
        .topics
        .into_iter()
        .find(|t| t.topic_name.0.as_str() == METADATA_TOPIC)
        .and_then(|t| t.partitions.into_iter().next())
        .ok_or_else(|| Error::Protocol {
            broker: String::new(),
            api: "DescribeQuorum",
            reason: format!("the response has no partition of {METADATA_TOPIC}"),
        })?;
    Error::check(
        "DescribeQuorum",
        Some(format!("{METADATA_TOPIC}-0")),
        partition.error_code,
        message(partition.error_message),
    )?;
    Ok(QuorumInfo {
        leader_id: partition.leader_id.0,
        leader_epoch: partition.leader_epoch,
        high_watermark: partition.high_watermark,
        voters: replicas(partition.current_voters),
        observers: replicas(partition.observers),
    })
}

fn ranges<'a>(items: impl Iterator<Item = (&'a StrBytes, i16, i16)>) -> BTreeMap<String, FeatureRange> {
    items.map(|(name, min, max)| (name.to_string(), FeatureRange { min, max })).collect()
}

impl AdminClient {
    /// The KRaft quorum: leader, epoch, high watermark and every voter's and observer's log end
    /// offset. Any broker forwards the request to the active controller (needs DESCRIBE on the
    /// cluster).
    pub async fn describe_quorum(&self) -> Result<QuorumInfo> {
        self.retrying(async || {
            let request = || {
                let partition = PartitionData::default().with_partition_index(0);
                DescribeQuorumRequest::default().with_topics(vec![
                    TopicData::default()
                        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                        .with_partitions(vec![partition]),
                ])
            };
            quorum(self.send(Target::Any, |_| request()).await?)
        })
        .await
    }

    /// Broker registrations; from Kafka 4.0 (DescribeCluster v2) fenced brokers are included and
    /// marked, before that only unfenced ones are listed.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        self.retrying(async || {
            let response = self
                .send(Target::Any, |version| {
                    let request = DescribeClusterRequest::default();
                    if version >= 2 { request.with_include_fenced_brokers(true) } else { request }
                })
                .await?;
            let detail = response.error_message.map(|m| m.to_string()).filter(|m| !m.is_empty());
            Error::check("DescribeCluster", None, response.error_code, detail)?;
            let mut brokers: Vec<RegisteredBroker> = response
                .brokers
                .into_iter()
                .map(|b| {
                    let info = crate::types::BrokerInfo {
                        node_id: b.broker_id.0,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: None,
                    };
                    RegisteredBroker { node_id: info.node_id, address: info.address(), fenced: b.is_fenced }
                })
                .collect();
            brokers.sort_by_key(|b| b.node_id);
            Ok(ClusterDescription {
                cluster_id: response.cluster_id.to_string(),
                controller_id: response.controller_id.0,
                brokers,
            })
        })
        .await
    }

    /// The features the broker `node` supports and the cluster has finalised (`None`: any
    /// broker). One attempt: a stopped node is an answer, not something to wait for.
    pub async fn features(&self, node: Option<i32>) -> Result<Features> {
        let target = node.map_or(Target::Any, Target::Node);
        let response = self
            .send(target, |_| {
                ApiVersionsRequest::default()
                    .with_client_software_name(StrBytes::from_static_str("kafka-platform-admin"))
                    .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
            })
            .await?;
        Error::check("ApiVersions", None, response.error_code, None)?;
        Ok(Features {
            supported: ranges(
                response.supported_features.iter().map(|f| (&f.name, f.min_version, f.max_version)),
            ),
            finalized: ranges(
                response
                    .finalized_features
                    .iter()
                    .map(|f| (&f.name, f.min_version_level, f.max_version_level)),
            ),
            finalized_epoch: response.finalized_features_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::messages::describe_quorum_response::{PartitionData as P, TopicData as T};

    fn state(id: i32, leo: i64) -> ReplicaState {
        ReplicaState::default().with_replica_id(BrokerId(id)).with_log_end_offset(leo)
    }

    #[test]
    fn quorum_responses_become_leader_watermark_and_lags() {
        let partition = P::default()
            .with_leader_id(BrokerId(2))
            .with_leader_epoch(7)
            .with_high_watermark(100)
            .with_current_voters(vec![state(3, 90), state(1, 100), state(2, 100)])
            .with_observers(vec![state(4, -1)]);
        let response = DescribeQuorumResponse::default().with_topics(vec![
            T::default()
                .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                .with_partitions(vec![partition]),
        ]);
        let q = quorum(response).unwrap();
        assert_eq!((q.leader_id, q.leader_epoch, q.high_watermark), (2, 7, 100));
        assert_eq!(q.voters.iter().map(|v| v.node_id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(q.lag(&q.voters[2]), 10);
        assert_eq!(q.lag(&q.observers[0]), 101, "an unknown offset counts as all behind");
    }

    #[test]
    fn quorum_errors_are_kafka_errors() {
        let e = quorum(DescribeQuorumResponse::default().with_error_code(29)).unwrap_err();
        assert_eq!(e.code(), Some(29), "{e}");
        let e = quorum(DescribeQuorumResponse::default()).unwrap_err().to_string();
        assert!(e.contains("no partition of __cluster_metadata"), "{e}");
    }
}
