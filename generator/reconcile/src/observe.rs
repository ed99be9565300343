//! Reading what the reconciler compares from a cluster: Metadata, DescribeConfigs (the observed
//! topics, a share per broker), DescribeAcls and DescribeUserScramCredentials, sent side by side
//! to different brokers.

use kafka_admin::{AclFilter, AdminClient, ClusterMetadata, ConfigResource, ConfigResourceType};
use kafka_platform_core::desired::DesiredState;

use crate::error::Result;
use crate::ownership::Ownership;
use crate::plan::{ObservedState, ObservedTopic};

/// The topics under the managed prefixes (and the declared ones) with their partitions,
/// replication factor and topic-level overrides; every ACL; every SCRAM user.
///
/// Side by side, each on its own broker's connection (a broker answers one request per connection
/// at a time): Metadata on the controller-designated node and then the topic configs split over
/// all brokers, the ACLs from the next broker, the SCRAM credentials from the one after. A broker
/// that cannot answer its part has it read again through any broker, with retries.
pub async fn observe(client: &AdminClient, desired: &DesiredState) -> Result<ObservedState> {
    observe_from(client, desired, None).await
}

/// [`observe`] starting from the topics of a Metadata answer already read (the one
/// [`AdminClient::connect_with_topics`] gives), which saves that request.
pub async fn observe_from(
    client: &AdminClient,
    desired: &DesiredState,
    metadata: Option<ClusterMetadata>,
) -> Result<ObservedState> {
    let owner = Ownership::of(desired);
    let metadata_given = metadata.is_some();
    let controller = client.controller_id();
    let mut nodes: Vec<i32> = client.brokers().into_keys().collect();
    nodes.sort_by_key(|n| Some(*n) != controller);
    let other = |k: usize| nodes.get(k % nodes.len().max(1)).copied();
    let topics_and_configs = async {
        let metadata = match metadata {
            Some(m) => m,
            None => client.metadata().await?,
        };
        let topics: Vec<_> =
            metadata.topics.into_iter().filter(|t| !t.internal && owner.observes_topic(&t.name)).collect();
        let resources: Vec<ConfigResource> = topics.iter().map(|t| ConfigResource::topic(&t.name)).collect();
        let configs = describe_configs_spread(client, &resources, &nodes).await;
        Ok::<_, crate::error::Error>((topics, configs))
    };
    let acls = async {
        match other(1) {
            Some(n) => match client.describe_acls_on(n, &AclFilter::any()).await {
                Ok(a) => Ok(a),
                Err(_) => client.describe_acls(&AclFilter::any()).await,
            },
            None => client.describe_acls(&AclFilter::any()).await,
        }
    };
    let credentials = async {
        match other(2) {
            Some(n) => match client.describe_user_scram_credentials_on(n, None).await {
                Ok(c) => Ok(c),
                Err(_) => client.describe_user_scram_credentials(None).await,
            },
            None => client.describe_user_scram_credentials(None).await,
        }
    };
    // Writes go to the controller-designated node: its handshake overlaps the reads (best effort).
    let preconnect = async {
        if metadata_given {
            let _ = client.preconnect().await;
        }
    };
    let (tc, acls, credentials, ()) =
        futures_util::future::join4(topics_and_configs, acls, credentials, preconnect).await;
    let (topics, configs) = tc?;
    assemble(topics, configs, acls?, credentials?)
}

/// Splits `resources` over `nodes`, one request per node side by side; whatever a node cannot
/// answer is read again through any broker (with retries).
async fn describe_configs_spread(
    client: &AdminClient,
    resources: &[ConfigResource],
    nodes: &[i32],
) -> Vec<kafka_admin::Result<Vec<kafka_admin::ConfigEntry>>> {
    if nodes.len() < 2 || resources.len() < 2 {
        return client.describe_configs(resources).await;
    }
    let per = resources.len().div_ceil(nodes.len());
    let chunks: Vec<&[ConfigResource]> = resources.chunks(per).collect();
    let answers = futures_util::future::join_all(
        chunks.iter().zip(nodes).map(|(chunk, &n)| client.describe_configs_on(n, chunk)),
    )
    .await;
    // Whatever a node could not answer (a broker behind on the metadata log does not know a new
    // topic yet) is read again in one batch through any broker: O(requests), not O(topics).
    let mut out: Vec<Option<kafka_admin::Result<Vec<kafka_admin::ConfigEntry>>>> =
        resources.iter().map(|_| None).collect();
    let mut again = Vec::new();
    let mut offset = 0;
    for (chunk, answer) in chunks.iter().zip(answers) {
        match answer {
            Ok(results) if results.len() == chunk.len() => {
                for (i, r) in results.into_iter().enumerate() {
                    match r {
                        Ok(v) => out[offset + i] = Some(Ok(v)),
                        Err(_) => again.push(offset + i),
                    }
                }
            }
            _ => again.extend(offset..offset + chunk.len()),
        }
        offset += chunk.len();
    }
    if !again.is_empty() {
        let retry: Vec<ConfigResource> = again.iter().map(|&i| resources[i].clone()).collect();
        for (i, r) in again.into_iter().zip(client.describe_configs(&retry).await) {
            out[i] = Some(r);
        }
    }
    out.into_iter().map(|r| r.expect("every resource has a result")).collect()
}

fn assemble(
    topics: Vec<kafka_admin::TopicInfo>,
    configs: Vec<kafka_admin::Result<Vec<kafka_admin::ConfigEntry>>>,
    acls: Vec<kafka_admin::AclBinding>,
    credentials: std::collections::BTreeMap<String, Vec<kafka_admin::ScramCredentialInfo>>,
) -> Result<ObservedState> {
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
    observed.acls = acls.into_iter().collect();
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
