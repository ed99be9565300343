//! The Lambdas under their rendered IAM roles: each function runs against moto, which enforces
//! IAM (tests/scripts/moto.sh), as an IAM user whose only policy is the role policy rendered for
//! that function (read from the rendered templates, `Fn::Sub`/`Ref`/`Fn::GetAtt` resolved against
//! moto's account, region, KMS key and CA), through create, update, replacement and delete.
//!
//! The functions and the test's own set-up calls go to the IAM-enforced moto (MOTO_IAM_ENDPOINT;
//! the set-up as its admin user). What moto checks: moto 5.2.5 evaluates the ACTION of every SSM, ACM PCA, KMS and CloudFormation
//! call (it asks every policy about Resource "*"), and action AND resource of S3 calls; it evaluates
//! no conditions. The user's policy is therefore the rendered one with the Resource of every
//! non-S3 statement widened to "*" and the conditions dropped; a missing action fails here as it
//! would on AWS. Resources and conditions (parameter subtrees, the CA templates, the stacks) are
//! checked statically against the same rendered roles in generator/core/tests/iam.rs.
//!
//! Needs `moto.sh env`; the reconciler test also the Kafka cluster of `kafka.sh env`.

#[path = "kafka_common/mod.rs"]
mod kafka_common;
mod lambda_support;

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging};
use kafka_admin::AdminClient;
use kafka_platform_core::config::project::{AclOperation, AclPatternType, AclResourceType, Authentication};
use kafka_platform_core::desired::{DesiredAccount, DesiredAcl, DesiredState, DesiredTopic};
use kafka_platform_core::digest::sha256_hex;
use kafka_platform_core::render::{names, templates};
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use lambda_support::*;
use platform_tests::provisioning::{delete_stack, in_progress_stack};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(120);

/// Tests that write the stage's admin TLS parameters take turns.
static ADMIN_TLS: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// A committed stage, rendered, with what the intrinsics of its templates resolve to in moto.
struct Stage {
    model: StageModel,
    templates: BTreeMap<String, Value>,
    refs: BTreeMap<String, String>,
}

impl Stage {
    async fn load(stage: StageName, key_arn: &str, ca_arn: &str) -> Stage {
        let environments = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let (mut models, findings) = load_and_resolve(&environments, &[stage]);
        let model = models.remove(&stage).unwrap_or_else(|| panic!("{stage} has errors: {findings:?}"));
        let templates = templates(&model)
            .into_iter()
            .map(|(part, t)| (part.to_string(), serde_json::to_value(&t).unwrap()))
            .collect();
        let function = |f: &str| {
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", names::function_name(&model, f))
        };
        let refs = BTreeMap::from([
            ("KmsKeyArn".to_string(), key_arn.to_string()),
            ("Key.Arn".into(), key_arn.to_string()),
            ("CertificateAuthority".into(), ca_arn.to_string()),
            ("CertificateAuthorityArn".into(), ca_arn.to_string()),
            ("ArtifactBucket".into(), names::artifact_bucket(&model)),
            ("SecurePasswordFunctionArn".into(), function("secure-password")),
            ("PrivateCertificateFunctionArn".into(), function("private-certificate")),
            ("ReconcilerFunction.Arn".into(), function("reconciler")),
        ]);
        Stage { model, templates, refs }
    }

    /// `value` with every intrinsic resolved; a log group's ARN is the one of its name.
    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().unwrap();
                match k.as_str() {
                    "Fn::Sub" => json!(
                        v.as_str()
                            .unwrap()
                            .replace("${AWS::Partition}", "aws")
                            .replace("${AWS::Region}", REGION)
                            .replace("${AWS::AccountId}", ACCOUNT)
                    ),
                    "Ref" => json!(
                        self.refs.get(v.as_str().unwrap()).unwrap_or_else(|| panic!("no value for Ref {v}"))
                    ),
                    "Fn::GetAtt" => {
                        let (resource, attribute) = (v[0].as_str().unwrap(), v[1].as_str().unwrap());
                        if resource.ends_with("LogGroup") {
                            let name = self.resource(resource)["Properties"]["LogGroupName"]
                                .as_str()
                                .unwrap()
                                .to_string();
                            return json!(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"));
                        }
                        let key = format!("{resource}.{attribute}");
                        json!(self.refs.get(&key).unwrap_or_else(|| panic!("no value for GetAtt {key}")))
                    }
                    _ => Value::Object(o.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
                }
            }
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    /// A resource of any of the stage's templates.
    fn resource(&self, logical_id: &str) -> &Value {
        self.templates
            .values()
            .find_map(|t| t["Resources"].get(logical_id))
            .unwrap_or_else(|| panic!("no resource {logical_id} in the rendered templates"))
    }

    /// The resolved properties of a rendered resource.
    fn properties(&self, logical_id: &str) -> Value {
        self.resolve(&self.resource(logical_id)["Properties"])
    }

    /// The rendered role's policy as moto can enforce it (see the module documentation).
    fn enforceable_policy(&self, role: &str) -> Value {
        let policies = self.resolve(&self.resource(role)["Properties"]["Policies"]);
        let mut statements = Vec::new();
        for policy in policies.as_array().unwrap() {
            for s in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                let mut s = s.clone();
                let actions: Vec<&str> = match &s["Action"] {
                    Value::Array(a) => a.iter().map(|a| a.as_str().unwrap()).collect(),
                    a => vec![a.as_str().unwrap()],
                };
                if !actions.iter().all(|a| a.starts_with("s3:")) {
                    s["Resource"] = json!("*");
                }
                s.as_object_mut().unwrap().remove("Condition");
                statements.push(s);
            }
        }
        json!({ "Version": "2012-10-17", "Statement": statements })
    }

    /// An IAM user of moto whose policy is the rendered `role`'s; returns its keys.
    async fn identity(&self, role: &str) -> (String, String) {
        let iam = aws_sdk_iam::Client::new(&platform_tests::moto::iam_admin_config().await);
        let user = unique(&format!("role-{}", role.to_lowercase()));
        iam.create_user().user_name(&user).send().await.unwrap();
        iam.put_user_policy()
            .user_name(&user)
            .policy_name(role)
            .policy_document(self.enforceable_policy(role).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto refused the policy of {role}: {e:?}"));
        let key = iam.create_access_key().user_name(&user).send().await.unwrap().access_key.unwrap();
        (key.access_key_id, key.secret_access_key)
    }

    /// The function's environment variables as rendered.
    fn environment(&self, function: &str) -> Vec<(String, String)> {
        let vars = self.resolve(&self.resource(function)["Properties"]["Environment"]["Variables"]);
        vars.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
            .unwrap_or_default()
    }
}

/// Starts `binary` as the IAM user of the rendered `role`, with the function's rendered environment.
async fn spawn_as(h: &Harness, stage: &Stage, binary: &str, role: &str, function: &str) -> LambdaProcess {
    let (key, secret) = stage.identity(role).await;
    let mut env: Vec<(String, String)> = stage.environment(function);
    env.push(("AWS_ACCESS_KEY_ID".into(), key));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), secret));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    h.spawn(binary, &platform_tests::moto::iam_endpoint(), &env)
}

/// A CloudFormation event from the stack with unique id `stack_id`.
fn from_stack(mut event: Value, stack_id: &str) -> Value {
    event["StackId"] = json!(stack_id);
    event
}

/// A KMS key ARN for the stage key. moto's SSM accepts any well-formed key and never calls KMS
/// (the tests crate has no KMS client), which is why generator/core/tests/iam.rs checks the KMS
/// actions statically.
async fn stage_key() -> String {
    use sha2::{Digest, Sha256};
    let h = hex::encode(Sha256::digest(unique("key").as_bytes()));
    format!(
        "arn:aws:kms:{REGION}:{ACCOUNT}:key/{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&platform_tests::moto::iam_admin_config().await)
}

/// The decrypted value and the description of a parameter, as the admin reads them.
async fn read(name: &str) -> Option<(String, String)> {
    let ssm = ssm().await;
    let value = match ssm.get_parameter().name(name).with_decryption(true).send().await {
        Ok(out) => out.parameter.unwrap().value.unwrap(),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => return None,
        Err(e) => panic!("GetParameter {name}: {e:?}"),
    };
    let filter =
        aws_sdk_ssm::types::ParameterStringFilter::builder().key("Name").values(name).build().unwrap();
    let described = ssm.describe_parameters().parameter_filters(filter).send().await.unwrap();
    Some((value, described.parameters()[0].description().unwrap_or_default().to_string()))
}

async fn tags(name: &str) -> BTreeMap<String, String> {
    ssm()
        .await
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .unwrap()
        .tag_list()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn forget(names: &[String]) {
    let _ = ssm().await.delete_parameters().set_names(Some(names.to_vec())).send().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_lambda_works_under_its_rendered_role_and_adopts_what_a_deleted_stack_retained() {
    let key = stage_key().await;
    let other_key = stage_key().await;
    let stage = Stage::load(
        StageName::Prod,
        &key,
        "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/unused",
    )
    .await;
    let config = platform_tests::moto::iam_admin_config().await;
    let h = Harness::start().await;
    let lambda =
        spawn_as(&h, &stage, "secure-password-lambda", "SecurePasswordRole", "SecurePasswordFunction").await;
    const TYPE: &str = "Custom::SecurePassword";
    let props = stage.properties("AdminPassword");
    let name = props["ParameterName"].as_str().unwrap().to_string();
    assert!(name.ends_with("/secrets/admin/password") && props["RetainOnDelete"] == json!(true), "{props}");
    let renamed = format!("{name}-2");
    forget(&[name.clone(), renamed.clone()]).await;
    let stack_name = names::stack_name(&stage.model, "secrets");
    let first = in_progress_stack(&config, &stack_name, "AdminPassword", TYPE).await;
    let event = |kind: &str, physical: Option<&str>, p: &Value, old: Option<&Value>, stack: &str| {
        from_stack(h.event(kind, TYPE, "AdminPassword", physical, p.clone(), old.cloned()), stack)
    };

    // Create, a no-op update, a tag change (one removed, one changed), rotation, a new key.
    let created = h.invoke(event("Create", None, &props, None, &first), DEADLINE).await.expect_success();
    assert_eq!(created.physical_id(), name);
    let (v1, _) = read(&name).await.unwrap();
    h.invoke(event("Update", Some(&name), &props, Some(&props), &first), DEADLINE).await.expect_success();
    let mut retagged = props.clone();
    let tag_list = retagged["Tags"].as_array_mut().unwrap();
    let removed = tag_list.remove(0)["Key"].as_str().unwrap().to_string();
    tag_list[0]["Value"] = json!("changed");
    let changed = tag_list[0]["Key"].as_str().unwrap().to_string();
    h.invoke(event("Update", Some(&name), &retagged, Some(&props), &first), DEADLINE).await.expect_success();
    let now = tags(&name).await;
    assert!(!now.contains_key(&removed) && now[&changed] == "changed", "{now:?}");
    let mut rotated = retagged.clone();
    rotated["RotationToken"] = json!("rotation-2");
    h.invoke(event("Update", Some(&name), &rotated, Some(&retagged), &first), DEADLINE)
        .await
        .expect_success();
    let (v2, _) = read(&name).await.unwrap();
    assert_ne!(v1, v2, "rotation writes a new value");
    let mut rekeyed = rotated.clone();
    rekeyed["KmsKeyId"] = json!(other_key);
    h.invoke(event("Update", Some(&name), &rekeyed, Some(&rotated), &first), DEADLINE).await.expect_success();
    assert_eq!(read(&name).await.unwrap().0, v2, "a new key keeps the value");

    // The first deploy fails: the rollback keeps the parameter (RetainOnDelete), the operator
    // deletes the rolled-back stack and deploys again, a new stack of the same name.
    h.invoke(event("Delete", Some(&name), &rekeyed, None, &first), DEADLINE).await.expect_success();
    assert!(read(&name).await.is_some(), "retained");
    // While the first stack lives, nobody else adopts its password.
    let stranger = format!(
        "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/00000000-1111-2222-3333-444444444444"
    );
    h.invoke(event("Create", None, &props, None, &stranger), DEADLINE)
        .await
        .expect_failed("not a deleted earlier stack of this name");
    delete_stack(&config, &first).await;
    let other_name = format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{}/5", unique("other-secrets"));
    h.invoke(event("Create", None, &props, None, &other_name), DEADLINE)
        .await
        .expect_failed("not a deleted earlier stack of this name");
    let second = in_progress_stack(&config, &stack_name, "AdminPassword", TYPE).await;
    let adopted = h.invoke(event("Create", None, &rekeyed, None, &second), DEADLINE).await.expect_success();
    assert_eq!(adopted.physical_id(), name);
    let (value, description) = read(&name).await.unwrap();
    assert_eq!(value, v2, "adoption keeps the value");
    assert!(description.ends_with(&second), "{description}");

    // Replacement (a new name), then the old and the new one deleted without retention.
    let mut moved = rekeyed.clone();
    moved["ParameterName"] = json!(renamed);
    moved["RetainOnDelete"] = json!(false);
    let replaced = h
        .invoke(event("Update", Some(&name), &moved, Some(&rekeyed), &second), DEADLINE)
        .await
        .expect_success();
    assert_eq!(replaced.physical_id(), renamed);
    let mut old = rekeyed.clone();
    old["RetainOnDelete"] = json!(false);
    h.invoke(event("Delete", Some(&name), &old, None, &second), DEADLINE).await.expect_success();
    h.invoke(event("Delete", Some(&renamed), &moved, None, &second), DEADLINE).await.expect_success();
    assert!(read(&name).await.is_none() && read(&renamed).await.is_none(), "both deleted");
    delete_stack(&config, &second).await;

    let mut texts = h.all_answers();
    texts.extend(lambda.logs());
    assert_secret_absent(&v2, &texts);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_certificate_lambda_works_under_its_rendered_role_and_mints_reserved_names_only_for_the_secrets_stack()
 {
    let _turn = ADMIN_TLS.lock().await;
    let config = platform_tests::moto::iam_admin_config().await;
    let pca = aws_sdk_acmpca::Client::new(&config);
    let (ca, _) = platform_tests::private_ca::create_root_ca(&pca, &unique("IAM test CA")).await.unwrap();
    let key = stage_key().await;
    let stage = Stage::load(StageName::Dev, &key, &ca).await;
    let h = Harness::start().await;
    let lambda = spawn_as(
        &h,
        &stage,
        "private-certificate-lambda",
        "PrivateCertificateRole",
        "PrivateCertificateFunction",
    )
    .await;
    const TYPE: &str = "Custom::PrivateCertificate";
    let props = stage.properties("AdminCertificate");
    assert_eq!(props["CommonName"], "admin");
    let prefix = props["ParameterPrefix"].as_str().unwrap().to_string();
    let leaves: Vec<String> =
        ["private-key", "certificate", "chain"].iter().map(|l| format!("{prefix}/{l}")).collect();
    forget(&leaves).await;

    // A forged invoke: not from the secrets stack, or for a resource CloudFormation is not provisioning.
    h.invoke(h.event("Create", TYPE, "AdminCertificate", None, props.clone(), None), DEADLINE)
        .await
        .expect_failed(
            "CommonName admin is reserved for the platform's own principals; only stack kafka-dev-secrets",
        );
    let stack_name = names::stack_name(&stage.model, "secrets");
    let stack = in_progress_stack(&config, &stack_name, "AdminCertificate", TYPE).await;
    h.invoke(from_stack(h.event("Create", TYPE, "Forged", None, props.clone(), None), &stack), DEADLINE)
        .await
        .expect_failed("CloudFormation knows no resource Forged");
    for leaf in &leaves {
        assert!(read(leaf).await.is_none(), "nothing written for a refused request: {leaf}");
    }

    // Create, renewal (a new certificate, so a replacement), the old one's delete, the delete.
    let event = |kind: &str, physical: Option<&str>, p: &Value, old: Option<&Value>| {
        from_stack(h.event(kind, TYPE, "AdminCertificate", physical, p.clone(), old.cloned()), &stack)
    };
    let created = h.invoke(event("Create", None, &props, None), DEADLINE).await.expect_success();
    let first = created.physical_id().to_string();
    let (key_pem, _) = read(&leaves[0]).await.expect("the key is stored");
    let mut renewed = props.clone();
    renewed["RenewalToken"] = json!("renewal-2");
    let second =
        h.invoke(event("Update", Some(&first), &renewed, Some(&props)), DEADLINE).await.expect_success();
    assert_ne!(second.physical_id(), first, "renewal is a replacement");
    h.invoke(event("Delete", Some(&first), &props, None), DEADLINE).await.expect_success();
    assert!(
        read(&leaves[1]).await.unwrap().1.contains(second.physical_id()),
        "the renewal's parameters stay"
    );
    h.invoke(event("Delete", Some(second.physical_id()), &renewed, None), DEADLINE).await.expect_success();
    for leaf in &leaves {
        assert!(read(leaf).await.is_none(), "{leaf} deleted");
    }
    delete_stack(&config, &stack).await;

    // A principal that is not reserved may come from any stack.
    let mut account = props.clone();
    account["CommonName"] = json!(unique("orders-app"));
    account["ParameterPrefix"] = json!(names::account_tls_prefix(&stage.model, &unique("orders-app")));
    let issued = h
        .invoke(h.event("Create", TYPE, "Account", None, account.clone(), None), DEADLINE)
        .await
        .expect_success();
    h.invoke(h.event("Delete", TYPE, "Account", Some(issued.physical_id()), account, None), DEADLINE)
        .await
        .expect_success();

    let mut texts = h.all_answers();
    texts.extend(lambda.logs());
    assert_secret_absent(key_pem.lines().nth(1).unwrap(), &texts);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_works_under_its_rendered_role() {
    let _turn = ADMIN_TLS.lock().await;
    let key = stage_key().await;
    let stage = Stage::load(
        StageName::Dev,
        &key,
        "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/unused",
    )
    .await;
    let config = platform_tests::moto::iam_admin_config().await;
    let s3 = platform_tests::moto::s3(&config);
    let ssm = ssm().await;
    let props = stage.properties("Reconciliation");
    let bucket = props["DesiredStateBucket"].as_str().unwrap().to_string();
    let _ = s3
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await; // it may exist from an earlier run

    // The admin's mTLS material where the certificate Lambda puts it, and one SCRAM account.
    let admin_prefix = props["AdminTlsParameterPrefix"].as_str().unwrap().to_string();
    let cert_dir = kafka_common::client_cert_dir("admin");
    let file = |f: &str| std::fs::read_to_string(cert_dir.join(f)).unwrap();
    for (leaf, value) in [
        ("private-key", file("key.pem")),
        ("certificate", file("cert.pem")),
        ("chain", std::fs::read_to_string(kafka_common::ca_file()).unwrap()),
    ] {
        ssm.put_parameter()
            .name(format!("{admin_prefix}/{leaf}"))
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
    let p = kafka_common::unique("iam");
    let account = format!("{p}-app");
    let password_parameter = names::account_password(&stage.model, &account);
    let password = format!("pw-{p}-0123456789abcdef");
    ssm.put_parameter()
        .name(&password_parameter)
        .value(&password)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let desired = DesiredState {
        format_version: 1,
        stage: stage.model.stage.as_str().into(),
        managed_topic_prefixes: vec![format!("{p}.")],
        allow_delete: true,
        projects: Vec::new(),
        topics: vec![DesiredTopic {
            name: format!("{p}.events.v1"),
            project: p.clone(),
            partitions: 1,
            replication_factor: 3,
            configs: BTreeMap::new(),
        }],
        service_accounts: vec![DesiredAccount {
            name: account.clone(),
            project: p.clone(),
            principal: format!("User:{account}"),
            authentication: Authentication::Scram,
            password_parameter: Some(password_parameter.clone()),
            scram_users: Vec::new(),
            rotation_token: None,
        }],
        acls: vec![DesiredAcl {
            principal: format!("User:{account}"),
            resource_type: AclResourceType::Topic,
            pattern_type: AclPatternType::Prefixed,
            resource_name: format!("{p}."),
            operation: AclOperation::Write,
            host: "*".into(),
        }],
        subjects: Vec::new(),
        rotation_overlap_hours: 24,
    };
    let text = desired.to_json();
    let sha = sha256_hex(&text);
    let rendered_key = props["DesiredStateKey"].as_str().unwrap();
    let key_in_stage = format!("{}/{sha}.json", rendered_key.rsplit_once('/').unwrap().0);
    let outside = format!("elsewhere/{sha}.json");
    for k in [&key_in_stage, &outside] {
        s3.put_object().bucket(&bucket).key(k).body(text.clone().into_bytes().into()).send().await.unwrap();
    }

    let h = Harness::start().await;
    let lambda = spawn_as(&h, &stage, "reconciler-lambda", "ReconcilerRole", "ReconcilerFunction").await;
    const TYPE: &str = "Custom::KafkaReconciler";
    let with = |key: &str, allow_delete: bool| {
        let mut p = props.clone();
        p["BootstrapServers"] = json!(kafka_common::env("KAFKA_TEST_BOOTSTRAP_MTLS"));
        // The rendered registry name does not resolve here, and reaching it needs no AWS permission
        // (reconcile_lambda proves the subjects path against the real registry).
        p.as_object_mut().unwrap().remove("SchemaRegistryUrl");
        p["DesiredStateKey"] = json!(key);
        p["DesiredStateSha256"] = json!(sha);
        p["AllowDelete"] = json!(allow_delete.to_string());
        p
    };
    // S3 is the one service whose resources moto checks: an object outside the stage's prefix is denied.
    h.invoke(h.event("Create", TYPE, "Reconciliation", None, with(&outside, false), None), DEADLINE)
        .await
        .expect_failed("s3:GetObject");
    let created = h
        .invoke(h.event("Create", TYPE, "Reconciliation", None, with(&key_in_stage, false), None), DEADLINE)
        .await
        .expect_success();
    assert_eq!(created.data("TopicsCreated"), "1");
    assert_eq!(created.data("ScramCredentialsWritten"), "1");
    let login = kafka_common::eventually(Duration::from_secs(20), async || {
        AdminClient::connect(kafka_common::sasl_config(&account, &password)).await.is_ok()
    })
    .await;
    assert!(login, "the account cannot log in with the password the reconciler read");
    let id = created.physical_id().to_string();
    h.invoke(
        h.event(
            "Update",
            TYPE,
            "Reconciliation",
            Some(&id),
            with(&key_in_stage, true),
            Some(with(&key_in_stage, false)),
        ),
        DEADLINE,
    )
    .await
    .expect_success();
    h.invoke(h.event("Delete", TYPE, "Reconciliation", Some(&id), with(&key_in_stage, true), None), DEADLINE)
        .await
        .expect_success();

    let mut texts = h.all_answers();
    texts.extend(lambda.logs());
    assert_secret_absent(&password, &texts);
}
