//! Findings of loading and validation: a rule id, a place, a message and a hint.

use std::fmt;

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
