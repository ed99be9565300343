//! The daily certificate renewal (render::renewal::schedule): an EventBridge rule invokes the
//! reconciler with the custom resource's connection properties and
//! `"CertificateRenewal": {"FunctionName", "RenewBeforeDays", "Certificates": [...]}`. The run is
//! kafka_reconcile::renewal's driver: the certificate Lambda (invoked by name; this role may invoke
//! that function only) renews and revokes, this function pushes node certificates as the admin
//! and checks them with fresh handshakes. The result lists what was done, never a secret.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use cfn_custom_resource::{Error, Properties, Result};
use kafka_admin::AdminClient;
use kafka_platform_core::render::renewal::{EVENT_KEY, Target};
use kafka_reconcile::renewal::{Authority, Cluster, Options, SsmStore, run};
use serde_json::{Value, json};

use crate::{KafkaReconciler, Spec, off_thread, unix_now};

/// A parsed renewal event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalRun {
    pub spec: Spec,
    pub function: String,
    pub renew_before_days: u32,
    pub targets: Vec<Target>,
}

impl RenewalRun {
    /// `Ok(None)` for an event that is no renewal run; errors name the bad field.
    pub fn from_event(event: &Value) -> Result<Option<RenewalRun>> {
        let Some(object) = event.as_object() else { return Ok(None) };
        let Some(section) = object.get(EVENT_KEY) else { return Ok(None) };
        let field = |f: &str| format!("{EVENT_KEY}.{f}");
        let function = section["FunctionName"]
            .as_str()
            .filter(|f| !f.is_empty())
            .ok_or_else(|| Error::property(&field("FunctionName"), "is required"))?
            .to_string();
        let renew_before_days = section["RenewBeforeDays"]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d >= 2)
            .ok_or_else(|| {
                Error::property(&field("RenewBeforeDays"), "must be a whole number of days, at least 2")
            })?;
        let targets: Vec<Target> = serde_json::from_value(section["Certificates"].clone())
            .map_err(|e| Error::property(&field("Certificates"), e.to_string()))?;
        let mut properties = object.clone();
        properties.remove(EVENT_KEY);
        let spec = Spec::from_properties(&Properties::from_value(Value::Object(properties))?)?;
        Ok(Some(RenewalRun { spec, function, renew_before_days, targets }))
    }
}

/// The certificate Lambda, invoked synchronously.
struct Invoked {
    lambda: aws_sdk_lambda::Client,
    function: String,
}

impl Invoked {
    async fn call(&self, request: Value) -> std::result::Result<Value, String> {
        let out = self
            .lambda
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(request.to_string()))
            .send()
            .await
            .map_err(|e| {
                format!("lambda:Invoke {}: {}", self.function, aws_sdk_lambda::error::DisplayErrorContext(&e))
            })?;
        let body: Value = out
            .payload
            .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        if out.function_error.is_some() {
            let message = body["errorMessage"].as_str().unwrap_or("no message");
            return Err(format!("{} refused: {message}", self.function));
        }
        Ok(body)
    }
}

impl Authority for Invoked {
    async fn renew(&self, prefix: &str) -> std::result::Result<String, String> {
        let body = self.call(json!({"RenewCertificate": {"ParameterPrefix": prefix}})).await?;
        Ok(body["Serial"].as_str().unwrap_or_default().to_string())
    }

    async fn revoke_superseded(&self, prefix: &str) -> std::result::Result<String, String> {
        let body = self.call(json!({"RevokeSuperseded": {"ParameterPrefix": prefix}})).await?;
        Ok(body["RevokedSerial"].as_str().unwrap_or_default().to_string())
    }
}

impl KafkaReconciler {
    /// The scheduled entry: renews what is due; fails the invocation when a certificate failed
    /// (the Lambda's error metric sees it), after doing all it could.
    pub async fn renewal_event(
        &self,
        run_event: RenewalRun,
        lambda: aws_sdk_lambda::Client,
    ) -> Result<Value> {
        let tls = self.admin_tls(&run_event.spec).await?;
        let config = kafka_admin::AdminConfig::new(run_event.spec.bootstrap.clone(), tls.clone());
        let ssm = self.ssm.clone();
        let stage = run_event.spec.stage.clone();
        let outcomes = off_thread(move || async move {
            let client = AdminClient::connect(config)
                .await
                .map_err(|e| Error::Refused(format!("cannot connect to Kafka: {e}")))?;
            let options = Options {
                renew_before_days: run_event.renew_before_days,
                force: false,
                dry_run: false,
                only: Vec::new(),
                now: i64::try_from(unix_now()).unwrap_or(i64::MAX),
                gate_wait: Duration::from_secs(60),
            };
            let authority = Invoked { lambda, function: run_event.function.clone() };
            let cluster = Cluster { client: &client, tls: &tls };
            // Boxed: the renewal run is laid out on its own (see crate::Phase).
            let result =
                Box::pin(run(&run_event.targets, &SsmStore(ssm), &authority, Some(&cluster), &options)).await;
            client.close().await;
            result.map_err(Error::Refused)
        })
        .await?;
        for o in &outcomes {
            tracing::info!(certificate = %o.name, step = ?o.step, done = ?o.done, error = ?o.error, "renewal");
        }
        let failed: Vec<String> =
            outcomes.iter().filter_map(|o| o.error.as_ref().map(|e| format!("{}: {e}", o.name))).collect();
        if !failed.is_empty() {
            return Err(Error::Refused(format!(
                "stage {stage}: {} certificate(s) not renewed (old ones stay valid): {}{}",
                failed.len(),
                failed.iter().take(crate::MAX_LISTED).cloned().collect::<Vec<_>>().join("; "),
                crate::more(failed.len())
            )));
        }
        Ok(json!({ "Stage": stage, "Certificates": outcomes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Value {
        json!({
            "Stage": "dev", "BootstrapServers": "b-1:9095", "AdminTlsParameterPrefix": "/k/dev/tls/admin",
            "AdminPasswordParameter": "/k/dev/secrets/admin/password", "DesiredStateBucket": "b",
            "DesiredStateKey": "k", "DesiredStateSha256": "a".repeat(64),
            "CertificateRenewal": {"FunctionName": "kafka-dev-private-certificate", "RenewBeforeDays": 30,
                "Certificates": [{"Name": "b0", "ParameterPrefix": "/k/dev/tls/nodes/b0", "NodeId": 1, "Broker": true},
                                 {"Name": "admin", "ParameterPrefix": "/k/dev/tls/admin"}]}
        })
    }

    #[test]
    fn renewal_events_are_read_and_bad_fields_named() {
        let run = RenewalRun::from_event(&event()).unwrap().unwrap();
        assert_eq!(run.function, "kafka-dev-private-certificate");
        assert_eq!(run.targets.len(), 2);
        assert_eq!((run.targets[0].node_id, run.targets[1].node_id), (Some(1), None));
        assert_eq!(run.spec.stage, "dev");
        assert!(RenewalRun::from_event(&json!({"DriftCheck": {}})).unwrap().is_none());
        let mut bad = event();
        bad["CertificateRenewal"]["RenewBeforeDays"] = json!(1);
        let e = RenewalRun::from_event(&bad).unwrap_err().to_string();
        assert!(e.contains("CertificateRenewal.RenewBeforeDays"), "{e}");
        let mut bad = event();
        bad["CertificateRenewal"]["Certificates"] = json!([{"Name": "x"}]);
        let e = RenewalRun::from_event(&bad).unwrap_err().to_string();
        assert!(e.contains("CertificateRenewal.Certificates"), "{e}");
    }
}
