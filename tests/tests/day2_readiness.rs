//! The readiness probe rendered into every node task definition (core render::readiness), run
//! with bash against the real cluster: each node's inter-broker and controller listeners answer
//! it; a port that accepts TCP but never serves it (a starting broker's accept backlog) and a
//! closed port do not.

mod kafka_common;

use std::process::Command;

use kafka_platform_core::render::readiness::probe_script;

/// Runs the probe for `port`, bounded as ECS bounds it (the health check's Timeout).
fn probe(port: u32) -> bool {
    let status =
        Command::new("timeout").args(["10", "bash", "-c", &probe_script(port)]).status().expect("bash runs");
    status.success()
}

#[test]
fn the_probe_passes_on_served_tls_listeners_only() {
    // Fails with instructions when the cluster's variables are missing.
    let _ = kafka_common::env("KAFKA_TEST_BOOTSTRAP_SASL");
    for port in [19392, 19393, 19394, 19292, 19293, 19294] {
        assert!(probe(port), "the TLS listener on {port} does not answer the probe");
    }
    // Bound and listening, never accepted: the connection waits in the backlog, no byte comes.
    let backlog = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = u32::from(backlog.local_addr().unwrap().port());
    assert!(!probe(port), "a listener that is not served counts as ready");
    drop(backlog);
    assert!(!probe(port), "a closed port counts as ready");
}
