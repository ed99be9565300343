//! Broker and controller settings as the Confluent image takes them: `KAFKA_*` environment
//! variables (`KAFKA_FOO_BAR` -> `foo.bar`, `__` -> `_`, `___` -> `-`). The test suite boots a real
//! cluster from exactly these settings.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::model::{Node, StageModel, ports};
use crate::render::names;

/// The inline PEM settings the container's launcher sets from the ECS secrets (see
/// [`launcher_script`]): key, certificate chain and trusted CAs. Inline rather than a file, because
/// the reconciler renews a certificate without a restart by setting the same keys per listener as
/// dynamic broker configs, and Kafka refuses a listener that has both a key store file and an
/// inline key (docs/operators-guide.md, "Certificate renewal").
pub const KEYSTORE_KEY_ENV: &str = "KAFKA_SSL_KEYSTORE_KEY";
/// See [`KEYSTORE_KEY_ENV`].
pub const KEYSTORE_CHAIN_ENV: &str = "KAFKA_SSL_KEYSTORE_CERTIFICATE_CHAIN";
/// See [`KEYSTORE_KEY_ENV`].
pub const TRUSTSTORE_CERTIFICATES_ENV: &str = "KAFKA_SSL_TRUSTSTORE_CERTIFICATES";
pub use crate::render::names::DATA_DIR;

/// The environment variable through which a controller receives the admin's SCRAM password. Not
/// `KAFKA_*`, so that the image never writes it into the broker's properties.
pub const ADMIN_PASSWORD_ENV: &str = "ADMIN_SCRAM_PASSWORD";

/// Secrets a node container receives: (environment name, SSM parameter name). Controllers also get
/// the admin password, which they put into the bootstrap metadata when their storage is formatted.
pub fn node_secrets(model: &StageModel, node: &Node) -> Vec<(String, String)> {
    let prefix = names::node_tls_prefix(model, node);
    let mut secrets = vec![
        ("TLS_CERTIFICATE".into(), format!("{prefix}/certificate")),
        ("TLS_CHAIN".into(), format!("{prefix}/chain")),
        ("TLS_PRIVATE_KEY".into(), format!("{prefix}/private-key")),
    ];
    if model.ca.rollover().is_some() {
        // Both CAs while certificates of both exist: a node restarted mid-rollover trusts what
        // the running ones were pushed (the launcher prefers it to the node's own chain).
        secrets.push(("TLS_TRUST".into(), names::trust_bundle(model)));
    }
    if is_controller(model, node) {
        secrets.push((ADMIN_PASSWORD_ENV.into(), names::admin_password(model)));
    }
    secrets
}

/// Whether a node votes in the KRaft quorum (every node in combined mode).
pub fn is_controller(model: &StageModel, node: &Node) -> bool {
    model.cluster.combined() || model.cluster.controllers.contains(node)
}

/// The KRaft cluster id: stable per stage and account, 22 characters of URL-safe base64.
pub fn cluster_id(model: &StageModel) -> String {
    let digest = Sha256::digest(format!("{}/{}", model.account_id, model.name()));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    base64_url(&bytes)
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Principals with every right: the platform admin and the nodes themselves (by certificate CN).
pub fn super_users(model: &StageModel) -> String {
    let mut users = vec!["User:admin".to_string()];
    users.extend(
        model
            .cluster
            .brokers
            .iter()
            .chain(&model.cluster.controllers)
            .map(|n| format!("User:{}", n.dns_name)),
    );
    users.join(";")
}

/// The `KAFKA_*` (and `CLUSTER_ID`) environment of a node, sorted.
pub fn node_environment(model: &StageModel, node: &Node) -> BTreeMap<String, String> {
    let cluster = &model.cluster;
    let is_broker = cluster.brokers.contains(node);
    let is_controller = is_controller(model, node);
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };

    let roles = match (is_broker, is_controller) {
        (true, true) => "broker,controller",
        (true, false) => "broker",
        _ => "controller",
    };
    set("CLUSTER_ID", cluster_id(model));
    set("KAFKA_NODE_ID", node.node_id.to_string());
    set("KAFKA_PROCESS_ROLES", roles.into());
    set("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".into());
    set(
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        cluster
            .quorum()
            .iter()
            .map(|n| format!("{}@{}:{}", n.node_id, n.dns_name, ports::CONTROLLER))
            .collect::<Vec<_>>()
            .join(","),
    );
    set("KAFKA_LOG_DIRS", DATA_DIR.into());

    let mut listeners = Vec::new();
    let mut advertised = Vec::new();
    let mut protocols = vec!["CONTROLLER:SSL".to_string()];
    if is_controller {
        listeners.push(format!("CONTROLLER://0.0.0.0:{}", ports::CONTROLLER));
        set("KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH", "required".into());
    }
    if is_broker {
        let index = cluster.brokers.iter().position(|b| b == node).unwrap_or(0) as u32;
        let mut listener = |name: &str, port: u32, protocol: &str, advertise: String| {
            listeners.push(format!("{name}://0.0.0.0:{port}"));
            advertised.push(format!("{name}://{advertise}"));
            protocols.push(format!("{name}:{protocol}"));
        };
        listener("INTERNAL", ports::INTERNAL, "SSL", format!("{}:{}", node.dns_name, ports::INTERNAL));
        if cluster.scram {
            listener("SCRAM", ports::SCRAM, "SASL_SSL", format!("{}:{}", node.dns_name, ports::SCRAM));
        }
        if cluster.mtls {
            listener("MTLS", ports::MTLS, "SSL", format!("{}:{}", node.dns_name, ports::MTLS));
        }
        if let Some(public) = &model.public_endpoint {
            let host = public
                .dns_name
                .as_ref()
                .map(|d| format!("{}.{d}", node.name))
                .unwrap_or_else(|| node.dns_name.clone());
            listener("PUBLIC", ports::PUBLIC, "SASL_SSL", format!("{host}:{}", public.first_port + index));
        }
        if model.private_link.is_some() {
            listener(
                "PRIVATELINK",
                ports::PRIVATE_LINK,
                "SASL_SSL",
                format!("{}:{}", node.dns_name, ports::PRIVATE_LINK_FIRST + index),
            );
        }
        set("KAFKA_ADVERTISED_LISTENERS", advertised.join(","));
        set("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL".into());
        set("KAFKA_LISTENER_NAME_INTERNAL_SSL_CLIENT_AUTH", "required".into());
        if cluster.mtls {
            set("KAFKA_LISTENER_NAME_MTLS_SSL_CLIENT_AUTH", "required".into());
        }
        set("KAFKA_SASL_ENABLED_MECHANISMS", "SCRAM-SHA-512".into());
        for name in ["SCRAM", "PUBLIC", "PRIVATELINK"] {
            if protocols.iter().any(|p| p.starts_with(&format!("{name}:"))) {
                set(
                    &format!("KAFKA_LISTENER_NAME_{name}_SCRAM___SHA___512_SASL_JAAS_CONFIG"),
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
                );
            }
        }
        let policy = &model.topic_policy;
        let internal_rf = cluster.brokers.len().min(3).to_string();
        set("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false".into());
        set("KAFKA_DEFAULT_REPLICATION_FACTOR", policy.default_replication_factor.value.to_string());
        set("KAFKA_MIN_INSYNC_REPLICAS", policy.min_insync_replicas.value.to_string());
        set("KAFKA_NUM_PARTITIONS", policy.default_partitions.value.to_string());
        set("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", internal_rf.clone());
        set("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", internal_rf);
        set(
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
            policy.min_insync_replicas.value.min(cluster.brokers.len() as u32).to_string(),
        );
        set("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "false".into());
        set("KAFKA_HEAP_OPTS", format!("-Xms{0}m -Xmx{0}m", cluster.broker_heap_mib));
    } else {
        set("KAFKA_HEAP_OPTS", format!("-Xms{0}m -Xmx{0}m", cluster.controller_heap_mib));
    }
    set("KAFKA_LISTENERS", listeners.join(","));
    set("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", protocols.join(","));
    set("KAFKA_AUTHORIZER_CLASS_NAME", "org.apache.kafka.metadata.authorizer.StandardAuthorizer".into());
    set("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false".into());
    set("KAFKA_SUPER_USERS", super_users(model));
    set("KAFKA_SSL_PRINCIPAL_MAPPING_RULES", "RULE:^CN=([^,]+).*$/$1/,DEFAULT".into());
    set("KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "https".into());
    set("KAFKA_SSL_KEYSTORE_TYPE", "PEM".into());
    set("KAFKA_SSL_TRUSTSTORE_TYPE", "PEM".into());
    set("KAFKA_SSL_ENABLED_PROTOCOLS", "TLSv1.3,TLSv1.2".into());
    env
}

/// Where the image's `configure` step writes the broker properties the storage is formatted from.
pub const PROPERTIES_FILE: &str = "/etc/kafka/kafka.properties";

/// The shell function `format_storage PROPERTIES` of the launcher (`scripts/format-storage.sh`): on
/// first start only (an empty data directory), formats the storage with the admin's SCRAM
/// credential in the bootstrap metadata, which the controllers apply when the quorum first forms.
/// The test cluster (tests/scripts/kafka.sh) runs this same text, taken from `gen`.
///
/// The password reaches `kafka-storage` through a Java argument file on a pipe, so that no
/// process's arguments hold it, and only the tool's safe lines are printed: it echoes the
/// credential's salt and keys, and on a parse error parts of the password.
pub fn format_storage_function() -> String {
    script(include_str!("scripts/format-storage.sh"))
}

/// The shell function `pem_setting PEM` (`scripts/pem-setting.sh`): the PEM on one line, each line
/// break as the two characters `\n` (the replacement goes through variables, which every bash
/// version leaves as is).
pub fn pem_setting_function() -> String {
    script(include_str!("scripts/pem-setting.sh"))
}

/// The container command (`scripts/launcher.sh`): turn the PEM secrets into the inline key store
/// settings (newlines as `\n`, which the image writes verbatim and Java's properties loader turns
/// back into newlines) and drop the raw secrets from the environment; let the image write its
/// properties, format the storage (with the admin credential on a controller's first start), drop
/// the password, then start the image's own entrypoint, which writes the same properties again and
/// finds the storage formatted. The image's run step re-runs its configure step, so the settings
/// must stay in the environment: the key is readable only by the container's own user, as the
/// properties file is.
pub fn launcher_script() -> String {
    script(include_str!("scripts/launcher.sh"))
        .replace("@PEM_SETTING_FUNCTION@\n", &pem_setting_function())
        .replace("@FORMAT_STORAGE_FUNCTION@\n", &format_storage_function())
        .replace("@METRICS_STEP@\n", &crate::render::node_metrics::launcher_step())
}

/// A script file as rendered: without the lines that only speak to ShellCheck (tests/scripts/
/// shellcheck.sh checks the files as they are).
pub(crate) fn script(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("# shellcheck ")).flat_map(|l| [l, "\n"]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = base64_url(&[0xfb; 16]);
        assert_eq!(id.len(), 22);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn the_launcher_puts_each_pem_on_one_line_with_escaped_breaks() {
        // Runs the launcher's own function in bash: the image writes the value verbatim into its
        // properties file, where Java reads `\n` as a line break.
        let script = format!("{}pem_setting \"$1\"", pem_setting_function());
        let out = std::process::Command::new("bash")
            .args(["-c", &script, "_", "-----BEGIN X-----\nAB/+\n-----END X-----\n"])
            .output()
            .expect("bash runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "-----BEGIN X-----\\nAB/+\\n-----END X-----\\n");
        let launcher = launcher_script();
        assert!(!launcher.contains("/etc/kafka/secrets"), "no key file any more");
        let unfilled = launcher.lines().any(|l| l.starts_with('@') && l.ends_with('@'));
        assert!(!unfilled && !launcher.contains("shellcheck"), "placeholders filled: {launcher}");
        assert!(
            launcher.contains(&format!("format_storage {PROPERTIES_FILE}\nunset {ADMIN_PASSWORD_ENV}\n"))
        );
        assert!(format_storage_function().contains(&format!("${{{ADMIN_PASSWORD_ENV}:-}}")));
        for var in [KEYSTORE_KEY_ENV, KEYSTORE_CHAIN_ENV, TRUSTSTORE_CERTIFICATES_ENV] {
            assert!(launcher.contains(&format!("export {var}=\"$(pem_setting ")), "{var}");
        }
    }
}
