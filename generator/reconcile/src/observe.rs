//! Reading what the reconciler compares from a cluster, in four requests: Metadata,
//! DescribeConfigs (all observed topics at once), DescribeAcls and DescribeUserScramCredentials.

use kafka_admin::{AclFilter, AdminClient, ConfigResource, ConfigResourceType};
use kafka_platform_core::desired::DesiredState;

use crate::error::Result;
use crate::ownership::Ownership;
use crate::plan::{ObservedState, ObservedTopic};

/// The topics under the managed prefixes (and the declared ones) with their partitions,
/// replication factor and topic-level overrides; every ACL; every SCRAM user.
pub async fn observe(client: &AdminClient, desired: &DesiredState) -> Result<ObservedState> {
    let owner = Ownership::of(desired);
    let metadata = client.metadata().await?;
    let topics: Vec<_> =
        metadata.topics.into_iter().filter(|t| !t.internal && owner.observes_topic(&t.name)).collect();
    let resources: Vec<ConfigResource> = topics.iter().map(|t| ConfigResource::topic(&t.name)).collect();
    let configs = client.describe_configs(&resources).await;
    let mut observed = ObservedState::default();
    for (topic, entries) in topics.into_iter().zip(configs) {
        // Only overrides set on the topic are compared: inherited values are not the topic's.
        let configs = entries?
            .into_iter()
            .filter(|e| e.is_set_on_resource(ConfigResourceType::Topic))
            .filter_map(|e| e.value.map(|v| (e.name, v)))
            .collect();
        observed.topics.insert(
            topic.name.clone(),
            ObservedTopic {
                partitions: topic.partitions.len() as u32,
                replication_factor: topic.replication_factor() as u32,
                configs,
            },
        );
    }
    observed.acls = client.describe_acls(&AclFilter::any()).await?.into_iter().collect();
    let credentials = client.describe_user_scram_credentials(None).await?;
    observed.scram_iterations = credentials
        .iter()
        .filter_map(|(user, infos)| {
            let sha512 = infos.iter().find(|i| i.mechanism == kafka_admin::ScramMechanism::Sha512)?;
            Some((user.clone(), sha512.iterations))
        })
        .collect();
    observed.scram_users = credentials
        .into_iter()
        .map(|(user, infos)| (user, infos.into_iter().map(|i| i.mechanism).collect()))
        .collect();
    Ok(observed)
}
