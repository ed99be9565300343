//! Declarations as written in environments/: typed, with source locations.

pub mod load;
pub mod merge;
pub mod monitoring;
pub mod project;
pub mod stage;
pub mod stage_name;

pub use load::{Declarations, Declared, load};
pub use project::*;
pub use stage::*;
