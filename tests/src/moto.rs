//! The moto server of `tests/scripts/moto.sh`, as every test reaches it.

use aws_config::SdkConfig;

use crate::lambda_harness::sdk_config_for;

/// moto's endpoint from `tests/scripts/moto.sh env`; fails the test when it is missing.
pub fn endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "MOTO_ENDPOINT is not set: run `tests/scripts/moto.sh start` and \
             `eval \"$(tests/scripts/moto.sh env)\"` first (tests/run.sh does both)"
        )
    })
}

/// An SDK configuration for the tests' own calls to moto.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(&endpoint(), "testing", "testing").await
}

/// An S3 client with path-style addressing: moto on 127.0.0.1 has no bucket sub-domains.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}
