//! The ECS side of a rolling node update: which task definition each node service runs now.

use std::collections::BTreeMap;

use kafka_platform_core::manifest::RollingDecl;

use super::error::DeployError;

/// DescribeServices takes at most this many services per call.
const SERVICES_PER_CALL: usize = 10;

/// The task definition ARN each existing node service runs, by node name; `physical` maps the
/// stack's logical ids to physical ids (a node without a service yet is left out).
pub async fn running_task_definitions(
    ecs: &aws_sdk_ecs::Client,
    rolling: &RollingDecl,
    physical: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DeployError> {
    let mut running = BTreeMap::new();
    let Some(cluster) = physical.get(&rolling.cluster) else {
        return Ok(running);
    };
    // Service ARN -> node name.
    let services: Vec<(&String, &str)> = rolling
        .nodes
        .iter()
        .filter_map(|n| physical.get(&n.service).map(|arn| (arn, n.name.as_str())))
        .collect();
    for chunk in services.chunks(SERVICES_PER_CALL) {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.iter().map(|(arn, _)| arn.to_string()).collect()))
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("ECS DescribeServices in cluster {cluster}"), e))?;
        for (arn, name) in chunk {
            let service = out.services().iter().find(|s| {
                s.service_arn() == Some(arn.as_str()) || s.service_name() == arn.rsplit('/').next()
            });
            match service.and_then(|s| s.task_definition()) {
                Some(task_definition) => {
                    running.insert(name.to_string(), task_definition.to_string());
                }
                None => {
                    return Err(DeployError::Aws {
                        operation: format!("ECS DescribeServices in cluster {cluster}"),
                        message: format!(
                            "the service of node {name} ({arn}) is not there; the stack and ECS disagree, so the nodes cannot be rolled safely"
                        ),
                    });
                }
            }
        }
    }
    Ok(running)
}
