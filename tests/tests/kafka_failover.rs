//! With the broker that Metadata names as controller stopped, writes still succeed: the client
//! notices the dead connection, refreshes its view and routes to another broker (KRaft brokers
//! forward controller requests). The node is started again before the test ends, even on failure.
//! Afterwards a SCRAM user created before the restart, and the admin, authenticate at the restarted
//! node (a Kafka bug loses them when the node replays its log without a snapshot; the test
//! cluster's one-second snapshot interval avoids that, see docs/kafka-admin.md). This file holds
//! one test only, so no other test shares the cluster while a node is down.

mod kafka_common;

use std::time::Duration;

use kafka_admin::{
    AclBinding, AclFilter, AclOperation, AdminClient, AdminConfig, NewTopic, PatternType, ResourceType,
    ScramMechanism, ScramUpsert,
};
use kafka_common::*;

#[tokio::test]
async fn writes_succeed_while_the_named_controller_is_down() {
    let client = admin_sasl().await;
    // Open connections to every broker first, so the stopped one is a broken pooled connection
    // (the harder case), not just a refused new one.
    client.metadata().await.unwrap();
    let user = unique("restart-user");
    let upsert = ScramUpsert {
        user: user.clone(),
        mechanism: ScramMechanism::Sha512,
        iterations: 4096,
        password: "pw-before-restart".into(),
    };
    client.alter_user_scram_credentials(&[upsert], &[]).await.remove(0).unwrap();
    let down = client.controller_id().expect("controller known");
    let down_address = client.brokers()[&down].clone();
    // The user must be known to the node before it goes down.
    let only_down_node = |user: &str, password: &str| {
        let mut config = sasl_config(user, password);
        config.bootstrap = vec![down_address.clone()];
        config.retry.max_attempts = 1;
        config
    };
    let known = eventually(Duration::from_secs(15), async || {
        AdminClient::connect(only_down_node(&user, "pw-before-restart")).await.is_ok()
    })
    .await;
    assert!(known, "{user} never authenticated at node {down}");
    let stopped = StoppedNode::stop(down);

    let prefix = unique("failover");
    let topics: Vec<NewTopic> = (0..5)
        .map(|i| NewTopic {
            name: format!("{prefix}-{i}"),
            partitions: 1,
            replication_factor: 2,
            configs: Default::default(),
        })
        .collect();
    for (t, r) in topics.iter().zip(client.create_topics(&topics, false).await) {
        r.unwrap_or_else(|e| panic!("creating {} with node {down} down: {e}", t.name));
    }
    let acl = AclBinding::allow(
        ResourceType::Topic,
        &prefix,
        PatternType::Prefixed,
        "User:failover-app",
        AclOperation::Read,
    );
    client.create_acls(std::slice::from_ref(&acl)).await.remove(0).unwrap();
    let filter = AclFilter { principal: Some("User:failover-app".into()), ..AclFilter::any() };
    let visible = eventually(Duration::from_secs(10), async || {
        client.describe_acls(&filter).await.unwrap().contains(&acl)
    })
    .await;
    assert!(visible, "ACL created with node {down} down is not described");
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    client.await_topics(&names, true).await.unwrap();

    drop(stopped);
    let back = eventually(Duration::from_secs(60), async || {
        client.refresh_metadata().await.is_ok() && client.brokers().contains_key(&down)
    })
    .await;
    assert!(back, "node {down} did not rejoin the cluster");

    // The restarted node still knows the credentials that existed before it went down.
    let mut last = None;
    let authenticated = eventually(Duration::from_secs(30), async || {
        let result = AdminClient::connect(only_down_node(&user, "pw-before-restart")).await;
        let ok = result.is_ok();
        last = result.err();
        ok
    })
    .await;
    assert!(authenticated, "{user} cannot authenticate at restarted node {down}: {last:?}");
    let admin_at_node: AdminConfig = only_down_node(&admin_user(), &admin_password());
    AdminClient::connect(admin_at_node).await.expect("admin authenticates at the restarted node");

    for r in client.delete_topics(&names).await {
        r.unwrap();
    }
    client.delete_acls(&[filter]).await.remove(0).unwrap();
    let deletion = kafka_admin::ScramDeletion { user, mechanism: ScramMechanism::Sha512 };
    client.alter_user_scram_credentials(&[], &[deletion]).await.remove(0).unwrap();
}
