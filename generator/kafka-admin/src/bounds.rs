//! Checks every length a response claims against the bytes left in its frame, before
//! kafka-protocol decodes it.
//!
//! kafka-protocol 0.18 reserves a `Vec`'s capacity from the element count an array claims, before
//! it reads a single element: a 10-byte ApiVersions response claiming 2^31 entries asks for tens
//! of gigabytes and the allocator aborts the process (no panic, so no guard can catch it). So each
//! response is first walked against a description of its layout, for every version the client can
//! negotiate, and refused when an array, string or byte string claims more than the frame still
//! holds. The layouts mirror Kafka's message definitions; the tests check each one against
//! kafka-protocol's own encoder, version by version.

use kafka_protocol::messages::ApiKey;

mod cluster_health;
mod log_dirs;

/// The wire type of one field. Nullability is not described: a null length never allocates.
#[derive(Debug, Clone, Copy)]
enum Ty {
    /// Integers, booleans, UUIDs: a fixed number of bytes.
    Fixed(usize),
    /// A string (int16 length, or compact in flexible versions).
    Str,
    /// A byte string (int32 length, or compact in flexible versions).
    Bytes,
    /// An array (int32 count, or compact in flexible versions).
    Array(&'static Ty),
    /// A structure (in flexible versions it ends with its own tagged fields).
    Struct(&'static [Field]),
}

/// One field: the versions it is present in and, for a tagged field, its tag.
#[derive(Debug, Clone, Copy)]
struct Field {
    min: i16,
    max: i16,
    tag: Option<u32>,
    ty: Ty,
}

const fn f(min: i16, ty: Ty) -> Field {
    Field { min, max: i16::MAX, tag: None, ty }
}

const fn upto(min: i16, max: i16, ty: Ty) -> Field {
    Field { min, max, tag: None, ty }
}

const fn tagged(tag: u32, min: i16, ty: Ty) -> Field {
    Field { min, max: i16::MAX, tag: Some(tag), ty }
}

const I8: Ty = Ty::Fixed(1);
const BOOL: Ty = Ty::Fixed(1);
const I16: Ty = Ty::Fixed(2);
const I32: Ty = Ty::Fixed(4);
const I64: Ty = Ty::Fixed(8);
const UUID: Ty = Ty::Fixed(16);
const STR: Ty = Ty::Str;

/// The layout of one response: versions the client may decode and the first flexible version.
struct Layout {
    versions: (i16, i16),
    flexible_from: i16,
    fields: &'static [Field],
}

// ApiVersions: the element structs exist in all versions; the feature lists are tagged (v3+).
const API_VERSION: &[Field] = &[f(0, I16), f(0, I16), f(0, I16)];
const FEATURE: &[Field] = &[f(3, STR), f(3, I16), f(3, I16)];
const API_VERSIONS: Layout = Layout {
    versions: (0, 4),
    flexible_from: 3,
    fields: &[
        f(0, I16),
        f(0, Ty::Array(&Ty::Struct(API_VERSION))),
        f(1, I32),
        tagged(0, 3, Ty::Array(&Ty::Struct(FEATURE))),
        tagged(1, 3, I64),
        tagged(2, 3, Ty::Array(&Ty::Struct(FEATURE))),
        tagged(3, 3, BOOL),
    ],
};

const SASL_HANDSHAKE: Layout =
    Layout { versions: (0, 1), flexible_from: i16::MAX, fields: &[f(0, I16), f(0, Ty::Array(&STR))] };

const SASL_AUTHENTICATE: Layout = Layout {
    versions: (0, 2),
    flexible_from: 2,
    fields: &[f(0, I16), f(0, STR), f(0, Ty::Bytes), f(1, I64)],
};

const METADATA_BROKER: &[Field] = &[f(0, I32), f(0, STR), f(0, I32), f(1, STR)];
const METADATA_PARTITION: &[Field] = &[
    f(0, I16),
    f(0, I32),
    f(0, I32),
    f(7, I32),
    f(0, Ty::Array(&I32)),
    f(0, Ty::Array(&I32)),
    f(5, Ty::Array(&I32)),
];
const METADATA_TOPIC: &[Field] = &[
    f(0, I16),
    f(0, STR),
    f(10, UUID),
    f(1, BOOL),
    f(0, Ty::Array(&Ty::Struct(METADATA_PARTITION))),
    f(8, I32),
];
const METADATA: Layout = Layout {
    versions: (0, 13),
    flexible_from: 9,
    fields: &[
        f(3, I32),
        f(0, Ty::Array(&Ty::Struct(METADATA_BROKER))),
        f(2, STR),
        f(1, I32),
        f(0, Ty::Array(&Ty::Struct(METADATA_TOPIC))),
        upto(8, 10, I32),
        f(13, I16),
    ],
};

const CREATABLE_TOPIC_CONFIG: &[Field] = &[f(5, STR), f(5, STR), f(5, BOOL), f(5, I8), f(5, BOOL)];
const CREATABLE_TOPIC_RESULT: &[Field] = &[
    f(0, STR),
    f(7, UUID),
    f(0, I16),
    f(0, STR),
    tagged(0, 5, I16),
    f(5, I32),
    f(5, I16),
    f(5, Ty::Array(&Ty::Struct(CREATABLE_TOPIC_CONFIG))),
];
const CREATE_TOPICS: Layout = Layout {
    versions: (2, 7),
    flexible_from: 5,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(CREATABLE_TOPIC_RESULT)))],
};

const DELETABLE_TOPIC_RESULT: &[Field] = &[f(0, STR), f(6, UUID), f(0, I16), f(5, STR)];
const DELETE_TOPICS: Layout = Layout {
    versions: (1, 6),
    flexible_from: 4,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(DELETABLE_TOPIC_RESULT)))],
};

const CREATE_PARTITIONS_RESULT: &[Field] = &[f(0, STR), f(0, I16), f(0, STR)];
const CREATE_PARTITIONS: Layout = Layout {
    versions: (0, 3),
    flexible_from: 2,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(CREATE_PARTITIONS_RESULT)))],
};

const CONFIG_SYNONYM: &[Field] = &[f(0, STR), f(0, STR), f(0, I8)];
const CONFIG_ENTRY: &[Field] = &[
    f(0, STR),
    f(0, STR),
    f(0, BOOL),
    f(0, I8),
    f(0, BOOL),
    f(0, Ty::Array(&Ty::Struct(CONFIG_SYNONYM))),
    f(3, I8),
    f(3, STR),
];
const DESCRIBE_CONFIGS_RESULT: &[Field] =
    &[f(0, I16), f(0, STR), f(0, I8), f(0, STR), f(0, Ty::Array(&Ty::Struct(CONFIG_ENTRY)))];
const DESCRIBE_CONFIGS: Layout = Layout {
    versions: (1, 4),
    flexible_from: 4,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(DESCRIBE_CONFIGS_RESULT)))],
};

const ALTER_CONFIGS_RESULT: &[Field] = &[f(0, I16), f(0, STR), f(0, I8), f(0, STR)];
const INCREMENTAL_ALTER_CONFIGS: Layout = Layout {
    versions: (0, 1),
    flexible_from: 1,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(ALTER_CONFIGS_RESULT)))],
};

const ACL_DESCRIPTION: &[Field] = &[f(0, STR), f(0, STR), f(0, I8), f(0, I8)];
const ACL_RESOURCE: &[Field] =
    &[f(0, I8), f(0, STR), f(0, I8), f(0, Ty::Array(&Ty::Struct(ACL_DESCRIPTION)))];
const DESCRIBE_ACLS: Layout = Layout {
    versions: (1, 3),
    flexible_from: 2,
    fields: &[f(0, I32), f(0, I16), f(0, STR), f(0, Ty::Array(&Ty::Struct(ACL_RESOURCE)))],
};

const ACL_CREATION_RESULT: &[Field] = &[f(0, I16), f(0, STR)];
const CREATE_ACLS: Layout = Layout {
    versions: (1, 3),
    flexible_from: 2,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(ACL_CREATION_RESULT)))],
};

const MATCHING_ACL: &[Field] =
    &[f(0, I16), f(0, STR), f(0, I8), f(0, STR), f(0, I8), f(0, STR), f(0, STR), f(0, I8), f(0, I8)];
const DELETE_ACLS_FILTER_RESULT: &[Field] =
    &[f(0, I16), f(0, STR), f(0, Ty::Array(&Ty::Struct(MATCHING_ACL)))];
const DELETE_ACLS: Layout = Layout {
    versions: (1, 3),
    flexible_from: 2,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(DELETE_ACLS_FILTER_RESULT)))],
};

const CREDENTIAL_INFO: &[Field] = &[f(0, I8), f(0, I32)];
const DESCRIBE_SCRAM_RESULT: &[Field] =
    &[f(0, STR), f(0, I16), f(0, STR), f(0, Ty::Array(&Ty::Struct(CREDENTIAL_INFO)))];
const DESCRIBE_USER_SCRAM_CREDENTIALS: Layout = Layout {
    versions: (0, 0),
    flexible_from: 0,
    fields: &[f(0, I32), f(0, I16), f(0, STR), f(0, Ty::Array(&Ty::Struct(DESCRIBE_SCRAM_RESULT)))],
};

const ALTER_SCRAM_RESULT: &[Field] = &[f(0, STR), f(0, I16), f(0, STR)];
const ALTER_USER_SCRAM_CREDENTIALS: Layout = Layout {
    versions: (0, 0),
    flexible_from: 0,
    fields: &[f(0, I32), f(0, Ty::Array(&Ty::Struct(ALTER_SCRAM_RESULT)))],
};

fn layout(key: i16) -> Option<&'static Layout> {
    Some(match ApiKey::try_from(key).ok()? {
        ApiKey::ApiVersions => &API_VERSIONS,
        ApiKey::SaslHandshake => &SASL_HANDSHAKE,
        ApiKey::SaslAuthenticate => &SASL_AUTHENTICATE,
        ApiKey::Metadata => &METADATA,
        ApiKey::CreateTopics => &CREATE_TOPICS,
        ApiKey::DeleteTopics => &DELETE_TOPICS,
        ApiKey::CreatePartitions => &CREATE_PARTITIONS,
        ApiKey::DescribeConfigs => &DESCRIBE_CONFIGS,
        ApiKey::IncrementalAlterConfigs => &INCREMENTAL_ALTER_CONFIGS,
        ApiKey::DescribeAcls => &DESCRIBE_ACLS,
        ApiKey::CreateAcls => &CREATE_ACLS,
        ApiKey::DeleteAcls => &DELETE_ACLS,
        ApiKey::DescribeUserScramCredentials => &DESCRIBE_USER_SCRAM_CREDENTIALS,
        ApiKey::AlterUserScramCredentials => &ALTER_USER_SCRAM_CREDENTIALS,
        _ => return cluster_health::layout(key).or_else(|| log_dirs::layout(key)),
    })
}

/// Checks a response body of API `key` at `version`: every claimed length fits in what is left
/// of the body. Returns how many bytes the response takes (trailing bytes are ignored, as
/// kafka-protocol ignores them). Responses of an API without a known layout are refused, so that
/// a new API cannot bypass the check.
pub(crate) fn check(key: i16, version: i16, body: &[u8]) -> Result<usize, String> {
    let layout = layout(key).ok_or_else(|| format!("no response layout is known for API key {key}"))?;
    if version < layout.versions.0 || version > layout.versions.1 {
        return Err(format!("no response layout is known for version {version}"));
    }
    let mut walker = Walker { body, pos: 0, version, flexible: version >= layout.flexible_from };
    walker.fields(layout.fields)?;
    Ok(walker.pos)
}

/// The fields of a structure that exist in `version`.
fn present(fields: &[Field], version: i16) -> impl Iterator<Item = &Field> {
    fields.iter().filter(move |f| (f.min..=f.max).contains(&version))
}

struct Walker<'a> {
    body: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
}

impl Walker<'_> {
    fn remaining(&self) -> usize {
        self.body.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.remaining() {
            return Err(format!("truncated response: {n} bytes needed at offset {}", self.pos));
        }
        let bytes = &self.body[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// An unsigned varint, read as kafka-protocol reads it (at most five bytes).
    fn uvarint(&mut self) -> Result<u32, String> {
        let mut value = 0u32;
        for i in 0..5 {
            let b = self.take(1)?[0];
            value |= u32::from(b & 0x7f) << (i * 7);
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    /// A length prefix: `Some(n)`, or `None` for null. Compact lengths are stored plus one.
    fn length(&mut self, width: usize) -> Result<Option<usize>, String> {
        let at = self.pos;
        let n: i64 = if self.flexible {
            i64::from(self.uvarint()?) - 1
        } else if width == 2 {
            i64::from(i16::from_be_bytes(self.take(2)?.try_into().expect("two bytes")))
        } else {
            i64::from(i32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
        };
        match n {
            -1 => Ok(None),
            n if n < -1 => Err(format!("negative length {n} at offset {at}")),
            n => Ok(Some(usize::try_from(n).map_err(|_| format!("length {n} at offset {at}"))?)),
        }
    }

    fn ty(&mut self, ty: &Ty) -> Result<(), String> {
        match *ty {
            Ty::Fixed(n) => self.take(n).map(drop),
            Ty::Str | Ty::Bytes => {
                let at = self.pos;
                let width = if matches!(ty, Ty::Str) { 2 } else { 4 };
                if let Some(n) = self.length(width)? {
                    if n > self.remaining() {
                        return Err(format!(
                            "a length of {n} bytes at offset {at}, but only {} bytes follow",
                            self.remaining()
                        ));
                    }
                    self.pos += n;
                }
                Ok(())
            }
            Ty::Array(element) => {
                let at = self.pos;
                let Some(count) = self.length(4)? else { return Ok(()) };
                let least = self.min_size(element);
                if count.saturating_mul(least) > self.remaining() {
                    return Err(format!(
                        "an array of {count} elements at offset {at}, but only {} bytes follow",
                        self.remaining()
                    ));
                }
                (0..count).try_for_each(|_| self.ty(element))
            }
            Ty::Struct(fields) => self.fields(fields),
        }
    }

    fn fields(&mut self, fields: &[Field]) -> Result<(), String> {
        for field in present(fields, self.version).filter(|f| f.tag.is_none()) {
            self.ty(&field.ty)?;
        }
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint()?;
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let at = self.pos;
            if size > self.remaining() {
                return Err(format!(
                    "a tagged field of {size} bytes at offset {at}, but only {} bytes follow",
                    self.remaining()
                ));
            }
            // kafka-protocol decodes a known tag as its type, whatever size the frame claims.
            match present(fields, self.version).find(|f| f.tag == Some(tag)) {
                Some(field) => {
                    self.ty(&field.ty)?;
                    if self.pos - at != size {
                        return Err(format!(
                            "tagged field {tag} at offset {at} does not have its size {size}"
                        ));
                    }
                }
                None => self.pos += size,
            }
        }
        Ok(())
    }

    /// The fewest bytes one value of `ty` can take: an array claiming more elements than the
    /// rest of the body could hold at this size is refused before anything is reserved.
    fn min_size(&self, ty: &Ty) -> usize {
        let prefix = |width: usize| if self.flexible { 1 } else { width };
        match *ty {
            Ty::Fixed(n) => n,
            Ty::Str => prefix(2),
            Ty::Bytes | Ty::Array(_) => prefix(4),
            Ty::Struct(fields) => {
                let own: usize = present(fields, self.version)
                    .filter(|f| f.tag.is_none())
                    .map(|f| self.min_size(&f.ty))
                    .sum();
                // Never below one byte, so that a count is always bounded by the bytes left.
                (own + usize::from(self.flexible)).max(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, Message, StrBytes};

    fn s(text: &'static str) -> StrBytes {
        StrBytes::from_static_str(text)
    }

    fn encode<M: Encodable + Message>(message: &M, version: i16) -> Bytes {
        let mut buf = BytesMut::new();
        message.encode(&mut buf, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
        buf.freeze()
    }

    /// Every version of a response, encoded by kafka-protocol with non-empty arrays and strings
    /// at every level, walks to its exact end: the layout matches the message definition.
    fn layout_matches<M: Encodable + Message>(key: ApiKey, build: impl Fn(i16) -> M) {
        let layout = layout(key as i16).expect("layout");
        assert_eq!(layout.versions, (M::VERSIONS.min, M::VERSIONS.max), "{key:?}: versions");
        for version in M::VERSIONS.min..=M::VERSIONS.max {
            let body = encode(&build(version), version);
            assert_eq!(check(key as i16, version, &body), Ok(body.len()), "{key:?} v{version}");
        }
    }

    #[test]
    fn layouts_match_kafka_protocol_for_every_version() {
        use api_versions_response::*;
        layout_matches(ApiKey::ApiVersions, |v| {
            let r = ApiVersionsResponse::default()
                .with_api_keys(vec![ApiVersion::default().with_api_key(3).with_max_version(12); 2])
                .with_throttle_time_ms(if v >= 1 { 7 } else { 0 });
            if v < 3 {
                return r;
            }
            r.with_supported_features(vec![SupportedFeatureKey::default().with_name(s("kraft.version"))])
                .with_finalized_features_epoch(4)
                .with_finalized_features(vec![
                    FinalizedFeatureKey::default().with_name(s("metadata.version")),
                ])
                .with_zk_migration_ready(true)
        });
        layout_matches(ApiKey::SaslHandshake, |_| {
            SaslHandshakeResponse::default().with_mechanisms(vec![s("SCRAM-SHA-512"), s("PLAIN")])
        });
        layout_matches(ApiKey::SaslAuthenticate, |v| {
            SaslAuthenticateResponse::default()
                .with_error_message(Some(s("bad")))
                .with_auth_bytes(Bytes::from_static(b"v=abc"))
                .with_session_lifetime_ms(if v >= 1 { 9 } else { 0 })
        });
        layout_matches(ApiKey::Metadata, |v| {
            use metadata_response::*;
            let partition = MetadataResponsePartition::default()
                .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
                .with_isr_nodes(vec![BrokerId(1)])
                .with_offline_replicas(if v >= 5 { vec![BrokerId(2)] } else { vec![] });
            let topic = MetadataResponseTopic::default()
                .with_name(Some(TopicName(s("orders"))))
                .with_partitions(vec![partition; 2]);
            let broker = MetadataResponseBroker::default().with_host(s("b-1")).with_rack(if v >= 1 {
                Some(s("a"))
            } else {
                None
            });
            MetadataResponse::default()
                .with_brokers(vec![broker; 2])
                .with_cluster_id(if v >= 2 { Some(s("c")) } else { None })
                .with_topics(vec![topic; 2])
        });
        layout_matches(ApiKey::CreateTopics, |v| {
            use create_topics_response::*;
            let mut topic = CreatableTopicResult::default()
                .with_name(TopicName(s("orders")))
                .with_error_message(Some(s("exists")));
            if v >= 5 {
                topic = topic.with_topic_config_error_code(29).with_configs(Some(
                    vec![CreatableTopicConfigs::default().with_name(s("retention.ms")); 2],
                ));
            }
            CreateTopicsResponse::default().with_topics(vec![topic; 2])
        });
        layout_matches(ApiKey::DeleteTopics, |v| {
            use delete_topics_response::*;
            let topic = DeletableTopicResult::default()
                .with_name(Some(TopicName(s("orders"))))
                .with_error_message(if v >= 5 { Some(s("gone")) } else { None });
            DeleteTopicsResponse::default().with_responses(vec![topic; 2])
        });
        layout_matches(ApiKey::CreatePartitions, |_| {
            use create_partitions_response::*;
            let result = CreatePartitionsTopicResult::default()
                .with_name(TopicName(s("orders")))
                .with_error_message(Some(s("no")));
            CreatePartitionsResponse::default().with_results(vec![result; 2])
        });
        layout_matches(ApiKey::DescribeConfigs, |v| {
            use describe_configs_response::*;
            let synonym = DescribeConfigsSynonym::default().with_name(s("log.retention.ms"));
            let entry = DescribeConfigsResourceResult::default()
                .with_name(s("retention.ms"))
                .with_value(Some(s("1")))
                .with_synonyms(vec![synonym; 2])
                .with_documentation(if v >= 3 { Some(s("docs")) } else { None });
            let result = DescribeConfigsResult::default()
                .with_resource_name(s("orders"))
                .with_error_message(Some(s("e")))
                .with_configs(vec![entry; 2]);
            DescribeConfigsResponse::default().with_results(vec![result; 2])
        });
        layout_matches(ApiKey::IncrementalAlterConfigs, |_| {
            use incremental_alter_configs_response::*;
            let r = AlterConfigsResourceResponse::default()
                .with_resource_name(s("orders"))
                .with_error_message(Some(s("e")));
            IncrementalAlterConfigsResponse::default().with_responses(vec![r; 2])
        });
        layout_matches(ApiKey::DescribeAcls, |_| {
            use describe_acls_response::*;
            let acl = AclDescription::default().with_principal(s("User:a")).with_host(s("*"));
            let resource =
                DescribeAclsResource::default().with_resource_name(s("orders")).with_acls(vec![acl; 2]);
            DescribeAclsResponse::default().with_error_message(Some(s("e"))).with_resources(vec![resource; 2])
        });
        layout_matches(ApiKey::CreateAcls, |_| {
            use create_acls_response::*;
            let r = AclCreationResult::default().with_error_message(Some(s("e")));
            CreateAclsResponse::default().with_results(vec![r; 2])
        });
        layout_matches(ApiKey::DeleteAcls, |_| {
            use delete_acls_response::*;
            let acl = DeleteAclsMatchingAcl::default()
                .with_error_message(Some(s("e")))
                .with_resource_name(s("orders"))
                .with_principal(s("User:a"))
                .with_host(s("*"));
            let r = DeleteAclsFilterResult::default().with_matching_acls(vec![acl; 2]);
            DeleteAclsResponse::default().with_filter_results(vec![r; 2])
        });
        layout_matches(ApiKey::DescribeUserScramCredentials, |_| {
            use describe_user_scram_credentials_response::*;
            let r = DescribeUserScramCredentialsResult::default()
                .with_user(s("app"))
                .with_error_message(Some(s("e")))
                .with_credential_infos(vec![CredentialInfo::default().with_iterations(8192); 2]);
            DescribeUserScramCredentialsResponse::default().with_results(vec![r; 2])
        });
        layout_matches(ApiKey::AlterUserScramCredentials, |_| {
            use alter_user_scram_credentials_response::*;
            let r = AlterUserScramCredentialsResult::default().with_user(s("app"));
            AlterUserScramCredentialsResponse::default().with_results(vec![r; 2])
        });
    }

    fn refused(key: ApiKey, version: i16, body: &[u8]) -> String {
        check(key as i16, version, body).expect_err("refused")
    }

    #[test]
    fn claimed_counts_beyond_the_body_are_refused() {
        // error code 0, then 2^31-1 entries in 4 bytes: kafka-protocol would reserve ~64 GiB.
        let e = refused(ApiKey::ApiVersions, 0, &[0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(e.contains("2147483647 elements"), "{e}");
        // The compact form: a varint count of 2^32-2.
        let e = refused(ApiKey::ApiVersions, 3, &[0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0]);
        assert!(e.contains("4294967294 elements"), "{e}");
        // Ten elements of 6 bytes cannot fit in 12 bytes, even though 10 < 12.
        let mut body = vec![0, 0, 0, 0, 0, 10];
        body.extend([0; 12]);
        assert!(refused(ApiKey::ApiVersions, 0, &body).contains("10 elements"));
        // A known tagged field (supported_features) is decoded from the frame too.
        let e = refused(ApiKey::ApiVersions, 3, &[0, 0, 1, 0, 0, 0, 0, 1, 0, 5, 0xff, 0xff, 0xff, 0x0f, 0]);
        assert!(e.contains("elements"), "{e}");
    }

    #[test]
    fn claimed_lengths_beyond_the_body_are_refused() {
        // SaslAuthenticate v1: error code, null message, 2 GiB of auth bytes in 3.
        let e = refused(ApiKey::SaslAuthenticate, 1, &[0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert!(e.contains("2147483647 bytes"), "{e}");
        // A compact string of 2^32-2 bytes.
        let e = refused(ApiKey::SaslAuthenticate, 2, &[0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
        assert!(e.contains("bytes"), "{e}");
        let e = refused(ApiKey::SaslHandshake, 1, &[0, 0, 0, 0, 0, 1, 0x80, 0]);
        assert!(e.contains("negative length"), "{e}");
        // An unknown tagged field longer than the body.
        let e = refused(ApiKey::SaslAuthenticate, 2, &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 100, 0]);
        assert!(e.contains("tagged field of 100 bytes"), "{e}");
    }

    #[test]
    fn truncated_responses_and_unknown_apis_are_refused() {
        assert!(refused(ApiKey::Metadata, 12, &[0, 0, 0]).contains("truncated"));
        assert!(refused(ApiKey::Produce, 9, &[]).contains("no response layout"));
        assert!(refused(ApiKey::Metadata, 14, &[]).contains("no response layout"));
    }
}
