//! `gen package` end to end, kept cheap for CI: `--profile dev --no-build` packages the two
//! functions whose binaries the workspace build has made already, so neither a release build
//! of the AWS SDK nor a second dev build with other features runs here. What this leaves out,
//! the cargo invocation itself (native and `--toolchain zig`), was verified by hand; see
//! docs/lambdas.md.
//! Needs MOTO_ENDPOINT (the packaged bootstrap is run once against moto).

mod lambda_support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lambda_support::*;
use serde_json::{Value, json};

fn gen_package(out: &Path) {
    let status = Command::new(profile_dir().join("gen"))
        .args(["package", "--profile", "dev", "--no-build"])
        .args(["--function", "secure-password", "--function", "private-certificate", "--out"])
        .arg(out)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .status()
        .expect("run gen package");
    assert!(status.success(), "gen package failed");
}

#[tokio::test]
async fn packages_a_deterministic_bootstrap_zip_that_runs() {
    // Make sure the binary exists in this target directory (shared with `gen package`'s build).
    let built = lambda_binary("secure-password-lambda");
    let out = std::env::temp_dir().join(unique("package"));
    gen_package(&out);
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let entry = &manifest["secure-password"];
    let zip_bytes = std::fs::read(out.join("secure-password.zip")).unwrap();
    assert_eq!(entry["zip"], "secure-password.zip");
    assert_eq!(entry["size"], json!(zip_bytes.len()));
    let sha = entry["sha256"].as_str().unwrap();
    assert_eq!(entry["s3_key"], format!("lambdas/secure-password-{sha}.zip"));

    // Same input, same zip, same key.
    gen_package(&out);
    assert_eq!(std::fs::read(out.join("secure-password.zip")).unwrap(), zip_bytes);

    // One entry, `bootstrap`, executable, byte-for-byte the built binary.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip_bytes)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut file = archive.by_name("bootstrap").unwrap();
    assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o755));
    let mut bootstrap = Vec::new();
    file.read_to_end(&mut bootstrap).unwrap();
    assert_eq!(bootstrap, std::fs::read(&built).unwrap());

    // The packaged bootstrap serves a request, as the provided.al2023 runtime would start it.
    let path = out.join("bootstrap");
    std::fs::write(&path, &bootstrap).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let h = Harness::start().await;
    let _lambda = h.spawn_path(&path, &moto_endpoint(), &[]);
    let name = format!("/{}/p", unique("package"));
    let props = json!({"ServiceToken": "x", "ParameterName": name});
    let created = h
        .invoke(
            h.event("Create", "Custom::SecurePassword", "Pw", None, props.clone(), None),
            Duration::from_secs(60),
        )
        .await
        .expect_success();
    h.invoke(
        h.event("Delete", "Custom::SecurePassword", "Pw", Some(created.physical_id()), props, None),
        Duration::from_secs(60),
    )
    .await
    .expect_success();
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn package_json_names_each_artifact_with_its_key_and_digest() {
    let gen_binary = profile_dir().join("gen");
    let out = std::env::temp_dir().join(unique("package-json"));
    let output = Command::new(gen_binary)
        .args(["package", "--profile", "dev", "--no-build", "--format", "json"])
        .args(["--function", "secure-password", "--out"])
        .arg(&out)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .output()
        .expect("run gen package");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert_eq!((report["command"].as_str(), report["ok"].as_bool()), (Some("package"), Some(true)));
    assert_eq!(report["manifest"], out.join("manifest.json").display().to_string());
    let artifacts = report["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "only the function asked for: {report}");
    let artifact = &artifacts[0];
    let zip_bytes = std::fs::read(out.join("secure-password.zip")).unwrap();
    let digest = kafka_platform_core::digest::sha256_hex(&zip_bytes);
    assert_eq!(artifact["function"], "secure-password");
    assert_eq!(artifact["file"], out.join("secure-password.zip").display().to_string());
    assert_eq!(artifact["sha256"], digest);
    assert_eq!(artifact["s3_key"], format!("lambdas/secure-password-{digest}.zip"));
    assert_eq!(artifact["size"], json!(zip_bytes.len()));
    std::fs::remove_dir_all(&out).ok();
}
