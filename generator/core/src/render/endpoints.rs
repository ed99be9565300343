//! Optional VPC endpoints (`network.vpc_endpoints`): what the nodes, the Schema Registry and the
//! reconciler call, reachable from private subnets without NAT.
//!
//! Interface endpoints with private DNS answer for the whole VPC, so their policies are kept to
//! what this platform calls; AWS documents endpoint policies for ECR, CloudWatch Logs, SSM, EC2,
//! STS and S3, and those get one. S3 is a gateway endpoint on the private route tables.

use serde_json::{Value, json};

use crate::model::StageModel;
use crate::render::cfn::{Resource, Template, logical_id, r, sub, tags};
use crate::render::names;

/// Interface endpoints: (service suffix, policy statement actions and resources, if the endpoint
/// takes a policy).
fn interface_services(model: &StageModel) -> Vec<(&'static str, Option<Value>)> {
    let ecr = json!([
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage"
    ]);
    let logs = sub(format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/{}/{}/*",
        model.resource_prefix, model.stage
    ));
    let volumes = sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/*");
    let instances = sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*");
    vec![
        ("ecr.api", Some(own_account(ecr.clone(), json!("*")))),
        ("ecr.dkr", Some(own_account(ecr, json!("*")))),
        ("logs", Some(own_account(json!(["logs:CreateLogStream", "logs:PutLogEvents"]), json!([logs])))),
        // Node secrets (ECS agent), the reconciler's parameters and the SSM agent's own calls.
        ("ssm", Some(own_account(json!("ssm:*"), json!("*")))),
        ("ssmmessages", None),
        ("ec2messages", None),
        ("ecs", None),
        ("ecs-agent", None),
        ("ecs-telemetry", None),
        // The user data attaches the node's volume.
        ("ec2", Some(own_account(json!(["ec2:AttachVolume"]), json!([volumes, instances])))),
        ("sts", Some(own_account(json!("sts:*"), json!("*")))),
        // The metrics sidecar's disk metrics and the reconciler's drift metrics (render::metrics).
        ("monitoring", Some(own_account(json!(["cloudwatch:PutMetricData"]), json!("*")))),
        // The reconciler asks the certificate Lambda to renew (render::renewal).
        (
            "lambda",
            Some(own_account(
                json!(["lambda:InvokeFunction"]),
                json!([crate::render::renewal::certificate_function_arn(model)]),
            )),
        ),
    ]
}

/// An endpoint policy that lets principals of the stage's account call `actions` on `resources`.
fn own_account(actions: Value, resources: Value) -> Value {
    json!({ "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": "*",
        "Action": actions,
        "Resource": resources,
        "Condition": { "StringEquals": { "aws:PrincipalAccount": r("AWS::AccountId") } },
    }]})
}

/// The S3 gateway endpoint's policy: image layers (ECR's bucket, presigned by ECR), the stage's
/// desired state, and the CloudFormation response URL (presigned by CloudFormation).
fn s3_policy(model: &StageModel) -> Value {
    // CloudFormation names the response bucket after the region without dashes (euwest1).
    let response_bucket =
        format!("cloudformation-custom-resource-response-{}", model.region.replace('-', ""));
    let bucket = names::artifact_bucket(model);
    json!({ "Version": "2012-10-17", "Statement": [
        {
            "Sid": "EcrImageLayers",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": sub("arn:${AWS::Partition}:s3:::prod-${AWS::Region}-starport-layer-bucket/*"),
        },
        {
            "Sid": "DesiredState",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{bucket}/desired-state/{}/*", model.stage)),
            "Condition": { "StringEquals": { "aws:PrincipalAccount": r("AWS::AccountId") } },
        },
        {
            "Sid": "MetricsAgentJar",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{bucket}/{}", crate::render::node_metrics::exporter_key())),
            "Condition": { "StringEquals": { "aws:PrincipalAccount": r("AWS::AccountId") } },
        },
        {
            "Sid": "CloudFormationResponses",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{response_bucket}/*")),
        },
    ]})
}

/// Adds the endpoints and their security group; returns their logical ids (the instances and
/// tasks depend on them, so that nothing boots before its services are reachable).
pub fn render(t: &mut Template, model: &StageModel) -> Vec<String> {
    let Some(endpoints) = &model.network.vpc_endpoints else { return Vec::new() };
    t.add(
        "VpcEndpointSecurityGroup",
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("Kafka {} VPC endpoints: HTTPS from the VPC", model.stage),
                "VpcId": model.network.vpc_id,
                "SecurityGroupIngress": [{ "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": model.network.vpc_cidr, "Description": "AWS APIs from the VPC" }],
                "SecurityGroupEgress": [{ "IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "endpoints answer, they never connect out" }],
                "Tags": tags(&model.tags),
            }),
        ),
    );
    let mut ids = Vec::new();
    for (service, policy) in interface_services(model) {
        let id = logical_id(&[service, "endpoint"]);
        let mut properties = json!({
            "ServiceName": sub(format!("com.amazonaws.${{AWS::Region}}.{service}")),
            "VpcEndpointType": "Interface",
            "VpcId": model.network.vpc_id,
            "SubnetIds": model.network.subnet_ids,
            "SecurityGroupIds": [r("VpcEndpointSecurityGroup")],
            "PrivateDnsEnabled": true,
        });
        if let Some(policy) = policy {
            properties["PolicyDocument"] = policy;
        }
        t.add(id.clone(), Resource::new("AWS::EC2::VPCEndpoint", properties));
        ids.push(id);
    }
    t.add(
        "S3Endpoint",
        Resource::new(
            "AWS::EC2::VPCEndpoint",
            json!({
                "ServiceName": sub("com.amazonaws.${AWS::Region}.s3"),
                "VpcEndpointType": "Gateway",
                "VpcId": model.network.vpc_id,
                "RouteTableIds": endpoints.route_table_ids,
                "PolicyDocument": s3_policy(model),
            }),
        ),
    );
    ids.push("S3Endpoint".into());
    ids
}
