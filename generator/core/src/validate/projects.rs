//! Project rules (KP2xx topics, KP3xx service accounts and access) and the resolution of a stage's
//! topics, accounts and ACL bindings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use regex_automata::meta;

use crate::config::project::*;
use crate::config::stage::StageName;
use crate::config::{Declarations, Declared};
use crate::diagnostics::{Finding, Findings};
use crate::model::*;
use crate::span::{Location, Spanned, sibling};
use crate::validate::kafka_configs;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$").unwrap());
/// A node's short name (b0, c1000, ...).
static NODE_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[bc][0-9]+$").unwrap());

/// Kafka's own limit on topic name length.
const MAX_TOPIC_NAME: usize = 249;
/// X.509's limit on a common name, which is an mTLS account's name.
const MAX_ACCOUNT_NAME: usize = 64;
/// Principals and group names the platform itself uses (super user, Schema Registry, the
/// reconciler's identity, Kafka's anonymous user): no service account may take them.
const RESERVED_PRINCIPALS: &[&str] =
    &["admin", "schema-registry", "reconciler", "anonymous", "kafka-cluster"];
/// Consumer groups the platform's own components use.
const RESERVED_GROUPS: &[&str] = &["schema-registry"];
/// Separators after a project name that open its name space (`billing-...`, `billing.`, `billing_`).
const SEPARATORS: [char; 3] = ['-', '.', '_'];

/// Adds the stage's projects, topics, service accounts and ACLs to `model`, checking every rule.
pub fn resolve_projects(declarations: &Declarations, model: &mut StageModel, findings: &mut Findings) {
    let stage = model.stage;
    let projects: BTreeMap<&str, &Declared<ProjectFile>> =
        declarations.projects.iter().map(|p| (p.value.project.value.as_str(), p)).collect();
    let project_pattern = compile(&model.naming.project_pattern, "");

    let mut seen_projects = BTreeMap::new();
    for file in &declarations.projects {
        check_project_metadata(file, project_pattern.as_ref(), &mut seen_projects, findings);
    }

    // Topics first: accounts refer to them.
    let mut topics: BTreeMap<String, Topic> = BTreeMap::new();
    let mut collisions: BTreeMap<String, Spanned<String>> = BTreeMap::new();
    for file in &declarations.projects {
        let project = &file.value.project.value;
        let pattern = compile(&model.naming.topic_pattern, project);
        for decl in &file.value.topics {
            check_stage_order(&decl.name, decl.stages.as_ref(), "topic", findings);
            check_overrides(decl, findings);
            check_topic_name(&decl.name, pattern.as_ref(), &mut collisions, findings);
            for other in decl.shared_with.iter().flat_map(|s| s.read.iter().chain(&s.write)) {
                // A project whose file did not parse has its own finding already.
                if !projects.contains_key(other.value.as_str()) && !declarations.project_unparsed(other) {
                    findings.push(
                        Finding::error(
                            "KP214",
                            &other.location,
                            format!("`{}` is not a project", other.value),
                        )
                        .hint(suggest(&other.value, projects.keys().copied())),
                    );
                }
            }
            if !present_in(decl.stages.as_ref(), stage) {
                continue;
            }
            if let Some(existing) = topics.get(&decl.name.value) {
                findings.push(
                    Finding::error(
                        "KP205",
                        &decl.name.location,
                        format!("topic `{}` is declared twice", decl.name.value),
                    )
                    .hint(format!("first declared at {}", existing.name.location)),
                );
                continue;
            }
            let topic = resolve_topic(file, decl, model, findings);
            topics.insert(topic.name.value.clone(), topic);
        }
    }

    // Service accounts and their bindings.
    let mut accounts: BTreeMap<String, ServiceAccount> = BTreeMap::new();
    // Accounts become CloudFormation resources named after them: two names may not give one id.
    let mut logical_ids: BTreeMap<String, Spanned<String>> = BTreeMap::new();
    let mut acls = BTreeSet::new();
    for file in &declarations.projects {
        let project = &file.value.project.value;
        let pattern = compile(&model.naming.service_account_pattern, project);
        for decl in &file.value.service_accounts {
            check_stage_order(&decl.name, decl.stages.as_ref(), "service account", findings);
            if let Some(pattern) = &pattern
                && !pattern.is_match(&decl.name)
            {
                findings.push(
                    Finding::error(
                        "KP300",
                        &decl.name.location,
                        format!(
                            "service account `{}` does not follow the naming convention",
                            decl.name.value
                        ),
                    )
                    .hint(format!(
                        "names must match {}",
                        model.naming.service_account_pattern.replace("{project}", project)
                    )),
                );
            }
            if decl.name.value.len() > MAX_ACCOUNT_NAME {
                findings.push(Finding::error("KP300", &decl.name.location, format!("service account name `{}` is longer than {MAX_ACCOUNT_NAME} characters", decl.name.value))
                    .hint("the name is the common name of the account's certificate, which X.509 limits to 64 characters"));
            }
            if !present_in(decl.stages.as_ref(), stage) {
                continue;
            }
            if let Some(existing) = accounts.get(&decl.name.value) {
                findings.push(
                    Finding::error(
                        "KP300",
                        &decl.name.location,
                        format!("service account `{}` is declared twice", decl.name.value),
                    )
                    .hint(format!("first declared at {}", existing.name.location)),
                );
                continue;
            }
            let logical_id = crate::render::cfn::logical_id(&["account", &decl.name.value]);
            if let Some(other) = logical_ids.get(&logical_id) {
                findings.push(
                    Finding::error(
                        "KP300",
                        &decl.name.location,
                        format!(
                            "service accounts `{}` and `{}` differ only in punctuation",
                            decl.name.value, other.value
                        ),
                    )
                    .hint(format!(
                        "both become the CloudFormation id {logical_id}; rename one (`{}` is declared at {})",
                        other.value, other.location
                    )),
                );
                continue;
            }
            logical_ids.insert(logical_id, decl.name.clone());
            check_reserved_principal(&decl.name, model, findings);
            check_debug_name_space(&decl.name, "service account", false, findings);
            let spaces = NameSpaces { project, projects: projects.keys().copied().collect() };
            if let Some(other) = spaces.intruded(&decl.name.value, false) {
                findings.push(
                    Finding::error(
                        "KP305",
                        &decl.name.location,
                        format!("service account `{}` of project {project} is named in project {other}'s name space", decl.name.value),
                    )
                    .hint(format!("names starting with `{other}-` belong to project {other}; pick a name outside it")),
                );
            }
            let unparsed = |topic: &str| {
                declarations.unparsed.iter().any(|p| {
                    p.file_stem()
                        .is_some_and(|stem| topic.starts_with(&format!("{}.", stem.to_string_lossy())))
                })
            };
            let account = resolve_account(project, decl, &topics, &spaces, &unparsed, findings);
            acls.extend(generated_bindings(&account));
            accounts.insert(account.name.value.clone(), account);
        }
    }
    let declared_accounts: BTreeSet<&str> = declarations
        .projects
        .iter()
        .flat_map(|p| &p.value.service_accounts)
        .map(|a| a.name.value.as_str())
        .collect();
    for file in &declarations.projects {
        for decl in &file.value.acls {
            if !declared_accounts.contains(decl.service_account.value.as_str()) {
                findings.push(
                    Finding::error(
                        "KP306",
                        &decl.service_account.location,
                        format!("`{}` is not a service account", decl.service_account.value),
                    )
                    .hint(suggest(&decl.service_account.value, declared_accounts.iter().copied())),
                );
                continue;
            }
            let spaces = NameSpaces {
                project: &file.value.project.value,
                projects: projects.keys().copied().collect(),
            };
            if let Some(binding) = explicit_binding(&spaces, decl, &accounts, &topics, findings) {
                acls.insert(binding);
            }
        }
    }

    model.projects = declarations.projects.iter().map(|p| project_meta(&p.value)).collect();
    model.topics = topics.into_values().collect();
    model.service_accounts = accounts.into_values().collect();
    model.acls = acls.into_iter().collect();
}

/// A naming pattern with `{project}` filled in.
struct NamePattern {
    regex: meta::Regex,
    text: String,
}

impl NamePattern {
    fn is_match(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }
}

/// Compiles `pattern` for `project`, or None when it is invalid (reported once, by KP101).
/// Validation compiles two patterns per project, each for a few hundred short names: the regex
/// engine's full DFA is left out, since once any crate in the build enables regex-automata's
/// `dfa-build` (tracing-subscriber does, in `gen`), `Regex::new` determinizes every small pattern
/// up front, which cost about 0.5 M instructions per compile (4 % of a 2,000-topic render).
/// The syntax and size limit are the `regex` crate's, so the same patterns compile.
fn compile(pattern: &Spanned<String>, project: &str) -> Option<NamePattern> {
    let text = pattern.replace("{project}", &regex::escape(project));
    let config = meta::Config::new().nfa_size_limit(Some(10 << 20)).dfa(false);
    let regex = meta::Builder::new().configure(config).build(&text).ok()?;
    Some(NamePattern { regex, text })
}

fn suggest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let candidates: Vec<String> = candidates.map(str::to_string).collect();
    match crate::config::load::did_you_mean(input, &candidates) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("known: {}", candidates.join(", ")),
    }
}

fn present_in(stages: Option<&Spanned<Vec<Spanned<StageName>>>>, stage: StageName) -> bool {
    stages.is_none_or(|s| s.value.iter().any(|x| x.value == stage))
}

/// KP200/KP201: project name and required metadata.
fn check_project_metadata(
    file: &Declared<ProjectFile>,
    pattern: Option<&NamePattern>,
    seen: &mut BTreeMap<String, Location>,
    findings: &mut Findings,
) {
    let p = &file.value;
    let name = &p.project;
    let stem = file.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if stem != name.value {
        findings.push(
            Finding::error("KP200", &name.location, format!("project `{}` in file {stem}.yaml", name.value))
                .hint("name the file after the project"),
        );
    }
    if let Some(pattern) = pattern
        && !pattern.is_match(name)
    {
        findings.push(
            Finding::error(
                "KP200",
                &name.location,
                format!("project name `{}` does not follow the naming convention", name.value),
            )
            .hint(format!("project names must match {}", pattern.text)),
        );
    }
    if let Some(first) = seen.insert(name.value.clone(), name.location.clone()) {
        findings.push(
            Finding::error("KP200", &name.location, format!("project `{}` is declared twice", name.value))
                .hint(format!("first at {first}")),
        );
    }
    let file_start = Location::file_start(&file.path);
    let missing = |what: &str| {
        Finding::error("KP201", &file_start, format!("project `{}` has no {what}", name.value))
            .hint("every project declares description, owner.team, owner.email and data_classification")
    };
    if p.description.as_ref().is_none_or(|d| d.value.trim().is_empty()) {
        findings.push(missing("description"));
    }
    let owner = p.owner.as_ref();
    if owner.and_then(|o| o.team.as_ref()).is_none_or(|t| t.value.trim().is_empty()) {
        findings.push(missing("owner.team"));
    }
    match owner.and_then(|o| o.email.as_ref()) {
        None => findings.push(missing("owner.email")),
        Some(email) if !EMAIL.is_match(email) => {
            findings.push(Finding::error(
                "KP201",
                &email.location,
                format!("`{}` is not an e-mail address", email.value),
            ));
        }
        Some(_) => {}
    }
    if p.data_classification.is_none() {
        findings.push(missing("data_classification"));
    }
}

/// KP310: what exists in a stage must exist in every stage below it.
fn check_stage_order(
    name: &Spanned<String>,
    stages: Option<&Spanned<Vec<Spanned<StageName>>>>,
    what: &str,
    findings: &mut Findings,
) {
    let Some(stages) = stages else { return };
    let present: BTreeSet<StageName> = stages.value.iter().map(|s| s.value).collect();
    if present.is_empty() {
        findings.push(
            Finding::error("KP310", &stages.location, format!("{what} `{}` exists in no stage", name.value))
                .hint("remove the declaration instead, or list the stages it exists in"),
        );
        return;
    }
    for stage in &stages.value {
        for lower in StageName::ALL.into_iter().filter(|l| *l < stage.value) {
            if !present.contains(&lower) {
                findings.push(
                    Finding::error(
                        "KP310",
                        &stage.location,
                        format!("{what} `{}` exists in {} but not in {lower}", name.value, stage.value),
                    )
                    .hint("promote through every stage: add the lower stages to `stages`"),
                );
            }
        }
    }
}

fn check_overrides(decl: &TopicDecl, findings: &mut Findings) {
    for (stage, over) in &decl.overrides {
        if !present_in(decl.stages.as_ref(), *stage) {
            let loc = over
                .partitions
                .as_ref()
                .map(|p| p.location.clone())
                .unwrap_or_else(|| decl.name.location.clone());
            findings.push(Finding::warning(
                "KP215",
                &loc,
                format!("override for {stage}, where topic `{}` does not exist", decl.name.value),
            ));
        }
    }
}

/// KP202-KP204: Kafka-legal names, `.`/`_` collisions, naming convention.
fn check_topic_name(
    name: &Spanned<String>,
    pattern: Option<&NamePattern>,
    collisions: &mut BTreeMap<String, Spanned<String>>,
    findings: &mut Findings,
) {
    let n = &name.value;
    if n.is_empty() || n == "." || n == ".." || n.len() > MAX_TOPIC_NAME {
        findings.push(
            Finding::error("KP202", &name.location, format!("`{n}` is not a legal topic name"))
                .hint(format!("1 to {MAX_TOPIC_NAME} characters, not `.` or `..`")),
        );
    } else if let Some(bad) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        findings.push(
            Finding::error("KP202", &name.location, format!("topic name `{n}` contains `{bad}`"))
                .hint("Kafka allows only ASCII letters, digits, '.', '_' and '-'"),
        );
    }
    if n.starts_with("__") || n.starts_with("_confluent") || n == "_schemas" {
        findings.push(Finding::error(
            "KP202",
            &name.location,
            format!("`{n}` is reserved for Kafka's internal topics"),
        ));
    }
    // Kafka's metrics names replace '.' by '_', so these two would collide on the broker.
    let canonical = n.replace('.', "_");
    if let Some(other) = collisions.get(&canonical) {
        if other.value != *n {
            findings.push(
                Finding::error(
                    "KP203",
                    &name.location,
                    format!("topic `{n}` collides with `{}`", other.value),
                )
                .hint(format!(
                    "Kafka treats '.' and '_' alike in metric names; `{}` is declared at {}",
                    other.value, other.location
                )),
            );
        }
    } else {
        collisions.insert(canonical, name.clone());
    }
    if let Some(pattern) = pattern
        && !pattern.is_match(n)
    {
        findings.push(
            Finding::error(
                "KP204",
                &name.location,
                format!("topic `{n}` does not follow the naming convention"),
            )
            .hint(format!("topic names must match {}", pattern.text)),
        );
    }
}

/// Builds a topic for the model's stage, checking replication, ISR, partitions, configs and schema.
fn resolve_topic(
    file: &Declared<ProjectFile>,
    decl: &TopicDecl,
    model: &StageModel,
    findings: &mut Findings,
) -> Topic {
    let policy = &model.topic_policy;
    let over = decl.overrides.get(&model.stage);
    let partitions = over
        .and_then(|o| o.partitions.clone())
        .or_else(|| decl.partitions.clone())
        .unwrap_or_else(|| policy.default_partitions.clone());
    let replication = over
        .and_then(|o| o.replication_factor.clone())
        .or_else(|| decl.replication_factor.clone())
        .unwrap_or_else(|| policy.default_replication_factor.clone());
    // A replication factor the topic does not declare comes from the stage's policy: a finding
    // about it belongs to the topic that uses it, not to the policy line.
    let rf_declared =
        over.and_then(|o| o.replication_factor.as_ref()).or(decl.replication_factor.as_ref()).is_some();
    let rf_location = if rf_declared { replication.location.clone() } else { decl.name.location.clone() };
    let rf_source = if rf_declared { "" } else { " (the stage default)" };
    // A built-in default has no place in a file: point at the topic that uses it instead.
    let partitions_location = if partitions.location.file.is_some() {
        partitions.location.clone()
    } else {
        decl.name.location.clone()
    };

    if partitions.value < 1 || partitions.value > policy.max_partitions.value {
        findings.push(
            Finding::error("KP212", &partitions_location, format!("{} partitions", partitions.value))
                .hint(format!("1 to {} partitions in {}", policy.max_partitions.value, model.stage)),
        );
    }
    let brokers = model.cluster.brokers.len() as u32;
    if replication.value > brokers {
        findings.push(
            Finding::error(
                "KP206",
                &rf_location,
                format!(
                    "topic `{}`: replication factor {}{rf_source} with {brokers} brokers in {}",
                    decl.name.value, replication.value, model.stage
                ),
            )
            .hint("add a per-stage override (overrides: {stage: {replication_factor: N}}) or more brokers"),
        );
    }
    if replication.value < policy.min_replication_factor.value {
        findings.push(
            Finding::error(
                "KP207",
                &rf_location,
                format!(
                    "topic `{}`: replication factor {}{rf_source} is below the {} minimum of {}",
                    decl.name.value, replication.value, model.stage, policy.min_replication_factor.value
                ),
            )
            .hint("remove the replication_factor to use the stage default"),
        );
    }

    let mut configs: BTreeMap<String, Spanned<String>> = BTreeMap::new();
    for (key, value) in decl.configs.iter().chain(over.into_iter().flat_map(|o| o.configs.iter())) {
        if !policy.allowed_config_keys.iter().any(|k| k == &key.value) {
            let hint = match kafka_configs::spec(key) {
                Some(_) => format!(
                    "`{}` is not in the {} topic policy's allowed_config_keys",
                    key.value, model.stage
                ),
                None => suggest(key, kafka_configs::known_keys()),
            };
            findings.push(
                Finding::error(
                    "KP209",
                    &key.location,
                    format!("topic config `{}` is not allowed", key.value),
                )
                .hint(hint),
            );
            continue;
        }
        let text = value.value.to_kafka_string();
        if let Err(reason) = kafka_configs::check_value(key, &text) {
            findings.push(Finding::error("KP210", &value.location, reason));
            continue;
        }
        configs.insert(key.value.clone(), Spanned::at(text, value.location.clone()));
    }
    if let Some(retention) = configs.get("retention.ms") {
        let ms: i64 = retention.value.parse().unwrap_or(0);
        if ms == -1 && !policy.allow_infinite_retention {
            findings.push(
                Finding::error(
                    "KP211",
                    &retention.location,
                    format!("infinite retention is not allowed in {}", model.stage),
                )
                .hint("set a finite retention.ms or use a compacted topic"),
            );
        } else if ms > policy.max_retention_ms.value {
            findings.push(Finding::error(
                "KP211",
                &retention.location,
                format!(
                    "retention.ms {ms} above the {} maximum of {}",
                    model.stage, policy.max_retention_ms.value
                ),
            ));
        }
    }
    let min_isr = configs
        .entry("min.insync.replicas".into())
        .or_insert_with(|| {
            Spanned::at(
                policy.min_insync_replicas.value.to_string(),
                policy.min_insync_replicas.location.clone(),
            )
        })
        .clone();
    let isr: u32 = min_isr.value.parse().unwrap_or(1);
    if replication.value > 1 && isr >= replication.value || isr > replication.value {
        findings.push(Finding::error("KP208", &min_isr.location, format!("min.insync.replicas {isr} with replication factor {} in {}", replication.value, model.stage))
            .hint("min.insync.replicas must be below the replication factor, or losing one broker stops producers"));
    }
    let references = decl.schema_references.iter().map(|r| &r.schema);
    for schema in decl.schema.iter().chain(&decl.key_schema).chain(references) {
        let path = sibling(&file.path, schema);
        let inside = std::path::Path::new(&schema.value)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
        if !inside {
            findings.push(
                Finding::error(
                    "KP213",
                    &schema.location,
                    format!("schema path `{}` leaves the projects folder", schema.value),
                )
                .hint("a relative path below the project file, e.g. schemas/orders.avsc"),
            );
        } else if !path.symlink_metadata().is_ok_and(|m| m.is_file()) {
            findings.push(Finding::error(
                "KP213",
                &schema.location,
                format!("schema file {} not found", path.display()),
            ));
        }
    }
    let shared = decl.shared_with.clone().unwrap_or_default();
    Topic {
        name: decl.name.clone(),
        project: file.value.project.value.clone(),
        description: decl.description.as_ref().map(|d| d.value.clone()),
        partitions,
        replication_factor: replication,
        configs,
        readers: shared.read.into_iter().map(|r| r.value).collect(),
        writers: shared.write.into_iter().map(|w| w.value).collect(),
        schema: decl.schema.clone(),
    }
}

/// Builds a service account, checking that it only uses topics it may use (KP301-KP305, KP309).
fn resolve_account(
    project: &str,
    decl: &ServiceAccountDecl,
    topics: &BTreeMap<String, Topic>,
    spaces: &NameSpaces<'_>,
    unparsed: &dyn Fn(&str) -> bool,
    findings: &mut Findings,
) -> ServiceAccount {
    for (list, write) in [(&decl.produces, true), (&decl.consumes, false)] {
        for topic in list {
            let Some(t) = topics.get(&topic.value) else {
                if unparsed(&topic.value) {
                    continue; // its project's file did not parse, which has its own finding
                }
                findings.push(
                    Finding::error(
                        "KP301",
                        &topic.location,
                        format!("service account `{}` uses unknown topic `{}`", decl.name.value, topic.value),
                    )
                    .hint(suggest(&topic.value, topics.keys().map(String::as_str))),
                );
                continue;
            };
            let shared = if write { &t.writers } else { &t.readers };
            if t.project != project && !shared.iter().any(|p| p == project) {
                let verb = if write { "write" } else { "read" };
                findings.push(
                    Finding::error(
                        "KP302",
                        &topic.location,
                        format!(
                            "`{}` of project {project} may not {verb} topic `{}` of project {}",
                            decl.name.value, topic.value, t.project
                        ),
                    )
                    .hint(format!(
                        "project {} must add `{project}` to shared_with.{verb} of the topic",
                        t.project
                    )),
                );
            }
        }
    }
    if decl.produces.is_empty() && decl.consumes.is_empty() {
        findings.push(Finding::warning(
            "KP303",
            &decl.name.location,
            format!("service account `{}` neither produces nor consumes", decl.name.value),
        ));
    }
    if decl.consumes.is_empty()
        && let Some(declared) = &decl.consumer_groups
    {
        let loc = declared.first().map(|g| g.location.clone()).unwrap_or_else(|| decl.name.location.clone());
        findings.push(
            Finding::warning(
                "KP309",
                &loc,
                format!(
                    "service account `{}` declares consumer_groups but consumes nothing",
                    decl.name.value
                ),
            )
            .hint(
                "no group binding is generated without `consumes`; add the topics or remove consumer_groups",
            ),
        );
    }
    let groups = decl.consumer_groups.clone().unwrap_or_else(|| vec![decl.name.clone()]);
    let checked_groups: &[Spanned<String>] = if decl.consumes.is_empty() { &[] } else { &groups };
    for prefix in checked_groups.iter().chain(&decl.transactional_ids) {
        if !within_project(&prefix.value, project) {
            findings.push(Finding::error("KP304", &prefix.location, format!("prefix `{}` is outside project {project}", prefix.value))
                .hint(format!("consumer group and transactional id prefixes start with `{project}-` so projects cannot take over each other's groups")));
        } else if let Some(other) = spaces.intruded(&prefix.value, true) {
            findings.push(
                Finding::error(
                    "KP305",
                    &prefix.location,
                    format!("prefix `{}` of project {project} reaches into project {other}'s name space", prefix.value),
                )
                .hint(format!(
                    "a prefixed ACL on `{}` would match the groups and transactional ids of project {other}; use a longer prefix outside `{other}-`",
                    prefix.value
                )),
            );
        }
    }
    for prefix in checked_groups.iter().chain(&decl.transactional_ids) {
        check_debug_name_space(prefix, "prefix", true, findings);
    }
    for prefix in checked_groups {
        if let Some(reserved) = RESERVED_GROUPS.iter().find(|r| overlaps(&prefix.value, r)) {
            findings.push(Finding::error(
                "KP308",
                &prefix.location,
                format!("consumer group prefix `{}` covers the platform's group `{reserved}`", prefix.value),
            ));
        }
    }
    ServiceAccount {
        name: decl.name.clone(),
        project: project.to_string(),
        description: decl.description.as_ref().map(|d| d.value.clone()),
        authentication: decl.authentication.value,
        produces: decl.produces.clone(),
        consumes: decl.consumes.clone(),
        consumer_groups: if decl.consumes.is_empty() { Vec::new() } else { groups },
        transactional_ids: decl.transactional_ids.clone(),
    }
}

/// The bindings that follow from an account's produces/consumes declarations.
pub fn generated_bindings(account: &ServiceAccount) -> Vec<AclBinding> {
    let principal = account.principal();
    let bind = |resource_type, pattern_type, name: &str, operation| AclBinding {
        principal: principal.clone(),
        resource_type,
        pattern_type,
        resource_name: name.to_string(),
        operation,
        host: "*".into(),
    };
    let mut out = Vec::new();
    for topic in &account.produces {
        out.push(bind(AclResourceType::Topic, AclPatternType::Literal, topic, AclOperation::Write));
        out.push(bind(AclResourceType::Topic, AclPatternType::Literal, topic, AclOperation::Describe));
    }
    for prefix in &account.transactional_ids {
        out.push(bind(
            AclResourceType::TransactionalId,
            AclPatternType::Prefixed,
            prefix,
            AclOperation::Write,
        ));
        out.push(bind(
            AclResourceType::TransactionalId,
            AclPatternType::Prefixed,
            prefix,
            AclOperation::Describe,
        ));
    }
    for topic in &account.consumes {
        out.push(bind(AclResourceType::Topic, AclPatternType::Literal, topic, AclOperation::Read));
        out.push(bind(AclResourceType::Topic, AclPatternType::Literal, topic, AclOperation::Describe));
    }
    for group in &account.consumer_groups {
        out.push(bind(AclResourceType::Group, AclPatternType::Prefixed, group, AclOperation::Read));
    }
    out
}

/// KP306/KP307: explicit bindings name an own account, a reason, and stay within the project.
fn explicit_binding(
    spaces: &NameSpaces<'_>,
    decl: &AclDecl,
    accounts: &BTreeMap<String, ServiceAccount>,
    topics: &BTreeMap<String, Topic>,
    findings: &mut Findings,
) -> Option<AclBinding> {
    let project = spaces.project;
    if decl.reason.as_ref().is_none_or(|r| r.value.trim().is_empty()) {
        findings.push(
            Finding::error("KP307", &decl.service_account.location, "explicit ACL without a reason")
                .hint("add `reason:` so that reviewers know why the generated bindings are not enough"),
        );
    }
    let Some(account) = accounts.get(&decl.service_account.value) else {
        // The account exists only in other stages (one that exists nowhere is reported above).
        return None;
    };
    if account.project != project {
        findings.push(
            Finding::error(
                "KP306",
                &decl.service_account.location,
                format!("`{}` belongs to project {}", decl.service_account.value, account.project),
            )
            .hint("declare the binding in the account's own project"),
        );
        return None;
    }
    let pattern_type = decl.pattern_type.as_ref().map(|p| p.value).unwrap_or(AclPatternType::Literal);
    let name = &decl.resource_name;
    match decl.resource_type.value {
        AclResourceType::Cluster => {
            if !matches!(decl.operation.value, AclOperation::Describe | AclOperation::IdempotentWrite) {
                findings.push(
                    Finding::error(
                        "KP306",
                        &decl.operation.location,
                        "service accounts may only describe or idempotent-write on the cluster",
                    )
                    .hint("cluster-wide operations belong to the platform's admin principal"),
                );
                return None;
            }
        }
        AclResourceType::Topic => {
            let owned = match pattern_type {
                AclPatternType::Prefixed => name.value.starts_with(&format!("{project}.")),
                AclPatternType::Literal => topics.get(&name.value).is_some_and(|t| {
                    t.project == project || t.readers.iter().chain(&t.writers).any(|p| p == project)
                }),
            };
            if owned
                && let Some(t) = topics
                    .get(&name.value)
                    .filter(|t| t.project != project && pattern_type == AclPatternType::Literal)
                && !shared_operation_allowed(t, project, decl.operation.value)
            {
                findings.push(Finding::error("KP306", &decl.operation.location, format!("topic `{}` of project {} is not shared with {project} for {:?}", name.value, t.project, decl.operation.value))
                    .hint("a shared topic allows read and describe (shared_with.read) or write and describe (shared_with.write), nothing more"));
                return None;
            }
            if !owned {
                findings.push(
                    Finding::error(
                        "KP306",
                        &name.location,
                        format!(
                            "topic `{}` is neither owned by nor shared with project {project}",
                            name.value
                        ),
                    )
                    .hint("explicit topic bindings stay within the project's own or shared topics"),
                );
                return None;
            }
        }
        AclResourceType::Group | AclResourceType::TransactionalId => {
            if check_debug_name_space(name, "binding on", pattern_type == AclPatternType::Prefixed, findings)
            {
                return None;
            }
            if !within_project(&name.value, project) {
                findings.push(Finding::error(
                    "KP304",
                    &name.location,
                    format!("`{}` is outside project {project}", name.value),
                ));
                return None;
            }
            if let Some(other) = spaces.intruded(&name.value, pattern_type == AclPatternType::Prefixed) {
                findings.push(Finding::error(
                    "KP305",
                    &name.location,
                    format!("`{}` reaches into project {other}'s name space", name.value),
                ));
                return None;
            }
        }
    }
    Some(AclBinding {
        principal: account.principal(),
        resource_type: decl.resource_type.value,
        pattern_type: if decl.resource_type.value == AclResourceType::Cluster {
            AclPatternType::Literal
        } else {
            pattern_type
        },
        resource_name: if decl.resource_type.value == AclResourceType::Cluster {
            "kafka-cluster".into()
        } else {
            name.value.clone()
        },
        operation: decl.operation.value,
        host: "*".into(),
    })
}

/// Whether a group or transactional id prefix belongs to `project`: the project name followed by a
/// separator, so that project `alpha` cannot claim the groups of project `alphabet`.
fn within_project(prefix: &str, project: &str) -> bool {
    prefix.strip_prefix(project).is_some_and(|rest| rest.starts_with(['-', '.', '_']))
}

/// KP308: a service account may not take a platform principal: the super user, Schema
/// Registry, the reconciler, the nodes (by short name or certificate name).
fn check_reserved_principal(name: &Spanned<String>, model: &StageModel, findings: &mut Findings) {
    let lower = name.value.to_ascii_lowercase();
    let is_node = model
        .cluster
        .brokers
        .iter()
        .chain(&model.cluster.controllers)
        .any(|n| n.dns_name.eq_ignore_ascii_case(&lower))
        || NODE_NAME.is_match(&lower)
        || lower.ends_with(&format!(".{}", model.dns_zone));
    // `<account>.alt` is the second Kafka user of a SCRAM account (credential rotation).
    let is_alternate = lower.ends_with(crate::desired::ALTERNATE_USER_SUFFIX);
    if RESERVED_PRINCIPALS.contains(&lower.as_str()) || is_node || is_alternate {
        findings.push(
            Finding::error(
                "KP308",
                &name.location,
                format!("`{}` is a platform principal and cannot be a service account", name.value),
            )
            .hint(format!(
                "reserved: {}, the node names, and names ending in `.alt` (a SCRAM account's second user); pick a name of the project",
                RESERVED_PRINCIPALS.join(", ")
            )),
        );
    }
}

/// KP311: the `debug.` name space belongs to temporary debug identities (`gen access grant`) and
/// their consumer groups; a declaration there could be taken for one, or share its groups.
/// Whether it reported.
fn check_debug_name_space(
    name: &Spanned<String>,
    what: &str,
    prefixed: bool,
    findings: &mut Findings,
) -> bool {
    let lower = name.value.to_ascii_lowercase();
    let reserved = crate::desired::DEBUG_USER_PREFIX;
    if !(lower.starts_with(reserved) || prefixed && reserved.starts_with(&lower)) {
        return false;
    }
    findings.push(
        Finding::error("KP311", &name.location, format!("{what} `{}` is in the reserved debug name space", name.value))
            .hint("`debug.` names belong to temporary debug identities (`gen access grant`); pick a name of the project"),
    );
    true
}

/// Whether prefix `a` and name or prefix `b` can match one common name.
fn overlaps(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The project name spaces as seen from one project: a name belongs to the project with the
/// longest name it starts with (followed by a separator), so `billing-ops-x` is project
/// `billing-ops`'s even though it also starts with `billing-`.
struct NameSpaces<'a> {
    project: &'a str,
    projects: Vec<&'a str>,
}

impl NameSpaces<'_> {
    /// The project (other than ours, with a longer name) whose name space `name` reaches into:
    /// for a prefix (`prefixed`), when anything it matches could lie in that space; for a
    /// literal name, when it lies in it (or equals the project name).
    fn intruded(&self, name: &str, prefixed: bool) -> Option<String> {
        self.projects
            .iter()
            .filter(|other| **other != self.project && other.len() > self.project.len())
            .find(|other| {
                name == **other
                    || SEPARATORS.iter().any(|sep| {
                        let space = format!("{other}{sep}");
                        name.starts_with(&space) || (prefixed && space.starts_with(name))
                    })
            })
            .map(|other| other.to_string())
    }
}

/// What another project's explicit ACL may do on a topic shared with it.
fn shared_operation_allowed(topic: &Topic, project: &str, operation: AclOperation) -> bool {
    let reads = topic.readers.iter().any(|p| p == project);
    let writes = topic.writers.iter().any(|p| p == project);
    match operation {
        AclOperation::Describe | AclOperation::DescribeConfigs => reads || writes,
        AclOperation::Read => reads,
        AclOperation::Write | AclOperation::IdempotentWrite => writes,
        AclOperation::Create | AclOperation::Delete | AclOperation::Alter | AclOperation::AlterConfigs => {
            false
        }
    }
}

fn project_meta(p: &ProjectFile) -> Project {
    let owner = p.owner.clone();
    Project {
        name: p.project.value.clone(),
        description: p.description.clone().map(|d| d.value).unwrap_or_default(),
        owner_team: owner.as_ref().and_then(|o| o.team.clone()).map(|t| t.value).unwrap_or_default(),
        owner_email: owner.as_ref().and_then(|o| o.email.clone()).map(|e| e.value).unwrap_or_default(),
        owner_channel: owner.and_then(|o| o.channel).map(|c| c.value),
        data_classification: p.data_classification.as_ref().map(|d| d.value),
        tags: p.tags.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
    }
}
