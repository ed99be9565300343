//! The AWS SDK configuration of every `gen` command that talks to AWS.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Loads the SDK configuration from the standard chain (profile, environment, `AWS_ENDPOINT_URL`),
/// in `region` when given, with an HTTPS client on rustls and ring.
pub async fn sdk_config(region: Option<String>) -> SdkConfig {
    // ring, as in the Lambdas: the SDK's default aws-lc-rs needs a C/CMake toolchain to build.
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    match region {
        Some(region) => loader.region(Region::new(region)).load().await,
        None => loader.load().await,
    }
}
