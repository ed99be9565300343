//! docs/config-reference.md keeps up with the code: every key of the declaration schema and every
//! rule id the code emits has a row, every default the schema names is the row's default, no row
//! names a rule that no longer exists, and every rule has its cases in tests/rules.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;
use serde_json::Value;

const STAGES: [&str; 4] = ["dev", "test", "acc", "prod"];

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn reference() -> String {
    read("../../docs/config-reference.md")
}

/// Follows `$ref` and unwraps `allOf`/`anyOf` with one non-null member.
fn resolve<'a>(definitions: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        return resolve(definitions, &definitions[reference.trim_start_matches("#/definitions/")]);
    }
    for combinator in ["allOf", "anyOf"] {
        if let Some(members) = schema[combinator].as_array() {
            let real: Vec<&Value> = members.iter().filter(|m| m["type"] != "null").collect();
            if real.len() == 1 {
                return resolve(definitions, real[0]);
            }
        }
    }
    schema
}

/// Dotted paths of every key below `schema` (`[]` for list items, `<stage>` for per-stage maps).
fn key_paths(definitions: &Value, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let schema = resolve(definitions, schema);
    if let Some(items) = schema.get("items") {
        return key_paths(definitions, items, &format!("{prefix}[]"), out);
    }
    let Some(properties) = schema["properties"].as_object() else { return };
    if !properties.is_empty() && properties.keys().all(|k| STAGES.contains(&k.as_str())) {
        let (_, first) = properties.iter().next().unwrap();
        return key_paths(definitions, first, &format!("{prefix}.<stage>"), out);
    }
    for (key, value) in properties {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        out.insert(path.clone());
        key_paths(definitions, value, &path, out);
    }
}

fn schema_keys(definition: &str) -> BTreeSet<String> {
    let schema = kafka_platform_core::schema::declarations_schema();
    let definitions = &schema["definitions"];
    let mut out = BTreeSet::new();
    key_paths(definitions, &definitions[definition], "", &mut out);
    out
}

/// Rule ids written as string literals in the core's sources.
fn rules_in_code() -> BTreeSet<String> {
    let literal = Regex::new(r#""(KP\d{3})""#).unwrap();
    let mut out = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.extend(literal.captures_iter(&text).map(|c| c[1].to_string()));
            }
        }
    }
    out
}

/// The rule ids of the reference's rule table (rows starting with `| KPnnn |`).
fn rules_in_reference() -> BTreeSet<String> {
    let row = Regex::new(r"(?m)^\| (KP\d{3}) \|").unwrap();
    row.captures_iter(&reference()).map(|c| c[1].to_string()).collect()
}

#[test]
fn every_key_of_stage_and_project_files_is_documented() {
    let reference = reference();
    let stage = schema_keys("StageSettings");
    let project = schema_keys("ProjectFile");
    assert!(
        stage.contains("cluster.storage.size_gib")
            && project.contains("topics[].overrides.<stage>.partitions"),
        "{stage:?} {project:?}"
    );
    let missing: Vec<&String> =
        stage.iter().chain(&project).filter(|k| !reference.contains(&format!("| `{k}` |"))).collect();
    assert!(missing.is_empty(), "docs/config-reference.md has no row for {missing:?}");
}

#[test]
fn every_rule_is_documented_and_every_documented_rule_exists() {
    let code = rules_in_code();
    let documented = rules_in_reference();
    assert!(code.len() > 40, "found the rules in the sources: {code:?}");
    let undocumented: Vec<_> = code.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(undocumented.is_empty(), "rules without a row in docs/config-reference.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/config-reference.md documents rules the code no longer has: {stale:?}");
}

#[test]
fn every_rule_has_its_cases_in_the_rule_tests() {
    // KP402 and KP403 cannot be reached from realistic declarations (see rules.rs).
    let unreachable = ["KP402", "KP403"];
    let tests = read("tests/rules.rs");
    let untested: Vec<_> = rules_in_code()
        .into_iter()
        .filter(|rule| !unreachable.contains(&rule.as_str()) && !tests.contains(&format!("\"{rule}\"")))
        .collect();
    assert!(untested.is_empty(), "rules without cases in tests/rules.rs: {untested:?}");
}

/// Dotted paths of every key below `schema` that names a `default`, with that default.
fn key_defaults(definitions: &Value, schema: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    let schema = resolve(definitions, schema);
    let Some(properties) = schema["properties"].as_object() else { return };
    for (key, value) in properties {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if let Some(default) = value.get("default") {
            out.insert(path.clone(), default.clone());
        }
        key_defaults(definitions, value, &path, out);
    }
}

/// Splits a table row on the `|` that are not escaped as `\|`.
fn cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in row.trim().trim_matches('|').chars() {
        if c == '|' && !escaped {
            cells.push(String::new());
        } else {
            cells.last_mut().unwrap().push(c);
        }
        escaped = c == '\\';
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

/// The first code span of a cell (`` `x` `` or ``` `` x `` ```), or the cell.
fn first_code_span(cell: &str) -> &str {
    for fence in ["``", "`"] {
        if let Some(rest) = cell.strip_prefix(fence)
            && let Some(end) = rest.find(fence)
        {
            return rest[..end].trim();
        }
    }
    cell
}

#[test]
fn every_default_in_the_schema_is_the_references_default() {
    let schema = kafka_platform_core::schema::declarations_schema();
    let definitions = &schema["definitions"];
    let mut defaults = BTreeMap::new();
    key_defaults(definitions, &definitions["StageSettings"], "", &mut defaults);
    assert!(
        defaults.contains_key("passwords.length")
            && defaults.contains_key("monitoring.thresholds.cpu_percent"),
        "the schema names the defaults: {defaults:?}"
    );
    let reference = reference();
    let documented: BTreeMap<String, String> = reference
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(cells)
        .filter(|cells| cells.len() >= 3)
        .map(|cells| (first_code_span(&cells[0]).to_string(), first_code_span(&cells[2]).to_string()))
        .collect();
    let wrong: Vec<String> = defaults
        .iter()
        .filter_map(|(key, default)| {
            let text = match default {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let doc = documented.get(key).map(String::as_str).unwrap_or("(no row)");
            (doc != text && doc != format!("\"{text}\""))
                .then(|| format!("{key}: schema {text}, reference {doc}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "docs/config-reference.md's default column disagrees with the schema: {wrong:#?}"
    );
}
