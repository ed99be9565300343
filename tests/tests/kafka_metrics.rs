//! Every broker metric an alarm or the dashboard reads exists on the suite's real brokers: each node
//! of the test cluster runs the JMX exporter javaagent the rendered nodes run (same jar, same rules,
//! from `gen metrics-exporter-config`), and this test scrapes them.

mod kafka_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use kafka_common::env;
use kafka_platform_core::render::metrics::{self, BROKER_METRICS};

/// One scrape: metric name (labels dropped) -> value.
fn scrape(url: &str) -> BTreeMap<String, f64> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("URL with a path");
    let mut stream =
        TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot reach the exporter at {url}: {e}"));
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("response");
    assert!(
        body.starts_with("HTTP/1.1 200") || body.starts_with("HTTP/1.0 200"),
        "{url}: {}",
        &body[..80.min(body.len())]
    );
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            let name = name.split('{').next()?.to_string();
            Some((name, value.parse().ok()?))
        })
        .collect()
}

fn scrapes() -> Vec<BTreeMap<String, f64>> {
    env("KAFKA_TEST_METRICS_URLS").split(',').map(scrape).collect()
}

#[test]
fn every_broker_metric_of_the_contract_is_served_by_every_node() {
    // The test cluster runs combined nodes: each is broker and controller, so each serves all.
    for (i, samples) in scrapes().iter().enumerate() {
        for m in BROKER_METRICS {
            assert!(
                samples.contains_key(m.name),
                "node {} does not serve {} ({})",
                i + 1,
                m.name,
                m.object_name
            );
        }
    }
}

#[test]
fn exactly_one_node_is_the_active_controller() {
    // The alarm on active controllers reads the maximum over the nodes; this is what makes it 1.
    let active: f64 = scrapes().iter().map(|s| s[metrics::ACTIVE_CONTROLLERS]).sum();
    assert_eq!(active, 1.0);
    for s in scrapes() {
        assert!(s[metrics::HEAP_USED] > 0.0 && s[metrics::HEAP_USED] <= s[metrics::HEAP_MAX]);
    }
}

#[test]
fn the_cluster_runs_the_rendered_exporter_rules() {
    let running =
        std::fs::read_to_string(Path::new(&env("KAFKA_TEST_STATE_DIR")).join("metrics-exporter.yaml"))
            .expect("the exporter configuration kafka.sh wrote");
    assert_eq!(running, metrics::exporter_config());
}

/// Every metric in the exporter's namespace that an alarm or the dashboard of a committed stage
/// reads is one the brokers serve (the agent keeps the exporter's names). The disk metric is not in
/// that namespace: the drift check publishes each broker's own report (reconcile_drift proves it).
#[test]
fn every_kafka_metric_the_alarms_and_dashboards_use_is_served() {
    use kafka_platform_core::config::StageName;
    use kafka_platform_core::render::monitoring;
    let served: BTreeSet<String> = scrapes().into_iter().flat_map(|s| s.into_keys()).collect();
    let environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let (models, findings) = kafka_platform_core::load_and_resolve(&environments, &StageName::ALL);
    assert_eq!(models.len(), 4, "{findings:?}");
    let mut checked = BTreeSet::new();
    for model in models.values() {
        let used = monitoring::alarms(model)
            .into_iter()
            .map(|a| (a.namespace, a.metric))
            .chain(monitoring::dashboard_metrics(model));
        for (namespace, name) in used {
            if namespace == metrics::KAFKA_NAMESPACE {
                assert!(served.contains(name), "stage {} reads {name}, which no broker serves", model.stage);
                checked.insert(name);
            }
        }
    }
    assert_eq!(checked.len(), BROKER_METRICS.len(), "alarms and dashboards read {checked:?}");
}
