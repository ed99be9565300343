//! Shared helpers for the tests against the Kafka cluster of `tests/scripts/kafka.sh`.
//!
//! The cluster is found through the variables `kafka.sh env` prints; a missing variable fails the
//! test with instructions rather than skipping it.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_admin::{AdminClient, AdminConfig, ScramMechanism, TlsConfig};

/// A variable `kafka.sh env` exports.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the Kafka test cluster. Run `tests/scripts/kafka.sh start` \
             and `eval \"$(tests/scripts/kafka.sh env)\"` first (tests/run.sh does both)."
        )
    })
}

pub fn bootstrap_sasl() -> Vec<String> {
    AdminConfig::parse_bootstrap(&env("KAFKA_TEST_BOOTSTRAP_SASL"))
}

pub fn bootstrap_mtls() -> Vec<String> {
    AdminConfig::parse_bootstrap(&env("KAFKA_TEST_BOOTSTRAP_MTLS"))
}

pub fn ca_file() -> PathBuf {
    PathBuf::from(env("KAFKA_TEST_CA_FILE"))
}

pub fn admin_user() -> String {
    env("KAFKA_TEST_ADMIN_USER")
}

pub fn admin_password() -> String {
    let path = env("KAFKA_TEST_ADMIN_PASSWORD_FILE");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}")).trim().to_string()
}

/// Client configuration for a SCRAM user on the SASL_SSL listener.
pub fn sasl_config(user: &str, password: &str) -> AdminConfig {
    let tls = TlsConfig::from_ca_file(&ca_file()).expect("CA file loads");
    AdminConfig::new(bootstrap_sasl(), tls).with_scram(ScramMechanism::Sha512, user, password)
}

pub async fn admin_sasl() -> AdminClient {
    AdminClient::connect(sasl_config(&admin_user(), &admin_password()))
        .await
        .expect("admin connects over SASL_SSL")
}

/// Directory with key.pem, cert.pem and chain.pem for a client certificate with CN=`name`,
/// issued by the test CA on first use.
pub fn client_cert_dir(name: &str) -> PathBuf {
    let out = kafka_sh(&["client-cert", name]);
    assert!(
        out.status.success(),
        "kafka.sh client-cert {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Client configuration for the mTLS listener with the certificate of `name`.
pub fn mtls_config(name: &str) -> AdminConfig {
    let dir = client_cert_dir(name);
    let tls = TlsConfig::from_files(&ca_file(), &dir.join("chain.pem"), &dir.join("key.pem"))
        .expect("client cert loads");
    AdminConfig::new(bootstrap_mtls(), tls)
}

/// Runs `tests/scripts/kafka.sh` with arguments.
pub fn kafka_sh(args: &[&str]) -> Output {
    Command::new(env("KAFKA_TEST_SCRIPT")).args(args).stdin(Stdio::null()).output().expect("kafka.sh runs")
}

/// Runs `kafka.sh` with `input` on stdin (console producer).
pub fn kafka_sh_with_input(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env("KAFKA_TEST_SCRIPT"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka.sh runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A name no other test (or earlier run against the same cluster) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        now.as_millis() % 100_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Kafka propagates metadata (new SCRAM credentials, ACLs) to the brokers asynchronously; this
/// polls `check` until it holds, for at most `limit`, and returns whether it did.
pub async fn eventually<F: AsyncFnMut() -> bool>(limit: Duration, mut check: F) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A node stopped with `kafka.sh stop-node` (gracefully) or `kill-node` (data kept either way); started again when dropped,
/// so a failing assertion does not leave the cluster degraded for the tests after it.
pub struct StoppedNode(i32);

impl StoppedNode {
    pub fn stop(node: i32) -> Self {
        let out = kafka_sh(&["stop-node", &node.to_string()]);
        assert!(out.status.success(), "stop-node {node} failed: {}", String::from_utf8_lossy(&out.stderr));
        StoppedNode(node)
    }

    /// Kills the node (SIGKILL): a crash, no controlled shutdown.
    pub fn kill(node: i32) -> Self {
        let out = kafka_sh(&["kill-node", &node.to_string()]);
        assert!(out.status.success(), "kill-node {node} failed: {}", String::from_utf8_lossy(&out.stderr));
        StoppedNode(node)
    }

    pub fn id(&self) -> i32 {
        self.0
    }
}

impl Drop for StoppedNode {
    fn drop(&mut self) {
        let out = kafka_sh(&["start-node", &self.0.to_string()]);
        if !out.status.success() {
            eprintln!("restarting node {} failed: {}", self.0, String::from_utf8_lossy(&out.stderr));
        }
    }
}
