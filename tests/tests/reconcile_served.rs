//! `gen apply` returns only once every broker serves what it wrote, so that `gen apply && gen plan
//! --detailed-exitcode` does not flap: against the real 3-node cluster of `tests/scripts/kafka.sh`,
//! an apply of a few hundred RF 3 topics and their ACLs (enough to keep the brokers applying
//! metadata for a while), then a single plan right after must show no changes. No retry loop and
//! no timing: without the wait a lagging broker answers that plan with the applied changes again.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kafka_admin::{AclFilter, PatternType, ResourceType};
use kafka_common::*;
use platform_tests::gen_binary;

const TOPICS: usize = 300;

/// The repository's defaults and dev stage on 3 brokers (the test cluster's), and project `name`
/// with `count` topics of 3 partitions at RF 3 and, `with_accounts`, one mTLS producer and one
/// mTLS consumer of all.
fn write_tree(root: &Path, name: &str, count: usize, with_accounts: bool) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    std::fs::create_dir_all(root.join("stages")).unwrap();
    std::fs::create_dir_all(root.join("projects")).unwrap();
    std::fs::copy(repo.join("defaults.yaml"), root.join("defaults.yaml")).unwrap();
    let dev = std::fs::read_to_string(repo.join("stages/dev.yaml")).unwrap();
    assert!(dev.contains("\n  brokers: 1\n"), "the dev stage's broker count moved; update this test");
    std::fs::write(root.join("stages/dev.yaml"), dev.replace("\n  brokers: 1\n", "\n  brokers: 3\n"))
        .unwrap();
    let mut topics = String::new();
    let mut names = String::new();
    for i in 0..count {
        let topic = format!("{name}.t{i:04}.v1");
        let _ = write!(
            topics,
            "  - name: {topic}\n    description: Served test topic.\n    partitions: 3\n    replication_factor: 3\n"
        );
        let _ = write!(names, "{topic}, ");
    }
    let names = names.trim_end_matches(", ");
    let accounts = if with_accounts {
        format!(
            "service_accounts:
  - name: {name}-app
    description: Producer.
    authentication: mtls
    produces: [{names}]
  - name: {name}-reader
    description: Consumer.
    authentication: mtls
    consumes: [{names}]
"
        )
    } else {
        String::new()
    };
    let project = format!(
        "project: {name}
description: Waits for the brokers after an apply.
owner:
  team: platform
  email: platform@example.com
data_classification: internal
topics:
{topics}{accounts}"
    );
    std::fs::write(root.join("projects").join(format!("{name}.yaml")), project).unwrap();
}

struct Env {
    root: PathBuf,
    name: String,
}

impl Env {
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let (bootstrap, ca) = (env("KAFKA_TEST_BOOTSTRAP_SASL"), env("KAFKA_TEST_CA_FILE"));
        let (user, password_file) = (admin_user(), env("KAFKA_TEST_ADMIN_PASSWORD_FILE"));
        Command::new(gen_binary())
            .arg("--environments")
            .arg(&self.root)
            .args([command, "dev", "--bootstrap", &bootstrap, "--ca-file", &ca])
            .args(["--scram-user", &user, "--scram-password-file", &password_file])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("gen runs")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        // The cluster is shared: remove the topics and ACLs whatever the outcome.
        let name = self.name.clone();
        let cleanup = async move {
            let client = admin_sasl().await;
            let topics: Vec<String> = (0..TOPICS).map(|i| format!("{name}.t{i:04}.v1")).collect();
            client.delete_topics(&topics).await;
            let by = |suffix: &str| AclFilter {
                resource_type: ResourceType::Any,
                pattern_type: PatternType::Any,
                principal: Some(format!("User:{name}-{suffix}")),
                ..AclFilter::any()
            };
            client.delete_acls(&[by("app"), by("reader")]).await;
        };
        let _ =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map(|rt| rt.block_on(cleanup));
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_plan_right_after_an_apply_shows_no_changes() {
    let name = unique("served");
    let root = std::env::temp_dir().join(format!("reconcile-served-{name}"));
    write_tree(&root, &name, TOPICS, true);
    let e = Env { root, name };

    let out = e.run("apply", &["--yes", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = report["plan"]["changes"].as_array().unwrap();
    let acls = changes.iter().filter(|c| c["action"] == "create_acl").count();
    assert!(acls >= 2 * TOPICS, "{}", report["plan"]);
    assert_eq!(report["applied"], changes.len());
    assert_eq!(report["served"], true, "{}", text(&out));
    assert!(report["wait_requests"].as_u64().unwrap() >= 3, "read back from each of the 3 brokers: {report}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("3 of 3 broker(s) serve the changes"),
        "{}",
        text(&out)
    );
    // The grants were served by every broker before the topics were written.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("grants first: 3 of 3 broker(s) serve the changes"),
        "{}",
        text(&out)
    );

    // One plan, at once: whichever broker it reads serves everything the apply wrote.
    let out = e.run("plan", &["--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // --no-wait skips the read-back: the deletes of all but one topic and of every ACL.
    write_tree(&e.root, &e.name, 1, false);
    let out = e.run("apply", &["--yes", "--allow-delete", "--no-wait", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned = report["plan"]["changes"].as_array().unwrap().len();
    assert!(planned >= TOPICS - 1 + 2 * TOPICS, "{}", report["plan"]);
    assert_eq!(report["applied"], planned);
    assert_eq!((&report["served"], &report["wait_requests"]), (&serde_json::Value::Null, &0.into()));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("serve the changes"), "{}", text(&out));
}
