//! How much of Runn's actuals a daily run reads: all of the window, or only what changed
//! since the last complete run (Runn's own state of everything else is the ledger's). A
//! rule: the state in, the choice out.

use crate::model::account::AccountSettings;
use crate::model::ledger::SyncState;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

/// The weekday (in the account's zone) the window is read whole, whatever else happened:
/// a total deleted by hand in Runn (which no "modified since" read shows) is restored then.
pub const FULL_READ_DAY: Weekday = Weekday::Sun;

/// Runn's clock and ours may differ: a run that wrote nothing (so has no time of Runn's
/// to go by) marks the changes still to read from this much before it began to read.
pub const CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Where the changes still to read start, after a run whose last write Runn timed at
/// `last`: the next whole second (Runn's filter takes seconds), so none of the run's own
/// writes is read back as a change the next day.
pub fn after_writes(last: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, TimeDelta};
    let whole = last.trunc_subsecs(0);
    if whole == last {
        whole
    } else {
        whole + TimeDelta::seconds(1)
    }
}

/// How Runn's actuals of a range are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActualsRead {
    /// Every actual of the days.
    Full,
    /// Only those modified since this time; the rest is taken from the ledger.
    ModifiedSince(DateTime<Utc>),
}

/// What the window means: a change to any of it (zone, days re-read, first day) changes
/// which days and totals the ledger speaks for.
pub fn window_meaning(settings: &AccountSettings) -> String {
    format!(
        "{}|{}|{}",
        settings.time_zone.name(),
        settings.window_days,
        settings
            .actuals_since
            .map_or_else(String::new, |d| d.to_string())
    )
}

/// The read of the daily window: whole on the first run, on [`FULL_READ_DAY`], at least
/// once a week, and after anything that changes what the window means or a run that did
/// not complete; otherwise the changes since the last complete run's writes.
pub fn window_read(state: &SyncState, settings: &AccountSettings, today: NaiveDate) -> ActualsRead {
    let Some(since) = state.changes_since else {
        return ActualsRead::Full;
    };
    let week_old = state
        .last_full_read
        .is_none_or(|d| (today - d).num_days() >= 7 || d > today);
    let full_day = today.weekday() == FULL_READ_DAY && state.last_full_read != Some(today);
    if week_old || full_day || state.window.as_deref() != Some(&window_meaning(settings)) {
        return ActualsRead::Full;
    }
    ActualsRead::ModifiedSince(since)
}

/// The days a daily run syncs: the back-fill (from `actuals_since` up to the window, when
/// it is not done) and the window (the last `window_days` days).
pub fn daily_ranges(
    settings: &AccountSettings,
    backfilled_through: Option<NaiveDate>,
    today: NaiveDate,
) -> (Option<(NaiveDate, NaiveDate)>, (NaiveDate, NaiveDate)) {
    let back = u64::from(settings.window_days.max(1)) - 1;
    let window_first = today
        .checked_sub_days(chrono::Days::new(back))
        .unwrap_or(NaiveDate::MIN);
    let backfill = settings.actuals_since.and_then(|since| {
        let from = backfilled_through
            .and_then(|d| d.succ_opt())
            .map_or(since, |d| d.max(since));
        let to = window_first.pred_opt()?;
        (from <= to).then_some((from, to))
    });
    let first = settings
        .actuals_since
        .map_or(window_first, |s| s.max(window_first));
    (backfill, (first.min(today), today))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AccountSettings {
        serde_json::from_value(serde_json::json!({"id": "acme", "runn_account": "Acme",
            "runn_host": {"kind": "eu"}, "clockify_host": {"kind": "global"},
            "clockify_workspace": "ws1", "switches": {"clients_and_projects": true, "people": true,
            "actuals": true}, "time_zone": "Europe/London"}))
        .unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn changes_are_read_from_the_second_after_the_last_write() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            after_writes(t("2026-11-30T02:10:00.250Z")),
            t("2026-11-30T02:10:01Z")
        );
        assert_eq!(
            after_writes(t("2026-11-30T02:10:00Z")),
            t("2026-11-30T02:10:00Z")
        );
    }

    #[test]
    fn the_window_is_read_whole_unless_a_complete_run_left_its_mark_this_week() {
        let s = settings();
        let written: DateTime<Utc> = "2026-11-30T02:10:00Z".parse().unwrap();
        let state = SyncState {
            backfilled_through: None,
            last_full_read: Some(day("2026-11-29")),
            window: Some(window_meaning(&s)),
            changes_since: Some(written),
        };
        // Tuesday after a full Sunday: only the changes since the last run's writes.
        assert_eq!(
            window_read(&state, &s, day("2026-12-01")),
            ActualsRead::ModifiedSince(written)
        );
        // The first run; a run that did not complete; a week gone by; the next Sunday.
        let first = SyncState::default();
        assert_eq!(
            window_read(&first, &s, day("2026-12-01")),
            ActualsRead::Full
        );
        let failed = SyncState {
            changes_since: None,
            ..state.clone()
        };
        assert_eq!(
            window_read(&failed, &s, day("2026-12-01")),
            ActualsRead::Full
        );
        assert_eq!(
            window_read(&state, &s, day("2026-12-06")),
            ActualsRead::Full
        );
        let old = SyncState {
            last_full_read: Some(day("2026-11-20")),
            ..state.clone()
        };
        assert_eq!(window_read(&old, &s, day("2026-11-27")), ActualsRead::Full);
        // The window means something else now: its zone, its length or its first day.
        for change in [
            serde_json::json!({"time_zone": "Europe/Paris"}),
            serde_json::json!({"window_days": 30}),
            serde_json::json!({"actuals_since": "2026-10-01"}),
        ] {
            let mut other = serde_json::to_value(&s).unwrap();
            for (k, v) in change.as_object().unwrap() {
                other[k] = v.clone();
            }
            let other: AccountSettings = serde_json::from_value(other).unwrap();
            assert_eq!(
                window_read(&state, &other, day("2026-12-01")),
                ActualsRead::Full,
                "{change}"
            );
        }
    }
}
