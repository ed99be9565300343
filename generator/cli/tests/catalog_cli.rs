//! `gen catalog` as a user runs it: the built binary on a copy of the committed environments.

mod common;
use common::{TempDir, copy_dir};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn environments_copy() -> (TempDir, PathBuf) {
    let tmp = TempDir::new("kp-gen-catalog-test");
    let environments = tmp.0.join("environments");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments"), &environments);
    (tmp, environments)
}

fn catalog(environments: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("--environments")
        .arg(environments)
        .arg("catalog")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_catalog_of_one_stage_is_written_and_rewritten_identically() {
    let (tmp, environments) = environments_copy();
    let out = tmp.0.join("catalog");
    let first = catalog(&environments, &["dev", "--out", out.to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let page = fs::read_to_string(out.join("dev/topics/contracts.contract-changed.v1.html")).unwrap();
    assert!(page.contains("ContractChanged"), "the schema is shown");
    assert!(!out.join("prod").exists(), "only the named stage");
    let before = fs::read_to_string(out.join("dev/asyncapi.yaml")).unwrap();
    let again = catalog(&environments, &["dev", "--out", out.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(fs::read_to_string(out.join("dev/asyncapi.yaml")).unwrap(), before);
}

#[test]
fn a_broken_schema_file_is_located_and_nothing_is_written() {
    let (tmp, environments) = environments_copy();
    fs::write(
        environments.join("projects/schemas/contract-changed.v1.avsc"),
        "{\n  \"type\": \"record\",\n  oops\n}",
    )
    .unwrap();
    let out = tmp.0.join("catalog");
    let result = catalog(&environments, &["--out", out.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    // Validation or the catalog's own reading refuses it: either way at the declaring line of the
    // project file, naming the schema file.
    assert!(err.contains("contracts.yaml:"), "{err}");
    assert!(err.contains("schemas/contract-changed.v1.avsc"), "{err}");
    assert!(!err.contains("oops"), "the file's text is not echoed: {err}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_folder_that_is_not_a_catalog_is_never_replaced() {
    let (tmp, environments) = environments_copy();
    let result = catalog(&environments, &["--out", tmp.0.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("not a catalog"), "{}", stderr(&result));
    assert!(environments.join("defaults.yaml").is_file(), "the folder is untouched");
}

#[test]
fn help_names_the_output_layout() {
    let out = Command::new(env!("CARGO_BIN_EXE_gen")).args(["catalog", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--out <DIR>", "asyncapi.yaml", "replaced as a whole"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
