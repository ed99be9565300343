//! Lambda entry point for `Custom::KafkaReconciler` and the scheduled drift check.

use std::sync::Arc;

use reconciler_lambda::KafkaReconciler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cfn_custom_resource::RuntimeError> {
    let config = cfn_custom_resource::aws::sdk_config().await;
    let mut s3 = aws_sdk_s3::config::Builder::from(&config);
    if config.endpoint_url().is_some() {
        // Emulators answer on one host name; bucket sub-domains would not resolve.
        s3 = s3.force_path_style(true);
    }
    let (ssm, s3) = (aws_sdk_ssm::Client::new(&config), aws_sdk_s3::Client::from_conf(s3.build()));
    // Scheduled drift checks (an EventBridge input, no ResponseURL) go to the same reconciler.
    let scheduled = Arc::new(KafkaReconciler::new(ssm.clone(), s3.clone()));
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let resource = KafkaReconciler::new(ssm, s3).with_cloudwatch(cloudwatch.clone());
    cfn_custom_resource::run_with(resource, move |event| {
        let (scheduled, cloudwatch) = (Arc::clone(&scheduled), cloudwatch.clone());
        async move { scheduled.drift_check_event(event, &cloudwatch).await }
    })
    .await
}
