//! The certificate renewal driver (docs/operators-guide.md, "Certificate renewal"), shared by
//! `gen certs renew` and the reconciler Lambda's daily run.
//!
//! For each certificate of the stage, in order: [`first_step`] (pure) decides what is due from the
//! schedule and the `<prefix>/superseded` record the certificate Lambda keeps after a renewal;
//! then renew (the [`Authority`]: the certificate Lambda, or its code in process for the CLI), push
//! the new key and chain to the node, check with fresh handshakes on every listener that it serves
//! the new serial ([`revocation_gate`]), and only then revoke the superseded serial. A failed push
//! or gate keeps the old certificate valid and is reported. The record makes every run resumable:
//! a renewal whose push did not happen is pushed by the next run, whatever the schedule says.
//! Client certificates (admin, service accounts, Schema Registry) are renewed in SSM only; their
//! superseded serial is revoked once the overlap ([`overlap_seconds`]) has passed.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{AdminClient, Secret, TlsConfig, served_certificate};
pub use kafka_platform_core::render::renewal::Target;
use serde::Serialize;

use crate::certificates::{
    CertificateFacts, DAY, RenewalState, Served, inspect_der, inspect_pem, listener_names, listeners_config,
    push_node_certificate, revocation_gate, schedule,
};
use crate::controller_push;

/// `<prefix>/superseded` as the certificate Lambda writes it (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    pub serial: String,
    /// Unix seconds of the renewal.
    pub superseded_at: i64,
    /// Unix seconds of the revocation; `None` while pending.
    pub revoked_at: Option<i64>,
}

impl Superseded {
    pub fn parse(text: &str) -> Option<Superseded> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Superseded {
            serial: v["Serial"].as_str()?.to_string(),
            superseded_at: v["SupersededAt"].as_i64()?,
            revoked_at: v["RevokedAt"].as_i64(),
        })
    }

    fn pending(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Who issues and revokes: the certificate Lambda (invoked) or its code (in process).
#[allow(async_fn_in_trait)]
pub trait Authority {
    /// Renews the certificate under `prefix`; returns the new serial.
    async fn renew(&self, prefix: &str) -> Result<String, String>;
    /// Revokes the certificate the last renewal of `prefix` superseded; returns its serial.
    async fn revoke_superseded(&self, prefix: &str) -> Result<String, String>;
}

/// Where the certificates are stored (SSM).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The leaf certificate PEM, `None` when the parameter does not exist.
    async fn certificate(&self, prefix: &str) -> Result<Option<String>, String>;
    /// The superseded record, `None` when there is none.
    async fn superseded(&self, prefix: &str) -> Result<Option<Superseded>, String>;
    /// The private key and the chain, leaf first (what a node is given).
    async fn node_material(&self, prefix: &str) -> Result<(Secret, String), String>;
}

/// What a certificate needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Nothing due.
    Nothing,
    /// Issue a new certificate.
    Renew,
    /// Give the node its current key and chain, check, then revoke.
    Push,
    /// A client certificate renewed at `since`: its readers have until `until` to take it.
    WaitOverlap { until: i64 },
    /// Revoke the superseded certificate.
    Revoke,
}

/// How long readers of a client certificate have to take the renewed one before the old one is
/// revoked: half the window (the old certificate, renewed in the window's first half, is valid at
/// least that long), at least a day.
pub fn overlap_seconds(renew_before_days: u32) -> i64 {
    i64::from((renew_before_days / 2).max(1)) * DAY
}

/// What a certificate needs next (pure). `force` renews one that is not due yet (`--now`).
pub fn first_step(
    target: &Target,
    state: Option<RenewalState>,
    pending: Option<&Superseded>,
    force: bool,
    now: i64,
    overlap: i64,
) -> Step {
    match (pending.filter(|s| s.pending()), target.node_id) {
        (Some(_), Some(_)) => Step::Push,
        (Some(s), None) if now >= s.superseded_at + overlap => Step::Revoke,
        (Some(s), None) => Step::WaitOverlap { until: s.superseded_at + overlap },
        (None, _) => match state {
            Some(RenewalState::Due | RenewalState::Expired) => Step::Renew,
            Some(_) if force => Step::Renew,
            _ => Step::Nothing,
        },
    }
}

/// What a run did with one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub name: String,
    /// The first step the run found due.
    pub step: Step,
    /// What was done, in order (`renewed 0a:..`, `pushed to node 1 (4 listeners)`, ...).
    pub done: Vec<String>,
    /// The serial the certificate has now.
    pub serial: Option<String>,
    /// Why the run stopped for this certificate; the old certificate stays valid.
    pub error: Option<String>,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub renew_before_days: u32,
    /// Renew the selected certificates even if not due.
    pub force: bool,
    /// Decide and report only.
    pub dry_run: bool,
    /// Only these names (empty: all).
    pub only: Vec<String>,
    pub now: i64,
    /// How long to wait for a pushed certificate to be served.
    pub gate_wait: Duration,
}

/// The Kafka side: the admin client and the trust for the served-certificate handshakes.
pub struct Cluster<'a> {
    pub client: &'a AdminClient,
    pub tls: &'a TlsConfig,
}

/// Runs the renewal over `targets` (see the module documentation). Certificates are taken one at
/// a time, nodes first, so that at most one node is between push and check at any moment.
pub async fn run(
    targets: &[Target],
    store: &impl Store,
    authority: &impl Authority,
    cluster: Option<&Cluster<'_>>,
    options: &Options,
) -> Result<Vec<Outcome>, String> {
    let mut facts: Vec<(String, CertificateFacts)> = Vec::new();
    let mut missing = Vec::new();
    for t in targets {
        match store.certificate(&t.parameter_prefix).await? {
            Some(pem) => {
                facts.push((t.name.clone(), inspect_pem(&pem).map_err(|e| format!("{}: {e}", t.name))?))
            }
            None => missing.push(t.name.clone()),
        }
    }
    let states: BTreeMap<String, (RenewalState, String)> =
        schedule(&facts, options.renew_before_days, options.now)
            .into_iter()
            .map(|s| (s.name, (s.state, s.serial)))
            .collect();
    let overlap = overlap_seconds(options.renew_before_days);
    let mut outcomes = Vec::new();
    for t in targets.iter().filter(|t| options.only.is_empty() || options.only.contains(&t.name)) {
        let state = states.get(&t.name);
        let mut outcome = Outcome {
            name: t.name.clone(),
            step: Step::Nothing,
            done: Vec::new(),
            serial: state.map(|s| s.1.clone()),
            error: None,
        };
        if missing.contains(&t.name) {
            outcome.error =
                Some(format!("{}/certificate does not exist; deploy the stage first", t.parameter_prefix));
            outcomes.push(outcome);
            continue;
        }
        let pending = store.superseded(&t.parameter_prefix).await?;
        outcome.step =
            first_step(t, state.map(|s| s.0), pending.as_ref(), options.force, options.now, overlap);
        if !options.dry_run {
            // Boxed: a certificate's steps (renew, push, handshakes, revoke) nest deep futures; the
            // reconciler Lambda's run then stays within rustc's layout depth limit.
            let driven = Box::pin(drive(t, outcome.step, authority, store, cluster, options, &mut outcome));
            if let Err(e) = driven.await {
                tracing::warn!(certificate = %t.name, error = %e, "renewal stopped");
                outcome.error = Some(e);
            }
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn drive(
    target: &Target,
    first: Step,
    authority: &impl Authority,
    store: &impl Store,
    cluster: Option<&Cluster<'_>>,
    options: &Options,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let prefix = &target.parameter_prefix;
    let mut step = first;
    if step == Step::Renew {
        let serial = authority.renew(prefix).await?;
        outcome.done.push(format!("renewed: {serial}"));
        outcome.serial = Some(serial);
        step = match target.node_id {
            Some(_) => Step::Push,
            None => Step::WaitOverlap { until: options.now + overlap_seconds(options.renew_before_days) },
        };
    }
    if step == Step::Push {
        let node = target.node_id.and_then(|n| i32::try_from(n).ok()).expect("only nodes are pushed");
        let cluster = cluster.ok_or("no Kafka connection to push the certificate with")?;
        let (key, chain) = store.node_material(prefix).await?;
        let serial = inspect_pem(&chain)?.serial;
        // A dedicated controller has no broker listener: it is pushed and checked through its own
        // controller listener (crate::controller_push).
        let route =
            if target.broker { None } else { Some(controller_push::connect(cluster.client, node).await?) };
        // Boxed like the drive above: the controller push opens and drives connections of its own.
        let pushed = match &route {
            None => push_node_certificate(cluster.client, node, &key, &chain).await,
            Some(r) => {
                Box::pin(controller_push::push_controller_certificate(
                    cluster.client,
                    r,
                    cluster.tls,
                    node,
                    &key,
                    &chain,
                ))
                .await
            }
        };
        let (client, host) = match &route {
            None => (cluster.client, advertised_host(cluster.client, node)),
            Some(r) => (&r.client, r.host().to_string()),
        };
        let served = match pushed {
            Ok(listeners) => {
                outcome.done.push(format!("pushed to node {node} ({} listeners)", listeners.len()));
                outcome.serial = Some(serial.clone());
                wait_until_served(client, cluster.tls, node, &host, &serial, options.gate_wait).await
            }
            Err(e) => Err(e),
        };
        if let Some(r) = route {
            r.client.close().await;
        }
        let served = served?;
        revocation_gate(&served, &serial).map_err(|waiting| {
            format!("node {node} does not serve {serial} everywhere; not revoking: {}", waiting.join("; "))
        })?;
        outcome.done.push(format!("node {node} serves {serial} on every listener"));
        step = Step::Revoke;
    }
    if step == Step::Revoke {
        let revoked = authority.revoke_superseded(prefix).await?;
        outcome.done.push(format!("revoked superseded {revoked}"));
    }
    Ok(())
}

/// The `host:port` of each listener of a node, from its `listeners` config; a wildcard or empty
/// host is the host the cluster advertises for the node.
pub fn listener_addresses(listeners: &str, advertised_host: &str) -> Vec<(String, String)> {
    let names = listener_names(listeners);
    listeners
        .split(',')
        .filter_map(|l| l.split_once("://").map(|(_, rest)| rest.trim()))
        .zip(names)
        .filter_map(|(rest, name)| {
            let (host, port) = rest.rsplit_once(':')?;
            let host = match host.trim_matches(['[', ']']) {
                "" | "0.0.0.0" | "::" => advertised_host,
                _ => host,
            };
            Some((name, format!("{host}:{port}")))
        })
        .collect()
}

async fn served_now(tls: &TlsConfig, addresses: &[(String, String)]) -> Served {
    let mut served = Served::new();
    for (name, address) in addresses {
        let der = served_certificate(address, tls, Duration::from_secs(10)).await;
        served.insert(name.clone(), der.ok().and_then(|d| inspect_der(&d).ok()).map(|f| f.serial));
    }
    served
}

/// The host a broker advertises (its metadata address).
pub(crate) fn advertised_host(client: &AdminClient, node: i32) -> String {
    let advertised = client.brokers().get(&node).cloned().unwrap_or_default();
    advertised.rsplit_once(':').map_or(advertised.as_str(), |(h, _)| h).to_string()
}

/// Fresh handshakes on every listener of the node until all serve `serial` or `wait` is over
/// (the node applies the change when it reads the config record). `client` reads the node's
/// `listeners` (its own config, from the node or its controller listener); wildcards are `host`.
async fn wait_until_served(
    client: &AdminClient,
    tls: &TlsConfig,
    node: i32,
    host: &str,
    serial: &str,
    wait: Duration,
) -> Result<Served, String> {
    let addresses = listener_addresses(&listeners_config(client, node).await?, host);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let served = served_now(tls, &addresses).await;
        if revocation_gate(&served, serial).is_ok() || tokio::time::Instant::now() >= deadline {
            return Ok(served);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The store on SSM. Key values are read with decryption and never logged.
pub struct SsmStore(pub aws_sdk_ssm::Client);

/// A parameter's value (decrypted when `decrypt`: the caller must not log it), `None` when the
/// parameter does not exist; the error names the parameter. Also the SCRAM passwords' read
/// (crate::passwords).
pub(crate) async fn ssm_value(
    client: &aws_sdk_ssm::Client,
    name: &str,
    decrypt: bool,
) -> Result<Option<String>, String> {
    match client.get_parameter().name(name).with_decryption(decrypt).send().await {
        Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Ok(None),
        Err(e) => Err(format!("ssm:GetParameter {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(&e))),
    }
}

impl SsmStore {
    async fn get(&self, name: &str, decrypt: bool) -> Result<Option<String>, String> {
        ssm_value(&self.0, name, decrypt).await
    }
}

impl Store for SsmStore {
    async fn certificate(&self, prefix: &str) -> Result<Option<String>, String> {
        self.get(&format!("{prefix}/certificate"), false).await
    }

    async fn superseded(&self, prefix: &str) -> Result<Option<Superseded>, String> {
        let name = format!("{prefix}/superseded");
        match self.get(&name, false).await? {
            Some(text) => Superseded::parse(&text).map(Some).ok_or_else(|| format!("{name} cannot be read")),
            None => Ok(None),
        }
    }

    async fn node_material(&self, prefix: &str) -> Result<(Secret, String), String> {
        let missing = |leaf: &str| format!("{prefix}/{leaf} does not exist");
        let certificate =
            self.get(&format!("{prefix}/certificate"), false).await?.ok_or_else(|| missing("certificate"))?;
        let chain = self.get(&format!("{prefix}/chain"), false).await?.ok_or_else(|| missing("chain"))?;
        let key =
            self.get(&format!("{prefix}/private-key"), true).await?.ok_or_else(|| missing("private-key"))?;
        Ok((Secret::new(key), format!("{}\n{}", certificate.trim_end(), chain)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Target {
        Target {
            name: "b0".into(),
            parameter_prefix: "/k/tls/nodes/b0".into(),
            node_id: Some(1),
            broker: true,
        }
    }

    fn client() -> Target {
        Target { name: "admin".into(), parameter_prefix: "/k/tls/admin".into(), node_id: None, broker: false }
    }

    fn record(at: i64, revoked: Option<i64>) -> Superseded {
        Superseded { serial: "01".into(), superseded_at: at, revoked_at: revoked }
    }

    #[test]
    fn due_certificates_renew_and_others_wait_for_their_day_unless_forced() {
        let overlap = overlap_seconds(30);
        assert_eq!(overlap, 15 * DAY);
        for (state, force, expected) in [
            (Some(RenewalState::Valid), false, Step::Nothing),
            (Some(RenewalState::InWindow), false, Step::Nothing),
            (Some(RenewalState::Due), false, Step::Renew),
            (Some(RenewalState::Expired), false, Step::Renew),
            (Some(RenewalState::Valid), true, Step::Renew),
            (None, true, Step::Nothing),
        ] {
            assert_eq!(first_step(&node(), state, None, force, 0, overlap), expected, "{state:?} {force}");
        }
        // A revoked record is history: the schedule decides again.
        let done = record(0, Some(5));
        assert_eq!(
            first_step(&node(), Some(RenewalState::Valid), Some(&done), false, 9, overlap),
            Step::Nothing
        );
    }

    #[test]
    fn an_interrupted_node_renewal_resumes_at_the_push_whatever_the_schedule() {
        let pending = record(100, None);
        for force in [false, true] {
            let step = first_step(&node(), Some(RenewalState::Valid), Some(&pending), force, 200, DAY);
            assert_eq!(step, Step::Push);
        }
    }

    #[test]
    fn a_client_certificate_is_revoked_only_after_the_overlap() {
        let pending = record(1000, None);
        let before =
            first_step(&client(), Some(RenewalState::Valid), Some(&pending), true, 1000 + DAY - 1, DAY);
        assert_eq!(before, Step::WaitOverlap { until: 1000 + DAY });
        let after = first_step(&client(), Some(RenewalState::Valid), Some(&pending), false, 1000 + DAY, DAY);
        assert_eq!(after, Step::Revoke);
    }

    #[test]
    fn listener_addresses_use_the_advertised_host_for_wildcards() {
        let got = listener_addresses(
            "CONTROLLER://0.0.0.0:9097, MTLS://:9095,INTERNAL://b0.internal:9093",
            "b0.kafka",
        );
        assert_eq!(
            got,
            [
                ("controller".to_string(), "b0.kafka:9097".to_string()),
                ("mtls".into(), "b0.kafka:9095".into()),
                ("internal".into(), "b0.internal:9093".into()),
            ]
        );
    }

    #[test]
    fn the_lambdas_record_is_read() {
        let text =
            r#"{"CertificateArn":"a","Serial":"0a:0b","NotAfter":"x","SupersededAt":7,"RevokedAt":null}"#;
        assert_eq!(
            Superseded::parse(text),
            Some(Superseded { serial: "0a:0b".into(), superseded_at: 7, revoked_at: None })
        );
        assert_eq!(Superseded::parse("{}"), None);
    }
}
