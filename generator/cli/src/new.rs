//! `gen new project` and `gen new topic`: write declarations that validate. Nothing is written
//! unless the result validates in every stage; an existing file is never overwritten (a topic is
//! added to its project's file line by line, the other lines untouched).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kafka_platform_core::config::load::read_declaration;
use kafka_platform_core::config::project::DataClassification;
use kafka_platform_core::scaffold::{self, NewProject, NewTopic};
use kafka_platform_core::{Finding, Severity};

/// Arguments of `gen new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    #[command(subcommand)]
    pub what: NewCommand,
}

/// What `gen new` writes.
#[derive(Debug, clap::Subcommand)]
pub enum NewCommand {
    /// Write projects/NAME.yaml with the required metadata (owner, classification) filled in.
    Project(ProjectArgs),
    /// Add a topic to projects/PROJECT.yaml (and with --schema an Avro stub under projects/schemas/).
    Topic(TopicArgs),
}

/// Arguments of `gen new project`.
#[derive(Debug, clap::Args)]
pub struct ProjectArgs {
    /// Project name (the naming convention's project_pattern; it prefixes topics and accounts).
    pub name: String,
    /// What the project is for.
    #[arg(long)]
    pub description: String,
    /// Owning team.
    #[arg(long)]
    pub team: String,
    /// The team's e-mail address.
    #[arg(long)]
    pub email: String,
    /// Chat channel for incidents.
    #[arg(long)]
    pub channel: Option<String>,
    /// Data classification of the project's topics: public, internal, confidential or restricted.
    #[arg(long, value_parser = parse_classification)]
    pub classification: DataClassification,
}

/// Arguments of `gen new topic`.
#[derive(Debug, clap::Args)]
pub struct TopicArgs {
    /// The project the topic belongs to (projects/PROJECT.yaml must exist).
    pub project: String,
    /// Topic name, in full (`billing.refund-issued.v1`) or without the project prefix.
    pub name: String,
    /// What the topic carries.
    #[arg(long)]
    pub description: String,
    /// Partitions (default: each stage's topic_policy.default_partitions); a stage whose maximum
    /// is lower gets an override with its maximum.
    #[arg(long)]
    pub partitions: Option<u32>,
    /// retention.ms (default: Kafka's, 7 days); a stage whose maximum is lower gets an override
    /// with its maximum.
    #[arg(long)]
    pub retention_ms: Option<i64>,
    /// Also write an Avro record stub, projects/schemas/<topic>.avsc, and reference it.
    #[arg(long)]
    pub schema: bool,
}

fn parse_classification(s: &str) -> Result<DataClassification, String> {
    use DataClassification::*;
    [Public, Internal, Confidential, Restricted]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| format!("`{s}` is not a classification (public, internal, confidential, restricted)"))
}

/// Runs `gen new`.
pub fn run(environments: &Path, args: &NewArgs) -> ExitCode {
    let result = match &args.what {
        NewCommand::Project(a) => new_project(environments, a),
        NewCommand::Topic(a) => new_topic(environments, a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A name that becomes part of a file name: no separators, no leading dot, nothing to escape.
fn safe_file_part(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!("{what} `{name}` may contain only ASCII letters, digits, '-', '_' and '.' (not first)"))
    }
}

fn projects_dir(environments: &Path) -> Result<PathBuf, String> {
    let dir = environments.join("projects");
    match dir.symlink_metadata() {
        Ok(m) if m.is_dir() => Ok(dir),
        _ => Err(format!(
            "{} is not a folder (run from the repository root or pass --environments)",
            dir.display()
        )),
    }
}

fn new_project(environments: &Path, a: &ProjectArgs) -> Result<(), String> {
    safe_file_part("project name", &a.name)?;
    let dir = projects_dir(environments)?;
    if let Some(existing) = scaffold::project_file(environments, &a.name) {
        return Err(format!("{} already exists; not overwritten", existing.display()));
    }
    let path = dir.join(format!("{}.yaml", a.name));
    let text = scaffold::project_text(&NewProject {
        name: a.name.clone(),
        description: a.description.clone(),
        team: a.team.clone(),
        email: a.email.clone(),
        channel: a.channel.clone(),
        classification: a.classification,
    });
    let (declarations, _) = kafka_platform_core::config::load(environments);
    check(&scaffold::check_candidate(&declarations, &path, &text))?;
    write_new(&path, &text)?;
    println!("wrote {}", path.display());
    println!(
        "next: gen new topic {} NAME --description \"...\", then gen validate and gen render --all",
        a.name
    );
    Ok(())
}

fn new_topic(environments: &Path, a: &TopicArgs) -> Result<(), String> {
    safe_file_part("project name", &a.project)?;
    let dir = projects_dir(environments)?;
    let name = scaffold::topic_name(&a.project, &a.name);
    safe_file_part("topic name", &name)?;
    let path = scaffold::project_file(environments, &a.project).ok_or_else(|| {
        format!(
            "no project file {} (create it with `gen new project {}`)",
            dir.join(format!("{}.yaml", a.project)).display(),
            a.project
        )
    })?;
    // The stages' limits come from the declarations as they are: they must validate first.
    let (models, findings) = kafka_platform_core::load_and_resolve(environments, &[]);
    if findings.iter().any(Finding::is_error) {
        print(&findings);
        return Err("the declarations have errors already; fix them first (gen validate)".into());
    }
    let before = read_declaration(&path).map_err(|f| format!("{}: {}", f.location, f.message))?;
    let schema = a.schema.then(|| scaffold::schema_path(&name));
    let topic = NewTopic {
        name: name.clone(),
        description: a.description.clone(),
        partitions: a.partitions,
        retention_ms: a.retention_ms,
        schema: schema.clone(),
    };
    let after = scaffold::insert_topic(&before, &topic, &scaffold::stage_limits(&models))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // The text edit must have added exactly this topic, after the ones there were.
    let names =
        |text: &str| scaffold::topic_names(&path, text).map_err(|f| format!("{}: {}", f.location, f.message));
    let mut expected = names(&before)?;
    if expected.contains(&name) {
        return Err(format!("topic `{name}` is already declared in {}", path.display()));
    }
    expected.push(name.clone());
    if names(&after)? != expected {
        return Err(format!("could not add the topic to {} safely; add it by hand", path.display()));
    }

    // The schema check (KP213) looks for the file, so the stub is written first and removed
    // again when the result does not validate.
    let stub = match &schema {
        Some(relative) => {
            let stub = path.parent().unwrap_or(&dir).join(relative);
            if stub.symlink_metadata().is_ok() {
                return Err(format!("{} already exists; not overwritten", stub.display()));
            }
            let folder = stub.parent().unwrap_or(&dir);
            fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
            write_new(&stub, &scaffold::avro_stub(&a.project, &name, &a.description))?;
            Some(stub)
        }
        None => None,
    };
    let (declarations, _) = kafka_platform_core::config::load(environments);
    let outcome = check(&scaffold::check_candidate(&declarations, &path, &after))
        .and_then(|()| replace(&path, &before, &after));
    if let Err(message) = outcome {
        if let Some(stub) = &stub {
            let _ = fs::remove_file(stub);
        }
        return Err(message);
    }
    println!("added topic {name} to {}", path.display());
    if let Some(stub) = &stub {
        println!("wrote {} (an Avro record stub: fill in its fields)", stub.display());
    }
    println!("next: gen validate and gen render --all");
    Ok(())
}

/// Prints findings (without source lines: the text they point into is not on disk).
fn print(findings: &[Finding]) {
    for f in findings {
        let severity = if f.severity == Severity::Error { "error" } else { "warning" };
        eprintln!("{severity}[{}]: {}\n  --> {}", f.rule, f.message, f.location);
        if let Some(hint) = &f.hint {
            eprintln!("  = hint: {hint}");
        }
    }
}

fn check(findings: &[Finding]) -> Result<(), String> {
    print(findings);
    if findings.iter().any(Finding::is_error) {
        Err("the result would not validate; nothing written".into())
    } else {
        Ok(())
    }
}

/// A temporary file next to `path`, not ending in .yaml, so the loader never reads it.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.gen-new-{}.tmp", std::process::id()))
}

fn write_temp(path: &Path, text: &str) -> Result<PathBuf, String> {
    let tmp = temp_path(path);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", tmp.display())
    })?;
    Ok(tmp)
}

/// Writes a new file: temp file, then a hard link to the name, which (unlike a rename) fails
/// when a file of that name appeared in the meantime.
fn write_new(path: &Path, text: &str) -> Result<(), String> {
    let tmp = write_temp(path, text)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists; not overwritten", path.display()),
        _ => format!("cannot write {}: {e}", path.display()),
    })
}

/// Replaces `path` (which held `before` when it was read) with `after`: temp file, then rename.
fn replace(path: &Path, before: &str, after: &str) -> Result<(), String> {
    let tmp = write_temp(path, after)?;
    let result = (|| {
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&tmp, meta.permissions()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        }
        if read_declaration(path).ok().as_deref() != Some(before) {
            return Err(format!("{} changed while gen new ran; nothing written, run again", path.display()));
        }
        fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
