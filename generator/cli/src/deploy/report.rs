//! What `gen deploy --format json` prints: the stage, the artifacts put into the bucket, and per
//! stack its change set and how it ended. The deploy fills it in as it goes, so a deploy that
//! stops half-way still reports what it did.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::{DeployError, Outcome, StackOutcome};

/// The report, shared between the command (which prints it) and the deploy (which fills it in).
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<DeployReport>>);

#[derive(Debug, Default, Serialize)]
pub struct DeployReport {
    command: &'static str,
    stage: String,
    dry_run: bool,
    /// `deployed`, `reviewed`, `cancelled`, `failed`, or `error` (see `error`).
    outcome: &'static str,
    /// A dry run: whether any stack would change.
    pending: bool,
    artifacts: Artifacts,
    stacks: Vec<StackReport>,
    error: Option<String>,
}

/// Objects of the artifact bucket (S3 keys carry the content's SHA-256).
#[derive(Debug, Default, Serialize)]
struct Artifacts {
    bucket: String,
    /// Put by this deploy (with `--dry-run`: would be put).
    uploaded: Vec<String>,
    /// There already.
    present: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StackReport {
    stack: String,
    /// `create` or `update`; none when the deploy stopped before looking at the stack.
    action: Option<&'static str>,
    /// The change set reviewed for the stack; none when CloudFormation found nothing to change.
    change_set_id: Option<String>,
    /// Resource changes in that change set.
    changes: usize,
    /// `no_changes`, `executed`, `reviewed`, `cancelled`, `failed` or `error`.
    outcome: &'static str,
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut DeployReport) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The deploy's stage and mode.
    pub fn start(&self, stage: &str, dry_run: bool, bucket: &str) {
        self.with(|r| {
            r.stage = stage.to_string();
            r.dry_run = dry_run;
            r.artifacts.bucket = bucket.to_string();
        });
    }

    /// The bucket's objects after an upload (or a dry run's would-be upload).
    pub fn uploads(&self, uploaded: &[String], present: &[String]) {
        self.with(|r| {
            r.artifacts.uploaded.extend_from_slice(uploaded);
            r.artifacts.present.extend_from_slice(present);
        });
    }

    /// A stack about to be deployed.
    pub fn begin_stack(&self, stack: &str, create: bool) {
        self.with(|r| entry(r, stack).action = Some(if create { "create" } else { "update" }));
    }

    /// A stack's change set, once CloudFormation has computed it.
    pub fn change_set(&self, stack: &str, id: &str, changes: usize) {
        self.with(|r| {
            let entry = entry(r, stack);
            entry.change_set_id = Some(id.to_string());
            entry.changes = changes;
        });
    }

    /// How a stack ended.
    pub(super) fn stack_outcome(&self, stack: &str, outcome: &Result<StackOutcome, DeployError>) {
        let outcome = match outcome {
            Ok(StackOutcome::NoChanges) => "no_changes",
            Ok(StackOutcome::Executed) => "executed",
            Ok(StackOutcome::Reviewed { .. }) => "reviewed",
            Ok(StackOutcome::Cancelled) => "cancelled",
            Ok(StackOutcome::Failed) => "failed",
            Err(_) => "error",
        };
        self.with(|r| entry(r, stack).outcome = outcome);
    }

    /// How the deploy ended; an error is reported with the message printed on stderr.
    pub fn finish(&self, result: &Result<Outcome, DeployError>) -> String {
        self.with(|r| {
            r.command = "deploy";
            (r.outcome, r.pending) = match result {
                Ok(Outcome::Deployed) => ("deployed", false),
                Ok(Outcome::Reviewed { pending, .. }) => ("reviewed", *pending),
                Ok(Outcome::Cancelled) => ("cancelled", false),
                Ok(Outcome::Failed) => ("failed", false),
                Err(e) => {
                    r.error = Some(e.to_string());
                    ("error", false)
                }
            };
            serde_json::to_string_pretty(r).expect("reports serialise")
        })
    }
}

fn entry<'a>(r: &'a mut DeployReport, stack: &str) -> &'a mut StackReport {
    if let Some(i) = r.stacks.iter().position(|s| s.stack == stack) {
        return &mut r.stacks[i];
    }
    r.stacks.push(StackReport {
        stack: stack.to_string(),
        action: None,
        change_set_id: None,
        changes: 0,
        outcome: "error",
    });
    r.stacks.last_mut().expect("just pushed")
}
