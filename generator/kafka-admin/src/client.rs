//! The admin client: configuration, the cluster view, one connection per broker, routing of
//! requests (any broker or the controller), retries with bounded exponential backoff, and batches
//! whose items are retried one by one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use kafka_protocol::protocol::Request;
use tokio::sync::Mutex;

use crate::connection::{Connection, ConnectionSettings, ScramCredentials};
use crate::error::{Error, Result};
use crate::frame::api_name;
use crate::metadata_codec;
use crate::scram::ScramMechanism;
use crate::secret::Secret;
use crate::tls::TlsConfig;
use crate::types::ClusterMetadata;

/// How often and how patiently retriable errors are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubled after each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 200 ms doubling to at most 5 s: about 17 s of waiting in all, long enough for a
    /// controller election or a broker restart, short enough for a deploy step.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Everything needed to reach and authenticate to a cluster.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `host:port` of one or more brokers on the listener to use.
    pub bootstrap: Vec<String>,
    /// TLS (always on).
    pub tls: TlsConfig,
    /// SASL/SCRAM credentials for SASL_SSL listeners; `None` for mTLS listeners.
    pub sasl: Option<ScramCredentials>,
    /// The client id brokers log and apply quotas to.
    pub client_id: String,
    /// Timeout for the TCP connect and for the TLS handshake, each.
    pub connect_timeout: Duration,
    /// Timeout for one request/response.
    pub request_timeout: Duration,
    /// How long the controller may take to finish a topic operation before answering
    /// REQUEST_TIMED_OUT (sent in CreateTopics, DeleteTopics, CreatePartitions).
    pub operation_timeout: Duration,
    /// Retry policy for retriable errors.
    pub retry: RetryPolicy,
    /// Most items (topics, ACL bindings, ...) in one request.
    pub max_batch: usize,
}

impl AdminConfig {
    /// A configuration with defaults: client id `kafka-platform-admin`, 10 s connect, 60 s per
    /// request, 30 s operation timeout, 1000 items per request.
    pub fn new<S: Into<String>>(bootstrap: impl IntoIterator<Item = S>, tls: TlsConfig) -> Self {
        AdminConfig {
            bootstrap: bootstrap.into_iter().map(Into::into).collect(),
            tls,
            sasl: None,
            client_id: "kafka-platform-admin".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_batch: 1000,
        }
    }

    /// Splits a comma-separated bootstrap list (`host:port,host:port`).
    pub fn parse_bootstrap(list: &str) -> Vec<String> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    }

    /// Adds SASL/SCRAM credentials (for SASL_SSL listeners).
    pub fn with_scram(
        mut self,
        mechanism: ScramMechanism,
        user: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.sasl = Some(ScramCredentials { mechanism, user: user.into(), password: password.into() });
        self
    }

    fn validate(&self) -> Result<()> {
        if self.bootstrap.is_empty() {
            return Err(Error::Config("the bootstrap server list is empty".into()));
        }
        for address in &self.bootstrap {
            let port = address.rsplit_once(':').map(|(_, p)| p);
            if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
                return Err(Error::Config(format!("bootstrap server '{address}' is not host:port")));
            }
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::Config("retry.max_attempts must be at least 1".into()));
        }
        if self.max_batch == 0 {
            return Err(Error::Config("max_batch must be at least 1".into()));
        }
        if let Some(sasl) = &self.sasl
            && sasl.user.is_empty()
        {
            return Err(Error::Config("the SASL user name is empty".into()));
        }
        Ok(())
    }

    fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            tls: self.tls.clone(),
            sasl: self.sasl.clone(),
            client_id: self.client_id.clone(),
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
        }
    }
}

/// Where a request should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Any reachable broker (reads); the controller-designated one first.
    Any,
    /// The controller as Metadata names it (topic, ACL and SCRAM writes).
    Controller,
    /// One broker (its own configuration; reads of that broker's view).
    Node(i32),
    /// This broker first, then the others as for [`Target::Any`]: spreads independent writes over
    /// the brokers' connections (every KRaft broker forwards them to the active controller) while
    /// a broker that is down is passed over.
    Prefer(i32),
}

/// Requests sent, by API and by broker node id (-1 for a bootstrap address not yet known by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// All requests, connection set-up (ApiVersions, SASL) excluded.
    pub total: u64,
    /// Requests per API name.
    pub by_api: BTreeMap<String, u64>,
    /// Requests per (API name, node id).
    pub by_api_and_node: BTreeMap<(String, i32), u64>,
}

#[derive(Debug, Default)]
struct ClusterView {
    cluster_id: Option<String>,
    controller: Option<i32>,
    brokers: BTreeMap<i32, String>,
    /// Addresses that failed to connect, skipped until the instant given.
    down_until: HashMap<String, Instant>,
}

/// A connection to a Kafka cluster for administrative operations. Cheap to share behind an `Arc`;
/// methods take `&self`.
pub struct AdminClient {
    config: AdminConfig,
    settings: ConnectionSettings,
    view: SyncMutex<ClusterView>,
    pool: Mutex<HashMap<String, Arc<Mutex<Connection>>>>,
    /// Per address: held while a connection to it is being opened.
    opening: SyncMutex<HashMap<String, Arc<Mutex<()>>>>,
    stats: SyncMutex<BTreeMap<(&'static str, String), u64>>,
    /// The one address every request goes to ([`AdminClient::connect_to_node`]).
    direct: Option<String>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient").field("bootstrap", &self.config.bootstrap).finish_non_exhaustive()
    }
}

impl AdminClient {
    /// Connects to the first reachable bootstrap server, authenticates and reads the cluster's
    /// brokers and controller. Authentication and TLS errors fail at once, unreachable brokers
    /// after the retry policy.
    pub async fn connect(config: AdminConfig) -> Result<Self> {
        config.validate()?;
        let client = Self::unconnected(config);
        client.retrying(async || client.refresh_view().await).await?;
        Ok(client)
    }

    /// [`AdminClient::connect`] whose one Metadata request also lists every topic the principal
    /// may describe, returned as [`AdminClient::metadata`] would: a caller that reads the topics
    /// next saves that round trip (and the connection to the controller-designated node before
    /// it has to write).
    pub async fn connect_with_topics(config: AdminConfig) -> Result<(Self, ClusterMetadata)> {
        config.validate()?;
        let client = Self::unconnected(config);
        let metadata = client.retrying(async || client.read_view(None).await).await?;
        Ok((client, metadata))
    }

    /// A client of the one address in `config.bootstrap`, opened without the Metadata request:
    /// a KRaft controller's own listener (KIP-919) answers ApiVersions, DescribeConfigs and
    /// IncrementalAlterConfigs (writes on the active controller only) but not Metadata. Every
    /// request goes to that address, whatever node or controller it is meant for. Not for
    /// [`AdminClient::refresh_metadata`].
    pub async fn connect_to_node(config: AdminConfig) -> Result<Self> {
        config.validate()?;
        let [address] = config.bootstrap.as_slice() else {
            return Err(Error::Config(format!(
                "a client of one node takes one address, not {}",
                config.bootstrap.len()
            )));
        };
        let address = address.clone();
        let mut client = Self::unconnected(config);
        client.direct = Some(address.clone());
        client.retrying(async || client.connection(&address).await.map(drop)).await?;
        Ok(client)
    }

    fn unconnected(config: AdminConfig) -> Self {
        AdminClient {
            settings: config.settings(),
            config,
            view: SyncMutex::new(ClusterView::default()),
            pool: Mutex::new(HashMap::new()),
            opening: SyncMutex::new(HashMap::new()),
            stats: SyncMutex::new(BTreeMap::new()),
            direct: None,
        }
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &AdminConfig {
        &self.config
    }

    /// The controller node id as last seen in metadata.
    pub fn controller_id(&self) -> Option<i32> {
        self.view.lock().expect("view lock").controller
    }

    /// The cluster id as last seen in metadata.
    pub fn cluster_id(&self) -> Option<String> {
        self.view.lock().expect("view lock").cluster_id.clone()
    }

    /// Node id -> `host:port` as last seen in metadata.
    pub fn brokers(&self) -> BTreeMap<i32, String> {
        self.view.lock().expect("view lock").brokers.clone()
    }

    /// Requests sent so far.
    pub fn request_stats(&self) -> RequestStats {
        let ids: HashMap<String, i32> =
            self.view.lock().expect("view lock").brokers.iter().map(|(id, a)| (a.clone(), *id)).collect();
        let mut stats = RequestStats::default();
        for ((api, address), n) in self.stats.lock().expect("stats lock").iter() {
            let node = ids.get(address).copied().unwrap_or(-1);
            stats.total += n;
            *stats.by_api.entry(api.to_string()).or_default() += n;
            *stats.by_api_and_node.entry((api.to_string(), node)).or_default() += n;
        }
        stats
    }

    /// Re-reads brokers and controller from the cluster.
    pub async fn refresh_metadata(&self) -> Result<()> {
        self.retrying(async || self.refresh_view().await).await
    }

    async fn refresh_view(&self) -> Result<()> {
        self.read_view(Some(&[])).await.map(drop)
    }

    /// One Metadata request (`topics`: `None` for all, `Some(&[])` for none) that also updates
    /// the cluster view.
    async fn read_view(&self, topics: Option<&[String]>) -> Result<ClusterMetadata> {
        let response = self.send(Target::Any, |v| metadata_codec::request(v, topics)).await?;
        let (metadata, _) = metadata_codec::decode(response)?;
        let mut view = self.view.lock().expect("view lock");
        view.cluster_id.clone_from(&metadata.cluster_id);
        view.controller = (metadata.controller_id >= 0).then_some(metadata.controller_id);
        view.brokers = metadata.brokers.iter().map(|b| (b.node_id, b.address())).collect();
        Ok(metadata)
    }

    /// Candidate addresses for a target, best first. Addresses that recently failed come last
    /// rather than never, so that a cluster whose every broker blipped is still tried.
    fn candidates(&self, target: Target) -> Result<Vec<String>> {
        if let Some(address) = &self.direct {
            return Ok(vec![address.clone()]);
        }
        let view = self.view.lock().expect("view lock");
        let now = Instant::now();
        let is_down = |a: &String| view.down_until.get(a).is_some_and(|t| *t > now);
        let mut known: Vec<String> = view.brokers.values().cloned().collect();
        if known.is_empty() {
            known = self.config.bootstrap.clone();
        }
        let mut order: Vec<String> = match target {
            Target::Node(id) => {
                let Some(address) = view.brokers.get(&id) else {
                    return Err(Error::Config(format!("broker {id} is not in the cluster metadata")));
                };
                return Ok(vec![address.clone()]);
            }
            // Reads go to the same node as writes: brokers learn about committed metadata
            // asynchronously, and one node's view keeps a client closest to reading its own writes.
            // KRaft brokers forward controller requests, so when the named node is down any other
            // broker is a correct (if one hop longer) route.
            Target::Controller | Target::Any | Target::Prefer(_) => {
                let first = match target {
                    Target::Prefer(id) => view.brokers.get(&id),
                    _ => view.controller.and_then(|c| view.brokers.get(&c)),
                }
                .cloned();
                let others: Vec<String> = known.into_iter().filter(|a| Some(a) != first.as_ref()).collect();
                first.into_iter().chain(others).collect()
            }
        };
        order.sort_by_key(is_down);
        Ok(order)
    }

    async fn connection(&self, address: &str) -> Result<Arc<Mutex<Connection>>> {
        // One handshake per broker at a time, without holding the pool: requests to other brokers
        // (sent side by side) neither wait for this handshake nor serialise their own.
        let gate = self.opening.lock().expect("opening lock").entry(address.to_string()).or_default().clone();
        let _opening = gate.lock().await;
        {
            let mut pool = self.pool.lock().await;
            if let Some(conn) = pool.get(address) {
                // A connection still locked by another task is in use, hence not broken.
                let usable = conn.try_lock().map(|c| !c.broken).unwrap_or(true);
                if usable {
                    return Ok(conn.clone());
                }
                pool.remove(address);
            }
        }
        let started = Instant::now();
        match Connection::open(address, &self.settings).await {
            Ok(conn) => {
                tracing::debug!(
                    broker = address,
                    ms = started.elapsed().as_millis() as u64,
                    "connection opened"
                );
                self.view.lock().expect("view lock").down_until.remove(address);
                let conn = Arc::new(Mutex::new(conn));
                self.pool.lock().await.insert(address.to_string(), conn.clone());
                Ok(conn)
            }
            Err(e) => {
                if matches!(e, Error::Connect { .. } | Error::Network { .. } | Error::Timeout { .. }) {
                    let until = Instant::now() + self.config.retry.max_backoff;
                    self.view.lock().expect("view lock").down_until.insert(address.to_string(), until);
                }
                Err(e)
            }
        }
    }

    /// Sends one request to the target (one attempt; a target with several candidates moves on to
    /// the next when a connection cannot be opened). `build` gets the negotiated version.
    pub(crate) async fn send<R: Request>(
        &self,
        target: Target,
        build: impl Fn(i16) -> R,
    ) -> Result<R::Response> {
        let mut last = None;
        for address in self.candidates(target)? {
            let conn = match self.connection(&address).await {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut conn = conn.lock().await;
            *self
                .stats
                .lock()
                .expect("stats lock")
                .entry((api_name(R::KEY), address.clone()))
                .or_default() += 1;
            let started = Instant::now();
            let result = conn.call(&build).await;
            tracing::debug!(
                api = api_name(R::KEY),
                broker = address.as_str(),
                ms = started.elapsed().as_millis() as u64,
                "request answered"
            );
            if conn.broken {
                drop(conn);
                self.pool.lock().await.remove(&address);
            }
            return result;
        }
        Err(last.unwrap_or_else(|| Error::Config("no broker address to send to".into())))
    }

    /// Opens the connection to the controller-designated node unless it is open (writes go
    /// there): started beside reads to other brokers, its handshake costs no time of its own.
    pub async fn preconnect(&self) -> Result<()> {
        let address = self.candidates(Target::Controller)?.into_iter().next();
        match address {
            Some(a) => self.connection(&a).await.map(drop),
            None => Ok(()),
        }
    }

    /// The brokers the batches of a write that may go through any broker are sent through in
    /// turn: those other than the controller-designated one while topic writes go `beside` them
    /// on its connection (a connection answers one request at a time), else every broker.
    /// Empty: the controller-designated one takes every batch.
    pub(crate) fn spread_over(&self, beside: bool) -> Vec<i32> {
        let view = self.view.lock().expect("view lock");
        let through: Vec<i32> =
            view.brokers.keys().copied().filter(|n| !beside || Some(*n) != view.controller).collect();
        through
    }

    /// Where batch `k` goes among the brokers of [`AdminClient::spread_over`].
    pub(crate) fn spread(through: &[i32], k: usize) -> Target {
        if through.is_empty() { Target::Controller } else { Target::Prefer(through[k % through.len()]) }
    }

    /// Items per request when `n` items are sent through `targets` connections: the fewest
    /// requests of at most `max_batch`, rounded up to a multiple of `targets` and evened out, so
    /// that every connection carries the same share (4,007 ACLs over 3 brokers: 6 of 668, two per
    /// broker, rather than 4 of 1,000 and one of 7 with two of 1,000 on one broker).
    pub(crate) fn even_batch(&self, n: usize, targets: usize) -> usize {
        let targets = targets.max(1);
        let requests = n.div_ceil(self.config.max_batch.max(1)).div_ceil(targets) * targets;
        n.div_ceil(requests.max(1)).max(1)
    }

    /// Runs `op` until it succeeds, fails for good, or the retry policy is used up.
    pub(crate) async fn retrying<T>(&self, mut op: impl AsyncFnMut() -> Result<T>) -> Result<T> {
        let policy = self.config.retry;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if !e.is_retriable() => return Err(e),
                Err(e) if attempt >= policy.max_attempts => {
                    return Err(Error::RetriesExhausted { attempts: attempt, last: Box::new(e) });
                }
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "retrying Kafka request");
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    if e.needs_metadata_refresh() {
                        // Best effort: the next attempt reports the error if the cluster is still away.
                        let _ = self.refresh_view().await;
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Sends `items` in requests of at most `max_batch`, all requests of a round at once (each on
    /// the connection its target picks; `send` gets the request's index in the round), retrying the items (not the whole batch) that come back with retriable
    /// errors. `send` returns one result per item, in order. `settle` may turn an error of an item
    /// that was retried into success (a create that timed out and then finds the topic existing has
    /// succeeded). Results are in the order of `items`.
    pub(crate) async fn batch<I: Clone, T>(
        &self,
        items: &[I],
        send: impl AsyncFn(usize, Vec<I>) -> Result<Vec<Result<T>>>,
        settle: impl Fn(&Error) -> Option<T>,
    ) -> Vec<Result<T>> {
        self.batch_of(self.config.max_batch, items, send, settle).await
    }

    /// [`AdminClient::batch`] with `size` items per request (at most `max_batch`).
    pub(crate) async fn batch_of<I: Clone, T>(
        &self,
        size: usize,
        items: &[I],
        send: impl AsyncFn(usize, Vec<I>) -> Result<Vec<Result<T>>>,
        settle: impl Fn(&Error) -> Option<T>,
    ) -> Vec<Result<T>> {
        let size = size.clamp(1, self.config.max_batch.max(1));
        let policy = self.config.retry;
        let mut results: Vec<Option<Result<T>>> = (0..items.len()).map(|_| None).collect();
        let mut retried = vec![false; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let mut attempt = 1;
        while !pending.is_empty() {
            let last_attempt = attempt >= policy.max_attempts;
            let mut again = Vec::new();
            let mut refresh = false;
            let chunks: Vec<&[usize]> = pending.chunks(size).collect();
            let outcomes = futures_util::future::join_all(chunks.iter().enumerate().map(|(k, chunk)| {
                let batch: Vec<I> = chunk.iter().map(|&i| items[i].clone()).collect();
                send(k, batch)
            }))
            .await;
            for (chunk, outcome) in chunks.iter().zip(outcomes) {
                let outcome = match outcome {
                    Ok(per_item) if per_item.len() == chunk.len() => per_item,
                    Ok(per_item) => {
                        let e = Error::Protocol {
                            broker: String::new(),
                            api: "batch",
                            reason: format!("{} results for {} items", per_item.len(), chunk.len()),
                        };
                        chunk.iter().map(|_| Err(e.clone())).collect()
                    }
                    Err(e) => chunk.iter().map(|_| Err(e.clone())).collect(),
                };
                for (&i, result) in chunk.iter().zip(outcome) {
                    let result = match result {
                        Err(e) if retried[i] => settle(&e).ok_or(e),
                        other => other,
                    };
                    match result {
                        Err(e) if e.is_retriable() && !last_attempt => {
                            refresh |= e.needs_metadata_refresh();
                            again.push(i);
                            results[i] = Some(Err(e));
                        }
                        Err(e) if e.is_retriable() => {
                            results[i] =
                                Some(Err(Error::RetriesExhausted { attempts: attempt, last: Box::new(e) }));
                        }
                        other => results[i] = Some(other),
                    }
                }
            }
            if again.is_empty() {
                break;
            }
            tracing::debug!(items = again.len(), attempt, "retrying items of a Kafka batch");
            tokio::time::sleep(policy.backoff(attempt)).await;
            if refresh {
                let _ = self.refresh_view().await;
            }
            for &i in &again {
                retried[i] = true;
            }
            pending = again;
            attempt += 1;
        }
        results.into_iter().map(|r| r.expect("every item has a result")).collect()
    }

    /// Drops all connections; the next request opens new ones.
    pub async fn close(&self) {
        self.pool.lock().await.clear();
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::error::ResponseError;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_bound() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        let pauses: Vec<u128> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(pauses, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff(1000), Duration::from_secs(1));
    }

    fn client(max_attempts: u32, max_batch: usize) -> AdminClient {
        let mut config = AdminConfig::new(["127.0.0.1:9"], TlsConfig::trusting_nothing());
        config.retry = RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        };
        config.max_batch = max_batch;
        AdminClient::unconnected(config)
    }

    fn code(code: i16) -> Error {
        Error::check("CreateTopics", Some("item".into()), code, None).unwrap_err()
    }

    // The batches are answered by a scripted closure, not a broker: retrying single items is
    // client logic that no real broker failure can be made to trigger on demand.
    #[tokio::test]
    async fn batches_retry_only_the_items_that_failed_retriably() {
        let client = client(5, 2);
        let requests: SyncMutex<Vec<(usize, Vec<&str>)>> = SyncMutex::new(Vec::new());
        let timed_out_once = std::cell::Cell::new(false);
        let results = client
            .batch(
                &["a", "b", "c", "d", "e"],
                async |k, batch: Vec<&str>| {
                    requests.lock().unwrap().push((k, batch.clone()));
                    Ok(batch
                        .iter()
                        .map(|&i| match i {
                            // Times out once, then exists: created by the first attempt.
                            "b" if !timed_out_once.get() => {
                                timed_out_once.set(true);
                                Err(code(7))
                            }
                            "b" => Err(code(36)),
                            "d" => Err(code(38)),
                            _ => Ok(()),
                        })
                        .collect())
                },
                |e| (e.kind() == Some(ResponseError::TopicAlreadyExists)).then_some(()),
            )
            .await;
        assert!(results[0].is_ok() && results[1].is_ok() && results[2].is_ok() && results[4].is_ok());
        assert_eq!(results[3].as_ref().unwrap_err().code(), Some(38), "final errors are not retried");
        // A round's requests carry their index (for spreading them over brokers).
        let requests = requests.into_inner().unwrap();
        assert_eq!(requests, vec![(0, vec!["a", "b"]), (1, vec!["c", "d"]), (2, vec!["e"]), (0, vec!["b"])]);
    }

    #[tokio::test]
    async fn retriable_failures_stop_at_the_bound() {
        let client = client(3, 10);
        let calls = std::cell::Cell::new(0);
        let results = client
            .batch(
                &["x"],
                async |_, batch: Vec<&str>| {
                    calls.set(calls.get() + 1);
                    Ok(batch.iter().map(|_| Err::<(), _>(code(7))).collect())
                },
                |_| None,
            )
            .await;
        assert_eq!(calls.get(), 3);
        let e = results[0].as_ref().unwrap_err();
        assert!(matches!(e, Error::RetriesExhausted { attempts: 3, .. }), "{e}");
        assert_eq!(e.code(), Some(7));
        assert!(e.to_string().starts_with("gave up after 3 attempts"), "{e}");
    }

    #[tokio::test]
    async fn a_failed_request_fails_each_of_its_items() {
        let client = client(2, 10);
        let results = client
            .batch(
                &[1, 2],
                async |_, _batch: Vec<i32>| Err::<Vec<Result<()>>, _>(Error::Config("bad".into())),
                |_| None,
            )
            .await;
        assert!(results.iter().all(|r| matches!(r, Err(Error::Config(_)))));
    }

    #[tokio::test]
    async fn a_client_of_one_node_takes_one_address() {
        let config = AdminConfig::new(["127.0.0.1:9", "127.0.0.1:10"], TlsConfig::trusting_nothing());
        let e = AdminClient::connect_to_node(config).await.unwrap_err();
        assert!(e.to_string().contains("takes one address, not 2"), "{e}");
    }

    #[test]
    fn batches_spread_over_the_brokers_beside_the_controller_designated_one() {
        let client = client(1, 10);
        {
            let mut view = client.view.lock().unwrap();
            view.brokers = [(1, "a:1"), (2, "b:1"), (3, "c:1")].map(|(n, a)| (n, a.to_string())).into();
            view.controller = Some(2);
            view.down_until.insert("a:1".into(), Instant::now() + Duration::from_secs(60));
        }
        let beside = client.spread_over(true);
        let spread: Vec<Target> = (0..4).map(|k| AdminClient::spread(&beside, k)).collect();
        assert_eq!(spread, [Target::Prefer(1), Target::Prefer(3), Target::Prefer(1), Target::Prefer(3)]);
        // With nothing beside them, through every broker.
        let all = client.spread_over(false);
        let spread: Vec<Target> = (0..4).map(|k| AdminClient::spread(&all, k)).collect();
        assert_eq!(spread, [Target::Prefer(1), Target::Prefer(2), Target::Prefer(3), Target::Prefer(1)]);
        // The preferred broker first, the others after it; one that is down last.
        assert_eq!(client.candidates(Target::Prefer(3)).unwrap(), ["c:1", "b:1", "a:1"]);
        assert_eq!(client.candidates(Target::Prefer(1)).unwrap(), ["b:1", "c:1", "a:1"]);
        // A single broker takes every batch.
        let single = self::client(1, 10);
        single.view.lock().unwrap().brokers = [(1, "a:1".to_string())].into();
        single.view.lock().unwrap().controller = Some(1);
        assert_eq!(AdminClient::spread(&single.spread_over(true), 3), Target::Controller);
        assert_eq!(AdminClient::spread(&single.spread_over(false), 3), Target::Prefer(1));
    }

    #[test]
    fn batches_are_even_and_a_multiple_of_the_connections() {
        let client = client(1, 1000);
        // 4,007 over 3 brokers: 6 requests of 668; over 2: 6 too; 1,000 over 1: one request.
        assert_eq!(client.even_batch(4007, 3), 668);
        assert_eq!(client.even_batch(4007, 2), 668);
        assert_eq!(client.even_batch(1000, 1), 1000);
        assert_eq!(client.even_batch(1001, 1), 501);
        // Small writes still use every connection; nothing or no connection does not divide by 0.
        assert_eq!(client.even_batch(10, 3), 4);
        assert_eq!(client.even_batch(1, 3), 1);
        assert_eq!(client.even_batch(0, 3), 1);
        assert_eq!(client.even_batch(10, 0), 10);
    }

    #[test]
    fn bootstrap_lists_are_split_and_checked() {
        assert_eq!(AdminConfig::parse_bootstrap(" a:1, b:2 ,,"), vec!["a:1", "b:2"]);
    }
}
