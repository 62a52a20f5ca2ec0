//! What a run did, in a form whose size is bounded whatever the account's size: counts
//! per kind and reason, and at most [`NAMED_CAP`] named records each ("and N more"). A
//! run record is one DynamoDB item (400 KB at most); with these caps the largest report
//! stays far below that.

use crate::model::plan::{ActualsPlan, RecordKind, Skip, SkipReason, Unlinked};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most records named per reason (or in a list of failures or look-ups).
pub const NAMED_CAP: usize = 50;
/// Names and ids are cut to this many characters in a report.
const NAME_CHARS: usize = 120;
/// A failure's reason is cut to this many characters.
const REASON_CHARS: usize = 400;

/// `s`, cut to `n` characters (with an ellipsis where cut).
pub fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// A line of a report (a skipped day, a note) is cut to this many characters, so a run
/// record stays small whatever the names in it.
pub const LINE_CHARS: usize = 240;

/// A person's name as every report shows it, from Runn's (or a plan's) first and last.
pub fn person_name(first: &str, last: &str) -> String {
    format!("{first} {last}")
}

/// A count, with the first few items named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capped<T> {
    pub count: usize,
    pub named: Vec<T>,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Self {
            count: 0,
            named: vec![],
        }
    }
}

impl<T> Capped<T> {
    pub fn push(&mut self, item: T) {
        self.count += 1;
        if self.named.len() < NAMED_CAP {
            self.named.push(item);
        }
    }
    /// Adds another count and as many of its names as the cap leaves room for.
    pub fn merge(&mut self, other: &Capped<T>)
    where
        T: Clone,
    {
        self.count += other.count;
        let room = NAMED_CAP.saturating_sub(self.named.len());
        self.named.extend(other.named.iter().take(room).cloned());
    }
    /// How many were counted but not named.
    pub fn more(&self) -> usize {
        self.count.saturating_sub(self.named.len())
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// A Clockify record, by id and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub clockify_id: String,
    pub name: String,
}

impl Named {
    pub fn new(clockify_id: &str, name: &str) -> Self {
        Self {
            clockify_id: clip(clockify_id, NAME_CHARS),
            name: clip(name, NAME_CHARS),
        }
    }
}

/// The records of one kind skipped for one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipGroup {
    pub kind: RecordKind,
    pub reason: SkipReason,
    #[serde(flatten)]
    pub records: Capped<Named>,
}

/// Groups skips by kind and reason, in the order each group first appears.
pub fn summarize_skips(skips: &[Skip]) -> Vec<SkipGroup> {
    let mut groups: Vec<SkipGroup> = vec![];
    for s in skips {
        let i = match groups
            .iter()
            .position(|g| g.kind == s.kind && g.reason == s.reason)
        {
            Some(i) => i,
            None => {
                groups.push(SkipGroup {
                    kind: s.kind,
                    reason: s.reason,
                    records: Capped::default(),
                });
                groups.len() - 1
            }
        };
        groups[i].records.push(Named::new(&s.clockify_id, &s.name));
    }
    groups
}

/// A record Runn refused (a permanent error); the rest of the import went on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: RecordKind,
    #[serde(flatten)]
    pub record: Named,
    pub reason: String,
}

impl Failure {
    pub fn new(kind: RecordKind, clockify_id: &str, name: &str, reason: &str) -> Self {
        Self {
            kind,
            record: Named::new(clockify_id, name),
            reason: clip(reason, REASON_CHARS),
        }
    }
}

/// A write whose answer was lost, and what looking the record up found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lookup {
    pub kind: RecordKind,
    #[serde(flatten)]
    pub record: Named,
    /// Found in Runn (the write had landed); otherwise it was created once more.
    pub found: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub clients: usize,
    pub projects: usize,
    pub people: usize,
}

/// What an import run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub created: Counts,
    pub skipped: Vec<SkipGroup>,
    pub failed: Capped<Failure>,
    /// Writes whose answer was lost, each looked up before anything was resent.
    #[serde(default)]
    pub lookups: Capped<Lookup>,
    /// Linked people whose current role is still "Unknown" (the help article's "fix all
    /// unknown roles" list).
    pub people_on_unknown_role: usize,
    /// Their names, the first few.
    #[serde(default)]
    pub unknown_role_people: Capped<String>,
    /// Whether this run read the people (a clients-only import does not, and says nothing
    /// of who is on "Unknown"). Records from before it was kept did.
    #[serde(default = "yes")]
    pub people_read: bool,
    /// False when the run stopped at a limit and must be continued.
    pub finished: bool,
    pub writes: usize,
    /// Clockify records that look like ones already in Runn, held until their links are
    /// reviewed.
    #[serde(default)]
    pub held: usize,
}

fn yes() -> bool {
    true
}

impl ImportReport {
    /// How many records of `kind` were skipped for `reason`.
    pub fn skipped(&self, kind: RecordKind, reason: SkipReason) -> usize {
        self.skipped
            .iter()
            .filter(|g| g.kind == kind && g.reason == reason)
            .map(|g| g.records.count)
            .sum()
    }
}

/// Why Clockify time did not become an actual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSkip {
    NoProject,
    PersonNotLinked,
    ProjectNotLinked,
    PersonArchived,
    ProjectArchived,
    SyncOff,
    /// The day's role would be "Unknown": give the person a role in Runn.
    UnknownRole,
    /// No assignment and no contract gives the day a role.
    NoRole,
    /// The person is outside the account's people filter: their time is not synced, and
    /// what Runn holds for them is left as it is.
    LeftOutByFilter,
}

impl TimeSkip {
    pub fn explain(self) -> &'static str {
        match self {
            TimeSkip::NoProject => "time without a project",
            TimeSkip::PersonNotLinked => "person not in Runn",
            TimeSkip::ProjectNotLinked => "project not in Runn",
            TimeSkip::PersonArchived => "person archived in Runn",
            TimeSkip::ProjectArchived => "project archived in Runn",
            TimeSkip::SyncOff => "project tagged sync_off",
            TimeSkip::UnknownRole => "role is \"Unknown\" that day",
            TimeSkip::NoRole => "no role that day",
            TimeSkip::LeftOutByFilter => "left out by the people filter",
        }
    }
}

/// The time skipped for one reason: how many day totals, how many minutes, and the first
/// few by name: a line per day ("person · project · date"), or, for time whose person or
/// project is not in Runn, a line per person and project saying why, with its days and
/// minutes ("Ana García · Internal: Holidays & Leave - has no client in Clockify: 3 days,
/// 480 min").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSkipGroup {
    pub reason: TimeSkip,
    pub minutes: u64,
    /// Day totals (a person's time on a project on a day) skipped.
    #[serde(default)]
    pub day_totals: usize,
    #[serde(flatten)]
    pub days: Capped<String>,
}

/// The line of an [`Unlinked`] group: who, which project and why it is not in Runn, with
/// its days and minutes.
pub fn unlinked_line(who: &str, project: &str, why: &str, days: usize, minutes: u64) -> String {
    let days = if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    };
    clip(
        &format!("{who} · {project} - {why}: {days}, {minutes} min"),
        LINE_CHARS,
    )
}

/// What an actuals sync or autofill did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualsReport {
    /// The days done by this run.
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    /// Day totals written with time.
    pub written: usize,
    /// Ledger totals set back to 0 (their time was deleted, moved or re-roled).
    pub zeroed: usize,
    /// Zero-hour totals written by the autofill.
    pub autofilled: usize,
    /// Day totals Runn already held as wanted.
    pub unchanged: usize,
    pub skipped: Vec<TimeSkipGroup>,
    /// Day totals Runn refused, with its message.
    pub refused: Capped<String>,
    /// Days with assignments of several roles, and the role chosen.
    pub notes: Capped<String>,
    /// Linked people whose time was skipped for the "Unknown" role, with the minutes.
    pub unknown_role: Capped<String>,
    pub finished: bool,
    /// Requests that wrote.
    pub writes: usize,
    /// Back-fill chunks saved as done (progress even when they held no time).
    #[serde(default)]
    pub backfilled_chunks: usize,
    /// A dry run's day totals it would write with time, set back to 0, and fill with 0.
    #[serde(default)]
    pub would_write: usize,
    #[serde(default)]
    pub would_zero: usize,
    #[serde(default)]
    pub would_autofill: usize,
    /// A dry run's writes per person and project, with minutes: "Ana García · Acme Web:
    /// 12 day totals, 560 min; 1 set back to 0".
    #[serde(default, skip_serializing_if = "Capped::is_empty")]
    pub would: Capped<String>,
    /// Runn's time of the run's last write (the next run reads the changes after it).
    #[serde(skip)]
    pub last_write_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the daily window's actuals were read whole (else only their changes since
    /// the last complete run, the rest taken from the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_read: Option<bool>,
    /// Time whose person or project is not in Runn, until its lines are written.
    #[serde(skip)]
    pub(crate) unlinked: BTreeMap<Unlinked, (usize, u64)>,
    /// Where a stopped run resumes.
    pub resume_from: Option<NaiveDate>,
}

impl ActualsReport {
    pub(crate) fn absorb(&mut self, plan: &ActualsPlan, unknown: &mut BTreeMap<String, u64>) {
        self.unchanged += plan.unchanged;
        for g in &plan.skipped {
            match self.skipped.iter_mut().find(|x| x.reason == g.reason) {
                Some(mine) => {
                    mine.minutes += g.minutes;
                    mine.day_totals += g.day_totals;
                    mine.days.merge(&g.days);
                }
                None => self.skipped.push(g.clone()),
            }
        }
        self.notes.merge(&plan.notes);
        for (k, (days, m)) in &plan.unlinked {
            let mine = self.unlinked.entry(k.clone()).or_default();
            mine.0 += days;
            mine.1 = mine.1.saturating_add(*m);
        }
        for (who, m) in &plan.unknown_role {
            *unknown.entry(who.clone()).or_default() += m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_one_run_add_up_their_skipped_minutes_and_day_totals() {
        let chunk = |minutes, day_totals| ActualsPlan {
            skipped: vec![TimeSkipGroup {
                reason: TimeSkip::NoProject,
                minutes,
                day_totals,
                days: Capped::default(),
            }],
            ..Default::default()
        };
        let mut report = ActualsReport::default();
        let mut unknown = BTreeMap::new();
        report.absorb(&chunk(30, 2), &mut unknown);
        report.absorb(&chunk(45, 3), &mut unknown);
        assert_eq!(
            (report.skipped[0].minutes, report.skipped[0].day_totals),
            (75, 5)
        );
    }

    #[test]
    fn thousands_of_skips_keep_their_counts_and_name_only_the_first_fifty() {
        let skips: Vec<Skip> = (0..6000)
            .map(|i| Skip {
                kind: if i % 2 == 0 {
                    RecordKind::Project
                } else {
                    RecordKind::Person
                },
                clockify_id: format!("{i:024x}"),
                name: "N".repeat(500),
                reason: SkipReason::AlreadyLinked,
            })
            .collect();
        let groups = summarize_skips(&skips);
        assert_eq!(groups.len(), 2);
        for g in &groups {
            assert_eq!((g.records.count, g.records.named.len()), (3000, NAMED_CAP));
            assert_eq!(g.records.more(), 2950);
            assert!(g
                .records
                .named
                .iter()
                .all(|n| n.name.chars().count() <= 121));
        }
    }

    #[test]
    fn clipping_respects_characters() {
        assert_eq!(clip("Łódź", 2), "Łó…");
        assert_eq!(clip("ab", 2), "ab");
    }
}
