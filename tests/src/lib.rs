//! Integration tests against real servers (see tests/run.sh), and what their files share.

pub mod lambda_harness;
pub mod moto;
pub mod private_ca;
pub mod provisioning;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `gen` binary: `GEN_BIN` (tests/run.sh sets it), or built once with cargo next to the
/// running test executable.
pub fn gen_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("GEN_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "kafka-gen", "--bin", "gen"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the gen binary failed");
        // target/<profile>/deps/<this test> -> target/<profile>/gen
        std::env::current_exe()
            .expect("test executable path")
            .parent()
            .and_then(Path::parent)
            .expect("test runs from target/<profile>/deps")
            .join("gen")
    })
}
