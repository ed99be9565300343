//! Schemas as code (KP216-KP218): every topic's key and value schema and the named schemas they
//! refer to parse and resolve offline, and become the stage's Schema Registry subjects, references
//! before the subjects that use them.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use apache_avro::Schema as AvroSchema;

use crate::config::load::MAX_FILE_BYTES;
use crate::config::project::*;
use crate::config::stage::StageName;
use crate::config::{Declarations, Declared};
use crate::diagnostics::{Finding, Findings};
use crate::model::{SchemaType, StageModel, Subject, SubjectReference};
use crate::span::{Location, Spanned, sibling};

/// Checks the schemas of the stage's topics and, when the stage runs a Schema Registry, puts
/// their subjects into the model. Missing or misplaced files are KP213 (validate::projects).
pub fn resolve_subjects(declarations: &Declarations, model: &mut StageModel, findings: &mut Findings) {
    let mut subjects: Vec<Subject> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let default = model.schema_registry.as_ref().map(|sr| sr.compatibility);
    // A set, not a scan of the topics per declaration: that was quadratic in topics.
    let kept: HashSet<Location> = model.topics.iter().map(|t| t.name.location.clone()).collect();
    for file in &declarations.projects {
        let project = file.value.project.value.as_str();
        for decl in &file.value.topics {
            // Only the declaration the model kept (a duplicate has its own finding).
            if (decl.schema.is_none() && decl.key_schema.is_none()) || !kept.contains(&decl.name.location) {
                continue;
            }
            check_stage_order(declarations, decl, model.stage, findings);
            let compatibility = decl.compatibility.as_ref().map(|c| c.value).or(default);
            for subject in topic_subjects(file, project, decl, compatibility, findings) {
                match seen.get(&subject.name) {
                    Some(&i) if subjects[i].schema == subject.schema => {}
                    Some(&i) => findings.push(
                        Finding::error(
                            "KP217",
                            &subject.location,
                            format!("subject `{}` is declared with two different schemas", subject.name),
                        )
                        .hint(format!("the other one is declared at {}", subjects[i].location)),
                    ),
                    None => {
                        seen.insert(subject.name.clone(), subjects.len());
                        subjects.push(subject);
                    }
                }
            }
        }
    }
    if let Some(sr) = model.schema_registry.as_mut() {
        sr.subjects = subjects;
    }
}

/// A schema file read and parsed: its type, text and (Avro) the full name it defines.
struct Parsed {
    schema_type: SchemaType,
    text: String,
    location: Location,
}

/// The subjects of one topic, references first. `compatibility` is None when the stage has no
/// registry (the schemas are still checked).
fn topic_subjects(
    file: &Declared<ProjectFile>,
    project: &str,
    decl: &TopicDecl,
    compatibility: Option<Compatibility>,
    findings: &mut Findings,
) -> Vec<Subject> {
    let topic = &decl.name.value;
    // References: read each, then parse them together (one may use another).
    let mut refs: Vec<(&SchemaReferenceDecl, String, Parsed)> = Vec::new();
    for r in &decl.schema_references {
        let Some(parsed) = read(file, &r.schema, findings) else { continue };
        let subject =
            r.subject.as_ref().map_or_else(|| format!("{project}.{}", r.name.value), |s| s.value.clone());
        if !subject.starts_with(&format!("{project}.")) {
            let at = r.subject.as_ref().map_or(&r.name.location, |s| &s.location);
            findings.push(
                Finding::error(
                    "KP217",
                    at,
                    format!("reference subject `{subject}` is outside project {project}"),
                )
                .hint(format!("subjects of project {project} start with `{project}.`")),
            );
        }
        refs.push((r, subject, parsed));
    }
    let avro_refs: Vec<&str> = refs
        .iter()
        .filter(|(_, _, p)| p.schema_type == SchemaType::Avro)
        .map(|(_, _, p)| p.text.as_str())
        .collect();
    if !avro_refs.is_empty() {
        check_avro_references(&refs, &avro_refs, findings);
    }

    let mut out = Vec::new();
    let Some(compatibility) = compatibility else {
        // No registry in this stage: parse only.
        for schema in [&decl.key_schema, &decl.schema].into_iter().flatten() {
            if let Some(parsed) = read(file, schema, findings) {
                parse(&parsed, schema, &avro_refs, findings);
            }
        }
        return out;
    };
    // References in dependency order: one that another uses comes first.
    let mut done: BTreeSet<usize> = BTreeSet::new();
    while done.len() < refs.len() {
        let before = done.len();
        for (i, (r, subject, parsed)) in refs.iter().enumerate() {
            if done.contains(&i) {
                continue;
            }
            let uses = used_references(&parsed.text, &refs, Some(i));
            if uses.iter().all(|j| done.contains(j)) {
                out.push(Subject {
                    name: subject.clone(),
                    project: project.to_string(),
                    schema_type: parsed.schema_type,
                    schema: parsed.text.clone(),
                    references: reference_list(&uses, &refs),
                    compatibility,
                    location: r.name.location.clone(),
                });
                done.insert(i);
            }
        }
        if done.len() == before {
            let r = refs.iter().enumerate().find(|(i, _)| !done.contains(i)).map(|(_, r)| r.0);
            if let Some(r) = r {
                findings.push(Finding::error(
                    "KP217",
                    &r.name.location,
                    format!("schema references of topic `{topic}` refer to each other in a cycle"),
                ));
            }
            return out;
        }
    }

    let naming = decl.subject_naming.as_ref().map_or(SubjectNaming::TopicName, |n| n.value);
    for (schema, suffix) in [(&decl.key_schema, "key"), (&decl.schema, "value")] {
        let Some(schema) = schema else { continue };
        let Some(parsed) = read(file, schema, findings) else { continue };
        let Some(record) = parse(&parsed, schema, &avro_refs, findings) else { continue };
        let name = match naming {
            SubjectNaming::TopicName => format!("{topic}-{suffix}"),
            SubjectNaming::TopicRecordName => match record {
                Some(full_name) => format!("{topic}-{full_name}"),
                None => {
                    findings.push(
                        Finding::error(
                            "KP216",
                            &schema.location,
                            format!(
                                "subject_naming topic_record_name needs an Avro record schema: {}",
                                schema.value
                            ),
                        )
                        .hint("use subject_naming: topic_name"),
                    );
                    continue;
                }
            },
        };
        let uses = used_references(&parsed.text, &refs, None);
        out.push(Subject {
            name,
            project: project.to_string(),
            schema_type: parsed.schema_type,
            schema: parsed.text,
            references: reference_list(&uses, &refs),
            compatibility,
            location: schema.location.clone(),
        });
    }
    out
}

/// Reads a schema file (its existence is KP213's); None when it cannot be used.
fn read(file: &Declared<ProjectFile>, schema: &Spanned<String>, findings: &mut Findings) -> Option<Parsed> {
    let inside = Path::new(&schema.value)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    let path = sibling(&file.path, &schema.value);
    if !inside || !path.symlink_metadata().is_ok_and(|m| m.is_file()) {
        return None; // KP213 (or, for a reference, below)
    }
    let schema_type = match path.extension().and_then(|e| e.to_str()) {
        Some("avsc") => SchemaType::Avro,
        Some("json") => SchemaType::Json,
        Some("proto") => SchemaType::Protobuf,
        _ => {
            findings.push(
                Finding::error(
                    "KP216",
                    &schema.location,
                    format!("schema file {} has an unknown type", schema.value),
                )
                .hint("name it .avsc (Avro), .json (JSON Schema) or .proto (Protobuf)"),
            );
            return None;
        }
    };
    let too_big = path.metadata().map(|m| m.len() > MAX_FILE_BYTES).unwrap_or(true);
    let text = if too_big { None } else { std::fs::read_to_string(&path).ok() };
    let Some(text) = text else {
        findings.push(Finding::error(
            "KP216",
            &schema.location,
            format!(
                "schema file {} cannot be read as UTF-8 text of at most {MAX_FILE_BYTES} bytes",
                schema.value
            ),
        ));
        return None;
    };
    Some(Parsed { schema_type, text, location: schema.location.clone() })
}

/// Parses a key or value schema with the topic's Avro references. Some(full name of an Avro
/// record or None) when it parses.
fn parse(
    parsed: &Parsed,
    declared: &Spanned<String>,
    avro_refs: &[&str],
    findings: &mut Findings,
) -> Option<Option<String>> {
    let file = &declared.value;
    match parsed.schema_type {
        SchemaType::Avro => match AvroSchema::parse_str_with_list(&parsed.text, avro_refs.iter().copied()) {
            Ok((schema, _)) => Some(match &schema {
                AvroSchema::Record(r) => Some(r.name.fullname(None)),
                _ => None,
            }),
            Err(e) => {
                findings.push(avro_finding(&parsed.location, file, &e.to_string()));
                None
            }
        },
        SchemaType::Json => match serde_json::from_str::<serde_json::Value>(&parsed.text) {
            Ok(v) if v.is_object() || v.is_boolean() => Some(None),
            Ok(_) => {
                findings.push(Finding::error(
                    "KP216",
                    &parsed.location,
                    format!("JSON Schema {file} is neither an object nor a boolean"),
                ));
                None
            }
            Err(e) => {
                findings.push(Finding::error(
                    "KP216",
                    &parsed.location,
                    format!("JSON Schema {file} does not parse: {e}"),
                ));
                None
            }
        },
        // Protobuf is checked by the registry only (no maintained parser offline).
        SchemaType::Protobuf => Some(None),
    }
}

/// A name that does not resolve is a reference problem (KP217); anything else is the file's (KP216).
fn avro_finding(location: &Location, file: &str, error: &str) -> Finding {
    let first_line = error.lines().next().unwrap_or(error);
    if let Some(name) = unresolved_name(error) {
        Finding::error(
            "KP217",
            location,
            format!(
                "Avro schema {file} uses `{name}`, which it does not define and no schema reference declares"
            ),
        )
        .hint("declare it under the topic's schema_references (name, schema file)")
    } else {
        Finding::error("KP216", location, format!("Avro schema {file} does not parse: {first_line}"))
    }
}

/// apache-avro reports an unknown name as an unknown primitive type.
fn unresolved_name(error: &str) -> Option<String> {
    let lower = error.to_ascii_lowercase();
    if !lower.contains("primitive") {
        return None;
    }
    let start = error.rfind(':')? + 1;
    Some(error[start..].trim().trim_matches('"').to_string()).filter(|n| !n.is_empty())
}

/// Each Avro reference parses and defines the name it is declared under.
fn check_avro_references(
    refs: &[(&SchemaReferenceDecl, String, Parsed)],
    all: &[&str],
    findings: &mut Findings,
) {
    for (r, _, parsed) in refs.iter().filter(|(_, _, p)| p.schema_type == SchemaType::Avro) {
        let others: Vec<&str> = all.iter().copied().filter(|t| *t != parsed.text).collect();
        match AvroSchema::parse_str_with_list(&parsed.text, others) {
            Ok((schema, _)) => {
                let defined = schema.name().map(|n| n.fullname(None));
                if defined.as_deref() != Some(r.name.value.as_str()) {
                    findings.push(
                        Finding::error(
                            "KP217",
                            &r.name.location,
                            format!(
                                "schema reference `{}`: {} defines {}",
                                r.name.value,
                                r.schema.value,
                                defined.map_or("no named type".to_string(), |d| format!("`{d}`"))
                            ),
                        )
                        .hint("the name is the full name (namespace.name) of the record, enum or fixed in the file"),
                    );
                }
            }
            Err(e) => findings.push(avro_finding(&r.schema.location, &r.schema.value, &e.to_string())),
        }
    }
}

/// Indices of the references whose name (full, or short) the text mentions as a JSON string.
fn used_references(
    text: &str,
    refs: &[(&SchemaReferenceDecl, String, Parsed)],
    except: Option<usize>,
) -> Vec<usize> {
    refs.iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .filter(|(_, (r, _, _))| {
            let full = &r.name.value;
            let short = full.rsplit('.').next().unwrap_or(full);
            text.contains(&format!("\"{full}\"")) || text.contains(&format!("\"{short}\""))
        })
        .map(|(i, _)| i)
        .collect()
}

fn reference_list(uses: &[usize], refs: &[(&SchemaReferenceDecl, String, Parsed)]) -> Vec<SubjectReference> {
    uses.iter()
        .map(|&i| SubjectReference { name: refs[i].0.name.value.clone(), subject: refs[i].1.clone() })
        .collect()
}

/// KP218: a topic's schemas are checked by a registry in every stage below before they reach a
/// higher one: a stage that registers them needs a registry in each lower stage (with a stage
/// file) the topic is in.
fn check_stage_order(
    declarations: &Declarations,
    decl: &TopicDecl,
    stage: StageName,
    findings: &mut Findings,
) {
    if !registry_enabled(declarations, stage) {
        return;
    }
    let present = |s: StageName| decl.stages.as_ref().is_none_or(|l| l.value.iter().any(|x| x.value == s));
    for lower in StageName::ALL
        .into_iter()
        .filter(|l| *l < stage && present(*l) && declarations.stages.contains_key(l))
    {
        if !registry_enabled(declarations, lower) {
            let at = decl
                .schema
                .as_ref()
                .or(decl.key_schema.as_ref())
                .map_or(&decl.name.location, |s| &s.location);
            findings.push(
                Finding::error(
                    "KP218",
                    at,
                    format!(
                        "schemas of topic `{}` are registered in {stage} but {lower} has no Schema Registry to check them first",
                        decl.name.value
                    ),
                )
                .hint(format!("enable schema_registry in {lower}")),
            );
        }
    }
}

/// The stage file's `schema_registry.enabled`, else the defaults'.
fn registry_enabled(declarations: &Declarations, stage: StageName) -> bool {
    let of = |s: Option<&crate::config::stage::StageSettings>| {
        s.and_then(|s| s.schema_registry.as_ref()).and_then(|sr| sr.enabled.as_ref()).map(|e| e.value)
    };
    of(declarations.stages.get(&stage).map(|d| &d.value))
        .or_else(|| of(declarations.defaults.as_ref().map(|d| &d.value)))
        .unwrap_or(false)
}
