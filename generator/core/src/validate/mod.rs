//! Rules of the projects declared for a stage. Every finding has a rule id;
//! docs/config-reference.md lists them all.
//!
//! KP0xx files and syntax, KP1xx cluster settings (in `resolve`), KP2xx topics, KP3xx service
//! accounts and access, KP4xx CloudFormation limits.

pub mod kafka_configs;
pub mod projects;
pub mod subjects;
