//! The reconciler Lambda reaches dedicated controllers on their controller listener, which the
//! certificate renewal pushes to (kafka_reconcile::controller_push), and nothing more.
//!
//! AWS::EC2::SecurityGroupIngress with SourceSecurityGroupId lets in the instances (here: the
//! Lambda's network interfaces) associated with the source group, on the given ports only
//! (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroupingress.html).
//! The reconciler's group lists its egress rules (no allow-all), so it needs the port there too.

mod support;

use kafka_platform_core::render::templates;
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use serde_json::{Value, json};
use support::*;

const CONTROLLER_PORT: u64 = 9097;

fn committed(stage: StageName) -> StageModel {
    let (mut models, findings) = load_and_resolve(committed_environments(), &[stage]);
    models.remove(&stage).unwrap_or_else(|| panic!("{stage} has errors:\n{}", show(&findings)))
}

fn cluster(model: &StageModel) -> Value {
    let (_, t) = templates(model).into_iter().find(|(part, _)| *part == "cluster").expect("a cluster stack");
    serde_json::to_value(&t).expect("templates serialise")
}

/// Ingress resources into the node security group from the reconciler's, as (from, to) ports.
fn reconciler_ingress(t: &Value) -> Vec<(u64, u64)> {
    let mut ports: Vec<(u64, u64)> = resources(t, "AWS::EC2::SecurityGroupIngress")
        .values()
        .map(|r| &r["Properties"])
        .filter(|p| {
            p["GroupId"] == json!({ "Ref": "BrokerSecurityGroup" })
                && p["SourceSecurityGroupId"] == json!({ "Ref": "ReconcilerSecurityGroup" })
        })
        .map(|p| (p["FromPort"].as_u64().unwrap(), p["ToPort"].as_u64().unwrap()))
        .collect();
    ports.sort();
    ports
}

fn reconciler_egress_to(t: &Value, port: u64) -> bool {
    let group = &resources(t, "AWS::EC2::SecurityGroup")["ReconcilerSecurityGroup"];
    group["Properties"]["SecurityGroupEgress"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["FromPort"] == port && e["ToPort"] == port)
}

#[test]
fn the_reconciler_reaches_dedicated_controllers_on_the_controller_port_only() {
    for stage in [StageName::Test, StageName::Acc, StageName::Prod] {
        let model = committed(stage);
        assert!(!model.cluster.combined(), "{stage} declares dedicated controllers");
        let t = cluster(&model);
        assert_eq!(reconciler_ingress(&t), [(9095, 9095), (CONTROLLER_PORT, CONTROLLER_PORT)], "{stage}");
        assert!(reconciler_egress_to(&t, CONTROLLER_PORT), "{stage}: no egress to the controller port");
    }
}

#[test]
fn combined_nodes_get_no_controller_rule() {
    let model = committed(StageName::Dev);
    assert!(model.cluster.combined(), "dev runs combined nodes");
    let t = cluster(&model);
    assert_eq!(reconciler_ingress(&t), [(9095, 9095)]);
    assert!(!reconciler_egress_to(&t, CONTROLLER_PORT));
}
