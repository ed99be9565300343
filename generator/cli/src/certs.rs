//! `gen certs STAGE`: every certificate of a stage (nodes, admin, Schema Registry, mTLS service
//! accounts) as the certificate Lambda stored it in SSM, with serial, not-after, days left and the
//! day it renews (reconcile::certificates::schedule). Exit 0 when none is inside its renewal window,
//! 3 when one is (or is expired or missing), 1 on an error.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_platform_core::config::project::Authentication;
use kafka_platform_core::model::StageModel;
use kafka_platform_core::render::names;
use kafka_platform_core::{StageName, load_and_resolve};
use kafka_reconcile::certificates::{CertificateFacts, RenewalState, Scheduled, date, inspect_pem, schedule};
use kafka_reconcile::rollover::issuer_of;
use serde::Serialize;

use crate::status::DEGRADED;

/// How the list is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CertsFormat {
    /// A table for people.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `gen certs`.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub command: Option<CertsCommand>,
    /// Stage whose certificates to list.
    #[arg(value_parser = crate::validate::parse_stage, required = true)]
    pub stage: Option<StageName>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CertsFormat,
}

/// What else `gen certs` does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CertsCommand {
    /// Renew due certificates: issue, push to the node, check it serves the new one, revoke the
    /// old one (docs/operators-guide.md, "Certificate renewal"); exit 0 done, 1 on any failure.
    Renew(crate::certs_renew::RenewArgs),
    /// Carry on the declared CA rollover: push the trust store of its phase to every broker
    /// (retire: only once nothing of the old CA is left) (docs/operators-guide.md, "CA rollover").
    Rollover(crate::certs_rollover::RolloverArgs),
}

/// The list, as printed with `--format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertsReport {
    pub stage: String,
    pub renew_before_days: u32,
    pub certificates: Vec<Listed>,
    /// Certificates whose parameter is missing or unreadable: (name, SSM parameter, reason).
    pub missing: Vec<Missing>,
}

/// One certificate: its renewal plan and the CA that issued it (a CA rollover's progress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub scheduled: Scheduled,
    /// The issuer's distinguished name.
    pub issuer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub name: String,
    pub parameter: String,
    pub reason: String,
}

impl CertsReport {
    /// Whether anything needs attention: inside the window, expired or missing.
    pub fn needs_attention(&self) -> bool {
        !self.missing.is_empty() || self.certificates.iter().any(|c| c.scheduled.state != RenewalState::Valid)
    }
}

/// Every certificate the stage's secrets stack issues: (name, SSM parameter of the leaf PEM).
pub fn certificate_parameters(model: &StageModel) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = model
        .cluster
        .brokers
        .iter()
        .chain(&model.cluster.controllers)
        .map(|n| (n.name.clone(), format!("{}/certificate", names::node_tls_prefix(model, n))))
        .collect();
    out.push(("admin".into(), format!("{}/certificate", names::tls_prefix(model, "admin"))));
    if model.schema_registry.is_some() {
        let prefix = names::tls_prefix(model, "schema-registry");
        out.push(("schema-registry".into(), format!("{prefix}/certificate")));
    }
    for account in model.service_accounts.iter().filter(|a| a.authentication == Authentication::Mtls) {
        let prefix = names::account_tls_prefix(model, &account.name.value);
        out.push((format!("account {}", account.name.value), format!("{prefix}/certificate")));
    }
    out
}

/// Builds the report from what SSM returned per parameter (pure).
pub fn report(
    stage: StageName,
    renew_before_days: u32,
    read: Vec<(String, String, Result<String, String>)>,
    now: i64,
) -> CertsReport {
    let mut found: Vec<(String, CertificateFacts)> = Vec::new();
    let mut issuers = std::collections::BTreeMap::new();
    let mut missing = Vec::new();
    for (name, parameter, value) in read {
        match value.and_then(|pem| Ok((inspect_pem(&pem)?, issuer_of(&pem)?))) {
            Ok((facts, issuer)) => {
                issuers.insert(name.clone(), issuer);
                found.push((name, facts));
            }
            Err(reason) => missing.push(Missing { name, parameter, reason }),
        }
    }
    let certificates = schedule(&found, renew_before_days, now)
        .into_iter()
        .map(|s| Listed { issuer: issuers.remove(&s.name).unwrap_or_default(), scheduled: s })
        .collect();
    CertsReport { stage: stage.to_string(), renew_before_days, certificates, missing }
}

/// The table for people.
pub fn text(r: &CertsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Stage {}: certificates (renewal window {} days)", r.stage, r.renew_before_days);
    let _ = writeln!(
        out,
        "{:<24} {:<60} {:<10} {:>9}  {:<10}  {:<12}  ISSUED-BY",
        "NAME", "SERIAL", "NOT-AFTER", "DAYS-LEFT", "RENEWS-ON", "STATE"
    );
    for listed in &r.certificates {
        let c = &listed.scheduled;
        let state = match c.state {
            RenewalState::Valid => "valid",
            RenewalState::InWindow => "in window",
            RenewalState::Due => "RENEWAL DUE",
            RenewalState::Expired => "EXPIRED",
        };
        let _ = writeln!(
            out,
            "{:<24} {:<60} {:<10} {:>9}  {:<10}  {state:<12}  {}",
            c.name,
            c.serial,
            date(c.not_after),
            c.days_left,
            date(c.renew_at),
            listed.issuer
        );
    }
    for m in &r.missing {
        let _ = writeln!(out, "{:<24} MISSING: {} ({})", m.name, m.parameter, m.reason);
    }
    out
}

/// `gen certs`: see the module documentation for the exit codes.
pub async fn run(environments: &Path, args: &CertsArgs) -> ExitCode {
    match &args.command {
        Some(CertsCommand::Renew(renew)) => return crate::certs_renew::run_renew(environments, renew).await,
        Some(CertsCommand::Rollover(r)) => return crate::certs_rollover::run_rollover(environments, r).await,
        None => {}
    }
    let Some(stage) = args.stage else { return ExitCode::FAILURE };
    let (models, findings) = load_and_resolve(environments, &[stage]);
    let Some(model) = models.get(&stage) else {
        crate::diagnostics::print_findings(&findings, crate::diagnostics::FindingFormat::Text);
        return ExitCode::FAILURE;
    };
    let ssm = aws_sdk_ssm::Client::new(&crate::aws::sdk_config(None).await);
    let mut read = Vec::new();
    for (name, parameter) in certificate_parameters(model) {
        let value = match ssm.get_parameter().name(&parameter).send().await {
            Ok(out) => out.parameter.and_then(|p| p.value).ok_or_else(|| "no value".to_string()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => {
                Err("not found".to_string())
            }
            Err(e) => {
                eprintln!(
                    "error: ssm:GetParameter {parameter}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                );
                return ExitCode::FAILURE;
            }
        };
        read.push((name, parameter, value));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let r = report(stage, model.certificates.renew_before_days, read, now);
    match args.format {
        CertsFormat::Text => print!("{}", text(&r)),
        CertsFormat::Json => println!("{}", serde_json::to_string_pretty(&r).expect("reports serialise")),
    }
    if r.needs_attention() { ExitCode::from(DEGRADED) } else { ExitCode::SUCCESS }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_missing_certificates_are_listed_and_need_attention() {
        let read = vec![
            ("b0".to_string(), "/p/b0/certificate".to_string(), Err("not found".to_string())),
            ("b1".to_string(), "/p/b1/certificate".to_string(), Ok("garbage".to_string())),
        ];
        let r = report(StageName::Dev, 30, read, 0);
        assert!(r.certificates.is_empty() && r.needs_attention());
        assert_eq!(r.missing[0].reason, "not found");
        assert!(r.missing[1].reason.contains("no PEM certificate"), "{}", r.missing[1].reason);
        let shown = text(&r);
        assert!(shown.contains("b0") && shown.contains("MISSING: /p/b0/certificate (not found)"), "{shown}");
        let empty = report(StageName::Dev, 30, vec![], 0);
        assert!(!empty.needs_attention());
    }
}
