//! A change set as the reviewer sees it: one row per resource, destructive rows flagged.

use std::collections::BTreeSet;

/// What CloudFormation will do to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new resource.
    Add,
    /// An existing resource changes (maybe by replacement).
    Modify,
    /// The resource is deleted.
    Remove,
    /// The resource is imported.
    Import,
    /// Decided at execution time (nested stacks, dynamic references).
    Dynamic,
}

/// Whether a modification replaces the resource (a new physical resource, the old one deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// Certainly replaced.
    Yes,
    /// Updated in place.
    No,
    /// Replaced depending on a value known only at execution.
    Conditional,
    /// Does not apply (add, remove) or the service did not say.
    Unknown,
}

/// One row of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// Action on the resource.
    pub action: Action,
    /// Logical id in the template.
    pub logical_id: String,
    /// CloudFormation resource type.
    pub resource_type: String,
    /// Replacement for a modification.
    pub replacement: Replacement,
}

impl ResourceChange {
    /// True when the change would destroy the current physical resource.
    pub fn is_destructive(&self) -> bool {
        matches!(self.action, Action::Remove)
            || (self.action == Action::Modify
                && matches!(self.replacement, Replacement::Yes | Replacement::Conditional))
    }
}

fn action_label(action: Action) -> &'static str {
    match action {
        Action::Add => "+ add",
        Action::Modify => "~ modify",
        Action::Remove => "- remove",
        Action::Import => "> import",
        Action::Dynamic => "? dynamic",
    }
}

fn replacement_label(change: &ResourceChange) -> &'static str {
    match (change.action, change.replacement) {
        (Action::Modify | Action::Dynamic, Replacement::Yes) => "yes",
        (Action::Modify | Action::Dynamic, Replacement::No) => "no",
        (Action::Modify | Action::Dynamic, Replacement::Conditional) => "conditional",
        (Action::Modify | Action::Dynamic, Replacement::Unknown) => "unknown",
        _ => "-",
    }
}

/// The change set as an aligned table (logical id, type, action, replacement), followed by a
/// count line and a warning for every destructive change to a stateful resource.
pub fn format_table(changes: &[ResourceChange], stateful: &BTreeSet<&str>) -> String {
    let headers = ["Logical ID", "Type", "Action", "Replacement"];
    let rows: Vec<[String; 4]> = changes
        .iter()
        .map(|c| {
            [
                c.logical_id.clone(),
                c.resource_type.clone(),
                action_label(c.action).to_string(),
                replacement_label(c).to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| -> String {
        let mut out = String::from("  ");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers);
    out.push_str(&line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str)));
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out.push_str(&format!("  {}\n", summary(changes)));
    for c in changes {
        if c.is_destructive() && stateful.contains(c.logical_id.as_str()) {
            let what = if c.action == Action::Remove { "deletes" } else { "may replace" };
            out.push_str(&format!(
                "  WARNING: this change {what} the stateful resource {} ({}); its data would be lost\n",
                c.logical_id, c.resource_type
            ));
        }
    }
    out
}

/// "2 to add, 1 to modify (1 replaced), 0 to remove".
pub fn summary(changes: &[ResourceChange]) -> String {
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    let replaced =
        changes.iter().filter(|c| c.action == Action::Modify && c.replacement == Replacement::Yes).count();
    let mut text = format!(
        "{} to add, {} to modify{}, {} to remove",
        count(Action::Add),
        count(Action::Modify),
        if replaced > 0 { format!(" ({replaced} replaced)") } else { String::new() },
        count(Action::Remove)
    );
    let other = count(Action::Import) + count(Action::Dynamic);
    if other > 0 {
        text.push_str(&format!(", {other} other"));
    }
    text
}

/// True when a failed change set only says that nothing would change.
///
/// CloudFormation reports an empty change set as FAILED with one of these reasons; it is
/// not an error for a deploy.
pub fn is_no_change_reason(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: Action, id: &str, ty: &str, replacement: Replacement) -> ResourceChange {
        ResourceChange { action, logical_id: id.into(), resource_type: ty.into(), replacement }
    }

    #[test]
    fn the_table_aligns_columns_and_counts_actions() {
        let changes = [
            change(Action::Add, "LogGroup", "AWS::Logs::LogGroup", Replacement::Unknown),
            change(Action::Modify, "Key", "AWS::KMS::Key", Replacement::No),
            change(Action::Remove, "OldBucket", "AWS::S3::Bucket", Replacement::Unknown),
        ];
        let table = format_table(&changes, &BTreeSet::new());
        let expected = "  Logical ID  Type                 Action    Replacement\n\
                        \x20 ----------  -------------------  --------  -----------\n\
                        \x20 LogGroup    AWS::Logs::LogGroup  + add     -\n\
                        \x20 Key         AWS::KMS::Key        ~ modify  no\n\
                        \x20 OldBucket   AWS::S3::Bucket      - remove  -\n\
                        \x20 1 to add, 1 to modify, 1 to remove\n";
        assert_eq!(table, expected);
    }

    #[test]
    fn destructive_changes_to_stateful_resources_are_flagged() {
        let changes = [
            change(Action::Modify, "Ca", "AWS::ACMPCA::CertificateAuthority", Replacement::Yes),
            change(Action::Remove, "Broker1Volume", "AWS::EC2::Volume", Replacement::Unknown),
            change(Action::Modify, "Key", "AWS::KMS::Key", Replacement::No),
            change(Action::Remove, "Scratch", "AWS::S3::Bucket", Replacement::Unknown),
        ];
        let stateful = BTreeSet::from(["Ca", "Broker1Volume", "Key"]);
        let table = format_table(&changes, &stateful);
        let warnings: Vec<&str> = table.lines().filter(|l| l.contains("WARNING")).collect();
        assert_eq!(warnings.len(), 2, "{table}");
        assert!(warnings[0].contains("may replace the stateful resource Ca"));
        assert!(warnings[1].contains("deletes the stateful resource Broker1Volume"));
        assert!(table.contains("0 to add, 2 to modify (1 replaced), 2 to remove"));
    }

    #[test]
    fn replacement_is_shown_only_for_modifications() {
        let add = change(Action::Add, "A", "T", Replacement::Yes);
        let modify = change(Action::Modify, "A", "T", Replacement::Conditional);
        assert_eq!(replacement_label(&add), "-");
        assert_eq!(replacement_label(&modify), "conditional");
        assert!(modify.is_destructive());
        assert!(!add.is_destructive());
    }

    #[test]
    fn empty_change_set_reasons_are_recognised() {
        assert!(is_no_change_reason(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_no_change_reason("No updates are to be performed."));
        assert!(!is_no_change_reason("Template format error: unresolved resource dependencies"));
    }
}
