//! `gen access`: temporary debug access to one project's topics (docs/operators-guide.md,
//! "Temporary debug access"). The rules (TTL bounds, approver, ACL set, expiry) are pure in
//! `kafka_reconcile::grants`; this module does the I/O: STS (who asks), SSM (record and
//! credential), Kafka (the identity and its ACLs).

mod shell;

use std::path::Path;
use std::process::ExitCode;

use aws_sdk_ssm::types::ParameterType;
use kafka_admin::{AdminClient, ScramMechanism, ScramUpsert, Secret};
use kafka_platform_core::StageName;
use kafka_platform_core::model::StageModel;
use kafka_reconcile::grants::ObservedGrants;
use kafka_reconcile::grants::store::{self, GrantStore};
use kafka_reconcile::grants::{self, GrantRecord, WriteApproval};
use kafka_reconcile::{Action, ApplyReport, ObservedState, PasswordSource, Plan};

use crate::output::{OutputFormat, print_json};
use crate::plan::ConnectionArgs;

/// Arguments of `gen access`.
#[derive(Debug, clap::Args)]
pub struct AccessArgs {
    #[command(subcommand)]
    command: AccessCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AccessCommand {
    /// Create a temporary SCRAM identity (`debug.<project>.<id>`) with read ACLs on a project's
    /// topics; its credential goes to SSM, never to the terminal. The reconciler removes it at expiry.
    Grant(GrantArgs),
    /// List the stage's grants (active and expired-but-not-yet-removed).
    List(ListArgs),
    /// Remove a grant now: its ACLs, its credential, its SSM parameters.
    Revoke(RevokeArgs),
    /// Print the commands that start the stage's debug task with a grant's credential and attach
    /// to it (nothing is run).
    Shell(ShellArgs),
}

/// Arguments of `gen access grant`.
#[derive(Debug, clap::Args)]
struct GrantArgs {
    /// Stage.
    #[arg(value_parser = crate::validate::parse_stage)]
    stage: StageName,
    /// The project whose topics the identity may read.
    #[arg(long)]
    project: String,
    /// Only these topics of the project (comma-separated); default: all of them.
    #[arg(long, value_delimiter = ',')]
    topics: Vec<String>,
    /// Write (and Describe) on the topics too; in acc and prod only with --approver.
    #[arg(long)]
    write: bool,
    /// How long, e.g. 30m, 2h, 1h30m (5m to 24h).
    #[arg(long)]
    ttl: String,
    /// Why the access is needed (recorded).
    #[arg(long)]
    reason: String,
    /// A person from the stage file's `debug_access.approvers` who approved a write grant; not
    /// the requester.
    #[arg(long)]
    approver: Option<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `gen access list`.
#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Stage.
    #[arg(value_parser = crate::validate::parse_stage)]
    stage: StageName,
    /// `json`: the grant records as one JSON document.
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
}

/// Arguments of `gen access revoke`.
#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// Stage.
    #[arg(value_parser = crate::validate::parse_stage)]
    stage: StageName,
    /// The grant id `gen access grant` printed (`<project>.<8 hex digits>`).
    grant_id: String,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `gen access shell`.
#[derive(Debug, clap::Args)]
struct ShellArgs {
    /// Stage.
    #[arg(value_parser = crate::validate::parse_stage)]
    stage: StageName,
    /// The grant id.
    grant_id: String,
    /// `json`: the commands as one JSON document.
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
}

/// `gen access ...`; exit 0 on success, 1 otherwise.
pub async fn run(environments: &Path, args: &AccessArgs) -> ExitCode {
    let result = match &args.command {
        AccessCommand::Grant(a) => grant(environments, a).await,
        AccessCommand::List(a) => list(environments, a).await,
        AccessCommand::Revoke(a) => revoke(environments, a).await,
        AccessCommand::Shell(a) => shell::run(environments, a.stage, &a.grant_id, a.format).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// For `gen plan`/`gen apply`: the stage's grants, read when an AWS region is configured. Without
/// them (`None`) the plan leaves debug identities alone, as it cannot tell live ones from leftovers.
pub(crate) async fn observe_grants(prefix: &str, aws: bool) -> Option<ObservedGrants> {
    if !aws {
        return None;
    }
    match GrantStore::new(ssm().await, prefix).list().await {
        Ok(grants) => Some(grants),
        Err(e) => {
            eprintln!("warning: debug grants not planned: {e}");
            None
        }
    }
}

/// After `gen apply`: deletes the SSM parameters of the grants it expired; false when one failed.
pub(crate) async fn remove_expired(report: &ApplyReport) -> bool {
    if !report.outcomes.iter().any(|o| matches!(o.change.action, Action::ExpireGrant { .. })) {
        return true;
    }
    let errors = store::remove_expired(&ssm().await, report).await;
    for e in &errors {
        eprintln!("failed: {e}");
    }
    errors.is_empty()
}

/// The stage's model, or the reason it does not validate.
fn model(environments: &Path, stage: StageName) -> Result<StageModel, String> {
    let (mut models, findings) = kafka_platform_core::load_and_resolve(environments, &[stage]);
    match models.remove(&stage) {
        Some(model) if !findings.iter().any(|f| f.is_error()) => Ok(model),
        _ => {
            crate::diagnostics::print_findings(&findings, crate::diagnostics::FindingFormat::Text);
            Err(format!("stage {stage} does not validate; run `gen validate {stage}`"))
        }
    }
}

async fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&crate::aws::sdk_config(None).await)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `n` bytes from the operating system's random source.
fn random<const N: usize>() -> Result<[u8; N], String> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes)
}

/// Who asks: the AWS caller identity's ARN, and every name the requester goes by.
async fn requester() -> Result<(String, Vec<String>, Option<String>), String> {
    let config = crate::aws::sdk_config(None).await;
    let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.map_err(|e| {
        format!(
            "cannot tell who you are (sts:GetCallerIdentity): {}; a grant records its requester",
            aws_sdk_sts::error::DisplayErrorContext(&e)
        )
    })?;
    let arn = identity.arn.unwrap_or_else(|| "unknown".into());
    let local = std::env::var("USER").ok().filter(|u| !u.is_empty());
    let names = grants::caller_name(&arn).map(str::to_string).into_iter().chain(local.clone()).collect();
    Ok((arn, names, local))
}

async fn grant(environments: &Path, a: &GrantArgs) -> Result<(), String> {
    let model = model(environments, a.stage)?;
    if !model.projects.iter().any(|p| p.name == a.project) {
        return Err(format!("project {} is not declared in stage {}", a.project, a.stage));
    }
    let own: Vec<String> =
        model.topics.iter().filter(|t| t.project == a.project).map(|t| t.name.value.clone()).collect();
    let topics = grants::grant_topics(&a.topics, &a.project, &own)?;
    let ttl = grants::parse_ttl(&a.ttl)?;
    let reason = a.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err("--reason must say why, on one line of at most 500 characters".into());
    }
    let (requested_by, names, local_user) = requester().await?;
    if a.write {
        grants::check_write(WriteApproval {
            production_like: model.production_like(),
            approver: a.approver.as_deref(),
            approvers: &model.debug_approvers,
            requester: &names,
        })?;
    } else if a.approver.is_some() {
        return Err("--approver approves write access; a read grant needs none".into());
    }
    let created_at = now();
    let record = GrantRecord {
        id: grants::new_id(&a.project, random::<4>()?),
        stage: a.stage.to_string(),
        project: a.project.clone(),
        topics,
        write: a.write,
        reason: reason.to_string(),
        requested_by,
        local_user,
        approver: a.approver.clone(),
        created_at,
        expires_at: created_at + ttl,
    };
    let password = Secret::new(random::<24>()?.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let ssm = ssm().await;
    let tree = store::tree(&model.parameter_root());
    let (record_parameter, credential_parameter) =
        (store::record_name(&tree, &record.id), store::credential_name(&tree, &record.id));
    // The record first: a reconciler that sees the identity always finds its record (it reads
    // the records after the cluster), and a grant that fails half-way still expires.
    let description = format!("debug grant {} until {} UTC", record.id, grants::utc(record.expires_at));
    let json = serde_json::to_string(&record).map_err(|e| e.to_string())?;
    put(&ssm, &record_parameter, &json, ParameterType::String, &description).await?;
    put(&ssm, &credential_parameter, password.expose(), ParameterType::SecureString, &description).await?;
    let stage = crate::plan::load_desired(environments, a.stage).ok_or("the stage does not validate")?;
    let client = AdminClient::connect(crate::plan::admin_config(&stage, &a.connection)?)
        .await
        .map_err(|e| e.to_string())?;
    let result = create_identity(&client, &record, password).await;
    client.close().await;
    if let Err(e) = result {
        return Err(format!(
            "{e}; the grant {} is recorded and the reconciler removes what was created at its expiry, or \
             run `gen access revoke {} {}`",
            record.id, a.stage, record.id
        ));
    }
    println!("granted {} to user {} until {} UTC", record.id, record.user(), grants::utc(record.expires_at));
    println!(
        "  topics: {} ({})",
        record.topics.join(", "),
        if record.write { "read, write" } else { "read" }
    );
    println!("  consumer groups: {}*", record.group_prefix());
    println!("  credential: SSM {credential_parameter} (SecureString)");
    println!("  record: SSM {record_parameter}");
    println!("next: gen access shell {} {}", a.stage, record.id);
    Ok(())
}

/// Writes a new parameter (never overwrites one); the error names the parameter, never the value.
async fn put(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    value: &str,
    kind: ParameterType,
    description: &str,
) -> Result<(), String> {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(false)
        .description(description)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot write {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(&e)))
}

async fn create_identity(client: &AdminClient, record: &GrantRecord, password: Secret) -> Result<(), String> {
    let upsert = ScramUpsert {
        user: record.user(),
        mechanism: ScramMechanism::Sha512,
        iterations: kafka_admin::DEFAULT_SCRAM_ITERATIONS,
        password,
    };
    for r in client.alter_user_scram_credentials(&[upsert], &[]).await {
        r.map_err(|e| format!("cannot create the SCRAM credential of {}: {e}", record.user()))?;
    }
    let acls: Vec<_> = record.acls().into_iter().collect();
    for r in client.create_acls(&acls).await {
        r.map_err(|e| format!("cannot create the ACLs of {}: {e}", record.user()))?;
    }
    Ok(())
}

/// What `gen access list --format json` prints.
#[derive(serde::Serialize)]
struct ListJson {
    command: &'static str,
    stage: StageName,
    now: u64,
    grants: Vec<GrantJson>,
}

#[derive(serde::Serialize)]
struct GrantJson {
    #[serde(flatten)]
    record: GrantRecord,
    user: String,
    expired: bool,
}

async fn list(environments: &Path, a: &ListArgs) -> Result<(), String> {
    let model = model(environments, a.stage)?;
    let observed = GrantStore::new(ssm().await, store::tree(&model.parameter_root())).list().await?;
    let now = now();
    if a.format == OutputFormat::Json {
        let grants = observed
            .records
            .into_iter()
            .map(|r| GrantJson { user: r.user(), expired: r.is_expired(now), record: r })
            .collect();
        print_json(&ListJson { command: "access list", stage: a.stage, now, grants });
        return Ok(());
    }
    if observed.records.is_empty() {
        println!("no debug grants in stage {}", a.stage);
    }
    for r in &observed.records {
        let state = if r.is_expired(now) { "expired, removed by the next reconciler run" } else { "active" };
        println!("{}  {} until {} UTC ({state})", r.id, r.user(), grants::utc(r.expires_at));
        println!("    {} on {}", if r.write { "read, write" } else { "read" }, r.topics.join(", "));
        println!("    by {} ({}): {}", r.requested_by, r.local_user.as_deref().unwrap_or("-"), r.reason);
        if let Some(approver) = &r.approver {
            println!("    approved by {approver}");
        }
    }
    Ok(())
}

/// Revoking is expiring now: the same plan step the reconciler takes at expiry, for one grant.
async fn revoke(environments: &Path, a: &RevokeArgs) -> Result<(), String> {
    if !grants::is_valid_id(&a.grant_id) {
        return Err(format!(
            "`{}` is not a grant id (`<project>.<8 hex digits>`, see `gen access list`)",
            a.grant_id
        ));
    }
    let model = model(environments, a.stage)?;
    let ssm = ssm().await;
    let stage = crate::plan::load_desired(environments, a.stage).ok_or("the stage does not validate")?;
    let client = AdminClient::connect(crate::plan::admin_config(&stage, &a.connection)?)
        .await
        .map_err(|e| e.to_string())?;
    let result = revoke_on(&client, &ssm, &model, &a.grant_id).await;
    client.close().await;
    let removed = result?;
    println!("revoked {}: {removed}", a.grant_id);
    Ok(())
}

async fn revoke_on(
    client: &AdminClient,
    ssm: &aws_sdk_ssm::Client,
    model: &StageModel,
    id: &str,
) -> Result<String, String> {
    let mut observed: ObservedState =
        kafka_reconcile::observe(client, &kafka_platform_core::desired::desired_state(model))
            .await
            .map_err(|e| format!("cannot read the cluster's state: {e}"))?;
    let mut grants = GrantStore::new(ssm.clone(), store::tree(&model.parameter_root())).list().await?;
    let known = grants.records.iter().any(|r| r.id == id);
    grants.records.retain(|r| r.id == id);
    observed.grants = Some(grants);
    let user = grants::user_of(id);
    let changes: Vec<_> = grants::plan_grants(observed.grants.as_ref(), &observed, u64::MAX)
        .into_iter()
        .filter(|(action, _)| matches!(action, kafka_reconcile::Action::ExpireGrant { user: u, .. } if *u == user))
        .map(|(action, reason)| kafka_reconcile::Change { action, reason: format!("revoked ({reason})") })
        .collect();
    if changes.is_empty() {
        return Err(format!(
            "no grant {id} in stage {} (no record, no identity on the cluster)",
            model.stage
        ));
    }
    let summary = kafka_reconcile::render::headline(&changes[0]);
    let plan = Plan { stage: model.stage.to_string(), changes, refusals: Vec::new(), skipped: Vec::new() };
    let unavailable = PasswordSource::Unavailable("revoking writes no credential".into());
    let report = kafka_reconcile::apply(client, &plan, &unavailable).await.map_err(|e| e.to_string())?;
    if let Some(failed) = report.failed().next() {
        return Err(format!("{}: {}", summary, failed.error.as_deref().unwrap_or_default()));
    }
    let errors = store::remove_expired(ssm, &report).await;
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(if known { summary } else { format!("{summary} (it had no record)") })
}
