//! The rendered Schema Registry proxy (render::registry_proxy), run by tests/scripts/registry-proxy.sh
//! from the cluster template of tests/fixtures/local-environment/ in front of the suite's Apicurio
//! Registry: every request authenticates, only the reconciler's user writes, the reader reads; and
//! `gen plan` / `gen apply` work through it. Subjects carry a unique prefix per test.

#[path = "kafka_common/mod.rs"]
mod kafka_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kafka_common::*;
use kafka_platform_core::config::project::Compatibility;
use kafka_reconcile::registry::{BasicAuth, RegistryClient, RegistryError};
use platform_tests::gen_binary;
use serde_json::json;

const SCHEMA: &str = r#"{"type": "record", "name": "Probe", "namespace": "com.example.test", "fields": [{"name": "id", "type": "string"}]}"#;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the registry proxy. Run `tests/scripts/registry-proxy.sh start` \
             and `eval \"$(tests/scripts/registry-proxy.sh env)\"` first (tests/run.sh does both)."
        )
    })
}

fn password(file_var: &str) -> String {
    std::fs::read_to_string(var(file_var)).unwrap().trim().to_string()
}

/// A client of the proxy as `user` (None: anonymous), trusting the test CA.
fn client(user: Option<(&str, &str)>) -> RegistryClient {
    let ca = std::fs::read(var("SCHEMA_REGISTRY_PROXY_CA_FILE")).unwrap();
    let auth =
        user.map(|(user, password_file)| BasicAuth { user: var(user), password: password(password_file) });
    RegistryClient::new(&var("SCHEMA_REGISTRY_PROXY_URL"), Some(&ca), auth).unwrap()
}

fn writer() -> RegistryClient {
    client(Some(("SCHEMA_REGISTRY_PROXY_WRITER", "SCHEMA_REGISTRY_PROXY_WRITER_PASSWORD_FILE")))
}

fn reader() -> RegistryClient {
    client(Some(("SCHEMA_REGISTRY_PROXY_READER", "SCHEMA_REGISTRY_PROXY_READER_PASSWORD_FILE")))
}

fn status<T: std::fmt::Debug>(r: Result<T, RegistryError>) -> Option<u16> {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e.status,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn anonymous_requests_and_reader_writes_are_refused_the_writer_writes() {
    let subject = format!("{}.probe-value", unique("srauth"));
    let body = json!({ "schema": SCHEMA });
    let anonymous = client(None);
    let wrong = RegistryClient::new(
        &var("SCHEMA_REGISTRY_PROXY_URL"),
        Some(&std::fs::read(var("SCHEMA_REGISTRY_PROXY_CA_FILE")).unwrap()),
        Some(BasicAuth { user: var("SCHEMA_REGISTRY_PROXY_WRITER"), password: "not-the-password".into() }),
    )
    .unwrap();
    let (reader, writer) = (reader(), writer());
    runtime().block_on(async {
        // Anonymous: neither reads nor writes (401), and nothing reached the registry.
        assert_eq!(status(anonymous.subjects(false).await), Some(401));
        assert_eq!(status(anonymous.register(&subject, &body).await), Some(401));
        // The writer's name with a wrong password is not the writer.
        assert_eq!(status(wrong.register(&subject, &body).await), Some(401));
        assert_eq!(status(wrong.subjects(false).await), Some(401));
        assert_eq!(reader.latest_version(&subject).await.unwrap(), None, "nothing was registered");

        // The reader reads, looks schemas up and checks compatibility (POSTs that change
        // nothing), and may not write (403).
        assert!(reader.subjects(false).await.is_ok());
        assert_eq!(status(reader.register(&subject, &body).await), Some(403));
        assert_eq!(status(reader.set_compatibility(&subject, Compatibility::None).await), Some(403));

        // The reconciler's user writes.
        writer.register(&subject, &body).await.unwrap();
        writer.set_compatibility(&subject, Compatibility::Full).await.unwrap();
        assert_eq!(reader.latest_version(&subject).await.unwrap(), Some(1));
        assert_eq!(reader.lookup(&subject, &body).await.unwrap(), Some(1));
        assert!(reader.check(&subject, &body).await.is_ok());
        assert_eq!(reader.compatibility(&subject).await.unwrap(), Some(Compatibility::Full));
        assert_eq!(status(reader.delete_subject(&subject, false).await), Some(403));
        assert_eq!(status(anonymous.delete_subject(&subject, false).await), Some(401));
        assert_eq!(reader.latest_version(&subject).await.unwrap(), Some(1), "still there");
        writer.delete_subject(&subject, false).await.unwrap();
        writer.delete_subject(&subject, true).await.unwrap();
        assert!(!reader.subjects(true).await.unwrap().contains(&subject));
    });
}

/// A project with one topic and a value schema, in a copy of the committed dev stage.
struct Env {
    root: PathBuf,
    name: String,
}

impl Env {
    fn new() -> Self {
        let name = unique("srauth");
        let root = std::env::temp_dir().join(format!("schema-registry-auth-{name}"));
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        std::fs::create_dir_all(root.join("stages")).unwrap();
        std::fs::create_dir_all(root.join("projects/schemas")).unwrap();
        std::fs::copy(repo.join("defaults.yaml"), root.join("defaults.yaml")).unwrap();
        std::fs::copy(repo.join("stages/dev.yaml"), root.join("stages/dev.yaml")).unwrap();
        std::fs::write(root.join("projects/schemas/probe.avsc"), SCHEMA).unwrap();
        let project = format!(
            "project: {name}\ndescription: Registry proxy test project.\nowner:\n  team: platform\n  email: platform@example.com\n\
             data_classification: internal\ntopics:\n  - name: {name}.probes.v1\n    description: Probes.\n    partitions: 1\n    schema: schemas/probe.avsc\n"
        );
        std::fs::write(root.join("projects").join(format!("{name}.yaml")), project).unwrap();
        Env { root, name }
    }

    /// `gen <command> dev` through the proxy as `user` with the password in `password_file`.
    fn run(&self, command: &str, user: &str, password_file: &str, extra: &[&str]) -> Output {
        let (bootstrap, ca, admin, admin_password) = (
            env("KAFKA_TEST_BOOTSTRAP_SASL"),
            env("KAFKA_TEST_CA_FILE"),
            admin_user(),
            env("KAFKA_TEST_ADMIN_PASSWORD_FILE"),
        );
        let (url, registry_ca) = (var("SCHEMA_REGISTRY_PROXY_URL"), var("SCHEMA_REGISTRY_PROXY_CA_FILE"));
        let mut args = vec![
            command,
            "dev",
            "--bootstrap",
            &bootstrap,
            "--ca-file",
            &ca,
            "--scram-user",
            &admin,
            "--scram-password-file",
            &admin_password,
            "--schema-registry-url",
            &url,
            "--schema-registry-ca-file",
            &registry_ca,
            "--schema-registry-user",
            user,
            "--schema-registry-password-file",
            password_file,
        ];
        args.extend_from_slice(extra);
        Command::new(gen_binary())
            .arg("--environments")
            .arg(&self.root)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("gen runs")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn gen_plans_and_applies_through_the_proxy_as_the_reconciler_only() {
    let e = Env::new();
    let subject = format!("{}.probes.v1-value", e.name);
    let (writer, writer_file) =
        (var("SCHEMA_REGISTRY_PROXY_WRITER"), var("SCHEMA_REGISTRY_PROXY_WRITER_PASSWORD_FILE"));
    let (reader, reader_file) =
        (var("SCHEMA_REGISTRY_PROXY_READER"), var("SCHEMA_REGISTRY_PROXY_READER_PASSWORD_FILE"));

    // The reader plans (reads only) but cannot apply: the registry's 403 names the request, and
    // the password appears nowhere.
    let out = e.run("plan", &reader, &reader_file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&format!("+ register {subject} version 1")), "{}", text(&out));
    let out = e.run("apply", &reader, &reader_file, &["--yes"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("403"), "{t}");
    assert!(
        !t.contains(&password("SCHEMA_REGISTRY_PROXY_READER_PASSWORD_FILE")),
        "no password in the output"
    );

    // The reconciler's user applies; a second plan has nothing to do.
    let out = e.run("apply", &writer, &writer_file, &["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("+ register {subject} version 1")), "{}", text(&out));
    let out = e.run("plan", &writer, &writer_file, &[]);
    assert!(!text(&out).contains("Schema Registry subjects:"), "nothing left: {}", text(&out));

    // Gone again (the topic too), as the writer.
    std::fs::write(
        e.root.join("projects").join(format!("{}.yaml", e.name)),
        format!("project: {}\ndescription: Registry proxy test project.\nowner:\n  team: platform\n  email: platform@example.com\ndata_classification: internal\ntopics: []\n", e.name),
    )
    .unwrap();
    for _ in 0..2 {
        let out = e.run("apply", &writer, &writer_file, &["--yes", "--allow-delete"]);
        assert!(out.status.success(), "{}", text(&out));
    }
}
