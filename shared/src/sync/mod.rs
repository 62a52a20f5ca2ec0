//! The sync engine ([`engine`]): gather (reads only, [`gather`]) → rules (pure,
//! [`rules`]) → a plan (a plain value, [`crate::model::plan`]) → apply (the only writer,
//! [`apply`]). One scope ([`crate::model::scope::Scope`]) says what a run covers; a dry
//! run stops at the plan.

pub(crate) mod apply;
pub mod engine;
pub mod gather;
pub mod hours;
pub mod link;
pub mod people;
pub mod remove;
pub mod rules;
pub mod webhooks;

pub use crate::model::account::Switches;
pub use crate::model::plan::{
    ClientToCreate, ImportPlan, PersonToCreate, ProjectToCreate, RecordKind, Skip, SkipReason,
};
pub use crate::model::report::{
    summarize_skips, ActualsReport, Capped, Counts, Failure, ImportReport, Lookup, Named, SkipGroup,
};
pub use engine::Mode;
pub use rules::import::{plan_import, ClockifyState, LinkedInRunn};

use crate::clockify::ClockifyClient;
use crate::error::{ApiError, FailureClass};
use crate::model::account::{AccountId, AccountSettings};
use crate::runn::{Reference, RunnClient};
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use chrono_tz::Tz;
use futures::{Stream, TryStreamExt};
use tokio::time::Instant;

/// The role new people get until someone in Runn gives them a real one.
pub const UNKNOWN_ROLE: &str = "Unknown";

/// The target of the events that report each record created (the command line shows
/// them as a progress display).
pub const PROGRESS: &str = "runn_clockify::progress";

/// The target of the progress events of day totals written.
pub const ACTUALS_PROGRESS: &str = "runn_clockify::actuals";

/// Days synced per chunk: with a day's margin each side the Clockify read is 31 days, the
/// most one detailed report takes on every plan.
pub const CHUNK_DAYS: i64 = 29;

/// Everything a sync of one account needs to reach.
pub struct Ctx<'a> {
    pub account: &'a AccountId,
    pub settings: &'a AccountSettings,
    pub clockify: &'a ClockifyClient,
    pub runn: &'a RunnClient,
    pub store: &'a dyn Store,
}

/// Where a run reads the decisions on link suggestions and records what it created.
#[derive(Clone, Copy)]
pub struct Origins<'a> {
    pub store: &'a dyn crate::store::OriginStore,
    pub account: &'a AccountId,
    pub run_id: &'a str,
}

impl<'a> Origins<'a> {
    /// Keeps records the run created, once Runn confirmed them.
    pub(crate) async fn record(
        &self,
        created: &[crate::model::links::CreatedRecord],
    ) -> Result<(), StoreError> {
        if created.is_empty() {
            return Ok(());
        }
        self.store.record_created(self.account, created).await
    }

    /// A record the run created, kept once Runn confirmed it.
    pub(crate) fn created(
        &self,
        kind: crate::model::links::LinkKind,
        runn_id: i64,
        clockify_id: &str,
        name: &str,
    ) -> crate::model::links::CreatedRecord {
        crate::model::links::CreatedRecord {
            kind,
            runn_id,
            clockify_id: clockify_id.to_owned(),
            name: name.to_owned(),
            run_id: self.run_id.to_owned(),
        }
    }
}

/// Today in the account's zone.
pub fn today(tz: Tz) -> NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

/// Every item of a paged read.
pub(crate) async fn all<T, S>(pages: S) -> Result<Vec<T>, ApiError>
where
    S: Stream<Item = Result<Vec<T>, ApiError>>,
{
    let pages: Vec<Vec<T>> = pages.try_collect().await?;
    Ok(pages.into_iter().flatten().collect())
}

/// The Clockify id a Runn record carries. The reference name is matched whatever its
/// case and surrounding spaces: customers type it by hand ("clockify", " CLOCKIFY ").
pub fn clockify_ref(refs: &[Reference]) -> Option<&str> {
    refs.iter()
        .find(|r| r.is_clockify())
        .map(|r| r.external_id.trim())
}

/// Limits on one run; a run that reaches one stops cleanly and reports `finished: false`.
#[derive(Clone, Copy, Default)]
pub struct RunLimits<'a> {
    /// Stop before starting a write after this instant (a Lambda's deadline, less a margin).
    pub deadline: Option<Instant>,
    /// Stop after this many writes.
    pub max_writes: Option<usize>,
    /// Asked before every write: a run whose integration was turned off meanwhile stops
    /// there, and writes nothing more.
    pub stop: Option<&'a dyn StopSignal>,
}

impl std::fmt::Debug for RunLimits<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLimits")
            .field("deadline", &self.deadline)
            .field("max_writes", &self.max_writes)
            .field("stop", &self.stop.is_some())
            .finish()
    }
}

/// Whether a run must stop before its next write, and why.
#[async_trait::async_trait]
pub trait StopSignal: Send + Sync {
    async fn why_stop(&self) -> Result<Option<String>, StoreError>;
}

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
