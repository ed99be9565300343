//! Response layout of DescribeLogDirs (ops/log_dirs.rs), checked against kafka-protocol's encoder
//! like the others in `bounds`.

use kafka_protocol::messages::ApiKey;

use super::{BOOL, Field, I16, I32, I64, Layout, STR, Ty, f};

const PARTITION: &[Field] = &[f(0, I32), f(0, I64), f(0, I64), f(0, BOOL)];
const TOPIC: &[Field] = &[f(0, STR), f(0, Ty::Array(&Ty::Struct(PARTITION)))];
const RESULT: &[Field] = &[f(0, I16), f(0, STR), f(0, Ty::Array(&Ty::Struct(TOPIC))), f(4, I64), f(4, I64)];
const DESCRIBE_LOG_DIRS: Layout = Layout {
    versions: (1, 4),
    flexible_from: 2,
    fields: &[f(0, I32), f(3, I16), f(0, Ty::Array(&Ty::Struct(RESULT)))],
};

/// The layout of DescribeLogDirs' response, `None` for any other API.
pub(super) fn layout(key: i16) -> Option<&'static Layout> {
    match ApiKey::try_from(key).ok()? {
        ApiKey::DescribeLogDirs => Some(&DESCRIBE_LOG_DIRS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::describe_log_dirs_response::*;
    use kafka_protocol::messages::{DescribeLogDirsResponse, TopicName};
    use kafka_protocol::protocol::{Encodable, Message, StrBytes};

    use super::super::check;
    use super::*;

    #[test]
    fn the_layout_matches_kafka_protocol_for_every_version() {
        let key = ApiKey::DescribeLogDirs as i16;
        assert_eq!(
            layout(key).unwrap().versions,
            (DescribeLogDirsResponse::VERSIONS.min, DescribeLogDirsResponse::VERSIONS.max)
        );
        for version in DescribeLogDirsResponse::VERSIONS.min..=DescribeLogDirsResponse::VERSIONS.max {
            let partition =
                DescribeLogDirsPartition::default().with_partition_index(3).with_partition_size(7);
            let topic = DescribeLogDirsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("orders")))
                .with_partitions(vec![partition; 2]);
            let mut result = DescribeLogDirsResult::default()
                .with_log_dir(StrBytes::from_static_str("/var/lib/kafka/data"))
                .with_topics(vec![topic; 2]);
            if version >= 4 {
                result = result.with_total_bytes(1 << 30).with_usable_bytes(1 << 29);
            }
            let response = DescribeLogDirsResponse::default().with_results(vec![result; 2]);
            let mut buf = BytesMut::new();
            response.encode(&mut buf, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
            assert_eq!(check(key, version, &buf), Ok(buf.len()), "v{version}");
            assert!(check(key, version, &buf[..buf.len() - 1]).is_err(), "v{version}");
        }
    }

    #[test]
    fn a_hostile_result_count_is_refused() {
        // v4 (flexible): throttle time, error code, then a results array claiming 2^28 entries.
        let body = [0, 0, 0, 0, 0, 0, 0x81, 0x80, 0x80, 0x80, 0x01];
        let e = check(ApiKey::DescribeLogDirs as i16, 4, &body).unwrap_err();
        assert!(e.contains("elements"), "{e}");
    }
}
