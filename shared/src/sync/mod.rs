//! The import rules, as plain data: given what Clockify holds and which Clockify ids Runn
//! already carries as references, decide what to create and what to skip (and why). A thin
//! layer applies the plan; the rules are tested here without a network.

pub mod actuals;
mod import;
pub mod names;
mod plan;
pub mod report;
pub mod timesheets;

pub use import::*;
pub use plan::*;
pub use report::{
    summarize_skips, Capped, Counts, Failure, ImportReport, Lookup, Named, SkipGroup,
};

use crate::error::{ApiError, FailureClass};
use crate::store::StoreError;

/// A sync that failed: a service, or the store.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    pub fn class(&self) -> FailureClass {
        match self {
            SyncError::Api(e) => e.class(),
            SyncError::Store(e) => e.class(),
        }
    }
}
use tokio::time::Instant;

/// Counts writes against the run's limits.
pub(crate) struct Budget {
    limits: RunLimits,
    pub(crate) writes: usize,
}

impl Budget {
    pub(crate) fn new(limits: RunLimits) -> Self {
        Self { limits, writes: 0 }
    }
    /// Takes one write from the budget, or says the run must stop here.
    pub(crate) fn take(&mut self) -> Result<(), Halt> {
        if !self.time_left() || self.limits.max_writes.is_some_and(|m| self.writes >= m) {
            return Err(Halt::Limit);
        }
        self.writes += 1;
        Ok(())
    }
    pub(crate) fn time_left(&self) -> bool {
        self.limits.deadline.is_none_or(|d| Instant::now() < d)
    }
}

/// Why a sync stopped before the end.
#[derive(Debug)]
pub(crate) enum Halt {
    /// A limit of the run (its deadline, a wait that would pass it, its write budget):
    /// stop cleanly, to be continued.
    Limit,
    Api(ApiError),
    Store(StoreError),
}

impl From<ApiError> for Halt {
    fn from(e: ApiError) -> Self {
        if e.is_out_of_time() {
            Halt::Limit
        } else {
            Halt::Api(e)
        }
    }
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Store(e)
    }
}
