//! The moto servers of `tests/scripts/moto.sh`, as every test reaches them: the open one (fake
//! credentials) for most tests, and the IAM-enforced one for the tests that run code under a
//! rendered IAM policy (see moto.sh for why there are two).

use aws_config::SdkConfig;

use crate::lambda_harness::sdk_config_for;

fn variable(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `tests/scripts/moto.sh start` and \
             `eval \"$(tests/scripts/moto.sh env)\"` first (tests/run.sh does both)"
        )
    })
}

/// The open moto's endpoint from `tests/scripts/moto.sh env`; fails the test when it is missing.
pub fn endpoint() -> String {
    variable("MOTO_ENDPOINT")
}

/// An SDK configuration for the tests' own calls to the open moto.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(&endpoint(), "testing", "testing").await
}

/// The IAM-enforced moto's endpoint.
pub fn iam_endpoint() -> String {
    variable("MOTO_IAM_ENDPOINT")
}

/// An SDK configuration for calls to the IAM-enforced moto as its admin user.
pub async fn iam_admin_config() -> SdkConfig {
    sdk_config_for(
        &iam_endpoint(),
        &variable("MOTO_IAM_ACCESS_KEY_ID"),
        &variable("MOTO_IAM_SECRET_ACCESS_KEY"),
    )
    .await
}

/// An S3 client with path-style addressing: moto on 127.0.0.1 has no bucket sub-domains.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}
