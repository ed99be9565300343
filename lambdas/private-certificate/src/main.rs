//! Lambda entry point for `Custom::PrivateCertificate` and the direct renewal requests
//! (renew.rs: an event without ResponseURL).

use std::sync::Arc;

use cfn_custom_resource::stacks::Stacks;
use private_certificate_lambda::PrivateCertificate;
use private_certificate_lambda::guard::Guard;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), cfn_custom_resource::RuntimeError> {
    let config = cfn_custom_resource::aws::sdk_config().await;
    let make = || {
        let guard = Guard::from_env(Stacks::new(aws_sdk_cloudformation::Client::new(&config)));
        PrivateCertificate::new(
            aws_sdk_acmpca::Client::new(&config),
            aws_sdk_ssm::Client::new(&config),
            guard,
        )
    };
    let cas = private_certificate_lambda::renew::RenewalCas::from_env().map_err(|e| e.to_string())?;
    let direct = Arc::new(make().with_renewal_cas(cas));
    cfn_custom_resource::run_with(make(), move |event| {
        let direct = Arc::clone(&direct);
        // Boxed: a renewal's future is laid out on its own, not inside main's, whose nesting would
        // otherwise pass rustc's layout depth limit (recursion_limit, 128).
        async move { Box::pin(direct.direct(event)).await }
    })
    .await
}
