//! Grant records and debug credentials in SSM, under the stage's `debug` parameter tree
//! (`/<prefix>/<stage>/debug/<id>/grant`: String, the JSON [`GrantRecord`];
//! `/<prefix>/<stage>/debug/<id>/credential`: SecureString, the password alone). Reading and
//! deleting only: the reconciler Lambda uses this and never writes a grant (`gen access` does).

use aws_sdk_ssm::error::DisplayErrorContext;

use super::{GrantRecord, ObservedGrants};
use crate::apply::ApplyReport;
use crate::plan::Action;

/// The record parameter of grant `id` under `prefix`.
pub fn record_name(prefix: &str, id: &str) -> String {
    format!("{prefix}/{id}/grant")
}

/// The credential parameter of grant `id` under `prefix`.
pub fn credential_name(prefix: &str, id: &str) -> String {
    format!("{prefix}/{id}/credential")
}

/// The `debug` tree of a stage's parameter root (`/kafka/dev` -> `/kafka/dev/debug`).
pub fn tree(parameter_root: &str) -> String {
    format!("{}/debug", parameter_root.trim_end_matches('/'))
}

/// SSM access to one stage's grants.
#[derive(Debug, Clone)]
pub struct GrantStore {
    ssm: aws_sdk_ssm::Client,
    prefix: String,
}

impl GrantStore {
    /// The grants under `prefix` (see [`tree`]).
    pub fn new(ssm: aws_sdk_ssm::Client, prefix: impl Into<String>) -> Self {
        GrantStore { ssm, prefix: prefix.into() }
    }

    /// Every record. An unreadable tree or record is an error: the caller then plans nothing about
    /// debug identities rather than take a live grant for a leftover.
    pub async fn list(&self) -> Result<ObservedGrants, String> {
        let mut records = Vec::new();
        let mut pages =
            self.ssm.get_parameters_by_path().path(&self.prefix).recursive(true).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                format!("cannot list SSM parameters under {}: {}", self.prefix, DisplayErrorContext(&e))
            })?;
            for p in page.parameters.unwrap_or_default() {
                let name = p.name.unwrap_or_default();
                if !name.ends_with("/grant") {
                    continue;
                }
                let record: GrantRecord = serde_json::from_str(p.value.as_deref().unwrap_or_default())
                    .map_err(|e| format!("grant record {name} is not readable: {e}"))?;
                if record_name(&self.prefix, &record.id) != name {
                    return Err(format!("grant record {name} names another grant ({})", record.id));
                }
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ObservedGrants { prefix: self.prefix.clone(), records })
    }
}

/// After an apply: deletes the parameters of every grant whose Kafka part was removed (the names
/// are in each [`Action::ExpireGrant`]). A grant whose ACLs or credential could not be removed
/// keeps its record, so the next run tries again; so does one whose parameters could not be deleted.
pub async fn remove_expired(ssm: &aws_sdk_ssm::Client, report: &ApplyReport) -> Vec<String> {
    let mut errors = Vec::new();
    for outcome in report.outcomes.iter().filter(|o| o.error.is_none()) {
        if let Action::ExpireGrant { parameters, .. } = &outcome.change.action
            && let Err(e) = delete(ssm, parameters).await
        {
            errors.push(e);
        }
    }
    errors
}

/// Deletes parameters; names that do not exist count as deleted.
async fn delete(ssm: &aws_sdk_ssm::Client, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    ssm.delete_parameters()
        .set_names(Some(names.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot delete {}: {}", names.join(", "), DisplayErrorContext(&e)))
}
