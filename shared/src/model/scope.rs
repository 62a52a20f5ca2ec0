//! What one run covers: the kinds (clients and projects, people, actuals), the days, and
//! optionally a subset of Clockify users. The daily job, a button press, a re-sync of a
//! range and a preview are all scopes of the one sync engine.

use crate::ids::ClockifyUserId;
use crate::model::account::{PeopleFilter, Switches};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The days whose actuals a run syncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "days")]
pub enum Days {
    /// The daily job's: the back-fill (while it is not done), then the window.
    Daily,
    /// A one-off re-sync of `[from, to]`, beyond the window.
    Range { from: NaiveDate, to: NaiveDate },
    /// The daily window only, read whole, the sync state left as it is (a webhook run's,
    /// for the people whose time changed).
    Window,
}

/// What one run covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// What is imported or synced (within the account's switches).
    pub kinds: Switches,
    pub days: Days,
    /// Only these Clockify users' time and records; `None`: everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<BTreeSet<ClockifyUserId>>,
    /// A continuation's first day of the daily window still to sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<NaiveDate>,
    /// The account's people filter (every job's scope carries the settings'): who of
    /// Clockify's users the run imports and syncs. `None` or empty: everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people_filter: Option<PeopleFilter>,
}

impl Scope {
    /// The daily job's scope (or a button's, limited to `kinds`).
    pub fn daily(kinds: Switches) -> Self {
        Self {
            kinds,
            days: Days::Daily,
            users: None,
            resume: None,
            people_filter: None,
        }
    }

    /// A re-sync of the actuals of `[from, to]`.
    pub fn range(from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            kinds: Switches {
                clients_and_projects: false,
                people: false,
                actuals: true,
            },
            days: Days::Range { from, to },
            users: None,
            resume: None,
            people_filter: None,
        }
    }

    /// The actuals of some Clockify users over the daily window (a webhook run's).
    pub fn window_of(users: BTreeSet<ClockifyUserId>) -> Self {
        Self {
            days: Days::Window,
            users: Some(users),
            ..Self::range(NaiveDate::MIN, NaiveDate::MIN)
        }
    }

    /// The scope with the account's people filter.
    pub fn filtered(mut self, filter: Option<&PeopleFilter>) -> Self {
        self.people_filter = filter.filter(|f| !f.is_empty()).cloned();
        self
    }

    /// Whether a Clockify user's time is in the scope.
    pub fn covers_user(&self, user: &ClockifyUserId) -> bool {
        self.users.as_ref().is_none_or(|u| u.contains(user))
    }
}
