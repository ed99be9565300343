//! Carrying out a plan in the fewest requests and a safe order: SCRAM credentials and ACL creates,
//! topics (create, partitions, configs) beside them or once brokers serve them ([`Pace`]),
//! rotations, then SCRAM and ACL deletes and topic deletes last. Each kind is one batched call
//! (the admin client splits only beyond its `max_batch` and sends the batches at once); a failed
//! item is reported and the rest go on. Applying the same plan again is harmless, and a rerun
//! after a partial failure plans only what is still missing.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{
    AclFilter, AdminClient, ConfigChanges, ConfigOp, ConfigResource, NewPartitions, NewTopic, ResponseError,
    ScramDeletion, ScramMechanism, ScramUpsert,
};
use kafka_platform_core::credential::scram_iterations;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::passwords::PasswordSource;
use crate::plan::{Action, Change, Plan};
use crate::served::{Progress, Served};

/// SCRAM iterations for new credentials (Kafka accepts 4096..=16384).
pub const SCRAM_ITERATIONS: i32 = kafka_admin::DEFAULT_SCRAM_ITERATIONS;

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// `None` when it was applied, else why not.
    pub error: Option<String>,
}

/// The result of [`apply`]: one outcome per change, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Per change.
    pub outcomes: Vec<Outcome>,
    /// SCRAM-SHA-512 iterations written per user (each generation has its own count), for
    /// [`crate::await_served`].
    #[serde(skip)]
    pub scram_written: BTreeMap<String, i32>,
    /// The wait for the brokers to serve the grants before the topics were written
    /// ([`Pace::GrantsServedFirst`]; `None` when there was no such wait).
    #[serde(skip)]
    pub grants_served: Option<Served>,
}

impl ApplyReport {
    /// Changes applied.
    pub fn applied(&self) -> usize {
        self.outcomes.iter().filter(|o| o.error.is_none()).count()
    }

    /// Changes that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.error.is_some())
    }

    /// Whether every change was applied.
    pub fn is_success(&self) -> bool {
        self.failed().next().is_none()
    }
}

/// How the writes of one apply are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Every kind of write at once, the ACL batches through the other brokers beside the topic
    /// writes: the fastest apply, for `gen apply --no-wait` (brokers may serve the grants only
    /// after creating the new partitions' logs).
    AllAtOnce,
    /// SCRAM credentials and ACLs first, and the topic creates and partition increases only once
    /// every live broker serves them (waiting at most this long): the quickest way to brokers that
    /// serve everything, for an apply that waits for them afterwards.
    GrantsServedFirst(Duration),
}

/// How long [`apply`] waits for the brokers to serve the grants before writing topics.
pub const GRANTS_WAIT: Duration = Duration::from_secs(60);

/// Applies `plan` (which must have no refusals) with [`Pace::GrantsServedFirst`] ([`GRANTS_WAIT`]).
/// Errors of single items are in the report; only a refused plan is an `Err`.
pub async fn apply(client: &AdminClient, plan: &Plan, passwords: &PasswordSource) -> Result<ApplyReport> {
    apply_paced(client, plan, passwords, Pace::GrantsServedFirst(GRANTS_WAIT), |_| {}).await
}

/// [`apply`] at the given pace; `progress` sees each round of the wait for the grants.
pub async fn apply_paced(
    client: &AdminClient,
    plan: &Plan,
    passwords: &PasswordSource,
    pace: Pace,
    mut progress: impl FnMut(&Progress),
) -> Result<ApplyReport> {
    if plan.is_refused() {
        return Err(Error::Refused(plan.refusals.len()));
    }
    let mut errors: Vec<Option<String>> = vec![None; plan.changes.len()];
    let indexed = |pick: fn(&Action) -> bool| -> Vec<usize> {
        (0..plan.changes.len()).filter(|&i| pick(&plan.changes[i].action)).collect()
    };

    // Topics.
    let creates = indexed(|a| matches!(a, Action::CreateTopic { .. }));
    let new_topics: Vec<NewTopic> = creates
        .iter()
        .map(|&i| match &plan.changes[i].action {
            Action::CreateTopic { topic, partitions, replication_factor, configs } => NewTopic {
                name: topic.clone(),
                partitions: clamp_i32(*partitions),
                replication_factor: i16::try_from(*replication_factor).unwrap_or(i16::MAX),
                configs: configs.clone(),
            },
            _ => unreachable!("picked create-topic changes"),
        })
        .collect();

    let increases = indexed(|a| matches!(a, Action::IncreasePartitions { .. }));
    let new_partitions: Vec<NewPartitions> = increases
        .iter()
        .map(|&i| match &plan.changes[i].action {
            Action::IncreasePartitions { topic, to, .. } => {
                NewPartitions { topic: topic.clone(), total: clamp_i32(*to) }
            }
            _ => unreachable!("picked partition changes"),
        })
        .collect();

    // One IncrementalAlterConfigs for all topics; a topic's sets and resets are one atomic change.
    let alters = indexed(|a| matches!(a, Action::UpdateTopicConfigs { .. }));
    let mut by_topic: BTreeMap<&str, (Vec<usize>, BTreeMap<String, ConfigOp>)> = BTreeMap::new();
    for &i in &alters {
        if let Action::UpdateTopicConfigs { topic, changes } = &plan.changes[i].action {
            let entry = by_topic.entry(topic.as_str()).or_default();
            entry.0.push(i);
            for d in changes {
                let op = d.new.clone().map_or(ConfigOp::Delete, ConfigOp::Set);
                entry.1.insert(d.key.clone(), op);
            }
        }
    }
    let config_changes: Vec<ConfigChanges> = by_topic
        .iter()
        .map(|(topic, (_, ops))| ConfigChanges {
            resource: ConfigResource::topic(*topic),
            changes: ops.clone(),
        })
        .collect();

    // SCRAM credentials: passwords first (one failure does not stop the others), then one request.
    let upserts_idx = indexed(|a| matches!(a, Action::UpsertScramCredential { .. }));
    let scram_upserts = async {
        let mut upserts = Vec::new();
        let mut upsert_owner = Vec::new();
        let mut refused = Vec::new();
        for &i in &upserts_idx {
            if let Action::UpsertScramCredential { user, account, password_parameter, generation } =
                &plan.changes[i].action
            {
                let credential = passwords.credential(account, password_parameter.as_deref()).await;
                match credential.and_then(|c| password_of(&c, account, user, *generation)) {
                    Ok((password, generation)) => {
                        upserts.push(ScramUpsert {
                            user: user.clone(),
                            mechanism: ScramMechanism::Sha512,
                            iterations: scram_iterations(generation),
                            password,
                        });
                        upsert_owner.push(i);
                    }
                    Err(reason) => refused.push((i, reason)),
                }
            }
        }
        let results = call(&upserts, client.alter_user_scram_credentials(&upserts, &[])).await;
        let written: Vec<(String, i32)> = upserts.iter().map(|u| (u.user.clone(), u.iterations)).collect();
        (upsert_owner, results, refused, written)
    };

    // Grants.
    let acl_creates = indexed(|a| matches!(a, Action::CreateAcl { .. }));
    let bindings: Vec<_> = acl_creates
        .iter()
        .map(|&i| match &plan.changes[i].action {
            Action::CreateAcl { acl } => acl.clone(),
            _ => unreachable!("picked ACL creates"),
        })
        .collect();

    // The topic writes, one kind after another on the controller-designated node's connection.
    let topics = async {
        let created = call(&new_topics, client.create_topics(&new_topics, false)).await;
        let increased = call(&new_partitions, client.create_partitions(&new_partitions, false)).await;
        let altered = call(&config_changes, client.incremental_alter_configs(&config_changes, false)).await;
        (created, increased, altered)
    };
    // SCRAM credentials and ACLs side by side: the ACL batches through the brokers other than the
    // controller-designated one while topic writes go beside them on its connection, else through
    // every broker (with the grants first: 4,007 ACLs in 2 requests per broker, not up to 3).
    let beside = matches!(pace, Pace::AllAtOnce)
        && !(new_topics.is_empty() && new_partitions.is_empty() && config_changes.is_empty());
    let acls = async {
        if beside { client.create_acls(&bindings).await } else { client.create_acls_alone(&bindings).await }
    };
    let grants = futures_util::future::join(scram_upserts, call(&bindings, acls));
    let mut grants_served = None;
    let (((upsert_owner, upserted, refused, written), granted), (created, increased, altered)) = match pace {
        Pace::AllAtOnce => futures_util::future::join(grants, topics).await,
        Pace::GrantsServedFirst(bound) => {
            // Brokers apply the metadata log in order, and publish a record batch's ACLs only after
            // creating the logs of the partitions in the same batch: a broker that reads ACL and
            // topic records together serves the ACLs tens of seconds later (after 1,000 RF 3
            // topics on the test cluster: 20-24 s). Topics written once every broker serves the
            // grants come in a later batch, whose logs no longer hold the grants back.
            let done = grants.await;
            let topic_writes = !new_topics.is_empty() || !new_partitions.is_empty();
            let grant_writes = !bindings.is_empty() || !upserts_idx.is_empty();
            if topic_writes && grant_writes {
                let ((owner, upserted, _, written), granted) = &done;
                grants_served = Some(
                    grants_served_first(
                        plan,
                        owner,
                        upserted,
                        written,
                        &acl_creates,
                        granted,
                        client,
                        bound,
                        &mut progress,
                    )
                    .await,
                );
            }
            (done, topics.await)
        }
    };
    // TOPIC_ALREADY_EXISTS: created meanwhile (e.g. by an earlier run of this plan); any difference
    // in its settings shows up in the next plan.
    record(&mut errors, &creates, tolerate(created, ResponseError::TopicAlreadyExists));
    record(&mut errors, &increases, increased);
    for ((indices, _), result) in by_topic.values().zip(altered) {
        record(&mut errors, indices, vec![result; indices.len()]);
    }
    for (i, reason) in refused {
        errors[i] = Some(reason);
    }
    record(&mut errors, &upsert_owner, upserted);
    let scram_written =
        upsert_owner.iter().zip(written).filter(|(i, _)| errors[**i].is_none()).map(|(_, w)| w).collect();
    record(&mut errors, &acl_creates, granted);

    // Rotations: published only once the account's new user has its credential and its ACLs.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for i in indexed(|a| matches!(a, Action::PromoteCredential { .. })) {
        let Action::PromoteCredential { account, password_parameter, generation, user } =
            &plan.changes[i].action
        else {
            unreachable!("picked promotions")
        };
        let principal = format!("User:{user}");
        let blocked = plan.changes.iter().zip(&errors).any(|(c, e)| {
            e.is_some()
                && match &c.action {
                    Action::UpsertScramCredential { account: a, .. } => a == account,
                    Action::CreateAcl { acl } => acl.principal == principal,
                    _ => false,
                }
        });
        errors[i] = if blocked {
            Some(format!("not published: writing user {user}'s credential or ACLs failed (see above)"))
        } else {
            passwords.promote(account, password_parameter, *generation, now).await.err()
        };
    }

    let scram_deletes = indexed(|a| matches!(a, Action::DeleteScramCredential { .. }));
    let deletions: Vec<ScramDeletion> = scram_deletes
        .iter()
        .map(|&i| match &plan.changes[i].action {
            Action::DeleteScramCredential { user, .. } => {
                ScramDeletion { user: user.clone(), mechanism: ScramMechanism::Sha512 }
            }
            _ => unreachable!("picked credential deletes"),
        })
        .collect();

    let acl_deletes = indexed(|a| matches!(a, Action::DeleteAcl { .. }));
    let filters: Vec<AclFilter> = acl_deletes
        .iter()
        .map(|&i| match &plan.changes[i].action {
            Action::DeleteAcl { acl } => AclFilter::exact(acl),
            _ => unreachable!("picked ACL deletes"),
        })
        .collect();

    let topic_deletes = indexed(|a| matches!(a, Action::DeleteTopic { .. }));
    let names: Vec<String> = topic_deletes
        .iter()
        .map(|&i| match &plan.changes[i].action {
            Action::DeleteTopic { topic } => topic.clone(),
            _ => unreachable!("picked topic deletes"),
        })
        .collect();

    // Revocations, then topic deletes last, so that nothing above depends on a topic that is gone.
    let revoked_users = call(&deletions, client.alter_user_scram_credentials(&[], &deletions)).await;
    let revoked = call(&filters, client.delete_acls(&filters)).await;
    let removed = call(&names, client.delete_topics(&names)).await;
    record(&mut errors, &scram_deletes, revoked_users);
    record(&mut errors, &acl_deletes, revoked.into_iter().map(|r| r.map(|_| ())).collect());
    // UNKNOWN_TOPIC_OR_PARTITION: already gone, which is what was asked for.
    record(&mut errors, &topic_deletes, tolerate(removed, ResponseError::UnknownTopicOrPartition));

    // Expired debug grants (crate::grants), with the revocations.
    crate::grants::apply::expire(client, plan, &mut errors).await;

    let outcomes =
        plan.changes.iter().cloned().zip(errors).map(|(change, error)| Outcome { change, error }).collect();
    Ok(ApplyReport { outcomes, scram_written, grants_served })
}

/// Waits until every live broker serves the SCRAM credentials and ACLs just written (the ones
/// that succeeded), at most `bound`; the topics are written after it whatever it finds.
#[allow(clippy::too_many_arguments)]
async fn grants_served_first(
    plan: &Plan,
    upsert_owner: &[usize],
    upserted: &[kafka_admin::Result<()>],
    written: &[(String, i32)],
    acl_creates: &[usize],
    granted: &[kafka_admin::Result<()>],
    client: &AdminClient,
    bound: Duration,
    progress: &mut impl FnMut(&Progress),
) -> Served {
    let ok = |indices: &[usize], results: &[kafka_admin::Result<()>]| -> Vec<usize> {
        indices.iter().zip(results).filter(|(_, r)| r.is_ok()).map(|(i, _)| *i).collect()
    };
    let upserts = ok(upsert_owner, upserted);
    let mut grants = ApplyReport::default();
    for i in upserts.iter().chain(&ok(acl_creates, granted)) {
        grants.outcomes.push(Outcome { change: plan.changes[*i].clone(), error: None });
    }
    grants.scram_written = upsert_owner
        .iter()
        .zip(upserted.iter().zip(written))
        .filter(|(_, (r, _))| r.is_ok())
        .map(|(_, (_, w))| w.clone())
        .collect();
    crate::served::await_served(client, &grants, bound, progress).await
}

/// The password `user` logs in with in the stored credential, and its generation: the planned
/// generation (current or pending), or with none planned the current one if it is `user`'s.
fn password_of(
    c: &kafka_platform_core::credential::StoredCredential,
    account: &str,
    user: &str,
    generation: Option<u64>,
) -> std::result::Result<(kafka_admin::Secret, u64), String> {
    let pending = c.pending.as_ref().map(|p| (p.username.as_str(), p.generation, &p.password));
    let current = (c.username.as_str(), c.generation, &c.password);
    let found = [Some(current), pending]
        .into_iter()
        .flatten()
        .find(|(u, g, _)| *u == user && generation.is_none_or(|want| want == *g));
    match found {
        Some((_, g, password)) => Ok((kafka_admin::Secret::new(password.clone()), g)),
        None => Err(format!(
            "the credential of account {account} changed since the plan (no {} for user {user}); run again",
            generation.map_or("current generation".to_string(), |g| format!("generation {g}"))
        )),
    }
}

/// Skips the request when there is nothing to send.
pub(crate) async fn call<T, R>(items: &[T], request: impl Future<Output = Vec<R>>) -> Vec<R> {
    if items.is_empty() { Vec::new() } else { request.await }
}

pub(crate) fn record(
    errors: &mut [Option<String>],
    indices: &[usize],
    results: Vec<kafka_admin::Result<()>>,
) {
    for (&i, result) in indices.iter().zip(results) {
        if let Err(e) = result {
            errors[i] = Some(e.to_string());
        }
    }
}

/// Treats one Kafka error as success (the topic a create wanted exists; the one a delete wanted is gone).
pub(crate) fn tolerate(
    results: Vec<kafka_admin::Result<()>>,
    done: ResponseError,
) -> Vec<kafka_admin::Result<()>> {
    results.into_iter().map(|r| r.or_else(|e| if e.kind() == Some(done) { Ok(()) } else { Err(e) })).collect()
}

fn clamp_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
