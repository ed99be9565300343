//! `gen plan` and `gen apply` as an operator or a pipeline runs them, against the real KRaft
//! cluster of `tests/scripts/kafka.sh`, on a small environments tree (the repository's defaults and
//! dev stage, plus one project with a unique name so that runs do not interfere). Runs the real
//! `gen` binary: GEN_BIN, or built here with cargo.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kafka_common::*;
use platform_tests::gen_binary;

/// An environments tree: the repository's defaults and dev stage, and project `name` with topics
/// `<name>.events.v1` (and `<name>.audit.v1` when `with_audit`), a SCRAM producer and an mTLS
/// consumer.
fn write_tree(root: &Path, name: &str, with_audit: bool) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    std::fs::create_dir_all(root.join("stages")).unwrap();
    std::fs::create_dir_all(root.join("projects")).unwrap();
    std::fs::copy(repo.join("defaults.yaml"), root.join("defaults.yaml")).unwrap();
    std::fs::copy(repo.join("stages/dev.yaml"), root.join("stages/dev.yaml")).unwrap();
    let audit = if with_audit {
        format!(
            "  - name: {name}.audit.v1\n    description: Audit trail.\n    configs:\n      cleanup.policy: compact\n"
        )
    } else {
        String::new()
    };
    let project = format!(
        "project: {name}
description: Reconciler end-to-end test project.
owner:
  team: platform
  email: platform@example.com
data_classification: internal
topics:
  - name: {name}.events.v1
    description: Events.
    partitions: 2
    configs:
      retention.ms: 86400000
{audit}service_accounts:
  - name: {name}-app
    description: Producer.
    authentication: scram
    produces: [{name}.events.v1]
  - name: {name}-reader
    description: Consumer.
    authentication: mtls
    consumes: [{name}.events.v1]
"
    );
    std::fs::write(root.join("projects").join(format!("{name}.yaml")), project).unwrap();
}

struct Env {
    root: PathBuf,
    name: String,
    passwords: PathBuf,
}

impl Env {
    fn new() -> Self {
        let name = unique("gen");
        let root = std::env::temp_dir().join(format!("reconcile-gen-{name}"));
        write_tree(&root, &name, true);
        let passwords = root.join("passwords.yaml");
        std::fs::write(&passwords, format!("{name}-app: pw-{name}\n")).unwrap();
        Env { root, name, passwords }
    }

    /// Runs `gen <command> dev` with the admin's SASL_SSL connection and no terminal.
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let password_file = env("KAFKA_TEST_ADMIN_PASSWORD_FILE");
        let bootstrap = env("KAFKA_TEST_BOOTSTRAP_SASL");
        let ca = env("KAFKA_TEST_CA_FILE");
        let user = admin_user();
        let mut args = vec![
            command,
            "dev",
            "--bootstrap",
            &bootstrap,
            "--ca-file",
            &ca,
            "--scram-user",
            &user,
            "--scram-password-file",
            &password_file,
        ];
        args.extend_from_slice(extra);
        Command::new(gen_binary())
            .arg("--environments")
            .arg(&self.root)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("gen runs")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn plan_apply_and_delete_through_the_gen_binary() {
    let e = Env::new();
    let n = &e.name;

    // Plan: changes pending (exit 2), typed JSON.
    let out = e.run("plan", &["--detailed-exitcode", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let creates: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create_topic")
        .map(|c| c["topic"].as_str().unwrap())
        .collect();
    assert_eq!(creates, vec![format!("{n}.audit.v1"), format!("{n}.events.v1")]);

    // Without --yes and without a terminal nothing is applied.
    let out = e.run("apply", &["--scram-passwords-file", e.passwords.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("without confirmation"), "{}", text(&out));
    let out = e.run("plan", &["--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "still pending: {}", text(&out));

    // Apply: Terraform-like output, then everything applied.
    let out = e.run("apply", &["--yes", "--scram-passwords-file", e.passwords.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("+ create topic {n}.events.v1 (2 partitions, replication factor 1)\n")),
        "{stdout}"
    );
    assert!(stdout.contains("    retention.ms = 86400000\n"), "{stdout}");
    assert!(stdout.contains(&format!("+ create SCRAM-SHA-512 credential for user {n}-app")), "{stdout}");
    assert!(stdout.contains("0 failed"), "{stdout}");

    // Nothing left to do (metadata reaches every broker shortly after).
    let mut last = String::new();
    let converged = wait(|| {
        let out = e.run("plan", &["--detailed-exitcode"]);
        last = text(&out);
        out.status.code() == Some(0)
    });
    assert!(converged, "{last}");
    assert!(last.contains("No changes: the cluster matches the declaration of stage dev."), "{last}");

    // A topic no longer declared: refused without --allow-delete (exit 1), deleted with it.
    write_tree(&e.root, n, false);
    let out = e.run("plan", &["--format", "markdown"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("### Kafka plan for stage `dev`"), "{md}");
    assert!(md.contains(&format!("- **topic {n}.audit.v1**: deleting topic {n}.audit.v1")), "{md}");
    let out = e.run("apply", &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing applied"), "{}", text(&out));

    let out = e.run("apply", &["--yes", "--allow-delete"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("- delete topic {n}.audit.v1 (destroys its data)")),
        "{}",
        text(&out)
    );
    let converged =
        wait(|| e.run("plan", &["--detailed-exitcode", "--allow-delete"]).status.code() == Some(0));
    assert!(converged, "the delete did not converge");
}

#[test]
fn bad_connection_settings_fail_clearly() {
    let e = Env::new();
    let out = Command::new(gen_binary())
        .arg("--environments")
        .arg(&e.root)
        .args([
            "plan",
            "dev",
            "--bootstrap",
            &env("KAFKA_TEST_BOOTSTRAP_SASL"),
            "--ca-file",
            &env("KAFKA_TEST_CA_FILE"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no admin identity"), "{}", text(&out));

    let wrong = e.root.join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let out = Command::new(gen_binary())
        .arg("--environments")
        .arg(&e.root)
        .args([
            "plan",
            "dev",
            "--bootstrap",
            &env("KAFKA_TEST_BOOTSTRAP_SASL"),
            "--ca-file",
            &env("KAFKA_TEST_CA_FILE"),
        ])
        .args(["--scram-user", &admin_user(), "--scram-password-file", wrong.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("authentication"), "{}", text(&out));
    assert!(!text(&out).contains("not-the-password"), "a password must never be shown");
}

/// Polls `check` for up to 30 s.
fn wait(mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn apply_json_reports_the_plan_each_outcome_and_the_counts() {
    let e = Env::new();
    let n = &e.name;
    let passwords = e.passwords.to_str().unwrap();
    let out = e.run("apply", &["--yes", "--format", "json", "--scram-passwords-file", passwords]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("stdout is one JSON document ({err}): {}", text(&out)));
    assert_eq!((report["command"].as_str(), report["stage"].as_str()), (Some("apply"), Some("dev")));
    assert_eq!((report["ok"].as_bool(), report["failed"].as_u64()), (Some(true), Some(0)));
    let planned = report["plan"]["changes"].as_array().unwrap().len();
    let outcomes = report["outcomes"].as_array().unwrap();
    assert!(planned > 0 && outcomes.len() == planned, "{report}");
    assert_eq!(report["applied"].as_u64(), Some(planned as u64));
    assert!(report["requests"].as_u64().unwrap() > 0, "{report}");
    let created: Vec<&str> = outcomes
        .iter()
        .filter(|o| o["action"] == "create_topic" && o["error"].is_null())
        .filter_map(|o| o["topic"].as_str())
        .collect();
    assert_eq!(created, vec![format!("{n}.audit.v1"), format!("{n}.events.v1")], "{report}");
    // The plan for people went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("+ create topic {n}.events.v1")));

    // Refused (a delete without --allow-delete): nothing applied, still one document.
    let converged = wait(|| e.run("plan", &["--detailed-exitcode"]).status.code() == Some(0));
    assert!(converged, "the apply did not converge");
    write_tree(&e.root, n, false);
    let out = e.run("apply", &["--yes", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["ok"].as_bool(), report["applied"].as_u64()), (Some(false), Some(0)));
    assert!(!report["plan"]["refusals"].as_array().unwrap().is_empty(), "{report}");
    let out = e.run("apply", &["--yes", "--allow-delete"]);
    assert!(out.status.success(), "{}", text(&out));
}
