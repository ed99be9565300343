//! Plans for people: Terraform-like text (`+ create`, `~ update`, `- delete`, each with its reason)
//! and Markdown for a pull-request comment. JSON is the plan's `Serialize`.

use std::fmt::Write;

use kafka_admin::AclBinding;
use serde::Serialize;

use crate::plan::{Action, Change, Plan};

/// Serialises an ACL binding as Kafka's names (`WRITE`, `TOPIC`, ...).
#[allow(clippy::ptr_arg)] // serde hands the field itself
pub(crate) fn serialize_acls<S: serde::Serializer>(acls: &Vec<AclBinding>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct One<'a>(#[serde(serialize_with = "serialize_acl")] &'a AclBinding);
    s.collect_seq(acls.iter().map(One))
}

pub(crate) fn serialize_acl<S: serde::Serializer>(acl: &AclBinding, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct View<'a> {
        principal: &'a str,
        permission: String,
        operation: String,
        resource_type: String,
        pattern_type: String,
        resource_name: &'a str,
        host: &'a str,
    }
    View {
        principal: &acl.principal,
        permission: acl.permission.to_string(),
        operation: acl.operation.to_string(),
        resource_type: acl.resource_type.to_string(),
        pattern_type: acl.pattern_type.to_string(),
        resource_name: &acl.resource_name,
        host: &acl.host,
    }
    .serialize(s)
}

/// `(to create, to update, to delete)`; SCRAM credentials count as creates, promotions as updates.
fn counts(plan: &Plan) -> (usize, usize, usize) {
    let s = plan.summary();
    (
        s.topics_to_create + s.acls_to_create + s.scram_credentials_to_upsert,
        s.partitions_to_increase + s.topics_to_reconfigure + s.credentials_to_promote,
        s.topics_to_delete + s.acls_to_delete + s.scram_credentials_to_delete + s.grants_to_expire,
    )
}

/// One summary line, e.g. `Plan: 2 to create, 1 to update, 0 to delete, 1 refused.`
pub fn summary_line(plan: &Plan) -> String {
    if plan.is_empty() {
        return format!("No changes: the cluster matches the declaration of stage {}.", plan.stage);
    }
    let (create, update, delete) = counts(plan);
    let mut line = format!("Plan: {create} to create, {update} to update, {delete} to delete");
    if !plan.refusals.is_empty() {
        let _ = write!(line, ", {} refused", plan.refusals.len());
    }
    if !plan.skipped.is_empty() {
        let _ = write!(line, ", {} destructive change(s) skipped", plan.skipped.len());
    }
    line.push('.');
    line
}

/// The lines of one change: the headline with its symbol, details, and the reason.
fn change_lines(change: &Change) -> Vec<String> {
    let mut lines = Vec::new();
    match &change.action {
        Action::CreateTopic { topic, partitions, replication_factor, configs } => {
            lines.push(format!(
                "+ create topic {topic} ({partitions} partitions, replication factor {replication_factor})"
            ));
            lines.extend(configs.iter().map(|(k, v)| format!("    {k} = {v}")));
        }
        Action::IncreasePartitions { topic, from, to } => {
            lines.push(format!("~ update topic {topic} (partitions: {from} -> {to})"));
        }
        Action::UpdateTopicConfigs { topic, changes } => {
            let destroys = if change.action.is_destructive() { " (may destroy data)" } else { "" };
            lines.push(format!("~ update topic {topic} config{destroys}"));
            for d in changes {
                let old = d.old.as_deref().unwrap_or("(not set)");
                let new = d.new.as_deref().unwrap_or("(cluster default)");
                lines.push(format!("    {}: {old} -> {new}", d.key));
            }
        }
        Action::UpsertScramCredential { user, password_parameter, generation, .. } => {
            let from = match password_parameter {
                Some(p) => format!(" (password from {p})"),
                None => String::new(),
            };
            let generation = generation.map(|g| format!(", generation {g}")).unwrap_or_default();
            lines.push(format!("+ create SCRAM-SHA-512 credential for user {user}{from}{generation}"));
        }
        Action::PromoteCredential { account, password_parameter, generation, user } => lines.push(format!(
            "~ publish generation {generation} (user {user}) of account {account} in {password_parameter}"
        )),
        Action::DeleteScramCredential { user, account } => lines.push(format!(
            "- delete SCRAM-SHA-512 credential of user {user} (previous user of account {account})"
        )),
        Action::CreateAcl { acl } => lines.push(format!("+ create ACL {acl}")),
        Action::DeleteAcl { acl } => lines.push(format!("- delete ACL {acl}")),
        Action::DeleteTopic { topic } => lines.push(format!("- delete topic {topic} (destroys its data)")),
        Action::ExpireGrant { grant, user, acls, scram_credential, parameters } => {
            let credential = if *scram_credential { ", its SCRAM credential" } else { "" };
            lines.push(format!(
                "- expire debug grant {grant} (user {user}: {} ACL(s){credential}, {} parameter(s))",
                acls.len(),
                parameters.len()
            ));
            lines.extend(acls.iter().map(|a| format!("    - ACL {a}")));
            lines.extend(parameters.iter().map(|p| format!("    - parameter {p}")));
        }
    }
    lines.push(format!("    # {}", change.reason));
    lines
}

/// The first line of a change as the text plan shows it, e.g. `+ create topic orders.placed.v1 (...)`.
pub fn headline(change: &Change) -> String {
    change_lines(change).swap_remove(0)
}

/// Terraform-like text.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        for line in change_lines(change) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped (deletes are not allowed for stage {}):", plan.stage);
        for change in &plan.skipped {
            for line in change_lines(change) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if !plan.refusals.is_empty() {
        let _ = writeln!(out, "\nRefused (nothing will be applied until these are resolved):");
        for r in &plan.refusals {
            let _ = writeln!(out, "! {}: {}", r.subject, r.message);
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary_line(plan));
    out
}

/// Markdown for a pull-request comment: a summary, the changes as a `diff` block (so that
/// creates and deletes are coloured), and refusals as a list.
pub fn markdown(plan: &Plan) -> String {
    let mut out = format!("### Kafka plan for stage `{}`\n\n**{}**\n", plan.stage, summary_line(plan));
    if !plan.changes.is_empty() {
        out.push_str("\n```diff\n");
        for change in &plan.changes {
            for line in change_lines(change) {
                // `diff` colours by the first character: keep +/- and make the rest neutral.
                let line = if line.starts_with(['+', '-']) { line } else { format!(" {line}") };
                let _ = writeln!(out, "{line}");
            }
        }
        out.push_str("```\n");
    }
    if plan.changes.iter().any(|c| c.action.is_destructive()) {
        out.push_str(
            "\n> [!WARNING]\n> This plan deletes topics or resets topic configuration; data may be lost.\n",
        );
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} destructive change(s) skipped</summary>\n\n```diff",
            plan.skipped.len()
        );
        for change in &plan.skipped {
            for line in change_lines(change) {
                let _ = writeln!(out, " {line}");
            }
        }
        out.push_str("```\n</details>\n");
    }
    if !plan.refusals.is_empty() {
        out.push_str("\n#### Refused\n\n");
        for r in &plan.refusals {
            let _ = writeln!(out, "- **{}**: {}", r.subject, r.message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{DeletePolicy, ObservedState, ObservedTopic, PlanOptions, plan};
    use crate::testkit::{desired, in_sync};

    fn busy_plan(deletes: DeletePolicy) -> Plan {
        let mut d = desired();
        d.topics[0].configs.insert("retention.ms".into(), "86400000".into());
        d.topics[0].partitions = 4;
        let mut o = in_sync();
        o.topics.insert(
            "orders.old.v1".into(),
            ObservedTopic { partitions: 1, replication_factor: 3, ..Default::default() },
        );
        o.acls.clear();
        plan(&d, &o, PlanOptions { deletes, ..Default::default() })
    }

    #[test]
    fn text_reads_like_terraform_with_reasons() {
        let t = text(&busy_plan(DeletePolicy::Allow));
        assert!(t.contains("~ update topic orders.placed.v1 (partitions: 3 -> 4)\n    # 4 partitions declared, 3 on the cluster\n"), "{t}");
        assert!(
            t.contains("~ update topic orders.placed.v1 config\n    retention.ms: 604800000 -> 86400000\n"),
            "{t}"
        );
        assert!(
            t.contains("+ create ACL User:orders-app ALLOW WRITE on TOPIC:LITERAL:orders.placed.v1 from *\n"),
            "{t}"
        );
        assert!(t.contains("- delete topic orders.old.v1 (destroys its data)\n    # under a managed prefix and no longer declared\n"), "{t}");
        assert!(t.ends_with("Plan: 3 to create, 2 to update, 1 to delete.\n"), "{t}");
    }

    #[test]
    fn refusals_and_skips_are_spelled_out() {
        let t = text(&busy_plan(DeletePolicy::Refuse));
        assert!(t.contains("Refused (nothing will be applied until these are resolved):\n! topic orders.old.v1: deleting topic orders.old.v1"), "{t}");
        assert!(t.ends_with("Plan: 3 to create, 2 to update, 0 to delete, 1 refused.\n"), "{t}");
        let t = text(&busy_plan(DeletePolicy::Skip));
        assert!(
            t.contains("Skipped (deletes are not allowed for stage dev):\n  - delete topic orders.old.v1"),
            "{t}"
        );
    }

    #[test]
    fn an_empty_plan_says_so() {
        let p = plan(&desired(), &in_sync(), PlanOptions::default());
        assert_eq!(text(&p), "No changes: the cluster matches the declaration of stage dev.\n");
        assert!(markdown(&p).contains("**No changes"));
    }

    #[test]
    fn markdown_is_a_diff_block_with_a_warning_for_destructive_plans() {
        let m = markdown(&busy_plan(DeletePolicy::Allow));
        assert!(
            m.starts_with(
                "### Kafka plan for stage `dev`\n\n**Plan: 3 to create, 2 to update, 1 to delete.**\n"
            ),
            "{m}"
        );
        assert!(m.contains("```diff\n ~ update topic orders.placed.v1 (partitions: 3 -> 4)\n"), "{m}");
        assert!(m.contains("\n- delete topic orders.old.v1 (destroys its data)\n"), "{m}");
        assert!(m.contains("[!WARNING]"), "{m}");
        let m = markdown(&plan(&desired(), &ObservedState::default(), PlanOptions::default()));
        assert!(!m.contains("WARNING"), "{m}");
        assert!(m.contains("\n+ create topic orders.placed.v1 (3 partitions, replication factor 3)\n     retention.ms = 604800000\n"), "{m}");
    }
}
