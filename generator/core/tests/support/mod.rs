//! Shared helpers of the core's integration tests: a throw-away environments tree written from YAML
//! strings, a minimal valid baseline to vary, and assertions on findings.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kafka_platform_core::{Finding, StageModel, StageName, load_and_resolve, render};

/// Shared defaults of the baseline: everything a stage needs except the network, the broker count
/// and the DNS zone, which the stage files set.
pub const DEFAULTS: &str = r#"region: eu-west-1
account_id: "111111111111"
naming:
  resource_prefix: kafka
  topic_pattern: '^{project}\.[a-z0-9_.-]+\.v[0-9]+$'
  service_account_pattern: '^{project}-[a-z0-9-]+$'
cluster:
  instance_type: m6i.large
  storage:
    size_gib: 100
  image:
    repository: confluentinc/cp-kafka
    tag: 7.9.1
  broker_heap_mib: 1024
  broker_memory_mib: 3072
certificate_authority:
  mode: create
topic_policy:
  default_replication_factor: 1
  min_replication_factor: 1
  min_insync_replicas: 1
  max_retention_ms: 604800000
  allowed_config_keys: [cleanup.policy, retention.ms, min.insync.replicas]
network:
  nat: true
"#;

/// A single-broker dev stage in combined mode.
pub const DEV: &str = r#"stage: dev
network:
  vpc_id: vpc-0a1b2c3d
  vpc_cidr: 10.10.0.0/16
  subnet_ids: [subnet-0a1b2c3d]
  availability_zones: [eu-west-1a]
cluster:
  brokers: 1
  controllers:
    mode: combined
dns:
  zone_name: kafka.dev.example.internal
"#;

/// A production-like acc stage: three subnets, three brokers, dedicated controllers (the default).
pub const ACC: &str = r#"stage: acc
network:
  vpc_id: vpc-0a1b2c3e
  vpc_cidr: 10.30.0.0/16
  subnet_ids: [subnet-0a1b2c31, subnet-0a1b2c32, subnet-0a1b2c33]
  availability_zones: [eu-west-1a, eu-west-1b, eu-west-1c]
cluster:
  brokers: 3
dns:
  zone_name: kafka.acc.example.internal
"#;

/// Project alpha owns one topic, shares it for reading with beta, and has one SCRAM account.
pub const ALPHA: &str = r#"project: alpha
description: Orders of the alpha shop.
owner:
  team: alpha-team
  email: alpha@example.com
data_classification: internal
topics:
  - name: alpha.orders.v1
    partitions: 3
    configs:
      retention.ms: 86400000
    shared_with:
      read: [beta]
service_accounts:
  - name: alpha-shop
    authentication: scram
    produces: [alpha.orders.v1]
    consumes: [alpha.orders.v1]
"#;

/// Project beta reads alpha's shared topic with an mTLS account.
pub const BETA: &str = r#"project: beta
description: Invoices for alpha's orders.
owner:
  team: beta-team
  email: beta@example.com
data_classification: confidential
topics:
  - name: beta.invoices.v1
service_accounts:
  - name: beta-billing
    authentication: mtls
    produces: [beta.invoices.v1]
    consumes: [alpha.orders.v1]
"#;

/// A throw-away environments directory, removed on drop.
pub struct Env {
    pub root: PathBuf,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Env {
    /// An empty directory (no defaults, no stages, no projects).
    pub fn empty() -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let root = std::env::temp_dir().join(format!("kp-core-test-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        Env { root }
    }

    /// The valid baseline: defaults, the dev stage and projects alpha and beta.
    pub fn baseline() -> Env {
        Env::empty()
            .with("defaults.yaml", DEFAULTS)
            .with("stages/dev.yaml", DEV)
            .with("projects/alpha.yaml", ALPHA)
            .with("projects/beta.yaml", BETA)
    }

    /// Writes (or replaces) `relative` with `yaml`.
    pub fn with(self, relative: &str, yaml: &str) -> Env {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml).unwrap();
        self
    }

    /// Replaces the one occurrence of `from` in `relative` by `to` (panics when it is not there once).
    pub fn edit(self, relative: &str, from: &str, to: &str) -> Env {
        let path = self.root.join(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once in {relative}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        self
    }

    /// Removes `relative`.
    pub fn without(self, relative: &str) -> Env {
        std::fs::remove_file(self.root.join(relative)).unwrap();
        self
    }

    /// The absolute path of `relative`.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Every finding `gen validate` reports for `stages` (all when empty): loading, resolution and
    /// the CloudFormation limits of the rendered templates.
    pub fn findings(&self, stages: &[StageName]) -> Vec<Finding> {
        let (models, mut findings) = load_and_resolve(&self.root, stages);
        for model in models.values() {
            findings.extend(render::limits::check(model));
        }
        findings
    }

    /// The model of one stage; panics with the findings when it has errors.
    pub fn model(&self, stage: StageName) -> StageModel {
        let (mut models, findings) = load_and_resolve(&self.root, &[stage]);
        models.remove(&stage).unwrap_or_else(|| panic!("{stage} has errors:\n{}", show(&findings)))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Findings one per line, for assertion messages.
pub fn show(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
}

/// Line and column (1-based) where `needle` first starts in `text`.
pub fn position(text: &str, needle: &str) -> (u64, u64) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in the YAML"));
    let before = &text[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let column = (offset - before.rfind('\n').map_or(0, |i| i + 1)) as u64 + 1;
    (line, column)
}

/// Position of the value in the first line containing `key_and_value` (`key: value`).
pub fn value_at(text: &str, key_and_value: &str) -> (u64, u64) {
    let (line, column) = position(text, key_and_value);
    let value_offset = key_and_value.find(": ").map_or(0, |i| i + 2) as u64;
    (line, column + value_offset)
}

/// What a test expects: a rule at a place (`None`: anywhere in the file; no file: generated).
#[derive(Debug, Clone)]
pub struct Expect {
    pub rule: &'static str,
    pub file: Option<PathBuf>,
    pub at: Option<(u64, u64)>,
}

impl Expect {
    fn matches(&self, f: &Finding) -> bool {
        f.rule == self.rule
            && self.file.as_deref().is_none_or(|file| f.location.path() == Some(file))
            && self.at.is_none_or(|(l, c)| (f.location.line, f.location.column) == (l, c))
    }
}

/// `rule` in `env`'s file `relative` at `at`.
pub fn at(env: &Env, rule: &'static str, relative: &str, at: (u64, u64)) -> Expect {
    Expect { rule, file: Some(env.path(relative)), at: Some(at) }
}

/// `rule` somewhere in `env`'s file `relative`.
pub fn in_file(env: &Env, rule: &'static str, relative: &str) -> Expect {
    Expect { rule, file: Some(env.path(relative)), at: None }
}

/// `rule` anywhere.
pub fn rule(rule: &'static str) -> Expect {
    Expect { rule, file: None, at: None }
}

/// Asserts that `findings` are exactly `expected` (each matching one finding, in any order) and
/// returns them for further checks on messages and hints.
pub fn assert_findings(findings: Vec<Finding>, expected: &[Expect]) -> Vec<Finding> {
    let mut unmatched: Vec<&Finding> = findings.iter().collect();
    for e in expected {
        let Some(i) = unmatched.iter().position(|f| e.matches(f)) else {
            panic!("expected {e:?}, got:\n{}", show(&findings));
        };
        unmatched.remove(i);
    }
    assert!(unmatched.is_empty(), "unexpected findings besides {expected:?}:\n{}", show(&findings));
    findings
}

/// Asserts exactly one finding, `expected`, and returns it.
pub fn assert_one(findings: Vec<Finding>, expected: Expect) -> Finding {
    assert_findings(findings, &[expected]).remove(0)
}

/// Asserts no finding at all.
pub fn assert_clean(findings: Vec<Finding>) {
    assert!(findings.is_empty(), "expected no findings, got:\n{}", show(&findings));
}

/// The committed environments directory of the repository.
pub fn committed_environments() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../environments"))
}

/// Resources of `kind` in a rendered template (as JSON), by logical id.
pub fn resources<'a>(
    template: &'a serde_json::Value,
    kind: &str,
) -> BTreeMap<&'a str, &'a serde_json::Value> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}
