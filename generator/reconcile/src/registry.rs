//! A client of the Schema Registry's REST API (the Confluent API, which Confluent's registry
//! serves at its root and Apicurio at `/apis/ccompat/v7`), and the observation of the subjects a
//! desired state declares.
//!
//! Registries differ in their messages, so only the HTTP status and the `error_code` of an answer
//! are interpreted. Apicurio answers `GET /config/{subject}` with NONE when the subject has no
//! level of its own, so the effective level is always read with `defaultToGlobal=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_platform_core::config::project::Compatibility;
use kafka_platform_core::desired::{DesiredState, DesiredSubject};
use serde::Deserialize;
use serde_json::{Value, json};

/// Subject not found (Confluent API error code).
const SUBJECT_NOT_FOUND: i64 = 40401;
/// Version not found.
const VERSION_NOT_FOUND: i64 = 40402;
/// Schema not found under the subject.
const SCHEMA_NOT_FOUND: i64 = 40403;
/// Apicurio caps subject listings at this many entries.
pub const LISTING_CAP: usize = 1000;

/// A failed request: the status and `error_code` when the registry answered, and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct RegistryError {
    /// The request, e.g. `POST /subjects/orders.placed.v1-value/versions`.
    pub what: String,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The registry's `error_code`, when the answer had one.
    pub error_code: Option<i64>,
    detail: String,
}

/// Basic-auth credentials (never printed).
#[derive(Clone)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth({}, <redacted>)", self.user)
    }
}

/// The REST client.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: reqwest::Url,
    auth: Option<BasicAuth>,
}

/// The outcome of a compatibility check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompatibilityCheck {
    /// Not asked (new subject, schema already registered, or references not registered yet).
    NotChecked,
    /// The registry accepts it as the next version.
    Compatible,
    /// The registry refuses it; its messages, when it gives any.
    Incompatible(Vec<String>),
    /// The registry cannot check it in advance (Apicurio 3.3 answers 422 to a check of a schema
    /// with references); it still checks when the schema is registered.
    Unavailable(String),
}

/// A declared subject as the registry has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSubject {
    /// Latest version; None when the subject does not exist (or is soft-deleted).
    pub latest_version: Option<u32>,
    /// The version holding exactly the declared schema and references, when registered.
    pub registered_version: Option<u32>,
    /// Effective compatibility (the subject's, else the global level).
    pub compatibility: Option<Compatibility>,
    /// Whether the declared schema may become the next version.
    pub check: CompatibilityCheck,
    /// Versions of the referenced subjects' declared schemas, where they are registered.
    pub reference_versions: BTreeMap<String, u32>,
}

/// What the plan compares: the declared subjects and every subject the registry lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedRegistry {
    /// Declared subjects, by name.
    pub subjects: BTreeMap<String, ObservedSubject>,
    /// Live subjects.
    pub live: BTreeSet<String>,
    /// Soft-deleted subjects (listed with `deleted=true`, not live).
    pub soft_deleted: BTreeSet<String>,
    /// A listing reached the cap (Apicurio: 1,000): subjects beyond it are unknown, so no
    /// subject is deleted.
    pub listing_capped: bool,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

impl RegistryClient {
    /// A client of the API at `base_url` (e.g. `https://registry:8081` or
    /// `http://127.0.0.1:18081/apis/ccompat/v7`), trusting `ca_pem` in addition to the system
    /// roots, with optional basic auth.
    pub fn new(
        base_url: &str,
        ca_pem: Option<&[u8]>,
        auth: Option<BasicAuth>,
    ) -> Result<Self, RegistryError> {
        let fail = |detail: String| RegistryError {
            what: "registry client".into(),
            status: None,
            error_code: None,
            detail,
        };
        let mut base =
            reqwest::Url::parse(base_url).map_err(|e| fail(format!("`{base_url}` is not a URL: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent("kafka-platform-reconcile");
        if let Some(pem) = ca_pem {
            for cert in
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| fail(format!("CA file: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| fail(e.to_string()))?;
        Ok(RegistryClient { http, base, auth })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> reqwest::Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http URLs have paths");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends a request; Ok(None) for a 404 with one of `absent` as its error code.
    async fn send(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        absent: &[i64],
    ) -> Result<Option<Value>, RegistryError> {
        let what = format!("{method} /{}", segments.join("/"));
        let mut request = self
            .http
            .request(method, self.url(segments, query))
            .header("Accept", "application/vnd.schemaregistry.v1+json, application/json");
        if let Some(auth) = &self.auth {
            request = request.basic_auth(&auth.user, Some(&auth.password));
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/vnd.schemaregistry.v1+json").json(body);
        }
        let response = request.send().await.map_err(|e| RegistryError {
            what: what.clone(),
            status: None,
            error_code: None,
            detail: format!("no answer: {}", error_chain(&e)),
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            let value = if text.trim().is_empty() { Value::Null } else { parse_json(&what, &text)? };
            return Ok(Some(value));
        }
        let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
        let error_code = body.as_ref().and_then(|b| b.error_code);
        if status.as_u16() == 404 && error_code.is_some_and(|c| absent.contains(&c)) {
            return Ok(None);
        }
        let message = body.and_then(|b| b.message).unwrap_or_else(|| text.chars().take(300).collect());
        Err(RegistryError {
            what,
            status: Some(status.as_u16()),
            error_code,
            detail: format!(
                "HTTP {}{}: {message}",
                status.as_u16(),
                error_code.map(|c| format!(" (error_code {c})")).unwrap_or_default()
            ),
        })
    }

    /// Subject names; `deleted` includes soft-deleted ones.
    pub async fn subjects(&self, deleted: bool) -> Result<Vec<String>, RegistryError> {
        let query: &[(&str, &str)] = if deleted { &[("deleted", "true")] } else { &[] };
        let value = self.send(reqwest::Method::GET, &["subjects"], query, None, &[]).await?;
        Ok(serde_json::from_value(value.unwrap_or(Value::Null)).unwrap_or_default())
    }

    /// Latest version of a live subject.
    pub async fn latest_version(&self, subject: &str) -> Result<Option<u32>, RegistryError> {
        let value = self
            .send(
                reqwest::Method::GET,
                &["subjects", subject, "versions", "latest"],
                &[],
                None,
                &[SUBJECT_NOT_FOUND, VERSION_NOT_FOUND],
            )
            .await?;
        Ok(value.and_then(|v| v.get("version").and_then(Value::as_u64)).map(|v| v as u32))
    }

    /// The version under `subject` that holds exactly this schema and these references.
    pub async fn lookup(&self, subject: &str, body: &Value) -> Result<Option<u32>, RegistryError> {
        let value = self
            .send(
                reqwest::Method::POST,
                &["subjects", subject],
                &[],
                Some(body),
                &[SUBJECT_NOT_FOUND, SCHEMA_NOT_FOUND],
            )
            .await?;
        Ok(value.and_then(|v| v.get("version").and_then(Value::as_u64)).map(|v| v as u32))
    }

    /// Whether the schema may become the subject's next version (checked against the latest,
    /// or all versions for a transitive level), with the registry's messages.
    pub async fn check(&self, subject: &str, body: &Value) -> Result<CompatibilityCheck, RegistryError> {
        let answer = self
            .send(
                reqwest::Method::POST,
                &["compatibility", "subjects", subject, "versions", "latest"],
                &[("verbose", "true")],
                Some(body),
                &[],
            )
            .await;
        let value = match answer {
            Ok(value) => value.unwrap_or(Value::Null),
            Err(e) if e.status == Some(422) => return Ok(CompatibilityCheck::Unavailable(e.to_string())),
            Err(e) => return Err(e),
        };
        if value.get("is_compatible").and_then(Value::as_bool).unwrap_or(false) {
            return Ok(CompatibilityCheck::Compatible);
        }
        let messages = value
            .get("messages")
            .and_then(Value::as_array)
            .map(|m| m.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect())
            .unwrap_or_default();
        Ok(CompatibilityCheck::Incompatible(messages))
    }

    /// The subject's effective level; None when the registry does not know the subject.
    pub async fn compatibility(&self, subject: &str) -> Result<Option<Compatibility>, RegistryError> {
        let value = self
            .send(
                reqwest::Method::GET,
                &["config", subject],
                &[("defaultToGlobal", "true")],
                None,
                &[SUBJECT_NOT_FOUND],
            )
            .await?;
        Ok(value.as_ref().and_then(level_of))
    }

    /// The global level.
    pub async fn global_compatibility(&self) -> Result<Option<Compatibility>, RegistryError> {
        let value = self.send(reqwest::Method::GET, &["config"], &[], None, &[]).await?;
        Ok(value.as_ref().and_then(level_of))
    }

    /// Sets the subject's level.
    pub async fn set_compatibility(&self, subject: &str, level: Compatibility) -> Result<(), RegistryError> {
        let body = json!({ "compatibility": level.api_name() });
        self.send(reqwest::Method::PUT, &["config", subject], &[], Some(&body), &[]).await.map(|_| ())
    }

    /// Registers the schema under the subject; the registry's schema id.
    pub async fn register(&self, subject: &str, body: &Value) -> Result<u64, RegistryError> {
        let value = self
            .send(reqwest::Method::POST, &["subjects", subject, "versions"], &[], Some(body), &[])
            .await?;
        Ok(value.and_then(|v| v.get("id").and_then(Value::as_u64)).unwrap_or_default())
    }

    /// Deletes a subject: soft, or permanently (after a soft delete). Ok when it is gone already.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<(), RegistryError> {
        let query: &[(&str, &str)] = if permanent { &[("permanent", "true")] } else { &[] };
        self.send(reqwest::Method::DELETE, &["subjects", subject], query, None, &[SUBJECT_NOT_FOUND])
            .await
            .map(|_| ())
    }
}

/// The request body of a schema with its references (`version` of each resolved).
pub fn schema_body(subject: &DesiredSubject, versions: &BTreeMap<String, u32>) -> Option<Value> {
    let mut references = Vec::new();
    for r in &subject.references {
        let version = versions.get(&r.subject)?;
        references.push(json!({ "name": r.name, "subject": r.subject, "version": version }));
    }
    let mut body = json!({ "schema": subject.schema, "schemaType": subject.schema_type.api_name() });
    if !references.is_empty() {
        body["references"] = Value::Array(references);
    }
    Some(body)
}

fn level_of(value: &Value) -> Option<Compatibility> {
    let name = value.get("compatibilityLevel").or_else(|| value.get("compatibility"))?.as_str()?;
    Compatibility::from_api_name(name)
}

fn parse_json(what: &str, text: &str) -> Result<Value, RegistryError> {
    serde_json::from_str(text).map_err(|e| RegistryError {
        what: what.to_string(),
        status: None,
        error_code: None,
        detail: format!("answer is not JSON: {e}"),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Reads the declared subjects (in order, so a reference's version is known before the
/// subjects that use it are looked up) and the subject listings.
pub async fn observe_registry(
    client: &RegistryClient,
    desired: &DesiredState,
) -> Result<ObservedRegistry, RegistryError> {
    let mut observed = ObservedRegistry::default();
    let live = client.subjects(false).await?;
    let all = client.subjects(true).await?;
    observed.listing_capped = live.len() >= LISTING_CAP || all.len() >= LISTING_CAP;
    observed.live = live.into_iter().collect();
    observed.soft_deleted = all.into_iter().filter(|s| !observed.live.contains(s)).collect();
    let global = client.global_compatibility().await?;
    // Version of each declared subject's declared schema, where registered.
    let mut registered: BTreeMap<String, u32> = BTreeMap::new();
    for subject in &desired.subjects {
        let name = subject.subject.as_str();
        let exists = observed.live.contains(name);
        let latest_version = if exists { client.latest_version(name).await? } else { None };
        let reference_versions: BTreeMap<String, u32> = subject
            .references
            .iter()
            .filter_map(|r| registered.get(&r.subject).map(|v| (r.subject.clone(), *v)))
            .collect();
        let body = schema_body(subject, &reference_versions);
        let registered_version = match (&body, latest_version) {
            (Some(body), Some(_)) => client.lookup(name, body).await?,
            _ => None,
        };
        let check = match (&body, latest_version, registered_version) {
            (Some(body), Some(_), None) => client.check(name, body).await?,
            _ => CompatibilityCheck::NotChecked,
        };
        let compatibility = if exists { client.compatibility(name).await?.or(global) } else { global };
        if let Some(v) = registered_version {
            registered.insert(name.to_string(), v);
        }
        observed.subjects.insert(
            name.to_string(),
            ObservedSubject { latest_version, registered_version, compatibility, check, reference_versions },
        );
    }
    Ok(observed)
}
