//! Issues the test cluster's certificates the way the platform does on AWS: the
//! private-certificate Lambda of this workspace, run through the Runtime API harness, against
//! moto's ACM Private CA. The key, certificate and chain the Lambda stored in SSM become the PEM
//! files that `tests/scripts/kafka.sh` hands to brokers and clients, so the suite proves that
//! what the Lambda stores is what a broker loads.
//!
//! The admin and the nodes are reserved principals: the Lambda issues them only to the stack its
//! PLATFORM_SECRETS_STACK names, while CloudFormation shows the resource in progress. Every leaf
//! is therefore requested from such a stack in moto ([`platform_tests::provisioning`]), as the
//! secrets stack does on AWS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use platform_tests::lambda_harness::{Harness, sdk_config_for, unique};
use platform_tests::private_ca::{active_ca_certificate, create_root_ca};
use platform_tests::provisioning::{delete_stack, in_progress_stack};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Issue test certificates through the private-certificate Lambda and moto's ACM Private CA")]
struct Cli {
    /// moto's endpoint (tests/scripts/moto.sh env).
    #[arg(long, env = "MOTO_ENDPOINT")]
    moto: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Makes sure the root CA named in ARN_FILE is active in moto (creating it, and the file, if
    /// not) and writes its certificate to OUT. Prints `created` or `reused`.
    Ca {
        #[arg(long, value_name = "ARN_FILE")]
        arn_file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Issues a certificate with a fresh key through the Lambda (a CloudFormation Create) and
    /// writes key.pem (PKCS#8), cert.pem and chain.pem (certificate, then the CA chain) plus
    /// parameter-prefix (where the Lambda stored them in SSM) into OUT.
    Leaf {
        #[arg(long, value_name = "ARN_FILE")]
        arn_file: PathBuf,
        #[arg(long)]
        common_name: String,
        #[arg(long = "dns-name")]
        dns_names: Vec<String>,
        #[arg(long = "ip-address")]
        ip_addresses: Vec<String>,
        #[arg(long, value_enum)]
        usage: Usage,
        /// The Lambda binary (default: private-certificate-lambda next to this program).
        #[arg(long)]
        lambda: Option<PathBuf>,
        /// SSM prefix the Lambda stores under (default: a fresh one under /kafka-test/certificates).
        #[arg(long)]
        parameter_prefix: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Usage {
    Client,
    ServerAndClient,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ca { arn_file, out } => ca(&cli.moto, &arn_file, &out).await,
        Command::Leaf {
            arn_file,
            common_name,
            dns_names,
            ip_addresses,
            usage,
            lambda,
            parameter_prefix,
            out,
        } => {
            let prefix = parameter_prefix
                .unwrap_or_else(|| format!("/kafka-test/certificates/{}", unique(&common_name)));
            let spec = LeafSpec { common_name, dns_names, ip_addresses, usage, prefix };
            leaf(&cli.moto, &arn_file, &spec, lambda, &out).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("issue-test-cert: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn ca(moto: &str, arn_file: &Path, out: &Path) -> Result<(), String> {
    let pca = aws_sdk_acmpca::Client::new(&sdk_config_for(moto, "testing", "testing").await);
    let known = std::fs::read_to_string(arn_file).ok().map(|s| s.trim().to_string());
    if let Some(arn) = &known
        && let Some(cert) = active_ca_certificate(&pca, arn).await
    {
        write_atomically(out, &cert)?;
        println!("reused");
        return Ok(());
    }
    let (arn, cert) = create_root_ca(&pca, &unique("Kafka Platform Test CA")).await?;
    write_atomically(out, &cert)?;
    write_atomically(arn_file, &format!("{arn}\n"))?;
    println!("created");
    Ok(())
}

struct LeafSpec {
    common_name: String,
    dns_names: Vec<String>,
    ip_addresses: Vec<String>,
    usage: Usage,
    prefix: String,
}

async fn leaf(
    moto: &str,
    arn_file: &Path,
    spec: &LeafSpec,
    lambda: Option<PathBuf>,
    out: &Path,
) -> Result<(), String> {
    let ca_arn = std::fs::read_to_string(arn_file).map_err(|e| format!("{}: {e}", arn_file.display()))?;
    let lambda = match lambda {
        Some(path) => path,
        None => {
            std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("private-certificate-lambda")
        }
    };
    let prefix = &spec.prefix;
    let properties = json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:private-certificate",
        "CertificateAuthorityArn": ca_arn.trim(),
        "CommonName": spec.common_name,
        "DnsNames": spec.dns_names,
        "IpAddresses": spec.ip_addresses,
        "Usage": match spec.usage {
            Usage::Client => "client",
            Usage::ServerAndClient => "server-and-client",
        },
        "ParameterPrefix": prefix,
    });

    let config = sdk_config_for(moto, "testing", "testing").await;
    let stack_name = format!("{}-secrets", unique("kafka-test"));
    let stack_id = in_progress_stack(&config, &stack_name, "Certificate", "Custom::PrivateCertificate").await;
    let harness = Harness::start().await;
    let function = harness.spawn_path(&lambda, moto, &[("PLATFORM_SECRETS_STACK", &stack_name)]);
    let mut event =
        harness.event("Create", "Custom::PrivateCertificate", "Certificate", None, properties, None);
    event["StackId"] = json!(stack_id);
    let answer = harness.invoke(event, Duration::from_secs(60)).await;
    delete_stack(&config, &stack_id).await;
    if answer.status() != "SUCCESS" {
        return Err(format!(
            "the Lambda answered {}: {}\nits log:\n{}",
            answer.status(),
            answer.reason(),
            function.logs().join("\n")
        ));
    }

    let ssm = aws_sdk_ssm::Client::new(&config);
    let get = async |name: String| -> Result<String, String> {
        ssm.get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| format!("GetParameter {name}: {e:?}"))?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| format!("{name} has no value"))
    };
    let key = get(format!("{prefix}/private-key")).await?;
    let certificate = get(format!("{prefix}/certificate")).await?;
    let chain = get(format!("{prefix}/chain")).await?;

    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    write_atomically(&out.join("key.pem"), &with_newline(&key))?;
    write_atomically(&out.join("cert.pem"), &with_newline(&certificate))?;
    write_atomically(
        &out.join("chain.pem"),
        &format!("{}{}", with_newline(&certificate), with_newline(&chain)),
    )?;
    write_atomically(&out.join("parameter-prefix"), &format!("{prefix}\n"))?;
    Ok(())
}

fn with_newline(pem: &str) -> String {
    format!("{}\n", pem.trim_end())
}

/// Writes `contents` to `path` readable by the owner only, via a temporary file and a rename.
fn write_atomically(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    file.write_all(contents.as_bytes()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
