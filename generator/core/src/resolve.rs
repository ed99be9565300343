//! Resolution of one stage: merge the stage file over the defaults, check the cluster settings,
//! and build the [`StageModel`] with the stage's projects, topics, accounts and ACLs.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Declarations;
use crate::config::merge::Merge;
use crate::config::stage::*;
use crate::diagnostics::{Finding, Findings};
use crate::model::*;
use crate::span::{Location, Spanned};
use crate::validate::{cluster as cluster_rules, projects as project_rules};

/// Resolves `stage`. Returns the model when no error was found, and every finding either way.
pub fn resolve_stage(declarations: &Declarations, stage: StageName) -> (Option<StageModel>, Findings) {
    let mut findings = Findings::default();
    let Some(stage_file) = declarations.stages.get(&stage) else {
        findings.push(
            Finding::error("KP003", &Location::default(), format!("no stage file for `{stage}`"))
                .hint(format!("create {}/stages/{stage}.yaml", declarations.root.display())),
        );
        return (None, findings);
    };
    let defaults = declarations.defaults.as_ref().map(|d| d.value.clone()).unwrap_or_default();
    let settings = stage_file.value.clone().merge(defaults);
    let file_location = Location::file_start(&stage_file.path);

    match &stage_file.value.stage {
        None => findings.push(
            Finding::error("KP100", &file_location, "missing required setting `stage`")
                .hint(format!("add `stage: {stage}` at the top of the file")),
        ),
        Some(declared) if declared.value != stage => findings.push(
            Finding::error(
                "KP114",
                &declared.location,
                format!("`stage: {}` in the file for stage `{stage}`", declared.value),
            )
            .hint("the stage name must match the file name"),
        ),
        Some(_) => {}
    }

    let mut required = Required { file: &stage_file.path, findings: &mut findings };
    let base = cluster_rules::resolve_infrastructure(stage, &settings, &mut required);
    let Some(mut model) = base else {
        return (None, findings);
    };
    project_rules::resolve_projects(declarations, &mut model, &mut findings);
    crate::validate::subjects::resolve_subjects(declarations, &mut model, &mut findings);
    crate::validate::cluster::check_account_rotations(&model, &mut findings);
    if findings.has_errors() { (None, findings) } else { (Some(model), findings) }
}

/// Whether `stage` can be resolved although some files did not parse: its own file and the
/// defaults under it must have parsed (the failures are reported already).
pub fn resolvable(declarations: &Declarations, stage: StageName) -> bool {
    let defaults_failed = declarations.unparsed.iter().any(|p| p == &declarations.root.join("defaults.yaml"));
    let stage_failed = declarations.unparsed.iter().any(|p| {
        p.parent().is_some_and(|d| d.ends_with("stages"))
            && p.file_stem().is_some_and(|s| s == stage.as_str())
    });
    !defaults_failed && !stage_failed
}

/// Reads required settings, reporting each missing one once.
pub struct Required<'a> {
    pub file: &'a Path,
    pub findings: &'a mut Findings,
}

impl Required<'_> {
    /// The value of a required setting, or a KP100 finding.
    pub fn get<T: Clone>(&mut self, value: Option<&Spanned<T>>, key: &str) -> Option<Spanned<T>> {
        if value.is_none() {
            self.findings.push(
                Finding::error(
                    "KP100",
                    &Location::file_start(self.file),
                    format!("missing required setting `{key}`"),
                )
                .hint("set it in this stage file or in defaults.yaml"),
            );
        }
        value.cloned()
    }

    /// Records a finding.
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// The stage file's first position (for findings about absent values).
    pub fn file_location(&self) -> Location {
        Location::file_start(self.file)
    }
}

/// The tags of a stage as plain strings.
pub fn plain_tags(tags: &Option<BTreeMap<String, Spanned<String>>>) -> BTreeMap<String, String> {
    tags.iter().flatten().map(|(k, v)| (k.clone(), v.value.clone())).collect()
}
