//! The custom-resource Lambdas driven as on AWS, for the tests and `issue-test-cert`.
//!
//! [`Harness`] plays two AWS endpoints on 127.0.0.1 that cannot run here for real: the Lambda
//! Runtime API (the binaries poll `/next` and post their results, exactly as on AWS) and the
//! pre-signed S3 ResponseURL that CloudFormation reads. Everything behind the functions is real:
//! the release-independent debug binaries of this workspace, talking to moto server.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

/// moto's default account and the region the tests use.
pub const ACCOUNT: &str = "123456789012";
/// Region of every test.
pub const REGION: &str = "eu-west-1";
/// Log stream name given to the functions; failure reasons must name it.
pub const LOG_STREAM: &str = "2026/01/01/[$LATEST]0123456789abcdef";

/// A name unique to this test run, for parameters and stacks in the shared moto.
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!(
        "{label}-{:x}-{}-{}",
        nanos & 0xffff_ffff,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An SDK configuration for `endpoint` with the given credentials.
pub async fn sdk_config_for(endpoint: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ssm::config::SharedCredentialsProvider::new(
            aws_sdk_ssm::config::Credentials::new(key, secret, None, None, "tests"),
        ))
        .http_client(aws_smithy_http_client_for_tests())
        .build()
}

fn aws_smithy_http_client_for_tests() -> aws_sdk_ssm::config::SharedHttpClient {
    // Reuse the functions' own client setup: rustls with ring, nothing else in the tree.
    static CLIENT: OnceLock<aws_sdk_ssm::config::SharedHttpClient> = OnceLock::new();
    CLIENT.get_or_init(cfn_custom_resource::aws::https_client).clone()
}

/// One CloudFormation response PUT as the ResponseURL saw it.
#[derive(Clone, Debug)]
pub struct CfnAnswer {
    /// The JSON body.
    pub body: Value,
    /// The raw body.
    pub raw: String,
    /// The Content-Type header, which a pre-signed S3 URL signed without one would refuse.
    pub content_type: Option<String>,
}

impl CfnAnswer {
    /// "SUCCESS" or "FAILED".
    pub fn status(&self) -> &str {
        self.body["Status"].as_str().unwrap_or_default()
    }
    /// The reason of a failure.
    pub fn reason(&self) -> &str {
        self.body["Reason"].as_str().unwrap_or_default()
    }
    /// The physical resource id.
    pub fn physical_id(&self) -> &str {
        self.body["PhysicalResourceId"].as_str().unwrap_or_default()
    }
    /// One Data attribute.
    pub fn data(&self, key: &str) -> &str {
        self.body["Data"][key].as_str().unwrap_or_default()
    }
    /// Asserts SUCCESS and returns self.
    #[track_caller]
    pub fn expect_success(self) -> Self {
        assert_eq!(self.status(), "SUCCESS", "expected SUCCESS, got {}", self.raw);
        self
    }
    /// Asserts FAILED with a reason containing `needle` and the log stream, and returns self.
    #[track_caller]
    pub fn expect_failed(self, needle: &str) -> Self {
        assert_eq!(self.status(), "FAILED", "expected FAILED, got {}", self.raw);
        assert!(self.reason().contains(needle), "reason {:?} lacks {needle:?}", self.reason());
        assert!(self.reason().contains(LOG_STREAM), "reason {:?} lacks the log stream", self.reason());
        self
    }
}

#[derive(Default)]
struct Recorded {
    queue: VecDeque<(String, u64, Value)>,
    runtime_results: HashMap<String, (String, String)>,
    answers: HashMap<String, CfnAnswer>,
    init_errors: Vec<String>,
    first_next: Option<Instant>,
    answered_at: HashMap<String, Instant>,
}

type Shared = Arc<Mutex<Recorded>>;

/// The Runtime API and ResponseURL endpoint.
pub struct Harness {
    addr: SocketAddr,
    state: Shared,
    stack_id: String,
    counter: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    /// Starts both endpoints on an ephemeral 127.0.0.1 port.
    pub async fn start() -> Harness {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/cfn-response/{token}", put(cfn_response))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Harness {
            addr,
            state,
            stack_id: format!(
                "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{}/0f0e0d0c-0b0a-0908-0706-050403020100",
                unique("stack")
            ),
            counter: AtomicU64::new(0),
            server,
        }
    }

    /// The StackId every event of this harness carries.
    pub fn stack_id(&self) -> &str {
        &self.stack_id
    }

    /// Starts the executable at `path` against this Runtime API with `endpoint` as AWS.
    pub fn spawn_path(
        &self,
        path: &std::path::Path,
        endpoint: &str,
        extra_env: &[(&str, &str)],
    ) -> LambdaProcess {
        let binary = path.file_name().unwrap().to_string_lossy().into_owned();
        self.spawn_program(path, &[], &binary, endpoint, extra_env)
    }

    /// Like [`spawn_path`](Self::spawn_path) with arguments and a function name of its own, for a
    /// program that is not a bootstrap binary (the benchmark's Python peer: `python peer.py`).
    pub fn spawn_program(
        &self,
        path: &std::path::Path,
        args: &[&str],
        binary: &str,
        endpoint: &str,
        extra_env: &[(&str, &str)],
    ) -> LambdaProcess {
        let mut cmd = Command::new(path);
        cmd.args(args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", binary)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", LOG_STREAM)
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        LambdaProcess { child, logs, started }
    }

    /// A CloudFormation event for this harness's stack.
    pub fn event(
        &self,
        request_type: &str,
        resource_type: &str,
        logical_id: &str,
        physical_id: Option<&str>,
        properties: Value,
        old_properties: Option<Value>,
    ) -> Value {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut event = json!({
            "RequestType": request_type,
            "ServiceToken": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"),
            "ResponseURL": format!("http://{}/cfn-response/{n}", self.addr),
            "StackId": self.stack_id,
            "RequestId": format!("{}-{n}", unique("request")),
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": properties,
        });
        if let Some(id) = physical_id {
            event["PhysicalResourceId"] = json!(id);
        }
        if let Some(old) = old_properties {
            event["OldResourceProperties"] = old;
        }
        event
    }

    /// Hands `event` to the function with `deadline` to run and waits for both the
    /// CloudFormation answer and the function's result to the Runtime API.
    pub async fn invoke(&self, event: Value, deadline: Duration) -> CfnAnswer {
        self.invoke_full(event, deadline).await.0
    }

    /// Like [`invoke`](Self::invoke), also returning the Runtime API result
    /// (`("response" | "error", body)`).
    pub async fn invoke_full(&self, event: Value, deadline: Duration) -> (CfnAnswer, (String, String)) {
        let url = event["ResponseURL"].as_str().expect("events carry a ResponseURL").to_string();
        let token = url.rsplit('/').next().unwrap().to_string();
        let aws_request_id = unique("invocation");
        let deadline_ms =
            (SystemTime::now() + deadline).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        self.state.lock().unwrap().queue.push_back((aws_request_id.clone(), deadline_ms, event));
        let wait_until = Instant::now() + deadline + Duration::from_secs(30);
        loop {
            {
                let s = self.state.lock().unwrap();
                if let (Some(a), Some(r)) = (s.answers.get(&token), s.runtime_results.get(&aws_request_id)) {
                    return (a.clone(), r.clone());
                }
                assert!(s.init_errors.is_empty(), "the function failed to start: {:?}", s.init_errors);
            }
            assert!(Instant::now() < wait_until, "no answer to CloudFormation within the deadline + 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Invokes an event without a ResponseURL and returns the Runtime API result.
    pub async fn invoke_unanswerable(&self, event: Value) -> (String, String) {
        let aws_request_id = unique("invocation");
        let deadline_ms =
            (SystemTime::now() + Duration::from_secs(30)).duration_since(UNIX_EPOCH).unwrap().as_millis()
                as u64;
        self.state.lock().unwrap().queue.push_back((aws_request_id.clone(), deadline_ms, event));
        for _ in 0..1500 {
            if let Some(r) = self.state.lock().unwrap().runtime_results.get(&aws_request_id) {
                return r.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no Runtime API result within 30 s");
    }

    /// Every response body the ResponseURL received, for secret scans.
    pub fn all_answers(&self) -> Vec<String> {
        self.state.lock().unwrap().answers.values().map(|a| a.raw.clone()).collect()
    }

    /// Every Runtime API result body, for secret scans.
    pub fn all_runtime_results(&self) -> Vec<String> {
        self.state.lock().unwrap().runtime_results.values().map(|(_, b)| b.clone()).collect()
    }

    /// When the first `/next` call arrived.
    pub fn first_next(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_next
    }

    /// When the ResponseURL of `event` received its answer.
    pub fn answered_at(&self, event: &Value) -> Option<Instant> {
        let token = event["ResponseURL"].as_str()?.rsplit('/').next()?;
        self.state.lock().unwrap().answered_at.get(token).copied()
    }
}

async fn next(State(state): State<Shared>) -> Response {
    // Long poll, like the real Runtime API.
    loop {
        {
            let mut s = state.lock().unwrap();
            s.first_next.get_or_insert_with(Instant::now);
            if let Some((id, deadline_ms, event)) = s.queue.pop_front() {
                let mut headers = HeaderMap::new();
                headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
                headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline_ms));
                headers.insert(
                    "lambda-runtime-invoked-function-arn",
                    HeaderValue::from_str(&format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"))
                        .unwrap(),
                );
                headers.insert(
                    "lambda-runtime-trace-id",
                    HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
                );
                headers.insert("content-type", HeaderValue::from_static("application/json"));
                return (StatusCode::OK, headers, event.to_string()).into_response();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn invocation_response(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    state.lock().unwrap().runtime_results.insert(id, ("response".into(), body));
    StatusCode::ACCEPTED
}

async fn invocation_error(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    state.lock().unwrap().runtime_results.insert(id, ("error".into(), body));
    StatusCode::ACCEPTED
}

async fn init_error(State(state): State<Shared>, body: Bytes) -> StatusCode {
    state.lock().unwrap().init_errors.push(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

async fn cfn_response(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let content_type = headers.get("content-type").map(|v| v.to_str().unwrap_or_default().to_string());
    let mut s = state.lock().unwrap();
    s.answered_at.insert(token.clone(), Instant::now());
    s.answers.insert(token, CfnAnswer { body, raw, content_type });
    StatusCode::OK
}

/// A running Lambda binary; killed on drop.
pub struct LambdaProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

impl LambdaProcess {
    /// Everything the function printed so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Peak resident set size in KiB so far (VmHWM), for the benchmark figures.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
