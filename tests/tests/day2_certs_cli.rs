//! `gen certs STAGE` against moto: certificates issued by the private-certificate Lambda (through
//! issue-test-cert, against moto's ACM Private CA) into the stage's own SSM names are listed with
//! the serial and expiry the Lambda issued; a certificate the stage declares but SSM lacks is listed
//! as missing, and the exit code (3) says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use kafka_platform_core::StageName;
use kafka_platform_core::render::names;
use platform_tests::gen_binary;
use platform_tests::lambda_harness::unique;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/local-environment");
const ISSUER: &str = env!("CARGO_BIN_EXE_issue-test-cert");

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

/// The local fixture with its own resource prefix, so that its SSM names are this run's alone.
fn environment(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("certs-cli-env"));
    copy_dir(Path::new(FIXTURE), &dir);
    let defaults = dir.join("defaults.yaml");
    let text = std::fs::read_to_string(&defaults).unwrap();
    std::fs::write(
        &defaults,
        text.replace("resource_prefix: kafka\n", &format!("resource_prefix: {prefix}\n")),
    )
    .unwrap();
    dir
}

fn issue(moto: &str, ca_arn: &Path, common_name: &str, usage: &str, prefix: &str, out: &Path) -> String {
    let status = Command::new(ISSUER)
        .args(["--moto", moto, "leaf", "--arn-file"])
        .arg(ca_arn)
        .args(["--common-name", common_name, "--usage", usage, "--parameter-prefix", prefix])
        .args(if usage == "client" { vec![] } else { vec!["--dns-name", common_name] })
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "the certificate Lambda did not issue {common_name}");
    std::fs::read_to_string(out.join("cert.pem")).unwrap()
}

#[test]
fn gen_certs_lists_what_the_lambda_stored_and_what_is_missing() {
    let moto = platform_tests::moto::endpoint();
    let prefix = format!("kc{}", std::process::id());
    let env_dir = environment(&prefix);
    let (models, findings) = kafka_platform_core::load_and_resolve(&env_dir, &[StageName::Dev]);
    let model = models.get(&StageName::Dev).unwrap_or_else(|| panic!("fixture invalid: {findings:?}"));
    let work = std::env::temp_dir().join(unique("certs-cli"));
    std::fs::create_dir_all(&work).unwrap();
    let ca_arn = work.join("ca.arn");
    let ca = Command::new(ISSUER)
        .args(["--moto", &moto, "ca", "--arn-file"])
        .arg(&ca_arn)
        .arg("--out")
        .arg(work.join("ca.crt"))
        .status()
        .unwrap();
    assert!(ca.success());

    let b0 = &model.cluster.brokers[0];
    let node_pem = issue(
        &moto,
        &ca_arn,
        &b0.dns_name,
        "server-and-client",
        &names::node_tls_prefix(model, b0),
        &work.join("b0"),
    );
    let admin_pem =
        issue(&moto, &ca_arn, "admin", "client", &names::tls_prefix(model, "admin"), &work.join("admin"));
    let serial = |pem: &str| kafka_reconcile::certificates::inspect_pem(pem).unwrap();
    let (node, admin) = (serial(&node_pem), serial(&admin_pem));

    let out = Command::new(gen_binary())
        .arg("--environments")
        .arg(&env_dir)
        .args(["certs", "dev", "--format", "json"])
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "b1 and b2 are missing, so attention is needed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let listed = report["certificates"].as_array().unwrap();
    let find =
        |name: &str| listed.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name}: {report}"));
    assert_eq!(find("b0")["serial"], node.serial.as_str());
    assert_eq!(find("b0")["not_after"], node.not_after);
    assert_eq!(find("admin")["serial"], admin.serial.as_str());
    assert_eq!(find("admin")["state"], "valid");
    // The issuing CA of each (a CA rollover's progress): the test CA's name.
    let issuer = find("b0")["issuer"].as_str().unwrap_or_default().to_string();
    assert!(issuer.contains("CN=Kafka Platform Test CA"), "{report}");
    let days = find("b0")["days_left"].as_i64().unwrap();
    assert!(days > 30, "a fresh certificate has {days} days left");
    let missing: Vec<&str> =
        report["missing"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert!(missing.contains(&"b1") && missing.contains(&"b2"), "{missing:?}");

    let text = Command::new(gen_binary())
        .arg("--environments")
        .arg(&env_dir)
        .args(["certs", "dev"])
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&text.stdout);
    assert!(shown.contains(&node.serial) && shown.contains("MISSING"), "{shown}");
    assert!(shown.contains("ISSUED-BY") && shown.contains(&issuer), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let _ = std::fs::remove_dir_all(work);
    let _ = std::fs::remove_dir_all(env_dir);
}
