//! Kafka protocol error codes: name, retriability and a message a person can act on.
//!
//! The codes and their retriability are `kafka_protocol`'s [`ResponseError`]; the names are the
//! ones Kafka uses in its logs and documentation (so they can be searched for); the messages are
//! ours and say what the code means for an admin client.

use kafka_protocol::error::ResponseError;

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

/// Looks up a non-zero error code; codes newer than `kafka_protocol` get a generic entry.
pub fn lookup(code: i16) -> CodeInfo {
    match ResponseError::try_from_code(code).and_then(|e| describe(e).map(|d| (e, d))) {
        Some((error, (name, message))) => CodeInfo { code, name, retriable: error.is_retriable(), message },
        None => CodeInfo {
            code,
            name: "UNKNOWN_CODE",
            retriable: false,
            message: "the broker returned an error code this client does not know; see the broker logs",
        },
    }
}

/// Kafka's name of the code and what it means. The match has no catch-all, so a `kafka_protocol`
/// release with new codes does not compile until they are described here.
#[rustfmt::skip]
fn describe(error: ResponseError) -> Option<(&'static str, &'static str)> {
    use ResponseError::*;
    Some(match error {
        Unknown(_) => return None,
        UnknownServerError => ("UNKNOWN_SERVER_ERROR", "the broker hit an unexpected error; its log has the stack trace"),
        OffsetOutOfRange => ("OFFSET_OUT_OF_RANGE", "the requested offset is outside the range the partition holds"),
        CorruptMessage => ("CORRUPT_MESSAGE", "a message failed its checksum or is otherwise malformed"),
        UnknownTopicOrPartition => ("UNKNOWN_TOPIC_OR_PARTITION", "the topic or partition does not exist (or is not yet known to this broker)"),
        InvalidFetchSize => ("INVALID_FETCH_SIZE", "the fetch size is invalid"),
        LeaderNotAvailable => ("LEADER_NOT_AVAILABLE", "the partition has no leader right now, usually during an election"),
        NotLeaderOrFollower => ("NOT_LEADER_OR_FOLLOWER", "this broker is not the leader or a replica of the partition"),
        RequestTimedOut => ("REQUEST_TIMED_OUT", "the broker timed out while processing the request"),
        BrokerNotAvailable => ("BROKER_NOT_AVAILABLE", "the broker is not available"),
        ReplicaNotAvailable => ("REPLICA_NOT_AVAILABLE", "the replica is not available for this partition"),
        MessageTooLarge => ("MESSAGE_TOO_LARGE", "the request is larger than the broker accepts"),
        StaleControllerEpoch => ("STALE_CONTROLLER_EPOCH", "the controller has moved to another node"),
        OffsetMetadataTooLarge => ("OFFSET_METADATA_TOO_LARGE", "the offset metadata is too large"),
        NetworkException => ("NETWORK_EXCEPTION", "the connection was lost before a response arrived"),
        CoordinatorLoadInProgress => ("COORDINATOR_LOAD_IN_PROGRESS", "the coordinator is still loading its state"),
        CoordinatorNotAvailable => ("COORDINATOR_NOT_AVAILABLE", "the coordinator is not available"),
        NotCoordinator => ("NOT_COORDINATOR", "this broker is not the coordinator for the group or transaction"),
        InvalidTopicException => ("INVALID_TOPIC_EXCEPTION", "the topic name is invalid (legal: up to 249 characters of [a-zA-Z0-9._-], not '.' or '..')"),
        RecordListTooLarge => ("RECORD_LIST_TOO_LARGE", "the record batch is larger than the segment size"),
        NotEnoughReplicas => ("NOT_ENOUGH_REPLICAS", "fewer in-sync replicas than min.insync.replicas"),
        NotEnoughReplicasAfterAppend => ("NOT_ENOUGH_REPLICAS_AFTER_APPEND", "written, but to fewer in-sync replicas than required"),
        InvalidRequiredAcks => ("INVALID_REQUIRED_ACKS", "the acks setting is invalid"),
        IllegalGeneration => ("ILLEGAL_GENERATION", "the consumer group generation is not valid"),
        InconsistentGroupProtocol => ("INCONSISTENT_GROUP_PROTOCOL", "the group member's protocols do not match the group's"),
        InvalidGroupId => ("INVALID_GROUP_ID", "the group id is invalid"),
        UnknownMemberId => ("UNKNOWN_MEMBER_ID", "the coordinator does not know this group member"),
        InvalidSessionTimeout => ("INVALID_SESSION_TIMEOUT", "the session timeout is outside the range the broker allows"),
        RebalanceInProgress => ("REBALANCE_IN_PROGRESS", "the group is rebalancing"),
        InvalidCommitOffsetSize => ("INVALID_COMMIT_OFFSET_SIZE", "the committed offset data is too large"),
        TopicAuthorizationFailed => ("TOPIC_AUTHORIZATION_FAILED", "the principal is not allowed to do this on the topic; an ACL is missing"),
        GroupAuthorizationFailed => ("GROUP_AUTHORIZATION_FAILED", "the principal is not allowed to do this on the consumer group; an ACL is missing"),
        ClusterAuthorizationFailed => ("CLUSTER_AUTHORIZATION_FAILED", "the principal is not allowed to do this on the cluster; use a super user or grant a cluster ACL"),
        InvalidTimestamp => ("INVALID_TIMESTAMP", "the message timestamp is out of the accepted range"),
        UnsupportedSaslMechanism => ("UNSUPPORTED_SASL_MECHANISM", "the listener does not offer the requested SASL mechanism (check sasl.enabled.mechanisms)"),
        IllegalSaslState => ("ILLEGAL_SASL_STATE", "the request is not valid in the current SASL state"),
        UnsupportedVersion => ("UNSUPPORTED_VERSION", "the broker does not support this version of the API"),
        TopicAlreadyExists => ("TOPIC_ALREADY_EXISTS", "a topic with this name already exists"),
        InvalidPartitions => ("INVALID_PARTITIONS", "the partition count is invalid (below 1, or not more than the current count)"),
        InvalidReplicationFactor => ("INVALID_REPLICATION_FACTOR", "the replication factor is below 1 or larger than the number of available brokers"),
        InvalidReplicaAssignment => ("INVALID_REPLICA_ASSIGNMENT", "the replica assignment is invalid"),
        InvalidConfig => ("INVALID_CONFIG", "a configuration value is invalid"),
        NotController => ("NOT_CONTROLLER", "the request reached a node that is not the active controller"),
        InvalidRequest => ("INVALID_REQUEST", "the broker rejected the request as malformed or incompatible; see the broker logs"),
        UnsupportedForMessageFormat => ("UNSUPPORTED_FOR_MESSAGE_FORMAT", "the message format does not support this request"),
        PolicyViolation => ("POLICY_VIOLATION", "the request violates a policy configured on the broker"),
        OutOfOrderSequenceNumber => ("OUT_OF_ORDER_SEQUENCE_NUMBER", "the broker received an out-of-order sequence number"),
        DuplicateSequenceNumber => ("DUPLICATE_SEQUENCE_NUMBER", "the broker received a duplicate sequence number"),
        InvalidProducerEpoch => ("INVALID_PRODUCER_EPOCH", "the producer epoch is outdated"),
        InvalidTxnState => ("INVALID_TXN_STATE", "the transactional operation is invalid in the current state"),
        InvalidProducerIdMapping => ("INVALID_PRODUCER_ID_MAPPING", "the producer id is not assigned to this transactional id"),
        InvalidTransactionTimeout => ("INVALID_TRANSACTION_TIMEOUT", "the transaction timeout exceeds transaction.max.timeout.ms"),
        ConcurrentTransactions => ("CONCURRENT_TRANSACTIONS", "another operation on the same transaction is in progress"),
        TransactionCoordinatorFenced => ("TRANSACTION_COORDINATOR_FENCED", "the transaction coordinator is no longer current"),
        TransactionalIdAuthorizationFailed => ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "the principal is not allowed to use this transactional id; an ACL is missing"),
        SecurityDisabled => ("SECURITY_DISABLED", "security features (ACLs, SCRAM) are disabled on the cluster; configure an authorizer"),
        OperationNotAttempted => ("OPERATION_NOT_ATTEMPTED", "the broker skipped this item because another item of the same request failed"),
        KafkaStorageError => ("KAFKA_STORAGE_ERROR", "a disk error occurred on the broker"),
        LogDirNotFound => ("LOG_DIR_NOT_FOUND", "the log directory is not configured on the broker"),
        SaslAuthenticationFailed => ("SASL_AUTHENTICATION_FAILED", "SASL authentication failed: wrong user name or password, or the user has no SCRAM credentials"),
        UnknownProducerId => ("UNKNOWN_PRODUCER_ID", "the broker has no state for this producer id"),
        ReassignmentInProgress => ("REASSIGNMENT_IN_PROGRESS", "a partition reassignment is in progress"),
        DelegationTokenAuthDisabled => ("DELEGATION_TOKEN_AUTH_DISABLED", "delegation tokens are disabled"),
        DelegationTokenNotFound => ("DELEGATION_TOKEN_NOT_FOUND", "the delegation token does not exist"),
        DelegationTokenOwnerMismatch => ("DELEGATION_TOKEN_OWNER_MISMATCH", "the principal is not the owner or renewer of the token"),
        DelegationTokenRequestNotAllowed => ("DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", "delegation token requests are not allowed on this channel"),
        DelegationTokenAuthorizationFailed => ("DELEGATION_TOKEN_AUTHORIZATION_FAILED", "delegation token authorization failed"),
        DelegationTokenExpired => ("DELEGATION_TOKEN_EXPIRED", "the delegation token has expired"),
        InvalidPrincipalType => ("INVALID_PRINCIPAL_TYPE", "the principal type is not supported (use User:<name>)"),
        NonEmptyGroup => ("NON_EMPTY_GROUP", "the group still has members"),
        GroupIdNotFound => ("GROUP_ID_NOT_FOUND", "the group does not exist"),
        FetchSessionIdNotFound => ("FETCH_SESSION_ID_NOT_FOUND", "the fetch session does not exist"),
        InvalidFetchSessionEpoch => ("INVALID_FETCH_SESSION_EPOCH", "the fetch session epoch is invalid"),
        ListenerNotFound => ("LISTENER_NOT_FOUND", "the leader has no listener matching the one this request arrived on"),
        TopicDeletionDisabled => ("TOPIC_DELETION_DISABLED", "topic deletion is disabled on the cluster (delete.topic.enable=false)"),
        FencedLeaderEpoch => ("FENCED_LEADER_EPOCH", "the leader epoch in the request is older than the broker's"),
        UnknownLeaderEpoch => ("UNKNOWN_LEADER_EPOCH", "the leader epoch in the request is newer than the broker's"),
        UnsupportedCompressionType => ("UNSUPPORTED_COMPRESSION_TYPE", "the broker does not support this compression type for the request"),
        StaleBrokerEpoch => ("STALE_BROKER_EPOCH", "the broker epoch is outdated"),
        OffsetNotAvailable => ("OFFSET_NOT_AVAILABLE", "the leader's high watermark has not caught up yet"),
        MemberIdRequired => ("MEMBER_ID_REQUIRED", "the group member needs a member id to join"),
        PreferredLeaderNotAvailable => ("PREFERRED_LEADER_NOT_AVAILABLE", "the preferred leader is not available"),
        GroupMaxSizeReached => ("GROUP_MAX_SIZE_REACHED", "the consumer group has reached its maximum size"),
        FencedInstanceId => ("FENCED_INSTANCE_ID", "another member with the same group.instance.id fenced this one"),
        EligibleLeadersNotAvailable => ("ELIGIBLE_LEADERS_NOT_AVAILABLE", "no eligible leader is available for the partition"),
        ElectionNotNeeded => ("ELECTION_NOT_NEEDED", "the leader election is not needed"),
        NoReassignmentInProgress => ("NO_REASSIGNMENT_IN_PROGRESS", "no partition reassignment is in progress"),
        GroupSubscribedToTopic => ("GROUP_SUBSCRIBED_TO_TOPIC", "the group is still subscribed to the topic"),
        InvalidRecord => ("INVALID_RECORD", "the record failed the broker's validation"),
        UnstableOffsetCommit => ("UNSTABLE_OFFSET_COMMIT", "there are unstable offsets that need to be cleared"),
        ThrottlingQuotaExceeded => ("THROTTLING_QUOTA_EXCEEDED", "the controller mutation quota was exceeded; slow down"),
        ProducerFenced => ("PRODUCER_FENCED", "a newer producer with the same transactional id fenced this one"),
        ResourceNotFound => ("RESOURCE_NOT_FOUND", "the resource does not exist (for SCRAM: the user has no credential for that mechanism)"),
        DuplicateResource => ("DUPLICATE_RESOURCE", "the same resource appears more than once in the request"),
        UnacceptableCredential => ("UNACCEPTABLE_CREDENTIAL", "the credential was rejected (e.g. SCRAM iterations outside 4096..16384, or an empty user name)"),
        InconsistentVoterSet => ("INCONSISTENT_VOTER_SET", "the voter set of the quorum is inconsistent"),
        InvalidUpdateVersion => ("INVALID_UPDATE_VERSION", "the feature update version is invalid"),
        FeatureUpdateFailed => ("FEATURE_UPDATE_FAILED", "the feature update failed"),
        PrincipalDeserializationFailure => ("PRINCIPAL_DESERIALIZATION_FAILURE", "the forwarded principal could not be deserialized"),
        SnapshotNotFound => ("SNAPSHOT_NOT_FOUND", "the requested snapshot does not exist"),
        PositionOutOfRange => ("POSITION_OUT_OF_RANGE", "the requested position is outside the snapshot"),
        UnknownTopicId => ("UNKNOWN_TOPIC_ID", "the topic id is not known to this broker"),
        DuplicateBrokerRegistration => ("DUPLICATE_BROKER_REGISTRATION", "a broker with this id is already registered"),
        BrokerIdNotRegistered => ("BROKER_ID_NOT_REGISTERED", "the broker id is not registered"),
        InconsistentTopicId => ("INCONSISTENT_TOPIC_ID", "the topic id does not match the topic id in the log"),
        InconsistentClusterId => ("INCONSISTENT_CLUSTER_ID", "the cluster id does not match"),
        TransactionalIdNotFound => ("TRANSACTIONAL_ID_NOT_FOUND", "the transactional id does not exist"),
        FetchSessionTopicIdError => ("FETCH_SESSION_TOPIC_ID_ERROR", "the fetch session's topic ids are inconsistent"),
        IneligibleReplica => ("INELIGIBLE_REPLICA", "the new ISR contains at least one ineligible replica"),
        NewLeaderElected => ("NEW_LEADER_ELECTED", "a new leader was elected while the ISR was being changed"),
        OffsetMovedToTieredStorage => ("OFFSET_MOVED_TO_TIERED_STORAGE", "the offset has moved to tiered storage"),
        FencedMemberEpoch => ("FENCED_MEMBER_EPOCH", "the member epoch is fenced"),
        UnreleasedInstanceId => ("UNRELEASED_INSTANCE_ID", "the instance id is still in use by another member"),
        UnsupportedAssignor => ("UNSUPPORTED_ASSIGNOR", "the assignor is not supported by the group"),
        StaleMemberEpoch => ("STALE_MEMBER_EPOCH", "the member epoch is stale"),
        MismatchedEndpointType => ("MISMATCHED_ENDPOINT_TYPE", "the request was sent to the wrong kind of endpoint (broker vs controller)"),
        UnsupportedEndpointType => ("UNSUPPORTED_ENDPOINT_TYPE", "this endpoint type does not support the request"),
        UnknownControllerId => ("UNKNOWN_CONTROLLER_ID", "the controller id is not known"),
        UnknownSubscriptionId => ("UNKNOWN_SUBSCRIPTION_ID", "the client metrics subscription id is not known"),
        TelemetryTooLarge => ("TELEMETRY_TOO_LARGE", "the client telemetry is too large"),
        InvalidRegistration => ("INVALID_REGISTRATION", "the controller considers the broker registration invalid"),
        TransactionAbortable => ("TRANSACTION_ABORTABLE", "the transaction must be aborted"),
        InvalidRecordState => ("INVALID_RECORD_STATE", "the record state is invalid"),
        ShareSessionNotFound => ("SHARE_SESSION_NOT_FOUND", "the share session does not exist"),
        InvalidShareSessionEpoch => ("INVALID_SHARE_SESSION_EPOCH", "the share session epoch is invalid"),
        FencedStateEpoch => ("FENCED_STATE_EPOCH", "the share coordinator state epoch is fenced"),
        InvalidVoterKey => ("INVALID_VOTER_KEY", "the voter key does not match the receiving replica"),
        DuplicateVoter => ("DUPLICATE_VOTER", "the voter is already in the voter set"),
        VoterNotFound => ("VOTER_NOT_FOUND", "the voter is not in the voter set"),
        InvalidRegularExpression => ("INVALID_REGULAR_EXPRESSION", "the regular expression is invalid"),
        RebootstrapRequired => ("REBOOTSTRAP_REQUIRED", "the client must bootstrap again from its configured servers"),
        StreamsInvalidTopology => ("STREAMS_INVALID_TOPOLOGY", "the streams topology is invalid"),
        StreamsInvalidTopologyEpoch => ("STREAMS_INVALID_TOPOLOGY_EPOCH", "the streams topology epoch is invalid"),
        StreamsTopologyFenced => ("STREAMS_TOPOLOGY_FENCED", "the streams topology is fenced"),
        ShareSessionLimitReached => ("SHARE_SESSION_LIMIT_REACHED", "the broker has reached its limit of share sessions"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NotController` -> `NOT_CONTROLLER`.
    fn screaming_snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn every_known_code_has_kafkas_name_and_the_protocol_crates_retriability() {
        for code in (-1..=200i16).filter(|&c| c != 0) {
            let known = ResponseError::try_from_code(code).expect("non-zero code");
            if matches!(known, ResponseError::Unknown(_)) {
                continue;
            }
            let info = lookup(code);
            assert_eq!(info.name, screaming_snake(&known.to_string()), "code {code}");
            assert_eq!(info.retriable, known.is_retriable(), "retriability of {}", info.name);
        }
    }

    #[test]
    fn unknown_codes_get_a_generic_entry() {
        for code in [9999, 0] {
            let info = lookup(code);
            assert_eq!(info.code, code);
            assert_eq!(info.name, "UNKNOWN_CODE");
            assert!(!info.retriable);
        }
    }

    #[test]
    fn lookup_finds_named_codes() {
        assert_eq!(lookup(41).name, "NOT_CONTROLLER");
        assert!(lookup(41).retriable);
        assert_eq!(lookup(58).name, "SASL_AUTHENTICATION_FAILED");
        assert_eq!(lookup(-1).name, "UNKNOWN_SERVER_ERROR");
    }
}
