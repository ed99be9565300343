//! The container health check of a node task: "ready" means the node's own TLS listener answers
//! a TLS ClientHello. A KRaft broker starts processing requests on its listeners only once it has
//! caught up with the metadata log and been unfenced, so a broker that answers has caught up; a
//! port that is bound but not yet served (the accept backlog of a starting broker) does not
//! answer and counts as not ready. ECS keeps a deployment in progress until the new task is
//! healthy, so a forced new deployment (what `gen roll` does per node) ends only when the node
//! is back. The probe is plain bash (`/dev/tcp`, `head`, `od`, `grep`): no client
//! certificate and no JVM start per check. Any TLS record back counts (a handshake record, or
//! an alert when the listener refuses the anonymous hello): both prove the listener is served.
//! Partition catch-up (ISR) is a cluster-wide question; `gen roll` gates on it before each
//! restart (docs/operators-guide.md).

use serde_json::{Value, json};

/// A TLS 1.2/1.3 ClientHello (no SNI; the common ECDHE-GCM and TLS 1.3 suites), as printf escapes.
const CLIENT_HELLO: &str = r"\x16\x03\x01\x00\x5d\x01\x00\x00\x59\x03\x03\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x00\x00\x0c\x13\x01\x13\x02\xc0\x2f\xc0\x30\xc0\x2b\xc0\x2c\x01\x00\x00\x24\x00\x0a\x00\x08\x00\x06\x00\x1d\x00\x17\x00\x18\x00\x0b\x00\x02\x01\x00\x00\x0d\x00\x0e\x00\x0c\x08\x04\x08\x05\x04\x01\x05\x01\x04\x03\x05\x03";

/// Seconds between checks, per check, failures in a row before ECS replaces the task, and the
/// grace period after start (ECS allows at most 300 s): about ten minutes in all for a node to
/// recover its logs and catch up before ECS counts it as failed.
const INTERVAL: u32 = 30;
const TIMEOUT: u32 = 10;
const RETRIES: u32 = 10;
pub const START_PERIOD: u32 = 300;

/// The probe: exit 0 when the listener on 127.0.0.1:`port` answers a ClientHello with a TLS
/// record (0x16 handshake or 0x15 alert).
pub fn probe_script(port: u32) -> String {
    format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf '{CLIENT_HELLO}' >&3 && head -c1 <&3 | od -An -tx1 | grep -qE '1[56]'"
    )
}

/// The ECS `HealthCheck` of a container whose readiness is the listener on `port`.
pub fn health_check(port: u32) -> Value {
    json!({
        "Command": ["CMD-SHELL", probe_script(port)],
        "Interval": INTERVAL,
        "Timeout": TIMEOUT,
        "Retries": RETRIES,
        "StartPeriod": START_PERIOD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_is_one_whole_tls_handshake_record() {
        let bytes: Vec<u8> = CLIENT_HELLO
            .split("\\x")
            .filter(|s| !s.is_empty())
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        assert_eq!(&bytes[..3], &[0x16, 0x03, 0x01], "handshake record");
        let record = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        assert_eq!(record + 5, bytes.len(), "the record length covers the rest");
        assert_eq!(bytes[5], 0x01, "ClientHello");
    }

    #[test]
    fn the_check_probes_the_given_port_within_ecs_limits() {
        let check = health_check(9093);
        assert_eq!(check["Command"][0], "CMD-SHELL");
        assert!(check["Command"][1].as_str().unwrap().starts_with("exec 3<>/dev/tcp/127.0.0.1/9093 && "));
        assert!(check["StartPeriod"].as_u64().unwrap() <= 300);
        assert!(check["Timeout"].as_u64() < check["Interval"].as_u64());
    }
}
