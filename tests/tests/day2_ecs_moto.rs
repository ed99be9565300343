//! The ECS node runner of `gen roll` against moto's ECS: UpdateService with forceNewDeployment on
//! the node's service starts a new deployment, and the runner waits for it, bounded. moto never
//! runs a service's tasks (its deployments stay IN_PROGRESS with 0 running), so the runner's
//! success path cannot be reached here; the test proves the calls, the new deployment, the
//! bounded wait with its message, the status, and the error for a missing service. The roll
//! logic itself runs against the real Kafka cluster through the same `NodeRunner` interface
//! (day2_roll.rs).

use std::time::Duration;

use aws_sdk_ecs::types::{ContainerDefinition, DeploymentRolloutState};
use kafka_reconcile::roll::{EcsRunner, NodeRunner, NodeStatus, RollNode};
use platform_tests::moto;

fn node(name: &str) -> RollNode {
    RollNode { id: 1, name: name.into(), broker: true, controller: false }
}

async fn primary_deployment(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> (String, usize) {
    let out = ecs.describe_services().cluster(cluster).services(service).send().await.unwrap();
    let deployments = out.services()[0].deployments();
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY")).expect("a primary deployment");
    (primary.id().unwrap().to_string(), deployments.len())
}

#[tokio::test]
async fn a_node_restart_forces_a_new_deployment_of_its_service_and_waits_bounded() {
    let config = moto::sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let cluster = format!("kafka-roll-{}", std::process::id());
    ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let container =
        ContainerDefinition::builder().name("kafka").image("confluentinc/cp-kafka:8.0.0").memory(512).build();
    let family = format!("{cluster}-b0");
    ecs.register_task_definition().family(&family).container_definitions(container).send().await.unwrap();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("b0")
        .task_definition(&family)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let (before, _) = primary_deployment(&ecs, &cluster, "b0").await;

    let runner = EcsRunner::new(ecs.clone(), &cluster, Duration::from_secs(2))
        .with_poll_interval(Duration::from_millis(200));
    let e = runner.restart(&node("b0")).await.unwrap_err();
    let (after, count) = primary_deployment(&ecs, &cluster, "b0").await;
    assert_ne!(before, after, "forceNewDeployment started a new deployment");
    assert_eq!(count, 1);
    assert!(e.starts_with("service b0 did not run its new task within 2s: "), "{e}");
    assert!(e.contains(&after) && e.contains("IN_PROGRESS, 0 of 1 running"), "{e}");

    let status = runner.status(&node("b0")).await.unwrap();
    assert!(matches!(&status, NodeStatus::Starting(s) if s.contains(&after)), "{status:?}");
    let out = ecs.describe_services().cluster(&cluster).services("b0").send().await.unwrap();
    assert_eq!(out.services()[0].deployments()[0].rollout_state(), Some(&DeploymentRolloutState::InProgress));

    let e = runner.restart(&node("b9")).await.unwrap_err();
    assert!(e.starts_with(&format!("UpdateService b9 in {cluster}: ")), "{e}");
    assert!(e.contains("ServiceNotFound"), "{e}");
    let e = runner.status(&node("b9")).await.unwrap_err();
    assert!(e.contains("b9"), "{e}");
}
