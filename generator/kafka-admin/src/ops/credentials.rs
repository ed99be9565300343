//! DescribeUserScramCredentials and AlterUserScramCredentials.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::client::{AdminClient, Target};
use crate::error::{Error, Result};
use crate::scram::{self, MAX_ITERATIONS, MIN_ITERATIONS, ScramMechanism};
use crate::types::{ScramCredentialInfo, ScramDeletion, ScramUpsert};

/// Iterations used when the caller has no reason to choose: twice Kafka's minimum.
pub const DEFAULT_SCRAM_ITERATIONS: i32 = 8192;

/// Kafka's own salt length for SCRAM credentials is not part of the protocol; 32 random bytes is
/// well above what any brute-force precomputation could cover.
const SALT_BYTES: usize = 32;

#[derive(Clone)]
enum Change<'a> {
    Upsert(&'a ScramUpsert),
    Delete(&'a ScramDeletion),
}

impl Change<'_> {
    fn user(&self) -> &str {
        match self {
            Change::Upsert(u) => &u.user,
            Change::Delete(d) => &d.user,
        }
    }
}

impl AdminClient {
    /// SCRAM credentials (mechanism and iterations; never secrets) per user: of the given users, or
    /// of all users with credentials when `users` is `None`. A requested user without any
    /// credential is absent from the result.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<BTreeMap<String, Vec<ScramCredentialInfo>>> {
        self.retrying(async || self.describe_scram_once(Target::Any, users).await).await
    }

    /// As [`Self::describe_user_scram_credentials`], as broker `node` serves them (its metadata
    /// image); one attempt.
    pub async fn describe_user_scram_credentials_on(
        &self,
        node: i32,
        users: Option<&[String]>,
    ) -> Result<BTreeMap<String, Vec<ScramCredentialInfo>>> {
        self.describe_scram_once(Target::Node(node), users).await
    }

    async fn describe_scram_once(
        &self,
        target: Target,
        users: Option<&[String]>,
    ) -> Result<BTreeMap<String, Vec<ScramCredentialInfo>>> {
        let response = self
            .send(target, |_| {
                DescribeUserScramCredentialsRequest::default().with_users(users.map(|us| {
                    us.iter()
                        .map(|u| UserName::default().with_name(StrBytes::from_string(u.clone())))
                        .collect()
                }))
            })
            .await?;
        Error::check(
            "DescribeUserScramCredentials",
            None,
            response.error_code,
            response.error_message.map(|m| m.to_string()),
        )?;
        let mut out = BTreeMap::new();
        for r in response.results {
            // RESOURCE_NOT_FOUND: the user has no SCRAM credential, which is an answer.
            if r.error_code == ResponseError::ResourceNotFound.code() {
                continue;
            }
            Error::check_item(
                "DescribeUserScramCredentials",
                format!("user {}", r.user),
                r.error_code,
                r.error_message.as_deref(),
            )?;
            let mut infos: Vec<ScramCredentialInfo> = r
                .credential_infos
                .iter()
                .filter_map(|c| {
                    ScramMechanism::from_code(c.mechanism)
                        .map(|mechanism| ScramCredentialInfo { mechanism, iterations: c.iterations })
                })
                .collect();
            infos.sort_by_key(|c| c.mechanism);
            out.insert(r.user.to_string(), infos);
        }
        Ok(out)
    }

    /// Creates or replaces (`upserts`) and removes (`deletions`) SCRAM credentials, through the
    /// controller. The salted password is computed here with a fresh random salt, so the clear
    /// password never leaves this process. Results: upserts first, then deletions, each in order.
    /// Kafka refuses a request that names the same user and mechanism twice.
    pub async fn alter_user_scram_credentials(
        &self,
        upserts: &[ScramUpsert],
        deletions: &[ScramDeletion],
    ) -> Vec<Result<()>> {
        let changes: Vec<Change<'_>> =
            upserts.iter().map(Change::Upsert).chain(deletions.iter().map(Change::Delete)).collect();
        // Bad iteration counts are refused before the (possibly very long) PBKDF2 runs.
        let mut results: Vec<Option<Result<()>>> = changes
            .iter()
            .map(|c| match c {
                Change::Upsert(u) if !(MIN_ITERATIONS as i32..=MAX_ITERATIONS as i32).contains(&u.iterations) => {
                    Some(Err(Error::Config(format!(
                        "SCRAM iterations for user '{}' must be within {MIN_ITERATIONS}..={MAX_ITERATIONS}, not {}",
                        u.user, u.iterations
                    ))))
                }
                Change::Upsert(u) if u.user.is_empty() => Some(Err(Error::Config("SCRAM user name is empty".into()))),
                _ => None,
            })
            .collect();
        let todo: Vec<usize> = (0..changes.len()).filter(|&i| results[i].is_none()).collect();
        let todo_changes: Vec<Change<'_>> = todo.iter().map(|&i| changes[i].clone()).collect();
        let outcome =
            self.batch(&todo_changes, async |_, batch| self.alter_scram_once(batch).await, |_| None).await;
        for (i, r) in todo.into_iter().zip(outcome) {
            results[i] = Some(r);
        }
        results.into_iter().map(|r| r.expect("every change has a result")).collect()
    }

    async fn alter_scram_once(&self, batch: Vec<Change<'_>>) -> Result<Vec<Result<()>>> {
        let mut upsertions = Vec::new();
        let mut deletions = Vec::new();
        for change in &batch {
            match change {
                Change::Upsert(u) => {
                    let salt = scram::random_bytes(SALT_BYTES);
                    // Up to a thousand users of 16384 rounds each: not on the async thread.
                    let salted = scram::salted_password_off_thread(
                        u.mechanism,
                        u.password.expose().as_bytes().to_vec(),
                        salt.clone(),
                        u.iterations as u32,
                    )
                    .await
                    .map_err(|e| Error::Config(e.0))?;
                    upsertions.push(
                        ScramCredentialUpsertion::default()
                            .with_name(StrBytes::from_string(u.user.clone()))
                            .with_mechanism(u.mechanism.code())
                            .with_iterations(u.iterations)
                            .with_salt(Bytes::from(salt))
                            .with_salted_password(Bytes::from(salted)),
                    );
                }
                Change::Delete(d) => deletions.push(
                    ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_string(d.user.clone()))
                        .with_mechanism(d.mechanism.code()),
                ),
            }
        }
        let response = self
            .send(Target::Controller, |_| {
                AlterUserScramCredentialsRequest::default()
                    .with_upsertions(upsertions.clone())
                    .with_deletions(deletions.clone())
            })
            .await?;
        // One result per user; a user with several changes shares it.
        let by_user: HashMap<String, (i16, Option<String>)> = response
            .results
            .into_iter()
            .map(|r| (r.user.to_string(), (r.error_code, r.error_message.map(|m| m.to_string()))))
            .collect();
        Ok(batch
            .iter()
            .map(|c| match by_user.get(c.user()) {
                Some((code, message)) => Error::check_item(
                    "AlterUserScramCredentials",
                    format!("user {}", c.user()),
                    *code,
                    message.as_deref(),
                ),
                None => {
                    Err(super::configs::missing("AlterUserScramCredentials", &format!("user {}", c.user())))
                }
            })
            .collect())
    }
}
