//! `kafka.sh env-to-properties`: KAFKA_* settings (as in the ECS task definitions, Confluent image
//! convention) become the server.properties the test cluster boots from. Needs no running cluster.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

fn translate(env_file_text: &str) -> String {
    // Tests run in parallel: one file each.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("kafka-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("node-{}.env", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&file, env_file_text).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("env-to-properties")
        .arg(&file)
        // The caller's own KAFKA_* variables must not become broker settings.
        .env("KAFKA_TEST_BOOTSTRAP_SASL", "127.0.0.1:19092")
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn names_follow_the_confluent_image_convention() {
    let properties = translate(
        "KAFKA_NODE_ID=2\n\
         KAFKA_ADVERTISED_LISTENERS=SASL_SSL://b-2.kafka.internal:9096\n\
         KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG='org.apache.kafka.common.security.scram.ScramLoginModule required;'\n\
         KAFKA_SSL_PRINCIPAL_MAPPING_RULES='RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT'\n",
    );
    assert_eq!(
        properties,
        "advertised.listeners=SASL_SSL://b-2.kafka.internal:9096\n\
         listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
         node.id=2\n\
         ssl.principal.mapping.rules=RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT\n"
    );
}

#[test]
fn jvm_and_image_variables_are_not_broker_settings() {
    let properties = translate(
        "CLUSTER_ID=abc\nKAFKA_HEAP_OPTS='-Xmx1g'\nKAFKA_OPTS=-Dx=y\nKAFKA_JMX_PORT=9999\nKAFKA_LOG4J_ROOT_LOGLEVEL=WARN\n\
         KAFKA_LOG_DIRS=/var/lib/kafka/data\n",
    );
    assert_eq!(properties, "log.dirs=/var/lib/kafka/data\n");
}

#[test]
fn multi_line_pem_values_become_escaped_single_lines() {
    // ECS injects PEM secrets as whole multi-line values; Java properties read \n back as newlines.
    let properties = translate(
        "KAFKA_SSL_KEYSTORE_CERTIFICATE_CHAIN=$'-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----'\n\
         KAFKA_SSL_TRUSTSTORE_TYPE=PEM\n",
    );
    assert_eq!(
        properties,
        "ssl.keystore.certificate.chain=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\n\
         ssl.truststore.type=PEM\n"
    );
}
