//! Lambda entry point for `Custom::PrivateCertificate`.

use cfn_custom_resource::stacks::Stacks;
use private_certificate_lambda::PrivateCertificate;
use private_certificate_lambda::guard::Guard;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cfn_custom_resource::RuntimeError> {
    let config = cfn_custom_resource::aws::sdk_config().await;
    let guard = Guard::from_env(Stacks::new(aws_sdk_cloudformation::Client::new(&config)));
    cfn_custom_resource::run(PrivateCertificate::new(
        aws_sdk_acmpca::Client::new(&config),
        aws_sdk_ssm::Client::new(&config),
        guard,
    ))
    .await
}
