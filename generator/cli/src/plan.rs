//! `gen plan` and `gen apply`: compare a stage's declared topics, ACLs and SCRAM accounts with a
//! live cluster, show the plan, and apply it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kafka_admin::{AdminClient, AdminConfig, ScramMechanism, TlsConfig};
use kafka_platform_core::StageName;
use kafka_platform_core::desired::{DesiredState, desired_state};
use kafka_platform_core::model::ports;
use kafka_reconcile::{
    Action, ApplyReport, DeletePolicy, Pace, PasswordSource, Plan, PlanOptions, ScramSync, render,
};
use tracing::Instrument;

use crate::deploy::confirm::{self, Confirmation};
use crate::diagnostics::{FindingFormat, print_findings};
use crate::output::{OutputFormat, print_json};
use crate::schemas;

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like: `+ create`, `~ update`, `- delete`, each with its reason.
    Text,
    /// The plan as JSON (typed actions, refusals, skipped changes).
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
}

/// How to reach the cluster as its administrator, and where SCRAM account passwords come from.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Bootstrap servers, `host:port[,host:port...]`; default: the stage's internal mTLS bootstrap.
    #[arg(long, env = "GEN_KAFKA_BOOTSTRAP")]
    pub bootstrap: Option<String>,
    /// PEM file with the CA certificates the brokers' certificates are checked against.
    #[arg(long, env = "GEN_KAFKA_CA_FILE")]
    pub ca_file: PathBuf,
    /// How the admin logs in.
    #[command(flatten)]
    pub login: AdminLoginArgs,
    /// YAML or JSON mapping of service account -> password for SCRAM accounts; without it the
    /// passwords are read from the SSM parameters the platform wrote (AWS credentials needed).
    #[arg(long, env = "GEN_SCRAM_PASSWORDS_FILE")]
    pub scram_passwords_file: Option<PathBuf>,
    /// Write the SCRAM credential of every SCRAM account again, not only missing or outdated
    /// ones (rotations need no flag: see docs/operators-guide.md, "Credential rotation").
    #[arg(long)]
    pub sync_scram_passwords: bool,
    #[command(flatten)]
    pub registry: crate::schemas::RegistryArgs,
}

/// Arguments of `gen plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Stage to plan.
    #[arg(value_parser = crate::validate::parse_stage)]
    pub stage: StageName,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Exit 2 when changes are pending (0: none, 1: error or refused changes).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan deletes of managed topics and resets of topic configs that are no longer declared
    /// (otherwise they are refused); the stage must allow deletes too.
    #[arg(long)]
    pub allow_delete: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Arguments of `gen apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Stage to apply.
    #[arg(value_parser = crate::validate::parse_stage)]
    pub stage: StageName,
    /// Delete managed topics and reset topic configs that are no longer declared (the stage must
    /// allow deletes too). Without it such changes are refused and nothing is applied.
    #[arg(long)]
    pub allow_delete: bool,
    /// Apply without asking (for pipelines). Without it a terminal is asked; with no terminal
    /// nothing is applied.
    #[arg(long)]
    pub yes: bool,
    /// `json`: one document on stdout (the plan, each change's outcome, the counts); the plan
    /// for people then goes to stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Return once the changes are written, without waiting for every broker to serve them (a
    /// plan right after may then still show some of them).
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait, after writing, for every broker to serve the changes (seconds); past it
    /// apply fails, naming what is still missing where.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// What `gen apply --format json` prints.
#[derive(Debug, serde::Serialize)]
struct ApplyJson {
    command: &'static str,
    stage: StageName,
    /// Everything planned was applied (or nothing needed to be).
    ok: bool,
    /// The plan as `gen plan --format json` prints it; none when the cluster could not be read.
    plan: Option<serde_json::Value>,
    applied: usize,
    failed: usize,
    /// Kafka requests the apply sent.
    requests: u64,
    /// Kafka requests that read the cluster before planning (connecting included).
    observe_requests: u64,
    /// Whether every broker served the applied changes within --wait-timeout; null with
    /// --no-wait or when nothing was applied.
    served: Option<bool>,
    /// Kafka requests the wait sent.
    wait_requests: u64,
    /// Each change with its outcome (an error for the failed ones).
    outcomes: Vec<serde_json::Value>,
}

/// Lines for people: stdout, or stderr when stdout carries the JSON document.
fn say(format: OutputFormat, text: &str) {
    match format {
        OutputFormat::Text => print!("{text}"),
        OutputFormat::Json => eprint!("{text}"),
    }
}

/// `gen plan`: prints the plan; exit 0 (no changes or, without --detailed-exitcode, changes),
/// 2 (changes pending, with --detailed-exitcode) or 1 (error, or refused changes).
pub async fn run_plan(environments: &Path, args: &PlanArgs) -> ExitCode {
    let Some((client, plan, desired)) =
        plan_desired(environments, args.stage, args.allow_delete, &args.connection).await
    else {
        return ExitCode::FAILURE;
    };
    client.close().await;
    let Ok(subjects) =
        schemas::plan(&desired, args.allow_delete, &args.connection.registry, &args.connection.ca_file).await
    else {
        return ExitCode::FAILURE;
    };
    let subjects = subjects.as_ref();
    match args.format {
        PlanFormat::Text => print!("{}{}", render::text(&plan), schemas::text(subjects)),
        PlanFormat::Markdown => print!("{}{}", render::markdown(&plan), schemas::markdown(subjects)),
        PlanFormat::Json => println!("{}", schemas::json(&plan, subjects)),
    }
    let refused = plan.refusals.len() + schemas::refused(subjects);
    if refused > 0 {
        if args.format != PlanFormat::Text || !plan.is_refused() {
            eprintln!("error: {refused} change(s) refused; see the plan");
        }
        ExitCode::FAILURE
    } else if args.detailed_exitcode && (!plan.changes.is_empty() || schemas::pending(subjects)) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// `gen apply`: plans, shows the plan, asks (unless --yes), applies, and reports every change
/// that failed. Exit 0 when everything was applied, 1 otherwise.
pub async fn run_apply(environments: &Path, args: &ApplyArgs) -> ExitCode {
    let mut json = ApplyJson {
        command: "apply",
        stage: args.stage,
        ok: false,
        plan: None,
        applied: 0,
        failed: 0,
        requests: 0,
        observe_requests: 0,
        served: None,
        wait_requests: 0,
        outcomes: Vec::new(),
    };
    let (code, ok) = apply_stage(environments, args, &mut json).await;
    if args.format == OutputFormat::Json {
        json.ok = ok;
        print_json(&json);
    }
    code
}

/// `gen apply`; the flag says whether everything planned was applied.
async fn apply_stage(environments: &Path, args: &ApplyArgs, json: &mut ApplyJson) -> (ExitCode, bool) {
    let Some((client, plan, desired)) =
        plan_desired(environments, args.stage, args.allow_delete, &args.connection).await
    else {
        return (ExitCode::FAILURE, false);
    };
    json.observe_requests = client.request_stats().total;
    say(args.format, &render::text(&plan));
    json.plan = serde_json::to_value(&plan).ok();
    let Ok(subjects) =
        schemas::plan(&desired, args.allow_delete, &args.connection.registry, &args.connection.ca_file).await
    else {
        client.close().await;
        return (ExitCode::FAILURE, false);
    };
    let subjects = subjects.as_ref();
    say(args.format, &schemas::text(subjects));
    let refused = plan.refusals.len() + schemas::refused(subjects);
    if refused > 0 {
        eprintln!("error: nothing applied: {refused} change(s) refused (see above)");
        client.close().await;
        return (ExitCode::FAILURE, false);
    }
    if plan.changes.is_empty() && !schemas::pending(subjects) {
        client.close().await;
        return (ExitCode::SUCCESS, true);
    }
    if !confirmed(args.stage, args.yes) {
        client.close().await;
        return (ExitCode::FAILURE, false);
    }
    let passwords = match password_source(&plan, &args.connection).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            client.close().await;
            return (ExitCode::FAILURE, false);
        }
    };
    let before = client.request_stats().total;
    let timeout = Duration::from_secs(args.wait_timeout);
    // Without the wait every write goes at once; with it, the grants first and the topics once
    // brokers serve them (docs/reconcile.md: that gets brokers serving everything soonest).
    let pace = if args.no_wait { Pace::AllAtOnce } else { Pace::GrantsServedFirst(timeout) };
    let mut progress = ProgressLines::new(timeout, "before writing topics");
    let result = kafka_reconcile::apply_paced(&client, &plan, &passwords, pace, |p| progress.show(p))
        .instrument(tracing::debug_span!("apply"))
        .await;
    let requests = client.request_stats().total - before;
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            client.close().await;
            eprintln!("error: {e}");
            return (ExitCode::FAILURE, false);
        }
    };
    if let Some(grants) = report.grants_served.as_ref().filter(|g| g.waited) {
        if grants.converged() {
            eprintln!("grants first: {}", grants.last);
        } else {
            eprintln!(
                "warning: topics written although not every broker serves the grants yet: {}",
                grants.last
            );
        }
    }
    let served = if args.no_wait {
        None
    } else {
        // One bound for both waits.
        let waited = report.grants_served.as_ref().map_or(Duration::ZERO, |s| s.last.elapsed);
        let left = timeout.saturating_sub(waited).max(Duration::from_secs(1));
        let served =
            await_served(&client, &report, timeout, left).instrument(tracing::debug_span!("wait")).await;
        json.wait_requests = client.request_stats().total - before - requests;
        served
    };
    client.close().await;
    json.served = served;
    let grants_removed = crate::access::remove_expired(&report).await;
    let failed: Vec<_> = report.failed().collect();
    for outcome in &failed {
        eprintln!(
            "failed: {}: {}",
            render::headline(&outcome.change),
            outcome.error.as_deref().unwrap_or_default()
        );
    }
    say(
        args.format,
        &format!("Apply: {} applied, {} failed, in {requests} request(s).\n", report.applied(), failed.len()),
    );
    (json.applied, json.failed, json.requests) = (report.applied(), failed.len(), requests);
    json.outcomes = report.outcomes.iter().filter_map(|o| serde_json::to_value(o).ok()).collect();
    // Subjects after topics: a schema is registered once its topic exists.
    let subjects_applied = schemas::apply(subjects).await;
    if failed.is_empty() && subjects_applied && served != Some(false) && grants_removed {
        (ExitCode::SUCCESS, true)
    } else {
        eprintln!(
            "hint: fix the causes above and run `gen apply` again; it plans only what is still missing"
        );
        (ExitCode::FAILURE, false)
    }
}

/// Progress lines of a wait on stderr: at most one a second, and none when the first round finds
/// every broker current.
struct ProgressLines {
    timeout: Duration,
    what: &'static str,
    said: Option<Instant>,
}

impl ProgressLines {
    fn new(timeout: Duration, what: &'static str) -> Self {
        ProgressLines { timeout, what, said: None }
    }

    fn show(&mut self, p: &kafka_reconcile::Progress) {
        if !p.lagging.is_empty() && self.said.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            let what = if self.what.is_empty() { String::new() } else { format!(" {}", self.what) };
            eprintln!("waiting{what} (at most {} s; --no-wait skips this): {p}", self.timeout.as_secs());
            self.said = Some(Instant::now());
        }
    }
}

/// Waits (at most `left` of the whole `timeout`) until every live broker serves what the apply
/// wrote, with a progress line on stderr while one lags; `Some(false)` (after saying what is
/// missing where) when the time passed first, `None` when nothing was written.
async fn await_served(
    client: &AdminClient,
    report: &ApplyReport,
    timeout: Duration,
    left: Duration,
) -> Option<bool> {
    let mut lines = ProgressLines::new(timeout, "");
    let served = kafka_reconcile::await_served(client, report, left, |p| lines.show(p)).await;
    if !served.waited {
        return None;
    }
    if served.converged() {
        eprintln!("{}", served.last);
        Some(true)
    } else {
        eprintln!(
            "error: the changes were written, but not every broker serves them after {} s: {}; a plan \
             reading a lagging broker shows them again until it catches up (raise --wait-timeout, or plan again later)",
            timeout.as_secs(),
            served.last
        );
        Some(false)
    }
}

/// Loads the stage, connects and plans; prints why not and gives None when a step fails.
pub(crate) async fn plan_stage(
    environments: &Path,
    stage: StageName,
    allow_delete: bool,
    connection: &ConnectionArgs,
) -> Option<(AdminClient, Plan)> {
    plan_desired(environments, stage, allow_delete, connection).await.map(|(client, plan, _)| (client, plan))
}

/// [`plan_stage`], also giving the desired state (loaded once: the subjects are planned from it).
async fn plan_desired(
    environments: &Path,
    stage: StageName,
    allow_delete: bool,
    connection: &ConnectionArgs,
) -> Option<(AdminClient, Plan, DesiredState)> {
    let stage = tracing::debug_span!("load").in_scope(|| load_desired(environments, stage))?;
    match connect_and_plan(&stage, connection, options(allow_delete, connection)).await {
        Ok((client, plan)) => Some((client, plan, stage.desired)),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn options(allow_delete: bool, connection: &ConnectionArgs) -> PlanOptions {
    PlanOptions {
        deletes: if allow_delete { DeletePolicy::Allow } else { DeletePolicy::Refuse },
        scram: if connection.sync_scram_passwords { ScramSync::All } else { ScramSync::Missing },
        now: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    }
}

/// A stage's desired state and its default bootstrap (the internal mTLS name the cluster
/// template publishes).
pub(crate) struct Stage {
    desired: DesiredState,
    bootstrap: String,
    /// The SSM tree of its debug grants (`gen access`).
    grants_prefix: String,
}

/// Resolves the stage and builds its desired state; prints the findings when that fails.
pub(crate) fn load_desired(environments: &Path, stage: StageName) -> Option<Stage> {
    let (models, findings) = kafka_platform_core::load_and_resolve(environments, &[stage]);
    match models.get(&stage) {
        Some(model) if !findings.iter().any(|f| f.is_error()) => Some(Stage {
            desired: desired_state(model),
            bootstrap: format!("{}:{}", model.bootstrap_dns_name(), ports::MTLS),
            grants_prefix: kafka_reconcile::grants::store::tree(&model.parameter_root()),
        }),
        _ => {
            print_findings(&findings, FindingFormat::Text);
            eprintln!("error: stage {stage} does not validate; run `gen validate {stage}`");
            None
        }
    }
}

async fn connect_and_plan(
    stage: &Stage,
    connection: &ConnectionArgs,
    options: PlanOptions,
) -> Result<(AdminClient, Plan), String> {
    let desired = &stage.desired;
    let config = admin_config(stage, connection)?;
    // The connecting Metadata request lists the topics too: observe starts from it.
    let (client, metadata) = AdminClient::connect_with_topics(config)
        .instrument(tracing::debug_span!("connect"))
        .await
        .map_err(|e| e.to_string())?;
    let observing = kafka_reconcile::observe_from(&client, desired, Some(metadata));
    let mut observed = match observing.instrument(tracing::debug_span!("observe")).await {
        Ok(o) => o,
        Err(e) => {
            client.close().await;
            return Err(format!("cannot read the cluster's state: {e}"));
        }
    };
    // Rotation state lives in SSM: read it unless a passwords file stands in for SSM or no AWS
    // region is configured (then each SCRAM account is planned as one user, as before rotations).
    let aws = ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().any(|v| std::env::var_os(v).is_some());
    if connection.scram_passwords_file.is_none() && has_scram_accounts(desired) && !aws {
        eprintln!("note: no AWS region configured: credential rotations are not read from SSM");
    }
    if connection.scram_passwords_file.is_none() && has_scram_accounts(desired) && aws {
        let config = crate::aws::sdk_config(None).await;
        observed.credentials =
            PasswordSource::Ssm(aws_sdk_ssm::Client::new(&config)).credentials(desired).await;
    }
    // After the cluster: a grant being made meanwhile has its record written first.
    observed.grants = crate::access::observe_grants(&stage.grants_prefix, aws).await;
    let plan = tracing::debug_span!("plan").in_scope(|| kafka_reconcile::plan(desired, &observed, options));
    Ok((client, plan))
}

pub(crate) fn admin_config(stage: &Stage, c: &ConnectionArgs) -> Result<AdminConfig, String> {
    AdminIdentity::new(&c.ca_file, &c.login).config(c.bootstrap.as_deref().unwrap_or(&stage.bootstrap))
}

/// The admin's login flags, shared by plan, apply, roll and the deploy's Kafka gate: an mTLS client
/// certificate, or a SCRAM user, or neither (a listener that needs no client identity).
#[derive(Debug, Clone, clap::Args)]
pub struct AdminLoginArgs {
    /// PEM client certificate chain (leaf first) for an mTLS listener; needs --client-key.
    #[arg(long, env = "GEN_KAFKA_CLIENT_CERT", requires = "client_key", conflicts_with = "scram_user")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key (unencrypted) of --client-cert.
    #[arg(long, env = "GEN_KAFKA_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// SCRAM-SHA-512 user for a SASL_SSL listener; needs --scram-password-file.
    #[arg(long, env = "GEN_KAFKA_SCRAM_USER", requires = "scram_password_file")]
    pub scram_user: Option<String>,
    /// File holding the password of --scram-user (a file, so it never shows in a process list).
    #[arg(long, env = "GEN_KAFKA_SCRAM_PASSWORD_FILE", requires = "scram_user")]
    pub scram_password_file: Option<PathBuf>,
}

/// How an admin client proves who it is (the connection flags of plan, apply, roll and deploy).
pub(crate) struct AdminIdentity<'a> {
    pub ca_file: &'a Path,
    pub client_cert: Option<&'a Path>,
    pub client_key: Option<&'a Path>,
    pub scram_user: Option<&'a str>,
    pub scram_password_file: Option<&'a Path>,
}

impl<'a> AdminIdentity<'a> {
    /// The identity the login flags describe, checked against `ca_file`.
    pub(crate) fn new(ca_file: &'a Path, login: &'a AdminLoginArgs) -> Self {
        AdminIdentity {
            ca_file,
            client_cert: login.client_cert.as_deref(),
            client_key: login.client_key.as_deref(),
            scram_user: login.scram_user.as_deref(),
            scram_password_file: login.scram_password_file.as_deref(),
        }
    }

    /// The admin client's configuration for `bootstrap` (`host:port[,host:port...]`).
    pub(crate) fn config(&self, bootstrap: &str) -> Result<AdminConfig, String> {
        let tls = match (self.client_cert, self.client_key) {
            (Some(cert), Some(key)) => TlsConfig::from_files(self.ca_file, cert, key),
            _ => TlsConfig::from_ca_file(self.ca_file),
        }
        .map_err(|e| e.to_string())?;
        let mut config = AdminConfig::new(AdminConfig::parse_bootstrap(bootstrap), tls);
        if let (Some(user), Some(file)) = (self.scram_user, self.scram_password_file) {
            let password = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read the SCRAM password file {}: {e}", file.display()))?;
            config = config.with_scram(ScramMechanism::Sha512, user, password.trim_end_matches(['\r', '\n']));
        } else if self.client_cert.is_none() {
            return Err("no admin identity: pass --client-cert/--client-key (mTLS listener) or \
                        --scram-user/--scram-password-file (SASL_SSL listener)"
                .into());
        }
        Ok(config)
    }
}

fn has_scram_accounts(desired: &DesiredState) -> bool {
    desired.service_accounts.iter().any(|a| a.password_parameter.is_some())
}

/// Passwords are needed only when SCRAM credentials are written or rotations published; only
/// then is SSM contacted.
async fn password_source(plan: &Plan, c: &ConnectionArgs) -> Result<PasswordSource, String> {
    if let Some(file) = &c.scram_passwords_file {
        return PasswordSource::from_file(file).map_err(|e| e.to_string());
    }
    if !plan.changes.iter().any(|ch| {
        matches!(ch.action, Action::UpsertScramCredential { .. } | Action::PromoteCredential { .. })
    }) {
        return Ok(PasswordSource::Unavailable("no SCRAM credentials to write".into()));
    }
    let config = crate::aws::sdk_config(None).await;
    Ok(PasswordSource::Ssm(aws_sdk_ssm::Client::new(&config)))
}

/// The confirmation policy `gen deploy` uses too ([`confirm`]): `--yes` proceeds; otherwise a
/// terminal is asked on stderr (`yes`, or the stage name for a production-like stage); without a
/// terminal nothing is applied, because silence is not consent. Deletes need `--allow-delete`
/// even with `--yes` (the plan refuses them otherwise).
fn confirmed(stage: StageName, yes: bool) -> bool {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    match confirm::confirmation(yes, interactive, stage.production_like(), stage.as_str()) {
        Confirmation::Proceed => true,
        Confirmation::Refuse(message) => {
            eprintln!("error: {message}");
            false
        }
        Confirmation::Ask { expected } => {
            let question = format!("Apply these changes to stage {stage}? Type `{expected}` to go on: ");
            let answer = confirm::ask_blocking(&question).unwrap_or_default();
            let ok = confirm::confirms(&answer, &expected);
            if !ok {
                eprintln!("nothing applied");
            }
            ok
        }
    }
}
