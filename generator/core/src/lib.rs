//! The pure core of the Kafka platform: declarations -> validated model -> CloudFormation templates,
//! and desired state for the reconciler. No network, no async.

pub mod config;
pub mod diagnostics;
pub mod span;
