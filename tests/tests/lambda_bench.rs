//! Lambda benchmark (ignored by default; `bash tests/scripts/lambda-bench.sh` runs it after
//! packaging the functions with `gen package` and installing the Python peer): each packaged
//! `bootstrap` and its Python boto3 peer (tests/bench/lambda_peer.py) serve one real Create on the
//! played Lambda Runtime API, against moto. Prints, side by side with ratios: start to the first
//! `/next` (AWS's Init Duration), the Create from the event to CloudFormation's answer (its
//! Duration), resident memory at the first `/next` and its peak over the whole run (VmHWM), and
//! the zip's size. Asserts only that every Create succeeded.
//!
//! The machine is shared, so the sides take turns (the first alternates) and each figure is the
//! median of LAMBDA_BENCH_RUNS (3) fresh processes, each a cold start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use platform_tests::lambda_harness::{Harness, LambdaProcess, unique};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(120);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this through `bash tests/scripts/lambda-bench.sh`")
    })
}

/// Extracts `bootstrap` from `<zips>/<function>.zip` into `dir`: the bench runs what is shipped.
fn bootstrap(zips: &Path, function: &str, dir: &Path) -> (PathBuf, u64) {
    use std::os::unix::fs::PermissionsExt;
    let zip_path = zips.join(format!("{function}.zip"));
    let file = std::fs::File::open(&zip_path).unwrap_or_else(|e| panic!("{}: {e}", zip_path.display()));
    let size = file.metadata().unwrap().len();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut entry = archive.by_name("bootstrap").unwrap();
    let out = dir.join(function);
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("bootstrap");
    let mut target = std::fs::File::create(&path).unwrap();
    std::io::copy(&mut entry, &mut target).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (path, size)
}

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    init_ms: f64,
    invoke_ms: f64,
    idle_kib: u64,
    peak_kib: u64,
}

enum Side<'a> {
    Rust(&'a Path),
    Python { python: &'a str, peer: &'a Path, kind: &'a str },
}

fn spawn(h: &Harness, side: &Side<'_>, endpoint: &str) -> LambdaProcess {
    // AWS sets both region variables; boto3 reads only the second.
    let region = ("AWS_DEFAULT_REGION", platform_tests::lambda_harness::REGION);
    match side {
        Side::Rust(path) => h.spawn_path(path, endpoint, &[("RUST_LOG", "warn"), region]),
        Side::Python { python, peer, kind } => h.spawn_program(
            Path::new(python),
            &[peer.to_str().unwrap(), kind],
            kind,
            endpoint,
            &[("PYTHONDONTWRITEBYTECODE", "1"), region],
        ),
    }
}

/// One cold start: spawn, wait for the first `/next`, then hand it `event` (None: start only).
async fn sample(side: &Side<'_>, endpoint: &str, event: impl Fn(&Harness) -> Option<Value>) -> Sample {
    let h = Harness::start().await;
    let lambda = spawn(&h, side, endpoint);
    let first_next = loop {
        if let Some(t) = h.first_next() {
            break t;
        }
        assert!(
            lambda.started().elapsed() < Duration::from_secs(60),
            "no /next within 60 s: {:?}",
            lambda.logs()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let mut s = Sample {
        init_ms: ms(first_next.duration_since(lambda.started())),
        idle_kib: lambda.peak_rss_kib().unwrap_or_default(),
        ..Sample::default()
    };
    if let Some(event) = event(&h) {
        let queued = Instant::now();
        let answer = h.invoke(event.clone(), DEADLINE).await;
        assert_eq!(answer.status(), "SUCCESS", "{}; logs: {:?}", answer.raw, lambda.logs());
        s.invoke_ms = ms(h.answered_at(&event).expect("answered").duration_since(queued));
    }
    s.peak_kib = lambda.peak_rss_kib().unwrap_or_default();
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn summary(samples: &[Sample]) -> [f64; 4] {
    let pick = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    [
        pick(|s| s.init_ms),
        pick(|s| s.invoke_ms),
        pick(|s| s.idle_kib as f64 / 1024.0),
        pick(|s| s.peak_kib as f64 / 1024.0),
    ]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn secure_password_event(h: &Harness) -> Value {
    let name = format!("/{}/admin", unique("lbench"));
    h.event(
        "Create",
        "Custom::SecurePassword",
        "AdminPassword",
        None,
        json!({"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:pw", "ParameterName": name,
               "Length": "32", "KmsKeyId": "alias/kafka-bench", "Tags": [{"Key": "team", "Value": "kafka"}]}),
        None,
    )
}

fn certificate_event(h: &Harness, ca: &str) -> Value {
    h.event(
        "Create",
        "Custom::PrivateCertificate",
        "Broker1Certificate",
        None,
        json!({"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:cert",
               "CertificateAuthorityArn": ca, "CommonName": "broker-1",
               "DnsNames": ["b-1.kafka.test", "bootstrap.kafka.test"], "Usage": "server-and-client",
               "ValidityDays": "30", "ParameterPrefix": format!("/{}/b-1", unique("lbench")),
               "KmsKeyId": "alias/kafka-bench"}),
        None,
    )
}

#[tokio::test]
#[ignore = "benchmark: run through tests/scripts/lambda-bench.sh"]
async fn lambdas_against_a_python_boto3_peer() {
    let zips = PathBuf::from(env("LAMBDA_BENCH_ZIPS"));
    let python = env("LAMBDA_BENCH_PYTHON");
    let runs: usize = std::env::var("LAMBDA_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let endpoint = platform_tests::moto::endpoint();
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lambda_peer.py");
    let dir = std::env::temp_dir().join(unique("lambda-bench"));
    let pca = aws_sdk_acmpca::Client::new(&platform_tests::moto::sdk_config().await);
    let (ca, _) =
        platform_tests::private_ca::create_root_ca(&pca, &unique("Lambda Bench Root")).await.unwrap();

    let load_before = loadavg();
    let mut rows = Vec::new();
    for function in ["secure-password", "private-certificate"] {
        let (binary, zip_size) = bootstrap(&zips, function, &dir);
        let rust = Side::Rust(&binary);
        let python = Side::Python { python: &python, peer: &peer, kind: function };
        let event = |h: &Harness| {
            Some(match function {
                "secure-password" => secure_password_event(h),
                _ => certificate_event(h, &ca),
            })
        };
        let (mut r, mut p) = (Vec::new(), Vec::new());
        for run in 0..runs {
            // Take turns, the first alternating, so that neither side always meets the same load.
            if run % 2 == 0 {
                r.push(sample(&rust, &endpoint, event).await);
                p.push(sample(&python, &endpoint, event).await);
            } else {
                p.push(sample(&python, &endpoint, event).await);
                r.push(sample(&rust, &endpoint, event).await);
            }
        }
        rows.push((function, summary(&r), Some(summary(&p)), zip_size));
    }
    // The reconciler needs the Kafka cluster for a real request: its start only (when packaged).
    if zips.join("reconciler.zip").is_file() {
        let (binary, zip_size) = bootstrap(&zips, "reconciler", &dir);
        let mut r = Vec::new();
        for _ in 0..runs {
            r.push(sample(&Side::Rust(&binary), &endpoint, |_| None).await);
        }
        rows.push(("reconciler (start only)", summary(&r), None, zip_size));
    }
    let load_after = loadavg();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "\nLambda benchmark: medians of {runs} cold starts per side, taking turns; load average {load_before} \
         before, {load_after} after"
    );
    println!(
        "{:<24} {:<7} {:>9} {:>10} {:>10} {:>10} {:>9}",
        "function", "side", "init ms", "create ms", "idle MiB", "peak MiB", "zip MB"
    );
    for (function, rust, peer, zip_size) in rows {
        let line = |side: &str, f: [f64; 4], zip: &str| {
            println!(
                "{function:<24} {side:<7} {:>9.1} {:>10.1} {:>10.1} {:>10.1} {zip:>9}",
                f[0], f[1], f[2], f[3]
            );
        };
        line("rust", rust, &format!("{:.2}", zip_size as f64 / 1e6));
        if let Some(p) = peer {
            line("python", p, "");
            println!(
                "{function:<24} {:<7} {:>8.2}x {:>9.2}x {:>9.2}x {:>9.2}x",
                "ratio",
                rust[0] / p[0],
                rust[1] / p[1],
                rust[2] / p[2],
                rust[3] / p[3]
            );
        }
    }
}
