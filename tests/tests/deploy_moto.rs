//! `gen deploy` against moto server's CloudFormation, S3 and STS.
//!
//! Needs moto on MOTO_ENDPOINT (`tests/scripts/moto.sh start`, then
//! `eval "$(tests/scripts/moto.sh env)"`; tests/run.sh does both). Runs the real `gen` binary
//! (built here with cargo, or the one named by GEN_BIN) on the sample stages under
//! tests/fixtures/deploy/, whose names carry a run id so that runs never collide in moto.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_platform_core::digest::sha256_hex;
use platform_tests::moto::endpoint as moto_endpoint;

/// The `gen` binary: GEN_BIN, or built with cargo next to this test executable.
fn gen_binary() -> &'static Path {
    static CHECKED: OnceLock<()> = OnceLock::new();
    let bin = platform_tests::gen_binary();
    CHECKED.get_or_init(|| {
        let help = Command::new(bin).args(["deploy", "--help"]).output().expect("gen runs");
        assert!(
            help.status.success(),
            "{} has no `deploy` subcommand: wire deploy::DeployArgs into main.rs",
            bin.display()
        );
    });
    bin
}

/// A copy of a fixture stage under a fresh directory, with RUNID replaced by a unique id.
struct Stage {
    root: PathBuf,
    id: String,
    stage: String,
}

impl Stage {
    fn new(fixture: &str, label: &str) -> Stage {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let id = format!("{label}{}x{}", std::process::id(), nanos % 1_000_000_000);
        let root = std::env::temp_dir().join(format!("gen-deploy-{id}"));
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/deploy").join(fixture);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(source.join("manifest.json")).unwrap()).unwrap();
        let stage = manifest["stage"].as_str().unwrap().to_string();
        let dir = root.join("templates").join(&stage);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&source).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap().replace("RUNID", &id);
            std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
        }
        Stage { root, id, stage }
    }

    fn dir(&self) -> PathBuf {
        self.root.join("templates").join(&self.stage)
    }

    fn stack(&self, suffix: &str) -> String {
        format!("kafka-{}-{suffix}", self.id)
    }

    /// A stand-in Lambda package as `gen package` lays it out (the zip is never run), as large as
    /// a real one: uploads over 64 KiB once hung (the SDK's aws-chunked length was wrong).
    fn write_lambda_package(&self) -> String {
        let dir = self.root.join("lambda");
        std::fs::create_dir_all(&dir).unwrap();
        let zip = format!("not really a zip {}\n", self.id).repeat(3 << 20 >> 5);
        std::fs::write(dir.join("echo.zip"), &zip).unwrap();
        let sha = sha256_hex(zip.as_bytes());
        let key = format!("lambdas/echo-{sha}.zip");
        let manifest =
            serde_json::json!({"echo": {"zip": "echo.zip", "sha256": sha, "s3_key": key, "size": zip.len()}});
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
        key
    }

    /// Replaces a file of the stage by another fixture file (RUNID replaced as well).
    fn replace_with_fixture(&self, file: &str, fixture: &str) {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/deploy").join(fixture);
        let text = std::fs::read_to_string(source).unwrap().replace("RUNID", &self.id);
        std::fs::write(self.dir().join(file), text).unwrap();
    }

    fn edit(&self, file: &str, edit: impl FnOnce(String) -> String) {
        let path = self.dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }

    fn command_line(&self, args: &[&str]) -> Vec<String> {
        let mut line = vec![
            gen_binary().display().to_string(),
            "deploy".into(),
            self.stage.clone(),
            "--templates".into(),
            self.root.join("templates").display().to_string(),
            "--lambda-dir".into(),
            self.root.join("lambda").display().to_string(),
            "--poll-interval".into(),
            "1".into(),
        ];
        line.extend(args.iter().map(|a| a.to_string()));
        line
    }

    fn env(command: &mut Command) -> &mut Command {
        command
            .env("AWS_ENDPOINT_URL", moto_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
    }

    /// `gen deploy` as a pipeline runs it: no terminal.
    fn deploy(&self, args: &[&str]) -> Run {
        let line = self.command_line(args);
        let output = Self::env(Command::new(&line[0]).args(&line[1..]))
            .stdin(Stdio::null())
            .output()
            .expect("gen runs");
        Run::from(output)
    }

    /// `gen deploy` on a terminal (a pseudo-terminal made by util-linux `script`), typing
    /// `answer` at the prompt. Everything it printed arrives on stdout.
    fn deploy_on_terminal(&self, args: &[&str], answer: &str) -> Run {
        let quoted: Vec<String> =
            self.command_line(args).iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
        let mut child = Self::env(Command::new("script").args(["-qec", &quoted.join(" "), "/dev/null"]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs");
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        drop(stdin);
        Run::from(child.wait_with_output().expect("script finishes"))
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// What one `gen deploy` printed and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }

    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{}", self.all());
        self
    }

    /// The change-set table row of a logical id, split into its columns.
    fn row(&self, logical_id: &str) -> Option<Vec<String>> {
        self.stdout.lines().find_map(|line| {
            let cols: Vec<String> =
                line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect();
            (cols.len() == 4 && cols[0] == logical_id).then_some(cols)
        })
    }

    fn expect_row(&self, logical_id: &str, ty: &str, action: &str, replacement: &str) {
        let row = self.row(logical_id).unwrap_or_else(|| panic!("no row for {logical_id}\n{}", self.all()));
        assert_eq!(row, [logical_id, ty, action, replacement], "\n{}", self.all());
    }
}

/// Clients on moto for checking what the deploy did.
struct Aws {
    rt: tokio::runtime::Runtime,
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
}

impl Aws {
    fn new() -> Aws {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = rt.block_on(platform_tests::moto::sdk_config());
        Aws { cfn: aws_sdk_cloudformation::Client::new(&config), s3: platform_tests::moto::s3(&config), rt }
    }

    fn stack(&self, name: &str) -> Option<aws_sdk_cloudformation::types::Stack> {
        self.rt
            .block_on(self.cfn.describe_stacks().stack_name(name).send())
            .ok()
            .and_then(|o| o.stacks().first().cloned())
    }

    fn status(&self, name: &str) -> Option<String> {
        self.stack(name).and_then(|s| s.stack_status().map(|s| s.as_str().to_string()))
    }

    fn resources(&self, name: &str) -> Vec<String> {
        let out = self.rt.block_on(self.cfn.describe_stack_resources().stack_name(name).send()).unwrap();
        let mut ids: Vec<String> =
            out.stack_resources().iter().filter_map(|r| r.logical_resource_id().map(String::from)).collect();
        ids.sort();
        ids
    }

    fn parameter(&self, stack: &str, key: &str) -> Option<String> {
        self.stack(stack)?
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value().map(String::from))
    }

    fn open_change_sets(&self, stack: &str) -> usize {
        let out = self.rt.block_on(self.cfn.list_change_sets().stack_name(stack).send()).unwrap();
        out.summaries()
            .iter()
            .filter(|s| s.stack_name() == Some(stack))
            .filter(|s| s.execution_status().map(|e| e.as_str()) == Some("AVAILABLE"))
            .count()
    }

    fn has_object(&self, bucket: &str, key: &str) -> bool {
        self.rt.block_on(self.s3.head_object().bucket(bucket).key(key).send()).is_ok()
    }

    /// The bytes stored under a key.
    fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.rt.block_on(async {
            let out = self.s3.get_object().bucket(bucket).key(key).send().await.unwrap();
            out.body.collect().await.unwrap().into_bytes().to_vec()
        })
    }

    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self.rt.block_on(self.s3.list_objects_v2().bucket(bucket).prefix(prefix).send()).unwrap();
        out.contents().iter().filter_map(|o| o.key().map(String::from)).collect()
    }
}

#[test]
fn first_deploy_creates_second_reports_no_changes_and_a_changed_template_updates() {
    let aws = Aws::new();
    let stage = Stage::new("dev", "life");
    let lambda_key = stage.write_lambda_package();
    let (artifacts, app) = (stage.stack("artifacts"), stage.stack("app"));
    let bucket = format!("kafka-{}-artifacts", stage.id);

    // First deploy: both stacks are created through CREATE change sets, in order.
    let first = stage.deploy(&["--yes"]);
    first.expect_code(0);
    first.expect_row("ArtifactBucket", "AWS::S3::Bucket", "+ add", "-");
    first.expect_row("Function", "AWS::Lambda::Function", "+ add", "-");
    first.expect_row("StateLog", "AWS::Logs::LogGroup", "+ add", "-");
    assert!(first.stdout.contains(&format!("{artifacts} (new stack")), "{}", first.all());
    assert!(
        first.stdout.find(&artifacts) < first.stdout.find("uploaded 2")
            && first.stdout.find("uploaded 2") < first.stdout.find(&app),
        "bucket stack, then uploads, then the rest\n{}",
        first.all()
    );
    assert!(first.stdout.contains("2 of 2 stack(s) changed"), "{}", first.all());
    assert_eq!(aws.status(&artifacts).as_deref(), Some("CREATE_COMPLETE"));
    assert_eq!(aws.status(&app).as_deref(), Some("CREATE_COMPLETE"));
    // Parameters and tags come from the declaration; files are in the bucket by hash.
    assert_eq!(aws.parameter(&app, "CodeKey").as_deref(), Some(lambda_key.as_str()));
    assert_eq!(aws.parameter(&app, "RetentionDays").as_deref(), Some("7"));
    let state_key = aws.parameter(&app, "DesiredStateKey").unwrap();
    let state = std::fs::read(stage.dir().join("desired-state.json")).unwrap();
    assert_eq!(state_key, format!("desired-state/dev/{}.json", sha256_hex(&state)));
    assert_eq!(aws.object(&bucket, &lambda_key), std::fs::read(stage.root.join("lambda/echo.zip")).unwrap());
    assert!(aws.has_object(&bucket, &state_key));
    let tags: Vec<(String, String)> = aws
        .stack(&app)
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().into(), t.value().unwrap_or_default().into()))
        .collect();
    assert!(tags.contains(&("platform".into(), "kafka".into())), "{tags:?}");
    // The NoEcho value never shows, not even in the echo of parameters.
    assert!(!first.all().contains(&format!("Sup3r-Secret-{}", stage.id)));

    // Second deploy of the same declaration: nothing to do, nothing uploaded again.
    let second = stage.deploy(&["--yes"]);
    second.expect_code(0);
    assert_eq!(second.stdout.matches("No changes.").count(), 2, "{}", second.all());
    assert!(second.stdout.contains("uploaded 0, already present 2"), "{}", second.all());
    assert!(second.stdout.contains("0 of 2 stack(s) changed"), "{}", second.all());
    assert_eq!(aws.open_change_sets(&app), 0, "empty change sets are deleted");

    // A changed declaration: the dry run shows an UPDATE change set with exactly these rows.
    stage.replace_with_fixture("app.yaml", "update/app.yaml");
    let dry = stage.deploy(&["--dry-run", "--detailed-exitcode"]);
    dry.expect_code(2);
    assert!(dry.stdout.contains(&format!("{app} (update")), "{}", dry.all());
    dry.expect_row("AuditLogs", "AWS::Logs::LogGroup", "+ add", "-");
    // moto reports no Replacement for modifications; AWS says True/False/Conditional.
    dry.expect_row("Logs", "AWS::Logs::LogGroup", "~ modify", "unknown");
    for untouched in ["Function", "FunctionRole", "StateLog"] {
        assert!(dry.row(untouched).is_none(), "{untouched} must not change\n{}", dry.all());
    }
    assert!(dry.stdout.contains("1 to add, 1 to modify, 0 to remove"), "{}", dry.all());
    assert!(!aws.resources(&app).contains(&"AuditLogs".to_string()), "a dry run executes nothing");
    assert_eq!(aws.open_change_sets(&app), 0, "a dry run leaves no change set behind");

    // Without a terminal and without --yes, nothing is executed.
    let refused = stage.deploy(&[]);
    refused.expect_code(1);
    assert!(refused.all().contains("--yes"), "{}", refused.all());
    assert!(!aws.resources(&app).contains(&"AuditLogs".to_string()));
    assert_eq!(aws.open_change_sets(&app), 0);

    // With --yes the update runs and streams the stack's events.
    let update = stage.deploy(&["--yes"]);
    update.expect_code(0);
    update.expect_row("AuditLogs", "AWS::Logs::LogGroup", "+ add", "-");
    assert!(update.stdout.contains("UPDATE_IN_PROGRESS"), "{}", update.all());
    assert!(update.stdout.contains(&format!("{app}: UPDATE_COMPLETE")), "{}", update.all());
    assert!(aws.resources(&app).contains(&"AuditLogs".to_string()));
    assert_eq!(aws.status(&app).as_deref(), Some("UPDATE_COMPLETE"));
}

#[test]
fn a_template_the_emulator_rejects_fails_readably_and_a_fixed_one_deploys() {
    let aws = Aws::new();
    let stage = Stage::new("rejected", "rej");
    let endpoint = stage.stack("endpoint");

    let failed = stage.deploy(&["--yes", "--stack", &endpoint]);
    failed.expect_code(1);
    assert!(failed.stdout.contains(&format!("FAILED: stack {endpoint}")), "{}", failed.all());
    assert!(
        failed.stdout.contains("Listener protocol 'TCP' must be one of 'HTTP, HTTPS'"),
        "the emulator's reason is shown\n{}",
        failed.all()
    );
    assert!(failed.stdout.contains("Outcome:"), "{}", failed.all());

    // The failed creation left an empty stack in review; the next deploy starts it afresh.
    stage.edit("endpoint.yaml", |t| {
        t.replacen(
            "Protocol: TCP\n      Port: 9092\n      DefaultActions",
            "Protocol: HTTP\n      Port: 9092\n      DefaultActions",
            1,
        )
    });
    let fixed = stage.deploy(&["--yes", "--stack", &endpoint]);
    fixed.expect_code(0);
    assert!(fixed.stdout.contains(&format!("{endpoint} (new stack")), "{}", fixed.all());
    assert_eq!(aws.status(&endpoint).as_deref(), Some("CREATE_COMPLETE"));
}

#[test]
fn a_noecho_value_quoted_by_aws_is_masked() {
    let stage = Stage::new("rejected", "sec");
    let secret = format!("Sup3r-Secret-{}", stage.id);
    let run = stage.deploy(&["--yes", "--stack", &stage.stack("secret")]);
    run.expect_code(1);
    assert!(!run.all().contains(&secret), "the secret leaked\n{}", run.all());
    // moto's request validation quotes the value: "Value '...' at 'protocol' failed ...".
    assert!(
        run.stdout.contains("'****' at 'protocol'"),
        "the reason is shown with the value masked\n{}",
        run.all()
    );
}

#[test]
fn credentials_of_another_account_are_refused_before_anything_changes() {
    let aws = Aws::new();
    let stage = Stage::new("dev", "acct");
    stage.write_lambda_package();
    stage.edit("manifest.json", |t| t.replace("123456789012", "111111111111"));
    let run = stage.deploy(&["--yes"]);
    run.expect_code(1);
    assert!(run.stderr.contains("belong to account 123456789012"), "{}", run.all());
    assert!(run.stderr.contains("111111111111"), "{}", run.all());
    assert_eq!(aws.status(&stage.stack("artifacts")), None);
}

#[test]
fn a_missing_lambda_package_is_reported_before_anything_changes() {
    let aws = Aws::new();
    let stage = Stage::new("dev", "pkg");
    let run = stage.deploy(&["--yes"]);
    run.expect_code(1);
    assert!(run.stderr.contains("gen package"), "{}", run.all());
    assert_eq!(aws.status(&stage.stack("artifacts")), None);
}

#[test]
fn a_template_over_the_inline_limit_goes_through_the_bucket() {
    let aws = Aws::new();
    // 60 KB of template metadata: over the 51,200 bytes CloudFormation accepts inline, in any form.
    let stage = Stage::new("dev", "big");
    stage.write_lambda_package();
    let padding: String = (0..600).map(|i| format!("  Padding{i:04}: {}\n", "x".repeat(80))).collect();
    stage.edit("app.yaml", |t| format!("Metadata:\n{padding}{t}"));
    let run = stage.deploy(&["--yes"]);
    run.expect_code(0);
    assert_eq!(aws.status(&stage.stack("app")).as_deref(), Some("CREATE_COMPLETE"));
    let bucket = format!("kafka-{}-artifacts", stage.id);
    let templates = aws.keys(&bucket, "templates/dev/");
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert!(templates[0].starts_with(&format!("templates/dev/{}-", stage.stack("app"))));

    // 60 KB of YAML comments and indentation only: the compact JSON form fits, so it goes inline.
    let stage = Stage::new("dev", "wide");
    stage.write_lambda_package();
    let padding: String = (0..600).map(|i| format!("# padding line {i:04} {}\n", "x".repeat(80))).collect();
    stage.edit("app.yaml", |t| format!("{padding}{t}"));
    stage.deploy(&["--yes"]).expect_code(0);
    assert_eq!(aws.status(&stage.stack("app")).as_deref(), Some("CREATE_COMPLETE"));
    let bucket = format!("kafka-{}-artifacts", stage.id);
    assert_eq!(aws.keys(&bucket, "templates/dev/"), Vec::<String>::new());
}

#[test]
fn prod_asks_for_its_name_then_protects_the_stateful_resources() {
    let aws = Aws::new();
    let stage = Stage::new("prod", "prod");
    let stack = stage.stack("artifacts");

    // On a terminal, a plain "yes" does not confirm a production change.
    let declined = stage.deploy_on_terminal(&[], "yes");
    declined.expect_code(1);
    assert!(declined.stdout.contains("Type 'prod' to continue"), "{}", declined.all());
    assert!(declined.stdout.contains("Cancelled"), "{}", declined.all());
    assert_eq!(aws.status(&stack), None, "the empty stack of the declined change set is gone");

    // Typing the stage name executes it, then the stack policy is set.
    let confirmed = stage.deploy_on_terminal(&[], "prod");
    assert_eq!(aws.status(&stack).as_deref(), Some("CREATE_COMPLETE"), "{}", confirmed.all());
    let policy = aws.rt.block_on(aws.cfn.get_stack_policy().stack_name(&stack).send()).unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.stack_policy_body().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][1],
        serde_json::json!({"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
            "Resource": ["LogicalResourceId/ArtifactBucket", "LogicalResourceId/ArtifactKey"]})
    );
    // moto 5.2.5 has no UpdateTerminationProtection: the deploy says so and exits 1. Against
    // AWS the same call turns protection on (see docs/deploy.md).
    confirmed.expect_code(1);
    assert!(
        confirmed.stdout.contains("UpdateTerminationProtection") && confirmed.stdout.contains("HTTP 500"),
        "{}",
        confirmed.all()
    );
}

/// The one JSON document `--format json` prints on stdout.
fn json_report(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document: {e}\n{}", run.all()))
}

/// `(stack, action, outcome)` of each stack in a deploy report, in deployment order.
fn stack_outcomes(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (text(&s["stack"]), text(&s["action"]), text(&s["outcome"])))
        .collect()
}

#[test]
fn deploy_json_reports_stacks_with_change_sets_and_outcomes_and_the_artifacts() {
    let aws = Aws::new();
    let stage = Stage::new("dev", "json");
    let lambda_key = stage.write_lambda_package();
    let (artifacts, app) = (stage.stack("artifacts"), stage.stack("app"));
    let bucket = format!("kafka-{}-artifacts", stage.id);

    let first = stage.deploy(&["--yes", "--format", "json"]);
    first.expect_code(0);
    let report = json_report(&first);
    assert_eq!(report["command"], "deploy");
    assert_eq!((report["stage"].as_str(), report["outcome"].as_str()), (Some("dev"), Some("deployed")));
    let created = |name: &str| (name.to_string(), "create".to_string(), "executed".to_string());
    assert_eq!(stack_outcomes(&report), vec![created(&artifacts), created(&app)]);
    for stack in report["stacks"].as_array().unwrap() {
        let id = stack["change_set_id"].as_str().unwrap_or_default();
        assert!(id.starts_with("arn:aws:cloudformation:") && id.contains(":changeSet/gen-"), "{stack}");
        assert!(stack["changes"].as_u64().unwrap() > 0, "{stack}");
    }
    assert_eq!(report["artifacts"]["bucket"], bucket.as_str());
    let uploaded = report["artifacts"]["uploaded"].as_array().unwrap();
    assert!(uploaded.iter().any(|k| k == lambda_key.as_str()), "{report}");
    assert_eq!(aws.object(&bucket, &lambda_key), std::fs::read(stage.root.join("lambda/echo.zip")).unwrap());
    // The lines for people went to stderr; stdout held the document only.
    assert!(first.stderr.contains("2 of 2 stack(s) changed"), "{}", first.all());

    let second = json_report(stage.deploy(&["--yes", "--format", "json"]).expect_code(0));
    let unchanged = |name: &str| (name.to_string(), "update".to_string(), "no_changes".to_string());
    assert_eq!(stack_outcomes(&second), vec![unchanged(&artifacts), unchanged(&app)]);
    assert!(second["stacks"].as_array().unwrap().iter().all(|s| s["change_set_id"].is_null()));
    assert_eq!(second["artifacts"]["uploaded"].as_array().map(Vec::len), Some(0));
    assert!(second["artifacts"]["present"].as_array().unwrap().iter().any(|k| k == lambda_key.as_str()));

    stage.replace_with_fixture("app.yaml", "update/app.yaml");
    let dry = stage.deploy(&["--dry-run", "--format", "json"]);
    let review = json_report(dry.expect_code(0));
    assert_eq!((review["outcome"].as_str(), review["pending"].as_bool()), (Some("reviewed"), Some(true)));
    assert_eq!(review["dry_run"].as_bool(), Some(true));
    let app_entry = review["stacks"].as_array().unwrap().iter().find(|s| s["stack"] == app.as_str()).unwrap();
    assert_eq!((app_entry["outcome"].as_str(), app_entry["changes"].as_u64()), (Some("reviewed"), Some(2)));
    assert!(!aws.resources(&app).contains(&"AuditLogs".to_string()), "a dry run executes nothing");
}
