//! Response layouts of the cluster-health APIs (ops/cluster_health.rs): DescribeQuorum and
//! DescribeCluster, checked against kafka-protocol's encoder like the others in `bounds`.

use kafka_protocol::messages::ApiKey;

use super::{BOOL, Field, I8, I16, I32, I64, Layout, STR, Ty, UUID, f};

const REPLICA_STATE: &[Field] = &[f(0, I32), f(2, UUID), f(0, I64), f(1, I64), f(1, I64)];
const QUORUM_PARTITION: &[Field] = &[
    f(0, I32),
    f(0, I16),
    f(2, STR),
    f(0, I32),
    f(0, I32),
    f(0, I64),
    f(0, Ty::Array(&Ty::Struct(REPLICA_STATE))),
    f(0, Ty::Array(&Ty::Struct(REPLICA_STATE))),
];
const QUORUM_TOPIC: &[Field] = &[f(0, STR), f(0, Ty::Array(&Ty::Struct(QUORUM_PARTITION)))];
const QUORUM_LISTENER: &[Field] = &[f(2, STR), f(2, STR), f(2, Ty::Fixed(2))];
const QUORUM_NODE: &[Field] = &[f(2, I32), f(2, Ty::Array(&Ty::Struct(QUORUM_LISTENER)))];
const DESCRIBE_QUORUM: Layout = Layout {
    versions: (0, 2),
    flexible_from: 0,
    fields: &[
        f(0, I16),
        f(2, STR),
        f(0, Ty::Array(&Ty::Struct(QUORUM_TOPIC))),
        f(2, Ty::Array(&Ty::Struct(QUORUM_NODE))),
    ],
};

const CLUSTER_BROKER: &[Field] = &[f(0, I32), f(0, STR), f(0, I32), f(0, STR), f(2, BOOL)];
const DESCRIBE_CLUSTER: Layout = Layout {
    versions: (0, 2),
    flexible_from: 0,
    fields: &[
        f(0, I32),
        f(0, I16),
        f(0, STR),
        f(1, I8),
        f(0, STR),
        f(0, I32),
        f(0, Ty::Array(&Ty::Struct(CLUSTER_BROKER))),
        f(0, I32),
    ],
};

/// The layout of a cluster-health API's response, `None` for any other API.
pub(super) fn layout(key: i16) -> Option<&'static Layout> {
    match ApiKey::try_from(key).ok()? {
        ApiKey::DescribeQuorum => Some(&DESCRIBE_QUORUM),
        ApiKey::DescribeCluster => Some(&DESCRIBE_CLUSTER),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, Message, StrBytes};

    use super::super::check;
    use super::*;

    fn s(text: &'static str) -> StrBytes {
        StrBytes::from_static_str(text)
    }

    fn walks_to_the_end<M: Encodable + Message>(key: ApiKey, build: impl Fn(i16) -> M) {
        let layout = layout(key as i16).expect("layout");
        assert_eq!(layout.versions, (M::VERSIONS.min, M::VERSIONS.max), "{key:?}: versions");
        for version in M::VERSIONS.min..=M::VERSIONS.max {
            let mut buf = BytesMut::new();
            build(version).encode(&mut buf, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
            assert_eq!(check(key as i16, version, &buf), Ok(buf.len()), "{key:?} v{version}");
            // One byte short is refused, never read past.
            assert!(check(key as i16, version, &buf[..buf.len() - 1]).is_err(), "{key:?} v{version}");
        }
    }

    #[test]
    fn layouts_match_kafka_protocol_for_every_version() {
        walks_to_the_end(ApiKey::DescribeQuorum, |v| {
            use describe_quorum_response::*;
            let replica = ReplicaState::default().with_replica_id(BrokerId(1)).with_log_end_offset(9);
            let partition = PartitionData::default()
                .with_error_message(if v >= 2 { Some(s("m")) } else { None })
                .with_current_voters(vec![replica.clone(); 2])
                .with_observers(vec![replica]);
            let topic = TopicData::default()
                .with_topic_name(TopicName(s("__cluster_metadata")))
                .with_partitions(vec![partition; 2]);
            let response = DescribeQuorumResponse::default().with_topics(vec![topic; 2]);
            if v < 2 {
                return response;
            }
            let listener = Listener::default().with_name(s("CONTROLLER")).with_host(s("c0")).with_port(9093);
            let node = Node::default().with_node_id(BrokerId(1)).with_listeners(vec![listener; 2]);
            response.with_error_message(Some(s("m"))).with_nodes(vec![node; 2])
        });
        walks_to_the_end(ApiKey::DescribeCluster, |v| {
            use describe_cluster_response::*;
            let broker = DescribeClusterBroker::default()
                .with_host(s("b0"))
                .with_rack(Some(s("a")))
                .with_is_fenced(v >= 2);
            DescribeClusterResponse::default()
                .with_error_message(Some(s("m")))
                .with_endpoint_type(if v >= 1 { 2 } else { 1 })
                .with_cluster_id(s("c"))
                .with_brokers(vec![broker; 3])
        });
    }

    #[test]
    fn a_hostile_voter_count_is_refused() {
        // DescribeQuorum v0: error code, one topic (compact count 2), name "x", then a partition
        // array claiming 2^28 entries.
        let body = [0, 0, 2, 2, b'x', 0x81, 0x80, 0x80, 0x80, 0x01];
        let e = check(ApiKey::DescribeQuorum as i16, 0, &body).unwrap_err();
        assert!(e.contains("elements"), "{e}");
    }
}
