//! `gen validate`.

use std::path::Path;
use std::process::ExitCode;

use kafka_platform_core::StageName;

use crate::diagnostics::{FindingFormat, print_findings};

/// Arguments of `gen validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Stages to check (dev, test, acc, prod); all declared stages when none is given.
    #[arg(value_parser = parse_stage)]
    pub stages: Vec<StageName>,
    /// Output format of the findings.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FindingFormat,
}

/// Parses a stage name for clap.
pub fn parse_stage(s: &str) -> Result<StageName, String> {
    StageName::parse(s).ok_or_else(|| format!("`{s}` is not a stage (dev, test, acc, prod)"))
}

/// Runs validation and prints every finding; exit 1 on any error.
pub fn run(environments: &Path, args: &ValidateArgs) -> ExitCode {
    let (models, findings) = kafka_platform_core::load_and_resolve(environments, &args.stages);
    let mut findings = findings;
    for model in models.values() {
        findings.extend(kafka_platform_core::render::limits::check(model));
    }
    print_findings(&findings, args.format);
    if findings.iter().any(|f| f.is_error()) {
        ExitCode::FAILURE
    } else {
        if args.format == FindingFormat::Text {
            let stages: Vec<String> = models.keys().map(|s| s.to_string()).collect();
            eprintln!("ok: {} valid", stages.join(", "));
        }
        ExitCode::SUCCESS
    }
}
