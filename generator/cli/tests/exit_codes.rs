//! One exit-code contract for every command: 0 ok, 1 error, 2 only for pending changes with
//! `--detailed-exitcode`. A usage error is an error (1): clap's own 2 would read as "changes
//! pending" to a pipeline that checks `--detailed-exitcode`.

use std::process::Command;

fn code(args: &[&str]) -> i32 {
    let output = Command::new(env!("CARGO_BIN_EXE_gen")).args(args).output().expect("gen runs");
    output.status.code().expect("gen exits, not killed")
}

#[test]
fn usage_errors_exit_1_never_2() {
    for args in [
        &["--no-such-flag"][..],
        &["no-such-command"],
        &[],
        &["render"],
        &["render", "--all", "dev"],
        &["validate", "staging"],
        &["plan"],
        &["plan", "dev", "--format", "yaml"],
        &["apply", "dev", "--no-such-flag"],
        &["deploy"],
        &["deploy", "dev", "--timeout", "soon"],
    ] {
        assert_eq!(code(args), 1, "gen {}", args.join(" "));
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["--version"], &["plan", "--help"], &["deploy", "-h"]] {
        assert_eq!(code(args), 0, "gen {}", args.join(" "));
    }
}

#[test]
fn the_commands_document_the_confirmation_policy() {
    let help = |cmd: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_gen")).args([cmd, "--help"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(help("deploy").contains("--allow-replace-stateful"));
    assert!(help("apply").contains("--yes"));
}
