//! The Schema Registry half of a run: the desired state's subjects, observed and planned before
//! the Kafka changes (so that an incompatible schema refuses the request before anything is
//! applied) and applied after them, as `gen apply` does (kafka_reconcile::subjects).
//!
//! The registry is reached at the `SchemaRegistryUrl` property; an `https://` registry is verified
//! with the stage chain the reconciler already reads for the brokers. With `SchemaRegistryUser` and
//! `SchemaRegistryPasswordParameter` (an SSM SecureString) every request sends basic auth: the
//! rendered registry's proxy lets only this user write (render::registry_proxy).

use cfn_custom_resource::{Error, Properties, Result};
use kafka_platform_core::desired::DesiredState;
use kafka_reconcile::DeletePolicy;
use kafka_reconcile::registry::{BasicAuth, RegistryClient, observe_registry};
use kafka_reconcile::subjects::{SubjectAction, SubjectPlan, apply_subjects, headline, plan_subjects};

use crate::{MAX_LISTED, more};

/// The registry user and the SSM parameter holding its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    pub user: String,
    pub password_parameter: String,
}

/// `SchemaRegistryUser` with `SchemaRegistryPasswordParameter`: both or neither (empty counts as
/// absent).
pub fn login(p: &Properties) -> Result<Option<RegistryLogin>> {
    let user = p.optional_str("SchemaRegistryUser")?.filter(|u| !u.is_empty());
    let parameter = p.optional_str("SchemaRegistryPasswordParameter")?.filter(|u| !u.is_empty());
    match (user, parameter) {
        (Some(user), Some(password_parameter)) => {
            if user.contains(':') {
                return Err(Error::property("SchemaRegistryUser", "must not contain ':' (basic auth)"));
            }
            Ok(Some(RegistryLogin { user, password_parameter }))
        }
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(Error::property("SchemaRegistryPasswordParameter", "is required with SchemaRegistryUser"))
        }
        (None, Some(_)) => {
            Err(Error::property("SchemaRegistryUser", "is required with SchemaRegistryPasswordParameter"))
        }
    }
}

/// A subject plan and the client that observed it.
pub struct Subjects {
    client: RegistryClient,
    /// The plan; never refused (a refused plan is an error of [`plan`]).
    pub plan: SubjectPlan,
}

/// What a plan changes, by kind (the resource's `Data`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub registered: usize,
    pub compatibility_changed: usize,
    pub deleted: usize,
    pub skipped: usize,
}

impl Counts {
    /// Counts the changes of `plan`.
    pub fn of(plan: &SubjectPlan) -> Counts {
        let mut c = Counts { skipped: plan.skipped.len(), ..Counts::default() };
        for change in &plan.changes {
            match change.action {
                SubjectAction::RegisterSchema { .. } => c.registered += 1,
                SubjectAction::SetCompatibility { .. } => c.compatibility_changed += 1,
                SubjectAction::DeleteSubject { .. } => c.deleted += 1,
            }
        }
        c
    }
}

/// Observes and plans the declared subjects; `Err` when the registry cannot be read or a change is
/// refused (the first few named, each with its subject).
pub async fn plan(
    url: &str,
    ca_pem: &str,
    auth: Option<BasicAuth>,
    desired: &DesiredState,
    deletes: DeletePolicy,
) -> Result<Subjects> {
    let ca = url.starts_with("https://").then_some(ca_pem.as_bytes());
    let client = RegistryClient::new(url, ca, auth)
        .map_err(|e| Error::property("SchemaRegistryUrl", e.to_string()))?;
    let observed = observe_registry(&client, desired)
        .await
        .map_err(|e| Error::Refused(format!("cannot read the Schema Registry's state: {e}")))?;
    let plan = plan_subjects(desired, &observed, deletes);
    for line in kafka_reconcile::subjects::render_text(&plan).lines() {
        tracing::info!("{line}");
    }
    if plan.is_refused() {
        let listed: Vec<String> =
            plan.refusals.iter().take(MAX_LISTED).map(|r| format!("{}: {}", r.subject, r.message)).collect();
        return Err(Error::Refused(format!(
            "{} Schema Registry change(s) refused, nothing applied: {}{}",
            plan.refusals.len(),
            listed.join("; "),
            more(plan.refusals.len())
        )));
    }
    Ok(Subjects { client, plan })
}

impl Subjects {
    /// Applies the plan; `Err` naming the first few failed changes. Returns how many were applied
    /// (a delete left for a later run because other subjects still refer to it is not counted).
    pub async fn apply(&self) -> Result<usize> {
        if self.plan.changes.is_empty() {
            return Ok(0);
        }
        let outcomes = apply_subjects(&self.client, &self.plan).await.map_err(Error::Refused)?;
        for note in outcomes.iter().filter_map(|o| o.deferred.as_deref()) {
            tracing::info!("deferred: {note}");
        }
        let failed: Vec<_> = outcomes.iter().filter(|o| o.error.is_some()).collect();
        for f in &failed {
            tracing::error!(change = %headline(&f.change.action), error = ?f.error, "subject change failed");
        }
        if !failed.is_empty() {
            let listed: Vec<String> = failed
                .iter()
                .take(MAX_LISTED)
                .map(|f| format!("{}: {}", headline(&f.change.action), f.error.as_deref().unwrap_or("")))
                .collect();
            return Err(Error::Refused(format!(
                "{} of {} Schema Registry change(s) failed (the Kafka changes were applied; a retry \
                 applies only what is missing): {}{}",
                failed.len(),
                outcomes.len(),
                listed.join("; "),
                more(failed.len())
            )));
        }
        Ok(outcomes.iter().filter(|o| o.deferred.is_none()).count())
    }
}
