//! The import rules, as plain data: given what Clockify holds and which Clockify ids Runn
//! already carries as references, decide what to create and what to skip (and why). A thin
//! layer applies the plan; the rules are tested here without a network.

mod import;
pub mod names;
mod plan;
pub mod report;

pub use import::*;
pub use plan::*;
pub use report::{
    summarize_skips, Capped, Counts, Failure, ImportReport, Lookup, Named, SkipGroup,
};
