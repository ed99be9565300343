//! The CloudFormation calls of a deploy, returning the module's own plain types.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Tag,
};

use super::changes::{Action, Replacement, ResourceChange, is_no_change_reason};
use super::error::DeployError;
use super::events::{StackEvent, new_events};

/// Where CloudFormation reads a template from.
#[derive(Debug, Clone)]
pub enum TemplateSource {
    /// Sent inline (up to 51,200 bytes).
    Body(String),
    /// Read from the artifact bucket.
    Url(String),
}

/// The state of an existing stack.
#[derive(Debug, Clone)]
pub struct StackInfo {
    /// Stack ARN.
    pub id: String,
    /// Stack status such as UPDATE_COMPLETE.
    pub status: String,
    /// Whether termination protection is on.
    pub termination_protection: bool,
    /// The stack's parameter values by key (NoEcho ones come back masked).
    pub parameters: BTreeMap<String, String>,
}

/// A change set once CloudFormation has finished computing it.
#[derive(Debug, Clone)]
pub enum ChangeSetResult {
    /// Ready to execute.
    Ready(Vec<ResourceChange>),
    /// CloudFormation refused it; the reason says why (an empty change set says so too).
    Failed(String),
}

/// The answer to a change set request.
#[derive(Debug, Clone)]
pub enum Created {
    /// A change set is being computed.
    ChangeSet {
        /// Change set ARN.
        id: String,
        /// Stack ARN.
        stack_id: String,
    },
    /// The request was refused because nothing would change.
    NoChanges,
}

/// Everything a change set is made of.
pub struct ChangeSetRequest<'a> {
    /// Stack name.
    pub stack: &'a str,
    /// Change set name (unique per attempt).
    pub name: &'a str,
    /// CREATE for a new stack, UPDATE otherwise.
    pub create: bool,
    /// The template.
    pub template: &'a TemplateSource,
    /// Parameter values in key order.
    pub parameters: &'a [(String, String)],
    /// Stack tags.
    pub tags: &'a BTreeMap<String, String>,
    /// Description shown in the console.
    pub description: String,
}

/// Thin wrapper over the CloudFormation client.
pub struct Cfn {
    client: Client,
    poll: Duration,
}

fn is_missing_stack<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ValidationError") && err.message().is_some_and(|m| m.contains("does not exist"))
}

impl Cfn {
    /// A wrapper polling every `poll` while CloudFormation works.
    pub fn new(client: Client, poll: Duration) -> Self {
        Cfn { client, poll }
    }

    /// The stack's current state, or None when it does not exist.
    pub async fn stack(&self, name: &str) -> Result<Option<StackInfo>, DeployError> {
        match self.client.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out.stacks().first().map(|s| StackInfo {
                id: s.stack_id().unwrap_or(name).to_string(),
                status: s.stack_status().map(|st| st.as_str().to_string()).unwrap_or_default(),
                termination_protection: s.enable_termination_protection().unwrap_or(false),
                parameters: s
                    .parameters()
                    .iter()
                    .filter_map(|p| Some((p.parameter_key()?.to_string(), p.parameter_value()?.to_string())))
                    .collect(),
            })),
            Err(err) if err.as_service_error().is_some_and(is_missing_stack) => Ok(None),
            Err(err) => Err(DeployError::aws(format!("DescribeStacks {name}"), err)),
        }
    }

    /// Keys of the template's NoEcho parameters (their values are secrets).
    pub async fn no_echo_parameters(
        &self,
        stack: &str,
        template: &TemplateSource,
    ) -> Result<Vec<String>, DeployError> {
        let req = self.client.get_template_summary();
        let req = match template {
            TemplateSource::Body(body) => req.template_body(body),
            TemplateSource::Url(url) => req.template_url(url),
        };
        let out =
            req.send().await.map_err(|e| DeployError::aws(format!("GetTemplateSummary for {stack}"), e))?;
        Ok(out
            .parameters()
            .iter()
            .filter(|p| p.no_echo().unwrap_or(false))
            .filter_map(|p| p.parameter_key().map(str::to_string))
            .collect())
    }

    /// Creates a change set.
    pub async fn create_change_set(&self, req: &ChangeSetRequest<'_>) -> Result<Created, DeployError> {
        let mut call = self
            .client
            .create_change_set()
            .stack_name(req.stack)
            .change_set_name(req.name)
            .change_set_type(if req.create { ChangeSetType::Create } else { ChangeSetType::Update })
            .description(&req.description)
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam);
        call = match req.template {
            TemplateSource::Body(body) => call.template_body(body),
            TemplateSource::Url(url) => call.template_url(url),
        };
        for (key, value) in req.parameters {
            call = call.parameters(Parameter::builder().parameter_key(key).parameter_value(value).build());
        }
        for (key, value) in req.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        match call.send().await {
            Ok(out) => Ok(Created::ChangeSet {
                id: out.id().unwrap_or(req.name).to_string(),
                stack_id: out.stack_id().unwrap_or(req.stack).to_string(),
            }),
            // Some endpoints (moto) refuse an empty UPDATE change set outright instead of
            // reporting it as a FAILED change set.
            Err(err) if err.message().is_some_and(is_no_change_reason) => Ok(Created::NoChanges),
            Err(err) => Err(DeployError::ChangeSetFailed {
                stack: req.stack.to_string(),
                reason: super::error::aws_message(&err),
            }),
        }
    }

    /// Waits until the change set is computed and returns its rows (all pages).
    pub async fn wait_change_set(&self, id: &str) -> Result<ChangeSetResult, DeployError> {
        loop {
            let mut rows = Vec::new();
            let mut token: Option<String> = None;
            let mut status;
            let mut reason;
            loop {
                let out = self
                    .client
                    .describe_change_set()
                    .change_set_name(id)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| DeployError::aws("DescribeChangeSet", e))?;
                status = out.status().cloned();
                reason = out.status_reason().unwrap_or_default().to_string();
                rows.extend(out.changes().iter().filter_map(|c| c.resource_change()).map(|rc| {
                    ResourceChange {
                        action: match rc.action() {
                            Some(ChangeAction::Add) => Action::Add,
                            Some(ChangeAction::Remove) => Action::Remove,
                            Some(ChangeAction::Import) => Action::Import,
                            Some(ChangeAction::Dynamic) => Action::Dynamic,
                            _ => Action::Modify,
                        },
                        logical_id: rc.logical_resource_id().unwrap_or("?").to_string(),
                        resource_type: rc.resource_type().unwrap_or("?").to_string(),
                        replacement: match rc.replacement().map(|r| r.as_str()) {
                            Some("True") => Replacement::Yes,
                            Some("False") => Replacement::No,
                            Some("Conditional") => Replacement::Conditional,
                            _ => Replacement::Unknown,
                        },
                    }
                }));
                token = out.next_token().map(str::to_string);
                if token.is_none() || status != Some(ChangeSetStatus::CreateComplete) {
                    break;
                }
            }
            match status {
                Some(ChangeSetStatus::CreateComplete) => return Ok(ChangeSetResult::Ready(rows)),
                Some(ChangeSetStatus::Failed) => return Ok(ChangeSetResult::Failed(reason)),
                _ => tokio::time::sleep(self.poll).await,
            }
        }
    }

    /// Deletes a change set.
    pub async fn delete_change_set(&self, id: &str) -> Result<(), DeployError> {
        self.client
            .delete_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| DeployError::aws("DeleteChangeSet", e))?;
        Ok(())
    }

    /// Deletes a stack that holds no resources (one still in REVIEW_IN_PROGRESS).
    pub async fn delete_empty_stack(&self, stack_id: &str) -> Result<(), DeployError> {
        self.client
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| DeployError::aws("DeleteStack", e))?;
        Ok(())
    }

    /// Starts executing a change set.
    pub async fn execute(&self, id: &str, token: &str) -> Result<(), String> {
        self.client
            .execute_change_set()
            .change_set_name(id)
            .client_request_token(token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| super::error::aws_message(&e))
    }

    /// The id of the newest event of the stack, the baseline for streaming.
    pub async fn newest_event_id(&self, stack_id: &str) -> Result<Option<String>, DeployError> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| DeployError::aws("DescribeStackEvents", e))?;
        Ok(out.stack_events().first().and_then(|e| e.event_id()).map(str::to_string))
    }

    /// Events since `baseline` not yet in `seen`, oldest first (reads older pages as needed).
    pub async fn events_since(
        &self,
        stack_id: &str,
        baseline: Option<&str>,
        seen: &HashSet<String>,
    ) -> Result<Vec<StackEvent>, DeployError> {
        let mut collected: Vec<StackEvent> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stack_events()
                .stack_name(stack_id)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| DeployError::aws("DescribeStackEvents", e))?;
            let page: Vec<StackEvent> = out
                .stack_events()
                .iter()
                .map(|e| StackEvent {
                    id: e.event_id().unwrap_or_default().to_string(),
                    timestamp: e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
                    logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: e.resource_type().unwrap_or_default().to_string(),
                    status: e.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    reason: e.resource_status_reason().map(str::to_string),
                })
                .collect();
            let (fresh, reached) = new_events(&page, baseline, seen);
            // Older pages come later but hold older events: prepend them.
            collected.splice(0..0, fresh);
            token = out.next_token().map(str::to_string);
            // Without a baseline every event is new: stop after the first page rather than
            // replaying a long history.
            if reached || token.is_none() || baseline.is_none() {
                return Ok(collected);
            }
        }
    }

    /// Physical ids of the stack's resources by logical id (all pages).
    pub async fn physical_ids(&self, stack: &str) -> Result<BTreeMap<String, String>, DeployError> {
        let mut ids = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| DeployError::aws(format!("ListStackResources {stack}"), e))?;
            for resource in out.stack_resource_summaries() {
                if let (Some(logical), Some(physical)) =
                    (resource.logical_resource_id(), resource.physical_resource_id())
                {
                    ids.insert(logical.to_string(), physical.to_string());
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(ids);
            }
        }
    }

    /// Sets the stack policy and turns on termination protection (unless it is on already).
    pub async fn protect(&self, stack: &str, policy: &str) -> Result<(), DeployError> {
        self.set_policy(stack, policy).await?;
        if self.stack(stack).await?.is_some_and(|s| s.termination_protection) {
            return Ok(());
        }
        self.client
            .update_termination_protection()
            .stack_name(stack)
            .enable_termination_protection(true)
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("UpdateTerminationProtection {stack}"), e))?;
        Ok(())
    }

    /// Sets the stack policy.
    pub async fn set_policy(&self, stack: &str, policy: &str) -> Result<(), DeployError> {
        self.client
            .set_stack_policy()
            .stack_name(stack)
            .stack_policy_body(policy)
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("SetStackPolicy {stack}"), e))?;
        Ok(())
    }
}
