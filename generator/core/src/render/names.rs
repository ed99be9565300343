//! Names shared by templates, the Lambdas, deploy and the reconciler: stacks, parameters, paths.

use crate::model::{Node, StageModel};

/// Data directory inside a node's container (a bind mount of the node's EBS volume); the Kafka
/// settings and the metrics sidecar both name it.
pub const DATA_DIR: &str = "/var/lib/kafka/data";

/// CloudFormation stack name of a part, e.g. `kafka-dev-cluster`.
pub fn stack_name(model: &StageModel, part: &str) -> String {
    format!("{}-{}", model.name(), part)
}

/// The artifact bucket (globally unique through account and region).
pub fn artifact_bucket(model: &StageModel) -> String {
    format!("{}-artifacts-{}-{}", model.name(), model.account_id, model.region)
}

/// SSM path where a stack publishes a value for the stacks after it.
pub fn export_parameter(model: &StageModel, key: &str) -> String {
    format!("{}/cfn/{key}", model.parameter_root())
}

/// SSM path of the admin's SCRAM password.
pub fn admin_password(model: &StageModel) -> String {
    format!("{}/secrets/admin/password", model.parameter_root())
}

/// The Schema Registry's HTTP users (basic auth at its proxy, render::registry_proxy): the
/// platform's reconciler, the only one that writes, and the teams' shared read-only user.
pub const SCHEMA_REGISTRY_WRITER: &str = "reconciler";
/// See [`SCHEMA_REGISTRY_WRITER`].
pub const SCHEMA_REGISTRY_READER: &str = "reader";

/// SSM path of a Schema Registry user's password (below `secrets/`, where the password Lambda writes).
pub fn schema_registry_password(model: &StageModel, user: &str) -> String {
    format!("{}/secrets/schema-registry/{user}/password", model.parameter_root())
}

/// SSM path of a SCRAM service account's password.
pub fn account_password(model: &StageModel, account: &str) -> String {
    format!("{}/service-accounts/{account}/password", model.parameter_root())
}

/// SSM prefix of a certificate (`/private-key`, `/certificate`, `/chain` below it).
pub fn tls_prefix(model: &StageModel, owner: &str) -> String {
    format!("{}/tls/{owner}", model.parameter_root())
}

/// SSM path of the stage's trust bundle during a CA rollover (PEM: every CA the phase trusts),
/// written by the foundation stack; what nodes and clients trust instead of their `chain`.
pub fn trust_bundle(model: &StageModel) -> String {
    format!("{}/ca/trust-bundle", model.parameter_root())
}

/// SSM prefix of a node's certificate.
pub fn node_tls_prefix(model: &StageModel, node: &Node) -> String {
    tls_prefix(model, &format!("nodes/{}", node.name))
}

/// SSM prefix of a service account's client certificate.
pub fn account_tls_prefix(model: &StageModel, account: &str) -> String {
    tls_prefix(model, &format!("service-accounts/{account}"))
}

/// Name of a Lambda function of the stage.
pub fn function_name(model: &StageModel, function: &str) -> String {
    format!("{}-{function}", model.name())
}

/// CloudFormation parameter that carries the S3 key of a Lambda package.
pub fn code_key_parameter(function: &str) -> String {
    format!("{}CodeKey", crate::render::cfn::logical_id(&[function]))
}

/// SSM tree of the stage's debug grants (`<root>/debug/<id>/{grant,credential}`; the reconciler's
/// `grants::store::tree` names the same).
pub fn debug_tree(model: &StageModel) -> String {
    format!("{}/debug", model.parameter_root())
}

/// Task definition family of the stage's debug task (render::debug_task).
pub fn debug_task_family(model: &StageModel) -> String {
    format!("{}-debug", model.name())
}

/// The debug task's container.
pub const DEBUG_CONTAINER: &str = "kafka-debug";

/// Export key (`<root>/cfn/<key>`) of the debug task's security group id.
pub const DEBUG_SECURITY_GROUP_EXPORT: &str = "debug-security-group-id";

/// Log group of the debug task.
pub fn debug_log_group(model: &StageModel) -> String {
    format!("/{}/{}/debug", model.resource_prefix, model.stage)
}
