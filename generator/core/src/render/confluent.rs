//! Which Apache Kafka release each Confluent Platform release ships, and the one the test suite
//! proves. The rendered nodes run Confluent's images (`confluentinc/cp-kafka`,
//! `confluentinc/cp-schema-registry`); the test cluster runs the Apache Kafka jars. A test
//! (tests/tests/kafka_version.rs) fails when the declared image and the test cluster drift apart.

/// Confluent Platform minor -> Apache Kafka minor, from Confluent's "Supported Versions and
/// Interoperability" table (docs.confluent.io, platform/current/installation/versions-interoperability).
/// Only KRaft-capable releases the templates can run are listed.
pub const PLATFORM_TO_APACHE_KAFKA: &[(&str, &str)] =
    &[("7.9", "3.9"), ("8.0", "4.0"), ("8.1", "4.1"), ("8.2", "4.2"), ("8.3", "4.3")];

/// The Apache Kafka minor release the test cluster runs (`KAFKA_VERSION` in tests/scripts/kafka.sh).
pub const TESTED_APACHE_KAFKA: &str = "4.2";

/// The Confluent Platform minor (`8.2`) of an image tag such as `8.2.1` or `8.2.1-1-ubi9`.
pub fn platform_minor(tag: &str) -> Option<&str> {
    let mut parts = tag.splitn(3, '.');
    let major = parts.next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let minor = parts.next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    Some(&tag[..major.len() + 1 + minor.len()])
}

/// The Apache Kafka minor that the Confluent Platform release of `tag` ships, if the table knows it.
pub fn apache_kafka_minor(tag: &str) -> Option<&'static str> {
    let platform = platform_minor(tag)?;
    PLATFORM_TO_APACHE_KAFKA.iter().find(|(cp, _)| *cp == platform).map(|(_, ak)| *ak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_by_minor_release() {
        assert_eq!(apache_kafka_minor("8.2.1"), Some("4.2"));
        assert_eq!(apache_kafka_minor("8.2.1-1-ubi9"), Some("4.2"));
        assert_eq!(apache_kafka_minor("7.9.1"), Some("3.9"));
        assert_eq!(apache_kafka_minor("8.20.0"), None);
        assert_eq!(apache_kafka_minor("latest"), None);
        assert_eq!(apache_kafka_minor("8"), None);
        assert_eq!(platform_minor("8.2"), Some("8.2"));
    }
}
