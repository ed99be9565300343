//! The one error type of the crate.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop an observe or an apply as a whole (failures of single items are reported in
/// [`crate::ApplyReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Talking to Kafka failed.
    #[error(transparent)]
    Kafka(#[from] kafka_admin::Error),

    /// The desired state is unusable (unreadable, wrong hash, newer format).
    #[error("desired state: {0}")]
    DesiredState(String),

    /// SCRAM passwords could not be loaded.
    #[error("SCRAM passwords: {0}")]
    Passwords(String),

    /// The plan has refusals and must not be applied.
    #[error("the plan has {0} refused change(s); nothing was applied (see the plan for what to do)")]
    Refused(usize),
}
