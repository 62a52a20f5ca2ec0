//! The people filter, as a rule: whether a Clockify user is imported and their time
//! synced. In = (no groups named, or the user is in at least one of them) and the user's
//! e-mail address (trimmed, any case) is not left out. An empty filter leaves everyone
//! in. Pure: the groups are read by the caller.

use crate::clockify::UserGroup;
use crate::ids::{ClockifyProjectId, ClockifyUserId, UserGroupId};
use crate::model::account::{normal_email, PeopleFilter};
use crate::model::report::{TimeSkip, TimeSkipGroup};
use crate::sync::rules::actuals::{add_skip, minutes, DayTotals};
use chrono::NaiveDate;
use std::collections::HashSet;

/// A filter made ready to ask about many users: the members of its groups gathered once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Included {
    /// The members of the groups named; `None`: no group named, everyone passes this half.
    members: Option<HashSet<ClockifyUserId>>,
    excluded: HashSet<String>,
}

impl Included {
    /// `groups` are the workspace's groups as read (those the filter does not name are
    /// ignored; a named group that is not among them has no members).
    pub fn new(filter: &PeopleFilter, groups: &[UserGroup]) -> Self {
        let named: HashSet<&str> = filter
            .include_groups
            .iter()
            .map(|g| g.as_str().trim())
            .collect();
        let members = (!named.is_empty()).then(|| {
            groups
                .iter()
                .filter(|g| named.contains(g.id.as_str()))
                .flat_map(|g| g.user_ids.iter().cloned())
                .collect()
        });
        let excluded = filter
            .exclude_emails
            .iter()
            .map(|e| normal_email(e))
            .collect();
        Self { members, excluded }
    }

    /// Whether the user is in.
    pub fn covers(&self, user: &ClockifyUserId, email: Option<&str>) -> bool {
        let in_a_group = self.members.as_ref().is_none_or(|m| m.contains(user));
        let left_out = email.is_some_and(|e| self.excluded.contains(&normal_email(e)));
        in_a_group && !left_out
    }
}

/// Whether the user (`id`, `email`) is in, by `filter` and the groups read.
pub fn is_included(
    filter: &PeopleFilter,
    groups: &[UserGroup],
    user: &ClockifyUserId,
    email: Option<&str>,
) -> bool {
    Included::new(filter, groups).covers(user, email)
}

/// The groups the filter names that are not among `groups` (Save & Run refuses them; a
/// run meeting one, deleted since, includes nobody by it).
pub fn missing_groups(filter: &PeopleFilter, groups: &[UserGroup]) -> Vec<UserGroupId> {
    let known: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    filter
        .include_groups
        .iter()
        .filter(|g| !known.contains(g.as_str().trim()))
        .cloned()
        .collect()
}

/// Takes the time of the users `is_in` leaves out from `totals`: it is not synced, and
/// is reported in one skip group with its minutes, a line per day total (`line` names
/// it). `None` when no time was left out.
pub fn take_left_out(
    totals: &mut DayTotals,
    is_in: impl Fn(&ClockifyUserId) -> bool,
    line: impl Fn(&ClockifyUserId, Option<&ClockifyProjectId>, NaiveDate) -> String,
) -> Option<TimeSkipGroup> {
    let mut groups = vec![];
    totals.retain(|(user, project, date), secs| {
        if is_in(user) {
            return true;
        }
        let all = u64::from(minutes(secs.billable)) + u64::from(minutes(secs.nonbillable));
        add_skip(
            &mut groups,
            TimeSkip::LeftOutByFilter,
            all,
            line(user, project.as_ref(), *date),
        );
        false
    });
    groups.pop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::rules::actuals::Seconds;

    fn group(id: &str, members: &[&str]) -> UserGroup {
        UserGroup {
            id: id.into(),
            name: format!("group {id}"),
            user_ids: members.iter().map(|m| ClockifyUserId::from(*m)).collect(),
        }
    }

    fn filter(groups: &[&str], emails: &[&str]) -> PeopleFilter {
        PeopleFilter {
            include_groups: groups.iter().map(|g| UserGroupId::from(*g)).collect(),
            exclude_emails: emails.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn workspace_groups() -> Vec<UserGroup> {
        vec![group("g1", &["ana", "bo"]), group("g2", &["cy"])]
    }

    #[test]
    fn an_empty_filter_leaves_everyone_in() {
        let f = PeopleFilter::default();
        for (user, email) in [("ana", Some("ana@x.com")), ("zed", None)] {
            assert!(is_included(&f, &workspace_groups(), &user.into(), email));
        }
        assert!(is_included(&f, &[], &"nobody".into(), None));
    }

    #[test]
    fn groups_include_their_members_only_any_group_will_do() {
        let groups = workspace_groups();
        let f = filter(&["g1", "g2"], &[]);
        for user in ["ana", "bo", "cy"] {
            assert!(is_included(&f, &groups, &user.into(), None), "{user}");
        }
        assert!(!is_included(&f, &groups, &"dee".into(), Some("dee@x.com")));
        let only_g2 = filter(&["g2"], &[]);
        assert!(!is_included(&only_g2, &groups, &"ana".into(), None));
        assert!(is_included(&only_g2, &groups, &"cy".into(), None));
    }

    #[test]
    fn excluded_e_mails_match_trimmed_and_in_any_case() {
        let groups = workspace_groups();
        let f = filter(&[], &["  Ana@Example.COM "]);
        assert!(!is_included(
            &f,
            &groups,
            &"ana".into(),
            Some("ana@example.com")
        ));
        assert!(!is_included(
            &f,
            &groups,
            &"ana".into(),
            Some(" ANA@example.com")
        ));
        assert!(is_included(
            &f,
            &groups,
            &"bo".into(),
            Some("bo@example.com")
        ));
        assert!(is_included(&f, &groups, &"nomail".into(), None));
    }

    #[test]
    fn both_halves_must_pass() {
        let groups = workspace_groups();
        let f = filter(&["g1"], &["bo@x.com"]);
        assert!(is_included(&f, &groups, &"ana".into(), Some("ana@x.com")));
        assert!(!is_included(&f, &groups, &"bo".into(), Some("BO@x.com")));
        assert!(!is_included(&f, &groups, &"cy".into(), Some("cy@x.com")));
    }

    #[test]
    fn a_named_group_that_is_gone_includes_nobody_and_is_reported_missing() {
        let groups = workspace_groups();
        let f = filter(&["gone"], &[]);
        assert!(!is_included(&f, &groups, &"ana".into(), None));
        assert_eq!(missing_groups(&f, &groups), vec![UserGroupId::from("gone")]);
        assert!(missing_groups(&filter(&["g1", " g2 "], &[]), &groups).is_empty());
    }

    #[test]
    fn time_left_out_is_taken_from_the_totals_with_its_minutes() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let secs = |b, nb| Seconds {
            billable: b,
            nonbillable: nb,
        };
        let mut totals = DayTotals::new();
        let web = Some(ClockifyProjectId::from("web"));
        totals.insert(("ana".into(), web.clone(), d("2026-11-02")), secs(3600, 0));
        totals.insert(
            ("bo".into(), web.clone(), d("2026-11-02")),
            secs(1770, 1800),
        );
        totals.insert(("bo".into(), None, d("2026-11-03")), secs(0, 600));
        let group = take_left_out(
            &mut totals,
            |u| u.as_str() == "ana",
            |u, p, date| format!("{u} · {} · {date}", p.map_or("no project", |p| p.as_str())),
        )
        .expect("bo's time is left out");
        assert_eq!(group.reason, TimeSkip::LeftOutByFilter);
        // 29.5 min rounds to 30, plus 30 and 10.
        assert_eq!((group.minutes, group.day_totals), (70, 2));
        assert_eq!(
            group.days.named,
            ["bo · no project · 2026-11-03", "bo · web · 2026-11-02"]
        );
        assert_eq!(totals.len(), 1, "only ana's time is left to sync");
        assert!(take_left_out(&mut totals, |_| true, |_, _, _| String::new()).is_none());
    }
}
