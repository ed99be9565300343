//! `gen validate` and `gen render` as a user runs them: the built binary on a copy of the committed
//! environments in a temporary directory.

mod common;
use common::{TempDir, copy_dir};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every file under `dir` with its content, to compare a tree before and after.
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

/// A copy of the committed environments/ in a fresh temporary directory.
fn environments_copy() -> (TempDir, PathBuf) {
    let tmp = TempDir::new("kp-gen-cli-test");
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

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Replaces the one occurrence of `from` in `file`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(file).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` once in {}", file.display());
    fs::write(file, text.replace(from, to)).unwrap();
}

#[test]
fn render_writes_nothing_when_validation_fails() {
    let (tmp, environments) = environments_copy();
    let out = tmp.0.join("templates");
    // An earlier render is in place; a broken declaration must leave it exactly as it was.
    assert!(run_gen(&environments, &["render", "--all", "--out", out.to_str().unwrap()]).status.success());
    let before = snapshot(&out);
    assert!(!before.is_empty());
    edit(&environments.join("stages/prod.yaml"), "brokers: ", "brokers: 0 #");

    let output = run_gen(&environments, &["render", "--all", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("KP103"), "{}", stderr(&output));
    assert!(stderr(&output).contains("nothing written"));
    assert_eq!(snapshot(&out), before, "the output directory is untouched");

    // Into an empty directory: it stays empty (no stage of the other, valid, stages either).
    let fresh = tmp.0.join("fresh");
    fs::create_dir_all(&fresh).unwrap();
    let output = run_gen(&environments, &["render", "--all", "--out", fresh.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(snapshot(&fresh).is_empty());
}

#[test]
fn validate_reports_located_findings_and_exits_1() {
    let (_tmp, environments) = environments_copy();
    let project = environments.join("projects/contracts.yaml");
    edit(
        &project,
        "    partitions: 12\n    configs:\n      cleanup.policy: delete",
        "    partitons: 12\n    configs:\n      cleanup.policy: delete",
    );
    let output = run_gen(&environments, &["validate"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &stderr(&output);
    let line =
        fs::read_to_string(&project).unwrap().lines().position(|l| l.contains("partitons")).unwrap() + 1;
    // The arrow is indented to the width of the line number (annotate-snippets' layout).
    let header = format!("error[KP002]: unknown key `partitons`\n --> {}:{line}:5", project.display());
    assert!(text.replace("\n  --> ", "\n --> ").contains(&header), "{text}");
    assert!(text.contains("= hint: did you mean `partitions`?"), "{text}");
}

#[test]
fn a_finding_underlines_the_whole_value_and_is_plain_text_off_a_terminal() {
    let (_tmp, environments) = environments_copy();
    let project = environments.join("projects/contracts.yaml");
    edit(
        &project,
        "keyed by contract id.\n    partitions: 12\n",
        "keyed by contract id.\n    partitions: 70000\n",
    );
    let output = run_gen(&environments, &["validate"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let line = fs::read_to_string(&project).unwrap().lines().position(|l| l.contains("70000")).unwrap() + 1;
    let expected = format!(
        "error[KP212]: 70000 partitions\n  --> {}:{line}:17\n   |\n{line} |     partitions: 70000\n   | \
         {:16}^^^^^\n",
        project.display(),
        ""
    );
    assert!(text.contains(&expected), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {text}");
}

#[test]
fn validate_accepts_the_committed_environments() {
    let (_tmp, environments) = environments_copy();
    let output = run_gen(&environments, &["validate"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

#[test]
fn render_check_fails_on_a_modified_file_and_passes_when_current() {
    let (tmp, environments) = environments_copy();
    let out = tmp.0.join("templates");
    let out_arg = out.to_str().unwrap();
    assert!(run_gen(&environments, &["render", "dev", "--out", out_arg]).status.success());

    let output = run_gen(&environments, &["render", "dev", "--out", out_arg, "--check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let cluster = out.join("dev/cluster.yaml");
    let mut text = fs::read_to_string(&cluster).unwrap();
    text.push_str("# edited by hand\n");
    fs::write(&cluster, &text).unwrap();
    let before = snapshot(&out);
    let output = run_gen(&environments, &["render", "dev", "--out", out_arg, "--check"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cluster.yaml differs"), "{}", stderr(&output));
    assert_eq!(snapshot(&out), before, "--check writes nothing");

    // A file that is no longer rendered is stale too.
    assert!(run_gen(&environments, &["render", "dev", "--out", out_arg]).status.success());
    fs::write(out.join("dev/old-stack.yaml"), "x").unwrap();
    let output = run_gen(&environments, &["render", "dev", "--out", out_arg, "--check"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("old-stack.yaml is not rendered any more"), "{}", stderr(&output));
}

#[test]
fn render_check_fails_when_nothing_was_rendered_yet() {
    let (tmp, environments) = environments_copy();
    let out = tmp.0.join("templates");
    let output = run_gen(&environments, &["render", "--all", "--out", out.to_str().unwrap(), "--check"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!out.exists(), "--check creates nothing");
}

#[test]
fn render_replaces_a_stage_whole() {
    let (tmp, environments) = environments_copy();
    let out = tmp.0.join("templates");
    let out_arg = out.to_str().unwrap();
    fs::create_dir_all(out.join("dev")).unwrap();
    fs::write(out.join("dev/old-stack.yaml"), "x").unwrap();
    assert!(run_gen(&environments, &["render", "dev", "--out", out_arg]).status.success());
    assert!(!out.join("dev/old-stack.yaml").exists(), "files no longer rendered disappear");
    let stage_dirs: Vec<_> =
        fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(stage_dirs, ["dev"], "no staging or backup directories are left behind");
    let output = run_gen(&environments, &["render", "dev", "--out", out_arg, "--check"]);
    assert_eq!(output.status.code(), Some(0));
}

fn json_stdout(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("stdout is one JSON document ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

/// `(file, status)` of one stage in a `render --format json` report.
fn file_statuses(report: &serde_json::Value, stage: &str) -> Vec<(String, String)> {
    let stage = report["stages"].as_array().unwrap().iter().find(|s| s["stage"] == stage).unwrap();
    stage["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn render_json_reports_each_file_written_unchanged_or_stale() {
    let (tmp, environments) = environments_copy();
    let out = tmp.0.join("templates");
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "dev", "--format", "json", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_gen(&environments, &args)
    };

    let first = render(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = json_stdout(&first);
    assert_eq!((report["command"].as_str(), report["ok"].as_bool()), (Some("render"), Some(true)));
    let files = file_statuses(&report, "dev");
    assert!(files.len() >= 5 && files.iter().all(|(_, s)| s == "created"), "{files:?}");
    assert!(files.iter().any(|(f, _)| f == "cluster.yaml"), "{files:?}");
    assert!(stderr(&first).contains("rendered dev into"), "progress stays on stderr");

    let again = json_stdout(&render(&[]));
    assert!(file_statuses(&again, "dev").iter().all(|(_, s)| s == "unchanged"));

    fs::write(out.join("dev/cluster.yaml"), "edited by hand").unwrap();
    fs::write(out.join("dev/leftover.yaml"), "old").unwrap();
    let check = render(&["--check"]);
    assert_eq!(check.status.code(), Some(1));
    let report = json_stdout(&check);
    assert_eq!((report["check"].as_bool(), report["ok"].as_bool()), (Some(true), Some(false)));
    let files = file_statuses(&report, "dev");
    assert!(files.contains(&("cluster.yaml".into(), "updated".into())), "{files:?}");
    assert!(files.contains(&("leftover.yaml".into(), "removed".into())), "{files:?}");
    assert_eq!(
        fs::read_to_string(out.join("dev/cluster.yaml")).unwrap(),
        "edited by hand",
        "check writes nothing"
    );

    edit(&environments.join("stages/dev.yaml"), "brokers: ", "brokers: 0 #");
    let failed = render(&[]);
    assert_eq!(failed.status.code(), Some(1));
    let report = json_stdout(&failed);
    assert_eq!(report["ok"].as_bool(), Some(false));
    assert!(report["stages"].as_array().unwrap().is_empty());
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "KP103"), "{report}");
}
