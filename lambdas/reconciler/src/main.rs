//! Lambda entry point for `Custom::KafkaReconciler`.

use reconciler_lambda::KafkaReconciler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cfn_custom_resource::RuntimeError> {
    let config = cfn_custom_resource::aws::sdk_config().await;
    let mut s3 = aws_sdk_s3::config::Builder::from(&config);
    if config.endpoint_url().is_some() {
        // Emulators answer on one host name; bucket sub-domains would not resolve.
        s3 = s3.force_path_style(true);
    }
    cfn_custom_resource::run(KafkaReconciler::new(
        aws_sdk_ssm::Client::new(&config),
        aws_sdk_s3::Client::from_conf(s3.build()),
    ))
    .await
}
