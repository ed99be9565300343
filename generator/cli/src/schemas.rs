//! The Schema Registry part of `gen plan` and `gen apply`: observe the declared subjects, plan
//! them next to the Kafka plan, apply them after it (kafka_reconcile::subjects).

use std::path::{Path, PathBuf};

use kafka_platform_core::desired::DesiredState;
use kafka_reconcile::registry::{BasicAuth, RegistryClient, observe_registry};
use kafka_reconcile::subjects::{SubjectPlan, apply_subjects, headline, plan_subjects, render_text};
use kafka_reconcile::{DeletePolicy, Plan};

/// How to reach the stage's Schema Registry.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Base URL of the Schema Registry's API (the Confluent API), e.g.
    /// `https://schema-registry.kafka.dev.example.internal:8081`. Without it the stage's subjects
    /// are not planned (a note says so).
    #[arg(long, env = "GEN_SCHEMA_REGISTRY_URL")]
    pub schema_registry_url: Option<String>,
    /// PEM CA file for the registry's certificate (default: --ca-file).
    #[arg(long, env = "GEN_SCHEMA_REGISTRY_CA_FILE")]
    pub schema_registry_ca_file: Option<PathBuf>,
    /// Basic-auth user of the registry; needs --schema-registry-password-file.
    #[arg(long, env = "GEN_SCHEMA_REGISTRY_USER", requires = "schema_registry_password_file")]
    pub schema_registry_user: Option<String>,
    /// File holding the password of --schema-registry-user.
    #[arg(long, env = "GEN_SCHEMA_REGISTRY_PASSWORD_FILE", requires = "schema_registry_user")]
    pub schema_registry_password_file: Option<PathBuf>,
}

/// A subject plan and the client that observed it.
pub struct Planned {
    client: RegistryClient,
    /// The plan.
    pub plan: SubjectPlan,
}

/// Observes and plans the stage's subjects. Ok(None) when no registry URL is given (with a
/// note when the stage declares subjects); Err (printed) when the registry cannot be read.
pub async fn plan(
    desired: &DesiredState,
    allow_delete: bool,
    args: &RegistryArgs,
    admin_ca_file: &Path,
) -> Result<Option<Planned>, ()> {
    let Some(url) = &args.schema_registry_url else {
        if !desired.subjects.is_empty() {
            eprintln!(
                "note: {} Schema Registry subject(s) declared but not planned: pass --schema-registry-url",
                desired.subjects.len()
            );
        }
        return Ok(None);
    };
    let client = client(url, args, admin_ca_file).map_err(|e| eprintln!("error: {e}"))?;
    let observed = observe_registry(&client, desired)
        .await
        .map_err(|e| eprintln!("error: cannot read the Schema Registry's state: {e}"))?;
    let deletes = if allow_delete { DeletePolicy::Allow } else { DeletePolicy::Refuse };
    Ok(Some(Planned { client, plan: plan_subjects(desired, &observed, deletes) }))
}

fn client(url: &str, args: &RegistryArgs, default_ca: &Path) -> Result<RegistryClient, String> {
    let ca = if url.starts_with("https://") {
        let file = args.schema_registry_ca_file.as_deref().unwrap_or(default_ca);
        Some(std::fs::read(file).map_err(|e| format!("cannot read the CA file {}: {e}", file.display()))?)
    } else {
        None
    };
    let auth = match (&args.schema_registry_user, &args.schema_registry_password_file) {
        (Some(user), Some(file)) => {
            let password = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read the registry password file {}: {e}", file.display()))?;
            Some(BasicAuth {
                user: user.clone(),
                password: password.trim_end_matches(['\r', '\n']).to_string(),
            })
        }
        _ => None,
    };
    RegistryClient::new(url, ca.as_deref(), auth).map_err(|e| e.to_string())
}

/// The subject plan as text (empty without one).
pub fn text(planned: Option<&Planned>) -> String {
    planned.map(|p| render_text(&p.plan)).unwrap_or_default()
}

/// The subject plan for a pull-request comment.
pub fn markdown(planned: Option<&Planned>) -> String {
    let text = text(planned);
    if text.is_empty() { text } else { format!("\n```\n{text}```\n") }
}

/// The Kafka plan as JSON, with the subject plan under `subjects` when there is one.
pub fn json(plan: &Plan, planned: Option<&Planned>) -> String {
    let mut value = serde_json::to_value(plan).expect("plans serialise");
    if let Some(p) = planned {
        value["subjects"] = serde_json::to_value(&p.plan).expect("plans serialise");
    }
    serde_json::to_string_pretty(&value).expect("plans serialise")
}

/// Refused subject changes.
pub fn refused(planned: Option<&Planned>) -> usize {
    planned.map_or(0, |p| p.plan.refusals.len())
}

/// Subject changes pending.
pub fn pending(planned: Option<&Planned>) -> bool {
    planned.is_some_and(|p| !p.plan.changes.is_empty())
}

/// Applies the subject plan; prints what failed. True when everything was applied.
pub async fn apply(planned: Option<&Planned>) -> bool {
    let Some(p) = planned else { return true };
    if p.plan.changes.is_empty() {
        return true;
    }
    match apply_subjects(&p.client, &p.plan).await {
        Ok(outcomes) => {
            let failed: Vec<_> = outcomes.iter().filter(|o| o.error.is_some()).collect();
            for o in &failed {
                eprintln!(
                    "failed: {}: {}",
                    headline(&o.change.action),
                    o.error.as_deref().unwrap_or_default()
                );
            }
            let deferred: Vec<_> = outcomes.iter().filter_map(|o| o.deferred.as_deref()).collect();
            for note in &deferred {
                eprintln!("deferred: {note}");
            }
            // stderr: with --format json stdout holds one JSON document.
            eprintln!(
                "Subjects: {} applied, {} deferred, {} failed.",
                outcomes.len() - failed.len() - deferred.len(),
                deferred.len(),
                failed.len()
            );
            failed.is_empty()
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}
