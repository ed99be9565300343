//! Generated passwords and issued certificates, as custom resources of the two Lambdas.
//! Parameter names are fixed in advance (see [`names`]), so no stack needs these resources' outputs.

use serde_json::{Value, json};

use crate::config::project::Authentication;
use crate::desired::alternate_user;
use crate::model::{Node, StageModel};
use crate::render::cfn::{Resource, Template, logical_id, r, sub};
use crate::render::names;

/// SSM-typed parameters through which a stack reads what the foundation stack published.
pub fn import(t: &mut Template, model: &StageModel, name: &str, key: &str) {
    t.parameter(
        name,
        "AWS::SSM::Parameter::Value<String>",
        &format!("Published by the foundation stack at {}", names::export_parameter(model, key)),
        Some(&names::export_parameter(model, key)),
    );
}

/// Renders the secrets stack.
pub fn render(model: &StageModel) -> Template {
    let mut t = Template::new(format!(
        "Kafka platform {}: generated passwords and issued certificates (SSM)",
        model.stage
    ));
    import(&mut t, model, "KmsKeyArn", "kms-key-arn");
    import(&mut t, model, "SecurePasswordFunctionArn", "secure-password-function-arn");
    import(&mut t, model, "PrivateCertificateFunctionArn", "private-certificate-function-arn");
    import(&mut t, model, "CertificateAuthorityArn", "ca-arn");

    t.add(
        "AdminPassword",
        password(model, &names::admin_password(model), &model.passwords.rotation_token, None),
    );
    t.add("AdminCertificate", certificate(model, "admin", &names::tls_prefix(model, "admin"), &[], "client"));
    for node in model.cluster.brokers.iter().chain(&model.cluster.controllers) {
        t.add(
            logical_id(&["node", &node.name, "certificate"]),
            certificate(
                model,
                &node.dns_name,
                &names::node_tls_prefix(model, node),
                &node_dns_names(model, node),
                "server-and-client",
            ),
        );
    }
    if let Some(_sr) = &model.schema_registry {
        let dns = schema_registry_dns_name(model);
        t.add(
            "SchemaRegistryCertificate",
            certificate(
                model,
                "schema-registry",
                &names::tls_prefix(model, "schema-registry"),
                &[dns],
                "server-and-client",
            ),
        );
        // The registry's HTTP users (render::registry_proxy); ':' ends a password in nginx's user
        // file, so it is never drawn.
        let mut exclude = model.passwords.exclude_characters.clone();
        if !exclude.contains(':') {
            exclude.push(':');
        }
        for (id, user) in
            [("Writer", names::SCHEMA_REGISTRY_WRITER), ("Reader", names::SCHEMA_REGISTRY_READER)]
        {
            let parameter = names::schema_registry_password(model, user);
            let mut resource = password(model, &parameter, &model.passwords.rotation_token, None);
            resource.properties["ExcludeCharacters"] = json!(exclude);
            t.add(format!("SchemaRegistry{id}Password"), resource);
        }
        // What a team's application role attaches to read the registry (the reader's password).
        t.add(
            "SchemaRegistryReaderReadPolicy",
            read_policy(
                &schema_registry_reader_policy_name(model),
                &format!(
                    "Read the password of the Schema Registry's read-only user ({} {})",
                    model.resource_prefix, model.stage
                ),
                &names::schema_registry_password(model, names::SCHEMA_REGISTRY_READER),
            ),
        );
        t.output(
            "SchemaRegistryReaderPasswordParameter",
            "SSM SecureString with the Schema Registry reader's password (user `reader`)",
            json!(names::schema_registry_password(model, names::SCHEMA_REGISTRY_READER)),
        );
    }
    for account in &model.service_accounts {
        let id = logical_id(&["account", &account.name]);
        match account.authentication {
            Authentication::Scram => {
                let name = &account.name.value;
                let parameter = names::account_password(model, name);
                let users = [name.clone(), alternate_user(name)];
                let token = model.passwords.account_token(name);
                t.add(format!("{id}Password"), password(model, &parameter, &token, Some(&users)));
                // A fixed name instead of an output per account (a template has at most 200).
                let description = format!(
                    "Read the Kafka credential of service account {name} ({} {})",
                    model.resource_prefix, model.stage
                );
                t.add(
                    format!("{id}ReadPolicy"),
                    read_policy(&read_policy_name(model, name), &description, &parameter),
                );
            }
            Authentication::Mtls => t.add(
                format!("{id}Certificate"),
                certificate(
                    model,
                    &account.name,
                    &names::account_tls_prefix(model, &account.name),
                    &[],
                    "client",
                ),
            ),
        }
    }
    t.output(
        "AdminPasswordParameter",
        "SSM SecureString with the admin's SCRAM password",
        json!(names::admin_password(model)),
    );
    t
}

/// The DNS names a node's certificate carries: its own name, the bootstrap name, and the public names.
pub fn node_dns_names(model: &StageModel, node: &Node) -> Vec<String> {
    let mut names = vec![node.dns_name.clone(), model.bootstrap_dns_name()];
    if let Some(public) = model.public_endpoint.as_ref().and_then(|p| p.dns_name.as_ref())
        && node.name.starts_with('b')
    {
        names.push(format!("{}.{public}", node.name));
        names.push(public.clone());
    }
    names
}

/// Internal DNS name of the Schema Registry.
pub fn schema_registry_dns_name(model: &StageModel) -> String {
    format!("schema-registry.{}", model.dns_zone)
}

fn common_tags(model: &StageModel) -> Value {
    crate::render::cfn::tags(&model.tags)
}

/// A Custom::SecurePassword; a SCRAM account's names its two Kafka users, so that its value is a
/// rotating credential (`kafka_platform_core::credential`).
fn password(
    model: &StageModel,
    parameter: &str,
    rotation_token: &str,
    users: Option<&[String; 2]>,
) -> Resource {
    let mut properties = json!({
        "ServiceToken": r("SecurePasswordFunctionArn"),
        "ParameterName": parameter,
        "Length": model.passwords.length,
        "ExcludeCharacters": model.passwords.exclude_characters,
        "KmsKeyId": r("KmsKeyArn"),
        "RotationToken": rotation_token,
        "RetainOnDelete": model.production_like(),
        "Tags": common_tags(model),
    });
    if let Some(users) = users {
        properties["Usernames"] = json!(users);
    }
    let mut resource = Resource::new("Custom::SecurePassword", properties);
    if model.production_like() {
        resource = resource.retain();
    }
    resource
}

/// The name of an account's read policy: `arn:aws:iam::<account id>:policy/<name>` is what an
/// application's role attaches.
pub fn read_policy_name(model: &StageModel, account: &str) -> String {
    format!("{}-{}-{account}-read-credential", model.resource_prefix, model.stage)
}

/// The name of the policy that reads the Schema Registry reader's password.
pub fn schema_registry_reader_policy_name(model: &StageModel) -> String {
    format!("{}-{}-schema-registry-read-credential", model.resource_prefix, model.stage)
}

/// The managed policy an application's role attaches to read one credential: GetParameter
/// on exactly its parameter, and Decrypt with the stage key only through SSM and only for that
/// parameter (SSM names the parameter in the encryption context).
fn read_policy(name: &str, description: &str, parameter: &str) -> Resource {
    let arn =
        sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"));
    Resource::new(
        "AWS::IAM::ManagedPolicy",
        json!({
            "ManagedPolicyName": name,
            "Description": description,
            "PolicyDocument": { "Version": "2012-10-17", "Statement": [
                { "Sid": "ReadOwnCredential", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arn.clone() },
                { "Sid": "DecryptOwnCredential", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": r("KmsKeyArn"),
                  "Condition": { "StringEquals": {
                      "kms:ViaService": sub("ssm.${AWS::Region}.amazonaws.com"),
                      "kms:EncryptionContext:PARAMETER_ARN": arn,
                  } } },
            ]},
        }),
    )
}

/// A Custom::PrivateCertificate.
fn certificate(
    model: &StageModel,
    common_name: &str,
    prefix: &str,
    dns_names: &[String],
    usage: &str,
) -> Resource {
    Resource::new(
        "Custom::PrivateCertificate",
        json!({
            "ServiceToken": r("PrivateCertificateFunctionArn"),
            "CertificateAuthorityArn": r("CertificateAuthorityArn"),
            "CommonName": common_name,
            "DnsNames": dns_names,
            "KeyAlgorithm": model.certificates.key_algorithm.as_str(),
            "ValidityDays": model.certificates.validity_days,
            "Usage": usage,
            "ParameterPrefix": prefix,
            "KmsKeyId": r("KmsKeyArn"),
            "RenewalToken": model.certificates.renewal_token,
        }),
    )
}
