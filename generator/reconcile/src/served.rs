//! Waiting, after an apply, until every broker serves what it wrote. Brokers apply the metadata
//! log asynchronously (a broker busy creating thousands of partitions applies later ACL records
//! seconds later), and a plan that reads a lagging broker shows applied changes again. So the
//! written objects are read back from each live broker (Metadata for topics, DescribeAcls,
//! DescribeConfigs, DescribeUserScramCredentials, each only when that kind was written) until all
//! agree or the time is up: a handful of requests per broker and round, whatever the plan's size.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_admin::{AclBinding, AclFilter, AdminClient, ConfigResource, ConfigResourceType, ScramMechanism};

use crate::apply::ApplyReport;
use crate::plan::Action;

/// The pause after the first round that found a lagging broker; doubled up to [`MAX_PAUSE`]. The
/// first round is immediate: on an idle cluster the brokers usually serve the changes already.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// What the applied changes should look like on every broker.
#[derive(Debug, Default)]
struct Expected {
    /// Topic -> at least this many partitions, each with a leader.
    topics: BTreeMap<String, u32>,
    /// Topics that must be gone.
    deleted_topics: BTreeSet<String>,
    /// Topic -> key -> value set on the topic (`None`: no override).
    configs: BTreeMap<String, BTreeMap<String, Option<String>>>,
    acls: BTreeSet<AclBinding>,
    deleted_acls: BTreeSet<AclBinding>,
    /// User -> SCRAM-SHA-512 iterations written (`None`: the credential was deleted).
    scram: BTreeMap<String, Option<i32>>,
}

impl Expected {
    /// From the changes the report says were applied.
    fn of(report: &ApplyReport) -> Self {
        let mut e = Expected::default();
        for outcome in report.outcomes.iter().filter(|o| o.error.is_none()) {
            match &outcome.change.action {
                Action::CreateTopic { topic, partitions, .. } => {
                    e.topics.insert(topic.clone(), *partitions);
                }
                Action::IncreasePartitions { topic, to, .. } => {
                    e.topics.insert(topic.clone(), *to);
                }
                Action::UpdateTopicConfigs { topic, changes } => {
                    let keys = e.configs.entry(topic.clone()).or_default();
                    keys.extend(changes.iter().map(|d| (d.key.clone(), d.new.clone())));
                }
                Action::DeleteTopic { topic } => {
                    e.deleted_topics.insert(topic.clone());
                }
                Action::CreateAcl { acl } => {
                    e.acls.insert(acl.clone());
                }
                Action::DeleteAcl { acl } => {
                    e.deleted_acls.insert(acl.clone());
                }
                Action::UpsertScramCredential { user, .. } => {
                    if let Some(iterations) = report.scram_written.get(user) {
                        e.scram.insert(user.clone(), Some(*iterations));
                    }
                }
                Action::DeleteScramCredential { user, .. } => {
                    e.scram.insert(user.clone(), None);
                }
                _ => {}
            }
        }
        e
    }

    fn is_empty(&self) -> bool {
        self.topics.is_empty()
            && self.deleted_topics.is_empty()
            && self.configs.is_empty()
            && self.acls.is_empty()
            && self.deleted_acls.is_empty()
            && self.scram.is_empty()
    }

    /// What broker `node` does not serve yet, as short phrases (empty: it serves everything).
    async fn lag_on(&self, client: &AdminClient, node: i32) -> Vec<String> {
        let mut lag = Vec::new();
        let names: Vec<String> = self.topics.keys().chain(&self.deleted_topics).cloned().collect();
        if !names.is_empty() {
            match client.describe_topics_on(node, &names).await {
                Ok(found) => {
                    let missing = self
                        .topics
                        .iter()
                        .filter(|(name, want)| match found.get(*name) {
                            Some(Ok(t)) => {
                                t.partitions.len() < **want as usize
                                    || t.partitions.iter().any(|p| p.leader < 0)
                            }
                            _ => true,
                        })
                        .count();
                    let present =
                        self.deleted_topics.iter().filter(|n| matches!(found.get(*n), Some(Ok(_)))).count();
                    count(&mut lag, missing, self.topics.len(), "topics missing");
                    count(&mut lag, present, self.deleted_topics.len(), "deleted topics still listed");
                }
                Err(e) => lag.push(format!("topics unreadable ({e})")),
            }
        }
        if !self.acls.is_empty() || !self.deleted_acls.is_empty() {
            match client.describe_acls_on(node, &AclFilter::any()).await {
                Ok(bindings) => {
                    let served: BTreeSet<&AclBinding> = bindings.iter().collect();
                    let missing = self.acls.iter().filter(|b| !served.contains(b)).count();
                    let present = self.deleted_acls.iter().filter(|b| served.contains(b)).count();
                    count(&mut lag, missing, self.acls.len(), "ACLs missing");
                    count(&mut lag, present, self.deleted_acls.len(), "deleted ACLs still served");
                }
                Err(e) => lag.push(format!("ACLs unreadable ({e})")),
            }
        }
        if !self.configs.is_empty() {
            let resources: Vec<ConfigResource> = self.configs.keys().map(ConfigResource::topic).collect();
            match client.describe_configs_on(node, &resources).await {
                Ok(results) => {
                    let stale = self
                        .configs
                        .values()
                        .zip(results)
                        .filter(|(keys, result)| match result {
                            Ok(entries) => keys.iter().any(|(key, want)| {
                                let set = entries
                                    .iter()
                                    .find(|e| {
                                        &e.name == key && e.is_set_on_resource(ConfigResourceType::Topic)
                                    })
                                    .and_then(|e| e.value.as_ref());
                                set != want.as_ref()
                            }),
                            Err(_) => true,
                        })
                        .count();
                    count(&mut lag, stale, self.configs.len(), "topic configs not updated");
                }
                Err(e) => lag.push(format!("topic configs unreadable ({e})")),
            }
        }
        if !self.scram.is_empty() {
            let users: Vec<String> = self.scram.keys().cloned().collect();
            match client.describe_user_scram_credentials_on(node, Some(&users)).await {
                Ok(found) => {
                    let stale = self
                        .scram
                        .iter()
                        .filter(|(user, want)| {
                            let has = found.get(*user).and_then(|infos| {
                                infos
                                    .iter()
                                    .find(|i| i.mechanism == ScramMechanism::Sha512)
                                    .map(|i| i.iterations)
                            });
                            has != **want
                        })
                        .count();
                    count(&mut lag, stale, self.scram.len(), "SCRAM credentials not updated");
                }
                Err(e) => lag.push(format!("SCRAM credentials unreadable ({e})")),
            }
        }
        lag
    }
}

fn count(lag: &mut Vec<String>, n: usize, of: usize, what: &str) {
    if n > 0 {
        lag.push(format!("{n} of {of} {what}"));
    }
}

/// One round's state, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Since the wait began.
    pub elapsed: Duration,
    /// Live brokers asked.
    pub brokers: usize,
    /// Per broker that does not serve everything yet: what it lacks.
    pub lagging: BTreeMap<i32, Vec<String>>,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lagging: Vec<String> =
            self.lagging.iter().map(|(node, what)| format!("broker {node}: {}", what.join(", "))).collect();
        write!(
            f,
            "{} of {} broker(s) serve the changes after {:.1} s",
            self.brokers - self.lagging.len(),
            self.brokers,
            self.elapsed.as_secs_f64()
        )?;
        if !lagging.is_empty() {
            write!(f, "; {}", lagging.join("; "))?;
        }
        Ok(())
    }
}

/// The result of [`await_served`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The last round (`lagging` empty: every live broker serves every applied change).
    pub last: Progress,
    /// Rounds of reads.
    pub rounds: u32,
    /// Whether anything was written that had to be waited for.
    pub waited: bool,
}

impl Served {
    /// Every live broker serves every applied change.
    pub fn converged(&self) -> bool {
        self.last.lagging.is_empty()
    }
}

/// Reads the changes `report` applied back from every live broker until all serve them or
/// `timeout` has passed; `progress` sees each round. Never fails: a broker that cannot be read
/// counts as lagging, and the last round says why.
pub async fn await_served(
    client: &AdminClient,
    report: &ApplyReport,
    timeout: Duration,
    mut progress: impl FnMut(&Progress),
) -> Served {
    let start = Instant::now();
    let expected = &Expected::of(report);
    let mut last = Progress { elapsed: Duration::ZERO, brokers: 0, lagging: BTreeMap::new() };
    if expected.is_empty() {
        return Served { last, rounds: 0, waited: false };
    }
    let mut pause = FIRST_PAUSE;
    let mut rounds = 0;
    loop {
        rounds += 1;
        // The live brokers now (a fenced one is not listed; one that joined is).
        let refreshed = client.refresh_metadata().await;
        let nodes: Vec<i32> = client.brokers().into_keys().collect();
        // A broker that hangs must not hold the wait past its bound.
        let left = timeout.saturating_sub(start.elapsed()).max(FIRST_PAUSE);
        let lags = futures_util::future::join_all(nodes.iter().map(|&n| async move {
            tokio::time::timeout(left, expected.lag_on(client, n))
                .await
                .unwrap_or_else(|_| vec![format!("no answer within {:.1} s", left.as_secs_f64())])
        }))
        .await;
        last = Progress {
            elapsed: start.elapsed(),
            brokers: nodes.len(),
            lagging: nodes.iter().copied().zip(lags).filter(|(_, lag)| !lag.is_empty()).collect(),
        };
        if let Err(e) = refreshed {
            last.lagging.entry(-1).or_default().push(format!("cluster metadata unreadable ({e})"));
        }
        progress(&last);
        if last.lagging.is_empty() || start.elapsed() + pause > timeout {
            return Served { last, rounds, waited: true };
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use kafka_admin::{AclOperation, PatternType, ResourceType};

    use super::*;
    use crate::apply::Outcome;
    use crate::plan::{Change, ConfigDelta};

    fn outcome(action: Action, error: Option<&str>) -> Outcome {
        Outcome { change: Change { action, reason: String::new() }, error: error.map(String::from) }
    }

    #[test]
    fn only_applied_changes_are_waited_for() {
        let acl =
            AclBinding::allow(ResourceType::Topic, "p.t", PatternType::Literal, "User:a", AclOperation::Read);
        let topic = |t: &str| Action::CreateTopic {
            topic: t.into(),
            partitions: 3,
            replication_factor: 3,
            configs: BTreeMap::new(),
        };
        let report = ApplyReport {
            outcomes: vec![
                outcome(topic("p.a"), None),
                outcome(topic("p.failed"), Some("INVALID_CONFIG")),
                outcome(Action::IncreasePartitions { topic: "p.b".into(), from: 1, to: 4 }, None),
                outcome(
                    Action::UpdateTopicConfigs {
                        topic: "p.c".into(),
                        changes: vec![ConfigDelta {
                            key: "retention.ms".into(),
                            old: Some("1".into()),
                            new: None,
                        }],
                    },
                    None,
                ),
                outcome(Action::DeleteTopic { topic: "p.d".into() }, None),
                outcome(Action::CreateAcl { acl: acl.clone() }, None),
                outcome(Action::DeleteAcl { acl: acl.clone() }, Some("timed out")),
                outcome(
                    Action::UpsertScramCredential {
                        user: "u".into(),
                        account: "u".into(),
                        password_parameter: None,
                        generation: None,
                    },
                    None,
                ),
            ],
            scram_written: [("u".to_string(), 8192)].into(),
            ..ApplyReport::default()
        };
        let e = Expected::of(&report);
        assert_eq!(e.topics, [("p.a".to_string(), 3), ("p.b".to_string(), 4)].into());
        assert_eq!(e.configs["p.c"]["retention.ms"], None);
        assert_eq!(e.deleted_topics, ["p.d".to_string()].into());
        assert_eq!(e.acls, [acl].into());
        assert!(e.deleted_acls.is_empty(), "a failed delete is not waited for");
        assert_eq!(e.scram, [("u".to_string(), Some(8192))].into());
        assert!(Expected::of(&ApplyReport::default()).is_empty());
    }

    #[test]
    fn progress_names_the_lagging_brokers() {
        let p = Progress {
            elapsed: Duration::from_millis(1500),
            brokers: 3,
            lagging: [(2, vec!["12 of 3000 ACLs missing".to_string()])].into(),
        };
        assert_eq!(
            p.to_string(),
            "2 of 3 broker(s) serve the changes after 1.5 s; broker 2: 12 of 3000 ACLs missing"
        );
    }
}
