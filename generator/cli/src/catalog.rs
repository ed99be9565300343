//! `gen catalog`: the AsyncAPI documents and the static HTML catalog of the declared stages,
//! written into one directory that is replaced as a whole.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kafka_platform_core::StageName;
use kafka_platform_core::catalog::{self, MARKER_FILE, SchemaDoc, Schemas, StageCatalog};
use kafka_platform_core::model::StageModel;
use kafka_platform_core::span::sibling;

use crate::diagnostics::{FindingFormat, print_findings};
use crate::validate::parse_stage;

/// Schema files above this size are refused, like declaration files.
const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

/// Arguments of `gen catalog`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Writes DIR/index.html, DIR/assets/ and per stage DIR/<stage>/asyncapi.json, \
asyncapi.yaml, index.html (search, tables, picture), projects/<project>.html and topics/<topic>.html. \
DIR is replaced as a whole, and only if it is absent, empty or an earlier catalog; the output is the \
same for the same declarations. Open DIR/index.html in a browser: no network is needed.")]
pub struct CatalogArgs {
    /// Stages to catalogue (dev, test, acc, prod); every declared stage when none is given.
    #[arg(value_parser = parse_stage)]
    pub stages: Vec<StageName>,
    /// Output directory (replaced as a whole).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Validates, reads the declared schemas and writes the catalog.
pub fn run(environments: &Path, args: &CatalogArgs) -> ExitCode {
    let (models, findings) = kafka_platform_core::load_and_resolve(environments, &args.stages);
    if findings.iter().any(|f| f.is_error()) {
        print_findings(&findings, FindingFormat::Text);
        eprintln!("nothing written: fix the errors above first");
        return ExitCode::FAILURE;
    }
    if !findings.is_empty() {
        print_findings(&findings, FindingFormat::Text);
    }
    let mut errors = Vec::new();
    let schemas: BTreeMap<StageName, Schemas> =
        models.iter().map(|(stage, model)| (*stage, read_schemas(model, &mut errors))).collect();
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        for e in &errors {
            eprintln!("error: {e}");
        }
        eprintln!("nothing written: fix the errors above first");
        return ExitCode::FAILURE;
    }
    let stages: Vec<StageCatalog<'_>> =
        models.iter().map(|(stage, model)| StageCatalog { model, schemas: &schemas[stage] }).collect();
    let files = catalog::render(&stages);
    if let Err(err) = replace_dir(&args.out, &files) {
        eprintln!("error: writing {0}: {err}\nnothing written: {0} is as it was", args.out.display());
        return ExitCode::FAILURE;
    }
    let names: Vec<&str> = models.keys().map(|s| s.as_str()).collect();
    eprintln!("catalog of {} written to {} ({} files)", names.join(", "), args.out.display(), files.len());
    ExitCode::SUCCESS
}

/// Reads every schema a stage's topics declare (relative to the topic's project file).
fn read_schemas(model: &StageModel, errors: &mut Vec<String>) -> Schemas {
    let mut out = Schemas::new();
    for topic in &model.topics {
        for (role, declared) in catalog::declared_schemas(topic) {
            let Some(project_file) = declared.location.file.as_deref() else { continue };
            let path = sibling(project_file, &declared.value);
            match read_bounded(&path).and_then(|text| SchemaDoc::parse(&declared.value, &text)) {
                Ok(doc) => {
                    out.entry(topic.name.value.clone()).or_default().insert(role, doc);
                }
                Err(e) => errors.push(format!("{}: topic `{}`: {e}", declared.location, topic.name.value)),
            }
        }
    }
    out
}

/// A regular file (no symlink) of at most 1 MiB, as UTF-8.
fn read_bounded(path: &Path) -> Result<String, String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.len() > MAX_SCHEMA_BYTES {
        return Err(format!("{} is larger than 1 MiB", path.display()));
    }
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_SCHEMA_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {} as UTF-8 text: {}", path.display(), e.kind()))?;
    Ok(text)
}

/// Writes `files` into a sibling directory, then swaps it in for `out`; the old catalog goes only
/// after the new one is in place. A directory that is not an earlier catalog is never replaced.
fn replace_dir(out: &Path, files: &BTreeMap<String, String>) -> std::io::Result<()> {
    let existing = match fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => true,
        Ok(_) => return Err(other(format!("{} exists and is not a directory", out.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if existing && !out.join(MARKER_FILE).is_file() && fs::read_dir(out)?.next().is_some() {
        return Err(other(format!(
            "{} is not empty and holds no {MARKER_FILE}: not a catalog, refusing to replace it",
            out.display()
        )));
    }
    let staging = sibling_dir(out, "tmp");
    let backup = sibling_dir(out, "old");
    let _ = fs::remove_dir_all(&staging);
    if let Err(err) = write_all(&staging, files) {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    if existing {
        let _ = fs::remove_dir_all(&backup);
        if let Err(err) = fs::rename(out, &backup) {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
    }
    if let Err(err) = fs::rename(&staging, out) {
        if existing {
            let _ = fs::rename(&backup, out);
        }
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    if existing {
        let _ = fs::remove_dir_all(&backup);
    }
    Ok(())
}

fn other(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

fn write_all(dir: &Path, files: &BTreeMap<String, String>) -> std::io::Result<()> {
    for (name, content) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut f = fs::File::create(&path)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
    }
    Ok(())
}

/// `.<name>.<what>-<pid>` next to `dir`.
fn sibling_dir(dir: &Path, what: &str) -> PathBuf {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "catalog".into());
    parent.join(format!(".{name}.{what}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gen-catalog-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn an_earlier_catalog_is_replaced_whole() {
        let root = temp("replace");
        let out = root.join("catalog");
        replace_dir(&out, &files(&[(MARKER_FILE, "x"), ("dev/old.html", "old")])).unwrap();
        replace_dir(&out, &files(&[(MARKER_FILE, "x"), ("dev/index.html", "new")])).unwrap();
        assert_eq!(fs::read_to_string(out.join("dev/index.html")).unwrap(), "new");
        assert!(!out.join("dev/old.html").exists(), "files no longer rendered disappear");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1, "no staging or backup left behind");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_directory_that_is_not_a_catalog_is_left_alone() {
        let root = temp("foreign");
        fs::write(root.join("precious.txt"), "keep").unwrap();
        let err = replace_dir(&root, &files(&[(MARKER_FILE, "x")])).unwrap_err().to_string();
        assert!(err.contains("not a catalog"), "{err}");
        assert_eq!(fs::read_to_string(root.join("precious.txt")).unwrap(), "keep");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_previous_catalog() {
        let root = temp("fail");
        let out = root.join("catalog");
        replace_dir(&out, &files(&[(MARKER_FILE, "x"), ("a.html", "old")])).unwrap();
        // A file and a directory of the same name cannot both be written: a real I/O error.
        let broken = files(&[(MARKER_FILE, "x"), ("a.html", "new"), ("a.html/b", "new")]);
        assert!(replace_dir(&out, &broken).is_err());
        assert_eq!(fs::read_to_string(out.join("a.html")).unwrap(), "old");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1, "staging removed");
        fs::remove_dir_all(root).unwrap();
    }
}
