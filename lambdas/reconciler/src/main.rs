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
    // Daily certificate renewal (renewal.rs) asks the certificate Lambda to issue and revoke.
    let lambda = aws_sdk_lambda::Client::new(&config);
    cfn_custom_resource::run_with(resource, move |event| {
        let (scheduled, cloudwatch, lambda) = (Arc::clone(&scheduled), cloudwatch.clone(), lambda.clone());
        async move {
            // Each run is boxed, so main's future does not hold it (reconciler_lambda::phase).
            match reconciler_lambda::renewal::RenewalRun::from_event(&event)? {
                Some(run) => reconciler_lambda::phase(scheduled.renewal_event(run, lambda)).await,
                None => reconciler_lambda::phase(scheduled.drift_check_event(event, &cloudwatch)).await,
            }
        }
    })
    .await
}
