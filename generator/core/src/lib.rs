//! The pure core of the Kafka platform: declarations -> validated model -> CloudFormation templates,
//! and desired state for the reconciler. No network, no async.

pub mod catalog;
pub mod config;
pub mod credential;
pub mod desired;
pub mod diagnostics;
pub mod digest;
pub mod manifest;
pub mod model;
pub mod render;
pub mod resolve;
pub mod scaffold;
pub mod schema;
pub mod span;
pub mod validate;

pub use config::stage::StageName;
pub use diagnostics::{Finding, Findings, ReportStyle, Severity};
pub use model::StageModel;

use std::collections::BTreeMap;
use std::path::Path;

/// Loads `root` and resolves `stages` (all declared stages when empty), returning the models of
/// the stages without errors and every finding, sorted by place.
pub fn load_and_resolve(
    root: &Path,
    stages: &[StageName],
) -> (BTreeMap<StageName, StageModel>, Vec<Finding>) {
    let (declarations, mut findings) = config::load(root);
    let stages: Vec<StageName> =
        if stages.is_empty() { declarations.stages.keys().copied().collect() } else { stages.to_vec() };
    let load_failed = findings.has_errors();
    let mut models = BTreeMap::new();
    for stage in stages {
        // Every file that parsed is still checked, so that fixes do not come in rounds; only a
        // stage whose own file (or the defaults under it) did not parse cannot be.
        if !resolve::resolvable(&declarations, stage) {
            continue;
        }
        let (model, stage_findings) = resolve::resolve_stage(&declarations, stage);
        findings.extend(stage_findings.0);
        if let Some(model) = model
            && !load_failed
        {
            models.insert(stage, model);
        }
    }
    (models, findings.sorted())
}
