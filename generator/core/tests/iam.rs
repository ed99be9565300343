//! IAM of the rendered stacks, as specifications: each Lambda's role allows exactly the AWS calls
//! its source makes, on the resources its rendered resources name, and nothing else; no role
//! reads another principal's private key; no Lambda may write the `/cfn/` wiring parameters.
//!
//! The AWS calls come from the Lambdas' source: [`SDK_OPERATIONS`] maps every SDK operation called
//! anywhere under lambdas/ (and the reconcile crate's password source) to its IAM action, and a
//! grep keeps that table complete. moto checks the same roles at run time
//! (tests/tests/lambda_iam.rs), but it evaluates actions only: resources and conditions are
//! checked here.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kafka_platform_core::render::{names, templates};
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use regex::Regex;
use serde_json::Value;
use support::*;

const STAGES: [StageName; 4] = [StageName::Dev, StageName::Test, StageName::Acc, StageName::Prod];

fn committed(stage: StageName) -> StageModel {
    let (mut models, findings) = load_and_resolve(committed_environments(), &[stage]);
    models
        .remove(&stage)
        .unwrap_or_else(|| panic!("the committed {stage} stage has errors:\n{}", show(&findings)))
}

/// Every template of the stage as JSON, by part (`foundation`, `secrets`, ...).
fn rendered(model: &StageModel) -> BTreeMap<String, Value> {
    templates(model)
        .into_iter()
        .map(|(part, t)| (part.to_string(), serde_json::to_value(&t).expect("templates serialise")))
        .collect()
}

fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

/// A resource value with the pseudo parameters of the stage filled in; `Ref X` becomes `ref:X`
/// and `Fn::GetAtt [X, Y]` becomes `att:X.Y`, so that they compare as names.
fn resolve(model: &StageModel, value: &Value) -> String {
    if let Some(s) = value.as_str() {
        return s.to_string();
    }
    if let Some(s) = value.get("Fn::Sub").and_then(Value::as_str) {
        return s
            .replace("${AWS::Partition}", "aws")
            .replace("${AWS::Region}", &model.region)
            .replace("${AWS::AccountId}", &model.account_id);
    }
    if let Some(r) = value.get("Ref").and_then(Value::as_str) {
        return format!("ref:{r}");
    }
    if let Some([a, b]) = value.get("Fn::GetAtt").and_then(Value::as_array).map(Vec::as_slice) {
        return format!("att:{}.{}", a.as_str().unwrap(), b.as_str().unwrap());
    }
    panic!("unexpected resource expression {value}")
}

/// IAM's wildcard match: `*` any run of characters (slashes included), `?` one character.
fn wildcard(pattern: &str, text: &str) -> bool {
    let re = format!("^{}$", regex::escape(pattern).replace(r"\*", ".*").replace(r"\?", "."));
    Regex::new(&re).unwrap().is_match(text)
}

/// One statement of a role, resolved.
#[derive(Debug)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

impl Statement {
    fn grants(&self, action: &str, resource: &str) -> bool {
        self.actions.iter().any(|a| wildcard(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| wildcard(r, resource))
    }
}

/// The inline statements of a role (managed policies are AWS's and never touch parameters).
fn statements(model: &StageModel, role: &Value) -> Vec<Statement> {
    let mut out = Vec::new();
    for policy in list(&role["Properties"]["Policies"]) {
        for s in list(&policy["PolicyDocument"]["Statement"]) {
            assert_eq!(s["Effect"], "Allow", "roles only allow: {s}");
            out.push(Statement {
                actions: list(&s["Action"]).iter().map(|a| a.as_str().unwrap().to_string()).collect(),
                resources: list(&s["Resource"]).iter().map(|r| resolve(model, r)).collect(),
                condition: s["Condition"].clone(),
            });
        }
    }
    out
}

/// Every role of the stage: (part, logical id) -> statements.
fn roles(model: &StageModel) -> BTreeMap<(String, String), Vec<Statement>> {
    let mut out = BTreeMap::new();
    for (part, template) in rendered(model) {
        for (id, role) in resources(&template, "AWS::IAM::Role") {
            out.insert((part.clone(), id.to_string()), statements(model, role));
        }
    }
    out
}

fn parameter_arn(model: &StageModel, name: &str) -> String {
    format!("arn:aws:ssm:{}:{}:parameter{name}", model.region, model.account_id)
}

/// Private-key parameters of the stage, from the secrets template.
fn private_keys(model: &StageModel) -> BTreeSet<String> {
    let t = &rendered(model)["secrets"];
    resources(t, "Custom::PrivateCertificate")
        .values()
        .map(|c| format!("{}/private-key", c["Properties"]["ParameterPrefix"].as_str().unwrap()))
        .collect()
}

const READS: [&str; 2] = ["ssm:GetParameter", "ssm:GetParameters"];

/// The private keys a role may read.
fn keys_read(model: &StageModel, statements: &[Statement]) -> BTreeSet<String> {
    private_keys(model)
        .into_iter()
        .filter(|k| READS.iter().any(|a| statements.iter().any(|s| s.grants(a, &parameter_arn(model, k)))))
        .collect()
}

#[test]
fn no_role_reads_another_principals_private_key() {
    for stage in STAGES {
        let model = committed(stage);
        let all = roles(&model);
        for ((part, id), statements) in &all {
            let keys = keys_read(&model, statements);
            if (part.as_str(), id.as_str()) == ("topics", "ReconcilerRole") {
                // The reconciler is the admin (a super user that can reconfigure any listener) and
                // pushes renewed node certificates: the admin's key and the nodes' keys, no other.
                let admin = format!("{}/private-key", names::tls_prefix(&model, "admin"));
                let nodes = format!("{}/", names::tls_prefix(&model, "nodes"));
                assert!(keys.contains(&admin), "{stage}: the reconciler reads no admin key");
                for k in &keys {
                    assert!(k == &admin || k.starts_with(&nodes), "{stage}: the reconciler reads {k}");
                }
                continue;
            }
            assert!(keys.len() <= 1, "{stage} {part} {id} reads {} private keys: {keys:?}", keys.len());
        }
        // A task's execution role reads exactly the keys its container's Secrets name.
        let cluster = &rendered(&model)["cluster"];
        for (task, definition) in resources(cluster, "AWS::ECS::TaskDefinition") {
            let role =
                definition["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0].as_str().expect("a role");
            let wanted: BTreeSet<String> =
                list(&definition["Properties"]["ContainerDefinitions"][0]["Secrets"])
                    .iter()
                    .map(|s| resolve(&model, &s["ValueFrom"]))
                    .filter(|arn| arn.ends_with("/private-key"))
                    .map(|arn| arn.split_once(":parameter").unwrap().1.to_string())
                    .collect();
            let read = keys_read(&model, &all[&("cluster".to_string(), role.to_string())]);
            assert_eq!(read, wanted, "{stage}: {task}'s execution role {role}");
        }
    }
}

#[test]
fn no_lambda_role_may_write_the_cfn_wiring_parameters() {
    let writes = [
        "ssm:PutParameter",
        "ssm:DeleteParameter",
        "ssm:DeleteParameters",
        "ssm:AddTagsToResource",
        "ssm:LabelParameterVersion",
    ];
    for stage in STAGES {
        let model = committed(stage);
        let wiring = parameter_arn(&model, &names::export_parameter(&model, "ca-arn"));
        for ((part, id), statements) in roles(&model) {
            for action in writes {
                assert!(
                    !statements.iter().any(|s| s.grants(action, &wiring)),
                    "{stage} {part} {id} may {action} {wiring}"
                );
            }
        }
    }
}

/// Every AWS SDK operation called under lambdas/ (and by the reconcile crate's SSM password
/// source, which the reconciler Lambda uses), with the IAM action it needs.
const SDK_OPERATIONS: &[(&str, &str)] = &[
    ("put_parameter", "ssm:PutParameter"),
    ("describe_parameters", "ssm:DescribeParameters"),
    ("get_parameter", "ssm:GetParameter"),
    ("delete_parameters", "ssm:DeleteParameters"),
    ("remove_tags_from_resource", "ssm:RemoveTagsFromResource"),
    ("add_tags_to_resource", "ssm:AddTagsToResource"),
    ("describe_stacks", "cloudformation:DescribeStacks"),
    ("describe_stack_resource", "cloudformation:DescribeStackResource"),
    ("describe_certificate_authority", "acm-pca:DescribeCertificateAuthority"),
    ("issue_certificate", "acm-pca:IssueCertificate"),
    ("get_certificate", "acm-pca:GetCertificate"),
    ("get_certificate_authority_certificate", "acm-pca:GetCertificateAuthorityCertificate"),
    ("revoke_certificate", "acm-pca:RevokeCertificate"),
    ("get_object", "s3:GetObject"),
    ("put_metric_data", "cloudwatch:PutMetricData"),
    ("get_parameters_by_path", "ssm:GetParametersByPath"),
    ("invoke", "lambda:InvokeFunction"),
];

/// The shared wrappers (lambdas/custom-resource) and the SDK operations behind each.
const WRAPPERS: &[(&str, &[&str])] = &[
    ("parameters.put(", &["put_parameter"]),
    ("parameters.describe(", &["describe_parameters"]),
    ("parameters.get_decrypted(", &["get_parameter"]),
    ("parameters.get(", &["get_parameter"]),
    ("parameters.delete(", &["delete_parameters"]),
    ("parameters.sync_tags(", &["remove_tags_from_resource", "add_tags_to_resource"]),
    ("stacks.stack_status(", &["describe_stacks"]),
    ("stacks.resource(", &["describe_stack_resource"]),
    ("PasswordSource::Ssm(", &["get_parameter"]),
];

fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The Rust source of the directories, whitespace collapsed so that chained calls read as one.
fn source(dirs: &[&str]) -> String {
    let mut text = String::new();
    for dir in dirs {
        let mut stack = vec![repository().join(dir)];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else if p.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&p).unwrap());
                text.push('\n');
            }
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace(" .", ".").replace(". ", ".")
}

/// SDK operations called directly on a client (`client.op()`, `self.s3.op()`, ...).
fn direct_operations(text: &str) -> BTreeSet<String> {
    let re = Regex::new(r"\b(?:client|s3|ssm|pca|cloudformation|cloudwatch|lambda)\.([a-z_]+)\(\)").unwrap();
    // Not operations: cloning a client, building a config, the Kafka admin client's close and its
    // cached broker list.
    let not_operations = ["clone", "build", "close", "brokers"];
    re.captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|op| !not_operations.contains(&op.as_str()))
        .collect()
}

/// What one Lambda calls: its own crate's direct SDK calls and the wrappers it uses.
fn lambda_operations(crate_dirs: &[&str]) -> BTreeSet<String> {
    let text = source(crate_dirs);
    let mut ops = direct_operations(&text);
    for (wrapper, behind) in WRAPPERS {
        if text.contains(wrapper) {
            ops.extend(behind.iter().map(|s| s.to_string()));
        }
    }
    ops
}

fn action_of(op: &str) -> &'static str {
    SDK_OPERATIONS.iter().find(|(o, _)| *o == op).map(|(_, a)| *a).unwrap_or_else(|| {
        panic!("SDK operation {op} is not in SDK_OPERATIONS: add it with the IAM action it needs")
    })
}

#[test]
fn the_operation_table_lists_every_sdk_call_of_the_lambdas() {
    let found = direct_operations(&source(&[
        "lambdas",
        "generator/reconcile/src/passwords.rs",
        "generator/reconcile/src/grants",
        "generator/reconcile/src/renewal.rs",
    ]));
    assert!(
        found.contains("put_parameter") && found.contains("issue_certificate"),
        "the grep finds calls: {found:?}"
    );
    for op in &found {
        action_of(op);
    }
    let table: BTreeSet<String> = SDK_OPERATIONS.iter().map(|(o, _)| o.to_string()).collect();
    let stale: Vec<_> = table.difference(&found).collect();
    assert!(stale.is_empty(), "SDK_OPERATIONS lists calls nobody makes any more: {stale:?}");
}

/// The Lambdas: (function, template part, role logical id, source directories).
const LAMBDAS: &[(&str, &str, &str, &[&str])] = &[
    ("secure-password", "foundation", "SecurePasswordRole", &["lambdas/secure-password"]),
    ("private-certificate", "foundation", "PrivateCertificateRole", &["lambdas/private-certificate"]),
    (
        "reconciler",
        "topics",
        "ReconcilerRole",
        &[
            "lambdas/reconciler",
            "generator/reconcile/src/passwords.rs",
            "generator/reconcile/src/grants",
            "generator/reconcile/src/renewal.rs",
        ],
    ),
];

/// IAM actions a Lambda needs beyond its SDK calls: writing its logs, and the KMS calls SSM
/// makes as the caller for SecureStrings (Encrypt, or GenerateDataKey in the Advanced tier;
/// Decrypt when reading with decryption).
fn implied(ops: &BTreeSet<String>, source: &str) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::from(["logs:CreateLogStream", "logs:PutLogEvents"]);
    if ops.contains("put_parameter") {
        out.extend(["kms:Encrypt", "kms:GenerateDataKey"]);
    }
    // Reading a String parameter (a certificate) needs no key.
    if source.contains("get_decrypted(")
        || source.contains("with_decryption(true)")
        || source.contains("PasswordSource::Ssm(")
        || reads_decrypted(source)
    {
        out.insert("kms:Decrypt");
    }
    out
}

/// Whether a `parameters.get(name, decrypt)` call passes `true` (its last argument, up to the
/// call's closing parenthesis).
fn reads_decrypted(source: &str) -> bool {
    source.split("parameters.get(").skip(1).any(|call| {
        let mut depth = 1;
        let end = call
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(call.len(), |(i, _)| i);
        call[..end].trim_end().ends_with("true")
    })
}

#[test]
fn each_lambda_role_has_exactly_the_actions_its_source_calls() {
    for stage in STAGES {
        let model = committed(stage);
        let all = roles(&model);
        for (function, part, role, dirs) in LAMBDAS {
            let ops = lambda_operations(dirs);
            let mut wanted: BTreeSet<&str> = ops.iter().map(|o| action_of(o)).collect();
            wanted.extend(implied(&ops, &source(dirs)));
            let granted: BTreeSet<&str> = all[&(part.to_string(), role.to_string())]
                .iter()
                .flat_map(|s| s.actions.iter().map(String::as_str))
                .collect();
            assert_eq!(granted, wanted, "{stage}: the {function} role ({part} {role})");
        }
    }
}

/// Whether a role grants `action` on `resource` with the condition `key` = `value` satisfied.
fn grants_with(
    model: &StageModel,
    statements: &[Statement],
    action: &str,
    resource: &str,
    key: &str,
    value: &str,
) -> bool {
    statements.iter().any(|s| {
        s.grants(action, resource) && {
            let allowed = list(&s.condition["StringEquals"][key]);
            s.condition.is_null() || allowed.iter().any(|a| resolve(model, a) == value)
        }
    })
}

#[test]
fn each_lambda_may_do_its_calls_on_exactly_what_its_resources_name() {
    for stage in STAGES {
        let model = committed(stage);
        let t = rendered(&model);
        let all = roles(&model);
        let password = &all[&("foundation".to_string(), "SecurePasswordRole".to_string())];
        let certificate = &all[&("foundation".to_string(), "PrivateCertificateRole".to_string())];
        let reconciler = &all[&("topics".to_string(), "ReconcilerRole".to_string())];
        let secrets_stack = format!(
            "arn:aws:cloudformation:{}:{}:stack/{}/0f0e0d0c",
            model.region,
            model.account_id,
            names::stack_name(&model, "secrets")
        );
        let ca = resolve(&model, &t["foundation"]["Outputs"]["CertificateAuthorityArn"]["Value"]);

        for p in resources(&t["secrets"], "Custom::SecurePassword").values() {
            let name = parameter_arn(&model, p["Properties"]["ParameterName"].as_str().unwrap());
            for action in [
                "ssm:PutParameter",
                "ssm:GetParameter",
                "ssm:DeleteParameters",
                "ssm:AddTagsToResource",
                "ssm:RemoveTagsFromResource",
            ] {
                assert!(
                    password.iter().any(|s| s.grants(action, &name)),
                    "{stage}: password role lacks {action} on {name}"
                );
                assert!(
                    !certificate.iter().any(|s| s.grants(action, &name)),
                    "{stage}: certificate role has {action} on {name}"
                );
            }
        }
        assert!(
            password.iter().any(|s| s.grants("ssm:DescribeParameters", "*")),
            "{stage}: DescribeParameters is on *"
        );
        assert!(password.iter().any(|s| s.grants("cloudformation:DescribeStacks", &secrets_stack)));
        assert!(!password.iter().any(|s| {
            s.grants("cloudformation:DescribeStacks", &secrets_stack.replace("-secrets/", "-cluster/"))
        }));

        for c in resources(&t["secrets"], "Custom::PrivateCertificate").values() {
            let props = &c["Properties"];
            for leaf in ["private-key", "certificate", "chain"] {
                let name =
                    parameter_arn(&model, &format!("{}/{leaf}", props["ParameterPrefix"].as_str().unwrap()));
                for action in ["ssm:PutParameter", "ssm:DeleteParameters"] {
                    assert!(
                        certificate.iter().any(|s| s.grants(action, &name)),
                        "{stage}: certificate role lacks {action} on {name}"
                    );
                    assert!(
                        !password.iter().any(|s| s.grants(action, &name)),
                        "{stage}: password role has {action} on {name}"
                    );
                }
            }
            // Renewal reads the certificate and the superseded record, never the key.
            let prefix = props["ParameterPrefix"].as_str().unwrap();
            for (leaf, readable) in [("certificate", true), ("superseded", true), ("private-key", false)] {
                let name = parameter_arn(&model, &format!("{prefix}/{leaf}"));
                let reads = certificate.iter().any(|s| s.grants("ssm:GetParameter", &name));
                assert_eq!(reads, readable, "{stage}: certificate role ssm:GetParameter on {name}");
            }
            let template = match props["Usage"].as_str().unwrap() {
                "client" => "EndEntityClientAuthCertificate/V1",
                "server-and-client" => "EndEntityCertificate/V1",
                other => panic!("usage {other} has no template here"),
            };
            let template = format!("arn:aws:acm-pca:::template/{template}");
            assert!(
                grants_with(
                    &model,
                    certificate,
                    "acm-pca:IssueCertificate",
                    &ca,
                    "acm-pca:TemplateArn",
                    &template
                ),
                "{stage}: the certificate role cannot issue with {template}"
            );
        }
        for action in [
            "acm-pca:DescribeCertificateAuthority",
            "acm-pca:GetCertificate",
            "acm-pca:RevokeCertificate",
            "acm-pca:GetCertificateAuthorityCertificate",
        ] {
            assert!(
                certificate.iter().any(|s| s.grants(action, &ca)),
                "{stage}: certificate role lacks {action} on the CA"
            );
        }
        let root_ca = "arn:aws:acm-pca:::template/RootCACertificate/V1";
        assert!(
            !grants_with(
                &model,
                certificate,
                "acm-pca:IssueCertificate",
                &ca,
                "acm-pca:TemplateArn",
                root_ca
            ),
            "{stage}: CA certificates"
        );
        assert!(
            certificate
                .iter()
                .all(|s| !s.actions.contains(&"acm-pca:IssueCertificate".to_string())
                    || !s.condition.is_null())
        );
        assert!(certificate.iter().any(|s| s.grants("cloudformation:DescribeStackResource", &secrets_stack)));
        assert!(!certificate.iter().any(|s| s.grants(
            "cloudformation:DescribeStackResource",
            &secrets_stack.replace("-secrets/", "-topics/")
        )));

        // The certificate Lambda learns the secrets stack and the reserved names from its environment.
        let env = &t["foundation"]["Resources"]["PrivateCertificateFunction"]["Properties"]["Environment"]["Variables"];
        assert_eq!(env["PLATFORM_SECRETS_STACK"], names::stack_name(&model, "secrets"), "{stage}");
        let reserved = env["RESERVED_COMMON_NAMES"].as_str().unwrap().split(',').collect::<BTreeSet<_>>();
        for node in model.cluster.brokers.iter().chain(&model.cluster.controllers) {
            assert!(reserved.contains(node.dns_name.as_str()), "{stage}: {} is not reserved", node.dns_name);
        }
        assert!(reserved.contains("admin") && reserved.contains("schema-registry"), "{stage}: {reserved:?}");
        assert_eq!(
            env["RENEWABLE_PARAMETER_PREFIX"],
            format!("{}/", names::tls_prefix(&model, "").trim_end_matches('/'))
        );

        // Renewal: the reconciler may invoke the certificate Lambda and nothing else.
        let function = |f: &str| {
            format!(
                "arn:aws:lambda:{}:{}:function:{}",
                model.region,
                model.account_id,
                names::function_name(&model, f)
            )
        };
        assert!(
            reconciler.iter().any(|s| s.grants("lambda:InvokeFunction", &function("private-certificate")))
        );
        for other in ["secure-password", "reconciler"] {
            assert!(
                !reconciler.iter().any(|s| s.grants("lambda:InvokeFunction", &function(other))),
                "{stage}: {other}"
            );
        }
        for role in [password, certificate] {
            assert!(
                !role.iter().any(|s| s.grants("lambda:InvokeFunction", &function("private-certificate")))
            );
        }

        // The reconciler reads the admin's TLS material and the declared accounts' passwords.
        let reconciliation =
            &resources(&t["topics"], "Custom::KafkaReconciler")["Reconciliation"]["Properties"];
        let admin = reconciliation["AdminTlsParameterPrefix"].as_str().unwrap();
        for leaf in ["private-key", "certificate", "chain"] {
            let name = parameter_arn(&model, &format!("{admin}/{leaf}"));
            assert!(
                reconciler.iter().any(|s| s.grants("ssm:GetParameter", &name)),
                "{stage}: reconciler cannot read {name}"
            );
        }
        for account in &model.service_accounts {
            let name = parameter_arn(&model, &names::account_password(&model, &account.name));
            assert!(
                reconciler.iter().any(|s| s.grants("ssm:GetParameter", &name)),
                "{stage}: reconciler cannot read {name}"
            );
        }
        let bucket = reconciliation["DesiredStateBucket"].clone();
        assert_eq!(bucket["Ref"], "ArtifactBucket");
        let object = format!(
            "arn:aws:s3:::{}/{}",
            names::artifact_bucket(&model),
            reconciliation["DesiredStateKey"].as_str().unwrap()
        );
        assert!(
            reconciler.iter().any(|s| s.grants("s3:GetObject", &object)),
            "{stage}: reconciler cannot read {object}"
        );
        let admin_password = parameter_arn(&model, &names::admin_password(&model));
        assert!(
            !reconciler.iter().any(|s| s.grants("ssm:GetParameter", &admin_password)),
            "{stage}: unused admin password"
        );
        // Drift and failure metrics: PutMetricData takes no resource, so the namespace condition is
        // the whole scope; every statement that grants it carries the platform namespace.
        let namespace = kafka_platform_core::render::metrics::PLATFORM_NAMESPACE;
        let metric_grants: Vec<_> =
            reconciler.iter().filter(|s| s.actions.iter().any(|a| a == "cloudwatch:PutMetricData")).collect();
        assert!(!metric_grants.is_empty(), "{stage}: the reconciler cannot publish drift");
        for s in metric_grants {
            assert_eq!(
                list(&s.condition["StringEquals"]["cloudwatch:namespace"])
                    .iter()
                    .map(|v| resolve(&model, v))
                    .collect::<Vec<_>>(),
                vec![namespace.to_string()],
                "{stage}: PutMetricData without the namespace condition"
            );
        }
    }
}
