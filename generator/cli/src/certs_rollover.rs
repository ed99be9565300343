//! `gen certs rollover STAGE [--dry-run]`: the Kafka side of a CA rollover's declared phase
//! (docs/operators-guide.md, "CA rollover"). It reads the deployed phase and both CAs from the
//! stage's exports, refuses a phase that skips one (KP119), and then:
//!
//! - `trust` / `issue`: pushes the trust store with both CAs to every broker, per listener, so
//!   that no node refuses a certificate of the new CA once one exists;
//! - `retire`: only when no stored certificate and no listener of any broker is of the old CA
//!   (`kafka_reconcile::rollover::retire_gate`), pushes the trust store with the new CA alone.
//!
//! Exit 0 done, 1 refused or failed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use kafka_admin::{AdminClient, TlsConfig};
use kafka_platform_core::config::stage::RolloverPhase;
use kafka_platform_core::render::names;
use kafka_platform_core::{StageName, load_and_resolve};
use kafka_reconcile::rollover::{
    bundle_for, issuer_of, push_trust_store, retire_gate, served_issuers, subject_of,
};

use crate::plan::{ConnectionArgs, admin_config, load_desired};

/// Arguments of `gen certs rollover`.
#[derive(Debug, Clone, clap::Args)]
pub struct RolloverArgs {
    /// Stage whose CA rollover to carry on.
    #[arg(value_parser = crate::validate::parse_stage)]
    pub stage: StageName,
    /// Check the step and print what would be pushed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

async fn ssm_string(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>, String> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Ok(None),
        Err(e) => Err(format!("ssm:GetParameter {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(&e))),
    }
}

async fn ca_certificate(pca: &aws_sdk_acmpca::Client, arn: &str) -> Result<String, String> {
    let out =
        pca.get_certificate_authority_certificate().certificate_authority_arn(arn).send().await.map_err(
            |e| {
                format!(
                    "acm-pca:GetCertificateAuthorityCertificate {arn}: {}",
                    aws_sdk_acmpca::error::DisplayErrorContext(&e)
                )
            },
        )?;
    out.certificate.ok_or_else(|| format!("{arn} has no CA certificate"))
}

/// `gen certs rollover`.
pub async fn run_rollover(environments: &Path, args: &RolloverArgs) -> ExitCode {
    match rollover(environments, args).await {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn rollover(environments: &Path, args: &RolloverArgs) -> Result<Vec<String>, String> {
    let (models, findings) = load_and_resolve(environments, &[args.stage]);
    let Some(model) = models.get(&args.stage) else {
        crate::diagnostics::print_findings(&findings, crate::diagnostics::FindingFormat::Text);
        return Err("the stage does not resolve".into());
    };
    let declared = model
        .ca
        .rollover()
        .ok_or_else(|| format!("stage {} declares no certificate_authority.rollover", args.stage))?
        .phase;
    let config = crate::aws::sdk_config(None).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let deployed = ssm_string(&ssm, &names::export_parameter(model, "ca-rollover-phase")).await?;
    let deployed = match deployed.as_deref() {
        None => None,
        Some(p) => Some(
            RolloverPhase::parse(p).ok_or_else(|| format!("the deployed rollover phase {p:?} is unknown"))?,
        ),
    };
    RolloverPhase::step(deployed, Some(declared))
        .map_err(|e| format!("{}: {e}", kafka_platform_core::config::stage::ROLLOVER_STEP_RULE))?;
    let (Some(old_arn), Some(new_arn)) = (
        ssm_string(&ssm, &names::export_parameter(model, "ca-arn")).await?,
        ssm_string(&ssm, &names::export_parameter(model, "next-ca-arn")).await?,
    ) else {
        return Err("the new CA is not deployed yet: run `gen deploy` with `phase: trust` first".into());
    };
    if deployed.is_none() || (declared != RolloverPhase::Retire && deployed != Some(declared)) {
        return Err(format!(
            "declared phase {} is not deployed yet: run `gen deploy` first",
            declared.as_str()
        ));
    }
    let pca = aws_sdk_acmpca::Client::new(&config);
    let old_pem = ca_certificate(&pca, &old_arn).await?;
    let new_pem = ca_certificate(&pca, &new_arn).await?;
    let bundle = bundle_for(declared, &old_pem, &new_pem)?;
    let both = bundle_for(RolloverPhase::Trust, &old_pem, &new_pem)?;
    let mut lines = vec![format!(
        "stage {}: rollover phase {} (deployed {}); trust store: {}",
        args.stage,
        declared.as_str(),
        deployed.map_or("none", RolloverPhase::as_str),
        if declared == RolloverPhase::Retire { "the new CA alone" } else { "old and new CA" }
    )];

    let stage = load_desired(environments, args.stage).ok_or("the desired state does not load")?;
    let client =
        AdminClient::connect(admin_config(&stage, &args.connection)?).await.map_err(|e| e.to_string())?;
    let result = async {
        let nodes: Vec<i32> = client.brokers().keys().copied().collect();
        if declared == RolloverPhase::Retire {
            let tls = TlsConfig::new(both.as_bytes()).map_err(|e| e.to_string())?;
            let mut stored = BTreeMap::new();
            for (name, parameter) in crate::certs::certificate_parameters(model) {
                let issuer = ssm_string(&ssm, &parameter).await?.and_then(|pem| issuer_of(&pem).ok());
                stored.insert(name, issuer);
            }
            let mut served = BTreeMap::new();
            for node in &nodes {
                served.insert(node.to_string(), served_issuers(&client, &tls, *node).await?);
            }
            retire_gate(&subject_of(&old_pem)?, &stored, &served)
                .map_err(|waiting| format!("the old CA cannot retire yet:\n  {}", waiting.join("\n  ")))?;
            lines.push("no certificate of the old CA is stored or served".into());
        }
        for node in &nodes {
            if args.dry_run {
                lines.push(format!("would push the trust store to node {node}"));
                continue;
            }
            let listeners = push_trust_store(&client, *node, &bundle).await?;
            lines.push(format!("node {node}: trust store pushed to {}", listeners.join(", ")));
        }
        lines.push(match declared {
            RolloverPhase::Trust => {
                "next: clients add the trust bundle; then declare `phase: issue` and deploy".into()
            }
            RolloverPhase::Issue => {
                "next: `gen certs renew STAGE --now` (or the windows); then declare `phase: retire`".into()
            }
            RolloverPhase::Retire => {
                "next: `gen deploy` (trust bundle: the new CA alone; the old CA disabled)".into()
            }
        });
        Ok::<_, String>(lines)
    }
    .await;
    client.close().await;
    result
}

/// The CAs `gen certs renew` renews with during a rollover, from the deployed exports (what the
/// certificate Lambda has in its environment): both CAs, and the new one issuing from `issue` on.
pub async fn renewal_cas(
    model: &kafka_platform_core::model::StageModel,
    ssm: &aws_sdk_ssm::Client,
) -> Result<private_certificate_lambda::renew::RenewalCas, String> {
    if model.ca.rollover().is_none() {
        return Ok(Default::default());
    }
    let read = async |key: &str| ssm_string(ssm, &names::export_parameter(model, key)).await;
    let (Some(old), Some(new)) = (read("ca-arn").await?, read("next-ca-arn").await?) else {
        return Ok(Default::default());
    };
    let phase = read("ca-rollover-phase").await?.as_deref().and_then(RolloverPhase::parse);
    let issuing = phase.filter(|p| *p != RolloverPhase::Trust).map(|_| new.clone());
    private_certificate_lambda::renew::RenewalCas::new(vec![old, new], issuing).map_err(|e| e.to_string())
}
