//! The two CloudFormation reads the functions make to check who is asking: is a stack gone, and
//! is a resource of a stack being created or updated right now.

use aws_sdk_cloudformation::Client;

use crate::error::{Error, Result};

/// What CloudFormation says about one resource of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackResource {
    /// The unique id of the stack that holds it.
    pub stack_id: String,
    /// e.g. `Custom::PrivateCertificate`.
    pub resource_type: String,
    /// e.g. `CREATE_IN_PROGRESS`.
    pub status: String,
}

impl StackResource {
    /// Whether CloudFormation is creating or updating (also rolling back) the resource now, i.e.
    /// whether it may be waiting for a custom-resource answer that is not a Delete.
    pub fn is_being_provisioned(&self) -> bool {
        matches!(
            self.status.as_str(),
            "CREATE_IN_PROGRESS"
                | "UPDATE_IN_PROGRESS"
                | "UPDATE_ROLLBACK_IN_PROGRESS"
                | "ROLLBACK_IN_PROGRESS"
        )
    }
}

/// CloudFormation access.
#[derive(Clone, Debug)]
pub struct Stacks {
    client: Client,
}

/// CloudFormation answers "does not exist" with a plain ValidationError.
fn is_missing<E: aws_sdk_cloudformation::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.contains("does not exist"))
}

impl Stacks {
    /// Wraps a CloudFormation client.
    pub fn new(client: Client) -> Self {
        Stacks { client }
    }

    /// The status of the stack with this unique id (`DELETE_COMPLETE` for a deleted one, which
    /// CloudFormation keeps visible by id for a while); `None` when CloudFormation does not know it.
    pub async fn stack_status(&self, stack_id: &str) -> Result<Option<String>> {
        match self.client.describe_stacks().stack_name(stack_id).send().await {
            Ok(out) => Ok(out
                .stacks
                .unwrap_or_default()
                .into_iter()
                .find(|s| s.stack_id.as_deref() == Some(stack_id))
                .and_then(|s| s.stack_status.map(|st| st.as_str().to_string()))),
            Err(e) if e.as_service_error().is_some_and(is_missing) => Ok(None),
            Err(e) => Err(Error::aws(format!("cloudformation:DescribeStacks {stack_id}"), e)),
        }
    }

    /// One resource of the stack with this unique id; `None` when the stack or the resource is
    /// unknown.
    pub async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<Option<StackResource>> {
        match self
            .client
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.stack_resource_detail.map(|d| StackResource {
                stack_id: d.stack_id.unwrap_or_default(),
                resource_type: d.resource_type.unwrap_or_default(),
                status: d.resource_status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            })),
            Err(e) if e.as_service_error().is_some_and(is_missing) => Ok(None),
            Err(e) => {
                Err(Error::aws(format!("cloudformation:DescribeStackResource {logical_id} in {stack_id}"), e))
            }
        }
    }
}
