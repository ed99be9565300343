//! Temporary debug access (`gen access`, docs/operators-guide.md "Temporary debug access") on the
//! real KRaft cluster of `tests/scripts/kafka.sh`, with SSM and STS on moto (`tests/scripts/moto.sh`).
//! Runs the real `gen` binary (GEN_BIN, or built here). A grant's identity consumes its project's
//! topic and is refused producing and another project's topic; `gen plan` sees no drift while it
//! lasts; once expired (the record's expiry is moved into the past, which is what waiting does),
//! one `gen apply` removes its ACLs, its SCRAM credential and its parameters and nothing else.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kafka_admin::{AclFilter, AdminClient};
use kafka_common::*;
use platform_tests::gen_binary;

/// An environments tree: the repository's defaults (with a resource prefix of its own, so the
/// SSM tree is this test's) and the dev and acc stages, and projects `a` and `b` with one topic each.
struct Env {
    root: PathBuf,
    a: String,
    b: String,
    prefix: String,
}

impl Env {
    fn new() -> Self {
        let a = unique("acc");
        let b = unique("acc");
        let n = a.rsplit('-').take(2).collect::<Vec<_>>().join("");
        let prefix = format!("t{}", &n[n.len().saturating_sub(12)..]);
        let root = std::env::temp_dir().join(format!("access-grant-{a}"));
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        std::fs::create_dir_all(root.join("stages")).unwrap();
        std::fs::create_dir_all(root.join("projects")).unwrap();
        let defaults = std::fs::read_to_string(repo.join("defaults.yaml")).unwrap();
        assert!(defaults.contains("resource_prefix: kafka\n"), "the defaults changed: adapt this test");
        let defaults = defaults.replace("resource_prefix: kafka\n", &format!("resource_prefix: {prefix}\n"));
        std::fs::write(root.join("defaults.yaml"), defaults).unwrap();
        std::fs::copy(repo.join("stages/dev.yaml"), root.join("stages/dev.yaml")).unwrap();
        let acc = std::fs::read_to_string(repo.join("stages/acc.yaml")).unwrap();
        let acc = format!("{acc}\ndebug_access:\n  approvers: [moto, bob]\n");
        std::fs::write(root.join("stages/acc.yaml"), acc).unwrap();
        for name in [&a, &b] {
            let project = format!(
                "project: {name}\ndescription: Debug access test project.\nowner:\n  team: platform\n  \
                 email: platform@example.com\ndata_classification: internal\ntopics:\n  - name: {name}.events.v1\n    \
                 description: Events.\n"
            );
            std::fs::write(root.join("projects").join(format!("{name}.yaml")), project).unwrap();
        }
        Env { root, a, b, prefix }
    }

    /// Runs `gen <args>` with SSM and STS on moto and no terminal; `connect` adds the admin's
    /// SASL_SSL connection.
    fn run(&self, args: &[&str], connect: bool) -> Output {
        let mut command = Command::new(gen_binary());
        command.arg("--environments").arg(&self.root).args(args);
        if connect {
            command.args([
                "--bootstrap",
                &env("KAFKA_TEST_BOOTSTRAP_SASL"),
                "--ca-file",
                &env("KAFKA_TEST_CA_FILE"),
                "--scram-user",
                &admin_user(),
                "--scram-password-file",
                &env("KAFKA_TEST_ADMIN_PASSWORD_FILE"),
            ]);
        }
        command
            .env("AWS_ENDPOINT_URL", platform_tests::moto::endpoint())
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env("USER", "alice")
            .stdin(Stdio::null())
            .output()
            .expect("gen runs")
    }

    fn topic(&self, project: &str) -> String {
        format!("{project}.events.v1")
    }

    fn tree(&self, stage: &str) -> String {
        format!("/{}/{stage}/debug", self.prefix)
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

/// The grant id `gen access grant` prints (`granted <id> to user ...`).
fn granted_id(out: &Output) -> String {
    assert!(out.status.success(), "grant failed: {}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("granted ")).unwrap_or_else(|| panic!("{stdout}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

/// A client properties file from `kafka.sh client-config`, with short timeouts.
fn client_properties(identity: &[&str]) -> PathBuf {
    let mut args = vec!["client-config"];
    args.extend_from_slice(identity);
    let out = kafka_sh(&args);
    assert!(out.status.success(), "client-config failed: {}", String::from_utf8_lossy(&out.stderr));
    let base = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut props = std::fs::read_to_string(&base).unwrap();
    for line in [
        "max.block.ms=15000",
        "delivery.timeout.ms=15000",
        "request.timeout.ms=10000",
        "default.api.timeout.ms=15000",
    ] {
        props.push_str(line);
        props.push('\n');
    }
    let path = std::env::temp_dir().join(format!("{}.properties", unique("access")));
    std::fs::write(&path, props).unwrap();
    path
}

fn produce(props: &Path, topic: &str, records: &[&str]) -> Output {
    let input: String = records.iter().map(|r| format!("{r}\n")).collect();
    kafka_sh_with_input(&["console-producer", props.to_str().unwrap(), topic], &input)
}

fn consume(props: &Path, topic: &str, group: &str, max: u32) -> (Vec<String>, String) {
    let max = max.to_string();
    let args = [
        "console-consumer",
        props.to_str().unwrap(),
        topic,
        group,
        "--max-messages",
        &max,
        "--timeout-ms",
        "15000",
    ];
    let out = kafka_sh(&args);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    lines.sort();
    (lines, String::from_utf8_lossy(&out.stderr).into())
}

/// Every ACL binding and every SCRAM user of the cluster.
async fn snapshot(admin: &AdminClient) -> (BTreeSet<String>, BTreeSet<String>) {
    let acls = admin.describe_acls(&AclFilter::any()).await.unwrap().iter().map(|a| a.to_string()).collect();
    let users = admin.describe_user_scram_credentials(None).await.unwrap().into_keys().collect();
    (acls, users)
}

async fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&platform_tests::moto::sdk_config().await)
}

async fn parameter(ssm: &aws_sdk_ssm::Client, name: &str) -> Option<String> {
    ssm.get_parameter().name(name).with_decryption(true).send().await.ok()?.parameter?.value
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_reads_its_projects_topic_only_and_is_gone_after_expiry_and_one_reconciler_run() {
    let e = Env::new();
    let admin = admin_sasl().await;
    let ssm = ssm().await;
    let (topic_a, topic_b) = (e.topic(&e.a), e.topic(&e.b));

    // The declared topics, by the reconciler; two records to read.
    let out = e.run(&["apply", "dev", "--yes"], true);
    assert!(out.status.success(), "{}", text(&out));
    let admin_props = client_properties(&["sasl", &admin_user(), &env("KAFKA_TEST_ADMIN_PASSWORD_FILE")]);
    let out = produce(&admin_props, &topic_a, &["m1", "m2"]);
    assert!(out.status.success(), "{}", text(&out));

    // Out of bounds, or another project's topic: refused before anything is written.
    let out = e.run(&["access", "grant", "dev", "--project", &e.a, "--ttl", "25h", "--reason", "x"], true);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("at most 24h"), "{}", text(&out));
    let args =
        ["access", "grant", "dev", "--project", &e.a, "--topics", &topic_b, "--ttl", "1h", "--reason", "x"];
    let out = e.run(&args, true);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains(&format!("not topics of project {}", e.a)), "{}", text(&out));

    let reason = "consumer lag on events, INC-4711";
    let out = e.run(&["access", "grant", "dev", "--project", &e.a, "--ttl", "2h", "--reason", reason], true);
    let id = granted_id(&out);
    let user = format!("debug.{id}");
    assert!(id.starts_with(&format!("{}.", e.a)), "{id}");
    let credential = format!("{}/{id}/credential", e.tree("dev"));
    let password = parameter(&ssm, &credential).await.expect("the credential is in SSM");
    assert!(!text(&out).contains(&password), "the credential is never printed");

    // The record: who, what, why, until when.
    let out = e.run(&["access", "list", "dev", "--format", "json"], false);
    assert!(out.status.success(), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let grants = listed["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{listed:#}");
    let g = &grants[0];
    assert_eq!((g["id"].as_str(), g["user"].as_str()), (Some(id.as_str()), Some(user.as_str())));
    assert_eq!(g["reason"], reason);
    assert_eq!(g["topics"], serde_json::json!([topic_a]));
    assert_eq!(g["local_user"], "alice");
    assert!(g["requested_by"].as_str().unwrap().starts_with("arn:aws:"), "{g}");
    assert_eq!(g["expires_at"].as_u64().unwrap() - g["created_at"].as_u64().unwrap(), 7200);
    assert_eq!(g["expired"], false);

    // While it lasts the reconciler sees no drift.
    let out = e.run(&["plan", "dev", "--detailed-exitcode"], true);
    assert_eq!(out.status.code(), Some(0), "an active grant is no drift: {}", text(&out));

    // The identity reads its project's topic in its own group...
    let password_file = std::env::temp_dir().join(format!("{}.password", unique("access")));
    std::fs::write(&password_file, &password).unwrap();
    let debug = client_properties(&["sasl", &user, password_file.to_str().unwrap()]);
    let usable = eventually(Duration::from_secs(15), async || {
        AdminClient::connect(sasl_config(&user, &password)).await.is_ok()
    })
    .await;
    assert!(usable, "the credential of {user} did not become usable");
    let (records, stderr) = consume(&debug, &topic_a, &format!("{user}.g1"), 2);
    assert_eq!(records, ["m1", "m2"], "{stderr}");
    // ...and may neither produce to it nor read another project's topic.
    let out = produce(&debug, &topic_a, &["intruder"]);
    assert!(text(&out).contains("AuthorizationException"), "{}", text(&out));
    let (records, stderr) = consume(&debug, &topic_b, &format!("{user}.g2"), 1);
    assert!(records.is_empty(), "{records:?}");
    assert!(stderr.contains("AuthorizationException"), "{stderr}");
    let (records, _) = consume(&admin_props, &topic_a, &unique("admin-check"), 3);
    assert_eq!(records, ["m1", "m2"], "the refused record is not there");

    // Expiry: the record's end moved into the past stands for the passing time.
    let record = format!("{}/{id}/grant", e.tree("dev"));
    let mut stored: serde_json::Value =
        serde_json::from_str(&parameter(&ssm, &record).await.unwrap()).unwrap();
    stored["expires_at"] = serde_json::json!(stored["created_at"].as_u64().unwrap() - 1);
    ssm.put_parameter().name(&record).value(stored.to_string()).overwrite(true).send().await.unwrap();

    let out = e.run(&["plan", "dev", "--format", "json"], true);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only the expired grant: {plan:#}");
    assert_eq!(changes[0]["action"], "expire_grant");
    assert_eq!(changes[0]["grant"], id.as_str());
    assert_eq!(changes[0]["acls"].as_array().unwrap().len(), 3, "{plan:#}");
    assert_eq!(changes[0]["scram_credential"], true);

    let (acls_before, users_before) = snapshot(&admin).await;
    assert!(users_before.contains(&user));
    let out = e.run(&["apply", "dev", "--yes"], true);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("- expire debug grant {id}")), "{}", text(&out));
    let gone = eventually(Duration::from_secs(15), async || !snapshot(&admin).await.1.contains(&user)).await;
    assert!(gone, "the credential of {user} is still there");
    let (acls_after, users_after) = snapshot(&admin).await;
    let removed_acls: BTreeSet<_> = acls_before.difference(&acls_after).cloned().collect();
    assert_eq!(removed_acls.len(), 3, "{removed_acls:#?}");
    assert!(removed_acls.iter().all(|a| a.contains(&format!("User:{user} "))), "{removed_acls:#?}");
    assert!(!acls_after.iter().any(|a| a.contains(&format!("User:{user} "))), "no ACL of {user} left");
    let removed_users: Vec<_> = users_before.difference(&users_after).collect();
    assert_eq!(removed_users, [&user], "only the debug user's credential");
    assert_eq!(parameter(&ssm, &credential).await, None, "the credential parameter is gone");
    assert_eq!(parameter(&ssm, &record).await, None, "the record is gone");
    // The credential no longer logs in, and the next plan is empty.
    assert!(AdminClient::connect(sasl_config(&user, &password)).await.is_err());
    let out = e.run(&["plan", "dev", "--detailed-exitcode"], true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let _ = std::fs::remove_file(&password_file);
    for r in admin.delete_topics(&[topic_a, topic_b]).await {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn write_in_a_production_like_stage_needs_another_declared_approver_and_revoke_removes_it_now() {
    let e = Env::new();
    let admin = admin_sasl().await;
    let ssm = ssm().await;
    let grant = |extra: &[&str]| {
        let mut args = vec![
            "access",
            "grant",
            "acc",
            "--project",
            &e.a,
            "--write",
            "--ttl",
            "30m",
            "--reason",
            "replay",
        ];
        args.extend_from_slice(extra);
        e.run(&args, true)
    };
    let out = grant(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("needs --approver"), "{}", text(&out));
    let out = grant(&["--approver", "mallory"]);
    assert!(text(&out).contains("not an approver"), "{}", text(&out));
    // moto's caller identity is user `moto`: the requester cannot approve.
    let out = grant(&["--approver", "moto"]);
    assert!(text(&out).contains("second person"), "{}", text(&out));
    let listed = e.run(&["access", "list", "acc", "--format", "json"], false);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["grants"], serde_json::json!([]), "nothing recorded for refused grants");

    let id = granted_id(&grant(&["--approver", "bob"]));
    let user = format!("debug.{id}");
    let principal = format!("User:{user}");
    let mine = AclFilter { principal: Some(principal.clone()), ..AclFilter::any() };
    let acls = admin.describe_acls(&mine).await.unwrap();
    let ops: BTreeSet<String> = acls.iter().map(|a| a.operation.to_string()).collect();
    assert!(ops.contains("WRITE") && ops.contains("READ"), "{acls:?}");
    let record = parameter(&ssm, &format!("{}/{id}/grant", e.tree("acc"))).await.unwrap();
    assert!(record.contains("\"approver\":\"bob\""), "{record}");

    let out = e.run(&["access", "revoke", "acc", &id], true);
    assert!(out.status.success(), "{}", text(&out));
    let gone =
        eventually(Duration::from_secs(15), async || admin.describe_acls(&mine).await.unwrap().is_empty())
            .await;
    assert!(gone, "ACLs of {principal} left");
    let users = admin.describe_user_scram_credentials(None).await.unwrap();
    assert!(!users.contains_key(&user));
    assert_eq!(parameter(&ssm, &format!("{}/{id}/grant", e.tree("acc"))).await, None);
    assert_eq!(parameter(&ssm, &format!("{}/{id}/credential", e.tree("acc"))).await, None);
    let out = e.run(&["access", "revoke", "acc", &id], true);
    assert_eq!(out.status.code(), Some(1), "a second revoke finds nothing: {}", text(&out));
}
