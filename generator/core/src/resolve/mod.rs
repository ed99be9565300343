//! Resolution of one stage: merge the stage file over the defaults, resolve each section of it
//! into its part of the [`StageModel`] (one module per section, in the stage file's order), then
//! add the stage's projects, topics, accounts and ACLs (`validate`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Declarations;
use crate::config::merge::Merge;
use crate::config::stage::*;
use crate::diagnostics::{Finding, Findings};
use crate::model::*;
use crate::span::{Location, Spanned};
use crate::validate::{projects as project_rules, subjects as subject_rules};

pub mod certificate_authority;
pub mod certificates;
pub mod cidr_policy;
pub mod cluster;
pub mod dns;
pub mod logs;
pub mod monitoring;
pub mod naming;
pub mod network;
pub mod passwords;
pub mod private_link;
pub mod public_endpoint;
pub mod schema_registry;
pub mod topic_policy;

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
    let Some(mut model) = resolve_settings(stage, &settings, &mut required) else {
        return (None, findings);
    };
    project_rules::resolve_projects(declarations, &mut model, &mut findings);
    subject_rules::resolve_subjects(declarations, &mut model, &mut findings);
    passwords::check_account_rotations(&model, &mut findings);
    if findings.has_errors() { (None, findings) } else { (Some(model), findings) }
}

/// Builds the infrastructure part of the model (no projects yet) from the merged settings, each
/// section by its resolver; every section is checked even when another lacks a required setting.
pub fn resolve_settings(stage: StageName, s: &StageSettings, r: &mut Required<'_>) -> Option<StageModel> {
    let network_settings = s.network.clone().unwrap_or_default();
    let cluster_settings = s.cluster.clone().unwrap_or_default();
    let declared_brokers = cluster_settings.brokers.as_ref().map(|b| b.value);
    let kafka_image = cluster_settings.image.clone().unwrap_or_default();
    let subnet_count = network_settings.subnet_ids.as_ref().map_or(1, |s| s.value.len().max(1));

    let identity = naming::resolve(s, r);
    let bounds = cidr_policy::resolve(s.cidr_policy.as_ref(), r);
    let network =
        network::resolve(&network_settings, s.region.as_ref(), bounds.client, stage.production_like(), r);
    let dns_zone = dns::resolve(s.dns.as_ref(), r);
    let cluster = cluster::resolve(&cluster_settings, stage, subnet_count, dns_zone.as_deref(), r);
    let schema_registry =
        schema_registry::resolve(s.schema_registry.as_ref(), stage, kafka_image.tag.as_ref(), r);
    let public_endpoint =
        public_endpoint::resolve(s.public_endpoint.as_ref(), bounds.public, declared_brokers, r);
    let private_link = private_link::resolve(s.private_link.as_ref(), bounds.client, r);
    let ca = certificate_authority::resolve(s.certificate_authority.as_ref(), stage, r);
    let certificates = certificates::resolve(s.certificates.as_ref(), r);
    let passwords = passwords::resolve(s.passwords.as_ref(), r);
    let log_retention_days = logs::resolve(s.logs.as_ref(), r);
    network::check_egress(
        stage,
        &network_settings,
        {
            let [registry, proxy] = schema_registry::repositories(s.schema_registry.as_ref());
            [kafka_image.repository.as_ref(), registry, proxy]
        },
        r,
    );
    let monitoring = monitoring::resolve(s.monitoring.as_ref(), r);
    let topic_policy = topic_policy::resolve(s.topic_policy.as_ref(), declared_brokers, r);

    // Everything required must be there to build a model.
    let identity = identity?;
    Some(StageModel {
        stage,
        account_id: identity.account_id,
        region: identity.region,
        resource_prefix: identity.resource_prefix,
        network: network?,
        cluster: cluster?,
        schema_registry,
        dns_zone: dns_zone?,
        public_endpoint,
        private_link,
        ca: ca?,
        certificates,
        passwords,
        log_retention_days,
        topic_policy: topic_policy?,
        naming: identity.naming,
        allow_delete: s.reconciler.as_ref().and_then(|rc| rc.allow_delete.as_ref()).is_some_and(|a| a.value),
        monitoring,
        debug_approvers: s
            .debug_access
            .as_ref()
            .and_then(|d| d.approvers.as_ref())
            .map(|list| list.value.iter().map(|a| a.value.clone()).collect())
            .unwrap_or_default(),
        tags: plain_tags(&s.tags),
        projects: Vec::new(),
        topics: Vec::new(),
        service_accounts: Vec::new(),
        acls: Vec::new(),
    })
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
