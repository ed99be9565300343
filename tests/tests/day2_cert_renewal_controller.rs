//! A renewed certificate reaches a dedicated KRaft controller through its own controller listener
//! (issue 10, point 2; kafka_reconcile::controller_push). The suite's nodes are combined, so node 1
//! is renewed here as the driver renews a controller-only node (its target says `broker: false`):
//! the reconciler finds its address in the brokers' `controller.quorum.voters` (127.0.0.1:19292),
//! connects there with the admin's certificate (no Metadata request), checks the new certificate
//! against what that listener serves, writes it through the active controller's listener (the
//! quorum leader, whichever node that is) and gates the revocation on fresh handshakes.
//! Proven: no IncrementalAlterConfigs goes through a broker; every listener of node 1 serves the
//! new serial, the process is the same; a certificate with other subject alternative names is not
//! pushed (the controller itself would accept it: it does not validate key stores) and changes
//! nothing. Node 1 gets its original certificate back at the end. No node is stopped.
//!
//! The store and the authority are small in-test implementations of the driver's traits: the SSM
//! side and the certificate Lambda are proven by day2_cert_renewal_driver; this test is about the
//! route to the controller.

mod kafka_common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_admin::{AdminClient, Secret, TlsConfig, served_certificate};
use kafka_common::*;
use kafka_reconcile::certificates::{
    Served, inspect_der, inspect_pem, keystore_changes, push_node_certificate, revocation_gate,
};
use kafka_reconcile::controller_push;
use kafka_reconcile::renewal::{Authority, Cluster, Options, Outcome, Store, Superseded, Target, run};

/// Node 1 (`b0`); the other renewal tests use nodes 2 and 3.
const NODE: i32 = 1;
const DNS_NAME: &str = "b0.kafka.local.test";
const PORTS: [(&str, u16); 4] =
    [("scram", 19092), ("mtls", 19192), ("controller", 19292), ("internal", 19392)];

fn state_dir() -> PathBuf {
    PathBuf::from(env("KAFKA_TEST_STATE_DIR"))
}

fn pid_of_node() -> String {
    let file = state_dir().join(format!("node-{NODE}/kafka.pid"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().to_string()
}

/// A certificate for node 1 from the certificate Lambda, through the issuer kafka.sh recorded when
/// it made the CA; `ip` adds the node's IP address SAN, as the running certificate has.
fn issue(out: &Path, ip: bool) -> (Secret, String) {
    let certs = state_dir().join("certs");
    let issuer = std::fs::read_to_string(certs.join("issuer"))
        .expect("certs/issuer: the cluster's CA must come from the certificate Lambda (KAFKA_CERT_ISSUER)");
    let mut lines = issuer.lines();
    let (binary, moto) = (lines.next().unwrap(), lines.next().unwrap());
    let mut command = Command::new(binary);
    command.args(["--moto", moto, "leaf", "--arn-file"]).arg(certs.join("ca.arn"));
    command.args(["--common-name", DNS_NAME, "--usage", "server-and-client", "--dns-name", DNS_NAME]);
    if ip {
        command.args(["--ip-address", "127.0.0.1"]);
    }
    assert!(command.arg("--out").arg(out).status().expect("issue-test-cert runs").success());
    let chain = std::fs::read_to_string(out.join("chain.pem")).unwrap();
    (Secret::new(std::fs::read_to_string(out.join("key.pem")).unwrap()), chain)
}

async fn served_serials(tls: &TlsConfig) -> Served {
    let mut served = Served::new();
    for (listener, port) in PORTS {
        let der = served_certificate(&format!("127.0.0.1:{port}"), tls, Duration::from_secs(10)).await;
        served.insert(listener.into(), der.ok().and_then(|d| inspect_der(&d).ok()).map(|f| f.serial));
    }
    served
}

/// Node 1's material as a renewal left it: renewed, superseded record pending, not pushed yet.
struct Pending {
    key: Secret,
    chain: String,
}

impl Store for Pending {
    async fn certificate(&self, _prefix: &str) -> Result<Option<String>, String> {
        Ok(Some(self.chain.clone()))
    }

    async fn superseded(&self, _prefix: &str) -> Result<Option<Superseded>, String> {
        Ok(Some(Superseded { serial: "01".into(), superseded_at: 0, revoked_at: None }))
    }

    async fn node_material(&self, _prefix: &str) -> Result<(Secret, String), String> {
        Ok((self.key.clone(), self.chain.clone()))
    }
}

/// Records the revocations the driver asks for.
#[derive(Default)]
struct Revocations(RefCell<Vec<String>>);

impl Authority for Revocations {
    async fn renew(&self, prefix: &str) -> Result<String, String> {
        Err(format!("{prefix}: not due in this test"))
    }

    async fn revoke_superseded(&self, prefix: &str) -> Result<String, String> {
        self.0.borrow_mut().push(prefix.to_string());
        Ok("01".into())
    }
}

async fn renew_as_controller(admin: &AdminClient, trust: &TlsConfig, material: Pending) -> (Outcome, usize) {
    let target = Target {
        name: "b0".into(),
        parameter_prefix: "/test/tls/nodes/b0".into(),
        node_id: Some(NODE as u32),
        broker: false,
    };
    let options = Options {
        renew_before_days: 30,
        force: false,
        dry_run: false,
        only: Vec::new(),
        now: SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64,
        // Generous: a loaded shared cluster (another engineer's benchmark) applies records late.
        gate_wait: Duration::from_secs(180),
    };
    let authority = Revocations::default();
    let cluster = Cluster { client: admin, tls: trust };
    let mut outcomes = run(&[target], &material, &authority, Some(&cluster), &options).await.expect("a run");
    let revoked = authority.0.borrow().len();
    (outcomes.remove(0), revoked)
}

#[tokio::test]
async fn a_controller_takes_a_renewed_certificate_on_its_controller_listener_without_a_restart() {
    let trust = TlsConfig::from_ca_file(&ca_file()).unwrap();
    let before = served_serials(&trust).await;
    assert!(before.values().all(Option::is_some), "node {NODE} does not serve TLS everywhere: {before:?}");
    let pid = pid_of_node();
    let admin = AdminClient::connect(mtls_config("admin")).await.expect("admin over mTLS");
    let dir = std::env::temp_dir().join(unique("day2-cert-controller"));

    // Refused before anything is pushed: same subject, other SANs (no IP address).
    let (wrong_key, wrong_chain) = issue(&dir.join("wrong"), false);
    let wrong = inspect_pem(&wrong_chain).unwrap().serial;
    let route = controller_push::connect(&admin, NODE).await.expect("the controller listener");
    assert_eq!(route.address, "127.0.0.1:19292");
    // Kafka's active controller would take it: it checks only the resource name of a BROKER config.
    let leader = admin.describe_quorum().await.expect("the quorum").leader_id;
    let mut config = mtls_config("admin");
    config.bootstrap = vec![format!("127.0.0.1:{}", 19291 + leader)];
    let active = AdminClient::connect_to_node(config).await.expect("the active controller's listener");
    let accepted = active
        .incremental_alter_configs(
            &[keystore_changes(NODE, &["controller".into()], &wrong_key, &wrong_chain)],
            true,
        )
        .await
        .remove(0);
    route.client.close().await;
    active.close().await;
    let (refused, revoked) =
        renew_as_controller(&admin, &trust, Pending { key: wrong_key, chain: wrong_chain }).await;
    let after_refused = served_serials(&trust).await;

    // The renewal proper.
    let (key, chain) = issue(&dir.join("new"), true);
    let new_serial = inspect_pem(&chain).unwrap().serial;
    let (renewed, revoked_after) = renew_as_controller(&admin, &trust, Pending { key, chain }).await;
    let after = served_serials(&trust).await;
    let alters = admin.request_stats().by_api.get("IncrementalAlterConfigs").copied();

    // Leave the shared cluster as the suite found it (through a broker, which validates).
    let original = state_dir().join("certs/servers").join(DNS_NAME);
    let original_chain = std::fs::read_to_string(original.join("chain.pem")).unwrap();
    let original_key = Secret::new(std::fs::read_to_string(original.join("key.pem")).unwrap());
    let sasl = admin_sasl().await;
    push_node_certificate(&sasl, NODE, &original_key, &original_chain).await.expect("node 1 takes it back");
    sasl.close().await;
    let original_serial = inspect_pem(&original_chain).unwrap().serial;
    let restored = eventually(Duration::from_secs(180), async || {
        revocation_gate(&served_serials(&trust).await, &original_serial).is_ok()
    })
    .await;
    admin.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(accepted.as_ref().map_err(ToString::to_string), Ok(&()), "the controller validated it");
    let e = refused.error.clone().unwrap_or_default();
    assert!(
        e.contains("not pushing to controller 1") && e.contains("subject alternative names"),
        "{refused:?}"
    );
    assert!(!e.contains("PRIVATE KEY"), "{e}");
    assert_eq!(revoked, 0, "a refused push revoked the superseded certificate");
    assert_eq!(after_refused, before, "the refused certificate {wrong} changed what node {NODE} serves");

    assert_eq!(renewed.error, None, "{renewed:?}");
    assert_eq!(
        renewed.done,
        [
            "pushed to node 1 (4 listeners)".to_string(),
            format!("node 1 serves {new_serial} on every listener"),
            "revoked superseded 01".into(),
        ]
    );
    assert_eq!(revoked_after, 1);
    assert_eq!(revocation_gate(&after, &new_serial), Ok(()), "{after:?}");
    assert_eq!(alters, None, "an IncrementalAlterConfigs went through a broker");
    assert_eq!(pid_of_node(), pid, "node {NODE} was restarted");
    assert!(restored, "node {NODE} does not serve its original certificate {original_serial} again");
}
