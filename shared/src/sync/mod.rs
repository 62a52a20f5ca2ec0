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

/// A sync that failed: a service, or the store; or one stopped before a write because
/// its integration was turned off meanwhile.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stopped before writing more: {0}")]
    Stopped(String),
}

impl SyncError {
    pub fn class(&self) -> FailureClass {
        match self {
            SyncError::Api(e) => e.class(),
            SyncError::Store(e) => e.class(),
            SyncError::Stopped(_) => FailureClass::Permanent,
        }
    }
}
use tokio::time::Instant;

/// Counts writes against the run's limits.
pub(crate) struct Budget<'a> {
    limits: RunLimits<'a>,
    pub(crate) writes: usize,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(limits: RunLimits<'a>) -> Self {
        Self { limits, writes: 0 }
    }
    /// Takes one write from the budget, or says the run must stop here.
    pub(crate) async fn take(&mut self) -> Result<(), Halt> {
        self.check().await?;
        if self.limits.max_writes.is_some_and(|m| self.writes >= m) {
            return Err(Halt::Limit);
        }
        self.writes += 1;
        Ok(())
    }
    /// Whether the run may still write: time left, and its integration not turned off.
    pub(crate) async fn check(&self) -> Result<(), Halt> {
        if !self.time_left() {
            return Err(Halt::Limit);
        }
        if let Some(stop) = self.limits.stop {
            if let Some(why) = stop.why_stop().await? {
                return Err(Halt::Stopped(why));
            }
        }
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
    /// The integration was turned off: nothing more is written.
    Stopped(String),
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
