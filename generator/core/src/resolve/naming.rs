//! `account_id`, `region` and `naming` (KP101): where the stage deploys and how things are named.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use crate::config::stage::{NamingSettings, StageSettings};
use crate::diagnostics::Finding;
use crate::model::Naming;
use crate::span::Spanned;

static REGION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z]{2}(-gov)?-[a-z]+-\d$").unwrap());
static PREFIX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]{1,15}$").unwrap());

/// The account, region and naming of a stage.
pub struct Identity {
    pub account_id: String,
    pub region: String,
    pub resource_prefix: String,
    pub naming: Naming,
}

/// Checks the account id, region and naming settings; `None` when a required one is missing.
pub fn resolve(s: &StageSettings, r: &mut Required<'_>) -> Option<Identity> {
    let naming = s.naming.clone().unwrap_or_default();
    let account_id = r.get(s.account_id.as_ref(), "account_id");
    let region = r.get(s.region.as_ref(), "region");
    let prefix = r.get(naming.resource_prefix.as_ref(), "naming.resource_prefix");
    let patterns = resolve_patterns(&naming, r);

    if let Some(id) = &account_id
        && !(id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()))
    {
        r.push(
            Finding::error("KP101", &id.location, format!("account id `{}` is not 12 digits", id.value))
                .hint("quote it in YAML (\"012345678901\") so leading zeros survive"),
        );
    }
    if let Some(region) = &region
        && !REGION.is_match(region)
    {
        r.push(
            Finding::error("KP101", &region.location, format!("`{}` is not an AWS region", region.value))
                .hint("e.g. eu-west-1"),
        );
    }
    if let Some(prefix) = &prefix
        && !PREFIX.is_match(prefix)
    {
        r.push(Finding::error("KP101", &prefix.location, format!("resource prefix `{}` is not valid", prefix.value))
            .hint("2 to 16 lowercase letters, digits or '-', starting with a letter (it goes into bucket and stack names)"));
    }
    Some(Identity {
        account_id: account_id?.value,
        region: region?.value,
        resource_prefix: prefix?.value,
        naming: patterns?,
    })
}

/// The three naming patterns, each checked to compile (with `{project}` filled in).
fn resolve_patterns(naming: &NamingSettings, r: &mut Required<'_>) -> Option<Naming> {
    let topic_pattern = r.get(naming.topic_pattern.as_ref(), "naming.topic_pattern");
    let account_pattern = r.get(naming.service_account_pattern.as_ref(), "naming.service_account_pattern");
    let project_pattern = naming
        .project_pattern
        .clone()
        .unwrap_or_else(|| Spanned::generated(NamingSettings::DEFAULT_PROJECT_PATTERN.to_string()));
    for pattern in [&topic_pattern, &account_pattern, &Some(project_pattern.clone())].into_iter().flatten() {
        if let Err(err) = Regex::new(&pattern.replace("{project}", "project")) {
            // The regex crate draws a multi-line caret diagram; its last line is the reason.
            let text = err.to_string();
            let reason = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
            r.push(Finding::error(
                "KP101",
                &pattern.location,
                format!("naming pattern is not a valid regular expression: {reason}"),
            ));
        }
    }
    Some(Naming { topic_pattern: topic_pattern?, service_account_pattern: account_pattern?, project_pattern })
}
