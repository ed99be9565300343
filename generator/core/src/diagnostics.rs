//! Findings of loading and validation: a rule id, a place, a message and a hint; and their report
//! for people (annotate-snippets: the source line with the value underlined).

use std::fmt;

use annotate_snippets::{AnnotationKind, Level, Origin, Renderer, Snippet};

use crate::span::Location;

/// How serious a finding is. Errors stop `render`; warnings are shown and allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in the declarations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `KP201`; documented in docs/config-reference.md.
    pub rule: &'static str,
    pub severity: Severity,
    #[serde(serialize_with = "serialize_location")]
    pub location: Location,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

fn serialize_location<S: serde::Serializer>(loc: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(loc)
}

impl Finding {
    /// An error finding.
    pub fn error(rule: &'static str, location: &Location, message: impl Into<String>) -> Self {
        Finding {
            rule,
            severity: Severity::Error,
            location: location.clone(),
            message: message.into(),
            hint: None,
        }
    }

    /// A warning finding.
    pub fn warning(rule: &'static str, location: &Location, message: impl Into<String>) -> Self {
        Finding { severity: Severity::Warning, ..Finding::error(rule, location, message) }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this finding blocks rendering.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// How a report is drawn: plain, or with ANSI colours (for a terminal that wants them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStyle {
    Plain,
    Coloured,
}

impl Finding {
    /// The finding for people: `severity[rule]: message`, `--> file:line:column`, the declaration's
    /// line (`source_line`, when the caller could read it) with the value underlined, and the hint.
    /// Control characters of declared text are made visible, long text is cut.
    pub fn report(&self, source_line: Option<&str>, style: ReportStyle) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let place = match &self.location.file {
            Some(file) => file.display().to_string(),
            None => "<generated>".to_string(),
        };
        let title = level.primary_title(escaped(&self.message)).id(self.rule);
        let shown = source_line.filter(|_| self.location.line > 0).map(printable);
        let span = shown.as_deref().and_then(|line| underline(line, &self.location));
        let group = match (&shown, span) {
            (Some(line), Some(span)) => title.element(
                Snippet::source(line.as_str())
                    .line_start(usize::try_from(self.location.line).unwrap_or(usize::MAX))
                    .path(place)
                    .annotation(AnnotationKind::Primary.span(span)),
            ),
            _ if self.location.line > 0 => title.element(
                Origin::path(place)
                    .line(usize::try_from(self.location.line).unwrap_or(usize::MAX))
                    .char_column(usize::try_from(self.location.column).unwrap_or(usize::MAX)),
            ),
            _ => title.element(Origin::path(place)),
        };
        let group = match &self.hint {
            Some(hint) => group.element(Level::HELP.with_name("hint").message(escaped(hint))),
            None => group,
        };
        let renderer = match style {
            ReportStyle::Plain => Renderer::plain(),
            ReportStyle::Coloured => Renderer::styled(),
        };
        renderer.render(&[group])
    }
}

/// The byte range of `line` the location's value covers: from its column, its length (at least one
/// character, at most to the end of the line). `None` when the column is past the line as shown
/// (cut), so the report names the place without a misplaced mark.
fn underline(line: &str, location: &Location) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(location.column.checked_sub(1)?).ok()?;
    let chars = line.chars().count();
    if start > chars {
        return None;
    }
    let len = usize::try_from(location.len.max(1)).unwrap_or(usize::MAX);
    let byte = |n: usize| line.char_indices().nth(n).map_or(line.len(), |(i, _)| i);
    Some(byte(start)..byte(start.saturating_add(len).min(chars)))
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

/// A source line as shown: control characters (terminal escapes) made visible, cut at
/// [`MAX_SHOWN`] characters.
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

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {severity}[{}]: {}", self.location, self.rule, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// All findings of one run, sorted by place so that output is stable.
#[derive(Debug, Default, Clone)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Adds a finding.
    pub fn push(&mut self, finding: Finding) {
        self.0.push(finding);
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Finding::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|f| f.is_error()).count()
    }

    /// Sorts by file, line, column, rule and drops exact duplicates (a rule may meet one value twice).
    pub fn sorted(mut self) -> Vec<Finding> {
        self.0.sort_by(|a, b| (&a.location, a.rule, &a.message).cmp(&(&b.location, b.rule, &b.message)));
        self.0.dedup();
        self.0
    }

    /// Adds all findings of another set.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Finding>) {
        self.0.extend(other);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn at(line: u64, column: u64, len: u64) -> Location {
        Location { len, ..Location::at(Path::new("env/projects/billing.yaml"), line, column) }
    }

    #[test]
    fn a_report_underlines_the_whole_value_and_keeps_id_place_and_hint() {
        let finding = Finding::error("KP212", &at(11, 17, 5), "70000 partitions").hint("1 to 120 partitions");
        let report = finding.report(Some("    partitions: 70000"), ReportStyle::Plain);
        assert_eq!(
            report,
            "error[KP212]: 70000 partitions\n  --> env/projects/billing.yaml:11:17\n   |\n\
             11 |     partitions: 70000\n   |                 ^^^^^\n   |\n   = hint: 1 to 120 partitions"
        );
    }

    #[test]
    fn without_a_span_one_character_is_marked_and_a_long_span_stops_at_the_line_end() {
        let one =
            Finding::warning("KP002", &at(2, 3, 0), "unknown key").report(Some("  x: 1"), ReportStyle::Plain);
        assert!(
            one.starts_with("warning[KP002]: unknown key\n --> env/projects/billing.yaml:2:3\n"),
            "{one}"
        );
        assert!(one.ends_with("2 |   x: 1\n  |   ^"), "{one}");
        let long = Finding::error("KP210", &at(1, 4, 99), "bad").report(Some("a: bc"), ReportStyle::Plain);
        assert!(long.ends_with("1 | a: bc\n  |    ^^"), "{long}");
    }

    #[test]
    fn without_the_source_line_the_report_still_names_the_place() {
        let finding = Finding::error("KP001", &at(7, 9, 3), "cannot read");
        for line in [None, Some("short")] {
            let report = finding.report(line, ReportStyle::Plain);
            assert_eq!(report, "error[KP001]: cannot read\n --> env/projects/billing.yaml:7:9", "{line:?}");
        }
        let generated = Finding::error("KP401", &Location::default(), "too large");
        assert_eq!(generated.report(None, ReportStyle::Plain), "error[KP401]: too large\n --> <generated>");
    }

    #[test]
    fn declared_control_characters_never_reach_the_terminal() {
        let finding = Finding::error("KP210", &at(1, 4, 3), "not `\u{1b}[31m`").hint("\u{7}bell");
        let report = finding.report(Some("a: \u{1b}[2J"), ReportStyle::Plain);
        assert!(!report.contains('\u{1b}') && !report.contains('\u{7}'), "{report:?}");
    }

    #[test]
    fn colour_only_when_asked_for() {
        let finding = Finding::error("KP212", &at(1, 1, 1), "x");
        assert!(finding.report(Some("x"), ReportStyle::Coloured).contains("\u{1b}["));
        assert!(!finding.report(Some("x"), ReportStyle::Plain).contains("\u{1b}["));
    }
}
