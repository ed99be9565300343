//! Reserved principals: the common names that are super users or node identities in the cluster
//! (the admin, the nodes, the Schema Registry). Only the platform's own secrets stack may have a
//! certificate issued for them, so that a forged invoke of this function cannot mint `CN=admin`.
//!
//! A request for a reserved name must (1) carry the StackId of the stack named by
//! `PLATFORM_SECRETS_STACK`, and (2) CloudFormation must confirm that this very resource of that
//! stack is being created or updated now (DescribeStackResource on the unique stack id). The role
//! may call DescribeStackResource on that stack only.

use std::collections::BTreeSet;

use cfn_custom_resource::stacks::Stacks;
use cfn_custom_resource::{Error, Request, Result};

/// Environment variable with the name of the stage's secrets stack.
pub const SECRETS_STACK_ENV: &str = "PLATFORM_SECRETS_STACK";
/// Environment variable with the reserved common names, comma-separated.
pub const RESERVED_NAMES_ENV: &str = "RESERVED_COMMON_NAMES";
/// Reserved whatever the environment says: the platform's super user.
pub const ALWAYS_RESERVED: &[&str] = &["admin"];

/// Who may have a certificate for a reserved name issued.
#[derive(Clone, Debug)]
pub struct Guard {
    reserved: BTreeSet<String>,
    secrets_stack: Option<String>,
    stacks: Stacks,
}

fn normalise(name: &str) -> String {
    // Kafka principal mapping rules may lower-case; compare the way the strictest rule would.
    name.trim().to_ascii_lowercase()
}

impl Guard {
    /// A guard for `reserved` names (plus [`ALWAYS_RESERVED`]) that only `secrets_stack` may request.
    pub fn new(reserved: &str, secrets_stack: Option<String>, stacks: Stacks) -> Self {
        let reserved = ALWAYS_RESERVED
            .iter()
            .copied()
            .chain(reserved.split(','))
            .map(normalise)
            .filter(|n| !n.is_empty())
            .collect();
        Guard { reserved, secrets_stack: secrets_stack.filter(|s| !s.trim().is_empty()), stacks }
    }

    /// The guard the function's environment configures.
    pub fn from_env(stacks: Stacks) -> Self {
        Guard::new(
            &std::env::var(RESERVED_NAMES_ENV).unwrap_or_default(),
            std::env::var(SECRETS_STACK_ENV).ok(),
            stacks,
        )
    }

    /// Whether `common_name` is reserved.
    pub fn is_reserved(&self, common_name: &str) -> bool {
        self.reserved.contains(&normalise(common_name))
    }

    /// Refuses a request for a reserved name unless it comes from the secrets stack, which
    /// CloudFormation confirms is provisioning this resource right now.
    pub async fn check(&self, request: &Request, common_name: &str) -> Result<()> {
        if !self.is_reserved(common_name) {
            return Ok(());
        }
        let refuse = |why: String| {
            Err(Error::Refused(format!(
                "CommonName {common_name} is reserved for the platform's own principals; {why}"
            )))
        };
        let Some(expected) = &self.secrets_stack else {
            return refuse(format!("this function has no {SECRETS_STACK_ENV}, so it issues none of them"));
        };
        if request.stack_name() != Some(expected.as_str()) {
            return refuse(format!(
                "only stack {expected} may request it, not {}",
                request.stack_name().unwrap_or(&request.stack_id)
            ));
        }
        match self.stacks.resource(&request.stack_id, &request.logical_resource_id).await? {
            Some(r)
                if r.stack_id == request.stack_id
                    && r.resource_type == request.resource_type
                    && r.is_being_provisioned() =>
            {
                Ok(())
            }
            Some(r) => refuse(format!(
                "CloudFormation reports {} of stack {} as {} {}, not as a {} being created or updated",
                request.logical_resource_id,
                request.stack_id,
                r.resource_type,
                r.status,
                request.resource_type
            )),
            None => refuse(format!(
                "CloudFormation knows no resource {} in stack {}",
                request.logical_resource_id, request.stack_id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A guard whose CloudFormation client is never reached by these cases.
    fn guard(reserved: &str, stack: Option<&str>) -> Guard {
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudformation::config::Region::new("eu-west-1"))
            .build();
        Guard::new(
            reserved,
            stack.map(String::from),
            Stacks::new(aws_sdk_cloudformation::Client::from_conf(config)),
        )
    }

    fn request(stack_name: &str) -> Request {
        Request::parse(json!({
            "RequestType": "Create", "ResponseURL": "http://x", "RequestId": "r",
            "StackId": format!("arn:aws:cloudformation:eu-west-1:123456789012:stack/{stack_name}/guid"),
            "LogicalResourceId": "AdminCertificate", "ResourceType": "Custom::PrivateCertificate",
            "ResourceProperties": {}
        }))
        .unwrap()
    }

    #[test]
    fn admin_is_always_reserved_and_names_compare_case_insensitively() {
        let g = guard(" b0.kafka-dev.internal ,schema-registry", None);
        for name in ["admin", "ADMIN", "B0.kafka-dev.internal", "schema-registry"] {
            assert!(g.is_reserved(name), "{name}");
        }
        assert!(!g.is_reserved("orders-app") && !g.is_reserved(""));
    }

    #[tokio::test]
    async fn reserved_names_are_refused_without_the_secrets_stack_before_any_call() {
        let unconfigured = guard("", None).check(&request("kafka-dev-secrets"), "admin").await.unwrap_err();
        assert!(unconfigured.to_string().contains("has no PLATFORM_SECRETS_STACK"), "{unconfigured}");
        let g = guard("", Some("kafka-dev-secrets"));
        let forged = g.check(&request("attacker"), "Admin").await.unwrap_err().to_string();
        assert!(forged.contains("only stack kafka-dev-secrets may request it, not attacker"), "{forged}");
        g.check(&request("attacker"), "orders-app").await.expect("not reserved");
    }
}
