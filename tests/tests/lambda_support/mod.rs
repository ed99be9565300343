//! Test support for the custom-resource Lambdas: the harness of
//! `platform_tests::lambda_harness`, plus what only the tests need (moto from the environment,
//! the workspace's freshly built binaries, secret scans, unreachable endpoints).

#![allow(dead_code, unused_imports)] // each test file uses a different subset

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub use platform_tests::lambda_harness::*;
pub use platform_tests::moto::{endpoint as moto_endpoint, sdk_config};

/// The directory of this test's build profile (`<target>/debug`), after building every binary
/// of the workspace once per test process the way tests/run.sh does
/// (`cargo build --workspace --all-targets`): the same feature unification as the workspace
/// test build, so nothing is rebuilt when run.sh has built already, and nothing is stale when a
/// single test is run after an edit.
pub fn profile_dir() -> PathBuf {
    static PROFILE_DIR: OnceLock<PathBuf> = OnceLock::new();
    PROFILE_DIR
        .get_or_init(|| {
            // <target>/debug/deps/<this test> -> <target>/debug
            let exe = std::env::current_exe().expect("current_exe");
            let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target/debug").to_path_buf();
            let target_dir = profile_dir.parent().expect("target").to_path_buf();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "--workspace", "--all-targets"])
                .env("CARGO_TARGET_DIR", &target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build for the Lambda binaries");
            assert!(status.success(), "cargo build --workspace --all-targets failed");
            profile_dir
        })
        .clone()
}

/// The path of a Lambda binary (`secure-password-lambda`, `private-certificate-lambda`).
pub fn lambda_binary(name: &str) -> PathBuf {
    profile_dir().join(name)
}

/// Starts one of this workspace's Lambda binaries (built by [`profile_dir`]).
pub trait SpawnWorkspaceBinary {
    /// Starts the workspace's `binary` against this Runtime API with `endpoint` as AWS.
    fn spawn(&self, binary: &str, endpoint: &str, extra_env: &[(&str, &str)]) -> LambdaProcess;
}

impl SpawnWorkspaceBinary for Harness {
    fn spawn(&self, binary: &str, endpoint: &str, extra_env: &[(&str, &str)]) -> LambdaProcess {
        self.spawn_path(&lambda_binary(binary), endpoint, extra_env)
    }
}

/// Asserts that `secret` appears in none of the texts (logs, answers, runtime results).
#[track_caller]
pub fn assert_secret_absent(secret: &str, texts: &[String]) {
    assert!(secret.len() >= 16, "a secret to scan for must be long enough to be meaningful");
    for text in texts {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A TCP endpoint on 127.0.0.1 that accepts connections and never answers, to make an AWS
/// call hang until the function's deadline.
pub async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (format!("http://{addr}"), task)
}
