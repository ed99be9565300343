//! Certificate renewal on a timer (docs/operators-guide.md, "Certificate renewal"): the list of a
//! stage's certificates that the renewal driver works through, and the daily EventBridge rule
//! that hands it to the reconciler Lambda together with its connection settings.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::project::Authentication;
use crate::model::StageModel;
use crate::render::cfn::{Template, sub};
use crate::render::names;

/// The event key of a renewal run of the reconciler Lambda.
pub const EVENT_KEY: &str = "CertificateRenewal";

/// One certificate the driver renews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// `b0`, `c1000`, `admin`, `schema-registry`, `account orders-app`.
    pub name: String,
    /// SSM prefix of `/private-key`, `/certificate`, `/chain` (and `/superseded`).
    pub parameter_prefix: String,
    /// The node that serves it (pushed and checked before the old one is revoked); `None` for
    /// client certificates and the Schema Registry's, which readers take at their next start.
    #[serde(default)]
    pub node_id: Option<u32>,
    /// Whether the node is a broker; a dedicated controller is pushed through its controller listener.
    #[serde(default)]
    pub broker: bool,
}

/// Every certificate the stage's secrets stack issues, nodes first.
pub fn targets(model: &StageModel) -> Vec<Target> {
    let node = |n: &crate::model::Node, broker: bool| Target {
        name: n.name.clone(),
        parameter_prefix: names::node_tls_prefix(model, n),
        node_id: Some(n.node_id),
        broker,
    };
    let client = |name: String, prefix: String| Target {
        name,
        parameter_prefix: prefix,
        node_id: None,
        broker: false,
    };
    let mut out: Vec<Target> = model.cluster.brokers.iter().map(|n| node(n, true)).collect();
    // A combined node is listed once, as a broker.
    let brokers: Vec<String> = out.iter().map(|t| t.name.clone()).collect();
    out.extend(
        model.cluster.controllers.iter().filter(|c| !brokers.contains(&c.name)).map(|n| node(n, false)),
    );
    out.push(client("admin".into(), names::tls_prefix(model, "admin")));
    if model.schema_registry.is_some() {
        out.push(client("schema-registry".into(), names::tls_prefix(model, "schema-registry")));
    }
    for account in model.service_accounts.iter().filter(|a| a.authentication == Authentication::Mtls) {
        out.push(client(
            format!("account {}", account.name.value),
            names::account_tls_prefix(model, &account.name.value),
        ));
    }
    out
}

/// The certificate Lambda's ARN.
pub fn certificate_function_arn(model: &StageModel) -> Value {
    sub(format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
        names::function_name(model, "private-certificate")
    ))
}

/// The SSM subtree the certificate Lambda may renew in (`RENEWABLE_PARAMETER_PREFIX`).
pub fn renewable_prefix(model: &StageModel) -> String {
    format!("{}/", names::tls_prefix(model, "").trim_end_matches('/'))
}

/// A daily rule that invokes the reconciler with `connection` and the renewal section, and the
/// permission to do so. The function name is resolved by the Lambda at run time.
pub fn schedule(t: &mut Template, model: &StageModel, connection: &Value) {
    let mut input = connection.clone();
    input[EVENT_KEY] = json!({
        "FunctionName": names::function_name(model, "private-certificate"),
        "RenewBeforeDays": model.certificates.renew_before_days,
        "Certificates": targets(model),
    });
    let description = format!("Kafka {}: daily certificate renewal (due certificates only)", model.stage);
    crate::render::monitoring::reconciler_schedule(
        t,
        "CertificateRenewal",
        &description,
        "rate(1 day)",
        &input,
    );
}
