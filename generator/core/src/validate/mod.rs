//! Policy rules. Every finding has a rule id; docs/config-reference.md lists them all.
//!
//! KP0xx files and syntax, KP1xx cluster settings, KP2xx topics, KP3xx service accounts and access,
//! KP4xx CloudFormation limits.

pub mod cluster;
pub mod kafka_configs;
pub mod monitoring;
pub mod projects;
pub mod subjects;
