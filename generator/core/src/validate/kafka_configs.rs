//! The topic configs Kafka 3.x/4.x knows, with the type and range of their values.

/// The kind of value a topic config takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A long with an inclusive minimum.
    Long {
        min: i64,
    },
    /// An int with an inclusive minimum.
    Int {
        min: i64,
    },
    /// A ratio between 0 and 1.
    Ratio,
    Boolean,
    /// One of a fixed set.
    OneOf(&'static [&'static str]),
    /// A comma-separated list of a fixed set.
    ListOf(&'static [&'static str]),
}

const TOPIC_CONFIGS: &[(&str, ValueKind)] = &[
    ("cleanup.policy", ValueKind::ListOf(&["delete", "compact"])),
    ("compression.type", ValueKind::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"])),
    ("compression.gzip.level", ValueKind::Int { min: 1 }),
    ("compression.lz4.level", ValueKind::Int { min: 1 }),
    ("compression.zstd.level", ValueKind::Int { min: -131072 }),
    ("delete.retention.ms", ValueKind::Long { min: 0 }),
    ("file.delete.delay.ms", ValueKind::Long { min: 0 }),
    ("flush.messages", ValueKind::Long { min: 1 }),
    ("flush.ms", ValueKind::Long { min: 0 }),
    ("index.interval.bytes", ValueKind::Int { min: 0 }),
    ("local.retention.bytes", ValueKind::Long { min: -2 }),
    ("local.retention.ms", ValueKind::Long { min: -2 }),
    ("max.compaction.lag.ms", ValueKind::Long { min: 1 }),
    ("max.message.bytes", ValueKind::Int { min: 0 }),
    ("message.timestamp.after.max.ms", ValueKind::Long { min: 0 }),
    ("message.timestamp.before.max.ms", ValueKind::Long { min: 0 }),
    ("message.timestamp.type", ValueKind::OneOf(&["CreateTime", "LogAppendTime"])),
    ("min.cleanable.dirty.ratio", ValueKind::Ratio),
    ("min.compaction.lag.ms", ValueKind::Long { min: 0 }),
    ("min.insync.replicas", ValueKind::Int { min: 1 }),
    ("preallocate", ValueKind::Boolean),
    ("remote.storage.enable", ValueKind::Boolean),
    ("retention.bytes", ValueKind::Long { min: -1 }),
    ("retention.ms", ValueKind::Long { min: -1 }),
    ("segment.bytes", ValueKind::Int { min: 1_048_576 }),
    ("segment.index.bytes", ValueKind::Int { min: 4 }),
    ("segment.jitter.ms", ValueKind::Long { min: 0 }),
    ("segment.ms", ValueKind::Long { min: 1 }),
    ("unclean.leader.election.enable", ValueKind::Boolean),
];

/// The value kind of a topic config, or `None` for a key Kafka does not know.
pub fn spec(key: &str) -> Option<ValueKind> {
    TOPIC_CONFIGS.iter().find(|(k, _)| *k == key).map(|(_, kind)| *kind)
}

/// All known topic config keys.
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    TOPIC_CONFIGS.iter().map(|(k, _)| *k)
}

/// Checks `value` (as Kafka would receive it) against the kind of `key`; the error explains why.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    let Some(kind) = spec(key) else {
        return Err(format!("`{key}` is not a topic config"));
    };
    match kind {
        ValueKind::Long { min } | ValueKind::Int { min } => {
            let parsed: i64 =
                value.parse().map_err(|_| format!("{key} takes a whole number, not `{value}`"))?;
            if matches!(kind, ValueKind::Int { .. }) && i32::try_from(parsed).is_err() {
                return Err(format!("{key} = {parsed} does not fit in an int"));
            }
            if parsed < min {
                return Err(format!("{key} = {parsed} is below the minimum {min}"));
            }
        }
        ValueKind::Ratio => {
            let parsed: f64 =
                value.parse().map_err(|_| format!("{key} takes a number between 0 and 1, not `{value}`"))?;
            if !(0.0..=1.0).contains(&parsed) {
                return Err(format!("{key} = {parsed} is not between 0 and 1"));
            }
        }
        ValueKind::Boolean => {
            if value != "true" && value != "false" {
                return Err(format!("{key} takes true or false, not `{value}`"));
            }
        }
        ValueKind::OneOf(allowed) => {
            if !allowed.contains(&value) {
                return Err(format!("{key} takes one of {}, not `{value}`", allowed.join(", ")));
            }
        }
        ValueKind::ListOf(allowed) => {
            for item in value.split(',').map(str::trim) {
                if !allowed.contains(&item) {
                    return Err(format!("{key} takes a list of {}, not `{item}`", allowed.join(", ")));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_accepts_minus_one_and_rejects_other_negatives() {
        assert!(check_value("retention.ms", "-1").is_ok());
        assert!(check_value("retention.ms", "-2").is_err());
        assert!(check_value("retention.ms", "7d").is_err());
    }

    #[test]
    fn cleanup_policy_takes_a_list_of_known_values() {
        assert!(check_value("cleanup.policy", "compact,delete").is_ok());
        assert!(check_value("cleanup.policy", "compacted").is_err());
    }

    #[test]
    fn int_configs_must_fit_in_an_int() {
        assert!(check_value("max.message.bytes", "1048588").is_ok());
        assert!(check_value("max.message.bytes", "99999999999").is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(check_value("retention.hours", "1").is_err());
        assert!(spec("min.insync.replicas").is_some());
    }

    #[test]
    fn ratios_and_booleans() {
        assert!(check_value("min.cleanable.dirty.ratio", "0.5").is_ok());
        assert!(check_value("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(check_value("preallocate", "yes").is_err());
    }
}
