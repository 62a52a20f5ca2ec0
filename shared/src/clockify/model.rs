//! Clockify's wire types (from the official OpenAPI spec, plus the fields real answers carry
//! that the spec leaves out, noted where so) and the typed time entry both sources yield.

use crate::ids::{
    ClockifyClientId, ClockifyProjectId, ClockifyUserId, TimeEntryId, UserGroupId, WorkspaceId,
};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};

/// `WorkspaceDtoV1`, the fields we use.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    /// The spec's `FeaturePlan` object (`paidPlan`, `addonSubscriptionPlan`); real answers
    /// have been seen with a bare name (`"FREE"`, `"PRO_YEAR"`): both are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_subscription_type: Option<serde_json::Value>,
}

impl Workspace {
    /// Whether the workspace is on Clockify's free plan (3 webhooks). Unknown counts as
    /// free: registering fewer webhooks only leaves more to the daily run.
    pub fn free_plan(&self) -> bool {
        match &self.feature_subscription_type {
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("FREE"),
            Some(serde_json::Value::Object(o)) => match o.get("paidPlan") {
                Some(serde_json::Value::Bool(paid)) => !paid,
                _ => o
                    .get("addonSubscriptionPlan")
                    .and_then(|v| v.as_str())
                    .is_none_or(|p| p == "FREE"),
            },
            _ => true,
        }
    }
}

/// A workspace role that sees everyone's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceRole {
    Admin,
    Owner,
}

impl WorkspaceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceRole::Admin => "WORKSPACE_ADMIN",
            WorkspaceRole::Owner => "OWNER",
        }
    }
}

/// `UserDtoV1` of `GET /v1/user`, the fields we use.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUser {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// `ClientWithCurrencyDtoV1`, the fields we use.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub id: ClockifyClientId,
    pub name: String,
    #[serde(default)]
    pub archived: bool,
}

/// `ProjectDtoV1`. The spec's schema omits `clientId`/`clientName`, but every real answer
/// carries them (an empty string when the project has no client).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: ClockifyProjectId,
    pub name: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub client_id: Option<ClockifyClientId>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub client_name: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub billable: bool,
    #[serde(default)]
    pub template: bool,
}

/// A workspace membership status (`MembershipDtoV1.membershipStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MembershipStatus {
    Pending,
    Active,
    Declined,
    Inactive,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    #[serde(default)]
    pub user_id: Option<ClockifyUserId>,
    #[serde(default)]
    pub target_id: Option<String>,
    #[serde(default)]
    pub membership_type: Option<String>,
    pub membership_status: MembershipStatus,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSettings {
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// `UserDtoV1`. `status` is the *account* status; workspace membership comes in
/// `memberships` when asked for with `memberships=WORKSPACE`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: ClockifyUserId,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub memberships: Vec<Membership>,
    #[serde(default)]
    pub settings: Option<UserSettings>,
}

impl User {
    /// The user's membership status in workspace `ws`, if Clockify sent it.
    pub fn workspace_status(&self, ws: &WorkspaceId) -> Option<&MembershipStatus> {
        self.memberships
            .iter()
            .find(|m| {
                m.membership_type
                    .as_deref()
                    .is_none_or(|t| t == "WORKSPACE")
                    && m.target_id.as_deref().is_none_or(|t| t == ws.as_str())
            })
            .map(|m| &m.membership_status)
    }

    /// The user's profile time zone, parsed; `None` when absent or not an IANA name.
    pub fn time_zone(&self) -> Option<Tz> {
        self.settings.as_ref()?.time_zone.as_deref()?.parse().ok()
    }
}

/// `UserGroupDtoV1` of `GET /v1/workspaces/{ws}/user-groups`, the fields we use: the
/// people filter includes users by the groups they are in.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserGroup {
    pub id: UserGroupId,
    #[serde(default)]
    pub name: String,
    /// The spec marks nothing required: a group sent without its members (or with
    /// `null`) has none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub user_ids: Vec<ClockifyUserId>,
}

/// One finished time entry, the same whichever endpoint it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeEntry {
    pub id: TimeEntryId,
    pub user_id: ClockifyUserId,
    pub project_id: Option<ClockifyProjectId>,
    pub billable: bool,
    pub description: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeEntry {
    /// The entry's length from its start and end (neither duration format is trusted).
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
    /// The day the entry counts for, in the given zone (the day it started).
    pub fn local_date(&self, tz: Tz) -> NaiveDate {
        self.start.with_timezone(&tz).date_naive()
    }
}

/// A time entry as both sources send it: `TimeEntryWithRatesDtoV1` from the per-user
/// endpoint (`id`) and `TimeEntryDto` from the detailed report (real answers say `_id`, the
/// schema `get_id`). Durations differ in format between the two and are not read.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireTimeEntry {
    #[serde(alias = "_id", alias = "get_id")]
    pub id: TimeEntryId,
    pub user_id: ClockifyUserId,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub project_id: Option<ClockifyProjectId>,
    #[serde(default)]
    pub billable: bool,
    #[serde(default)]
    pub description: Option<String>,
    pub time_interval: Interval,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Interval {
    pub start: DateTime<Utc>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

/// `TimeEntryDetailedReportDto`: real answers say `timeentries`, the schema `timeEntries`.
#[derive(Debug, Deserialize)]
pub(crate) struct DetailedReport {
    #[serde(rename = "timeentries", alias = "timeEntries", default)]
    pub entries: Vec<WireTimeEntry>,
}

impl WireTimeEntry {
    /// `None` for a running timer (no end yet).
    pub(crate) fn finished(self) -> Option<TimeEntry> {
        let end = self.time_interval.end?;
        Some(TimeEntry {
            id: self.id,
            user_id: self.user_id,
            project_id: self.project_id,
            billable: self.billable,
            description: self.description.unwrap_or_default(),
            start: self.time_interval.start,
            end,
        })
    }
}

/// An inclusive range of calendar days in a time zone: what "the time of these days" means
/// to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    first: NaiveDate,
    last: NaiveDate,
    tz: Tz,
}

#[derive(Debug, thiserror::Error)]
#[error("date range ends ({last}) before it starts ({first})")]
pub struct InvertedRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DateRange {
    pub fn new(first: NaiveDate, last: NaiveDate, tz: Tz) -> Result<Self, InvertedRange> {
        if last < first {
            return Err(InvertedRange { first, last });
        }
        Ok(Self { first, last, tz })
    }
    pub fn first(&self) -> NaiveDate {
        self.first
    }
    pub fn last(&self) -> NaiveDate {
        self.last
    }
    pub fn tz(&self) -> Tz {
        self.tz
    }
    pub fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// The instants the range covers: `[start of first day, start of the day after last)`.
    pub fn utc_bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            start_of_day(self.first, self.tz),
            start_of_day(self.last.succ_opt().unwrap_or(self.last), self.tz),
        )
    }

    /// Splits the range into consecutive windows of at most `max_days` days.
    pub fn windows(&self, max_days: u32) -> Vec<DateRange> {
        let step = i64::from(max_days.max(1));
        let mut out = Vec::new();
        let mut first = self.first;
        while first <= self.last {
            let last = first
                .checked_add_signed(Duration::days(step - 1))
                .map_or(self.last, |l| l.min(self.last));
            out.push(DateRange {
                first,
                last,
                tz: self.tz,
            });
            match last.succ_opt() {
                Some(next) => first = next,
                None => break,
            }
        }
        out
    }
}

/// Local midnight; where a DST change skips midnight, the first instant of that day; where
/// the zone skips the whole day (Pacific/Apia, 2011-12-30), the start of the next one, so
/// the day holds no time. Never panics: past the zone's range, UTC midnight.
pub(crate) fn start_of_day(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    (0..=48)
        .find_map(|h| {
            let local = midnight.checked_add_signed(Duration::hours(h))?;
            tz.from_local_datetime(&local).earliest()
        })
        .map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&Utc),
        )
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    let s = Option::<String>::deserialize(d)?;
    Ok(s.filter(|s| !s.trim().is_empty()).map(T::from))
}

impl From<String> for ClockifyClientId {
    fn from(s: String) -> Self {
        Self(s)
    }
}
impl From<String> for ClockifyProjectId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_user_group_reads_whatever_else_it_carries_and_a_null_member_list() {
        let g: super::UserGroup = serde_json::from_str(
            r#"{"id": "76a687e29ae1f428e7ebe101", "name": "development_team",
                "teamManagers": [{"id": "672323eb0024343a1585e8a7", "name": "Jane Doe"}],
                "userIds": ["5a0ab5acb07987125438b60f"], "workspaceId": "64a687e29ae1f428e7ebe303",
                "somethingNew": 1}"#,
        )
        .unwrap();
        assert_eq!(g.id.as_str(), "76a687e29ae1f428e7ebe101");
        assert_eq!(g.user_ids.len(), 1);
        let bare: super::UserGroup =
            serde_json::from_str(r#"{"id": "g1", "userIds": null}"#).unwrap();
        assert!(bare.user_ids.is_empty() && bare.name.is_empty());
    }

    #[test]
    fn a_day_a_zone_skips_holds_no_time_and_never_panics() {
        // Samoa skipped 2011-12-30 entirely, moving across the date line.
        let apia = chrono_tz::Pacific::Apia;
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let gone = DateRange::new(d("2011-12-30"), d("2011-12-30"), apia).unwrap();
        let (start, end) = gone.utc_bounds();
        assert_eq!(start, end, "the day holds no instant");
        let around = DateRange::new(d("2011-12-29"), d("2011-12-31"), apia).unwrap();
        let (a, b) = around.utc_bounds();
        assert_eq!((b - a).num_hours(), 48, "two real days");
        // Ranges at the calendar's ends split into windows without overflowing.
        let last = DateRange::new(NaiveDate::MAX, NaiveDate::MAX, chrono_tz::UTC).unwrap();
        assert_eq!(last.windows(31).len(), 1);
        let _ = last.utc_bounds();
    }

    use super::*;

    #[test]
    fn project_without_client_has_none() {
        let p: Project =
            serde_json::from_str(r#"{"id":"p1","name":"X","clientId":"","clientName":""}"#)
                .unwrap();
        assert_eq!(p.client_id, None);
        let p: Project = serde_json::from_str(r#"{"id":"p1","name":"X"}"#).unwrap();
        assert_eq!(p.client_id, None);
        let p: Project = serde_json::from_str(r#"{"id":"p1","name":"X","clientId":"c9"}"#).unwrap();
        assert_eq!(p.client_id, Some(ClockifyClientId::new("c9")));
    }

    #[test]
    fn report_and_user_entries_yield_the_same_entry() {
        let r: WireTimeEntry = serde_json::from_str(
            r#"{"_id":"t1","userId":"u1","projectId":"p1","billable":true,"description":"d",
                "timeInterval":{"start":"2025-05-18T10:00:00+02:00","end":"2025-05-18T11:30:00+02:00","duration":5400}}"#,
        )
        .unwrap();
        let u: WireTimeEntry = serde_json::from_str(
            r#"{"id":"t1","userId":"u1","projectId":"p1","billable":true,"description":"d",
                "timeInterval":{"start":"2025-05-18T08:00:00Z","end":"2025-05-18T09:30:00Z","duration":"PT1H30M"}}"#,
        )
        .unwrap();
        let (r, u) = (r.finished().unwrap(), u.finished().unwrap());
        assert_eq!(r, u);
        assert_eq!(r.duration(), Duration::minutes(90));
    }

    #[test]
    fn running_timers_are_skipped() {
        let u: WireTimeEntry = serde_json::from_str(
            r#"{"id":"t1","userId":"u1","timeInterval":{"start":"2025-05-18T08:00:00Z","end":null,"duration":null}}"#,
        )
        .unwrap();
        assert!(u.finished().is_none());
    }

    #[test]
    fn date_range_bounds_follow_the_zone() {
        let tz: Tz = "Pacific/Auckland".parse().unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let r = DateRange::new(d("2025-01-01"), d("2025-01-01"), tz).unwrap();
        let (a, b) = r.utc_bounds();
        assert_eq!(a.to_rfc3339(), "2024-12-31T11:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2025-01-01T11:00:00+00:00");
        assert!(DateRange::new(d("2025-01-02"), d("2025-01-01"), tz).is_err());
        let w = DateRange::new(d("2025-01-01"), d("2025-03-15"), tz)
            .unwrap()
            .windows(31);
        assert_eq!(w.len(), 3);
        assert_eq!(w[1].first(), d("2025-02-01"));
        assert_eq!(w[2].last(), d("2025-03-15"));
        assert_eq!(w.iter().map(DateRange::days).sum::<i64>(), 74);
    }

    #[test]
    fn membership_status_is_read_per_workspace() {
        let u: User = serde_json::from_str(
            r#"{"id":"u","memberships":[{"userId":"u","targetId":"ws2","membershipType":"WORKSPACE","membershipStatus":"INACTIVE"},
                {"userId":"u","targetId":"ws1","membershipType":"WORKSPACE","membershipStatus":"ACTIVE"}],
                "settings":{"timeZone":"Europe/Berlin","dateFormat":"x","timeFormat":"HOUR24"}}"#,
        )
        .unwrap();
        assert_eq!(
            u.workspace_status(&WorkspaceId::new("ws1")),
            Some(&MembershipStatus::Active)
        );
        assert_eq!(
            u.workspace_status(&WorkspaceId::new("ws2")),
            Some(&MembershipStatus::Inactive)
        );
        assert_eq!(u.time_zone(), Some(chrono_tz::Europe::Berlin));
    }
}
