//! The reconciler stack: a Lambda inside the VPC and one custom resource whose properties carry the
//! content hash of the desired state, so that every declared change triggers an update.

use serde_json::json;

use crate::model::{StageModel, ports};
use crate::render::cfn::{Resource, Template, att, r, sub, tags};
use crate::render::foundation::log_group_resource;
use crate::render::names;
use crate::render::secrets::import;

/// Renders the topics stack for the desired-state artifact at `desired_state_key`.
pub fn render(model: &StageModel, desired_state_key: &str, desired_state_sha256: &str) -> Template {
    let mut t =
        Template::new(format!("Kafka platform {}: topic, ACL and service-account reconciler", model.stage));
    import(&mut t, model, "KmsKeyArn", "kms-key-arn");
    import(&mut t, model, "ReconcilerSecurityGroupId", "reconciler-security-group-id");
    t.parameter(
        "ArtifactBucket",
        "String",
        "Bucket with the Lambda packages and the desired state",
        Some(&names::artifact_bucket(model)),
    );
    t.parameter(
        &names::code_key_parameter("reconciler"),
        "String",
        "S3 key of the reconciler Lambda package (gen package)",
        None,
    );
    let root = model.parameter_root();
    let debug_grants = format!("{root}/debug");
    let bucket = names::artifact_bucket(model);
    let log_group = format!("/{}/{}/lambda/reconciler", model.resource_prefix, model.stage);
    let mut readable = vec![
        sub(format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}/*",
            names::tls_prefix(model, "admin")
        )),
        sub(format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{root}/service-accounts/*/password"
        )),
    ];
    if model.ca.rollover().is_some() {
        // CA rollover: the reconciler verifies nodes of either CA (render::rollover).
        readable.push(sub(format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}",
            names::trust_bundle(model)
        )));
    }
    if model.schema_registry.is_some() {
        // The registry's writer password (render::registry_proxy): the reconciler is its one writer.
        readable.push(sub(format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}",
            names::schema_registry_password(model, names::SCHEMA_REGISTRY_WRITER)
        )));
    }
    t.add("ReconcilerLogGroup", log_group_resource(model, &log_group, r("KmsKeyArn")));
    t.add("ReconcilerRole", Resource::new("AWS::IAM::Role", json!({
        "AssumeRolePolicyDocument": { "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole"
        }]},
        "ManagedPolicyArns": [sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")],
        "Policies": [{ "PolicyName": "reconciler", "PolicyDocument": { "Version": "2012-10-17", "Statement": [
            // Exactly what lambdas/reconciler reads: the admin's mTLS material, the SCRAM accounts'
            // passwords and the registry's writer password (one GetParameter each); nothing under
            // /cfn/ or other keys.
            { "Sid": "AdminCertificateAndAccountPasswords", "Effect": "Allow", "Action": ["ssm:GetParameter"],
              "Resource": readable },
            // Debug grants (kafka_reconcile::grants::store): list the records, delete expired ones;
            // never a write, never a decryption (the records are Strings).
            { "Sid": "DebugGrants", "Effect": "Allow", "Action": ["ssm:GetParametersByPath", "ssm:DeleteParameters"],
              "Resource": [
                  sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{debug_grants}")),
                  sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{debug_grants}/*")),
              ] },
            // Certificate renewal (render::renewal): the nodes' key and chain to push them (the
            // reconciler is the cluster's super user already), every certificate's expiry, and the
            // certificate Lambda, which alone issues and revokes.
            { "Sid": "NodeCertificates", "Effect": "Allow", "Action": ["ssm:GetParameter"],
              "Resource": sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}/*", names::tls_prefix(model, "nodes"))) },
            { "Sid": "StageCertificates", "Effect": "Allow", "Action": ["ssm:GetParameter"],
              "Resource": crate::render::foundation::renewal_readable(model) },
            { "Sid": "RenewCertificates", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
              "Resource": crate::render::renewal::certificate_function_arn(model) },
            { "Sid": "DecryptSecrets", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": r("KmsKeyArn") },
            // Publishing a rotated credential: overwrite the account's parameter under its own key.
            { "Sid": "PublishRotatedCredentials", "Effect": "Allow", "Action": ["ssm:PutParameter"],
              "Resource": sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{root}/service-accounts/*/password")) },
            { "Sid": "EncryptRotatedCredentials", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": r("KmsKeyArn") },
            { "Sid": "FindTheParameterKey", "Effect": "Allow", "Action": ["ssm:DescribeParameters"], "Resource": "*" },
            { "Sid": "DesiredState", "Effect": "Allow", "Action": ["s3:GetObject"],
              "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{bucket}/desired-state/{}/*", model.stage)) },
            { "Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": att("ReconcilerLogGroup", "Arn") },
            // Drift and failure metrics (render::metrics); PutMetricData has no resource, the
            // namespace condition is its only scope.
            { "Sid": "PlatformMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
              "Condition": { "StringEquals": { "cloudwatch:namespace": crate::render::metrics::PLATFORM_NAMESPACE } } },
        ]}}],
        "Tags": tags(&model.tags),
    })));
    t.add("ReconcilerFunction", Resource::new("AWS::Lambda::Function", json!({
        "FunctionName": names::function_name(model, "reconciler"),
        "Description": format!("Reconciles topics, ACLs and SCRAM accounts of Kafka {}", model.stage),
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Architectures": ["x86_64"],
        "MemorySize": 512,
        "Timeout": 900,
        "ReservedConcurrentExecutions": 1,
        "Code": { "S3Bucket": r("ArtifactBucket"), "S3Key": r(&names::code_key_parameter("reconciler")) },
        "Role": att("ReconcilerRole", "Arn"),
        "KmsKeyArn": r("KmsKeyArn"),
        "VpcConfig": { "SubnetIds": model.network.subnet_ids, "SecurityGroupIds": [r("ReconcilerSecurityGroupId")] },
        "LoggingConfig": { "LogGroup": r("ReconcilerLogGroup"), "LogFormat": "JSON" },
        "TracingConfig": { "Mode": "Active" },
        "Tags": tags(&model.tags),
    }))
    .skip_check("CKV_AWS_116", "CloudFormation invokes custom resources synchronously and retries itself; a DLQ would never receive anything")
    .skip_check("CKV_AWS_272", "code signing needs a signing profile outside this platform; packages are addressed by content hash"));
    let mut properties = json!({
        "ServiceToken": att("ReconcilerFunction", "Arn"),
        "Stage": model.stage.as_str(),
        "BootstrapServers": format!("{}:{}", model.bootstrap_dns_name(), ports::MTLS),
        "AdminTlsParameterPrefix": names::tls_prefix(model, "admin"),
        "AdminPasswordParameter": names::admin_password(model),
        "DesiredStateBucket": r("ArtifactBucket"),
        "DesiredStateKey": desired_state_key,
        "DesiredStateSha256": desired_state_sha256,
        "AllowDelete": model.allow_delete,
    });
    let mut connection = json!({
        "Stage": model.stage.as_str(),
        "BootstrapServers": format!("{}:{}", model.bootstrap_dns_name(), ports::MTLS),
        "AdminTlsParameterPrefix": names::tls_prefix(model, "admin"),
        "AdminPasswordParameter": names::admin_password(model),
        "DesiredStateBucket": bucket,
        "DesiredStateKey": desired_state_key,
        "DesiredStateSha256": desired_state_sha256,
        "AllowDelete": model.allow_delete,
    });
    // The subjects are reconciled in the same run, inside the VPC.
    if let Some(url) = schema_registry_url(model) {
        let password = names::schema_registry_password(model, names::SCHEMA_REGISTRY_WRITER);
        for p in [&mut properties, &mut connection] {
            p["SchemaRegistryUrl"] = json!(url);
            p["SchemaRegistryUser"] = json!(names::SCHEMA_REGISTRY_WRITER);
            p["SchemaRegistryPasswordParameter"] = json!(password);
        }
    }
    // Debug grants (gen access): read so that live ones are no drift, removed once expired.
    for p in [&mut properties, &mut connection] {
        p["DebugGrantParameterPrefix"] = json!(debug_grants);
        if model.ca.rollover().is_some() {
            p["TrustBundleParameter"] = json!(names::trust_bundle(model));
        }
    }
    t.add("Reconciliation", Resource::new("Custom::KafkaReconciler", properties));
    crate::render::monitoring::drift_schedule(&mut t, model, &connection);
    crate::render::renewal::schedule(&mut t, model, &connection);
    t.output(
        "DesiredStateKey",
        "S3 key of the desired state this stack reconciled",
        json!(desired_state_key),
    );
    t
}

/// The stage's Schema Registry as the reconciler reaches it (render::cluster serves it there, with a
/// certificate of the stage chain); None when the stage runs none.
pub fn schema_registry_url(model: &StageModel) -> Option<String> {
    model.schema_registry.as_ref().map(|_| {
        format!(
            "https://{}:{}",
            crate::render::secrets::schema_registry_dns_name(model),
            ports::SCHEMA_REGISTRY
        )
    })
}
