//! Lambda entry point for `Custom::SecurePassword`.

use secure_password_lambda::SecurePassword;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cfn_custom_resource::RuntimeError> {
    let config = cfn_custom_resource::aws::sdk_config().await;
    cfn_custom_resource::run(SecurePassword::new(
        aws_sdk_ssm::Client::new(&config),
        aws_sdk_cloudformation::Client::new(&config),
    ))
    .await
}
