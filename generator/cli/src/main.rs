//! `gen`: validate, render, plan, apply, deploy and package the Kafka platform.

mod access;
mod aws;
mod catalog;
mod certs;
mod certs_renew;
mod certs_rollover;
mod deploy;
mod diagnostics;
mod new;
mod output;
mod package;
mod package_exporter;
mod plan;
mod render;
mod roll;
mod schemas;
mod status;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kafka_platform_core::StageName;

/// Declarative Kafka platform for AWS: environments/ in git -> policy checks -> CloudFormation,
/// topics, ACLs and service accounts.
#[derive(Debug, Parser)]
#[command(name = "gen", version)]
struct Cli {
    /// Directory with defaults.yaml, stages/ and projects/.
    #[arg(long, global = true, default_value = "environments", env = "GEN_ENVIRONMENTS")]
    environments: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the declarations against every policy; report all findings; exit 1 on any error.
    Validate(validate::ValidateArgs),
    /// Render stages into CloudFormation templates (templates/<stage>/), or check they are current.
    Render(render::RenderArgs),
    /// Show what reconciling a stage's topics, ACLs and service accounts would change on a cluster.
    Plan(plan::PlanArgs),
    /// Make a cluster's topics, ACLs and service accounts match the stage's declarations.
    Apply(plan::ApplyArgs),
    /// Report the cluster's health: quorum, nodes, partitions, versions, pending changes; exit 0
    /// healthy, 3 degraded, 1 error or unreachable.
    Status(status::StatusArgs),
    /// List every certificate of a stage from SSM (serial, not-after, days left, renewal day); exit 0
    /// fine, 3 when one is inside its renewal window, expired or missing, 1 on an error.
    Certs(certs::CertsArgs),
    /// Restart the stage's Kafka nodes one at a time, each when the cluster has caught up.
    Roll(roll::RollArgs),
    /// Roll a rendered stage out through CloudFormation change sets (review, confirm, progress).
    Deploy(deploy::DeployArgs),
    /// Build every Lambda as a provided.al2023 `bootstrap` zip and record its content hash.
    Package(package::PackageArgs),
    /// Temporary debug access to a project's topics: grant, list, revoke, and the debug shell.
    Access(access::AccessArgs),
    /// Start a project or add a topic: writes declarations that validate, never overwrites a file.
    New(new::NewArgs),
    /// Write the AsyncAPI 3.0 documents and a static HTML catalog (search, a page per project and
    /// topic, producers and consumers, schemas, a picture) of the declared stages into DIR.
    Catalog(catalog::CatalogArgs),
    /// Print the JSON Schema of the declaration files (committed as environments/schema.json).
    Schema,
    /// Print a shell completion script (e.g. `gen completions bash > /etc/bash_completion.d/gen`).
    Completions {
        /// Shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the KAFKA_* environment of one node as the rendered task definition sets it.
    #[command(hide = true)]
    NodeEnv {
        /// Stage.
        #[arg(value_parser = validate::parse_stage)]
        stage: StageName,
        /// Node name (b0, b1, ..., c0, ...).
        node: String,
    },
    /// Print the launcher's storage step (shell function `format_storage`) as the rendered task
    /// definitions run it; the test cluster (tests/scripts/kafka.sh) formats with the same text.
    #[command(hide = true)]
    FormatStorageStep,
    /// Print the JMX exporter configuration the rendered nodes run; the test cluster
    /// (tests/scripts/kafka.sh) runs the same file.
    #[command(hide = true)]
    MetricsExporterConfig,
}

/// The exit code of a command line clap refuses. One contract for every command: 0 ok, 1 error,
/// 2 only for pending changes with `--detailed-exitcode`; clap's own 2 for a usage error would
/// read as "changes pending", so usage errors exit 1 (`--help` and `--version` exit 0).
fn usage_exit(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// `GEN_LOG=debug` (an env filter: `kafka_admin=debug,r#gen=debug`, ...; the binary's target is
/// `r#gen`, `gen` being a keyword) prints where a command's time goes on stderr: each phase's span
/// as it closes, with its busy and idle time, and one line per Kafka request and connection. Off
/// when unset.
fn init_log() {
    let Ok(filter) = std::env::var("GEN_LOG") else { return };
    let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warning: GEN_LOG ignored: {e}");
            return;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();
}

fn main() -> ExitCode {
    init_log();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return usage_exit(&err);
        }
    };
    match cli.command {
        Command::Validate(args) => validate::run(&cli.environments, &args),
        Command::Render(args) => render::run(&cli.environments, &args),
        Command::Plan(args) => block_on(plan::run_plan(&cli.environments, &args)),
        Command::Apply(args) => block_on(plan::run_apply(&cli.environments, &args)),
        Command::Status(args) => block_on(status::run(&cli.environments, &args)),
        Command::Roll(args) => block_on(roll::run(&cli.environments, &args)),
        Command::Certs(args) => block_on(certs::run(&cli.environments, &args)),
        Command::Deploy(args) => deploy::command(args),
        Command::Package(args) => package::run(&args),
        Command::New(args) => new::run(&cli.environments, &args),
        Command::Access(args) => block_on(access::run(&cli.environments, &args)),
        Command::Catalog(args) => catalog::run(&cli.environments, &args),
        Command::Schema => {
            let schema = kafka_platform_core::schema::declarations_schema();
            println!("{}", serde_json::to_string_pretty(&schema).expect("schema serialises"));
            ExitCode::SUCCESS
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "gen", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::NodeEnv { stage, node } => node_env(&cli.environments, stage, &node),
        Command::FormatStorageStep => {
            print!("{}", kafka_platform_core::render::kafka_config::format_storage_function());
            ExitCode::SUCCESS
        }
        Command::MetricsExporterConfig => {
            print!("{}", kafka_platform_core::render::metrics::exporter_config());
            ExitCode::SUCCESS
        }
    }
}

/// Runs an async command on a small runtime (the pure commands need none).
fn block_on(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime.block_on(future),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

fn node_env(environments: &std::path::Path, stage: StageName, node: &str) -> ExitCode {
    let (models, findings) = kafka_platform_core::load_and_resolve(environments, &[stage]);
    let Some(model) = models.get(&stage) else {
        diagnostics::print_findings(&findings, diagnostics::FindingFormat::Text);
        return ExitCode::FAILURE;
    };
    let Some(n) = model.cluster.brokers.iter().chain(&model.cluster.controllers).find(|n| n.name == node)
    else {
        eprintln!("error: {stage} has no node `{node}`");
        return ExitCode::FAILURE;
    };
    for (key, value) in kafka_platform_core::render::kafka_config::node_environment(model, n) {
        println!("{key}={value}");
    }
    ExitCode::SUCCESS
}
