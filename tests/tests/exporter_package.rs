//! The nodes' JMX exporter jar travels with the pipeline: `gen package` fetches it from a Maven
//! repository and keeps it only with the pinned SHA-256, and `gen deploy` uploads it to the
//! artifact bucket under the key the nodes read at boot (render::node_metrics::exporter_key).
//!
//! The repository here is a small HTTP server of this test on 127.0.0.1 that lays the jar out as
//! Maven Central does (a test must not depend on the internet): the real jar, the one
//! `tests/scripts/kafka.sh install` fetched from Maven Central and checked; and a tampered one.
//! The upload itself is `gen deploy`'s upload of every package file (deploy::upload), proven with a
//! 3 MB Lambda package in deploy_moto.rs: every file over 64 KiB once hung there (the SDK's
//! streamed aws-chunked body declared the wrong length). Needs the exporter jar under TOOLS_DIR (as
//! tests/run.sh installs it).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kafka_platform_core::digest::sha256_hex;
use kafka_platform_core::render::metrics::{EXPORTER_SHA256, EXPORTER_VERSION};
use kafka_platform_core::render::node_metrics::{EXPORTER_PACKAGE, exporter_key};
use serde_json::Value;

/// The jar kafka.sh installed (and checked against the same pinned hash).
fn pinned_jar() -> Vec<u8> {
    let tools = std::env::var("TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kafka-platform/tools")
    });
    let path = tools.join(format!("jmx-exporter-{EXPORTER_VERSION}/jmx_prometheus_javaagent.jar"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; run `tests/scripts/kafka.sh install` (tests/run.sh does)", path.display())
    })
}

/// Serves `<base>/io/prometheus/jmx/...` from two repositories, `/good` and `/bad`; returns the
/// server's base URL.
fn maven_repository(good: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0xff;
    let path = format!(
        "/io/prometheus/jmx/jmx_prometheus_javaagent/{v}/jmx_prometheus_javaagent-{v}.jar",
        v = EXPORTER_VERSION
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or_default().to_string();
            let body = if target == format!("/good{path}") {
                Some(&good)
            } else if target == format!("/bad{path}") {
                Some(&bad)
            } else {
                None
            };
            let _ = match body {
                Some(b) => write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                )
                .and_then(|()| stream.write_all(b)),
                None => {
                    write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                }
            };
        }
    });
    base
}

fn run_gen(args: &[&str], dir: &Path) -> Output {
    Command::new(platform_tests::gen_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("GEN_MAVEN_REPOSITORY")
        .stdin(Stdio::null())
        .output()
        .expect("gen runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn package_keeps_only_the_pinned_jar_under_the_key_the_nodes_read() {
    let jar = pinned_jar();
    assert_eq!(sha256_hex(&jar), EXPORTER_SHA256);
    let repository = maven_repository(jar.clone());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let id = format!("jar{}x{}", std::process::id(), nanos % 1_000_000_000);
    let root = std::env::temp_dir().join(format!("gen-exporter-{id}"));
    let packages = root.join("lambda");
    let out = packages.display().to_string();
    std::fs::create_dir_all(&root).unwrap();

    // Tampered bytes: refused with the reason, and nothing written.
    let bad = format!("{repository}/bad");
    let run = run_gen(
        &["package", "--function", EXPORTER_PACKAGE, "--maven-repository", &bad, "--out", &out],
        &root,
    );
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(text(&run).contains("is not the pinned"), "{}", text(&run));
    assert!(!packages.join(format!("jmx_prometheus_javaagent-{EXPORTER_VERSION}.jar")).exists());

    // The pinned jar: written, and recorded with the key the nodes read.
    let good = format!("{repository}/good");
    let run = run_gen(
        &["package", "--function", EXPORTER_PACKAGE, "--maven-repository", &good, "--out", &out],
        &root,
    );
    assert!(run.status.success(), "{}", text(&run));
    let file = packages.join(format!("jmx_prometheus_javaagent-{EXPORTER_VERSION}.jar"));
    assert_eq!(std::fs::read(&file).unwrap(), jar);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(packages.join("manifest.json")).unwrap()).unwrap();
    let entry = &manifest[EXPORTER_PACKAGE];
    assert_eq!(entry["s3_key"], exporter_key());
    assert_eq!(entry["sha256"], EXPORTER_SHA256);
    assert_eq!(entry["size"], jar.len());
}
