//! The reconciler: observe a Kafka cluster, compare it with a stage's desired state in a pure
//! function that returns a [`Plan`] of typed actions with reasons, print it, and apply it in the
//! fewest requests. Shared by `gen plan`/`gen apply` and the reconciler Lambda.
//!
//! - Ownership is explicit ([`ownership`]): only topics under the managed prefixes, and ACLs of
//!   managed principals or on managed topics, are ever changed; internal topics never.
//! - What can lose data (topic deletes, config resets) follows a [`DeletePolicy`]; decreasing
//!   partitions and changing the replication factor are always refused.
//! - Applying is idempotent: after a successful apply the next plan is empty.
//!
//! ```no_run
//! # async fn demo(client: kafka_admin::AdminClient, desired: kafka_platform_core::desired::DesiredState) -> kafka_reconcile::Result<()> {
//! use kafka_reconcile::{PasswordSource, PlanOptions, apply, observe, plan, render};
//! let observed = observe(&client, &desired).await?;
//! let plan = plan(&desired, &observed, PlanOptions::default());
//! print!("{}", render::text(&plan));
//! let report = apply(&client, &plan, &PasswordSource::Unavailable("none given".into())).await?;
//! assert!(report.is_success());
//! # Ok(()) }
//! ```

mod apply;
pub mod certificates;
pub mod controller_push;
mod error;
pub mod grants;
mod observe;
pub mod ownership;
mod passwords;
mod plan;
pub mod registry;
pub mod render;
pub mod renewal;
pub mod roll;
pub mod rollover;
mod served;
pub mod subjects;
#[cfg(test)]
mod testkit;

pub use apply::{ApplyReport, GRANTS_WAIT, Outcome, Pace, SCRAM_ITERATIONS, apply, apply_paced};
pub use error::{Error, Result};
pub use observe::{observe, observe_from};
pub use passwords::PasswordSource;
pub use plan::{
    Action, Change, ConfigDelta, DeletePolicy, ObservedCredential, ObservedState, ObservedTopic, Plan,
    PlanOptions, PlanSummary, Refusal, ScramSync, plan,
};
pub use served::{Progress, Served, await_served};

use kafka_platform_core::desired::{DesiredState, FORMAT_VERSION};
use kafka_platform_core::digest::sha256_hex;

/// Parses a shipped desired state, checking its SHA-256 (when given) and its format version.
pub fn parse_desired_state(text: &str, expected_sha256: Option<&str>) -> Result<DesiredState> {
    if let Some(expected) = expected_sha256 {
        let actual = sha256_hex(text);
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err(Error::DesiredState(format!(
                "SHA-256 is {actual} but {expected} was expected: the object is not the one the template was \
                 rendered with (re-upload it, or redeploy with the matching template)"
            )));
        }
    }
    let desired: DesiredState = serde_json::from_str(text)
        .map_err(|e| Error::DesiredState(format!("not a valid desired state: {e}")))?;
    if desired.format_version > FORMAT_VERSION {
        return Err(Error::DesiredState(format!(
            "format version {} is newer than this reconciler understands ({FORMAT_VERSION}); deploy a newer reconciler",
            desired.format_version
        )));
    }
    Ok(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_state_is_checked_against_its_hash_and_version() {
        let text = testkit::desired().to_json();
        let sha = sha256_hex(&text);
        assert_eq!(parse_desired_state(&text, Some(&sha)).unwrap(), testkit::desired());
        assert_eq!(parse_desired_state(&text, None).unwrap().stage, "dev");
        let e = parse_desired_state(&text, Some(&"0".repeat(64))).unwrap_err().to_string();
        assert!(e.contains("not the one the template was rendered with"), "{e}");
        let newer = text.replace("\"format_version\": 2", "\"format_version\": 99");
        let e = parse_desired_state(&newer, None).unwrap_err().to_string();
        assert!(e.contains("newer than this reconciler understands"), "{e}");
        assert!(parse_desired_state("{", None).is_err());
    }

    #[test]
    fn the_committed_desired_states_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        for stage in ["dev", "test", "acc", "prod"] {
            let text = std::fs::read_to_string(root.join(stage).join("desired-state.json")).unwrap();
            let d = parse_desired_state(&text, None).unwrap();
            let p = plan(&d, &ObservedState::default(), PlanOptions::default());
            assert!(!p.is_refused(), "{stage}: {:?}", p.refusals);
            assert_eq!(p.summary().topics_to_create, d.topics.len());
        }
    }
}
