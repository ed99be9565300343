//! The renewal driver on the real cluster (`gen certs renew`, kafka_reconcile::renewal): node 3's
//! certificate, stored under a stage of this test's own SSM names (moto) by the certificate Lambda
//! from the cluster's CA, is renewed, pushed to node 3, checked on every listener with fresh
//! handshakes and only then is the superseded serial revoked. Covered: `--dry-run` and a
//! certificate that is not due change nothing; a renewal interrupted after issuing (a direct
//! invoke of the certificate Lambda, no push) is pushed by the next run without `--now`; a push
//! the node refuses (another subject) is reported, exit 1, and leaves the superseded certificate
//! unrevoked and the node serving what it served. Node 3 gets its original certificate back at the
//! end (other tests compare what the nodes serve with what the cluster stored). No node is stopped.

mod kafka_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kafka_admin::{Secret, TlsConfig, served_certificate};
use kafka_common::*;
use kafka_platform_core::StageName;
use kafka_platform_core::render::names;
use kafka_reconcile::certificates::{
    Served, inspect_der, inspect_pem, push_node_certificate, revocation_gate,
};
use platform_tests::lambda_harness::Harness;
use serde_json::{Value, json};

const NODE3: i32 = 3;
const NODE2: i32 = 2;
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/local-environment");

fn state_dir() -> PathBuf {
    PathBuf::from(env("KAFKA_TEST_STATE_DIR"))
}

/// (issue-test-cert binary, moto endpoint) that made the cluster's CA.
fn issuer() -> (String, String) {
    let text =
        std::fs::read_to_string(state_dir().join("certs/issuer")).expect("certs/issuer (KAFKA_CERT_ISSUER)");
    let mut lines = text.lines();
    (lines.next().unwrap().to_string(), lines.next().unwrap().to_string())
}

fn ports(node: i32) -> Vec<(&'static str, u16)> {
    let n = u16::try_from(node).unwrap();
    vec![("scram", 19091 + n), ("mtls", 19191 + n), ("controller", 19291 + n), ("internal", 19391 + n)]
}

async fn served(node: i32) -> Served {
    let tls = TlsConfig::from_ca_file(&ca_file()).unwrap();
    let mut served = Served::new();
    for (listener, port) in ports(node) {
        let der = served_certificate(&format!("127.0.0.1:{port}"), &tls, Duration::from_secs(10)).await;
        served.insert(listener.into(), der.ok().and_then(|d| inspect_der(&d).ok()).map(|f| f.serial));
    }
    served
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct Stage {
    dir: PathBuf,
    moto: String,
}

impl Stage {
    /// `gen certs renew dev ARGS --format json`: (exit code, outcomes, stderr).
    fn renew(&self, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
        let out = Command::new(platform_tests::gen_binary())
            .arg("--environments")
            .arg(&self.dir)
            .args(["certs", "renew", "dev", "--format", "json", "--gate-wait", "30"])
            .args(args)
            .args(["--bootstrap", &env("KAFKA_TEST_BOOTSTRAP_SASL"), "--scram-user", &admin_user()])
            .arg("--scram-password-file")
            .arg(env("KAFKA_TEST_ADMIN_PASSWORD_FILE"))
            .arg("--ca-file")
            .arg(ca_file())
            .env("AWS_ENDPOINT_URL", &self.moto)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "eu-west-1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"), "key material shown");
        let outcomes = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
        (out.status.code(), outcomes, stderr)
    }
}

fn issue(moto: &str, binary: &str, common_name: &str, prefix: &str, out: &Path) {
    let status = Command::new(binary)
        .args(["--moto", moto, "leaf", "--arn-file"])
        .arg(state_dir().join("certs/ca.arn"))
        .args(["--common-name", common_name, "--usage", "server-and-client", "--ip-address", "127.0.0.1"])
        .args(["--dns-name", common_name, "--parameter-prefix", prefix, "--out"])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "the certificate Lambda did not issue {common_name}");
}

async fn ssm_value(ssm: &aws_sdk_ssm::Client, name: &str) -> String {
    ssm.get_parameter().name(name).send().await.unwrap().parameter.unwrap().value.unwrap()
}

async fn scenario(stage: Stage, b2_prefix: String, b1_prefix: String) {
    let ssm = aws_sdk_ssm::Client::new(
        &platform_tests::lambda_harness::sdk_config_for(&stage.moto, "testing", "testing").await,
    );
    let stored = |prefix: &str| format!("{prefix}/certificate");
    let before_node3 = served(NODE3).await;
    assert!(
        before_node3.values().all(Option::is_some),
        "node 3 does not serve TLS everywhere: {before_node3:?}"
    );

    // Not due and --dry-run: nothing changes.
    let (code, outcomes, stderr) = stage.renew(&["--only", "b2", "--dry-run", "--now"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(outcomes[0]["step"], "renew", "{outcomes:?}");
    assert!(outcomes[0]["done"].as_array().unwrap().is_empty());
    let (code, outcomes, stderr) = stage.renew(&["--only", "b2"]);
    assert_eq!((code, outcomes[0]["step"].as_str()), (Some(0), Some("nothing")), "{stderr}");
    assert_eq!(served(NODE3).await, before_node3);

    // Interrupted after issuing: the certificate Lambda renews, nobody pushes.
    let old = inspect_pem(&ssm_value(&ssm, &stored(&b2_prefix)).await).unwrap().serial;
    let harness = Harness::start().await;
    let root = format!("{}/", b2_prefix.split("/tls/").next().unwrap().to_string() + "/tls");
    // This workspace's build of the function (target/debug, next to this test's deps directory).
    let exe = std::env::current_exe().unwrap();
    let lambda = exe.parent().and_then(Path::parent).unwrap().join("private-certificate-lambda");
    let function = harness.spawn_path(&lambda, &stage.moto, &[("RENEWABLE_PARAMETER_PREFIX", &root)]);
    let (kind, body) =
        harness.invoke_unanswerable(json!({"RenewCertificate": {"ParameterPrefix": b2_prefix}})).await;
    assert_eq!(kind, "response", "{body}\n{}", function.logs().join("\n"));
    let first = inspect_pem(&ssm_value(&ssm, &stored(&b2_prefix)).await).unwrap().serial;
    assert_ne!(first, old);
    assert_eq!(served(NODE3).await, before_node3, "nothing pushed yet");

    // The next run resumes at the push, without --now: pushed, served everywhere, then revoked.
    let (code, outcomes, stderr) = stage.renew(&["--only", "b2"]);
    assert_eq!(code, Some(0), "{outcomes:?} {stderr}");
    assert_eq!(outcomes[0]["step"], "push");
    let done = outcomes[0]["done"].to_string();
    assert!(done.contains("pushed to node 3") && done.contains("revoked superseded"), "{done}");
    assert!(revocation_gate(&served(NODE3).await, &first).is_ok(), "node 3 does not serve {first}");
    let record: Value =
        serde_json::from_str(&ssm_value(&ssm, &format!("{b2_prefix}/superseded")).await).unwrap();
    assert_eq!(
        (record["Serial"].as_str(), record["RevokedAt"].is_i64()),
        (Some(old.as_str()), true),
        "{record}"
    );

    // Done is done: the next run does nothing.
    let (code, outcomes, _) = stage.renew(&["--only", "b2"]);
    assert_eq!((code, outcomes[0]["step"].as_str()), (Some(0), Some("nothing")));

    // --now: the whole renewal in one run.
    let (code, outcomes, stderr) = stage.renew(&["--only", "b2", "--now"]);
    assert_eq!(code, Some(0), "{outcomes:?} {stderr}");
    let second = inspect_pem(&ssm_value(&ssm, &stored(&b2_prefix)).await).unwrap().serial;
    assert_ne!(second, first);
    assert_eq!(outcomes[0]["serial"], second.as_str());
    let done = outcomes[0]["done"].to_string();
    assert!(done.contains("renewed") && done.contains(&format!("revoked superseded {first}")), "{done}");
    assert!(revocation_gate(&served(NODE3).await, &second).is_ok());

    // A certificate node 2 refuses (another subject): reported, nothing revoked, node 2 unchanged.
    let before_node2 = served(NODE2).await;
    let (code, outcomes, _) = stage.renew(&["--only", "b1", "--now"]);
    assert_eq!(code, Some(1), "{outcomes:?}");
    let error = outcomes[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("node 2 refused the certificate"), "{outcomes:?}");
    let record: Value =
        serde_json::from_str(&ssm_value(&ssm, &format!("{b1_prefix}/superseded")).await).unwrap();
    assert!(record["RevokedAt"].is_null(), "revoked although the push failed: {record}");
    assert_eq!(served(NODE2).await, before_node2);
}

#[tokio::test]
async fn due_node_certificates_are_renewed_pushed_checked_and_then_revoked() {
    let (binary, moto) = issuer();
    let prefix = format!("kr{}", std::process::id());
    let dir = std::env::temp_dir().join(unique("renew-driver-env"));
    copy_dir(Path::new(FIXTURE), &dir);
    let defaults = dir.join("defaults.yaml");
    let text = std::fs::read_to_string(&defaults).unwrap();
    std::fs::write(
        &defaults,
        text.replace("resource_prefix: kafka\n", &format!("resource_prefix: {prefix}\n")),
    )
    .unwrap();
    let (models, findings) = kafka_platform_core::load_and_resolve(&dir, &[StageName::Dev]);
    let model = models.get(&StageName::Dev).unwrap_or_else(|| panic!("fixture invalid: {findings:?}"));
    let (b1, b2) = (&model.cluster.brokers[1], &model.cluster.brokers[2]);
    assert_eq!((b1.node_id, b2.node_id), (2, 3));
    let (b1_prefix, b2_prefix) = (names::node_tls_prefix(model, b1), names::node_tls_prefix(model, b2));
    let work = std::env::temp_dir().join(unique("renew-driver"));
    issue(&moto, &binary, &b2.dns_name, &b2_prefix, &work.join("b2"));
    issue(&moto, &binary, "wrong.kafka.local.test", &b1_prefix, &work.join("b1"));

    let outcome = tokio::spawn(scenario(Stage { dir: dir.clone(), moto }, b2_prefix, b1_prefix)).await;

    // Whatever happened: node 3 serves the certificate the cluster stored at start again.
    let original = state_dir().join("certs/servers").join(&b2.dns_name);
    let chain = std::fs::read_to_string(original.join("chain.pem")).unwrap();
    let key = Secret::new(std::fs::read_to_string(original.join("key.pem")).unwrap());
    let admin = admin_sasl().await;
    push_node_certificate(&admin, NODE3, &key, &chain).await.expect("node 3 takes its certificate back");
    admin.close().await;
    let serial = inspect_pem(&chain).unwrap().serial;
    let restored =
        eventually(Duration::from_secs(30), async || revocation_gate(&served(NODE3).await, &serial).is_ok())
            .await;
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    assert!(restored, "node 3 does not serve its original certificate {serial} again");
}
