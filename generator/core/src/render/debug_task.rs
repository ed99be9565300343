//! The stage's debug task (`gen access shell`, docs/operators-guide.md "Temporary debug access"):
//! a Fargate task definition with the cluster's Confluent image (its Kafka CLI tools) that writes
//! a SASL_SSL client configuration for one debug grant and then waits for ECS Exec.
//!
//! The grant is chosen at run time (environment override `GRANT_ID`), and an override cannot
//! change `Secrets`: so the task role reads `.../debug/<id>/credential` itself at start, and may
//! read nothing else. The execution role reads only the stage CA chain the brokers present.
//! The script (scripts/debug-task.sh) passes the task role's keys to curl on stdin (`-K -`), never
//! on its command line, and writes the password only to the client configuration file. It carries
//! no comments: they would be rendered into the cluster stack, whose dev size is near the limit of
//! an inline template (51,200 bytes, `gen deploy`).

use serde_json::{Value, json};

use crate::model::{StageModel, ports};
use crate::render::cfn::{Resource, Template, att, r, sub, tags};
use crate::render::foundation::{export, log_group_resource};
use crate::render::names;

/// The actions ECS Exec needs in the task role; they take no resource ARN (see
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html>, "IAM permissions
/// required for ECS Exec").
pub const EXEC_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// The SSM parameter with the CA chain (the first broker's: every node has the stage chain).
pub fn chain_parameter(model: &StageModel) -> String {
    let node = model.cluster.brokers.first().or(model.cluster.controllers.first());
    let owner = node.map_or_else(|| "admin".to_string(), |n| format!("nodes/{}", n.name));
    format!("{}/chain", names::tls_prefix(model, &owner))
}

fn parameter_arn(path: &str) -> Value {
    sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}"))
}

/// Adds the debug task's log group, roles, security group and task definition (SCRAM stages only:
/// a grant is a SCRAM identity).
pub fn render(t: &mut Template, model: &StageModel, execution_role: Resource) {
    let log_group = names::debug_log_group(model);
    t.add("DebugLogGroup", log_group_resource(model, &log_group, r("KmsKeyArn")));
    t.add("DebugExecutionRole", execution_role);
    let ecs_trust = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    let credentials = format!("{}/*/credential", names::debug_tree(model));
    // The credential is a SecureString under the AWS managed `aws/ssm` key, whose key policy
    // lets the account's principals decrypt through SSM: no KMS statement.
    t.add("DebugTaskRole", Resource::new("AWS::IAM::Role", json!({
        "AssumeRolePolicyDocument": ecs_trust,
        "Description": "Debug task: reads a debug grant's credential at start; ECS Exec channels",
        "Policies": [{ "PolicyName": "debug-grant", "PolicyDocument": { "Version": "2012-10-17", "Statement": [
            { "Sid": "GrantCredentials", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": parameter_arn(&credentials) },
            { "Sid": "EcsExec", "Effect": "Allow", "Action": EXEC_ACTIONS, "Resource": "*" }
        ]}}],
        "Tags": tags(&model.tags),
    })));
    t.add("DebugTaskSecurityGroup", Resource::new("AWS::EC2::SecurityGroup", json!({
        "GroupDescription": format!("Kafka {} debug task: SCRAM clients only", model.stage),
        "VpcId": model.network.vpc_id,
        "SecurityGroupEgress": [
            { "IpProtocol": "tcp", "FromPort": ports::SCRAM, "ToPort": ports::SCRAM, "CidrIp": model.network.vpc_cidr, "Description": "brokers (SASL_SSL)" },
            { "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "ECR, SSM, ssmmessages and CloudWatch endpoints" },
        ],
        "Tags": tags(&model.tags),
    })));
    t.add(
        "DebugTaskSecurityGroupParameter",
        export(model, names::DEBUG_SECURITY_GROUP_EXPORT, r("DebugTaskSecurityGroup")),
    );
    let script = crate::render::kafka_config::script(include_str!("scripts/debug-task.sh"))
        .replace("@REGION@", &model.region)
        .replace("@DEBUG_TREE@", &names::debug_tree(model))
        .replace("@BOOTSTRAP@", &format!("{}:{}", model.bootstrap_dns_name(), ports::SCRAM));
    t.add("DebugTaskDefinition", Resource::new("AWS::ECS::TaskDefinition", json!({
        "Family": names::debug_task_family(model),
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "Cpu": "512",
        "Memory": "2048",
        "ExecutionRoleArn": att("DebugExecutionRole", "Arn"),
        "TaskRoleArn": att("DebugTaskRole", "Arn"),
        "ContainerDefinitions": [{
            "Name": names::DEBUG_CONTAINER,
            "Image": model.cluster.image.reference(),
            "Essential": true,
            "EntryPoint": ["bash", "-c"],
            "Command": [script],
            // ECS Exec's agent runs beside the command; an init process reaps what it leaves.
            "LinuxParameters": { "InitProcessEnabled": true },
            "Secrets": [{ "Name": "TLS_CHAIN", "ValueFrom": parameter_arn(&chain_parameter(model)) }],
            "LogConfiguration": { "LogDriver": "awslogs", "Options": {
                "awslogs-group": log_group, "awslogs-region": r("AWS::Region"), "awslogs-stream-prefix": "debug"
            }},
        }],
        "Tags": tags(&model.tags),
    }))
    .depends_on(&["DebugLogGroup"])
    .skip_check("CKV_AWS_336", "ECS Exec does not support a read-only root file system (ECS developer guide, ECS Exec considerations)"));
}
