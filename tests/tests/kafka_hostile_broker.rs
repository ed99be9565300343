//! `gen plan` against a broker that lies: a count of 2^31 array entries in a 10-byte response, a
//! SCRAM challenge of 2^32-1 iterations, a frame cut short, a frame header claiming 2 GB. Each run
//! must end with a clear error and exit code 1: no abort, no hang past the request timeout.
//!
//! A fake broker stands in here because no real broker misbehaves this way on demand. It is a
//! real TLS server on 127.0.0.1 with a server certificate of the test CA (`kafka.sh server-cert`),
//! so the client's TLS verification runs as against a real cluster; only the Kafka bytes are
//! scripted. The real `gen` binary runs on tests/fixtures/local-environment.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_common::*;
use platform_tests::gen_binary;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The admin client's default request timeout: every run must be over before it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

const API_VERSIONS: i16 = 18;
const METADATA: i16 = 3;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

/// How the fake broker lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lie {
    /// ApiVersions (the version asked for) claiming 2^31-1 entries.
    ApiVersionsCount,
    /// UNSUPPORTED_VERSION in the 10-byte v0 form, claiming 2^31-1 entries.
    ApiVersionsFallbackCount,
    /// Honest ApiVersions, then Metadata claiming 2^31-1 brokers.
    MetadataCount,
    /// Honest up to SCRAM, whose server-first asks for 2^32-1 iterations.
    ScramIterations,
    /// A frame announcing 100 bytes, 10 sent, then the connection closed.
    TruncatedFrame,
    /// A frame header of 2^31-1 bytes.
    HugeFrame,
}

fn uvarint(out: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A frame: length, correlation id, an empty tagged-field section for flexible headers, body.
fn frame(correlation_id: i32, flexible_header: bool, body: &[u8]) -> Vec<u8> {
    let mut inner = correlation_id.to_be_bytes().to_vec();
    if flexible_header {
        inner.push(0);
    }
    inner.extend_from_slice(body);
    let mut out = (inner.len() as i32).to_be_bytes().to_vec();
    out.extend(inner);
    out
}

/// An honest ApiVersions body offering what the admin client needs.
fn api_versions(version: i16) -> Vec<u8> {
    let apis: [(i16, i16, i16); 4] =
        [(METADATA, 0, 12), (SASL_HANDSHAKE, 0, 1), (API_VERSIONS, 0, 4), (SASL_AUTHENTICATE, 0, 2)];
    let mut b = vec![0, 0];
    if version >= 3 {
        uvarint(&mut b, apis.len() as u32 + 1);
    } else {
        b.extend((apis.len() as i32).to_be_bytes());
    }
    for (key, min, max) in apis {
        b.extend(key.to_be_bytes());
        b.extend(min.to_be_bytes());
        b.extend(max.to_be_bytes());
        if version >= 3 {
            b.push(0);
        }
    }
    if version >= 1 {
        b.extend(0i32.to_be_bytes());
    }
    if version >= 3 {
        b.push(0);
    }
    b
}

/// The client nonce of a SCRAM client-first message inside a request.
fn client_nonce(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(request);
    let start = text.find(",r=").expect("client-first message") + 3;
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "+/=".contains(*c)).collect()
}

/// What the fake broker sends for one request; `None` closes the connection.
fn answer(lie: Lie, key: i16, version: i16, correlation_id: i32, request: &[u8]) -> Option<Vec<u8>> {
    let huge_count = |b: &mut Vec<u8>, flexible: bool| {
        if flexible {
            uvarint(b, 0x8000_0000); // compact: count + 1
        } else {
            b.extend(0x7fff_ffffi32.to_be_bytes());
        }
        b.extend([0; 4]);
    };
    match (lie, key) {
        (Lie::ApiVersionsCount, API_VERSIONS) => {
            let mut body = vec![0, 0];
            huge_count(&mut body, version >= 3);
            Some(frame(correlation_id, false, &body))
        }
        (Lie::ApiVersionsFallbackCount, API_VERSIONS) => {
            // Error 35 (UNSUPPORTED_VERSION), 0x7FFFFFFF entries, four bytes: 10 bytes in all.
            Some(frame(correlation_id, false, &[0, 35, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
        }
        (Lie::TruncatedFrame, API_VERSIONS) => {
            let mut out = 100i32.to_be_bytes().to_vec();
            out.extend(correlation_id.to_be_bytes());
            out.extend([0; 6]);
            Some(out)
        }
        (Lie::HugeFrame, API_VERSIONS) => {
            let mut out = 0x7fff_ffffi32.to_be_bytes().to_vec();
            out.extend(correlation_id.to_be_bytes());
            Some(out)
        }
        (_, API_VERSIONS) => Some(frame(correlation_id, false, &api_versions(version))),
        (Lie::MetadataCount, METADATA) => {
            let mut body = 0i32.to_be_bytes().to_vec();
            huge_count(&mut body, version >= 9);
            Some(frame(correlation_id, version >= 9, &body))
        }
        (Lie::ScramIterations, SASL_HANDSHAKE) => {
            let mut body = vec![0, 0, 0, 0, 0, 1, 0, 13];
            body.extend(b"SCRAM-SHA-512");
            Some(frame(correlation_id, false, &body))
        }
        (Lie::ScramIterations, SASL_AUTHENTICATE) if version >= 2 => {
            let server_first = format!("r={}fake,s=c2FsdHNhbHQ=,i=4294967295", client_nonce(request));
            let mut body = vec![0, 0, 0];
            uvarint(&mut body, server_first.len() as u32 + 1);
            body.extend(server_first.as_bytes());
            body.extend([0; 8]);
            body.push(0);
            Some(frame(correlation_id, true, &body))
        }
        _ => None,
    }
}

/// Serves one connection: reads request frames and answers each as `lie` says.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(lie: Lie, mut stream: S) {
    loop {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).await.is_err() {
            return;
        }
        let mut request = vec![0u8; i32::from_be_bytes(prefix).clamp(0, 1 << 20) as usize];
        if request.len() < 8 || stream.read_exact(&mut request).await.is_err() {
            return;
        }
        let key = i16::from_be_bytes([request[0], request[1]]);
        let version = i16::from_be_bytes([request[2], request[3]]);
        let correlation_id = i32::from_be_bytes(request[4..8].try_into().unwrap());
        let Some(reply) = answer(lie, key, version, correlation_id, &request) else { return };
        if stream.write_all(&reply).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        if lie == Lie::TruncatedFrame {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Starts the fake broker on 127.0.0.1 and returns its address.
async fn fake_broker(lie: Lie) -> String {
    let dir = PathBuf::from(
        String::from_utf8(kafka_sh(&["server-cert", "fake-broker"]).stdout).expect("path").trim(),
    );
    let chain = std::fs::read(dir.join("chain.pem")).expect("server chain");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&chain).collect::<Result<_, _>>().expect("PEM chain");
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("PEM key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve(lie, tls).await;
                }
            });
        }
    });
    address
}

/// Runs `gen plan dev` against `bootstrap` with a SCRAM identity (or mTLS with `mtls`), waiting
/// at most the request timeout; returns the exit code and the output.
fn gen_plan(bootstrap: &str, mtls: bool) -> (Option<i32>, String) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/local-environment");
    let password = std::env::temp_dir().join(format!("{}.password", unique("hostile")));
    std::fs::write(&password, "not-a-real-password\n").unwrap();
    let mut command = Command::new(gen_binary());
    command.arg("--environments").arg(&fixture).args(["plan", "dev", "--bootstrap", bootstrap]);
    command.arg("--ca-file").arg(ca_file());
    if mtls {
        let dir = client_cert_dir("hostile-broker-client");
        command.arg("--client-cert").arg(dir.join("chain.pem")).arg("--client-key").arg(dir.join("key.pem"));
    } else {
        command.args(["--scram-user", "admin", "--scram-password-file"]).arg(&password);
    }
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("gen runs");
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gen plan still ran after the request timeout ({REQUEST_TIMEOUT:?})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&password);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// Runs `gen plan` against a broker telling `lie`: exit code 1 (an abort has none) and `expected`
/// in the output.
async fn refused(lie: Lie, mtls: bool, expected: &str) {
    let address = fake_broker(lie).await;
    let (code, text) = tokio::task::spawn_blocking(move || gen_plan(&address, mtls)).await.unwrap();
    assert_eq!(code, Some(1), "{lie:?}: {text}");
    assert!(text.contains(expected), "{lie:?}: expected '{expected}' in:\n{text}");
    assert!(!text.contains("panicked"), "{lie:?}: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claimed_count_beyond_the_frame_is_a_protocol_error() {
    let expected = "in ApiVersions: malformed response v4: an array of 2147483647 elements";
    refused(Lie::ApiVersionsCount, false, expected).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ten_byte_api_versions_fallback_claiming_2_31_entries_is_refused() {
    let expected = "in ApiVersions: malformed response v0: an array of 2147483647 elements at offset 2, \
                    but only 4 bytes follow";
    refused(Lie::ApiVersionsFallbackCount, false, expected).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metadata_response_claiming_2_31_brokers_is_refused() {
    refused(Lie::MetadataCount, true, "in Metadata: malformed response v12: an array of 2147483647 elements")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scram_challenge_of_2_32_iterations_is_refused() {
    refused(
        Lie::ScramIterations,
        false,
        "server asks for 4294967295 iterations, more than Kafka's maximum 16384",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_cut_short_is_a_network_error() {
    refused(Lie::TruncatedFrame, false, "the connection ended after 10 of 100 response bytes").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_header_of_2_gb_is_refused_before_any_allocation() {
    refused(Lie::HugeFrame, false, "invalid response length 2147483647").await;
}
