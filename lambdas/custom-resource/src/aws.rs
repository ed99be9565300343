//! AWS SDK configuration shared by the functions.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig, timeout::TimeoutConfig};
use aws_sdk_ssm::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The SDK configuration of a function, from what the Lambda service puts in its environment:
/// `AWS_REGION` (or `AWS_DEFAULT_REGION`), the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL` and
/// `AWS_ENDPOINT_URL_<SERVICE>` when set (the tests point them at moto); standard retries and a
/// rustls/ring HTTPS client.
///
/// Not `aws_config::defaults(..).load()`: its chain (profile files, IMDS, ECS, SSO, STS web
/// identity, credential processes) finds nothing on Lambda, yet links STS and SSO clients into every
/// function, and the resident binary is most of a function's memory (docs/architecture.md,
/// Benchmarks).
pub async fn sdk_config() -> SdkConfig {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new);
    let mut config = SdkConfig::builder();
    config.set_region(region).set_endpoint_url(var("AWS_ENDPOINT_URL"));
    config
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .identity_cache(IdentityCache::lazy().build())
        .retry_config(RetryConfig::standard())
        .service_config(EnvServiceConfig)
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .build()
}

/// The service-specific settings the SDK documents beside the global ones, from the environment
/// only: `AWS_ENDPOINT_URL_<SERVICE ID>` (e.g. `AWS_ENDPOINT_URL_CLOUDWATCH`; the tests point one
/// service at an endpoint that never answers). Each client asks for its own key when it is built
/// from the [`SdkConfig`], and falls back to `AWS_ENDPOINT_URL` when this finds nothing.
#[derive(Debug)]
struct EnvServiceConfig;

impl LoadServiceConfig for EnvServiceConfig {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_uppercase().replace(' ', "_");
        std::env::var(format!("{}_{service}", key.env())).ok().filter(|v| !v.is_empty())
    }
}

/// The SDK's HTTPS client on rustls with the ring provider.
pub fn https_client() -> SharedHttpClient {
    // ring keeps the build free of aws-lc's C/CMake toolchain, which matters for the
    // provided.al2023 cross build.
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}
