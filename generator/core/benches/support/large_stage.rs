//! A generated stage for the render benchmarks: 20 projects of `topics / 20` topics, 5 service
//! accounts each (3 ACL bindings per topic, about 60 per account at 2,000 topics) and a prod stage
//! with 9 brokers. Larger stages grow topics and ACL bindings, not accounts: the secrets stack
//! holds 178 resources at 100 accounts, so 100 accounts per 2,000 topics would pass
//! CloudFormation's 500 resources per template (KP401) at about 300 accounts (docs/architecture.md).
//! Shared by `generator/core/benches/render_large.rs` and `generator/cli/benches/render.rs`.

use std::fmt::Write as _;
use std::path::Path;

pub const PROJECTS: usize = 20;
const ACCOUNTS_PER_PROJECT: usize = 5;

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
  consumer_cidrs: [10.44.0.0/16]
"#;

fn project_name(i: usize, projects: usize) -> String {
    format!("proj{:03}", i % projects)
}

fn topic_name(project: usize, topic: usize, projects: usize) -> String {
    format!("{}.dataset-{topic:03}.v1", project_name(project, projects))
}

/// One generated project file of `topics` topics, shared for reading with the next project. Each
/// account produces to a fifth of them (Write+Describe), consumes 9 % of the previous project's
/// (Read+Describe), reads its consumer group and has one explicit binding: 3 bindings per topic.
fn project_yaml(p: usize, projects: usize, topics: usize) -> String {
    let produces_each = topics / ACCOUNTS_PER_PROJECT;
    let consumes_each = topics * 9 / 100;
    let name = project_name(p, projects);
    let mut y = format!(
        "project: {name}\ndescription: Generated project {p}.\nowner:\n  team: team-{p}\n  email: team-{p}@example.com\ndata_classification: internal\ntopics:\n"
    );
    for t in 0..topics {
        let configs = if t % 2 == 0 { "retention.ms: 604800000" } else { "cleanup.policy: compact" };
        writeln!(
            y,
            "  - name: {}\n    partitions: {}\n    configs: {{{configs}}}\n    shared_with: {{read: [{}]}}",
            topic_name(p, t, projects),
            3 + t % 10,
            project_name(p + 1, projects)
        )
        .unwrap();
    }
    y.push_str("service_accounts:\n");
    for a in 0..ACCOUNTS_PER_PROJECT {
        let produces: Vec<String> =
            (0..produces_each).map(|i| topic_name(p, a * produces_each + i, projects)).collect();
        let consumes: Vec<String> = (0..consumes_each)
            .map(|i| topic_name(p + projects - 1, a * consumes_each + i, projects))
            .collect();
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

/// Writes an environments directory (defaults, the prod stage, [`PROJECTS`] project files with
/// `topics` topics in all) at `root`.
pub fn write_environments(root: &Path, topics: usize) {
    let projects = PROJECTS;
    let per_project = topics.div_ceil(projects);
    std::fs::create_dir_all(root.join("stages")).unwrap();
    std::fs::create_dir_all(root.join("projects")).unwrap();
    std::fs::write(root.join("defaults.yaml"), DEFAULTS).unwrap();
    std::fs::write(root.join("stages/prod.yaml"), PROD).unwrap();
    for p in 0..projects {
        std::fs::write(
            root.join(format!("projects/{}.yaml", project_name(p, projects))),
            project_yaml(p, projects, per_project),
        )
        .unwrap();
    }
}

/// Peak resident set size of this process in KiB, from /proc (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
