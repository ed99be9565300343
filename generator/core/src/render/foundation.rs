//! KMS key, log groups, private CA and the custom-resource Lambdas of a stage.

use serde_json::{Value, json};

use crate::config::stage::RolloverPhase;
use crate::model::{CertificateAuthority, StageModel};
use crate::render::cfn::{Resource, Template, att, r, sub, tags};
use crate::render::names;

/// Renders the foundation stack.
pub fn render(model: &StageModel) -> Template {
    let mut t = Template::new(format!(
        "Kafka platform {}: KMS key, logs, private CA and custom-resource Lambdas",
        model.stage
    ));
    t.parameter(
        "ArtifactBucket",
        "String",
        "Bucket with the Lambda packages (created by the artifacts stack)",
        Some(&names::artifact_bucket(model)),
    );
    for function in ["secure-password", "private-certificate"] {
        t.parameter(
            &names::code_key_parameter(function),
            "String",
            &format!("S3 key of the {function} Lambda package (gen package)"),
            None,
        );
    }
    let root = model.parameter_root();

    // The cluster's launch templates and data volumes are encrypted with this key, and Auto Scaling
    // launches the instances through its service-linked role, which a key policy must name
    // (Auto Scaling guide, "Required AWS KMS key policy for use with encrypted volumes").
    let auto_scaling = sub(AUTO_SCALING_SERVICE_LINKED_ROLE);
    t.add("Key", Resource::new("AWS::KMS::Key", json!({
        "Description": format!("Kafka {}: SSM secrets, log groups, Lambda environment, node volumes", model.stage),
        "EnableKeyRotation": true,
        "PendingWindowInDays": 30,
        "KeyPolicy": { "Version": "2012-10-17", "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": { "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "CloudWatchLogsEncrypts",
                "Effect": "Allow",
                "Principal": { "Service": sub("logs.${AWS::Region}.amazonaws.com") },
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": { "ArnLike": { "kms:EncryptionContext:aws:logs:arn": sub(format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/{}/{}/*", model.resource_prefix, model.stage)) } }
            },
            {
                // CloudWatch alarms publish to the stage's encrypted alarm topic (SNS developer
                // guide, "Enable compatibility between event sources from AWS services and
                // encrypted topics"); only on behalf of this account's alarms.
                "Sid": "CloudWatchAlarmsPublishToAlarmTopic",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": { "StringEquals": { "aws:SourceAccount": r("AWS::AccountId") } }
            },
            {
                "Sid": "AutoScalingEncryptsNodeVolumes",
                "Effect": "Allow",
                "Principal": { "AWS": auto_scaling.clone() },
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*"
            },
            {
                "Sid": "AutoScalingAttachesNodeVolumes",
                "Effect": "Allow",
                "Principal": { "AWS": auto_scaling },
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": { "Bool": { "kms:GrantIsForAWSResource": true } }
            }
        ]},
        "Tags": tags(&model.tags),
    })).retain());
    t.add(
        "KeyAlias",
        Resource::new(
            "AWS::KMS::Alias",
            json!({
                "AliasName": format!("alias/{}", model.name()),
                "TargetKeyId": r("Key"),
            }),
        ),
    );

    let ca_arn =
        match &model.ca {
            CertificateAuthority::Existing { arn } => json!(arn),
            CertificateAuthority::Create {
                key_algorithm, validity_years, common_name, organization, ..
            } => {
                t.add(
                    "CertificateAuthority",
                    Resource::new(
                        "AWS::ACMPCA::CertificateAuthority",
                        json!({
                            "Type": "ROOT",
                            "KeyAlgorithm": key_algorithm.as_str(),
                            "SigningAlgorithm": key_algorithm.signing_algorithm(),
                            "Subject": { "CommonName": common_name, "Organization": organization },
                            "UsageMode": "GENERAL_PURPOSE",
                            "KeyStorageSecurityStandard": "FIPS_140_2_LEVEL_3_OR_HIGHER",
                            "Tags": tags(&model.tags),
                        }),
                    )
                    .retain(),
                );
                t.add("CertificateAuthorityCertificate", Resource::new("AWS::ACMPCA::Certificate", json!({
                "CertificateAuthorityArn": r("CertificateAuthority"),
                "CertificateSigningRequest": att("CertificateAuthority", "CertificateSigningRequest"),
                "SigningAlgorithm": key_algorithm.signing_algorithm(),
                "TemplateArn": sub("arn:${AWS::Partition}:acm-pca:::template/RootCACertificate/V1"),
                "Validity": { "Type": "YEARS", "Value": validity_years },
            })).retain());
                // A retired CA is disabled: it issues nothing more and stays (Retain) for its
                // revocation list until its certificates have expired.
                let retired = model.ca.rollover().is_some_and(|ro| ro.phase == RolloverPhase::Retire);
                t.add(
                    "CertificateAuthorityActivation",
                    Resource::new(
                        "AWS::ACMPCA::CertificateAuthorityActivation",
                        json!({
                            "CertificateAuthorityArn": r("CertificateAuthority"),
                            "Certificate": att("CertificateAuthorityCertificate", "Certificate"),
                            "Status": if retired { "DISABLED" } else { "ACTIVE" },
                        }),
                    )
                    .retain(),
                );
                r("CertificateAuthority")
            }
        };
    let rollover = model.ca.rollover().map(|ro| crate::render::rollover::render(&mut t, model, ro));

    let key_arn = att("Key", "Arn");
    let secrets_stack = names::stack_name(model, "secrets");
    lambda(
        &mut t,
        model,
        "secure-password",
        60,
        password_statements(model, &key_arn, &secrets_stack),
        json!({}),
    );
    lambda(
        &mut t,
        model,
        "private-certificate",
        300,
        certificate_statements(
            model,
            &key_arn,
            &rollover.as_ref().map_or_else(|| ca_arn.clone(), |ro| json!([ca_arn, ro.ca_arn])),
            &secrets_stack,
        ),
        {
            let mut environment = json!({
                "PLATFORM_SECRETS_STACK": secrets_stack,
                "RESERVED_COMMON_NAMES": reserved_common_names(model).join(","),
                "RENEWABLE_PARAMETER_PREFIX": crate::render::renewal::renewable_prefix(model),
            });
            if let Some(ro) = &rollover {
                crate::render::rollover::lambda_environment(&mut environment, &ca_arn, ro);
            }
            environment
        },
    );

    for (key, value, logical) in [
        ("kms-key-arn", att("Key", "Arn"), "KeyArnParameter"),
        ("ca-arn", ca_arn.clone(), "CaArnParameter"),
        (
            "secure-password-function-arn",
            att("SecurePasswordFunction", "Arn"),
            "SecurePasswordFunctionArnParameter",
        ),
        (
            "private-certificate-function-arn",
            att("PrivateCertificateFunction", "Arn"),
            "PrivateCertificateFunctionArnParameter",
        ),
    ] {
        t.add(logical, export(model, key, value));
    }
    t.output("CertificateAuthorityArn", "ARN of the stage's private CA", ca_arn);
    t.output("KeyArn", "KMS key of the stage's parameters and logs", att("Key", "Arn"));
    t.output("ParameterRoot", "SSM path under which the stage keeps its parameters", json!(root));
    t
}

/// An SSM String parameter through which this stack hands a value to the stacks after it.
pub fn export(model: &StageModel, key: &str, value: Value) -> Resource {
    Resource::new(
        "AWS::SSM::Parameter",
        json!({
            "Name": names::export_parameter(model, key),
            "Type": "String",
            "Value": value,
            "Description": "Published by CloudFormation for the stage's other stacks",
            "Tags": model.tags,
        }),
    )
}

/// `arn:...:parameter<path>` for the stage's account and region.
fn parameter_arn(path: &str) -> Value {
    sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}"))
}

/// `arn:...:stack/<name>/*`: every incarnation of the named stack.
fn stack_arn(name: &str) -> Value {
    sub(format!("arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{name}/*"))
}

/// SSM's DescribeParameters has no resource type: it is granted on `*` or not at all.
fn describe_parameters() -> Value {
    json!({ "Sid": "DescribeParameters", "Effect": "Allow", "Action": ["ssm:DescribeParameters"], "Resource": "*" })
}

/// Where the password Lambda writes: the admin's and the SCRAM service accounts' passwords.
pub fn password_parameter_patterns(model: &StageModel) -> Vec<String> {
    let root = model.parameter_root();
    vec![format!("{root}/secrets/*"), format!("{root}/service-accounts/*/password")]
}

/// Where the certificate Lambda writes: key, certificate and chain of every certificate.
pub fn certificate_parameter_patterns(model: &StageModel) -> Vec<String> {
    vec![format!("{}/*", names::tls_prefix(model, "").trim_end_matches('/'))]
}

/// The certificates and superseded records of the stage (public data): what renewal reads.
pub fn renewal_readable(model: &StageModel) -> Vec<Value> {
    let tls = names::tls_prefix(model, "");
    let tls = tls.trim_end_matches('/');
    vec![parameter_arn(&format!("{tls}/*/certificate")), parameter_arn(&format!("{tls}/*/superseded"))]
}

/// The ACM PCA templates the secrets stack issues with (Usage `client` and `server-and-client`).
pub const END_ENTITY_TEMPLATES: &[&str] = &["EndEntityClientAuthCertificate/V1", "EndEntityCertificate/V1"];

/// Common names that are super users or node identities: the certificate Lambda issues them to
/// the stage's secrets stack only.
pub fn reserved_common_names(model: &StageModel) -> Vec<String> {
    let mut names = vec!["admin".to_string(), "schema-registry".into(), "reconciler".into()];
    names.extend(model.cluster.brokers.iter().chain(&model.cluster.controllers).map(|n| n.dns_name.clone()));
    names
}

/// Exactly what the password Lambda calls (lambdas/secure-password), on its own parameters.
fn password_statements(model: &StageModel, key_arn: &Value, secrets_stack: &str) -> Vec<Value> {
    let parameters: Vec<Value> =
        password_parameter_patterns(model).iter().map(|p| parameter_arn(p)).collect();
    vec![
        json!({
            "Sid": "PasswordParameters",
            "Effect": "Allow",
            "Action": ["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameters", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
            "Resource": parameters,
        }),
        describe_parameters(),
        // SecureString writes encrypt (Encrypt, or GenerateDataKey in the Advanced tier); a new
        // KmsKeyId or an adoption re-writes the decrypted value.
        json!({ "Sid": "StageKey", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"], "Resource": key_arn }),
        // Adopting a retained password asks whether the earlier secrets stack is deleted.
        json!({ "Sid": "EarlierSecretsStacks", "Effect": "Allow", "Action": ["cloudformation:DescribeStacks"], "Resource": stack_arn(secrets_stack) }),
    ]
}

/// Exactly what the certificate Lambda calls (lambdas/private-certificate), on its own
/// parameters, with the stage's CA and end-entity templates only.
fn certificate_statements(
    model: &StageModel,
    key_arn: &Value,
    ca_arn: &Value,
    secrets_stack: &str,
) -> Vec<Value> {
    let parameters: Vec<Value> =
        certificate_parameter_patterns(model).iter().map(|p| parameter_arn(p)).collect();
    let templates: Vec<Value> = END_ENTITY_TEMPLATES
        .iter()
        .map(|t| sub(format!("arn:${{AWS::Partition}}:acm-pca:::template/{t}")))
        .collect();
    vec![
        json!({
            "Sid": "CertificateParameters",
            "Effect": "Allow",
            "Action": ["ssm:PutParameter", "ssm:DeleteParameters"],
            "Resource": parameters,
        }),
        // A renewal (renew.rs) reads the stored certificate and the superseded record, no key.
        json!({
            "Sid": "ReadStoredCertificates",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": renewal_readable(model),
        }),
        describe_parameters(),
        json!({ "Sid": "StageKey", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": key_arn }),
        json!({
            "Sid": "StageCertificateAuthority",
            "Effect": "Allow",
            "Action": ["acm-pca:DescribeCertificateAuthority", "acm-pca:GetCertificate", "acm-pca:RevokeCertificate", "acm-pca:GetCertificateAuthorityCertificate"],
            "Resource": ca_arn,
        }),
        json!({
            "Sid": "IssueEndEntityCertificates",
            "Effect": "Allow",
            "Action": ["acm-pca:IssueCertificate"],
            "Resource": ca_arn,
            "Condition": { "StringEquals": { "acm-pca:TemplateArn": templates } },
        }),
        // The reserved-principal guard: is this resource of the secrets stack being provisioned?
        json!({ "Sid": "SecretsStackResources", "Effect": "Allow", "Action": ["cloudformation:DescribeStackResource"], "Resource": stack_arn(secrets_stack) }),
    ]
}

/// A custom-resource Lambda with its role and log group.
fn lambda(
    t: &mut Template,
    model: &StageModel,
    function: &str,
    timeout: u32,
    statements: Vec<Value>,
    environment: Value,
) {
    let id = crate::render::cfn::logical_id(&[function]);
    let name = names::function_name(model, function);
    let log_group = format!("/{}/{}/lambda/{function}", model.resource_prefix, model.stage);
    t.add(format!("{id}LogGroup"), log_group_resource(model, &log_group, att("Key", "Arn")));
    let mut statements = statements;
    statements.push(json!({
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": att(&format!("{id}LogGroup"), "Arn"),
    }));
    t.add(format!("{id}Role"), Resource::new("AWS::IAM::Role", json!({
        "AssumeRolePolicyDocument": { "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole"
        }]},
        "Policies": [{ "PolicyName": function, "PolicyDocument": { "Version": "2012-10-17", "Statement": statements } }],
        "Tags": tags(&model.tags),
    })));
    let mut properties = json!({
        "FunctionName": name,
        "Description": format!("CloudFormation custom resource {function} of Kafka {}", model.stage),
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Architectures": ["x86_64"],
        "MemorySize": 256,
        "Timeout": timeout,
        "ReservedConcurrentExecutions": 10,
        "Code": { "S3Bucket": r("ArtifactBucket"), "S3Key": r(&names::code_key_parameter(function)) },
        "Role": att(&format!("{id}Role"), "Arn"),
        "KmsKeyArn": att("Key", "Arn"),
        "LoggingConfig": { "LogGroup": r(&format!("{id}LogGroup")), "LogFormat": "JSON" },
        "TracingConfig": { "Mode": "Active" },
        "Tags": tags(&model.tags),
    });
    if environment.as_object().is_some_and(|e| !e.is_empty()) {
        properties["Environment"] = json!({ "Variables": environment });
    }
    t.add(format!("{id}Function"), Resource::new("AWS::Lambda::Function", properties)
    .skip_check("CKV_AWS_116", "CloudFormation invokes custom resources synchronously and retries itself; a DLQ would never receive anything")
    .skip_check("CKV_AWS_117", "this function talks only to SSM and ACM PCA public endpoints; it needs no VPC")
    .skip_check("CKV_AWS_272", "code signing needs a signing profile outside this platform; packages are addressed by content hash"));
}

/// The Auto Scaling service-linked role, created by AWS on the account's first Auto Scaling group
/// (or by `aws iam create-service-linked-role`; a key policy cannot name a role that does not exist).
pub const AUTO_SCALING_SERVICE_LINKED_ROLE: &str = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";

/// A KMS-encrypted log group with the stage's retention. Production-like stages keep their logs
/// when the stack is deleted or the group replaced; only the create that made the group deletes it
/// on rollback (RetainExceptOnCreate), so a failed first deploy leaves no name that blocks a retry.
pub fn log_group_resource(model: &StageModel, name: &str, key_arn: Value) -> Resource {
    let group = Resource::new("AWS::Logs::LogGroup", json!({
        "LogGroupName": name,
        "RetentionInDays": model.log_retention_days,
        "KmsKeyId": key_arn,
        "Tags": tags(&model.tags),
    }))
    .skip_check("CKV_AWS_338", "retention is declared per stage (logs.retention_days); short-lived stages keep logs shorter on purpose");
    if model.production_like() { group.retain_except_on_create() } else { group }
}
