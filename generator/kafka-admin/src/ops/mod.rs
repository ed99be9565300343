//! The admin operations, one module per group of Kafka APIs; each adds methods to `AdminClient`.

pub(crate) mod acls;
pub(crate) mod cluster_health;
pub(crate) mod configs;
pub(crate) mod credentials;
pub(crate) mod log_dirs;
pub(crate) mod metadata;
pub(crate) mod topics;
