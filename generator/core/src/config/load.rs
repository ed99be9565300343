//! Reading the declaration files of an environments directory.
//!
//! Layout: `defaults.yaml` (optional), `stages/<stage>.yaml`, `projects/<project>.yaml`.
//! A file that does not parse yields one finding (serde stops at the first error in a file);
//! every other file is still read, so one run reports the problems of all files.
//!
//! Declarations arrive as pull requests, so nothing here trusts them: only regular files (no
//! symlinks, FIFOs or devices) of at most [`MAX_FILE_BYTES`] are read, through a bounded reader,
//! and the YAML parser runs with tight budgets and refuses unknown tags.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::project::ProjectFile;
use crate::config::stage::{StageName, StageSettings};
use crate::diagnostics::{Finding, Findings};
use crate::span::{Location, with_current_file};

/// Everything declared in one environments directory.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    /// The environments directory.
    pub root: PathBuf,
    /// Shared defaults under every stage.
    pub defaults: Option<Declared<StageSettings>>,
    /// Stage files by stage.
    pub stages: BTreeMap<StageName, Declared<StageSettings>>,
    /// Project files, sorted by path.
    pub projects: Vec<Declared<ProjectFile>>,
    /// Files that could not be read or parsed (each has its finding); checks of the other files
    /// use it to stay quiet about references into them.
    pub unparsed: Vec<PathBuf>,
}

/// The largest declaration file read (1 MiB): far above any real one, small enough that a
/// hostile file cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

impl Declarations {
    /// Whether the project named `name` has a file that did not parse.
    pub fn project_unparsed(&self, name: &str) -> bool {
        self.unparsed
            .iter()
            .any(|p| p.parent().is_some_and(|d| d.ends_with("projects")) && file_stem(p) == name)
    }
}

/// A parsed file with its path.
#[derive(Debug, Clone)]
pub struct Declared<T> {
    pub path: PathBuf,
    pub value: T,
}

/// Reads and parses every declaration file under `root`.
pub fn load(root: &Path) -> (Declarations, Findings) {
    let mut findings = Findings::default();
    let mut declarations = Declarations { root: root.to_path_buf(), ..Default::default() };

    if !root.is_dir() {
        findings.push(
            Finding::error(
                "KP000",
                &Location::default(),
                format!("environments directory {} not found", root.display()),
            )
            .hint("run from the repository root or pass --environments DIR"),
        );
        return (declarations, findings);
    }

    let defaults_path = root.join("defaults.yaml");
    if defaults_path.symlink_metadata().is_ok() {
        declarations.defaults = parse_file(&defaults_path, &mut findings);
        if declarations.defaults.is_none() {
            declarations.unparsed.push(defaults_path);
        }
    }

    for path in yaml_files(&root.join("stages"), &mut findings) {
        let stem = file_stem(&path);
        let Some(stage) = StageName::parse(&stem) else {
            findings.push(
                Finding::error("KP003", &Location::file_start(&path), format!("`{stem}` is not a stage"))
                    .hint("stage files are named dev.yaml, test.yaml, acc.yaml or prod.yaml"),
            );
            continue;
        };
        if let Some(first) = declarations.stages.get(&stage) {
            // dev.yaml next to dev.yml: one of them would be ignored without a word.
            findings.push(
                Finding::error(
                    "KP003",
                    &Location::file_start(&path),
                    format!("a second file for stage `{stage}`"),
                )
                .hint(format!("merge it into {}", first.path.display())),
            );
            continue;
        }
        match parse_file::<StageSettings>(&path, &mut findings) {
            Some(settings) => {
                declarations.stages.insert(stage, settings);
            }
            None => declarations.unparsed.push(path),
        }
    }

    for path in yaml_files(&root.join("projects"), &mut findings) {
        match parse_file::<ProjectFile>(&path, &mut findings) {
            Some(project) => declarations.projects.push(project),
            None => declarations.unparsed.push(path),
        }
    }
    (declarations, findings)
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The `.yaml`/`.yml` files of a directory, sorted so that output is stable. A symlinked
/// directory is refused: it could list files from anywhere.
fn yaml_files(dir: &Path, findings: &mut Findings) -> Vec<PathBuf> {
    if dir.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        findings.push(
            Finding::error("KP004", &Location::file_start(dir), "is a symbolic link; not read")
                .hint("only regular files and folders inside the environments directory are read"),
        );
        return Vec::new();
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            findings.push(
                Finding::error(
                    "KP000",
                    &Location::default(),
                    format!("cannot read {}: {err}", dir.display()),
                )
                .hint("the environments directory needs stages/ and projects/ folders"),
            );
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}

/// Parses one YAML file into `T`, turning a failure into a located finding.
pub fn parse_file<T: serde::de::DeserializeOwned>(
    path: &Path,
    findings: &mut Findings,
) -> Option<Declared<T>> {
    let text = match read_declaration(path) {
        Ok(text) => text,
        Err(finding) => {
            findings.push(*finding);
            return None;
        }
    };
    match parse_str(path, &text) {
        Ok(value) => Some(Declared { path: path.to_path_buf(), value }),
        Err(finding) => {
            findings.push(*finding);
            None
        }
    }
}

/// Reads a declaration file: a regular file (not a symlink, FIFO, device or folder) of at most
/// [`MAX_FILE_BYTES`], as UTF-8. A refusal names the path and never a byte of the file.
pub fn read_declaration(path: &Path) -> Result<String, Box<Finding>> {
    let at_start = Location::file_start(path);
    let refuse =
        |message: String, hint: &str| Box::new(Finding::error("KP004", &at_start, message).hint(hint));
    let cannot_read = |err: std::io::Error| {
        Box::new(Finding::error("KP000", &at_start, format!("cannot read file: {}", err.kind())))
    };
    // symlink_metadata does not follow a link, so a link to /proc/self/environ is never opened.
    let before = path.symlink_metadata().map_err(cannot_read)?;
    let kind = before.file_type();
    if kind.is_symlink() {
        return Err(refuse(
            "is a symbolic link; not read".into(),
            "commit the file itself: only regular files inside the environments directory are read",
        ));
    }
    if !kind.is_file() {
        return Err(refuse(
            format!("is not a regular file ({}); not read", file_kind(&kind)),
            "declarations are regular YAML files",
        ));
    }
    if before.len() > MAX_FILE_BYTES {
        return Err(refuse(
            format!("is {} bytes; declaration files are at most {MAX_FILE_BYTES} bytes", before.len()),
            "split the project, or remove what does not belong in a declaration",
        ));
    }
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    // The file may have been swapped between the check and the open: check what was opened.
    let opened = file.metadata().map_err(cannot_read)?;
    if !opened.is_file() || !same_file(&before, &opened) {
        return Err(refuse("changed while being read; not read".into(), "run again"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(refuse(
            format!("is larger than {MAX_FILE_BYTES} bytes; not read"),
            "declaration files are small YAML files",
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
        Box::new(
            Finding::error("KP001", &Location::at(path, line, column), "the file is not valid UTF-8")
                .hint("save the file as UTF-8"),
        )
    })
}

fn file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a file"
    }
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// The parser's limits: far above any real declaration, far below what exhausts a machine
/// (alias bombs, deep nesting); unknown tags (`!!python/object:...`) are errors.
fn parse_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.reject_unsupported_tags = true;
    options.alias_limits.max_total_replayed_events = 10_000;
    options.alias_limits.max_replay_stack_depth = 16;
    if let Some(budget) = options.budget.as_mut() {
        budget.max_depth = 32;
        budget.max_aliases = 1_000;
        budget.max_anchors = 1_000;
        budget.max_nodes = 100_000;
        budget.max_events = 200_000;
        budget.max_documents = 1;
        budget.max_total_scalar_bytes = MAX_FILE_BYTES as usize;
        budget.max_recorded_anchor_events = 10_000;
    }
    options
}

/// Parses YAML text that came from `path`.
pub fn parse_str<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Box<Finding>> {
    with_current_file(path, || serde_saphyr::from_str_with_options::<T>(text, parse_options()))
        .map_err(|err| Box::new(parse_error(path, &err)))
}

fn parse_error(path: &Path, err: &serde_saphyr::Error) -> Finding {
    let location = err
        .location()
        .map(|l| Location::at(path, l.line(), l.column()))
        .unwrap_or_else(|| Location::file_start(path));
    let message = err.without_snippet().to_string();
    let message = message.lines().next().unwrap_or("invalid YAML").trim().to_string();
    if let Some((unknown, expected)) = unknown_field(&message) {
        let mut finding = Finding::error("KP002", &location, format!("unknown key `{unknown}`"));
        finding = match did_you_mean(&unknown, &expected) {
            Some(best) => finding.hint(format!("did you mean `{best}`?")),
            None => finding.hint(format!("allowed keys here: {}", expected.join(", "))),
        };
        return finding;
    }
    if let Some((unknown, expected)) = unknown_variant(&message) {
        let finding = Finding::error("KP001", &location, format!("unknown value `{unknown}`"));
        return match did_you_mean(&unknown, &expected) {
            Some(best) => finding.hint(format!("did you mean `{best}`? allowed: {}", expected.join(", "))),
            None => finding.hint(format!("allowed values: {}", expected.join(", "))),
        };
    }
    Finding::error("KP001", &location, message)
        .hint("check YAML syntax and the value's type against environments/schema.json")
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" message.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    split_serde_message(message, "unknown field `")
}

/// Splits serde's "unknown variant `x`, expected one of `a`, `b`" message.
fn unknown_variant(message: &str) -> Option<(String, Vec<String>)> {
    split_serde_message(message, "unknown variant `")
}

fn split_serde_message(message: &str, marker: &str) -> Option<(String, Vec<String>)> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let end = rest.find('`')?;
    let unknown = rest[..end].to_string();
    let rest = &rest[end..];
    let list = rest
        .find("expected one of ")
        .map(|i| &rest[i + 16..])
        .or_else(|| rest.find("expected ").map(|i| &rest[i + 9..]))?;
    let list = list.split(" at line ").next().unwrap_or(list);
    let expected = list
        .split([',', ' '])
        .map(|item| item.trim().trim_matches('`').to_string())
        .filter(|item| !item.is_empty() && item != "or")
        .collect();
    Some((unknown, expected))
}

/// The closest allowed name, if it is close enough to be a likely typo.
pub fn did_you_mean(input: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::project::ProjectFile;

    #[test]
    fn unknown_key_is_located_and_gets_a_suggestion() {
        let yaml = "project: contracts\ntopics:\n  - name: contracts.a.v1\n    partitons: 3\n";
        let finding = parse_str::<ProjectFile>(Path::new("p.yaml"), yaml).unwrap_err();
        assert_eq!(finding.rule, "KP002");
        assert_eq!((finding.location.line, finding.location.column), (4, 5));
        assert_eq!(finding.hint.as_deref(), Some("did you mean `partitions`?"));
    }

    #[test]
    fn wrong_type_is_located() {
        let yaml = "project: contracts\ntopics:\n  - name: contracts.a.v1\n    partitions: many\n";
        let finding = parse_str::<ProjectFile>(Path::new("p.yaml"), yaml).unwrap_err();
        assert_eq!(finding.rule, "KP001");
        assert_eq!(finding.location.line, 4);
    }

    #[test]
    fn unknown_enum_value_lists_allowed_values() {
        let yaml = "project: c\nservice_accounts:\n  - name: c-x\n    authentication: scarm\n";
        let finding = parse_str::<ProjectFile>(Path::new("p.yaml"), yaml).unwrap_err();
        assert_eq!(finding.rule, "KP001");
        assert!(finding.hint.unwrap().contains("did you mean `scram`"));
    }

    #[test]
    fn spans_carry_the_file() {
        let yaml = "project: contracts\n";
        let project = parse_str::<ProjectFile>(Path::new("x/contracts.yaml"), yaml).unwrap();
        assert_eq!(project.project.location.to_string(), "x/contracts.yaml:1:10");
    }

    #[test]
    fn broken_yaml_syntax_is_reported() {
        let yaml = "project: [contracts\n";
        let finding = parse_str::<ProjectFile>(Path::new("p.yaml"), yaml).unwrap_err();
        assert_eq!(finding.rule, "KP001");
        assert!(finding.location.line >= 1);
    }
}
