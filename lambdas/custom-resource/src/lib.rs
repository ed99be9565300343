//! The CloudFormation custom-resource protocol, once, for the Rust Lambdas of this repository.
//!
//! A function implements [`CustomResource`] (create, update, delete) and calls [`run`]. This
//! crate does everything else the protocol asks:
//!
//! - parses the event into a typed [`Request`]; scalar properties are accepted as strings or
//!   native JSON ([`Properties`]), and a bad value fails with a reason naming the property;
//! - always answers CloudFormation with a PUT to the pre-signed ResponseURL (no content type,
//!   body under 4 KB), also on a malformed event, on a panic in the handler and before the
//!   Lambda deadline runs out; a failure reason names the CloudWatch log stream;
//! - answers a Delete of a resource whose Create failed with SUCCESS without calling the handler;
//! - keeps the old physical id when an Update fails, so a failure never looks like a replacement.
//!
//! Handlers never put secret values into [`Success::data`] or into errors.

pub mod aws;
pub mod error;
pub mod properties;
pub mod request;
pub mod response;
pub mod ssm;
pub mod stacks;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

pub use error::{Error, Result};
/// The error type `main` returns (the Lambda runtime's).
pub use lambda_runtime::Error as RuntimeError;
pub use properties::Properties;
pub use request::{Action, FAILED_CREATE_PREFIX, Owner, Request};
pub use response::Success;

use request::Envelope;
use response::Outcome;

/// Time kept back from the Lambda deadline to deliver the answer (at most this much, at most
/// half of the time left).
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// One kind of custom resource.
pub trait CustomResource: Send + Sync + 'static {
    /// Creates the resource and returns its physical id and attributes.
    fn create(&self, request: &Request) -> impl Future<Output = Result<Success>> + Send;

    /// Updates `physical_id`; returning another physical id means replacement, after which
    /// CloudFormation deletes the old one with its old properties.
    fn update(
        &self,
        request: &Request,
        physical_id: &str,
        old: &Properties,
    ) -> impl Future<Output = Result<Success>> + Send;

    /// Deletes `physical_id`; deleting what is already gone succeeds.
    fn delete(&self, request: &Request, physical_id: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Serves `resource` on the Lambda Runtime API until the runtime stops the process.
pub async fn run<R: CustomResource>(resource: R) -> std::result::Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let resource = Arc::new(resource);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Response(format!("cannot build the HTTP client: {e}")))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let resource = Arc::clone(&resource);
        let http = http.clone();
        async move { serve(resource, &http, event).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}

/// Like [`run`], but an event that is no custom-resource request (it has no `ResponseURL`, e.g. an
/// EventBridge schedule's constant input) goes to `other`, whose value or error is the
/// invocation's result: nobody waits for a CloudFormation answer then.
pub async fn run_with<R, O, F>(resource: R, other: O) -> std::result::Result<(), lambda_runtime::Error>
where
    R: CustomResource,
    O: Fn(Value) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Value>> + Send,
{
    lambda_runtime::tracing::init_default_subscriber();
    let resource = Arc::new(resource);
    let other = Arc::new(other);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Response(format!("cannot build the HTTP client: {e}")))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let resource = Arc::clone(&resource);
        let other = Arc::clone(&other);
        let http = http.clone();
        async move {
            if Envelope::read(&event.payload).is_none() {
                return other(event.payload).await.map_err(lambda_runtime::Error::from);
            }
            serve(resource, &http, event).await.map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}

/// Handles one invocation: dispatch with guards, then answer.
async fn serve<R: CustomResource>(
    resource: Arc<R>,
    http: &reqwest::Client,
    event: LambdaEvent<Value>,
) -> Result<Value> {
    let Some(envelope) = Envelope::read(&event.payload) else {
        // Without a ResponseURL nobody can be told; fail the invocation so it is visible.
        tracing::error!("event without ResponseURL; not a CloudFormation custom-resource request");
        return Err(Error::MalformedEvent("the event has no ResponseURL".into()));
    };
    let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
    let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
    let margin = ANSWER_MARGIN.min(left / 2);
    let work_budget = left.saturating_sub(margin);

    let outcome = match Request::parse(event.payload) {
        Err(e) => Outcome::Failed { physical_id: envelope.failure_physical_id(), reason: e.to_string() },
        Ok(request) => dispatch(resource, request, work_budget)
            .await
            .unwrap_or_else(|reason| Outcome::Failed { physical_id: envelope.failure_physical_id(), reason }),
    };
    let outcome = match outcome {
        Outcome::Failed { physical_id, reason } => {
            tracing::error!(
                request_type = %envelope.request_type,
                logical_resource_id = %envelope.logical_resource_id,
                physical_resource_id = %physical_id,
                %reason,
                "request FAILED"
            );
            Outcome::Failed { physical_id, reason: format!("{reason}{}", log_hint(&event.context)) }
        }
        Outcome::Success(s) => {
            tracing::info!(
                request_type = %envelope.request_type,
                logical_resource_id = %envelope.logical_resource_id,
                physical_resource_id = %s.physical_id,
                "request SUCCESS"
            );
            Outcome::Success(s)
        }
    };
    let body = response::body(&envelope, &outcome);
    let answer_budget =
        deadline.duration_since(SystemTime::now()).unwrap_or_default().max(Duration::from_secs(1));
    response::send(http, &envelope.response_url, body, answer_budget).await?;
    Ok(Value::Null)
}

/// Runs the handler in its own task so that a panic or an overrun becomes a FAILED answer.
/// `Err(reason)` means the handler did not finish normally.
async fn dispatch<R: CustomResource>(
    resource: Arc<R>,
    request: Request,
    budget: Duration,
) -> std::result::Result<Outcome, String> {
    if let Action::Delete { physical_id } = &request.action
        && physical_id.starts_with(FAILED_CREATE_PREFIX)
    {
        // The Create failed and left nothing behind; CloudFormation is rolling back.
        return Ok(Outcome::Success(Success::new(physical_id.clone())));
    }
    let failure_id = match &request.action {
        Action::Create => format!("{FAILED_CREATE_PREFIX}{}", request.request_id),
        Action::Update { physical_id, .. } | Action::Delete { physical_id } => physical_id.clone(),
    };
    let task = tokio::spawn(async move {
        inject_fault();
        match &request.action {
            Action::Create => resource.create(&request).await,
            Action::Update { physical_id, old } => resource.update(&request, physical_id, old).await,
            Action::Delete { physical_id } => {
                resource.delete(&request, physical_id).await.map(|()| Success::new(physical_id))
            }
        }
    });
    let abort = task.abort_handle();
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(Ok(success))) => Ok(Outcome::Success(success)),
        Ok(Ok(Err(e))) => Ok(Outcome::Failed { physical_id: failure_id, reason: e.to_string() }),
        Ok(Err(join)) => {
            let what = match join.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into()),
                Err(e) => e.to_string(),
            };
            Err(format!("internal error in the handler ({what}); this is a bug, please report it"))
        }
        Err(_) => {
            abort.abort();
            Err(format!(
                "the handler did not finish within the {} s the Lambda timeout left; an AWS \
                 service may be unreachable from the function, or the timeout is too short; \
                 whatever the handler may have started is not rolled back",
                budget.as_secs_f64().round()
            ))
        }
    }
}

fn log_hint(context: &lambda_runtime::Context) -> String {
    let stream = &context.env_config.log_stream;
    let group = &context.env_config.log_group;
    if stream.is_empty() {
        String::new()
    } else {
        format!(" (CloudWatch log group {group}, stream {stream})")
    }
}

/// Debug builds only: `CFN_CUSTOM_RESOURCE_FAULT=panic` panics inside the handler task, so that
/// the integration tests can prove the panic guard on the real binary. Release builds (the
/// packaged Lambdas) do not contain this.
fn inject_fault() {
    #[cfg(debug_assertions)]
    if std::env::var("CFN_CUSTOM_RESOURCE_FAULT").as_deref() == Ok("panic") {
        panic!("fault injected by CFN_CUSTOM_RESOURCE_FAULT=panic");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow;
    impl CustomResource for Slow {
        async fn create(&self, _: &Request) -> Result<Success> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Success::new("never"))
        }
        async fn update(&self, _: &Request, _: &str, _: &Properties) -> Result<Success> {
            panic!("boom")
        }
        async fn delete(&self, _: &Request, _: &str) -> Result<()> {
            Err(Error::Refused("no".into()))
        }
    }

    fn request(kind: &str, physical: &str) -> Request {
        Request::parse(serde_json::json!({
            "RequestType": kind, "ResponseURL": "http://x", "StackId": "s", "RequestId": "r",
            "LogicalResourceId": "L", "ResourceType": "Custom::T", "PhysicalResourceId": physical,
            "ResourceProperties": {}, "OldResourceProperties": {}
        }))
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn an_overrunning_handler_fails_with_the_budget_in_the_reason() {
        let r = dispatch(Arc::new(Slow), request("Create", ""), Duration::from_secs(7)).await;
        let reason = r.unwrap_err();
        assert!(reason.contains("did not finish within the 7 s"), "{reason}");
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_with_the_panic_message() {
        let r = dispatch(Arc::new(Slow), request("Update", "p"), Duration::from_secs(7)).await;
        assert!(r.unwrap_err().contains("internal error in the handler (boom)"));
    }

    #[tokio::test]
    async fn handler_errors_keep_the_physical_id_of_updates_and_deletes() {
        let r = dispatch(Arc::new(Slow), request("Delete", "p"), Duration::from_secs(7)).await;
        assert_eq!(r.unwrap(), Outcome::Failed { physical_id: "p".into(), reason: "no".into() });
    }

    #[tokio::test]
    async fn deleting_a_failed_create_succeeds_without_the_handler() {
        let id = format!("{FAILED_CREATE_PREFIX}r");
        let r = dispatch(Arc::new(Slow), request("Delete", &id), Duration::from_secs(7)).await;
        assert_eq!(r.unwrap(), Outcome::Success(Success::new(id)));
    }
}
