//! `gen completions SHELL` and the top-level help, as a user meets them.

use std::process::Command;

fn gen_output(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gen")).args(args).output().expect("gen runs")
}

#[test]
fn completion_scripts_know_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = gen_output(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        for command in ["validate", "render", "plan", "apply", "deploy", "package", "schema"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = gen_output(&["completions", "cmd.exe"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn help_describes_the_tool_not_the_crate() {
    let out = gen_output(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.starts_with("Declarative Kafka platform for AWS"), "{help}");
    assert!(help.contains("completions"));
}
