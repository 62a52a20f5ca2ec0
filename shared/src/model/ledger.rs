//! The ledger: every day total this project wrote to Runn, and whether the timesheet
//! sync or the weekly autofill wrote it. It is written before Runn is, so nothing
//! written can be missing from it.

use crate::ids::{RunnPersonId, RunnProjectId, RunnRoleId};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One day total in Runn: Runn's upsert key (we send no workstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DayKey {
    pub person: RunnPersonId,
    pub project: RunnProjectId,
    pub role: RunnRoleId,
    pub date: NaiveDate,
}

/// Who wrote a day total: the timesheet sync, or the weekly autofill's 0; or nobody here:
/// Runn held the wanted total before the sync ever wrote it (entered by hand, or by an
/// integration before this one), and the ledger only adopted it, so the sync keeps it in
/// step from then on but a removal never deletes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Sync,
    Autofill,
    Adopted,
}

/// A day total this project wrote (or is about to write: the ledger is written ahead of
/// Runn, so nothing it wrote can be missing from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub billable: u32,
    pub nonbillable: u32,
    pub source: Source,
}

impl Written {
    /// The same totals, whoever wrote them.
    pub fn same_totals(&self, other: &Written) -> bool {
        (self.billable, self.nonbillable) == (other.billable, other.nonbillable)
    }
}

/// Every day total this project wrote, for one account.
pub type Ledger = BTreeMap<DayKey, Written>;

/// How the ledger is stored: one item per person and month, so items stay small whatever
/// the account's size (a month of one person is at most a few thousand totals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerGroup {
    /// The first day of the month.
    pub month: NaiveDate,
    pub person: RunnPersonId,
}

impl LedgerGroup {
    pub fn of(key: &DayKey) -> Self {
        Self {
            month: first_of_month(key.date),
            person: key.person,
        }
    }
}

pub fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// Where an account's actuals sync stands between runs (the `ACTUALS` item): how far the
/// back-fill has come, and what the next daily run may skip reading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The last day the back-fill has done.
    pub backfilled_through: Option<NaiveDate>,
    /// The day (in the account's zone) Runn's actuals of the window were last read whole.
    pub last_full_read: Option<NaiveDate>,
    /// What the window meant then (zone, days, first day): a change needs a full read.
    pub window: Option<String>,
    /// From when Runn's changes are still to be read: Runn's time of the last complete
    /// run's last write (or, when it wrote nothing, a margin before it began to read).
    /// `None` while a run is writing, and after one that did not complete.
    pub changes_since: Option<chrono::DateTime<chrono::Utc>>,
}
