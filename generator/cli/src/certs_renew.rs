//! `gen certs renew STAGE [--now] [--dry-run] [--only NAME,...]`: the renewal driver
//! (kafka_reconcile::renewal) run by an operator, with the certificate Lambda's own code in
//! process (same checks, the operator's AWS credentials) and the admin client of the connection
//! flags for the push. Exit 0 when every selected certificate is done or not due, 1 otherwise.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cfn_custom_resource::stacks::Stacks;
use kafka_admin::{AdminClient, TlsConfig};
use kafka_platform_core::render::renewal::targets;
use kafka_platform_core::{StageName, load_and_resolve};
use kafka_reconcile::renewal::{Authority, Cluster, Options, Outcome, SsmStore, Step, run};
use private_certificate_lambda::PrivateCertificate;
use private_certificate_lambda::guard::Guard;

use crate::certs::CertsFormat;
use crate::plan::{ConnectionArgs, admin_config, load_desired};

/// Arguments of `gen certs renew`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenewArgs {
    /// Stage whose certificates to renew.
    #[arg(value_parser = crate::validate::parse_stage)]
    pub stage: StageName,
    /// Renew the selected certificates now, even before their renewal day.
    #[arg(long)]
    pub now: bool,
    /// Print what each certificate needs next; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these certificates (names as `gen certs` lists them), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Seconds to wait for a node to serve a pushed certificate before giving up (no revocation).
    #[arg(long, default_value_t = 60)]
    pub gate_wait: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CertsFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// The certificate Lambda's code, in process.
struct InProcess(PrivateCertificate);

impl Authority for InProcess {
    async fn renew(&self, prefix: &str) -> Result<String, String> {
        let answer = self.0.renew(prefix).await.map_err(|e| e.to_string())?;
        Ok(answer["Serial"].as_str().unwrap_or_default().to_string())
    }

    async fn revoke_superseded(&self, prefix: &str) -> Result<String, String> {
        let answer = self.0.revoke_superseded(prefix).await.map_err(|e| e.to_string())?;
        Ok(answer["RevokedSerial"].as_str().unwrap_or_default().to_string())
    }
}

/// One line per certificate.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let step = match o.step {
            Step::Nothing => "not due".to_string(),
            Step::Renew => "renew".into(),
            Step::Push => "push, check, revoke".into(),
            Step::WaitOverlap { until } => {
                format!(
                    "renewed; superseded one revoked after {}",
                    kafka_reconcile::certificates::date(until)
                )
            }
            Step::Revoke => "revoke superseded".into(),
        };
        out.push_str(&format!("{:<24} {step}", o.name));
        if !o.done.is_empty() {
            out.push_str(&format!(": {}", o.done.join(", ")));
        }
        if let Some(e) = &o.error {
            out.push_str(&format!("\n{:<24} FAILED: {e}", ""));
        }
        out.push('\n');
    }
    out
}

/// `gen certs renew`.
pub async fn run_renew(environments: &Path, args: &RenewArgs) -> ExitCode {
    let (models, findings) = load_and_resolve(environments, &[args.stage]);
    let Some(model) = models.get(&args.stage) else {
        crate::diagnostics::print_findings(&findings, crate::diagnostics::FindingFormat::Text);
        return ExitCode::FAILURE;
    };
    let list = targets(model);
    if let Some(unknown) = args.only.iter().find(|n| !list.iter().any(|t| &&t.name == n)) {
        let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "error: --only {unknown}: stage {} has no such certificate ({})",
            args.stage,
            names.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let config = crate::aws::sdk_config(None).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let guard = Guard::new("", None, Stacks::new(aws_sdk_cloudformation::Client::new(&config)));
    let cas = match crate::certs_rollover::renewal_cas(model, &ssm).await {
        Ok(cas) => cas,
        Err(e) => {
            eprintln!("error: the stage's CAs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let authority = InProcess(
        PrivateCertificate::new(aws_sdk_acmpca::Client::new(&config), ssm.clone(), guard)
            .with_renewal_cas(cas),
    );
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let options = Options {
        renew_before_days: model.certificates.renew_before_days,
        force: args.now,
        dry_run: args.dry_run,
        only: args.only.clone(),
        now,
        gate_wait: Duration::from_secs(args.gate_wait),
    };
    let c = &args.connection;
    let Some(stage) = load_desired(environments, args.stage) else { return ExitCode::FAILURE };
    let (client, tls) = if args.dry_run {
        (None, None)
    } else {
        let connected = match admin_config(&stage, c) {
            Ok(config) => AdminClient::connect(config).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let tls = TlsConfig::from_ca_file(&c.ca_file).map_err(|e| e.to_string());
        match (connected, tls) {
            (Ok(client), Ok(tls)) => (Some(client), Some(tls)),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: cannot connect to Kafka: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let cluster = match (&client, &tls) {
        (Some(client), Some(tls)) => Some(Cluster { client, tls }),
        _ => None,
    };
    let result = run(&list, &SsmStore(ssm), &authority, cluster.as_ref(), &options).await;
    if let Some(client) = client {
        client.close().await;
    }
    let outcomes = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.format {
        CertsFormat::Text => print!("{}", text(&outcomes)),
        CertsFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&outcomes).expect("outcomes serialise"))
        }
    }
    if outcomes.iter().any(|o| o.error.is_some()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
