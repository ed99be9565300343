//! The rendered debug task (render::debug_task, `gen access shell`): its roles reach only the
//! debug grants' credentials and the stage CA chain, and no secret is in its definition.

mod support;

use kafka_platform_core::render::{names, templates};
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use serde_json::{Value, json};
use support::*;

const STAGES: [StageName; 4] = [StageName::Dev, StageName::Test, StageName::Acc, StageName::Prod];

fn committed(stage: StageName) -> StageModel {
    let (mut models, findings) = load_and_resolve(committed_environments(), &[stage]);
    models.remove(&stage).unwrap_or_else(|| panic!("{stage} has errors:\n{}", show(&findings)))
}

fn cluster(model: &StageModel) -> Value {
    let (_, t) = templates(model).into_iter().find(|(part, _)| *part == "cluster").expect("a cluster stack");
    serde_json::to_value(&t).expect("templates serialise")
}

fn statements(role: &Value) -> Vec<Value> {
    role["Properties"]["Policies"]
        .as_array()
        .expect("inline policies")
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().expect("statements").clone())
        .collect()
}

fn parameter_arn(path: &str) -> Value {
    json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}") })
}

#[test]
fn the_task_role_reads_only_grant_credentials_and_opens_exec_channels() {
    for stage in STAGES {
        let model = committed(stage);
        let t = cluster(&model);
        let role = &t["Resources"]["DebugTaskRole"];
        assert!(role["Properties"]["ManagedPolicyArns"].is_null(), "{stage}: no managed policy");
        let credentials = format!("{}/debug/*/credential", model.parameter_root());
        // ECS Exec: the task role needs exactly these four ssmmessages actions, which have no
        // resource-level permissions, so "*" is what AWS requires (ECS developer guide, "Monitor
        // Amazon ECS containers with ECS Exec", IAM permissions required for ECS Exec:
        // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
        let expected = json!([
            { "Sid": "GrantCredentials", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": parameter_arn(&credentials) },
            { "Sid": "EcsExec", "Effect": "Allow", "Action": [
                "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"
            ], "Resource": "*" }
        ]);
        assert_eq!(Value::Array(statements(role)), expected, "{stage}");
        // The tree the task reads is the one `gen access grant` writes (grants::store::tree).
        assert_eq!(names::debug_tree(&model), format!("{}/debug", model.parameter_root()));
    }
}

#[test]
fn the_execution_role_reads_only_the_ca_chain() {
    for stage in STAGES {
        let model = committed(stage);
        let t = cluster(&model);
        let definition = &t["Resources"]["DebugTaskDefinition"]["Properties"];
        assert_eq!(definition["ExecutionRoleArn"]["Fn::GetAtt"][0], "DebugExecutionRole");
        let chain = format!("{}/tls/nodes/{}/chain", model.parameter_root(), model.cluster.brokers[0].name);
        let role = &t["Resources"]["DebugExecutionRole"];
        let reads: Vec<Value> = statements(role)
            .into_iter()
            .filter(|s| s["Action"].to_string().contains("ssm:"))
            .map(|s| s["Resource"].clone())
            .collect();
        assert_eq!(reads, [json!([parameter_arn(&chain)])], "{stage}");
        let container = &definition["ContainerDefinitions"][0];
        assert_eq!(
            container["Secrets"],
            json!([{ "Name": "TLS_CHAIN", "ValueFrom": parameter_arn(&chain) }])
        );
    }
}

#[test]
fn the_container_carries_no_secret_and_allows_ecs_exec() {
    for stage in STAGES {
        let model = committed(stage);
        let t = cluster(&model);
        let definition = &t["Resources"]["DebugTaskDefinition"]["Properties"];
        assert_eq!(definition["Family"], names::debug_task_family(&model));
        assert_eq!(definition["TaskRoleArn"]["Fn::GetAtt"][0], "DebugTaskRole");
        let container = &definition["ContainerDefinitions"][0];
        assert_eq!(container["Name"], names::DEBUG_CONTAINER);
        // The nodes' image pin, so the CLI tools match the brokers.
        assert_eq!(container["Image"], model.cluster.image.reference());
        assert!(container["Environment"].is_null(), "{stage}: no environment in the definition");
        // ECS Exec needs a writable root file system and works best with an init process.
        assert_ne!(container["ReadonlyRootFilesystem"], json!(true));
        assert_eq!(container["LinuxParameters"]["InitProcessEnabled"], json!(true));
        let command = container["Command"][0].as_str().expect("a script");
        // The grant's password is read at start from SSM with the task role and written to a
        // file; the AWS keys reach curl on stdin, not argv; nothing is echoed.
        assert!(command.contains(&format!("{}/debug/$GRANT_ID/credential", model.parameter_root())));
        assert!(command.contains("curl -sf -K -"), "{stage}: keys on stdin");
        for line in command.lines().filter(|l| l.contains("echo")) {
            assert!(!line.contains("password") && !line.contains("creds"), "{stage}: {line}");
        }
        assert!(command.contains("unset password"));
        let log = &t["Resources"]["DebugLogGroup"]["Properties"];
        assert_eq!(log["LogGroupName"], names::debug_log_group(&model));
        assert_eq!(log["RetentionInDays"], json!(model.log_retention_days));
        assert_eq!(container["LogConfiguration"]["Options"]["awslogs-group"], log["LogGroupName"]);
        // gen access shell reads the security group from this export.
        assert_eq!(
            t["Resources"]["DebugTaskSecurityGroupParameter"]["Properties"]["Name"],
            names::export_parameter(&model, names::DEBUG_SECURITY_GROUP_EXPORT)
        );
    }
}
