//! The version in production is the version proven: every Confluent Platform image the declarations
//! pin ships the Apache Kafka minor release that the test cluster (tests/scripts/kafka.sh) runs,
//! by Confluent's table in `render::confluent`. Needs no server.

use std::path::{Path, PathBuf};

use kafka_platform_core::render::confluent::{TESTED_APACHE_KAFKA, apache_kafka_minor};
use kafka_platform_core::{StageName, load_and_resolve};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `KAFKA_VERSION` of kafka.sh, e.g. `4.2.1`.
fn test_cluster_version() -> String {
    let script = std::fs::read_to_string(repository().join("tests/scripts/kafka.sh")).unwrap();
    let line = script.lines().find(|l| l.starts_with("KAFKA_VERSION=")).expect("kafka.sh sets KAFKA_VERSION");
    line["KAFKA_VERSION=".len()..].trim().to_string()
}

/// `4.2` of `4.2.1`.
fn minor(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

#[test]
fn the_test_cluster_runs_the_release_the_platform_declares_tested() {
    let version = test_cluster_version();
    assert_eq!(
        minor(&version),
        TESTED_APACHE_KAFKA,
        "kafka.sh runs Apache Kafka {version}; render::confluent::TESTED_APACHE_KAFKA says {TESTED_APACHE_KAFKA}"
    );
}

#[test]
fn every_declared_image_ships_the_kafka_release_the_tests_run() {
    let tested = minor(&test_cluster_version());
    for environments in ["environments", "tests/fixtures/local-environment"] {
        let root = repository().join(environments);
        let (models, findings) = load_and_resolve(&root, &StageName::ALL);
        assert!(!models.is_empty(), "{environments}: no stage resolves: {findings:?}");
        for (stage, model) in models {
            let image = &model.cluster.image;
            let context = format!("{environments} {stage}: {}", image.reference());
            let shipped = apache_kafka_minor(&image.tag).unwrap_or_else(|| {
                panic!("{context}: not a Confluent Platform release in render::confluent's table")
            });
            assert_eq!(
                shipped, tested,
                "{context} ships Apache Kafka {shipped}, the test cluster runs {tested}: pin the Confluent \
                 Platform release of Kafka {tested} (docs/kafka-admin.md), or move kafka.sh's KAFKA_VERSION"
            );
            // The Schema Registry belongs to the same Confluent Platform release.
            if let Some(sr) = &model.schema_registry {
                assert_eq!(sr.image.tag, image.tag, "{context}: Schema Registry {}", sr.image.reference());
            }
        }
    }
}

#[test]
fn a_drifted_tag_is_caught() {
    // The check above can fail: the image the templates pinned before (CP 7.9, Kafka 3.9) would.
    assert_ne!(apache_kafka_minor("7.9.1"), Some(minor(&test_cluster_version()).as_str()));
}
