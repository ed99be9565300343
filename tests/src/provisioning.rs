//! A CloudFormation stack in moto whose custom resource stays CREATE_IN_PROGRESS: what
//! DescribeStackResource shows while CloudFormation waits for a custom-resource answer. The
//! certificate Lambda issues reserved principals (admin, nodes) only for such a resource of the
//! stage's secrets stack (lambdas/private-certificate/src/guard.rs).
//!
//! The resource's ServiceToken is a Lambda function in moto that never runs here (moto would need
//! Docker to invoke it), so the resource never completes: the test plays CloudFormation's side.

use aws_sdk_cloudformation::types::StackStatus;
use serde_json::json;

/// Creates stack `name` with one resource `logical_id` of `resource_type` that stays in progress,
/// and returns the stack's unique id. A leftover live stack of the same name is deleted first.
pub async fn in_progress_stack(
    config: &aws_config::SdkConfig,
    name: &str,
    logical_id: &str,
    resource_type: &str,
) -> String {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    if let Ok(out) = cfn.describe_stacks().stack_name(name).send().await {
        for stack in out.stacks() {
            if stack.stack_status() != Some(&StackStatus::DeleteComplete) {
                delete_stack(config, stack.stack_id().unwrap_or(name)).await;
            }
        }
    }
    let template = json!({ "Resources": {
        "SinkRole": { "Type": "AWS::IAM::Role", "Properties": { "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }]
        }}},
        "Sink": { "Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler",
            "Role": { "Fn::GetAtt": ["SinkRole", "Arn"] },
            // Tabs, not spaces: the IAM-enforced moto cannot check the signature of a form body
            // with a space in it (tests/scripts/moto.sh).
            "Code": { "ZipFile": "def\thandler(event,context):\n\treturn\n" }
        }},
        logical_id: { "Type": resource_type, "Properties": { "ServiceToken": { "Fn::GetAtt": ["Sink", "Arn"] } } }
    }});
    let out = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create stack {name} in moto: {e:?}"));
    let id = out.stack_id.expect("a stack id");
    let resource = cfn
        .describe_stack_resource()
        .stack_name(&id)
        .logical_resource_id(logical_id)
        .send()
        .await
        .expect("describe the resource")
        .stack_resource_detail
        .expect("a resource");
    assert_eq!(
        resource.resource_status.map(|s| s.as_str().to_string()).as_deref(),
        Some("CREATE_IN_PROGRESS"),
        "moto should keep {logical_id} in progress"
    );
    id
}

/// Deletes a stack (by name or id) and waits until moto reports it deleted.
pub async fn delete_stack(config: &aws_config::SdkConfig, stack: &str) {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    cfn.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .unwrap_or_else(|e| panic!("delete stack {stack}: {e:?}"));
    for _ in 0..100 {
        match cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out)
                if out.stacks().iter().all(|s| s.stack_status() == Some(&StackStatus::DeleteComplete)) =>
            {
                return;
            }
            Err(_) => return,
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("stack {stack} was not deleted within 10 s");
}
