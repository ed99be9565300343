//! `gen catalog` against the real tools: the AsyncAPI documents through the official parser
//! (@asyncapi/parser from npm, tests/scripts/asyncapi.sh) and the HTML catalog in headless
//! Chromium (the Debian package, driven by playwright-core; tests/scripts/browser.sh). Both
//! scripts are installed by tests/run.sh; without them these tests fail with the command to run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use platform_tests::gen_binary;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A fresh directory for one test, removed at the start of the next run (not at the end: the
/// screenshot is an artefact to look at).
fn work_dir(name: &str) -> PathBuf {
    let base = match std::env::var_os("RUN_DIR") {
        Some(run) => PathBuf::from(run),
        // target/<profile>/deps/<test> -> target/
        None => std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_path_buf(),
    };
    let dir = base.join("catalog-test").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the catalog of every committed stage into `dir/catalog`.
fn catalog(dir: &Path) -> PathBuf {
    let out = dir.join("catalog");
    let result = Command::new(gen_binary())
        .args(["--environments", &format!("{REPO}/environments"), "catalog", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(result.status.success(), "gen catalog failed:\n{}", String::from_utf8_lossy(&result.stderr));
    out
}

fn script(name: &str, args: &[&Path]) -> (bool, String) {
    let Output { status, stdout, stderr } =
        Command::new(format!("{REPO}/tests/scripts/{name}")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    assert!(!text.contains("is not installed") && !text.contains("is missing"), "{text}");
    (status.success(), text)
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

#[test]
fn the_asyncapi_documents_of_every_stage_pass_the_official_parser() {
    let dir = work_dir("asyncapi-valid");
    let out = catalog(&dir);
    let (ok, text) = script("asyncapi.sh", &[Path::new("validate"), &out]);
    assert!(ok, "{text}");
    // Four stages, a JSON and a YAML document each.
    assert!(text.contains("8 passed, 0 failed"), "{text}");
    assert!(!text.contains("  warning "), "the parser warns:\n{text}");
}

#[test]
fn the_official_parser_refuses_a_dangling_reference_and_a_broken_avro_schema() {
    let dir = work_dir("asyncapi-broken");
    let out = catalog(&dir);
    let broken = dir.join("broken");
    for (case, edit) in [
        (
            "ref",
            Box::new(|doc: &mut serde_json::Value| {
                let channels = doc["channels"].as_object_mut().unwrap();
                channels.remove("contracts.contract-changed.v1").unwrap();
            }) as Box<dyn FnOnce(&mut serde_json::Value)>,
        ),
        (
            "avro",
            Box::new(|doc: &mut serde_json::Value| {
                let payload =
                    &mut doc["channels"]["contracts.contract-changed.v1"]["messages"]["record"]["payload"];
                payload["schema"]["type"] = serde_json::json!("no-such-avro-type");
            }),
        ),
    ] {
        let file = broken.join(case).join("asyncapi.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::copy(out.join("dev/asyncapi.json"), &file).unwrap();
        edit_json(&file, edit);
    }
    let (ok, text) = script("asyncapi.sh", &[Path::new("validate"), &broken]);
    assert!(!ok, "the parser accepted broken documents:\n{text}");
    assert!(text.contains("0 passed, 2 failed"), "{text}");
    assert!(text.contains("invalid-ref"), "{text}");
    assert!(text.contains("messages.record.payload"), "{text}");
}

#[test]
fn the_html_catalog_loads_in_chromium_without_errors_and_its_search_finds_a_topic() {
    let dir = work_dir("browser");
    let out = catalog(&dir);
    let screenshot = dir.join("dev-search.png");
    let (ok, text) = script(
        "browser.sh",
        &[
            Path::new("check-catalog"),
            &out,
            Path::new("dev"),
            Path::new("contracts.contract-changed.v1"),
            &screenshot,
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("search for contracts.contract-changed.v1: found"), "{text}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "no screenshot at {}",
        screenshot.display()
    );
    println!("screenshot: {}", screenshot.display());
}

#[test]
fn a_script_error_in_the_catalog_fails_the_browser_check() {
    let dir = work_dir("browser-broken");
    let out = catalog(&dir);
    let js = out.join("assets/catalog.js");
    let text = std::fs::read_to_string(&js).unwrap();
    std::fs::write(&js, format!("throw new Error(\"broken on purpose\");\n{text}")).unwrap();
    let (ok, text) = script(
        "browser.sh",
        &[
            Path::new("check-catalog"),
            &out,
            Path::new("dev"),
            Path::new("contracts.contract-changed.v1"),
            &dir.join("broken.png"),
        ],
    );
    assert!(!ok, "a throwing script passed:\n{text}");
    assert!(text.contains("page error: broken on purpose"), "{text}");
    assert!(text.contains("shows no link to it"), "the search cannot work without its script:\n{text}");
}
