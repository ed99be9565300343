//! `Custom::KafkaReconciler`: makes a stage's topics, ACLs and SCRAM credentials match the desired
//! state that `gen render` shipped to S3, from inside the VPC, with the admin's mTLS identity.
//!
//! - Create and Update: load the desired state (S3 object, SHA-256 checked), observe, plan, apply.
//!   A plan with refusals (partition decrease, replication change) fails the request with the
//!   refusals as the reason and applies nothing. Deletes and config resets are done only when
//!   `AllowDelete` is true; otherwise they are skipped and counted in `Skipped`.
//! - Delete: removes nothing unless `AllowDelete` is true; then every managed topic and ACL goes.
//! - With `SchemaRegistryUrl`, the desired state's subjects too (see [`subjects`]): planned before
//!   the Kafka changes (a refused subject fails the request, nothing applied), applied after them.
//! - `Data` holds counts and the desired state's hash, never a secret.
//!
//! Properties: `Stage`, `BootstrapServers`, `AdminTlsParameterPrefix` (SSM: `/private-key`,
//! `/certificate`, `/chain`), `AdminPasswordParameter` (accepted for the SASL listener; the
//! reconciler uses mTLS), `DesiredStateBucket`, `DesiredStateKey`, `DesiredStateSha256`,
//! `AllowDelete`, `SchemaRegistryUrl` (optional: the Confluent API's base URL), with
//! `SchemaRegistryUser` and `SchemaRegistryPasswordParameter` (optional: basic auth).

pub mod drift;
mod outcome;
pub mod renewal;
pub mod subjects;

use std::future::Future;
use std::pin::Pin;

use cfn_custom_resource::ssm::Parameters;
use cfn_custom_resource::{CustomResource, Error, Properties, Request, Result, Success};
use kafka_admin::{AdminClient, AdminConfig, TlsConfig};
use kafka_platform_core::desired::DesiredState;
use kafka_reconcile::{ApplyReport, DeletePolicy, PasswordSource, Plan, PlanOptions, ScramSync};

const PROPERTIES: &[&str] = &[
    "Stage",
    "BootstrapServers",
    "AdminTlsParameterPrefix",
    "AdminPasswordParameter",
    "DesiredStateBucket",
    "DesiredStateKey",
    "DesiredStateSha256",
    "AllowDelete",
    "SchemaRegistryUrl",
    "SchemaRegistryUser",
    "TrustBundleParameter",
    "SchemaRegistryPasswordParameter",
    "DebugGrantParameterPrefix",
];

/// Most refusals or failures named in a reason (CloudFormation shows a few hundred characters).
pub(crate) const MAX_LISTED: usize = 3;

/// How long an apply waits for every broker to serve its changes (`gen apply`'s default).
const SERVED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The validated properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Stage name; must match the desired state's.
    pub stage: String,
    /// SSM tree of the stage's debug grants (`gen access`); without it debug identities are left
    /// alone.
    pub debug_grants: Option<String>,
    /// `host:port` list of the mTLS listener.
    pub bootstrap: Vec<String>,
    /// SSM prefix of the admin's key, certificate and chain.
    pub tls_prefix: String,
    /// During a CA rollover: the SSM parameter with every CA the stage trusts, which verifies the
    /// nodes and the registry instead of the admin certificate's chain.
    pub trust_bundle: Option<String>,
    /// S3 bucket of the desired state.
    pub bucket: String,
    /// S3 key of the desired state.
    pub key: String,
    /// Expected hex SHA-256 of the desired state object.
    pub sha256: String,
    /// Whether deletes (and config resets) are done.
    pub allow_delete: bool,
    /// Base URL of the Schema Registry's Confluent API; without it subjects are not planned.
    pub schema_registry_url: Option<String>,
    /// The registry's user and password parameter; without them requests are anonymous.
    pub schema_registry_login: Option<subjects::RegistryLogin>,
}

impl Spec {
    /// Reads and checks the properties; errors name the property.
    pub fn from_properties(p: &Properties) -> Result<Spec> {
        p.deny_unknown(PROPERTIES)?;
        let bootstrap = AdminConfig::parse_bootstrap(&p.required_str("BootstrapServers")?);
        if bootstrap.is_empty() {
            return Err(Error::property("BootstrapServers", "is empty; expected host:port[,host:port...]"));
        }
        let sha256 = p.required_str("DesiredStateSha256")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::property("DesiredStateSha256", "must be 64 hexadecimal characters"));
        }
        Ok(Spec {
            stage: p.required_str("Stage")?,
            bootstrap,
            tls_prefix: p.required_str("AdminTlsParameterPrefix")?.trim_end_matches('/').to_string(),
            bucket: p.required_str("DesiredStateBucket")?,
            key: p.required_str("DesiredStateKey")?,
            sha256,
            allow_delete: p.optional_bool("AllowDelete")?.unwrap_or(false),
            schema_registry_url: registry_url(p)?,
            schema_registry_login: subjects::login(p)?,
            debug_grants: p.optional_str("DebugGrantParameterPrefix")?.filter(|s| !s.is_empty()),
            trust_bundle: p.optional_str("TrustBundleParameter")?.filter(|s| !s.is_empty()),
        })
    }

    /// The delete policy of Create and Update (and of the drift check).
    pub fn deletes(&self) -> DeletePolicy {
        if self.allow_delete { DeletePolicy::Allow } else { DeletePolicy::Skip }
    }

    /// The physical id: one reconciler per stage.
    pub fn physical_id(&self) -> String {
        format!("kafka-reconciler-{}", self.stage)
    }
}

/// `SchemaRegistryUrl`: an http(s) URL, or absent (an empty string counts as absent).
fn registry_url(p: &Properties) -> Result<Option<String>> {
    let Some(url) = p.optional_str("SchemaRegistryUrl")?.filter(|u| !u.is_empty()) else { return Ok(None) };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::property("SchemaRegistryUrl", "must be an https:// (or http://) URL"));
    }
    Ok(Some(url))
}

/// The resource, with its AWS clients.
pub struct KafkaReconciler {
    parameters: Parameters,
    ssm: aws_sdk_ssm::Client,
    s3: aws_sdk_s3::Client,
    /// Where custom-resource requests publish their outcome ([`outcome`]); none: not published.
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
}

impl KafkaReconciler {
    /// A resource using these clients.
    pub fn new(ssm: aws_sdk_ssm::Client, s3: aws_sdk_s3::Client) -> Self {
        KafkaReconciler { parameters: Parameters::new(ssm.clone()), ssm, s3, cloudwatch: None }
    }

    /// Publishes each custom-resource request's outcome as `ReconcilerFailures` through `cloudwatch`.
    pub fn with_cloudwatch(mut self, cloudwatch: aws_sdk_cloudwatch::Client) -> Self {
        self.cloudwatch = Some(cloudwatch);
        self
    }

    /// Reads the desired state from S3 and checks its hash, version and stage.
    async fn desired(&self, spec: &Spec) -> Result<DesiredState> {
        let object = self
            .s3
            .get_object()
            .bucket(&spec.bucket)
            .key(&spec.key)
            .send()
            .await
            .map_err(|e| Error::aws(format!("s3:GetObject s3://{}/{}", spec.bucket, spec.key), e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| Error::Refused(format!("reading s3://{}/{} failed: {e}", spec.bucket, spec.key)))?
            .into_bytes();
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::Refused(format!("s3://{}/{} is not UTF-8 text", spec.bucket, spec.key)))?;
        let desired = kafka_reconcile::parse_desired_state(text, Some(&spec.sha256))
            .map_err(|e| Error::Refused(format!("s3://{}/{}: {e}", spec.bucket, spec.key)))?;
        if desired.stage != spec.stage {
            return Err(Error::Refused(format!(
                "s3://{}/{} is the desired state of stage {}, not of {}",
                spec.bucket, spec.key, desired.stage, spec.stage
            )));
        }
        Ok(desired)
    }

    /// The admin's mTLS identity from SSM (key, certificate, chain); the chain's CA also verifies
    /// the brokers.
    async fn admin_tls(&self, spec: &Spec) -> Result<TlsConfig> {
        let name = |suffix: &str| format!("{}/{suffix}", spec.tls_prefix);
        let key = self.parameters.get_decrypted(&name("private-key")).await?;
        let certificate = self.parameters.get_decrypted(&name("certificate")).await?;
        let chain = self.parameters.get_decrypted(&name("chain")).await?;
        let identity = format!("{}\n{}", certificate.trim_end(), chain);
        let roots = self.chain(spec).await?;
        TlsConfig::with_client_certificate(roots.as_bytes(), identity.as_bytes(), key.as_bytes())
            .map_err(|e| Error::Refused(format!("admin TLS material under {}: {e}", spec.tls_prefix)))
    }

    /// The stage chain (verifies an `https://` registry, as it verifies the brokers); during a
    /// CA rollover the trust bundle (both CAs until the old one retires).
    async fn chain(&self, spec: &Spec) -> Result<String> {
        match &spec.trust_bundle {
            Some(bundle) => self.parameters.get_decrypted(bundle).await,
            None => self.parameters.get_decrypted(&format!("{}/chain", spec.tls_prefix)).await,
        }
    }

    /// Observes and plans the subjects when the registry is configured; Err when refused.
    async fn plan_subjects(&self, spec: &Spec, desired: &DesiredState) -> Result<Option<subjects::Subjects>> {
        let Some(url) = &spec.schema_registry_url else { return Ok(None) };
        let chain = self.chain(spec).await?;
        let auth = match &spec.schema_registry_login {
            Some(login) => Some(kafka_reconcile::registry::BasicAuth {
                user: login.user.clone(),
                password: self.parameters.get_decrypted(&login.password_parameter).await?,
            }),
            None => None,
        };
        subjects::plan(url, &chain, auth, desired, spec.deletes()).await.map(Some)
    }

    /// Connects, observes, plans and applies on a thread of its own (see [`off_thread`]).
    async fn session(
        &self,
        spec: &Spec,
        desired: DesiredState,
        options: PlanOptions,
    ) -> Result<(Plan, ApplyReport)> {
        let config = AdminConfig::new(spec.bootstrap.clone(), self.admin_tls(spec).await?);
        let ssm = self.ssm.clone();
        let grants = spec.debug_grants.clone();
        off_thread(move || async move {
            let client = AdminClient::connect(config)
                .await
                .map_err(|e| Error::Refused(format!("cannot connect to Kafka: {e}")))?;
            let result = reconcile(&client, &desired, options, ssm, grants.as_deref()).await;
            client.close().await;
            result
        })
        .await
    }
}

/// Runs a Kafka session on its own thread and current-thread runtime. The admin client's futures
/// are not provably `Send` to today's compiler (async closures inside), which the custom-resource
/// trait requires of a handler; a thread of its own needs only the inputs and result to be `Send`.
///
/// Dropping the returned future cancels the session: the custom-resource guard drops the handler
/// when it answers FAILED at the deadline, and no Kafka request may follow that answer. The
/// session's future is then dropped at its next await point (a request already sent may still
/// take effect on the broker; nothing after it is sent).
async fn off_thread<F, Fut, T>(make: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>>,
    T: Send + 'static,
{
    let (mut tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx
                    .send(Err(Error::Refused(format!("cannot start a runtime for the Kafka session: {e}"))));
                return;
            }
        };
        rt.block_on(async move {
            // Boxed: the session's future is laid out on its own, not inside this thread's (Phase).
            tokio::select! {
                result = Box::pin(make()) => {
                    let _ = tx.send(result);
                }
                () = tx.closed() => {
                    tracing::warn!("Kafka session cancelled: the request was already answered");
                }
            }
        });
    });
    rx.await.unwrap_or_else(|_| {
        Err(Error::Refused("the Kafka session ended abnormally (panic); see the log".into()))
    })
}

/// Observe, plan and apply; `Err` on refusals or on any failed change.
async fn reconcile(
    client: &AdminClient,
    desired: &DesiredState,
    options: PlanOptions,
    ssm: aws_sdk_ssm::Client,
    grants: Option<&str>,
) -> Result<(Plan, ApplyReport)> {
    let passwords = PasswordSource::Ssm(ssm.clone());
    // Observe, apply and the served check each boxed: see Phase (these futures are not Send).
    let mut observed = Box::pin(kafka_reconcile::observe(client, desired))
        .await
        .map_err(|e| Error::Refused(format!("cannot read the cluster's state: {e}")))?;
    // Which generation each SCRAM account's parameter holds, and whether one is pending.
    observed.credentials = passwords.credentials(desired).await;
    observed.grants = observe_grants(&ssm, grants).await;
    let plan = kafka_reconcile::plan(desired, &observed, options);
    tracing::info!(summary = %kafka_reconcile::render::summary_line(&plan), "plan");
    for line in kafka_reconcile::render::text(&plan).lines() {
        tracing::info!("{line}");
    }
    if plan.is_refused() {
        let listed: Vec<String> =
            plan.refusals.iter().take(MAX_LISTED).map(|r| format!("{}: {}", r.subject, r.message)).collect();
        return Err(Error::Refused(format!(
            "{} change(s) refused, nothing applied: {}{}",
            plan.refusals.len(),
            listed.join("; "),
            more(plan.refusals.len())
        )));
    }
    let report = Box::pin(kafka_reconcile::apply(client, &plan, &passwords))
        .await
        .map_err(|e| Error::Refused(e.to_string()))?;
    // Expired grants: their parameters once their ACLs and credential are gone.
    let unremoved = kafka_reconcile::grants::store::remove_expired(&ssm, &report).await;
    if !unremoved.is_empty() {
        return Err(Error::Refused(format!(
            "expired debug grants kept their parameters: {}",
            unremoved.join("; ")
        )));
    }
    let failed: Vec<_> = report.failed().collect();
    for f in &failed {
        tracing::error!(change = %kafka_reconcile::render::headline(&f.change), error = ?f.error, "change failed");
    }
    if !failed.is_empty() {
        let listed: Vec<String> = failed
            .iter()
            .take(MAX_LISTED)
            .map(|f| {
                format!(
                    "{}: {}",
                    kafka_reconcile::render::headline(&f.change),
                    f.error.as_deref().unwrap_or("")
                )
            })
            .collect();
        return Err(Error::Refused(format!(
            "{} of {} change(s) failed ({} applied; a retry applies only what is missing): {}{}",
            failed.len(),
            report.outcomes.len(),
            report.applied(),
            listed.join("; "),
            more(failed.len())
        )));
    }
    // Answer only once every broker serves the changes, so that a plan (or the drift check) right
    // after sees them; the template's Lambda timeout (900 s) leaves room for this bound.
    let served = Box::pin(kafka_reconcile::await_served(client, &report, SERVED_TIMEOUT, |p| {
        if !p.lagging.is_empty() {
            tracing::info!(progress = %p, "waiting for the brokers to serve the changes");
        }
    }))
    .await;
    if served.converged() {
        tracing::info!(progress = %served.last, rounds = served.rounds, "the brokers serve the changes");
    } else {
        // Applied all the same: failing would roll the stack back over changes that did happen.
        tracing::warn!(progress = %served.last, "not every broker serves the changes yet");
    }
    Ok((plan, report))
}

impl KafkaReconciler {
    async fn create_or_update(&self, request: &Request) -> Result<Success> {
        let spec = Spec::from_properties(&request.properties)?;
        let desired = self.desired(&spec).await?;
        let options = PlanOptions { deletes: spec.deletes(), scram: ScramSync::Missing, now: unix_now() };
        let (declared_topics, declared_acls) = (desired.topics.len(), desired.acls.len());
        let declared_subjects = desired.subjects.len();
        // Subjects are planned first: a refused schema fails the request before Kafka changes.
        let registry = phase(self.plan_subjects(&spec, &desired)).await?;
        let (plan, report) = phase(self.session(&spec, desired, options)).await?;
        let subjects_applied = match &registry {
            Some(r) => phase(r.apply()).await?,
            None => 0,
        };
        let sc = registry.as_ref().map(|r| subjects::Counts::of(&r.plan)).unwrap_or_default();
        let s = plan.summary();
        Ok(Success::new(spec.physical_id())
            .with("Stage", &spec.stage)
            .with("DesiredStateSha256", &spec.sha256)
            .with("DeclaredTopics", declared_topics.to_string())
            .with("DeclaredAcls", declared_acls.to_string())
            .with("TopicsCreated", s.topics_to_create.to_string())
            .with("PartitionsIncreased", s.partitions_to_increase.to_string())
            .with("TopicsReconfigured", s.topics_to_reconfigure.to_string())
            .with("TopicsDeleted", s.topics_to_delete.to_string())
            .with("AclsCreated", s.acls_to_create.to_string())
            .with("AclsDeleted", s.acls_to_delete.to_string())
            .with("ScramCredentialsWritten", s.scram_credentials_to_upsert.to_string())
            .with("CredentialsPromoted", s.credentials_to_promote.to_string())
            .with("ScramCredentialsDeleted", s.scram_credentials_to_delete.to_string())
            .with("Skipped", s.skipped.to_string())
            .with("Applied", report.applied().to_string())
            .with("DeclaredSubjects", declared_subjects.to_string())
            .with("SubjectsPlanned", registry.is_some().to_string())
            .with("SubjectsRegistered", sc.registered.to_string())
            .with("SubjectCompatibilityChanged", sc.compatibility_changed.to_string())
            .with("SubjectsDeleted", sc.deleted.to_string())
            .with("SubjectsSkipped", sc.skipped.to_string())
            .with("SubjectChangesApplied", subjects_applied.to_string()))
    }
}

/// Seconds since the Unix epoch (a rotated account's overlap is measured in them).
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The stage's debug grants, read after the cluster (a grant writes its record first); `None`
/// without a tree or when it cannot be read, and then the plan leaves debug identities alone.
pub(crate) async fn observe_grants(
    ssm: &aws_sdk_ssm::Client,
    prefix: Option<&str>,
) -> Option<kafka_reconcile::grants::ObservedGrants> {
    let store = kafka_reconcile::grants::store::GrantStore::new(ssm.clone(), prefix?);
    match store.list().await {
        Ok(grants) => Some(grants),
        Err(e) => {
            tracing::warn!(error = %e, "debug grants not planned");
            None
        }
    }
}

/// A phase of a request (drift check, renewal run, subjects, the Kafka session) as a boxed future
/// of erased type. The Lambda's futures nest deep (AWS SDK, HTTP and Kafka clients), and rustc
/// lays out and Send-checks a future with everything nested in it within one depth limit
/// (`recursion_limit`, 128): behind a box each phase is counted on its own, not on top of its
/// caller. Behaviour is unchanged; dropping the box drops the phase as before.
pub(crate) type Phase<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Boxes `future` as a [`Phase`].
pub fn phase<'a, T>(future: impl Future<Output = T> + Send + 'a) -> Phase<'a, T> {
    Box::pin(future)
}

pub(crate) fn more(n: usize) -> String {
    if n > MAX_LISTED { format!("; and {} more (see the log)", n - MAX_LISTED) } else { String::new() }
}

/// The desired state after the stack is gone: same ownership, nothing declared.
pub fn emptied(desired: &DesiredState) -> DesiredState {
    DesiredState { topics: Vec::new(), acls: Vec::new(), ..desired.clone() }
}

impl CustomResource for KafkaReconciler {
    async fn create(&self, request: &Request) -> Result<Success> {
        let result = phase(self.create_or_update(request)).await;
        self.publish_outcome(request, &result).await;
        result
    }

    async fn update(&self, request: &Request, _physical_id: &str, _old: &Properties) -> Result<Success> {
        // The physical id follows the stage; a new stage is a new reconciler (CloudFormation then
        // deletes the old one, which removes nothing unless its AllowDelete says so).
        let result = phase(self.create_or_update(request)).await;
        self.publish_outcome(request, &result).await;
        result
    }

    async fn delete(&self, request: &Request, physical_id: &str) -> Result<()> {
        let result = phase(self.delete_request(request, physical_id)).await;
        self.publish_outcome(request, &result).await;
        result
    }
}

impl KafkaReconciler {
    async fn delete_request(&self, request: &Request, physical_id: &str) -> Result<()> {
        let spec = match Spec::from_properties(&request.properties) {
            Ok(spec) if spec.allow_delete => spec,
            Ok(_) => {
                tracing::info!(physical_id, "AllowDelete is false: topics and ACLs stay on the cluster");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(physical_id, error = %e, "properties unreadable; removing nothing");
                return Ok(());
            }
        };
        let desired = self.desired(&spec).await?;
        let options =
            PlanOptions { deletes: DeletePolicy::Allow, scram: ScramSync::Missing, now: unix_now() };
        match phase(self.session(&spec, emptied(&desired), options)).await {
            Err(Error::Refused(reason)) if reason.starts_with("cannot connect to Kafka") => {
                // The cluster usually goes away with the same stack; nothing is left to remove then.
                tracing::warn!(%reason, "cluster unreachable on delete; nothing removed");
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn props(v: serde_json::Value) -> Properties {
        Properties::from_value(v).unwrap()
    }

    fn valid() -> serde_json::Value {
        json!({
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:x",
            "Stage": "dev",
            "BootstrapServers": "b-1:9095,b-2:9095",
            "AdminTlsParameterPrefix": "/kafka/dev/tls/admin/",
            "AdminPasswordParameter": "/kafka/dev/admin/password",
            "DesiredStateBucket": "artifacts",
            "DesiredStateKey": "desired/dev.json",
            "DesiredStateSha256": "a".repeat(64),
            "AllowDelete": "true",
        })
    }

    #[test]
    fn properties_are_read_and_checked() {
        let spec = Spec::from_properties(&props(valid())).unwrap();
        assert_eq!(spec.bootstrap, vec!["b-1:9095", "b-2:9095"]);
        assert_eq!(spec.tls_prefix, "/kafka/dev/tls/admin");
        assert_eq!(spec.trust_bundle, None);
        let mut v = valid();
        v["TrustBundleParameter"] = json!("/kafka/dev/ca/trust-bundle");
        let rollover = Spec::from_properties(&props(v)).unwrap();
        assert_eq!(rollover.trust_bundle.as_deref(), Some("/kafka/dev/ca/trust-bundle"));
        assert!(spec.allow_delete);
        assert_eq!(spec.physical_id(), "kafka-reconciler-dev");

        let mut v = valid();
        v["DesiredStateSha256"] = json!("xyz");
        let e = Spec::from_properties(&props(v)).unwrap_err().to_string();
        assert!(e.contains("DesiredStateSha256"), "{e}");
        let mut v = valid();
        v["Typo"] = json!("1");
        assert!(Spec::from_properties(&props(v)).unwrap_err().to_string().contains("Typo"));
        let mut v = valid();
        v.as_object_mut().unwrap().remove("AllowDelete");
        assert!(!Spec::from_properties(&props(v)).unwrap().allow_delete, "deletes are off by default");
        assert_eq!(Spec::from_properties(&props(valid())).unwrap().schema_registry_url, None);
        let mut v = valid();
        v["SchemaRegistryUrl"] = json!("https://schema-registry.kafka.dev.internal:8081");
        let url = Spec::from_properties(&props(v)).unwrap().schema_registry_url;
        assert_eq!(url.as_deref(), Some("https://schema-registry.kafka.dev.internal:8081"));
        let mut v = valid();
        v["SchemaRegistryUser"] = json!("reconciler");
        v["SchemaRegistryPasswordParameter"] =
            json!("/kafka/dev/secrets/schema-registry/reconciler/password");
        let login = Spec::from_properties(&props(v)).unwrap().schema_registry_login.unwrap();
        assert_eq!(login.user, "reconciler");
        let mut v = valid();
        v["SchemaRegistryUser"] = json!("reconciler");
        let e = Spec::from_properties(&props(v)).unwrap_err().to_string();
        assert!(e.contains("SchemaRegistryPasswordParameter"), "{e}");
        let mut v = valid();
        v["SchemaRegistryUrl"] = json!("schema-registry:8081");
        let e = Spec::from_properties(&props(v)).unwrap_err().to_string();
        assert!(e.contains("SchemaRegistryUrl"), "{e}");
    }

    /// Signals on a channel when dropped.
    struct DropSignal(std::sync::mpsc::Sender<()>);
    impl Drop for DropSignal {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    // What the custom-resource deadline guard does: abort the handler task. Before the fix, the
    // session kept running on its thread and this test waited in vain.
    #[tokio::test]
    async fn aborting_the_handler_stops_the_kafka_session() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
        let batches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = batches.clone();
        let handler = tokio::spawn(off_thread(move || async move {
            let _signal = DropSignal(dropped_tx);
            let _ = started_tx.send(());
            loop {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
            #[allow(unreachable_code)]
            Ok(())
        }));
        started_rx.await.unwrap();
        handler.abort();
        assert!(handler.await.unwrap_err().is_cancelled());
        let stopped = tokio::task::spawn_blocking(move || dropped_rx.recv_timeout(Duration::from_secs(60)));
        stopped.await.unwrap().expect("the session's future was dropped");
        // Dropped means stopped: the loop above cannot run another round.
        assert!(batches.load(std::sync::atomic::Ordering::SeqCst) > 0);
    }

    #[tokio::test]
    async fn a_finished_session_returns_its_result() {
        assert_eq!(off_thread(|| async { Ok(7) }).await.unwrap(), 7);
        let e = off_thread(|| async { Err::<(), _>(Error::Refused("no".into())) }).await.unwrap_err();
        assert_eq!(e.to_string(), "no");
    }

    #[test]
    fn the_emptied_state_keeps_ownership_and_declares_nothing() {
        let d = DesiredState {
            format_version: 1,
            stage: "dev".into(),
            managed_topic_prefixes: vec!["orders.".into()],
            allow_delete: true,
            projects: Vec::new(),
            topics: vec![],
            service_accounts: vec![],
            acls: vec![],
            subjects: Vec::new(),
            rotation_overlap_hours: 24,
        };
        let e = emptied(&d);
        assert_eq!(e.managed_topic_prefixes, d.managed_topic_prefixes);
        assert!(e.topics.is_empty() && e.acls.is_empty());
    }
}
