//! Where SCRAM passwords of service accounts come from: the SSM parameters the password Lambda
//! wrote, or (outside AWS) a file of `account: password` pairs.

use std::collections::BTreeMap;
use std::path::Path;

use kafka_admin::Secret;
use kafka_platform_core::config::project::Authentication;
use kafka_platform_core::credential::StoredCredential;
use kafka_platform_core::desired::DesiredState;

use crate::error::{Error, Result};
use crate::plan::ObservedCredential;

/// A source of SCRAM passwords.
pub enum PasswordSource {
    /// Passwords by account name (from a file or a test).
    Map(BTreeMap<String, Secret>),
    /// SecureString parameters in SSM, named by each account's `password_parameter`.
    Ssm(aws_sdk_ssm::Client),
    /// No source; a SCRAM upsert fails with this explanation.
    Unavailable(String),
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::Map(m) => write!(f, "Map({} accounts)", m.len()),
            PasswordSource::Ssm(_) => f.write_str("Ssm"),
            PasswordSource::Unavailable(why) => write!(f, "Unavailable({why})"),
        }
    }
}

impl PasswordSource {
    /// Reads a YAML or JSON mapping of account name -> password.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Passwords(format!("cannot read {}: {e}", path.display())))?;
        // The parser's message could quote a line of the file, i.e. a password: keep only where.
        let map: BTreeMap<String, String> = serde_saphyr::from_str(&text).map_err(|_| {
            Error::Passwords(format!(
                "{} is not a mapping of account name to password (YAML or JSON, e.g. `orders-app: s3cret`)",
                path.display()
            ))
        })?;
        Ok(PasswordSource::Map(map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect()))
    }

    /// The password of `account`, whose declared SSM parameter is `parameter`.
    pub async fn password(
        &self,
        account: &str,
        parameter: Option<&str>,
    ) -> std::result::Result<Secret, String> {
        match self {
            PasswordSource::Map(map) => map
                .get(account)
                .cloned()
                .ok_or_else(|| format!("no password for account {account} in the passwords file")),
            PasswordSource::Ssm(client) => {
                let Some(name) = parameter else {
                    return Err(format!("account {account} declares no password parameter"));
                };
                crate::renewal::ssm_value(client, name, true)
                    .await
                    .map_err(|e| format!("cannot read the password of account {account}: {e}"))?
                    .map(Secret::new)
                    .ok_or_else(|| format!("SSM parameter {name} of account {account} does not exist"))
            }
            PasswordSource::Unavailable(why) => Err(format!("no password for account {account}: {why}")),
        }
    }
}

impl PasswordSource {
    /// The stored credential of `account` (a passwords file holds generation 1 of its first user).
    pub async fn credential(
        &self,
        account: &str,
        parameter: Option<&str>,
    ) -> std::result::Result<StoredCredential, String> {
        let value = self.password(account, parameter).await?;
        StoredCredential::parse(value.expose(), account)
    }

    /// The non-secret state of every SCRAM account's parameter, for the plan. Only SSM knows
    /// generations; an account whose parameter cannot be read is left out (and planned as if its
    /// generation were unknown), with a warning.
    pub async fn credentials(&self, desired: &DesiredState) -> BTreeMap<String, ObservedCredential> {
        let mut out = BTreeMap::new();
        if !matches!(self, PasswordSource::Ssm(_)) {
            return out;
        }
        for a in desired.service_accounts.iter().filter(|a| a.authentication == Authentication::Scram) {
            match self.credential(&a.name, a.password_parameter.as_deref()).await {
                Ok(c) => {
                    let pending = c.pending.as_ref().map(|p| (p.username.clone(), p.generation));
                    let observed = ObservedCredential {
                        username: c.username,
                        generation: c.generation,
                        rotated_at: c.rotated_at,
                        pending,
                    };
                    out.insert(a.name.clone(), observed);
                }
                Err(reason) => tracing::warn!(account = %a.name, %reason, "credential unreadable"),
            }
        }
        out
    }

    /// Makes the pending generation `generation` of `account` the one clients read, stamped with
    /// `now`. Refused when the parameter no longer has that generation pending (rotated again or
    /// promoted meanwhile). The value keeps the parameter's KMS key.
    pub async fn promote(
        &self,
        account: &str,
        parameter: &str,
        generation: u64,
        now: u64,
    ) -> std::result::Result<(), String> {
        let PasswordSource::Ssm(client) = self else {
            return Err(format!("account {account}: a rotation is published in SSM only"));
        };
        let stored = self.credential(account, Some(parameter)).await?;
        let promoted = match stored.pending.as_ref().map(|p| p.generation) {
            Some(g) if g == generation => stored.promote(now).expect("pending"),
            _ => {
                return Err(format!(
                    "SSM parameter {parameter} of account {account} no longer has generation {generation}                      pending; run the reconciler again"
                ));
            }
        };
        let described = client
            .describe_parameters()
            .parameter_filters(
                aws_sdk_ssm::types::ParameterStringFilter::builder()
                    .key("Name")
                    .option("Equals")
                    .values(parameter)
                    .build()
                    .map_err(|e| format!("describing {parameter}: {e}"))?,
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot describe SSM parameter {parameter}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                )
            })?;
        let key_id = described.parameters.unwrap_or_default().into_iter().find_map(|p| p.key_id);
        client
            .put_parameter()
            .name(parameter)
            .value(promoted.to_json())
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .set_key_id(key_id)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot write SSM parameter {parameter}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_and_json_and_never_shows_a_password_in_errors() {
        let dir = std::env::temp_dir().join(format!("reconcile-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = dir.join("p.yaml");
        std::fs::write(&yaml, "orders-app: s3cret\nother: \"x y\"\n").unwrap();
        let json = dir.join("p.json");
        std::fs::write(&json, r#"{"orders-app": "s3cret"}"#).unwrap();
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "- hunter2\n").unwrap();
        for p in [&yaml, &json] {
            let source = PasswordSource::from_file(p).unwrap();
            assert_eq!(now(source.password("orders-app", None)).unwrap().expose(), "s3cret");
            let e = now(source.password("nobody", None)).unwrap_err();
            assert!(e.contains("no password for account nobody"), "{e}");
        }
        let e = PasswordSource::from_file(&bad).unwrap_err().to_string();
        assert!(!e.contains("hunter2") && e.contains("not a mapping"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Polls a future that never waits (the map source) to completion without a runtime.
    fn now<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the map source never waits"),
        }
    }
}
