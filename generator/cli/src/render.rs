//! `gen render`: write templates/<stage>/ atomically, or check that the committed files are current.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kafka_platform_core::render::{RenderedStage, limits, render_stage};
use kafka_platform_core::{Finding, StageName};
use serde::Serialize;

use crate::diagnostics::{FindingFormat, print_findings};
use crate::output::{OutputFormat, print_json};
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
    /// `json`: one document on stdout with each stage's files and what happened to them.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

/// What `gen render --format json` prints.
#[derive(Debug, Serialize)]
struct RenderReport<'a> {
    command: &'static str,
    /// `--check`: nothing is written; `files` say what a render would do.
    check: bool,
    /// Rendered and written, or (with `--check`) everything current.
    ok: bool,
    out: String,
    stages: Vec<StageReport>,
    findings: &'a [Finding],
    /// Why nothing was written, when something failed.
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct StageReport {
    stage: StageName,
    directory: String,
    files: Vec<FileReport>,
}

#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    status: FileStatus,
}

/// What rendering does to one file of a stage's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
enum FileStatus {
    Created,
    Updated,
    Unchanged,
    /// In the directory but no longer rendered (rendering removes it).
    Removed,
}

/// Validates, renders and writes (or checks) the requested stages.
pub fn run(environments: &Path, args: &RenderArgs) -> ExitCode {
    let stages = if args.all { Vec::new() } else { args.stages.clone() };
    let (models, mut findings) = kafka_platform_core::load_and_resolve(environments, &stages);
    // Render once; the CloudFormation limits are checked on what was rendered.
    let rendered: BTreeMap<StageName, RenderedStage> =
        models.iter().map(|(s, m)| (*s, render_stage(m))).collect();
    for (stage, model) in &models {
        findings.extend(limits::check_rendered(model, &rendered[stage]));
    }
    let mut report = RenderReport {
        command: "render",
        check: args.check,
        ok: false,
        out: args.out.display().to_string(),
        stages: Vec::new(),
        findings: &findings,
        error: None,
    };
    let finish = |report: RenderReport<'_>, code: ExitCode| {
        if args.format == OutputFormat::Json {
            print_json(&report);
        }
        code
    };
    if findings.iter().any(|f| f.is_error()) {
        print_findings(&findings, FindingFormat::Text);
        eprintln!("nothing written: fix the errors above first");
        report.error = Some("the declarations have errors; nothing written".into());
        return finish(report, ExitCode::FAILURE);
    }
    if !findings.is_empty() {
        print_findings(&findings, FindingFormat::Text);
    }
    // Each file's status means reading the files in --out: only --check and the JSON report need it.
    if args.check || args.format == OutputFormat::Json {
        report.stages = stage_reports(&args.out, &rendered);
    }
    if args.check {
        let stale: Vec<String> = report.stages.iter().flat_map(stale_lines).collect();
        if stale.is_empty() {
            eprintln!("templates are current: {}", stage_list(&rendered));
            report.ok = true;
            return finish(report, ExitCode::SUCCESS);
        }
        for line in &stale {
            eprintln!("stale: {line}");
        }
        eprintln!(
            "{} file(s) differ from the declarations; run `gen render --all` and commit the result",
            stale.len()
        );
        return finish(report, ExitCode::FAILURE);
    }
    if let Err(err) = write_stages(&args.out, &rendered) {
        eprintln!(
            "error: writing {}: {err}\nnothing written: every stage keeps its previous files",
            args.out.display()
        );
        report.error = Some(format!("writing {}: {err}; nothing written", args.out.display()));
        return finish(report, ExitCode::FAILURE);
    }
    eprintln!("rendered {} into {}", stage_list(&rendered), args.out.display());
    report.ok = true;
    let code = finish(report, ExitCode::SUCCESS);
    // The process exits right after this: freeing the models and rendered files allocation by
    // allocation would cost several per cent of a large render's CPU for memory the kernel takes
    // back anyway. Only here, in the CLI: library callers (tests, Lambdas) drop as usual.
    std::mem::forget((models, rendered));
    code
}

fn stage_reports(out: &Path, rendered: &BTreeMap<StageName, RenderedStage>) -> Vec<StageReport> {
    rendered
        .iter()
        .map(|(stage, r)| {
            let dir = out.join(stage.as_str());
            let files =
                statuses(&dir, r).into_iter().map(|(file, status)| FileReport { file, status }).collect();
            StageReport { stage: *stage, directory: dir.display().to_string(), files }
        })
        .collect()
}

fn stage_list(rendered: &BTreeMap<StageName, RenderedStage>) -> String {
    rendered.keys().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Each file of the stage with what rendering does to it, and the files in `dir` that are no
/// longer rendered; sorted by name.
fn statuses(dir: &Path, rendered: &RenderedStage) -> Vec<(String, FileStatus)> {
    let mut out = Vec::new();
    for (name, content) in &rendered.files {
        let status = match fs::read_to_string(dir.join(name)) {
            Ok(existing) if existing == *content => FileStatus::Unchanged,
            Ok(_) => FileStatus::Updated,
            Err(_) => FileStatus::Created,
        };
        out.push((name.clone(), status));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !rendered.files.contains_key(&name) {
                out.push((name, FileStatus::Removed));
            }
        }
    }
    out.sort();
    out
}

/// `--check`'s lines for the files of a stage that are missing, different or extra.
fn stale_lines(stage: &StageReport) -> Vec<String> {
    let dir = Path::new(&stage.directory);
    stage
        .files
        .iter()
        .filter_map(|f| {
            let path = dir.join(&f.file);
            match f.status {
                FileStatus::Unchanged => None,
                FileStatus::Updated => Some(format!("{} differs", path.display())),
                FileStatus::Created => Some(format!("{} is missing", path.display())),
                FileStatus::Removed => Some(format!("{} is not rendered any more", path.display())),
            }
        })
        .collect()
}

/// Writes every stage or none: each stage's files go into a fresh sibling directory first; only
/// when all are written (and each directory synced once) are they swapped in, and a failed swap
/// puts back the stages already swapped. A reader never sees a half-written stage, and files no
/// longer rendered disappear.
fn write_stages(out: &Path, rendered: &BTreeMap<StageName, RenderedStage>) -> std::io::Result<()> {
    fs::create_dir_all(out)?;
    let mut staged: Vec<Staged> = Vec::new();
    for (stage, files) in rendered {
        let target = out.join(stage.as_str());
        let staging = sibling(&target, "tmp");
        staged.push(Staged { target, backup: sibling(&out.join(stage.as_str()), "old"), staging });
        let last = staged.last().expect("just pushed");
        if let Err(err) = write_files(&last.staging, files) {
            discard(&staged);
            return Err(err);
        }
    }
    // The files reach the disk before the swap makes them visible under their final names: one
    // syncfs for every staged file (the staging directories share `out`'s filesystem), then one
    // fsync per staging directory for its entries; not one fsync per file.
    let synced = sync_filesystem(out).and_then(|()| staged.iter().try_for_each(|s| sync_dir(&s.staging)));
    if let Err(err) = synced {
        discard(&staged);
        return Err(err);
    }
    for (swapped, stage) in staged.iter().enumerate() {
        if let Err(err) = stage.swap_in() {
            for done in staged[..swapped].iter().rev() {
                done.put_back();
            }
            discard(&staged);
            return Err(err);
        }
    }
    for stage in &staged {
        let _ = fs::remove_dir_all(&stage.backup);
    }
    // The renames are durable once their parent directory is.
    sync_dir(out)
}

/// One stage on its way in: the final directory, the new files, and where the old ones wait.
struct Staged {
    target: PathBuf,
    staging: PathBuf,
    backup: PathBuf,
}

impl Staged {
    /// Moves the old directory aside and the new one in (the old one comes back on failure).
    fn swap_in(&self) -> std::io::Result<()> {
        let had_old = self.target.exists();
        if had_old {
            fs::rename(&self.target, &self.backup)?;
        }
        if let Err(err) = fs::rename(&self.staging, &self.target) {
            if had_old {
                let _ = fs::rename(&self.backup, &self.target);
            }
            return Err(err);
        }
        Ok(())
    }

    /// Undoes a completed swap: the new files go, the old ones return.
    fn put_back(&self) {
        let _ = fs::remove_dir_all(&self.target);
        if self.backup.exists() {
            let _ = fs::rename(&self.backup, &self.target);
        }
    }
}

/// Flushes the data of every file on `dir`'s filesystem (Linux `syncfs`).
fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    rustix::fs::syncfs(fs::File::open(dir)?).map_err(std::io::Error::from)
}

/// Makes the entries of `dir` (files created or renamed in it) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

fn discard(staged: &[Staged]) {
    for stage in staged {
        let _ = fs::remove_dir_all(&stage.staging);
    }
}

/// `.<name>.<what>-<pid>` next to `dir`.
fn sibling(dir: &Path, what: &str) -> PathBuf {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parent.join(format!(".{name}.{what}-{}", std::process::id()))
}

fn write_files(staging: &Path, rendered: &RenderedStage) -> std::io::Result<()> {
    let _ = fs::remove_dir_all(staging);
    fs::create_dir_all(staging)?;
    for (file, content) in &rendered.files {
        fs::write(staging.join(file), content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(files: &[(&str, &str)]) -> RenderedStage {
        let mut rendered = RenderedStage { files: BTreeMap::new(), stacks: Vec::new() };
        for (name, content) in files {
            rendered.files.insert((*name).to_string(), (*content).to_string());
        }
        rendered
    }

    fn temp_out(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gen-render-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for s in ["dev", "prod"] {
            fs::create_dir_all(dir.join(s)).unwrap();
            fs::write(dir.join(s).join("old.json"), format!("old {s}")).unwrap();
        }
        dir
    }

    fn contents(dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in ["dev", "prod"] {
            let mut names: Vec<_> = fs::read_dir(dir.join(s)).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            for p in names {
                out.push((p.display().to_string(), fs::read_to_string(&p).unwrap()));
            }
        }
        out
    }

    #[test]
    fn all_stages_are_replaced_together() {
        let out = temp_out("ok");
        let rendered = BTreeMap::from([
            (StageName::Dev, stage(&[("a.json", "new dev")])),
            (StageName::Prod, stage(&[("a.json", "new prod")])),
        ]);
        write_stages(&out, &rendered).unwrap();
        assert_eq!(fs::read_to_string(out.join("dev/a.json")).unwrap(), "new dev");
        assert_eq!(fs::read_to_string(out.join("prod/a.json")).unwrap(), "new prod");
        assert!(!out.join("dev/old.json").exists());
        assert_eq!(fs::read_dir(&out).unwrap().count(), 2, "no staging or backup left behind");
        fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn a_failure_while_writing_one_stage_leaves_every_stage_as_it_was() {
        let out = temp_out("write");
        let before = contents(&out);
        // prod's file cannot be created (its folder does not exist): a real I/O error.
        let rendered = BTreeMap::from([
            (StageName::Dev, stage(&[("a.json", "new dev")])),
            (StageName::Prod, stage(&[("missing/a.json", "new prod")])),
        ]);
        assert!(write_stages(&out, &rendered).is_err());
        assert_eq!(contents(&out), before);
        assert_eq!(fs::read_dir(&out).unwrap().count(), 2, "staging removed");
        fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn a_failed_swap_puts_back_the_stages_already_swapped() {
        let out = temp_out("swap");
        let before = contents(&out);
        // prod's old files cannot be moved aside: a non-empty directory holds the backup name.
        let blocker = sibling(&out.join("prod"), "old");
        fs::create_dir_all(blocker.join("x")).unwrap();
        let rendered = BTreeMap::from([
            (StageName::Dev, stage(&[("a.json", "new dev")])),
            (StageName::Prod, stage(&[("a.json", "new prod")])),
        ]);
        assert!(write_stages(&out, &rendered).is_err());
        assert_eq!(contents(&out), before, "dev was swapped, then put back");
        fs::remove_dir_all(out).unwrap();
    }
}
