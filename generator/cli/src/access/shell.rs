//! `gen access shell`: the commands that start the stage's debug task with a grant's credential
//! and attach to it. Printed, never run.

use std::path::Path;

use kafka_platform_core::StageName;

pub(super) async fn run(_environments: &Path, _stage: StageName, _id: &str) -> Result<(), String> {
    Err("not yet".into())
}
