//! Benchmark: load, validate and render a generated stage with 2,000 topics, 6,000 ACL bindings
//! and 9 brokers. Prints the time of each phase (best and median of several runs) and the peak
//! resident memory of the process (VmHWM).
//!
//! Run: `cargo bench -p kafka-platform-core --bench render_large`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kafka_platform_core::render::{limits, render_stage};
use kafka_platform_core::{StageName, load_and_resolve};

const PROJECTS: usize = 20;
const TOPICS_PER_PROJECT: usize = 100;
const ACCOUNTS_PER_PROJECT: usize = 5;
/// Each account produces to 20 own topics (Write+Describe), consumes 9 topics the previous project
/// shares (Read+Describe), reads its consumer group and has one explicit binding: 60 bindings.
const PRODUCES: usize = 20;
const CONSUMES: usize = 9;
const RUNS: usize = 5;

const DEFAULTS: &str = r#"region: eu-west-1
account_id: "111111111111"
naming:
  resource_prefix: kafka
  topic_pattern: '^{project}\.[a-z0-9-]+\.v[0-9]+$'
  service_account_pattern: '^{project}-[a-z0-9-]+$'
cluster:
  instance_type: m6i.xlarge
  storage:
    size_gib: 500
    throughput_mibps: 250
  image:
    repository: confluentinc/cp-kafka
    tag: 7.9.1
  broker_heap_mib: 4096
  broker_memory_mib: 12288
certificate_authority:
  mode: create
schema_registry:
  enabled: true
topic_policy:
  default_replication_factor: 3
  min_replication_factor: 3
  min_insync_replicas: 2
  max_retention_ms: 2592000000
  allowed_config_keys: [cleanup.policy, retention.ms]
"#;

const PROD: &str = r#"stage: prod
network:
  vpc_id: vpc-0a1b2c3d4e5f60004
  vpc_cidr: 10.40.0.0/16
  subnet_ids: [subnet-0a1b2c41, subnet-0a1b2c42, subnet-0a1b2c43]
  availability_zones: [eu-west-1a, eu-west-1b, eu-west-1c]
cluster:
  brokers: 9
dns:
  zone_name: kafka.prod.example.internal
public_endpoint:
  enabled: true
  subnet_ids: [subnet-0a1b2c44, subnet-0a1b2c45, subnet-0a1b2c46]
  allowed_cidrs: [198.51.100.0/24]
  dns_name: kafka.example.com
private_link:
  enabled: true
  allowed_principals: ["arn:aws:iam::444444444444:root"]
"#;

fn project_name(i: usize) -> String {
    format!("proj{:02}", i % PROJECTS)
}

fn topic_name(project: usize, topic: usize) -> String {
    format!("{}.dataset-{topic:03}.v1", project_name(project))
}

/// One generated project file: its topics are shared for reading with the next project.
fn project_yaml(p: usize) -> String {
    let name = project_name(p);
    let mut y = format!(
        "project: {name}\ndescription: Generated project {p}.\nowner:\n  team: team-{p}\n  email: team-{p}@example.com\ndata_classification: internal\ntopics:\n"
    );
    for t in 0..TOPICS_PER_PROJECT {
        let configs = if t % 2 == 0 { "retention.ms: 604800000" } else { "cleanup.policy: compact" };
        writeln!(
            y,
            "  - name: {}\n    partitions: {}\n    configs: {{{configs}}}\n    shared_with: {{read: [{}]}}",
            topic_name(p, t),
            3 + t % 10,
            project_name(p + 1)
        )
        .unwrap();
    }
    y.push_str("service_accounts:\n");
    for a in 0..ACCOUNTS_PER_PROJECT {
        let produces: Vec<String> = (0..PRODUCES).map(|i| topic_name(p, a * PRODUCES + i)).collect();
        let consumes: Vec<String> =
            (0..CONSUMES).map(|i| topic_name(p + PROJECTS - 1, a * CONSUMES + i)).collect();
        let auth = if a % 2 == 0 { "scram" } else { "mtls" };
        writeln!(
            y,
            "  - name: {name}-app{a}\n    authentication: {auth}\n    produces: [{}]\n    consumes: [{}]",
            produces.join(", "),
            consumes.join(", ")
        )
        .unwrap();
    }
    y.push_str("acls:\n");
    for a in 0..ACCOUNTS_PER_PROJECT {
        writeln!(y, "  - service_account: {name}-app{a}\n    resource_type: topic\n    pattern_type: prefixed\n    resource_name: {name}.\n    operation: describe_configs\n    reason: reports retention").unwrap();
    }
    y
}

fn write_environments(root: &Path) {
    std::fs::create_dir_all(root.join("stages")).unwrap();
    std::fs::create_dir_all(root.join("projects")).unwrap();
    std::fs::write(root.join("defaults.yaml"), DEFAULTS).unwrap();
    std::fs::write(root.join("stages/prod.yaml"), PROD).unwrap();
    for p in 0..PROJECTS {
        std::fs::write(root.join(format!("projects/{}.yaml", project_name(p))), project_yaml(p)).unwrap();
    }
}

/// Peak resident set size of this process in kB, from /proc (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:<28} best {:>8.1} ms   median {:>8.1} ms",
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3
    );
}

fn main() {
    let root: PathBuf = std::env::temp_dir().join(format!("kp-bench-render-large-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    write_environments(&root);

    let (mut load, mut limit, mut render, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut report = String::new();
    for run in 0..RUNS {
        let start = Instant::now();
        let (models, findings) = load_and_resolve(&root, &[StageName::Prod]);
        let loaded = Instant::now();
        let model = models.get(&StageName::Prod).unwrap_or_else(|| {
            panic!(
                "the generated stage has errors:\n{}",
                findings.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")
            )
        });
        let limit_findings = limits::check(model);
        let checked = Instant::now();
        let rendered = render_stage(model);
        let done = Instant::now();
        load.push(loaded - start);
        limit.push(checked - loaded);
        render.push(done - checked);
        total.push(done - start);
        if run == 0 {
            assert!(
                findings.iter().chain(&limit_findings).all(|f| !f.is_error()),
                "{findings:?} {limit_findings:?}"
            );
            let bytes: usize = rendered.files.values().map(String::len).sum();
            writeln!(
                report,
                "stage: {} topics, {} ACL bindings, {} service accounts, {} brokers + {} controllers; {} warnings",
                model.topics.len(),
                model.acls.len(),
                model.service_accounts.len(),
                model.cluster.brokers.len(),
                model.cluster.controllers.len(),
                findings.len() + limit_findings.len()
            )
            .unwrap();
            for (file, content) in &rendered.files {
                writeln!(report, "  {file:<20} {:>9} bytes", content.len()).unwrap();
            }
            writeln!(report, "  {:<20} {bytes:>9} bytes", "total").unwrap();
        }
    }
    print!("{report}");
    println!("{RUNS} runs:");
    summary("load + validate", load);
    summary("CloudFormation limits", limit);
    summary("render", render);
    summary("total", total);
    match peak_rss_kib() {
        Some(kib) => println!("peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak memory: /proc/self/status not available"),
    }
    let _ = std::fs::remove_dir_all(&root);
}
