//! `gen access shell`: the commands that start the stage's debug task with a grant's credential
//! and attach to it (render::debug_task). Printed, never run.

use std::path::Path;

use aws_sdk_ssm::error::DisplayErrorContext;
use kafka_platform_core::StageName;
use kafka_platform_core::model::StageModel;
use kafka_platform_core::render::names;
use kafka_reconcile::grants::store;
use kafka_reconcile::grants::{self, GrantRecord};

use crate::output::{OutputFormat, print_json};

/// Where the task writes its client configuration (scripts/debug-task.sh).
const CLIENT_PROPERTIES: &str = "/tmp/debug/client.properties";

/// The plain values the commands are made of: the stage's names and one grant.
#[derive(Debug, Clone)]
pub(crate) struct ShellInput<'a> {
    pub region: &'a str,
    pub cluster: &'a str,
    pub family: &'a str,
    pub container: &'a str,
    pub subnets: &'a [String],
    pub security_group: &'a str,
    pub bootstrap: &'a str,
    pub record: &'a GrantRecord,
    pub now: u64,
}

/// The commands `gen access shell` prints.
#[derive(Debug, serde::Serialize, PartialEq, Eq)]
pub(crate) struct ShellCommands {
    pub run_task: String,
    pub execute_command: String,
    pub example: String,
}

/// The commands for one grant. The task sleeps until the grant expires (its credential stops
/// working then anyway); only the grant id travels in the override, never its password.
pub(crate) fn commands(i: &ShellInput<'_>) -> ShellCommands {
    let seconds = i.record.expires_at.saturating_sub(i.now);
    let overrides = serde_json::json!({ "containerOverrides": [{ "name": i.container, "environment": [
        { "name": "GRANT_ID", "value": i.record.id },
        { "name": "SLEEP_SECONDS", "value": seconds.to_string() },
    ]}]});
    let run_task = format!(
        "aws ecs run-task --region {} --cluster {} --task-definition {} --launch-type FARGATE \
         --enable-execute-command --network-configuration \
         'awsvpcConfiguration={{subnets=[{}],securityGroups=[{}],assignPublicIp=DISABLED}}' \
         --overrides '{overrides}' --query 'tasks[0].taskArn' --output text",
        i.region,
        i.cluster,
        i.family,
        i.subnets.join(","),
        i.security_group,
    );
    let execute_command = format!(
        "aws ecs execute-command --region {} --cluster {} --task <TASK_ARN> --container {} \
         --interactive --command /bin/bash",
        i.region, i.cluster, i.container
    );
    let topic = i.record.topics.first().map_or("<TOPIC>", String::as_str);
    let example = format!(
        "kafka-console-consumer --bootstrap-server {} --consumer.config {CLIENT_PROPERTIES} --topic {topic} \
         --group {}console --from-beginning",
        i.bootstrap,
        i.record.group_prefix()
    );
    ShellCommands { run_task, execute_command, example }
}

#[derive(serde::Serialize)]
struct ShellJson<'a> {
    command: &'static str,
    stage: StageName,
    grant: &'a str,
    expires_at: u64,
    #[serde(flatten)]
    commands: &'a ShellCommands,
}

pub(super) async fn run(
    environments: &Path,
    stage: StageName,
    id: &str,
    format: OutputFormat,
) -> Result<(), String> {
    if !grants::is_valid_id(id) {
        return Err(format!("`{id}` is not a grant id (`<project>.<8 hex digits>`, see `gen access list`)"));
    }
    let model = super::model(environments, stage)?;
    if !model.cluster.scram {
        return Err(format!(
            "stage {stage} has no SCRAM listener, so no debug task (grants are SCRAM users)"
        ));
    }
    let ssm = super::ssm().await;
    let tree = store::tree(&model.parameter_root());
    let record_parameter = store::record_name(&tree, id);
    let text = get(&ssm, &record_parameter)
        .await?
        .ok_or_else(|| format!("no grant {id} in stage {stage} ({record_parameter} does not exist)"))?;
    let record: GrantRecord =
        serde_json::from_str(&text).map_err(|e| format!("{record_parameter} is not a grant record: {e}"))?;
    let now = super::now();
    if record.id != id || record.is_expired(now) {
        return Err(format!(
            "grant {id} expired at {} UTC; ask for a new one with `gen access grant`",
            grants::utc(record.expires_at)
        ));
    }
    let sg_parameter = names::export_parameter(&model, names::DEBUG_SECURITY_GROUP_EXPORT);
    let security_group = get(&ssm, &sg_parameter).await?.ok_or_else(|| {
        format!("{sg_parameter} does not exist: deploy the cluster stack (`gen deploy {stage}`) first")
    })?;
    let out = commands(&ShellInput {
        region: &model.region,
        cluster: &model.name(),
        family: &names::debug_task_family(&model),
        container: names::DEBUG_CONTAINER,
        subnets: &model.network.subnet_ids,
        security_group: &security_group,
        bootstrap: &bootstrap(&model),
        record: &record,
        now,
    });
    if format == OutputFormat::Json {
        print_json(&ShellJson {
            command: "access shell",
            stage,
            grant: id,
            expires_at: record.expires_at,
            commands: &out,
        });
        return Ok(());
    }
    println!("grant {id} ({}) until {} UTC; nothing is run.", record.user(), grants::utc(record.expires_at));
    println!("1. start the debug task (prints its ARN):\n   {}", out.run_task);
    println!("2. once it runs, attach (needs the session-manager-plugin):\n   {}", out.execute_command);
    println!("3. inside, e.g.:\n   {}", out.example);
    println!(
        "stop it when done: aws ecs stop-task --region {} --cluster {} --task <TASK_ARN>",
        model.region,
        model.name()
    );
    Ok(())
}

fn bootstrap(model: &StageModel) -> String {
    format!("{}:{}", model.bootstrap_dns_name(), kafka_platform_core::model::ports::SCRAM)
}

/// A String parameter's value, or `None` when it does not exist.
async fn get(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>, String> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(None),
        Err(e) => Err(format!("cannot read {name}: {}", DisplayErrorContext(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> GrantRecord {
        GrantRecord {
            id: "orders.0a1b2c3d".into(),
            stage: "dev".into(),
            project: "orders".into(),
            topics: vec!["orders.placed.v1".into()],
            write: false,
            reason: "lag".into(),
            requested_by: "arn:aws:iam::111111111111:user/ana".into(),
            local_user: None,
            approver: None,
            created_at: 1_000,
            expires_at: 8_200,
        }
    }

    #[test]
    fn the_commands_name_the_rendered_task_and_carry_the_grant_id_only() {
        let record = record();
        let subnets = vec!["subnet-a".to_string(), "subnet-b".to_string()];
        let out = commands(&ShellInput {
            region: "eu-west-1",
            cluster: "kafka-dev",
            family: "kafka-dev-debug",
            container: "kafka-debug",
            subnets: &subnets,
            security_group: "sg-0123",
            bootstrap: "bootstrap.kafka.dev.example.internal:9094",
            record: &record,
            now: 1_000,
        });
        assert_eq!(
            out.run_task,
            "aws ecs run-task --region eu-west-1 --cluster kafka-dev --task-definition kafka-dev-debug \
             --launch-type FARGATE --enable-execute-command --network-configuration \
             'awsvpcConfiguration={subnets=[subnet-a,subnet-b],securityGroups=[sg-0123],assignPublicIp=DISABLED}' \
             --overrides '{\"containerOverrides\":[{\"environment\":[{\"name\":\"GRANT_ID\",\"value\":\"orders.0a1b2c3d\"},\
             {\"name\":\"SLEEP_SECONDS\",\"value\":\"7200\"}],\"name\":\"kafka-debug\"}]}' \
             --query 'tasks[0].taskArn' --output text"
        );
        assert_eq!(
            out.execute_command,
            "aws ecs execute-command --region eu-west-1 --cluster kafka-dev --task <TASK_ARN> \
             --container kafka-debug --interactive --command /bin/bash"
        );
        assert_eq!(
            out.example,
            "kafka-console-consumer --bootstrap-server bootstrap.kafka.dev.example.internal:9094 \
             --consumer.config /tmp/debug/client.properties --topic orders.placed.v1 \
             --group debug.orders.0a1b2c3d.console --from-beginning"
        );
    }
}
