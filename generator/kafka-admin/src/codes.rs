//! Kafka protocol error codes: name, retriability and a message a person can act on.
//!
//! The names are the ones Kafka uses in its logs and documentation (so they can be searched for);
//! the messages are ours and say what the code means for an admin client.

/// What we know about one protocol error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The numeric code on the wire.
    pub code: i16,
    /// Kafka's name for it, e.g. `NOT_CONTROLLER`.
    pub name: &'static str,
    /// Whether the same request may succeed when sent again a little later.
    pub retriable: bool,
    /// What it means, in a sentence.
    pub message: &'static str,
}

/// Looks up a non-zero error code; codes newer than this table get a generic entry.
pub fn lookup(code: i16) -> CodeInfo {
    match TABLE.binary_search_by_key(&code, |e| e.0) {
        Ok(i) => {
            let (code, name, retriable, message) = TABLE[i];
            CodeInfo { code, name, retriable, message }
        }
        Err(_) => CodeInfo {
            code,
            name: "UNKNOWN_CODE",
            retriable: false,
            message: "the broker returned an error code this client does not know; see the broker logs",
        },
    }
}

// Sorted by code (a unit test checks it), so lookup can binary-search.
#[rustfmt::skip]
const TABLE: &[(i16, &str, bool, &str)] = &[
    (-1, "UNKNOWN_SERVER_ERROR", false, "the broker hit an unexpected error; its log has the stack trace"),
    (1, "OFFSET_OUT_OF_RANGE", false, "the requested offset is outside the range the partition holds"),
    (2, "CORRUPT_MESSAGE", true, "a message failed its checksum or is otherwise malformed"),
    (3, "UNKNOWN_TOPIC_OR_PARTITION", true, "the topic or partition does not exist (or is not yet known to this broker)"),
    (4, "INVALID_FETCH_SIZE", false, "the fetch size is invalid"),
    (5, "LEADER_NOT_AVAILABLE", true, "the partition has no leader right now, usually during an election"),
    (6, "NOT_LEADER_OR_FOLLOWER", true, "this broker is not the leader or a replica of the partition"),
    (7, "REQUEST_TIMED_OUT", true, "the broker timed out while processing the request"),
    (8, "BROKER_NOT_AVAILABLE", false, "the broker is not available"),
    (9, "REPLICA_NOT_AVAILABLE", true, "the replica is not available for this partition"),
    (10, "MESSAGE_TOO_LARGE", false, "the request is larger than the broker accepts"),
    (11, "STALE_CONTROLLER_EPOCH", false, "the controller has moved to another node"),
    (12, "OFFSET_METADATA_TOO_LARGE", false, "the offset metadata is too large"),
    (13, "NETWORK_EXCEPTION", true, "the connection was lost before a response arrived"),
    (14, "COORDINATOR_LOAD_IN_PROGRESS", true, "the coordinator is still loading its state"),
    (15, "COORDINATOR_NOT_AVAILABLE", true, "the coordinator is not available"),
    (16, "NOT_COORDINATOR", true, "this broker is not the coordinator for the group or transaction"),
    (17, "INVALID_TOPIC_EXCEPTION", false, "the topic name is invalid (legal: up to 249 characters of [a-zA-Z0-9._-], not '.' or '..')"),
    (18, "RECORD_LIST_TOO_LARGE", false, "the record batch is larger than the segment size"),
    (19, "NOT_ENOUGH_REPLICAS", true, "fewer in-sync replicas than min.insync.replicas"),
    (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "written, but to fewer in-sync replicas than required"),
    (21, "INVALID_REQUIRED_ACKS", false, "the acks setting is invalid"),
    (22, "ILLEGAL_GENERATION", false, "the consumer group generation is not valid"),
    (23, "INCONSISTENT_GROUP_PROTOCOL", false, "the group member's protocols do not match the group's"),
    (24, "INVALID_GROUP_ID", false, "the group id is invalid"),
    (25, "UNKNOWN_MEMBER_ID", false, "the coordinator does not know this group member"),
    (26, "INVALID_SESSION_TIMEOUT", false, "the session timeout is outside the range the broker allows"),
    (27, "REBALANCE_IN_PROGRESS", false, "the group is rebalancing"),
    (28, "INVALID_COMMIT_OFFSET_SIZE", false, "the committed offset data is too large"),
    (29, "TOPIC_AUTHORIZATION_FAILED", false, "the principal is not allowed to do this on the topic; an ACL is missing"),
    (30, "GROUP_AUTHORIZATION_FAILED", false, "the principal is not allowed to do this on the consumer group; an ACL is missing"),
    (31, "CLUSTER_AUTHORIZATION_FAILED", false, "the principal is not allowed to do this on the cluster; use a super user or grant a cluster ACL"),
    (32, "INVALID_TIMESTAMP", false, "the message timestamp is out of the accepted range"),
    (33, "UNSUPPORTED_SASL_MECHANISM", false, "the listener does not offer the requested SASL mechanism (check sasl.enabled.mechanisms)"),
    (34, "ILLEGAL_SASL_STATE", false, "the request is not valid in the current SASL state"),
    (35, "UNSUPPORTED_VERSION", false, "the broker does not support this version of the API"),
    (36, "TOPIC_ALREADY_EXISTS", false, "a topic with this name already exists"),
    (37, "INVALID_PARTITIONS", false, "the partition count is invalid (below 1, or not more than the current count)"),
    (38, "INVALID_REPLICATION_FACTOR", false, "the replication factor is below 1 or larger than the number of available brokers"),
    (39, "INVALID_REPLICA_ASSIGNMENT", false, "the replica assignment is invalid"),
    (40, "INVALID_CONFIG", false, "a configuration value is invalid"),
    (41, "NOT_CONTROLLER", true, "the request reached a node that is not the active controller"),
    (42, "INVALID_REQUEST", false, "the broker rejected the request as malformed or incompatible; see the broker logs"),
    (43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "the message format does not support this request"),
    (44, "POLICY_VIOLATION", false, "the request violates a policy configured on the broker"),
    (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "the broker received an out-of-order sequence number"),
    (46, "DUPLICATE_SEQUENCE_NUMBER", false, "the broker received a duplicate sequence number"),
    (47, "INVALID_PRODUCER_EPOCH", false, "the producer epoch is outdated"),
    (48, "INVALID_TXN_STATE", false, "the transactional operation is invalid in the current state"),
    (49, "INVALID_PRODUCER_ID_MAPPING", false, "the producer id is not assigned to this transactional id"),
    (50, "INVALID_TRANSACTION_TIMEOUT", false, "the transaction timeout exceeds transaction.max.timeout.ms"),
    (51, "CONCURRENT_TRANSACTIONS", false, "another operation on the same transaction is in progress"),
    (52, "TRANSACTION_COORDINATOR_FENCED", false, "the transaction coordinator is no longer current"),
    (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, "the principal is not allowed to use this transactional id; an ACL is missing"),
    (54, "SECURITY_DISABLED", false, "security features (ACLs, SCRAM) are disabled on the cluster; configure an authorizer"),
    (55, "OPERATION_NOT_ATTEMPTED", false, "the broker skipped this item because another item of the same request failed"),
    (56, "KAFKA_STORAGE_ERROR", true, "a disk error occurred on the broker"),
    (57, "LOG_DIR_NOT_FOUND", false, "the log directory is not configured on the broker"),
    (58, "SASL_AUTHENTICATION_FAILED", false, "SASL authentication failed: wrong user name or password, or the user has no SCRAM credentials"),
    (59, "UNKNOWN_PRODUCER_ID", false, "the broker has no state for this producer id"),
    (60, "REASSIGNMENT_IN_PROGRESS", false, "a partition reassignment is in progress"),
    (61, "DELEGATION_TOKEN_AUTH_DISABLED", false, "delegation tokens are disabled"),
    (62, "DELEGATION_TOKEN_NOT_FOUND", false, "the delegation token does not exist"),
    (63, "DELEGATION_TOKEN_OWNER_MISMATCH", false, "the principal is not the owner or renewer of the token"),
    (64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, "delegation token requests are not allowed on this channel"),
    (65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, "delegation token authorization failed"),
    (66, "DELEGATION_TOKEN_EXPIRED", false, "the delegation token has expired"),
    (67, "INVALID_PRINCIPAL_TYPE", false, "the principal type is not supported (use User:<name>)"),
    (68, "NON_EMPTY_GROUP", false, "the group still has members"),
    (69, "GROUP_ID_NOT_FOUND", false, "the group does not exist"),
    (70, "FETCH_SESSION_ID_NOT_FOUND", true, "the fetch session does not exist"),
    (71, "INVALID_FETCH_SESSION_EPOCH", true, "the fetch session epoch is invalid"),
    (72, "LISTENER_NOT_FOUND", true, "the leader has no listener matching the one this request arrived on"),
    (73, "TOPIC_DELETION_DISABLED", false, "topic deletion is disabled on the cluster (delete.topic.enable=false)"),
    (74, "FENCED_LEADER_EPOCH", true, "the leader epoch in the request is older than the broker's"),
    (75, "UNKNOWN_LEADER_EPOCH", true, "the leader epoch in the request is newer than the broker's"),
    (76, "UNSUPPORTED_COMPRESSION_TYPE", false, "the broker does not support this compression type for the request"),
    (77, "STALE_BROKER_EPOCH", false, "the broker epoch is outdated"),
    (78, "OFFSET_NOT_AVAILABLE", true, "the leader's high watermark has not caught up yet"),
    (79, "MEMBER_ID_REQUIRED", false, "the group member needs a member id to join"),
    (80, "PREFERRED_LEADER_NOT_AVAILABLE", true, "the preferred leader is not available"),
    (81, "GROUP_MAX_SIZE_REACHED", false, "the consumer group has reached its maximum size"),
    (82, "FENCED_INSTANCE_ID", false, "another member with the same group.instance.id fenced this one"),
    (83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, "no eligible leader is available for the partition"),
    (84, "ELECTION_NOT_NEEDED", true, "the leader election is not needed"),
    (85, "NO_REASSIGNMENT_IN_PROGRESS", false, "no partition reassignment is in progress"),
    (86, "GROUP_SUBSCRIBED_TO_TOPIC", false, "the group is still subscribed to the topic"),
    (87, "INVALID_RECORD", false, "the record failed the broker's validation"),
    (88, "UNSTABLE_OFFSET_COMMIT", true, "there are unstable offsets that need to be cleared"),
    (89, "THROTTLING_QUOTA_EXCEEDED", true, "the controller mutation quota was exceeded; slow down"),
    (90, "PRODUCER_FENCED", false, "a newer producer with the same transactional id fenced this one"),
    (91, "RESOURCE_NOT_FOUND", false, "the resource does not exist (for SCRAM: the user has no credential for that mechanism)"),
    (92, "DUPLICATE_RESOURCE", false, "the same resource appears more than once in the request"),
    (93, "UNACCEPTABLE_CREDENTIAL", false, "the credential was rejected (e.g. SCRAM iterations outside 4096..16384, or an empty user name)"),
    (94, "INCONSISTENT_VOTER_SET", false, "the voter set of the quorum is inconsistent"),
    (95, "INVALID_UPDATE_VERSION", false, "the feature update version is invalid"),
    (96, "FEATURE_UPDATE_FAILED", false, "the feature update failed"),
    (97, "PRINCIPAL_DESERIALIZATION_FAILURE", false, "the forwarded principal could not be deserialized"),
    (98, "SNAPSHOT_NOT_FOUND", false, "the requested snapshot does not exist"),
    (99, "POSITION_OUT_OF_RANGE", false, "the requested position is outside the snapshot"),
    (100, "UNKNOWN_TOPIC_ID", true, "the topic id is not known to this broker"),
    (101, "DUPLICATE_BROKER_REGISTRATION", false, "a broker with this id is already registered"),
    (102, "BROKER_ID_NOT_REGISTERED", false, "the broker id is not registered"),
    (103, "INCONSISTENT_TOPIC_ID", true, "the topic id does not match the topic id in the log"),
    (104, "INCONSISTENT_CLUSTER_ID", false, "the cluster id does not match"),
    (105, "TRANSACTIONAL_ID_NOT_FOUND", false, "the transactional id does not exist"),
    (106, "FETCH_SESSION_TOPIC_ID_ERROR", true, "the fetch session's topic ids are inconsistent"),
    (107, "INELIGIBLE_REPLICA", false, "the new ISR contains at least one ineligible replica"),
    (108, "NEW_LEADER_ELECTED", false, "a new leader was elected while the ISR was being changed"),
    (109, "OFFSET_MOVED_TO_TIERED_STORAGE", false, "the offset has moved to tiered storage"),
    (110, "FENCED_MEMBER_EPOCH", false, "the member epoch is fenced"),
    (111, "UNRELEASED_INSTANCE_ID", false, "the instance id is still in use by another member"),
    (112, "UNSUPPORTED_ASSIGNOR", false, "the assignor is not supported by the group"),
    (113, "STALE_MEMBER_EPOCH", false, "the member epoch is stale"),
    (114, "MISMATCHED_ENDPOINT_TYPE", false, "the request was sent to the wrong kind of endpoint (broker vs controller)"),
    (115, "UNSUPPORTED_ENDPOINT_TYPE", false, "this endpoint type does not support the request"),
    (116, "UNKNOWN_CONTROLLER_ID", false, "the controller id is not known"),
    (117, "UNKNOWN_SUBSCRIPTION_ID", false, "the client metrics subscription id is not known"),
    (118, "TELEMETRY_TOO_LARGE", false, "the client telemetry is too large"),
    (119, "INVALID_REGISTRATION", false, "the controller considers the broker registration invalid"),
    (120, "TRANSACTION_ABORTABLE", false, "the transaction must be aborted"),
    (121, "INVALID_RECORD_STATE", false, "the record state is invalid"),
    (122, "SHARE_SESSION_NOT_FOUND", true, "the share session does not exist"),
    (123, "INVALID_SHARE_SESSION_EPOCH", true, "the share session epoch is invalid"),
    (124, "FENCED_STATE_EPOCH", false, "the share coordinator state epoch is fenced"),
    (125, "INVALID_VOTER_KEY", false, "the voter key does not match the receiving replica"),
    (126, "DUPLICATE_VOTER", false, "the voter is already in the voter set"),
    (127, "VOTER_NOT_FOUND", false, "the voter is not in the voter set"),
    (128, "INVALID_REGULAR_EXPRESSION", false, "the regular expression is invalid"),
    (129, "REBOOTSTRAP_REQUIRED", false, "the client must bootstrap again from its configured servers"),
    (130, "STREAMS_INVALID_TOPOLOGY", false, "the streams topology is invalid"),
    (131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, "the streams topology epoch is invalid"),
    (132, "STREAMS_TOPOLOGY_FENCED", false, "the streams topology is fenced"),
    (133, "SHARE_SESSION_LIMIT_REACHED", true, "the broker has reached its limit of share sessions"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_code_the_protocol_crate_knows_is_in_the_table_with_the_same_retriability() {
        use kafka_protocol::error::ResponseError;
        for code in -1..=200i16 {
            if code == 0 {
                continue;
            }
            let known = ResponseError::try_from_code(code).expect("non-zero code");
            if matches!(known, ResponseError::Unknown(_)) {
                continue;
            }
            let info = lookup(code);
            assert_ne!(info.name, "UNKNOWN_CODE", "code {code} ({known}) is missing from the table");
            assert_eq!(info.retriable, known.is_retriable(), "retriability of {}", info.name);
        }
    }

    #[test]
    fn unknown_codes_get_a_generic_entry() {
        let info = lookup(9999);
        assert_eq!(info.code, 9999);
        assert_eq!(info.name, "UNKNOWN_CODE");
        assert!(!info.retriable);
    }

    #[test]
    fn lookup_finds_named_codes() {
        assert_eq!(lookup(41).name, "NOT_CONTROLLER");
        assert!(lookup(41).retriable);
        assert_eq!(lookup(58).name, "SASL_AUTHENTICATION_FAILED");
        assert_eq!(lookup(-1).name, "UNKNOWN_SERVER_ERROR");
    }
}
