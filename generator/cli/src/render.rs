//! `gen render`: write templates/<stage>/ atomically, or check that the committed files are current.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kafka_platform_core::StageName;
use kafka_platform_core::render::{RenderedStage, render_stage};

use crate::diagnostics::{FindingFormat, print_findings};
use crate::validate::parse_stage;

/// Arguments of `gen render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Stages to render (dev, test, acc, prod).
    #[arg(value_parser = parse_stage, required_unless_present = "all", conflicts_with = "all")]
    pub stages: Vec<StageName>,
    /// Render every declared stage.
    #[arg(long)]
    pub all: bool,
    /// Output directory; each stage goes to DIR/<stage>/.
    #[arg(long, default_value = "templates")]
    pub out: PathBuf,
    /// Write nothing; exit 1 when the files in --out differ from what would be rendered.
    #[arg(long)]
    pub check: bool,
}

/// Validates, renders and writes (or checks) the requested stages.
pub fn run(environments: &Path, args: &RenderArgs) -> ExitCode {
    let stages = if args.all { Vec::new() } else { args.stages.clone() };
    let (models, mut findings) = kafka_platform_core::load_and_resolve(environments, &stages);
    for model in models.values() {
        findings.extend(kafka_platform_core::render::limits::check(model));
    }
    if findings.iter().any(|f| f.is_error()) {
        print_findings(&findings, FindingFormat::Text);
        eprintln!("nothing written: fix the errors above first");
        return ExitCode::FAILURE;
    }
    if !findings.is_empty() {
        print_findings(&findings, FindingFormat::Text);
    }
    let rendered: BTreeMap<StageName, RenderedStage> =
        models.iter().map(|(s, m)| (*s, render_stage(m))).collect();
    if args.check {
        let stale: Vec<String> =
            rendered.iter().flat_map(|(stage, r)| differences(&args.out.join(stage.as_str()), r)).collect();
        if stale.is_empty() {
            eprintln!("templates are current: {}", stage_list(&rendered));
            return ExitCode::SUCCESS;
        }
        for line in &stale {
            eprintln!("stale: {line}");
        }
        eprintln!(
            "{} file(s) differ from the declarations; run `gen render --all` and commit the result",
            stale.len()
        );
        return ExitCode::FAILURE;
    }
    for (stage, files) in &rendered {
        if let Err(err) = write_stage(&args.out.join(stage.as_str()), files) {
            eprintln!("error: writing {}: {err}", args.out.join(stage.as_str()).display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!("rendered {} into {}", stage_list(&rendered), args.out.display());
    ExitCode::SUCCESS
}

fn stage_list(rendered: &BTreeMap<StageName, RenderedStage>) -> String {
    rendered.keys().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Files that are missing, different or extra in `dir`.
fn differences(dir: &Path, rendered: &RenderedStage) -> Vec<String> {
    let mut out = Vec::new();
    for (name, content) in &rendered.files {
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(existing) if existing == *content => {}
            Ok(_) => out.push(format!("{} differs", path.display())),
            Err(_) => out.push(format!("{} is missing", path.display())),
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !rendered.files.contains_key(&name) {
                out.push(format!("{} is not rendered any more", entry.path().display()));
            }
        }
    }
    out.sort();
    out
}

/// Writes a stage's files into a fresh sibling directory, then swaps it in, so that a reader never
/// sees a half-written stage and files that are no longer rendered disappear.
fn write_stage(dir: &Path, rendered: &RenderedStage) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let backup = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    for (file, content) in &rendered.files {
        let mut f = fs::File::create(staging.join(file))?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
    }
    if dir.exists() {
        fs::rename(dir, &backup)?;
    }
    if let Err(err) = fs::rename(&staging, dir) {
        if backup.exists() {
            fs::rename(&backup, dir)?;
        }
        return Err(err);
    }
    let _ = fs::remove_dir_all(&backup);
    Ok(())
}
