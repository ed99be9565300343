//! The stage names, apart from the stage settings so that project files can name stages without
//! importing the settings that name project types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The four OTAP stages, in promotion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StageName {
    Dev,
    Test,
    Acc,
    Prod,
}

impl StageName {
    /// All stages, lowest first.
    pub const ALL: [StageName; 4] = [StageName::Dev, StageName::Test, StageName::Acc, StageName::Prod];

    /// The lowercase name used in file names and resource names.
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Dev => "dev",
            StageName::Test => "test",
            StageName::Acc => "acc",
            StageName::Prod => "prod",
        }
    }

    /// Parses a lowercase stage name.
    pub fn parse(s: &str) -> Option<StageName> {
        StageName::ALL.into_iter().find(|stage| stage.as_str() == s)
    }

    /// The next stage towards production, if any.
    pub fn next(self) -> Option<StageName> {
        StageName::ALL.into_iter().find(|s| *s > self)
    }

    /// Whether the stage is treated like production: acc and prod. The one predicate behind every
    /// difference (stricter rules, termination protection, stack policy, retained data and logs).
    pub fn production_like(self) -> bool {
        self >= StageName::Acc
    }
}

impl std::fmt::Display for StageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
