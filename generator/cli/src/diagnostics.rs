//! Printing findings for people (with the offending source line) or machines (JSON).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use kafka_platform_core::{Finding, ReportStyle, Severity};

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingFormat {
    /// severity[rule]: message, file:line:column, the source line with the value underlined, a hint.
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
            let style = style();
            for finding in findings {
                eprintln!("{}\n", finding.report(sources.line_of(finding), style));
            }
            let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
            let warnings = findings.len() - errors;
            eprintln!("{errors} error(s), {warnings} warning(s)");
        }
    }
}

/// Colour only for a terminal, and not when `NO_COLOR` is set to anything but the empty string
/// (no-color.org).
fn style() -> ReportStyle {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if std::io::stderr().is_terminal() && !no_color { ReportStyle::Coloured } else { ReportStyle::Plain }
}

#[derive(Default)]
struct SourceCache(HashMap<PathBuf, Option<Vec<String>>>);

impl SourceCache {
    /// The finding's source line, when it has one and the file is still a readable declaration.
    fn line_of(&mut self, finding: &Finding) -> Option<&str> {
        let path = finding.location.path()?;
        // The same guarded read as the loader: a file it refused (a symlink to
        // /proc/self/environ, a FIFO, a huge file) is never opened here, so none of it is echoed.
        let lines = self.0.entry(path.to_path_buf()).or_insert_with(|| {
            kafka_platform_core::config::load::read_declaration(path)
                .ok()
                .map(|t| t.lines().map(str::to_string).collect())
        });
        let index = usize::try_from(finding.location.line).ok()?.checked_sub(1)?;
        lines.as_ref()?.get(index).map(String::as_str)
    }
}
