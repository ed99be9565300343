//! The ECS node runner: a node is one ECS service of one task (min 0 %, max 100 %), so forcing a
//! new deployment stops its task and starts a new one on the same instance and volume.

use std::time::Duration;

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState};

use super::{NodeRunner, NodeStatus, RollNode};

/// The service's code and message when there is one, else the chain of causes.
fn aws_message<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// Restarts node services of one ECS cluster.
#[derive(Debug, Clone)]
pub struct EcsRunner {
    client: aws_sdk_ecs::Client,
    cluster: String,
    /// Longest wait for a new deployment to run its task.
    timeout: Duration,
    poll_interval: Duration,
}

impl EcsRunner {
    /// A runner for the services of `cluster` (name or ARN).
    pub fn new(client: aws_sdk_ecs::Client, cluster: impl Into<String>, timeout: Duration) -> Self {
        EcsRunner { client, cluster: cluster.into(), timeout, poll_interval: Duration::from_secs(5) }
    }

    /// With a shorter pause between two DescribeServices calls (tests).
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    async fn deployments(&self, service: &str) -> Result<Vec<Deployment>, String> {
        let out =
            self.client.describe_services().cluster(&self.cluster).services(service).send().await.map_err(
                |e| format!("DescribeServices {service} in {}: {}", self.cluster, aws_message(&e)),
            )?;
        if let Some(failure) = out.failures().first() {
            return Err(format!(
                "service {service} in {}: {}",
                self.cluster,
                failure.reason().unwrap_or("not found")
            ));
        }
        let service = out.services().first().ok_or_else(|| format!("service {service} not found"))?;
        Ok(service.deployments().to_vec())
    }
}

/// `state running/desired` of a deployment, for messages.
fn describe(d: &Deployment) -> String {
    let state = d.rollout_state().map_or("unknown", DeploymentRolloutState::as_str);
    format!("{} {state}, {} of {} running", d.id().unwrap_or("?"), d.running_count(), d.desired_count())
}

impl NodeRunner for EcsRunner {
    async fn restart(&self, node: &RollNode) -> Result<(), String> {
        let service = &node.name;
        let out = self
            .client
            .update_service()
            .cluster(&self.cluster)
            .service(service)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|e| format!("UpdateService {service} in {}: {}", self.cluster, aws_message(&e)))?;
        let id = out
            .service()
            .and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
            .and_then(|d| d.id())
            .ok_or_else(|| format!("UpdateService {service} returned no primary deployment"))?
            .to_string();
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let deployments = self.deployments(service).await?;
            let Some(current) = deployments.iter().find(|d| d.id() == Some(id.as_str())) else {
                return Err(format!("deployment {id} of service {service} disappeared"));
            };
            match current.rollout_state() {
                Some(DeploymentRolloutState::Failed) => {
                    return Err(format!("deployment of service {service} failed: {}", describe(current)));
                }
                // Completed: the new task runs (and, with a container health check, is healthy)
                // and the old one is gone.
                Some(DeploymentRolloutState::Completed)
                    if current.running_count() >= current.desired_count() && deployments.len() == 1 =>
                {
                    return Ok(());
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "service {service} did not run its new task within {:?}: {}",
                    self.timeout,
                    describe(current)
                ));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn status(&self, node: &RollNode) -> Result<NodeStatus, String> {
        let deployments = self.deployments(&node.name).await?;
        let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
        Ok(match primary {
            None => NodeStatus::Unknown("no primary deployment".into()),
            Some(d)
                if deployments.len() > 1
                    || d.rollout_state() == Some(&DeploymentRolloutState::InProgress) =>
            {
                NodeStatus::Starting(describe(d))
            }
            Some(d) if d.running_count() == 0 => NodeStatus::Stopped(describe(d)),
            Some(d) => NodeStatus::Running(describe(d)),
        })
    }
}
