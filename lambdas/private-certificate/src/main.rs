//! Lambda entry point for `Custom::PrivateCertificate`.

use private_certificate_lambda::PrivateCertificate;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cfn_custom_resource::RuntimeError> {
    let config = cfn_custom_resource::aws::sdk_config().await;
    cfn_custom_resource::run(PrivateCertificate::new(
        aws_sdk_acmpca::Client::new(&config),
        aws_sdk_ssm::Client::new(&config),
    ))
    .await
}
