//! AWS SDK configuration shared by the functions.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig, timeout::TimeoutConfig};
use aws_sdk_ssm::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Loads the SDK configuration from the standard chain (region, credentials and
/// `AWS_ENDPOINT_URL`, which the tests point at moto), with a rustls/ring HTTPS client.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// The SDK's HTTPS client on rustls with the ring provider.
pub fn https_client() -> SharedHttpClient {
    // ring keeps the build free of aws-lc's C/CMake toolchain, which matters for the
    // provided.al2023 cross build.
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}
