//! `gen new project` and `gen new topic` as a user runs them: the built binary on a copy of the
//! committed environments; what it writes must pass `gen validate` and `gen render`.

mod common;
use common::{TempDir, copy_dir};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every file under `dir` with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn environments_copy() -> (TempDir, PathBuf) {
    let tmp = TempDir::new("kp-gen-new-test");
    let environments = tmp.0.join("environments");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments"), &environments);
    (tmp, environments)
}

fn run_gen(environments: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("--environments")
        .arg(environments)
        .args(args)
        .output()
        .expect("gen runs")
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn refused(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(expected), "`{expected}` in: {stderr}");
}

const PROJECT: &[&str] = &[
    "new",
    "project",
    "refunds",
    "--description",
    "Refunds: issued and settled.",
    "--team",
    "finance-it",
    "--email",
    "finance-it@example.com",
    "--classification",
    "confidential",
];

#[test]
fn new_declarations_validate_and_render_in_every_stage() {
    let (tmp, environments) = environments_copy();
    let contracts = environments.join("projects/contracts.yaml");
    let contracts_before = fs::read_to_string(&contracts).unwrap();

    ok(&run_gen(&environments, PROJECT));
    // Above test's 120 partitions and 7 days' retention: overrides keep every stage valid.
    ok(&run_gen(
        &environments,
        &[
            "new",
            "topic",
            "refunds",
            "refund-issued.v1",
            "--description",
            "Issued refunds.",
            "--partitions",
            "200",
            "--retention-ms",
            "1209600000",
            "--schema",
        ],
    ));
    ok(&run_gen(
        &environments,
        &["new", "topic", "refunds", "refunds.refund-settled.v1", "--description", "x"],
    ));
    ok(&run_gen(&environments, &["new", "topic", "contracts", "refund-requested.v1", "--description", "x"]));

    ok(&run_gen(&environments, &["validate"]));
    let out = tmp.0.join("templates");
    ok(&run_gen(&environments, &["render", "--all", "--out", out.to_str().unwrap()]));
    for stage in ["dev", "test", "acc", "prod"] {
        let desired = fs::read_to_string(out.join(stage).join("desired-state.json")).unwrap();
        for topic in
            ["refunds.refund-issued.v1", "refunds.refund-settled.v1", "contracts.refund-requested.v1"]
        {
            assert!(desired.contains(&format!("\"{topic}\"")), "{stage}: {topic}");
        }
    }

    // The existing file keeps every line and comment; the entry sits after its last topic.
    let contracts_after = fs::read_to_string(&contracts).unwrap();
    let old: Vec<&str> = contracts_before.lines().collect();
    let new: Vec<&str> = contracts_after.lines().collect();
    let at = old.iter().zip(&new).position(|(a, b)| a != b).unwrap();
    assert_eq!(new[at], "  - name: contracts.refund-requested.v1");
    assert_eq!(&new[at + 2..], &old[at..]);

    let refunds = fs::read_to_string(environments.join("projects/refunds.yaml")).unwrap();
    assert!(
        refunds.contains("      dev: {partitions: 120, configs: {retention.ms: 604800000}}"),
        "{refunds}"
    );
    assert!(refunds.contains("      acc: {partitions: 120}"), "{refunds}");
    assert!(!refunds.contains("prod:"), "prod allows 240 partitions and 30 days: {refunds}");
    assert!(refunds.contains("schema: schemas/refunds.refund-issued.v1.avsc"));
    // No temporary file is left behind.
    let leftovers: Vec<_> =
        snapshot(&environments).into_keys().filter(|p| p.to_string_lossy().contains(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_schema_stub_is_an_avro_record_next_to_the_existing_schemas() {
    let (_tmp, environments) = environments_copy();
    ok(&run_gen(
        &environments,
        &["new", "topic", "telemetry", "machine-hours.v1", "--description", "Machine hours.", "--schema"],
    ));
    let stub = environments.join("projects/schemas/telemetry.machine-hours.v1.avsc");
    let value: serde_json::Value = serde_json::from_str(&fs::read_to_string(&stub).unwrap()).unwrap();
    assert_eq!(value["type"], "record");
    assert_eq!(value["name"], "MachineHours");
    assert_eq!(value["doc"], "Machine hours.");
    assert!(value["fields"].as_array().is_some_and(|f| !f.is_empty()));
    let project = fs::read_to_string(environments.join("projects/telemetry.yaml")).unwrap();
    assert!(project.contains("    schema: schemas/telemetry.machine-hours.v1.avsc\n"), "{project}");
    ok(&run_gen(&environments, &["validate"]));
}

#[test]
fn nothing_is_overwritten() {
    let (_tmp, environments) = environments_copy();
    let before = snapshot(&environments);

    let mut args = PROJECT.to_vec();
    args[2] = "contracts";
    refused(&run_gen(&environments, &args), "contracts.yaml already exists; not overwritten");
    refused(
        &run_gen(&environments, &["new", "topic", "contracts", "contract-state.v1", "--description", "x"]),
        "`contracts.contract-state.v1` is already declared",
    );
    // The stub's name is taken: neither the stub nor the project file changes.
    fs::write(environments.join("projects/schemas/billing.refund.v1.avsc"), "{}").unwrap();
    refused(
        &run_gen(&environments, &["new", "topic", "billing", "refund.v1", "--description", "x", "--schema"]),
        "billing.refund.v1.avsc already exists; not overwritten",
    );
    fs::remove_file(environments.join("projects/schemas/billing.refund.v1.avsc")).unwrap();
    refused(
        &run_gen(&environments, &["new", "topic", "nosuch", "a.v1", "--description", "x"]),
        "no project file",
    );
    assert_eq!(snapshot(&environments), before);
}

#[test]
fn what_would_not_validate_is_not_written() {
    let (_tmp, environments) = environments_copy();
    let before = snapshot(&environments);
    let mut args = PROJECT.to_vec();
    args[8] = "not-an-address";
    refused(&run_gen(&environments, &args), "KP201");
    refused(
        &run_gen(
            &environments,
            &["new", "topic", "billing", "Refund_Issued", "--description", "x", "--schema"],
        ),
        "KP204",
    );
    refused(
        &run_gen(
            &environments,
            &[
                "new",
                "project",
                "../escape",
                "--description",
                "d",
                "--team",
                "t",
                "--email",
                "t@example.com",
                "--classification",
                "public",
            ],
        ),
        "may contain only",
    );
    // The schema stub written for the check is gone again.
    assert_eq!(snapshot(&environments), before);
}
