//! Makes a Clockify account of any size, deterministically from a seed: clients (some
//! archived), projects with and without a client (some archived), users in several time
//! zones with one-word, accented and padded names, months of time entries, and
//! (optionally) user groups.

use crate::clockify::{SimClient, SimProject, SimTimeEntry, SimUser, SimUserGroup, WorkspaceData};
use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct GenSpec {
    pub seed: u64,
    pub workspace_id: String,
    pub users: usize,
    /// Users whose workspace membership is INACTIVE (counted within `users`).
    pub inactive_users: usize,
    pub clients: usize,
    pub archived_clients: usize,
    pub projects: usize,
    /// Projects with no client (counted within `projects`).
    pub projects_without_client: usize,
    pub archived_projects: usize,
    pub entries: usize,
    pub first_day: NaiveDate,
    pub days: u32,
    /// Running timers among the entries (no end).
    pub running: usize,
    /// User groups ("Group 0", "Group 1", ...): user `i` is in group `i % groups`.
    pub groups: usize,
}

impl Default for GenSpec {
    fn default() -> Self {
        Self {
            seed: 42,
            workspace_id: "64a687e29ae1f428e7ebe303".into(),
            users: 10,
            inactive_users: 0,
            clients: 5,
            archived_clients: 0,
            projects: 10,
            projects_without_client: 0,
            archived_projects: 0,
            entries: 100,
            first_day: NaiveDate::from_ymd_opt(2025, 5, 1).expect("valid date"),
            days: 30,
            running: 0,
            groups: 0,
        }
    }
}

pub const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
];

const FIRST: [&str; 12] = [
    "Ana", "Björn", "Chloé", "Dmitri", "Émilie", "Farah", "Gustavo", "Hana", "Ingrid", "José",
    "Łukasz", "Mei",
];
const LAST: [&str; 10] = [
    "Álvarez",
    "Brown",
    "Nguyễn",
    "O'Neil",
    "Søreide",
    "van der Berg",
    "Müller",
    "Smith",
    "Kowalska",
    "Zhang",
];

fn hex_id(rng: &mut StdRng) -> String {
    format!("{:024x}", rng.gen::<u128>() & ((1u128 << 96) - 1))
}

/// The user's display name: mostly "First Last", sometimes one word, sometimes padded.
fn person_name(i: usize, rng: &mut StdRng) -> String {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len() + i) % LAST.len()];
    match rng.gen_range(0..20) {
        0 => first.to_owned(),
        1 => format!("  {first}   {last} "),
        _ => format!("{first} {last}"),
    }
}

pub fn workspace(spec: &GenSpec) -> WorkspaceData {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let clients: Vec<SimClient> = (0..spec.clients)
        .map(|i| SimClient {
            id: hex_id(&mut rng),
            name: format!("Client {i:04}"),
            archived: i < spec.archived_clients,
        })
        .collect();
    let active_clients: Vec<&SimClient> = clients.iter().filter(|c| !c.archived).collect();
    let projects: Vec<SimProject> = (0..spec.projects)
        .map(|i| {
            let client_id = if i < spec.projects_without_client || active_clients.is_empty() {
                None
            } else {
                Some(active_clients[i % active_clients.len()].id.clone())
            };
            SimProject {
                id: hex_id(&mut rng),
                name: format!("Project {i:05}"),
                client_id,
                archived: i >= spec.projects.saturating_sub(spec.archived_projects),
                billable: i % 3 != 0,
            }
        })
        .collect();
    let users: Vec<SimUser> = (0..spec.users)
        .map(|i| SimUser {
            id: hex_id(&mut rng),
            name: person_name(i, &mut rng),
            email: format!("user{i}@example.com"),
            membership_status: if i >= spec.users.saturating_sub(spec.inactive_users) {
                "INACTIVE"
            } else {
                "ACTIVE"
            }
            .into(),
            time_zone: ZONES[i % ZONES.len()].into(),
        })
        .collect();
    let live_projects: Vec<&SimProject> = projects.iter().filter(|p| !p.archived).collect();
    let mut time_entries = Vec::with_capacity(spec.entries);
    if !users.is_empty() {
        for i in 0..spec.entries {
            let user = &users[i % users.len()];
            let tz: Tz = user.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let day = spec.first_day + Duration::days(rng.gen_range(0..spec.days.max(1)) as i64);
            let start_local = day
                .and_hms_opt(rng.gen_range(7..16), rng.gen_range(0..4) * 15, 0)
                .expect("valid time");
            let start = tz
                .from_local_datetime(&start_local)
                .earliest()
                .expect("daytime exists")
                .to_utc();
            let minutes = rng.gen_range(1..=16) * 15;
            // A few entries have no project, as in real workspaces.
            let project_id = if live_projects.is_empty() || rng.gen_range(0..40) == 0 {
                None
            } else {
                Some(
                    live_projects[rng.gen_range(0..live_projects.len())]
                        .id
                        .clone(),
                )
            };
            let running = i >= spec.entries.saturating_sub(spec.running);
            time_entries.push(SimTimeEntry {
                id: hex_id(&mut rng),
                user_id: user.id.clone(),
                billable: project_id.is_some() && rng.gen_bool(0.7),
                project_id,
                description: format!("Work item {i}"),
                start,
                end: if running {
                    None
                } else {
                    Some(start + Duration::minutes(minutes))
                },
            });
        }
    }
    // Drawn last, so a spec without groups generates what it always did.
    let user_groups = groups(spec, &users, &mut rng);
    WorkspaceData {
        id: spec.workspace_id.clone(),
        name: "Generated Workspace".into(),
        clients,
        projects,
        users,
        time_entries,
        user_groups,
        ..Default::default()
    }
}

/// `spec.groups` groups, user `i` in group `i % groups`.
fn groups(spec: &GenSpec, users: &[SimUser], rng: &mut StdRng) -> Vec<SimUserGroup> {
    (0..spec.groups)
        .map(|g| SimUserGroup {
            id: hex_id(rng),
            name: format!("Group {g}"),
            user_ids: users
                .iter()
                .enumerate()
                .filter(|(i, _)| i % spec.groups == g)
                .map(|(_, u)| u.id.clone())
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let spec = GenSpec {
            users: 20,
            entries: 500,
            projects: 30,
            projects_without_client: 4,
            archived_projects: 3,
            running: 2,
            ..Default::default()
        };
        let a = workspace(&spec);
        let b = workspace(&spec);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(a.users.len(), 20);
        assert_eq!(a.time_entries.len(), 500);
        assert_eq!(
            a.projects.iter().filter(|p| p.client_id.is_none()).count(),
            4
        );
        assert_eq!(a.projects.iter().filter(|p| p.archived).count(), 3);
        assert_eq!(a.time_entries.iter().filter(|e| e.end.is_none()).count(), 2);
        let zones: std::collections::HashSet<_> =
            a.users.iter().map(|u| u.time_zone.clone()).collect();
        assert!(zones.len() >= 5);
        assert!(a.user_groups.is_empty());
    }

    #[test]
    fn groups_take_users_in_turn_and_leave_the_rest_as_it_was() {
        let plain = GenSpec {
            users: 5,
            ..Default::default()
        };
        let grouped = GenSpec {
            groups: 2,
            ..plain.clone()
        };
        let (a, b) = (workspace(&plain), workspace(&grouped));
        assert_eq!(
            serde_json::to_value(&a.time_entries).unwrap(),
            serde_json::to_value(&b.time_entries).unwrap()
        );
        assert_eq!(b.user_groups.len(), 2);
        assert_eq!(
            b.user_groups[0].user_ids,
            [&b.users[0].id, &b.users[2].id, &b.users[4].id].map(String::clone)
        );
        assert_eq!(b.user_groups[1].user_ids.len(), 2);
    }
}
