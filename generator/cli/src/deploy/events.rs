//! Stack events and statuses: which events are new, what failed, how the stack ended up.

use std::collections::HashSet;

/// One stack event, reduced to what the deploy prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// Unique event id.
    pub id: String,
    /// Time as CloudFormation reports it (ISO 8601).
    pub timestamp: String,
    /// Logical id of the resource (the stack name for stack-level events).
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Status such as CREATE_IN_PROGRESS or UPDATE_FAILED.
    pub status: String,
    /// Reason given by CloudFormation, if any.
    pub reason: Option<String>,
}

impl StackEvent {
    /// One line for the event stream.
    pub fn line(&self) -> String {
        let time = self.timestamp.get(11..19).unwrap_or(&self.timestamp);
        let mut line = format!("  {time}  {:<28} {} ({})", self.status, self.logical_id, self.resource_type);
        if let Some(reason) = self.reason.as_deref().filter(|r| !r.is_empty()) {
            line.push_str(": ");
            line.push_str(reason);
        }
        line
    }

    /// True for a resource or stack that failed (not for the cancellations that follow).
    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED") && !is_cancellation(self.reason.as_deref())
    }
}

fn is_cancellation(reason: Option<&str>) -> bool {
    reason
        .is_some_and(|r| r.contains("Resource creation cancelled") || r.contains("Resource update cancelled"))
}

/// The events of a newest-first page that came after `baseline` (the newest event seen before
/// the execution began) and have not been seen yet, oldest first.
///
/// Returns whether the baseline was reached, so the caller knows if older pages are needed.
pub fn new_events(
    newest_first: &[StackEvent],
    baseline: Option<&str>,
    seen: &HashSet<String>,
) -> (Vec<StackEvent>, bool) {
    let mut fresh = Vec::new();
    let mut reached = false;
    for event in newest_first {
        if Some(event.id.as_str()) == baseline {
            reached = true;
            break;
        }
        if !seen.contains(&event.id) {
            fresh.push(event.clone());
        }
    }
    fresh.reverse();
    (fresh, reached)
}

/// The first failed events (oldest first), which carry the root cause; later failures are
/// usually consequences.
pub fn first_failures(events_oldest_first: &[StackEvent], limit: usize) -> Vec<&StackEvent> {
    events_oldest_first.iter().filter(|e| e.is_failure()).take(limit).collect()
}

/// True while CloudFormation is still working on the stack.
pub fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

/// True for the statuses a successful execution ends in.
pub fn is_success(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE")
}

/// What a failed execution left behind, in words, with the next step.
pub fn rollback_outcome(status: &str) -> String {
    match status {
        "ROLLBACK_COMPLETE" => {
            "the stack was rolled back and holds no resources; delete it before deploying again".into()
        }
        "ROLLBACK_FAILED" => {
            "the rollback of the new stack failed; inspect the remaining resources and delete the stack"
                .into()
        }
        "UPDATE_ROLLBACK_COMPLETE" => {
            "the update was rolled back; the stack is as it was before this deploy".into()
        }
        "UPDATE_ROLLBACK_FAILED" => {
            "the rollback failed; fix the cause and run `aws cloudformation continue-update-rollback`".into()
        }
        "CREATE_FAILED" | "UPDATE_FAILED" => format!("the stack is {status} and was not rolled back"),
        "REVIEW_IN_PROGRESS" => {
            "nothing was created: the stack is still waiting for its first change set".into()
        }
        other => format!("the stack ended in status {other}"),
    }
}

/// Why no change set can be made for a stack in this status, or None when one can.
pub fn blocked_status_hint(stack: &str, status: &str) -> Option<String> {
    if is_in_progress(status) {
        return Some("another operation is in progress; wait until it has finished".into());
    }
    match status {
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => Some(format!(
            "its first deployment failed; delete it (aws cloudformation delete-stack --stack-name {stack}) and deploy again"
        )),
        "UPDATE_ROLLBACK_FAILED" => Some("run `aws cloudformation continue-update-rollback` first".into()),
        "DELETE_FAILED" => Some("a deletion failed half-way; finish or undo it first".into()),
        "IMPORT_ROLLBACK_FAILED" => Some("an import rollback failed; resolve it first".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            id: id.into(),
            timestamp: "2026-11-22T01:02:03.456Z".into(),
            logical_id: format!("R{id}"),
            resource_type: "AWS::S3::Bucket".into(),
            status: status.into(),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn only_events_after_the_baseline_are_new_and_come_oldest_first() {
        let page = [
            event("4", "CREATE_COMPLETE", None),
            event("3", "CREATE_IN_PROGRESS", None),
            event("2", "REVIEW_IN_PROGRESS", None),
            event("1", "CREATE_COMPLETE", None),
        ];
        let (fresh, reached) = new_events(&page, Some("2"), &HashSet::new());
        assert!(reached);
        assert_eq!(fresh.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["3", "4"]);

        let seen = HashSet::from(["3".to_string()]);
        let (fresh, _) = new_events(&page, Some("2"), &seen);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].id, "4");
    }

    #[test]
    fn without_a_baseline_every_unseen_event_is_new() {
        let page = [event("2", "CREATE_COMPLETE", None), event("1", "CREATE_IN_PROGRESS", None)];
        let (fresh, reached) = new_events(&page, None, &HashSet::new());
        assert!(!reached);
        assert_eq!(fresh.len(), 2);
        assert_eq!(fresh[0].id, "1");
    }

    #[test]
    fn the_first_real_failures_are_reported_not_the_cancellations() {
        let events = [
            event("1", "CREATE_IN_PROGRESS", None),
            event("2", "CREATE_FAILED", Some("Resource creation cancelled")),
            event("3", "CREATE_FAILED", Some("Bucket name already exists")),
            event("4", "CREATE_FAILED", Some("Invalid subnet")),
            event("5", "ROLLBACK_IN_PROGRESS", Some("The following resource(s) failed to create")),
        ];
        let failures = first_failures(&events, 1);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].reason.as_deref(), Some("Bucket name already exists"));
        assert_eq!(first_failures(&events, 5).len(), 2);
    }

    #[test]
    fn an_event_line_shows_time_status_resource_and_reason() {
        let line = event("3", "CREATE_FAILED", Some("boom")).line();
        assert_eq!(line, "  01:02:03  CREATE_FAILED                R3 (AWS::S3::Bucket): boom");
    }

    #[test]
    fn statuses_are_classified() {
        assert!(is_in_progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(!is_in_progress("REVIEW_IN_PROGRESS"));
        assert!(is_success("UPDATE_COMPLETE"));
        assert!(!is_success("UPDATE_ROLLBACK_COMPLETE"));
        assert!(rollback_outcome("UPDATE_ROLLBACK_COMPLETE").contains("as it was before"));
        assert!(rollback_outcome("ROLLBACK_COMPLETE").contains("delete it"));
        assert!(blocked_status_hint("s", "UPDATE_COMPLETE").is_none());
        assert!(blocked_status_hint("s", "UPDATE_ROLLBACK_COMPLETE").is_none());
        assert!(blocked_status_hint("s", "ROLLBACK_COMPLETE").unwrap().contains("--stack-name s"));
        assert!(blocked_status_hint("s", "UPDATE_IN_PROGRESS").unwrap().contains("in progress"));
    }
}
