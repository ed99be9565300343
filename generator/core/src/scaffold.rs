//! `gen new`: the text of a new project file, a topic entry added to an existing project file
//! without touching its other lines, an Avro schema stub, and the in-memory check that what would
//! be written validates in every stage. Pure but for the schema files the check looks up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::load::{Declarations, Declared, parse_str};
use crate::config::project::{DataClassification, ProjectFile};
use crate::config::stage::StageName;
use crate::diagnostics::{Finding, Findings};
use crate::span::Location;

/// What `gen new project` writes.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub description: String,
    pub team: String,
    pub email: String,
    pub channel: Option<String>,
    pub classification: DataClassification,
}

/// The limits of one stage's topic policy that a new topic must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    pub stage: StageName,
    pub max_partitions: u32,
    pub max_retention_ms: i64,
}

/// What `gen new topic` adds.
#[derive(Debug, Clone)]
pub struct NewTopic {
    /// Full topic name.
    pub name: String,
    pub description: String,
    pub partitions: Option<u32>,
    pub retention_ms: Option<i64>,
    /// Schema path relative to the project file.
    pub schema: Option<String>,
}

/// The full topic name: `NAME` as given when it already starts with `<project>.`, otherwise
/// prefixed with it (`gen new topic billing refund-issued.v1`).
pub fn topic_name(project: &str, name: &str) -> String {
    let prefix = format!("{project}.");
    if name.starts_with(&prefix) { name.to_string() } else { format!("{prefix}{name}") }
}

/// Where the schema stub of `topic` goes, relative to the project file. The whole topic name, so
/// that two projects' `deadletter.v1` do not meet in the shared `schemas/` folder.
pub fn schema_path(topic: &str) -> String {
    format!("schemas/{topic}.avsc")
}

/// A YAML scalar for `s`: plain when that reads back as the same string, double-quoted otherwise.
pub fn scalar(s: &str) -> String {
    let plain_chars = s.chars().all(|c| c.is_ascii_alphanumeric() || " ._@/()+,-'".contains(c));
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let reserved = ["true", "false", "null", "yes", "no", "on", "off", "y", "n"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(s));
    if plain_chars && first_ok && !reserved && !s.ends_with(' ') {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text of a new project file: the required metadata filled in, the optional parts as
/// comments that show where they go.
pub fn project_text(p: &NewProject) -> String {
    let channel = match &p.channel {
        Some(channel) => format!("  channel: {}\n", scalar(channel)),
        None => "  # channel: \"#team-channel\"   # optional: chat channel for incidents\n".to_string(),
    };
    format!(
        "# yaml-language-server: $schema=../schema.json\n\
         # Written by `gen new project`; every key is described in docs/config-reference.md.\n\
         # Required (KP201): description, owner.team, owner.email, data_classification.\n\
         project: {name}\n\
         description: {description}\n\
         owner:\n  team: {team}\n  email: {email}\n{channel}\
         data_classification: {classification}   # public | internal | confidential | restricted\n\
         # tags:\n#   cost-center: cc-0000\n\
         # Add topics with `gen new topic {name} NAME [--schema]`.\n\
         topics: []\n\
         # service_accounts:\n\
         #   - name: {name}-app\n\
         #     description: What uses the account.\n\
         #     authentication: scram   # scram | mtls\n\
         #     produces: []\n\
         #     consumes: []\n",
        name = p.name,
        description = scalar(&p.description),
        team = scalar(&p.team),
        email = scalar(&p.email),
        classification = p.classification.as_str(),
    )
}

/// The lines of one topic entry, items indented by `indent` spaces. A partition count or
/// retention above a stage's limit gets an override with that stage's limit.
pub fn topic_entry(topic: &NewTopic, limits: &[StageLimits], indent: usize) -> Vec<String> {
    let i = " ".repeat(indent);
    let mut lines = vec![format!("{i}- name: {}", topic.name)];
    lines.push(format!("{i}  description: {}", scalar(&topic.description)));
    if let Some(partitions) = topic.partitions {
        lines.push(format!("{i}  partitions: {partitions}"));
    }
    if let Some(retention) = topic.retention_ms {
        lines.push(format!("{i}  configs:"));
        lines.push(format!("{i}    retention.ms: {retention}"));
    }
    if let Some(schema) = &topic.schema {
        lines.push(format!("{i}  schema: {}", scalar(schema)));
    }
    let mut overrides = Vec::new();
    for limit in limits {
        let mut parts = Vec::new();
        if topic.partitions.is_some_and(|p| p > limit.max_partitions) {
            parts.push(format!("partitions: {}", limit.max_partitions));
        }
        if topic.retention_ms.is_some_and(|r| r > limit.max_retention_ms) {
            parts.push(format!("configs: {{retention.ms: {}}}", limit.max_retention_ms));
        }
        if !parts.is_empty() {
            overrides.push(format!(
                "{i}    {}: {{{}}}   # the stage's maximum",
                limit.stage,
                parts.join(", ")
            ));
        }
    }
    if !overrides.is_empty() {
        lines.push(format!("{i}  overrides:"));
        lines.extend(overrides);
    }
    lines
}

/// Why a topic could not be inserted into a project file's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    #[error("`topics:` appears {0} times at the top level; expected once")]
    DuplicateTopicsKey(usize),
    #[error("line {0}: `topics` is written as a flow list (`[...]`); add the topic by hand")]
    FlowList(usize),
}

/// A top-level line: starts at column 0 with something other than a comment or a list item
/// (a list may sit at the column of its key).
fn is_top_level(line: &str) -> bool {
    !line.is_empty() && !line.starts_with([' ', '\t', '#', '\r']) && line != "-" && !line.starts_with("- ")
}

/// The value part of a `key: value   # comment` line, trimmed.
fn value_after_key<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.strip_prefix(':')?;
    let rest = rest.split(" #").next().unwrap_or(rest);
    if rest.starts_with('#') { Some("") } else { Some(rest.trim()) }
}

/// `text` with `topic` appended to its `topics:` list. Every other line stays as it was: the
/// entry goes after the list's last item (before any comment or blank line that precedes the next
/// top-level key), with the indentation the list already uses. `topics: []` becomes a block list;
/// a file without `topics:` gets one before `service_accounts:`/`acls:` (or at the end).
pub fn insert_topic(text: &str, topic: &NewTopic, limits: &[StageLimits]) -> Result<String, InsertError> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end_matches('\r').to_string()).collect();
    let keys: Vec<usize> =
        (0..lines.len()).filter(|&n| value_after_key(&lines[n], "topics").is_some()).collect();
    match keys.as_slice() {
        [] => {
            let at = (0..lines.len())
                .find(|&n| {
                    value_after_key(&lines[n], "service_accounts").is_some()
                        || value_after_key(&lines[n], "acls").is_some()
                })
                .unwrap_or(lines.len());
            let mut block = vec!["topics:".to_string()];
            block.extend(topic_entry(topic, limits, 2));
            lines.splice(at..at, block);
        }
        [key] => {
            let key = *key;
            let value = value_after_key(&lines[key], "topics").unwrap_or_default();
            if value == "[]" {
                // Drop the `[]` only: a comment after it keeps its place.
                let empty = if lines[key].contains(" []") { " []" } else { "[]" };
                lines[key] = lines[key].replacen(empty, "", 1);
            } else if !value.is_empty() {
                return Err(InsertError::FlowList(key + 1));
            }
            let next_key = (key + 1..lines.len()).find(|&n| is_top_level(&lines[n])).unwrap_or(lines.len());
            // Comments and blank lines just above the next key belong to it, not to the list.
            let mut end = next_key;
            while end > key + 1 && {
                let line = lines[end - 1].trim_start();
                line.is_empty() || (line.starts_with('#') && lines[end - 1].starts_with('#'))
            } {
                end -= 1;
            }
            let indent = lines[key + 1..end]
                .iter()
                .find(|l| l.trim_start().starts_with('-'))
                .map_or(2, |l| l.len() - l.trim_start().len());
            lines.splice(end..end, topic_entry(topic, limits, indent));
        }
        more => return Err(InsertError::DuplicateTopicsKey(more.len())),
    }
    let mut out = lines.join(newline);
    out.push_str(newline);
    Ok(out)
}

/// An Avro record stub for `topic`: the record named after the topic's data set, one key field to
/// replace.
pub fn avro_stub(project: &str, topic: &str, description: &str) -> String {
    let dataset = topic.strip_prefix(&format!("{project}.")).unwrap_or(topic);
    let dataset = dataset.rsplit_once(".v").map_or(dataset, |(d, _)| d);
    let record: String = dataset
        .split(['-', '.', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    // Avro names start with a letter or `_`.
    let record =
        if record.starts_with(|c: char| c.is_ascii_alphabetic()) { record } else { format!("_{record}") };
    let namespace = project.replace('-', "_");
    let doc = serde_json::to_string(description).unwrap_or_else(|_| "\"\"".into());
    format!(
        "{{\n  \"type\": \"record\",\n  \"name\": \"{record}\",\n  \"namespace\": \"{namespace}\",\n  \
         \"doc\": {doc},\n  \"fields\": [\n    \
         {{\"name\": \"id\", \"type\": \"string\", \"doc\": \"TODO: the record key; add the fields the topic carries\"}}\n  \
         ]\n}}\n"
    )
}

/// Every finding of every declared stage as if `path` held `text` (a new file or a replaced one),
/// errors and warnings, sorted. The project file is parsed as the loader would parse it.
pub fn check_candidate(declarations: &Declarations, path: &Path, text: &str) -> Vec<Finding> {
    let mut findings = Findings::default();
    let project: ProjectFile = match parse_str(path, text) {
        Ok(project) => project,
        Err(finding) => return vec![*finding],
    };
    let mut declarations = declarations.clone();
    declarations.projects.retain(|p| p.path != path);
    declarations.unparsed.retain(|p| p != path);
    declarations.projects.push(Declared { path: path.to_path_buf(), value: project });
    declarations.projects.sort_by(|a, b| a.path.cmp(&b.path));
    if declarations.stages.is_empty() {
        findings.push(Finding::error("KP003", &Location::default(), "no stage is declared"));
    }
    for &stage in declarations.stages.keys() {
        if !crate::resolve::resolvable(&declarations, stage) {
            continue;
        }
        let (model, stage_findings) = crate::resolve::resolve_stage(&declarations, stage);
        findings.extend(stage_findings.0);
        if let Some(model) = model {
            findings.extend(crate::render::limits::check(&model));
        }
    }
    findings.sorted()
}

/// The topic names declared in a project file's text, in order (to check an insertion added
/// exactly one topic at the end).
pub fn topic_names(path: &Path, text: &str) -> Result<Vec<String>, Box<Finding>> {
    let project: ProjectFile = parse_str(path, text)?;
    Ok(project.topics.iter().map(|t| t.name.value.clone()).collect())
}

/// The project file of `project` under `root`, as the loader finds it (`.yaml` or `.yml`).
pub fn project_file(root: &Path, project: &str) -> Option<PathBuf> {
    ["yaml", "yml"]
        .iter()
        .map(|ext| root.join("projects").join(format!("{project}.{ext}")))
        .find(|p| p.symlink_metadata().is_ok())
}

/// The topic policy limits of every resolved stage.
pub fn stage_limits(models: &BTreeMap<StageName, crate::model::StageModel>) -> Vec<StageLimits> {
    models
        .iter()
        .map(|(stage, m)| StageLimits {
            stage: *stage,
            max_partitions: m.topic_policy.max_partitions.value,
            max_retention_ms: m.topic_policy.max_retention_ms.value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> NewTopic {
        NewTopic {
            name: name.into(),
            description: "Refunds issued.".into(),
            partitions: None,
            retention_ms: None,
            schema: None,
        }
    }

    fn limits() -> Vec<StageLimits> {
        vec![
            StageLimits { stage: StageName::Dev, max_partitions: 120, max_retention_ms: 604_800_000 },
            StageLimits { stage: StageName::Prod, max_partitions: 240, max_retention_ms: 2_592_000_000 },
        ]
    }

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for s in
            ["Invoices for contracts.", "yes", "123", "a: b", "x # y", "#chan", "say \"hi\"\n", "", "ünï"]
        {
            let yaml = format!("project: p\ndescription: {}\n", scalar(s));
            let parsed: ProjectFile = parse_str(Path::new("p.yaml"), &yaml).unwrap();
            assert_eq!(parsed.description.unwrap().value, s, "{yaml}");
        }
        assert_eq!(scalar("finance-it"), "finance-it");
        assert_eq!(scalar("no"), "\"no\"");
    }

    #[test]
    fn a_new_project_parses_with_the_required_metadata() {
        let text = project_text(&NewProject {
            name: "refunds".into(),
            description: "Refunds: issued and settled.".into(),
            team: "finance-it".into(),
            email: "finance-it@example.com".into(),
            channel: Some("#finance".into()),
            classification: DataClassification::Confidential,
        });
        let p: ProjectFile = parse_str(Path::new("refunds.yaml"), &text).unwrap();
        assert_eq!(p.project.value, "refunds");
        assert_eq!(p.description.unwrap().value, "Refunds: issued and settled.");
        let owner = p.owner.unwrap();
        assert_eq!(owner.team.unwrap().value, "finance-it");
        assert_eq!(owner.email.unwrap().value, "finance-it@example.com");
        assert_eq!(owner.channel.unwrap().value, "#finance");
        assert_eq!(p.data_classification.unwrap().value, DataClassification::Confidential);
        assert!(p.topics.is_empty() && p.service_accounts.is_empty());
    }

    #[test]
    fn inserting_keeps_every_other_line_and_comment() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/projects/contracts.yaml");
        let before = std::fs::read_to_string(&path).unwrap();
        let after = insert_topic(&before, &topic("contracts.refund-issued.v1"), &limits()).unwrap();
        // The original lines, in order, with the entry's lines in one place between them.
        let old: Vec<&str> = before.lines().collect();
        let new: Vec<&str> = after.lines().collect();
        let at = old.iter().zip(&new).position(|(a, b)| a != b).unwrap();
        assert_eq!(new[at], "  - name: contracts.refund-issued.v1");
        assert_eq!(old[at], "service_accounts:", "after the last topic, before the next key");
        assert_eq!(&new[at + 2..], &old[at..]);
        assert!(after.contains("      retention.ms: 1209600000   # 14 days\n"));
        let names = topic_names(&path, &after).unwrap();
        let mut expected = topic_names(&path, &before).unwrap();
        expected.push("contracts.refund-issued.v1".into());
        assert_eq!(names, expected);
    }

    #[test]
    fn inserting_follows_the_list_indentation_and_skips_the_next_keys_comments() {
        let text = "project: p\ntopics:\n- name: p.a.v1   # first\n  partitions: 1\n\n# accounts below\nservice_accounts: []\n";
        let after = insert_topic(text, &topic("p.b.v1"), &[]).unwrap();
        assert_eq!(
            after,
            "project: p\ntopics:\n- name: p.a.v1   # first\n  partitions: 1\n- name: p.b.v1\n  description: Refunds issued.\n\n# accounts below\nservice_accounts: []\n"
        );
    }

    #[test]
    fn an_empty_or_missing_list_gets_a_block_list() {
        let after = insert_topic("project: p\ntopics: []   # none yet\n", &topic("p.b.v1"), &[]).unwrap();
        assert_eq!(
            after,
            "project: p\ntopics:   # none yet\n  - name: p.b.v1\n    description: Refunds issued.\n"
        );
        let after = insert_topic("project: p\nacls: []\n", &topic("p.b.v1"), &[]).unwrap();
        assert_eq!(
            after,
            "project: p\ntopics:\n  - name: p.b.v1\n    description: Refunds issued.\nacls: []\n"
        );
        let after = insert_topic("project: p\r\ntopics:\r\n", &topic("p.b.v1"), &[]).unwrap();
        assert_eq!(
            after,
            "project: p\r\ntopics:\r\n  - name: p.b.v1\r\n    description: Refunds issued.\r\n"
        );
    }

    #[test]
    fn flow_lists_and_duplicate_keys_are_refused() {
        let err = insert_topic("project: p\ntopics: [{name: p.a.v1}]\n", &topic("p.b.v1"), &[]).unwrap_err();
        assert_eq!(err, InsertError::FlowList(2));
        let err = insert_topic("topics:\ntopics:\n", &topic("p.b.v1"), &[]).unwrap_err();
        assert_eq!(err, InsertError::DuplicateTopicsKey(2));
    }

    #[test]
    fn limits_above_a_stage_maximum_get_that_stages_override() {
        let mut t = topic("p.b.v1");
        t.partitions = Some(200);
        t.retention_ms = Some(1_209_600_000);
        t.schema = Some(schema_path("p.b.v1"));
        let lines = topic_entry(&t, &limits(), 2);
        assert_eq!(
            lines,
            [
                "  - name: p.b.v1",
                "    description: Refunds issued.",
                "    partitions: 200",
                "    configs:",
                "      retention.ms: 1209600000",
                "    schema: schemas/p.b.v1.avsc",
                "    overrides:",
                "      dev: {partitions: 120, configs: {retention.ms: 604800000}}   # the stage's maximum",
            ]
        );
    }

    #[test]
    fn the_avro_stub_is_a_named_record() {
        let stub = avro_stub("site-ops", "site-ops.refund-issued.v2", "Refunds \"issued\".");
        let value: serde_json::Value = serde_json::from_str(&stub).unwrap();
        assert_eq!(value["type"], "record");
        assert_eq!(value["name"], "RefundIssued");
        assert_eq!(value["namespace"], "site_ops");
        assert_eq!(value["doc"], "Refunds \"issued\".");
        assert_eq!(value["fields"][0]["name"], "id");
        assert_eq!(topic_name("site-ops", "refund-issued.v2"), "site-ops.refund-issued.v2");
        assert_eq!(topic_name("site-ops", "site-ops.a.v1"), "site-ops.a.v1");
    }
}
