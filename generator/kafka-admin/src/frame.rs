//! Kafka framing: a 4-byte big-endian length, then a header and the message body. Pure functions
//! plus one async reader, so the connection code stays small.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::bounds;

/// Responses larger than this are refused: a corrupt length (or a server that is not Kafka, e.g. a
/// TLS endpoint spoken to in plaintext) must not exhaust memory, and decoding multiplies a frame's
/// size several times over. Metadata of 50,000 topics of 6 partitions takes about 15 MB.
pub(crate) const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// What a frame reserves before its bytes arrive: memory follows the bytes actually received,
/// never the length a peer merely claims.
const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

/// The name of an API for messages and statistics, e.g. `CreateTopics`.
pub(crate) fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(ApiKey::Metadata) => "Metadata",
        Ok(ApiKey::ApiVersions) => "ApiVersions",
        Ok(ApiKey::SaslHandshake) => "SaslHandshake",
        Ok(ApiKey::SaslAuthenticate) => "SaslAuthenticate",
        Ok(ApiKey::CreateTopics) => "CreateTopics",
        Ok(ApiKey::DeleteTopics) => "DeleteTopics",
        Ok(ApiKey::CreatePartitions) => "CreatePartitions",
        Ok(ApiKey::DescribeConfigs) => "DescribeConfigs",
        Ok(ApiKey::IncrementalAlterConfigs) => "IncrementalAlterConfigs",
        Ok(ApiKey::DescribeAcls) => "DescribeAcls",
        Ok(ApiKey::CreateAcls) => "CreateAcls",
        Ok(ApiKey::DeleteAcls) => "DeleteAcls",
        Ok(ApiKey::DescribeUserScramCredentials) => "DescribeUserScramCredentials",
        Ok(ApiKey::AlterUserScramCredentials) => "AlterUserScramCredentials",
        _ => "KafkaApi",
    }
}

/// Encodes one request frame, length prefix included.
pub(crate) fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<BytesMut, String> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    header.encode(&mut buf, R::header_version(version)).map_err(|e| format!("request header: {e}"))?;
    request.encode(&mut buf, version).map_err(|e| format!("request v{version}: {e}"))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| "request larger than 2 GiB".to_string())?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Splits a response frame (without its length prefix) into header and body, checking that it
/// answers the request with `correlation_id`.
pub(crate) fn response_body<R: Request>(
    mut frame: Bytes,
    version: i16,
    correlation_id: i32,
) -> Result<Bytes, String> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let header =
        ResponseHeader::decode(&mut frame, header_version).map_err(|e| format!("response header: {e}"))?;
    if header.correlation_id != correlation_id {
        return Err(format!(
            "response correlation id {} does not match request {correlation_id}",
            header.correlation_id
        ));
    }
    Ok(frame)
}

/// Decodes a response body of the given version, once every length it claims is known to fit
/// (see `bounds`).
pub(crate) fn decode_body<R: Request>(mut body: Bytes, version: i16) -> Result<R::Response, String> {
    bounds::check(R::KEY, version, &body).map_err(|e| format!("malformed response v{version}: {e}"))?;
    <R::Response as Decodable>::decode(&mut body, version).map_err(|e| format!("response v{version}: {e}"))
}

/// Validates a length prefix.
pub(crate) fn frame_length(prefix: [u8; 4]) -> Result<usize, String> {
    let len = i32::from_be_bytes(prefix);
    match usize::try_from(len) {
        Ok(n) if n <= MAX_FRAME_BYTES => Ok(n),
        _ => Err(format!(
            "invalid response length {len} (is this a Kafka listener that speaks the expected security protocol?)"
        )),
    }
}

/// Why reading a frame failed: the transport, a frame cut short (the connection ended inside
/// it), or a frame that cannot be Kafka.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    Truncated(String),
    Invalid(String),
}

/// Reads one length-prefixed frame and returns it without the prefix.
pub(crate) async fn read_frame<S: AsyncRead + Unpin + ?Sized>(stream: &mut S) -> Result<Bytes, ReadError> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await.map_err(ReadError::Io)?;
    let len = frame_length(prefix).map_err(ReadError::Invalid)?;
    let mut buf = Vec::with_capacity(len.min(INITIAL_FRAME_CAPACITY));
    (&mut *stream).take(len as u64).read_to_end(&mut buf).await.map_err(ReadError::Io)?;
    if buf.len() < len {
        let got = buf.len();
        return Err(ReadError::Truncated(format!(
            "the connection ended after {got} of {len} response bytes"
        )));
    }
    Ok(Bytes::from(buf))
}

/// Reads the error code that starts the body of every ApiVersions response version, without
/// decoding the rest (whose layout depends on a version the broker may have refused).
pub(crate) fn leading_error_code(body: &Bytes) -> Option<i16> {
    (body.len() >= 2).then(|| body.clone().get_i16())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};

    #[test]
    fn request_frame_has_length_prefix_and_header() {
        let frame =
            encode_request(&MetadataRequest::default().with_topics(Some(vec![])), 12, 7, "cli").unwrap();
        let len = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        // api key 3 (Metadata), version 12, correlation id 7, client id "cli" (int16 length).
        assert_eq!(&frame[4..8], &[0, 3, 0, 12]);
        assert_eq!(&frame[8..12], &7i32.to_be_bytes());
        assert_eq!(&frame[12..17], &[0, 3, b'c', b'l', b'i']);
        // Header v2 ends with an empty tagged-field section.
        assert_eq!(frame[17], 0);
    }

    #[test]
    fn fields_missing_from_a_version_are_an_encoding_error() {
        // allow_auto_topic_creation=false does not exist before v4.
        let req = MetadataRequest::default().with_allow_auto_topic_creation(false);
        assert!(encode_request(&req, 3, 1, "c").is_err());
        assert!(encode_request(&req, 4, 1, "c").is_ok());
    }

    fn response_frame(correlation_id: i32, version: i16) -> Bytes {
        let header = ResponseHeader::default().with_correlation_id(correlation_id);
        let body = MetadataResponse::default().with_controller_id(BrokerId(2)).with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(2))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(19093),
        ]);
        let mut buf = BytesMut::new();
        header.encode(&mut buf, MetadataResponse::header_version(version)).unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn response_is_decoded_after_its_header() {
        let body = response_body::<MetadataRequest>(response_frame(42, 12), 12, 42).unwrap();
        let resp = decode_body::<MetadataRequest>(body, 12).unwrap();
        assert_eq!(resp.controller_id, BrokerId(2));
        assert_eq!(resp.brokers[0].port, 19093);
    }

    #[test]
    fn mismatched_correlation_id_is_refused() {
        let e = response_body::<MetadataRequest>(response_frame(41, 12), 12, 42).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
    }

    #[test]
    fn absurd_lengths_are_refused() {
        assert_eq!(frame_length(10i32.to_be_bytes()), Ok(10));
        assert!(frame_length((-1i32).to_be_bytes()).is_err());
        // "HTTP" read as a length: someone else's protocol.
        assert!(frame_length(*b"HTTP").is_err());
    }

    #[tokio::test]
    async fn frames_are_read_whole() {
        let mut wire: Vec<u8> = Vec::new();
        wire.extend_from_slice(&3i32.to_be_bytes());
        wire.extend_from_slice(b"abc");
        wire.extend_from_slice(&1i32.to_be_bytes());
        wire.extend_from_slice(b"z");
        let mut r = &wire[..];
        assert_eq!(&read_frame(&mut r).await.unwrap()[..], b"abc");
        assert_eq!(&read_frame(&mut r).await.unwrap()[..], b"z");
        assert!(matches!(read_frame(&mut r).await, Err(ReadError::Io(_))));
    }

    #[test]
    fn a_response_claiming_more_entries_than_it_holds_is_an_error_not_an_abort() {
        use kafka_protocol::messages::ApiVersionsRequest;
        // Before the bounds check, kafka-protocol reserved 2^31-1 entries here and the allocator
        // aborted the whole process.
        let body = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let e = decode_body::<ApiVersionsRequest>(body, 0).unwrap_err();
        assert!(e.starts_with("malformed response v0: an array of 2147483647 elements"), "{e}");
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_an_error() {
        let mut wire: Vec<u8> = 10i32.to_be_bytes().to_vec();
        wire.extend_from_slice(b"abc");
        let Err(ReadError::Truncated(e)) = read_frame(&mut &wire[..]).await else { panic!("read") };
        assert_eq!(e, "the connection ended after 3 of 10 response bytes");
    }

    #[test]
    fn frames_above_the_cap_are_refused() {
        assert!(frame_length((MAX_FRAME_BYTES as i32).to_be_bytes()).is_ok());
        assert!(frame_length((MAX_FRAME_BYTES as i32 + 1).to_be_bytes()).is_err());
        assert!(frame_length(0x7fff_ffffi32.to_be_bytes()).is_err());
    }

    #[test]
    fn api_names() {
        assert_eq!(api_name(19), "CreateTopics");
        assert_eq!(api_name(51), "AlterUserScramCredentials");
        assert_eq!(api_name(0), "KafkaApi");
    }
}
