//! Printing findings for people (with the offending source line) or machines (JSON).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kafka_platform_core::{Finding, Severity};

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingFormat {
    /// file:line:column: severity[rule]: message, the source line, and a hint.
    Text,
    /// One JSON array of findings.
    Json,
}

/// Prints findings to stderr (text) or stdout (json) and a summary line.
pub fn print_findings(findings: &[Finding], format: FindingFormat) {
    match format {
        FindingFormat::Json => {
            println!("{}", serde_json::to_string_pretty(findings).expect("findings serialise"));
        }
        FindingFormat::Text => {
            let mut sources = SourceCache::default();
            for finding in findings {
                eprintln!("{}", render(finding, &mut sources));
            }
            let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
            let warnings = findings.len() - errors;
            eprintln!("{errors} error(s), {warnings} warning(s)");
        }
    }
}

fn render(finding: &Finding, sources: &mut SourceCache) -> String {
    let severity = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out =
        format!("{severity}[{}]: {}\n  --> {}", finding.rule, escaped(&finding.message), finding.location);
    if let Some(path) = finding.location.path()
        && let Some(line) = sources.line(path, finding.location.line)
        && finding.location.line > 0
    {
        let number = finding.location.line.to_string();
        let pad = " ".repeat(number.len());
        let caret = " ".repeat(finding.location.column.saturating_sub(1) as usize);
        out.push_str(&format!("\n{pad} |\n{number} | {line}\n{pad} | {caret}^"));
    }
    if let Some(hint) = &finding.hint {
        out.push_str(&format!("\n  = hint: {}", escaped(hint)));
    }
    out.push('\n');
    out
}

#[derive(Default)]
struct SourceCache(HashMap<PathBuf, Option<Vec<String>>>);

impl SourceCache {
    fn line(&mut self, path: &Path, line: u64) -> Option<String> {
        // The same guarded read as the loader: a file it refused (a symlink to
        // /proc/self/environ, a FIFO, a huge file) is never opened here, so none of it is echoed.
        let lines = self.0.entry(path.to_path_buf()).or_insert_with(|| {
            kafka_platform_core::config::load::read_declaration(path)
                .ok()
                .map(|t| t.lines().map(str::to_string).collect())
        });
        lines.as_ref()?.get(usize::try_from(line).ok()?.checked_sub(1)?).map(|l| printable(l))
    }
}

/// Longest message or hint shown (a declared value quoted in it may be long).
const MAX_MESSAGE: usize = 1000;

/// Text with control characters (terminal escapes from a declared value) made visible, cut at
/// [`MAX_MESSAGE`] characters.
fn escaped(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_MESSAGE)
        .map(|c| if c.is_control() && c != '\n' { char::REPLACEMENT_CHARACTER } else { c })
        .collect();
    if text.chars().count() > MAX_MESSAGE {
        out.push_str(" ...");
    }
    out
}

/// Longest source line shown with a finding.
const MAX_SHOWN: usize = 200;

/// A source line as shown: control characters (terminal escapes) escaped, cut at [`MAX_SHOWN`]
/// characters.
fn printable(line: &str) -> String {
    let mut out: String = line
        .chars()
        .take(MAX_SHOWN)
        .map(|c| if c.is_control() && c != '\t' { char::REPLACEMENT_CHARACTER } else { c })
        .collect();
    if line.chars().count() > MAX_SHOWN {
        out.push_str(" ...");
    }
    out
}
