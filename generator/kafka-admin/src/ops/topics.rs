//! CreateTopics, CreatePartitions, DeleteTopics: batched, sent to the controller.

use std::collections::HashMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::{AdminClient, Target};
use crate::error::{Error, Result};
use crate::ops::configs::missing;
use crate::types::{NewPartitions, NewTopic};

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn timeout_ms(client: &AdminClient) -> i32 {
    i32::try_from(client.config().operation_timeout.as_millis()).unwrap_or(i32::MAX)
}

/// Per-name results back into the order of the request.
fn in_order(
    api: &'static str,
    names: impl Iterator<Item = String>,
    mut by_name: HashMap<String, Result<()>>,
) -> Vec<Result<()>> {
    names
        .map(|n| {
            let what = format!("topic {n}");
            by_name.remove(&n).unwrap_or_else(|| Err(missing(api, &what)))
        })
        .collect()
}

impl AdminClient {
    /// Creates topics, at most `max_batch` per request. With `validate_only` the controller only
    /// checks them. Results are in the order of `topics`. A topic whose request timed out and that
    /// exists on retry counts as created.
    pub async fn create_topics(&self, topics: &[NewTopic], validate_only: bool) -> Vec<Result<()>> {
        self.batch(
            topics,
            async |_, batch| {
                let response = self
                    .send(Target::Controller, |_| {
                        CreateTopicsRequest::default()
                            .with_timeout_ms(timeout_ms(self))
                            .with_validate_only(validate_only)
                            .with_topics(
                                batch
                                    .iter()
                                    .map(|t| {
                                        CreatableTopic::default()
                                            .with_name(topic_name(&t.name))
                                            .with_num_partitions(t.partitions)
                                            .with_replication_factor(t.replication_factor)
                                            .with_configs(
                                                t.configs
                                                    .iter()
                                                    .map(|(k, v)| {
                                                        CreatableTopicConfig::default()
                                                            .with_name(StrBytes::from_string(k.clone()))
                                                            .with_value(Some(StrBytes::from_string(
                                                                v.clone(),
                                                            )))
                                                    })
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            )
                    })
                    .await?;
                let by_name = response
                    .topics
                    .into_iter()
                    .map(|t| {
                        let name = t.name.0.to_string();
                        let r = Error::check_item(
                            "CreateTopics",
                            format!("topic {name}"),
                            t.error_code,
                            t.error_message.as_deref(),
                        );
                        (name, r)
                    })
                    .collect();
                Ok(in_order("CreateTopics", batch.iter().map(|t| t.name.clone()), by_name))
            },
            |e| (e.kind() == Some(ResponseError::TopicAlreadyExists)).then_some(()),
        )
        .await
    }

    /// Raises the partition count of existing topics (to `total`), at most `max_batch` per
    /// request. Kafka refuses decreases. Results are in the order of `increases`.
    pub async fn create_partitions(
        &self,
        increases: &[NewPartitions],
        validate_only: bool,
    ) -> Vec<Result<()>> {
        self.batch(
            increases,
            async |_, batch| {
                let response = self
                    .send(Target::Controller, |_| {
                        CreatePartitionsRequest::default()
                            .with_timeout_ms(timeout_ms(self))
                            .with_validate_only(validate_only)
                            .with_topics(
                                batch
                                    .iter()
                                    .map(|p| {
                                        CreatePartitionsTopic::default()
                                            .with_name(topic_name(&p.topic))
                                            .with_count(p.total)
                                            .with_assignments(None)
                                    })
                                    .collect(),
                            )
                    })
                    .await?;
                let by_name = response
                    .results
                    .into_iter()
                    .map(|t| {
                        let name = t.name.0.to_string();
                        let r = Error::check_item(
                            "CreatePartitions",
                            format!("topic {name}"),
                            t.error_code,
                            t.error_message.as_deref(),
                        );
                        (name, r)
                    })
                    .collect();
                Ok(in_order("CreatePartitions", batch.iter().map(|p| p.topic.clone()), by_name))
            },
            |_| None,
        )
        .await
    }

    /// Deletes topics by name, at most `max_batch` per request. Results are in the order of
    /// `names`. A topic whose request timed out and that is gone on retry counts as deleted.
    /// Callers decide whether deleting is allowed at all; this function does what it is told.
    pub async fn delete_topics(&self, names: &[String]) -> Vec<Result<()>> {
        self.batch(
            names,
            async |_, batch| {
                let response = self
                    .send(Target::Controller, |version| {
                        let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms(self));
                        // v6 names topics in `topics` (name or id); earlier versions in `topic_names`.
                        if version >= 6 {
                            request.with_topics(
                                batch
                                    .iter()
                                    .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                                    .collect(),
                            )
                        } else {
                            request.with_topic_names(batch.iter().map(|n| topic_name(n)).collect())
                        }
                    })
                    .await?;
                let by_name = response
                    .responses
                    .into_iter()
                    .map(|t| {
                        let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
                        let r = Error::check_item(
                            "DeleteTopics",
                            format!("topic {name}"),
                            t.error_code,
                            t.error_message.as_deref(),
                        );
                        (name, r)
                    })
                    .collect();
                Ok(in_order("DeleteTopics", batch.iter().cloned(), by_name))
            },
            |e| (e.kind() == Some(ResponseError::UnknownTopicOrPartition)).then_some(()),
        )
        .await
    }
}
