//! `gen deploy STAGE`: rolls the rendered stacks of a stage out through CloudFormation
//! change sets, showing each change set, asking before executing it, streaming progress and
//! explaining failures.
//!
//! The pure parts (manifest checks and ordering, the change-set table, event filtering,
//! confirmation rules, the stack policy, redaction) live in their own modules and are unit
//! tested; this module and [`cfn`] / [`upload`] do the AWS I/O.

pub mod cfn;
pub mod changes;
pub mod confirm;
pub mod error;
pub mod events;
pub mod gate;
pub mod manifest;
pub mod nodes;
pub mod policy;
pub mod redact;
pub mod report;
pub mod rolling;
pub mod ui;
pub mod upload;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cfn::{Cfn, ChangeSetRequest, ChangeSetResult, TemplateSource};
use confirm::Confirmation;
pub use error::DeployError;
use kafka_platform_core::digest::sha256_hex;
use kafka_platform_core::manifest::RollingDecl;
use manifest::{Manifest, StackDecl, Upload, Uploads};
use ui::Ui;
use upload::Bucket;

/// The largest template CloudFormation accepts inline; larger ones go through the bucket.
const MAX_TEMPLATE_BODY: usize = 51_200;
/// How many failed events the failure summary shows.
const FAILURES_SHOWN: usize = 5;

/// Arguments of `gen deploy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    /// Stage to deploy: reads <templates>/<STAGE>/manifest.json written by `gen render`.
    pub stage: String,
    /// Create and show the change sets, then delete them: execute nothing, upload nothing (but
    /// a template too large to send inline, which CloudFormation must read from the bucket).
    #[arg(long)]
    pub dry_run: bool,
    /// Execute without asking (for pipelines); without it a terminal is asked.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Deploy only this stack of the stage (its dependencies must be deployed).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Directory holding the rendered templates, one subdirectory per stage.
    #[arg(long, value_name = "DIR", default_value = "templates")]
    pub templates: PathBuf,
    /// Directory with the Lambda zips and manifest.json written by `gen package`.
    #[arg(long, value_name = "DIR", default_value = "target/lambda")]
    pub lambda_dir: PathBuf,
    /// With --yes: also execute change sets that replace or remove a stateful resource (CA,
    /// broker volumes, KMS key); their data is lost. Without --yes a person types the stage name.
    #[arg(long)]
    pub allow_replace_stateful: bool,
    /// With --dry-run: exit 2 when a change set has changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Stop watching (and fail) when a stack is still in progress after this many minutes;
    /// CloudFormation carries on regardless.
    #[arg(long, value_name = "MINUTES", default_value_t = 120)]
    pub timeout: u64,
    /// Seconds between status polls while CloudFormation works.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    pub poll_interval: u64,
    /// `json`: one document on stdout (stacks with change set ids and outcomes, artifacts put into
    /// the bucket); the progress lines go to stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::output::OutputFormat,
    /// Update every node of the cluster stack in one change set (all nodes restart together: an
    /// outage). Without it, a change to node task definitions rolls one node at a time.
    #[arg(long)]
    pub all_nodes_at_once: bool,
    /// The Kafka health gate of a rolling node update (docs/deploy.md, "Kafka health gate").
    #[command(flatten)]
    pub kafka_gate: gate::GateArgs,
}

/// How a deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every change set was executed (or had nothing to do).
    Deployed,
    /// A dry run showed the change sets; `pending` tells whether any had changes.
    Reviewed {
        /// True when at least one stack would change.
        pending: bool,
        /// Report pending changes through exit code 2.
        detailed_exitcode: bool,
    },
    /// The person declined; nothing more was executed.
    Cancelled,
    /// A stack failed while CloudFormation executed it; the summary has been printed.
    Failed,
}

impl Outcome {
    /// Process exit code: 0 ok, 1 failed or cancelled, 2 changes pending (dry run with
    /// --detailed-exitcode).
    pub fn code(self) -> u8 {
        match self {
            Outcome::Deployed => 0,
            Outcome::Reviewed { pending: true, detailed_exitcode: true } => 2,
            Outcome::Reviewed { .. } => 0,
            Outcome::Cancelled | Outcome::Failed => 1,
        }
    }

    /// The exit code as a process exit code.
    pub fn exit_code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.code())
    }
}

/// What happened to one stack.
enum StackOutcome {
    NoChanges,
    Executed,
    Reviewed { pending: bool },
    Cancelled,
    Failed,
}

struct Context {
    args: DeployArgs,
    manifest: Manifest,
    stage_dir: PathBuf,
    protected: bool,
    cfn: Cfn,
    ecs: aws_sdk_ecs::Client,
    bucket: Bucket,
    uploads: Uploads,
    ui: Ui,
    attempt: String,
    /// What `--format json` reports.
    record: report::Shared,
    /// Change sets executed so far: each execution gets its own request token.
    executions: u32,
}

/// Runs `gen deploy` to completion on its own runtime and turns the result into the process
/// exit code (errors are printed on stderr): what main.rs calls.
pub fn command(args: DeployArgs) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json = args.format == crate::output::OutputFormat::Json;
    let record = report::Shared::default();
    let result = runtime.block_on(run(args, record.clone()));
    if json {
        println!("{}", record.finish(&result));
    }
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `gen deploy`, recording what it does in `record`.
pub async fn run(args: DeployArgs, record: report::Shared) -> Result<Outcome, DeployError> {
    let stage_dir = args.templates.join(&args.stage);
    let json = args.format == crate::output::OutputFormat::Json;
    let ui = if json { Ui::on_stderr() } else { Ui::new() };
    let manifest = manifest::load(&stage_dir)?;
    record.start(&manifest.stage, args.dry_run, &manifest.artifact_bucket);
    if manifest.stage != args.stage {
        return Err(DeployError::Manifest {
            path: stage_dir.join("manifest.json"),
            message: format!("declares stage {}, not {}", manifest.stage, args.stage),
        });
    }
    let order = manifest
        .deployment_order(args.stack.as_deref())
        .map_err(|message| DeployError::Manifest { path: stage_dir.join("manifest.json"), message })?;
    // The manifest says so; a stage the model calls production-like is protected even if an
    // edited manifest says otherwise.
    let protected = manifest.termination_protection
        || kafka_platform_core::StageName::parse(&manifest.stage).is_some_and(|s| s.production_like());
    if !args.dry_run {
        // Refuse before touching AWS when nobody can confirm.
        let decision = confirm::confirmation(args.yes, ui.interactive(), protected, &manifest.stage);
        if let Confirmation::Refuse(message) = decision {
            return Err(DeployError::NeedsConfirmation(message));
        }
    }
    let needs_uploads = order.iter().any(|s| !s.before_upload);
    let uploads = if needs_uploads {
        Uploads::prepare(&manifest, &stage_dir, &args.lambda_dir, &Manifest::lambdas_needed(&order))?
    } else {
        Uploads::default()
    };
    let order: Vec<StackDecl> = order.into_iter().cloned().collect();

    // The SDK panics on an empty endpoint URL; say what to do instead.
    if std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|v| v.is_empty()) {
        return Err(DeployError::Environment(
            "AWS_ENDPOINT_URL is set but empty\n  hint: unset it to use AWS, or set it to the emulator's URL"
                .into(),
        ));
    }
    let config = crate::aws::sdk_config(Some(manifest.region.clone())).await;
    check_account(&config, &manifest).await?;
    let mut s3 = aws_sdk_s3::config::Builder::from(&config);
    if config.endpoint_url().is_some() {
        // Emulators answer on one host name; bucket sub-domains would not resolve.
        s3 = s3.force_path_style(true);
    }
    let poll = Duration::from_secs(args.poll_interval.max(1));
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let mut ctx = Context {
        cfn: Cfn::new(aws_sdk_cloudformation::Client::new(&config), poll),
        ecs: aws_sdk_ecs::Client::new(&config),
        bucket: Bucket::new(aws_sdk_s3::Client::from_conf(s3.build()), manifest.artifact_bucket.clone()),
        attempt: format!("gen-{}-{millis}", std::process::id()),
        record,
        executions: 0,
        ui,
        args,
        manifest,
        stage_dir,
        protected,
        uploads,
    };
    ctx.ui.say(&format!(
        "Deploying stage {} to account {} in {}{}",
        ctx.manifest.stage,
        ctx.manifest.account_id,
        ctx.manifest.region,
        if ctx.args.dry_run { " (dry run)" } else { "" }
    ));

    let mut uploaded = !needs_uploads;
    let mut pending = false;
    let mut changed = 0;
    for (index, stack) in order.iter().enumerate() {
        if !stack.before_upload && !uploaded {
            upload_files(&mut ctx).await?;
            uploaded = true;
        }
        let outcome = deploy_stack(&mut ctx, stack, index).await;
        ctx.record.stack_outcome(&stack.name, &outcome);
        ctx.ui.clear_progress();
        match outcome.map_err(|e| e.redacted(&ctx.ui.redactor))? {
            StackOutcome::NoChanges => {}
            StackOutcome::Executed => changed += 1,
            StackOutcome::Reviewed { pending: p } => pending |= p,
            StackOutcome::Cancelled => {
                ctx.ui.say("Cancelled: this stack and the ones after it were not changed.");
                return Ok(Outcome::Cancelled);
            }
            StackOutcome::Failed => {
                let rest: Vec<&str> = order[index + 1..].iter().map(|s| s.name.as_str()).collect();
                if !rest.is_empty() {
                    ctx.ui.say(&format!("Not attempted: {}", rest.join(", ")));
                }
                return Ok(Outcome::Failed);
            }
        }
    }
    if ctx.args.dry_run {
        ctx.ui.say(if pending {
            "Dry run: change sets shown and deleted; nothing was executed."
        } else {
            "Dry run: no changes."
        });
        return Ok(Outcome::Reviewed { pending, detailed_exitcode: ctx.args.detailed_exitcode });
    }
    ctx.ui.say(&format!(
        "Stage {} deployed: {changed} of {} stack(s) changed.",
        ctx.manifest.stage,
        order.len()
    ));
    Ok(Outcome::Deployed)
}

/// Refuses to touch an account other than the stage's.
async fn check_account(config: &aws_config::SdkConfig, manifest: &Manifest) -> Result<(), DeployError> {
    let identity = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| DeployError::aws("GetCallerIdentity (checking the AWS credentials)", e))?;
    let actual = identity.account().unwrap_or_default();
    if actual != manifest.account_id {
        return Err(DeployError::WrongAccount {
            stage: manifest.stage.clone(),
            expected: manifest.account_id.clone(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Puts the Lambda zips and artifacts into the bucket (or, in a dry run, says what it would).
async fn upload_files(ctx: &mut Context) -> Result<(), DeployError> {
    let files = &ctx.uploads.files;
    if files.is_empty() {
        return Ok(());
    }
    if ctx.args.dry_run && !ctx.bucket.exists().await? {
        ctx.record.uploads(&files.iter().map(|f| f.key.clone()).collect::<Vec<_>>(), &[]);
        ctx.ui.say(&format!(
            "Would upload {} file(s) to s3://{} once the bucket exists.",
            files.len(),
            ctx.bucket.name()
        ));
        return Ok(());
    }
    let report = ctx.bucket.sync(files, ctx.args.dry_run).await?;
    ctx.record.uploads(&report.uploaded, &report.present);
    let verb = if ctx.args.dry_run { "would upload" } else { "uploaded" };
    ctx.ui.say(&format!(
        "Artifacts in s3://{}: {verb} {}, already present {}",
        ctx.bucket.name(),
        report.uploaded.len(),
        report.present.len()
    ));
    for key in &report.uploaded {
        ctx.ui.say(&format!("  + {key}"));
    }
    Ok(())
}

/// Picks inline body or bucket URL for a template; large templates are uploaded by hash.
async fn template_source(ctx: &mut Context, stack: &StackDecl) -> Result<TemplateSource, DeployError> {
    let path = ctx.stage_dir.join(&stack.template);
    let body =
        std::fs::read_to_string(&path).map_err(|source| DeployError::Read { path: path.clone(), source })?;
    // Inline as compact JSON when that fits: the reviewable YAML's indentation alone can push a
    // template over the limit, and a new account has no bucket yet for a dry run to use.
    let compact = kafka_platform_core::render::cfn::compact_json(&body)
        .map_err(|message| DeployError::Manifest { path: path.clone(), message })?;
    if compact.len() <= MAX_TEMPLATE_BODY {
        return Ok(TemplateSource::Body(compact));
    }
    if stack.before_upload || !ctx.bucket.exists().await? {
        return Err(DeployError::Manifest {
            path,
            message: format!(
                "the template is {} bytes, more than the {MAX_TEMPLATE_BODY} CloudFormation accepts inline, and the artifact bucket {} does not exist yet to hold it",
                body.len(),
                ctx.bucket.name()
            ),
        });
    }
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "yaml".into());
    let key =
        format!("templates/{}/{}-{}.{ext}", ctx.manifest.stage, stack.name, sha256_hex(body.as_bytes()));
    let upload = Upload { key: key.clone(), path };
    if !ctx.bucket.has(&key).await? {
        ctx.bucket.put_file(&upload).await?;
    }
    Ok(TemplateSource::Url(format!(
        "https://{}.s3.{}.amazonaws.com/{key}",
        ctx.bucket.name(),
        ctx.manifest.region
    )))
}

/// Change set, review, confirmation, execution and watch for one stack.
async fn deploy_stack(
    ctx: &mut Context,
    stack: &StackDecl,
    index: usize,
) -> Result<StackOutcome, DeployError> {
    let existing = ctx.cfn.stack(&stack.name).await?;
    if let Some(info) = &existing
        && let Some(hint) = events::blocked_status_hint(&stack.name, &info.status)
    {
        return Err(DeployError::StackState { stack: stack.name.clone(), status: info.status.clone(), hint });
    }
    // A stack still in review holds no resources: start its creation afresh.
    let review_leftover = existing.as_ref().is_some_and(|i| i.status == "REVIEW_IN_PROGRESS");
    if review_leftover
        && !ctx.args.dry_run
        && let Some(info) = &existing
    {
        ctx.cfn.delete_empty_stack(&info.id).await?;
    }
    let create = existing.is_none() || review_leftover;
    ctx.record.begin_stack(&stack.name, create);
    ctx.ui.say(&format!(
        "\n==> {} ({}, {})",
        stack.name,
        if create { "new stack" } else { "update" },
        stack.template
    ));

    let template = template_source(ctx, stack).await?;
    let mut parameters = ctx
        .uploads
        .parameters(stack)
        .map_err(|message| DeployError::Manifest { path: ctx.stage_dir.join("manifest.json"), message })?;
    // The change set shown is the template as committed: every pin empty. Pins are passed only
    // when one is set (an interrupted rollout); otherwise they keep their empty value, and a create
    // takes the empty default, starting every node on its own, all together.
    if let (Some(decl), Some(info)) = (&stack.rolling, &existing)
        && rolling::any_pinned(decl, &info.parameters)
    {
        parameters.extend(rolling::released(decl));
    }
    let rolling = stack.rolling.as_ref().filter(|_| !create);
    let secret_keys = ctx.cfn.no_echo_parameters(&stack.name, &template).await?;
    ctx.ui.redactor.add(parameters.iter().filter(|(k, _)| secret_keys.contains(k)).map(|(_, v)| v.clone()));

    let name = format!("{}-{index}", ctx.attempt);
    let request = ChangeSetRequest {
        stack: &stack.name,
        name: &name,
        create,
        template: &template,
        parameters: &parameters,
        tags: &ctx.manifest.tags,
        description: format!("gen deploy {} {}", ctx.manifest.stage, stack.name),
    };
    let (change_set, stack_id) = match ctx.cfn.create_change_set(&request).await? {
        cfn::Created::ChangeSet { id, stack_id } => (id, stack_id),
        cfn::Created::NoChanges => {
            ctx.ui.say("No changes.");
            return Ok(StackOutcome::NoChanges);
        }
    };
    let rows = match ctx.cfn.wait_change_set(&change_set).await? {
        ChangeSetResult::Ready(rows) => rows,
        ChangeSetResult::Failed(reason) => {
            discard(ctx, &change_set, &stack_id, create).await?;
            if changes::is_no_change_reason(&reason) {
                ctx.ui.say("No changes.");
                return Ok(StackOutcome::NoChanges);
            }
            return Err(DeployError::ChangeSetFailed { stack: stack.name.clone(), reason });
        }
    };
    ctx.record.change_set(&stack.name, &change_set, rows.len());
    let stateful: BTreeSet<&str> = stack.stateful_resources.iter().map(String::as_str).collect();
    if rows.is_empty() {
        ctx.ui.say("No resource changes (only parameters, tags or outputs change).");
    } else {
        ctx.ui.say(&changes::format_table(&rows, &stateful));
    }
    let touched = rolling.map(|decl| rolling::nodes_touched(&rows, decl)).unwrap_or_default();
    // A stack still pinned is in the middle of a rollout: it goes on one node at a time too.
    let unfinished = match (rolling, &existing) {
        (Some(decl), Some(info)) => rolling::any_pinned(decl, &info.parameters),
        _ => false,
    };
    let roll = rolling.filter(|_| (unfinished || !touched.is_empty()) && !ctx.args.all_nodes_at_once);
    if roll.is_some() {
        if unfinished {
            ctx.ui.say(
                "Nodes are still pinned by an unfinished rolling update: it goes on from where it stopped.",
            );
        }
        ctx.ui.say(&format!(
            "Node services change ({}): applied in steps, one node at a time: first everything but the node restarts, then one change set per node whose task definition changes, each waiting until ECS reports the node healthy.",
            if touched.is_empty() { "see the steps".to_string() } else { touched.join(", ") }
        ));
    } else if !touched.is_empty() || unfinished {
        ctx.ui.say(&format!(
            "WARNING: --all-nodes-at-once: nodes {} restart together (an outage).",
            if touched.is_empty() { "still pinned".to_string() } else { touched.join(", ") }
        ));
    }

    let gate_mode = roll.map(|_| {
        let args = &ctx.args.kafka_gate;
        gate::mode(args.skip_kafka_gate, args.ca_file.is_some(), ctx.protected, &ctx.manifest.stage)
    });
    if ctx.args.dry_run {
        match &gate_mode {
            Some(gate::Mode::Gate) => ctx.ui.say(&format!(
                "Kafka health gate: on (before each node and after the last, at most {}s each).",
                ctx.args.kafka_gate.kafka_gate_wait
            )),
            Some(gate::Mode::Off(warning)) => ctx.ui.say(warning),
            Some(gate::Mode::Refused(message)) => {
                ctx.ui.say(&format!("A deploy (not a dry run) would refuse this update: {message}"));
            }
            None => {}
        }
        discard(ctx, &change_set, &stack_id, create).await?;
        return Ok(StackOutcome::Reviewed { pending: true });
    }
    // Refused, or the cluster unreachable: before asking, and before any change is executed.
    let kafka_gate = match (gate_mode, roll) {
        (Some(gate::Mode::Refused(message)), _) => {
            discard(ctx, &change_set, &stack_id, create).await?;
            return Err(DeployError::KafkaGate(message));
        }
        (Some(gate::Mode::Off(warning)), _) => {
            ctx.ui.say(&warning);
            None
        }
        (Some(gate::Mode::Gate), Some(decl)) => {
            match gate::KafkaGate::connect(&ctx.args.kafka_gate, decl, ctx.cfn_poll()).await {
                Ok(connected) => Some(connected),
                Err(message) => {
                    discard(ctx, &change_set, &stack_id, create).await?;
                    return Err(DeployError::KafkaGate(message));
                }
            }
        }
        _ => None,
    };
    let destroys_stateful =
        rows.iter().any(|c| c.is_destructive() && stateful.contains(c.logical_id.as_str()));
    match confirmed(ctx, stack, destroys_stateful).await {
        Ok(true) => {}
        Ok(false) => {
            discard(ctx, &change_set, &stack_id, create).await?;
            return Ok(StackOutcome::Cancelled);
        }
        Err(err) => {
            discard(ctx, &change_set, &stack_id, create).await?;
            return Err(err);
        }
    }
    let policy = policy::stack_policy(&stack.stateful_resources);
    if ctx.protected && !create {
        // The policy must guard this very update, so it is set before executing.
        ctx.cfn.set_policy(&stack.name, &policy).await?;
    }
    if let Some(decl) = roll {
        // Confirmed as a whole; the steps are change sets of their own.
        ctx.cfn.delete_change_set(&change_set).await?;
        let steps =
            StepRequest { stack, index, template: &template, parameters: &parameters, stack_id: &stack_id };
        let outcome = roll_nodes(ctx, &steps, decl, kafka_gate.as_ref()).await;
        if let Some(connected) = kafka_gate {
            connected.close().await;
        }
        let outcome = outcome?;
        if !matches!(outcome, StackOutcome::Executed) {
            return Ok(outcome);
        }
    } else if !execute_and_watch(ctx, stack, &change_set, &stack_id).await? {
        return Ok(StackOutcome::Failed);
    }
    if ctx.protected {
        ctx.cfn.protect(&stack.name, &policy).await?;
        ctx.ui.say("Termination protection on; stack policy protects the stateful resources.");
    }
    Ok(StackOutcome::Executed)
}

/// What every change set of a rolling update shares.
struct StepRequest<'a> {
    stack: &'a StackDecl,
    index: usize,
    template: &'a TemplateSource,
    /// The manifest's parameters (no pins).
    parameters: &'a [(String, String)],
    stack_id: &'a str,
}

/// Applies a confirmed update of the cluster stack one node at a time ([`rolling`]): a change set
/// that holds every node on the task definition it runs, then one per node to restart, each
/// executed and watched until CloudFormation reports the node's service stable (its new task
/// passed the readiness health check). With a `gate`, each node's change set waits until the
/// cluster is caught up, and so does the end. Failed when a step or the gate failed (summary
/// printed; the nodes not yet restarted stay pinned, so the next deploy goes on).
async fn roll_nodes(
    ctx: &mut Context,
    req: &StepRequest<'_>,
    decl: &RollingDecl,
    gate: Option<&gate::KafkaGate>,
) -> Result<StackOutcome, DeployError> {
    let running = running(ctx, req, decl).await?;
    ctx.ui
        .say("\n--> step 1: everything but the node restarts (each node holds the task definition it runs)");
    if !run_step(ctx, req, rolling::hold_all(decl, &running), "hold").await? {
        ctx.ui.say(
            "Stopped at step 1, before any node's turn: CloudFormation reports the stack's rollback above.",
        );
        return Ok(StackOutcome::Failed);
    }
    let mut before = running.clone();
    if !check_moved(ctx, req, decl, &mut before, None).await? {
        return Ok(StackOutcome::Failed);
    }
    let physical = ctx.cfn.physical_ids(&req.stack.name).await?;
    let rendered: BTreeMap<String, String> = decl
        .nodes
        .iter()
        .filter_map(|n| physical.get(&n.task_definition).map(|arn| (n.name.clone(), arn.clone())))
        .collect();
    let steps = rolling::roll_steps(decl, &running, &rendered);
    let order: Vec<&str> = steps.iter().filter_map(|s| s.node.as_deref()).collect();
    ctx.ui.say(&format!(
        "Nodes to restart, one at a time: {}",
        if order.is_empty() { "none".to_string() } else { order.join(", ") }
    ));
    let mut done: Vec<String> = Vec::new();
    for (turn, step) in steps.iter().enumerate() {
        ctx.ui.say(&match &step.node {
            Some(node) => format!("\n--> step {}: node {node}", turn + 2),
            None => format!("\n--> step {}: clear the pins (no node restarts)", turn + 2),
        });
        if let (Some(node), Some(gate)) = (&step.node, gate) {
            let previous = done.last().map(String::as_str);
            if let Err(not_caught_up) = gate.wait(previous, |line| ctx.ui.say(&line)).await {
                let rest: Vec<&str> =
                    order.iter().copied().filter(|n| !done.iter().any(|d| d == n)).collect();
                ctx.ui.say(&format!(
                    "\nFAILED: Kafka health gate before node {node}: {not_caught_up}.\n  Restarted: {}. Still on their previous task definition (pinned in the stack): {}.\n  Next: find why (`gen status {}`), then run `gen deploy` again: it goes on with the nodes not yet restarted.",
                    if done.is_empty() { "none".to_string() } else { done.join(", ") },
                    rest.join(", "),
                    ctx.manifest.stage
                ));
                return Ok(StackOutcome::Failed);
            }
        }
        if let Some(node) = &step.node {
            // On a terminal the person may check the cluster (`gen status`) before each node.
            if !ctx.args.yes && ctx.ui.interactive() && !node_confirmed(ctx, req.stack, node).await? {
                ctx.ui.say(&format!(
                    "Stopped before node {node}. Restarted: {}. The nodes not restarted stay pinned to their previous task definition; run `gen deploy` again to go on.",
                    if done.is_empty() { "none".to_string() } else { done.join(", ") }
                ));
                return Ok(StackOutcome::Cancelled);
            }
        }
        let succeeded = run_step(ctx, req, step.pins.clone(), &format!("n{turn}")).await?
            && check_moved(ctx, req, decl, &mut before, step.node.as_deref()).await?;
        if !succeeded {
            let rest: Vec<&str> = order.iter().copied().filter(|n| !done.iter().any(|d| d == n)).collect();
            ctx.ui.say(&format!(
                "Rolling update stopped{}. Restarted: {}. Still on their previous task definition (pinned in the stack): {}.\n  Next: find the cause (the node's ECS events and logs; `gen status {}`), then run `gen deploy` again: it goes on with the nodes not yet restarted.",
                step.node.as_deref().map(|n| format!(" at node {n}")).unwrap_or_default(),
                if done.is_empty() { "none".to_string() } else { done.join(", ") },
                if rest.is_empty() { "none".to_string() } else { rest.join(", ") },
                ctx.manifest.stage
            ));
            return Ok(StackOutcome::Failed);
        }
        done.extend(step.node.clone());
    }
    if let Some(gate) = gate {
        ctx.ui.say("\n--> Kafka health gate after the last step");
        if let Err(not_caught_up) = gate.wait(done.last().map(String::as_str), |line| ctx.ui.say(&line)).await
        {
            ctx.ui.say(&format!(
                "\nFAILED: Kafka health gate after the last step: {not_caught_up}.\n  Every node runs its new task definition (no pin is left); find why with `gen status {}`.",
                ctx.manifest.stage
            ));
            return Ok(StackOutcome::Failed);
        }
    }
    Ok(StackOutcome::Executed)
}

/// Asks on the terminal before restarting a node (the stage name for a protected stage).
async fn node_confirmed(ctx: &mut Context, stack: &StackDecl, node: &str) -> Result<bool, DeployError> {
    let stage = ctx.manifest.stage.clone();
    let expected = if ctx.protected { stage.clone() } else { "yes".to_string() };
    let question = format!(
        "Restart node {node} of {} now (check `gen status {stage}` first)? Type '{expected}' to continue: ",
        stack.name
    );
    let answer = ctx.ui.ask(&question).await?;
    Ok(confirm::confirms(&answer, &expected))
}

/// The task definition each existing node service runs now.
async fn running(
    ctx: &Context,
    req: &StepRequest<'_>,
    decl: &RollingDecl,
) -> Result<BTreeMap<String, String>, DeployError> {
    let physical = ctx.cfn.physical_ids(&req.stack.name).await?;
    nodes::running_task_definitions(&ctx.ecs, decl, &physical).await
}

/// Reads back which node services changed task definition in the step just executed and checks
/// that it was `expected` alone (no node at all for the first step): says so, or stops.
async fn check_moved(
    ctx: &mut Context,
    req: &StepRequest<'_>,
    decl: &RollingDecl,
    before: &mut BTreeMap<String, String>,
    expected: Option<&str>,
) -> Result<bool, DeployError> {
    let now = running(ctx, req, decl).await?;
    let moved = rolling::moved(decl, before, &now);
    let wanted: Vec<&str> = expected.into_iter().collect();
    let report = moved
        .iter()
        .map(|n| format!("{n} now runs {}", rolling::short_arn(&now[n.as_str()])))
        .collect::<Vec<_>>()
        .join("; ");
    *before = now;
    if moved.iter().map(String::as_str).eq(wanted.iter().copied()) {
        ctx.ui.say(&if moved.is_empty() {
            "No node changed task definition.".to_string()
        } else {
            format!("{report}.")
        });
        return Ok(true);
    }
    ctx.ui.say(&format!(
        "\nFAILED: this step should have changed the task definition of {} only, but changed: {}",
        expected.unwrap_or("no node"),
        if moved.is_empty() { "none".to_string() } else { report }
    ));
    Ok(false)
}

/// Creates, shows, executes and watches one change set of a rolling update; an empty one is
/// skipped. Returns false when it failed.
async fn run_step(
    ctx: &mut Context,
    req: &StepRequest<'_>,
    pins: rolling::Pins,
    suffix: &str,
) -> Result<bool, DeployError> {
    // Every pin explicitly, the empty ones too: a step is told the whole state it leaves.
    let mut parameters = req.parameters.to_vec();
    parameters.extend(pins);
    let name = format!("{}-{}-{suffix}", ctx.attempt, req.index);
    let request = ChangeSetRequest {
        stack: &req.stack.name,
        name: &name,
        create: false,
        template: req.template,
        parameters: &parameters,
        tags: &ctx.manifest.tags,
        description: format!("gen deploy {} {} (rolling, {suffix})", ctx.manifest.stage, req.stack.name),
    };
    let change_set = match ctx.cfn.create_change_set(&request).await? {
        cfn::Created::ChangeSet { id, .. } => id,
        cfn::Created::NoChanges => {
            ctx.ui.say("No changes.");
            return Ok(true);
        }
    };
    let rows = match ctx.cfn.wait_change_set(&change_set).await? {
        ChangeSetResult::Ready(rows) => rows,
        ChangeSetResult::Failed(reason) => {
            ctx.cfn.delete_change_set(&change_set).await?;
            if changes::is_no_change_reason(&reason) {
                ctx.ui.say("No changes.");
                return Ok(true);
            }
            return Err(DeployError::ChangeSetFailed { stack: req.stack.name.clone(), reason });
        }
    };
    let stateful: BTreeSet<&str> = req.stack.stateful_resources.iter().map(String::as_str).collect();
    if rows.is_empty() {
        ctx.ui.say("No resource changes (only parameters change).");
    } else {
        ctx.ui.say(&changes::format_table(&rows, &stateful));
    }
    execute_and_watch(ctx, req.stack, &change_set, req.stack_id).await
}

/// Deletes a change set that will not run, and the empty stack a CREATE change set made.
async fn discard(
    ctx: &mut Context,
    change_set: &str,
    stack_id: &str,
    create: bool,
) -> Result<(), DeployError> {
    ctx.cfn.delete_change_set(change_set).await?;
    if create
        && let Some(info) = ctx.cfn.stack(stack_id).await?
        && info.status == "REVIEW_IN_PROGRESS"
    {
        ctx.cfn.delete_empty_stack(&info.id).await?;
    }
    Ok(())
}

/// Asks (or not) according to [`confirm::confirmation`].
async fn confirmed(
    ctx: &mut Context,
    stack: &StackDecl,
    destroys_stateful: bool,
) -> Result<bool, DeployError> {
    let interactive = ctx.ui.interactive();
    let stage = &ctx.manifest.stage;
    let decision = confirm::confirmation(ctx.args.yes, interactive, ctx.protected, stage);
    match confirm::guard_stateful(decision, destroys_stateful, ctx.args.allow_replace_stateful, stage) {
        Confirmation::Proceed => Ok(true),
        Confirmation::Refuse(message) => Err(DeployError::NeedsConfirmation(message)),
        Confirmation::Ask { expected } => {
            let question = format!(
                "Execute this change set on {} (stage {}, account {})? Type '{expected}' to continue: ",
                stack.name, ctx.manifest.stage, ctx.manifest.account_id
            );
            let answer = ctx.ui.ask(&question).await?;
            Ok(confirm::confirms(&answer, &expected))
        }
    }
}

/// Executes the change set, streams events with a live progress line until the stack
/// settles, and prints the failure summary when it did not succeed.
async fn execute_and_watch(
    ctx: &mut Context,
    stack: &StackDecl,
    change_set: &str,
    stack_id: &str,
) -> Result<bool, DeployError> {
    let baseline = ctx.cfn.newest_event_id(stack_id).await?;
    ctx.executions += 1;
    let token = format!("{}-exec{}", ctx.attempt, ctx.executions);
    let started = Instant::now();
    let execute_error = ctx.cfn.execute(change_set, &token).await.err();
    let mut seen: HashSet<String> = HashSet::new();
    let mut history: Vec<events::StackEvent> = Vec::new();
    let mut polls = 0u32;
    let status = loop {
        let fresh = ctx.cfn.events_since(stack_id, baseline.as_deref(), &seen).await?;
        for event in fresh {
            ctx.ui.say(&event.line());
            seen.insert(event.id.clone());
            history.push(event);
        }
        let status =
            ctx.cfn.stack(stack_id).await?.map(|i| i.status).unwrap_or_else(|| "DELETE_COMPLETE".into());
        let settled_event = history.iter().any(|e| e.logical_id == stack.name && e.status == status);
        polls += 1;
        // The stack may still show its old status right after ExecuteChangeSet: wait for the
        // stack-level event of the new one (or a few polls, for services that send none).
        if execute_error.is_some() || (!events::is_in_progress(&status) && (settled_event || polls >= 5)) {
            break status;
        }
        if started.elapsed() > Duration::from_secs(ctx.args.timeout.saturating_mul(60)) {
            ctx.ui.clear_progress();
            ctx.ui.say(&format!(
                "\nFAILED: stack {} is still {status} after {} minute(s); CloudFormation carries on, follow it in the console or with `aws cloudformation describe-stack-events --stack-name {}`",
                stack.name, ctx.args.timeout, stack.name
            ));
            return Ok(false);
        }
        ctx.ui.progress(&format!(
            "{}: {status} ({}s, {} events)",
            stack.name,
            started.elapsed().as_secs(),
            history.len()
        ));
        tokio::time::sleep(ctx.cfn_poll()).await;
    };
    ctx.ui.clear_progress();
    if execute_error.is_none() && events::is_success(&status) {
        ctx.ui.say(&format!("{}: {status} in {}s", stack.name, started.elapsed().as_secs()));
        return Ok(true);
    }
    let mut summary = format!("\nFAILED: stack {} ended in {status}", stack.name);
    if let Some(reason) = &execute_error {
        summary.push_str(&format!("\n  CloudFormation refused to execute the change set: {reason}"));
    }
    let failures = events::first_failures(&history, FAILURES_SHOWN);
    if !failures.is_empty() {
        summary.push_str("\n  First failures:");
        for event in failures {
            summary.push_str(&format!(
                "\n    {} ({}): {} {}",
                event.logical_id,
                event.resource_type,
                event.status,
                event.reason.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    summary.push_str(&format!("\n  Outcome: {}", events::rollback_outcome(&status)));
    ctx.ui.say(&summary);
    Ok(false)
}

impl Context {
    fn cfn_poll(&self) -> Duration {
        Duration::from_secs(self.args.poll_interval.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_cli_convention() {
        assert_eq!(Outcome::Deployed.code(), 0);
        assert_eq!(Outcome::Failed.code(), 1);
        assert_eq!(Outcome::Cancelled.code(), 1);
        let reviewed = |pending, detailed_exitcode| Outcome::Reviewed { pending, detailed_exitcode }.code();
        assert_eq!(reviewed(true, true), 2);
        assert_eq!(reviewed(true, false), 0);
        assert_eq!(reviewed(false, true), 0);
    }

    #[test]
    fn the_arguments_parse_as_documented() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            deploy: DeployArgs,
        }
        let cli =
            Cli::try_parse_from(["gen", "prod", "--dry-run", "-y", "--stack", "kafka-prod-cluster"]).unwrap();
        assert_eq!(cli.deploy.stage, "prod");
        assert!(cli.deploy.dry_run && cli.deploy.yes);
        assert_eq!(cli.deploy.stack.as_deref(), Some("kafka-prod-cluster"));
        assert_eq!(cli.deploy.templates, PathBuf::from("templates"));
        assert_eq!(cli.deploy.lambda_dir, PathBuf::from("target/lambda"));
        assert!(Cli::try_parse_from(["gen"]).is_err(), "the stage is required");
    }
}
