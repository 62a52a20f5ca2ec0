//! A small, realistic company for the demo and the import tests: an agency with a few
//! clients (one archived), projects with and without a client (one archived), and people
//! in several time zones with one-word, accented and oddly spaced names.

use crate::clockify::{ClockifyData, SimClient, SimProject, SimTimeEntry, SimUser, WorkspaceData};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

pub const WORKSPACE_ID: &str = "65b1c0ffee0000000000a001";
/// A regular member's key: it works, but is no admin's.
pub const MEMBER_API_KEY: &str = "demo-member-key-0002";
pub const API_KEY: &str = "demo-clockify-api-key";

fn client(id: &str, name: &str, archived: bool) -> SimClient {
    SimClient {
        id: id.into(),
        name: name.into(),
        archived,
    }
}

fn project(id: &str, name: &str, client: Option<&str>, archived: bool) -> SimProject {
    SimProject {
        id: id.into(),
        name: name.into(),
        client_id: client.map(Into::into),
        archived,
        billable: client.is_some(),
    }
}

fn user(id: &str, name: &str, email: &str, status: &str, tz: &str) -> SimUser {
    SimUser {
        id: id.into(),
        name: name.into(),
        email: email.into(),
        membership_status: status.into(),
        time_zone: tz.into(),
    }
}

pub fn workspace() -> WorkspaceData {
    let clients = vec![
        client("c0000000000000000000c001", "Acme Corporation", false),
        client("c0000000000000000000c002", "Globex", false),
        client("c0000000000000000000c003", "Initech", false),
        client("c0000000000000000000c004", "Umbrella (former client)", true),
    ];
    let projects = vec![
        project(
            "p0000000000000000000p001",
            "Acme Website Redesign",
            Some("c0000000000000000000c001"),
            false,
        ),
        project(
            "p0000000000000000000p002",
            "Acme Mobile App",
            Some("c0000000000000000000c001"),
            false,
        ),
        project(
            "p0000000000000000000p003",
            "Globex Data Platform",
            Some("c0000000000000000000c002"),
            false,
        ),
        project(
            "p0000000000000000000p004",
            "Initech TPS Reports",
            Some("c0000000000000000000c003"),
            false,
        ),
        project(
            "p0000000000000000000p005",
            "Initech Legacy Migration",
            Some("c0000000000000000000c003"),
            true,
        ),
        project(
            "p0000000000000000000p006",
            "Internal: Holidays & Leave",
            None,
            false,
        ),
        project(
            "p0000000000000000000p007",
            "Internal: Training",
            None,
            false,
        ),
        project(
            "p0000000000000000000p008",
            "Umbrella Audit",
            Some("c0000000000000000000c004"),
            false,
        ),
    ];
    let users = vec![
        user(
            "u0000000000000000000u001",
            "Ana García",
            "ana@agency.example",
            "ACTIVE",
            "Europe/Madrid",
        ),
        user(
            "u0000000000000000000u002",
            "Émilie Nguyễn",
            "emilie@agency.example",
            "ACTIVE",
            "Europe/Paris",
        ),
        user(
            "u0000000000000000000u003",
            "Mei",
            "mei@agency.example",
            "ACTIVE",
            "Asia/Shanghai",
        ),
        user(
            "u0000000000000000000u004",
            "  James   O'Neil ",
            "james@agency.example",
            "ACTIVE",
            "America/New_York",
        ),
        user(
            "u0000000000000000000u005",
            "Søren van der Berg",
            "soren@agency.example",
            "ACTIVE",
            "Australia/Sydney",
        ),
        user(
            "u0000000000000000000u006",
            "Former Employee",
            "former@agency.example",
            "INACTIVE",
            "UTC",
        ),
    ];
    let time_entries = entries(&users, &projects, Utc::now().date_naive());
    WorkspaceData {
        id: WORKSPACE_ID.into(),
        name: "Northwind Agency".into(),
        clients,
        projects,
        users,
        time_entries,
        ..Default::default()
    }
}

pub fn data() -> ClockifyData {
    ClockifyData {
        api_keys: vec![API_KEY.into()],
        member_keys: vec![MEMBER_API_KEY.into()],
        workspaces: vec![workspace()],
    }
}

/// Two working weeks of time before `today`, in each person's own zone: a morning on a
/// client project (billable), an afternoon on internal training (no client, so not in
/// Runn), Mei's late evenings in Shanghai (23:30, her day, not UTC's), and Søren's
/// running timer.
fn entries(users: &[SimUser], projects: &[SimProject], today: NaiveDate) -> Vec<SimTimeEntry> {
    let mut out = vec![];
    for (i, u) in users.iter().take(5).enumerate() {
        let tz: Tz = u.time_zone.parse().unwrap_or(Tz::UTC);
        let at = |day: NaiveDate, h: u32, m: u32| {
            tz.from_local_datetime(&day.and_hms_opt(h, m, 0).expect("valid time"))
                .earliest()
                .expect("a local time that exists")
                .with_timezone(&Utc)
        };
        for back in 1..=14 {
            let day = today - Duration::days(back);
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                continue;
            }
            let n = out.len();
            let project = &projects[(i + back as usize) % 4];
            let morning = at(day, 9, 0);
            // 3 h 7 min 31 s: minutes are rounded once a day, not per entry.
            out.push(SimTimeEntry {
                id: format!("t{n:023}"),
                user_id: u.id.clone(),
                project_id: Some(project.id.clone()),
                billable: true,
                description: "Client work".into(),
                start: morning,
                end: Some(morning + Duration::seconds(3 * 3600 + 7 * 60 + 31)),
            });
            let afternoon = at(day, 14, 0);
            out.push(SimTimeEntry {
                id: format!("t{:023}", n + 1),
                user_id: u.id.clone(),
                project_id: Some(projects[6].id.clone()),
                billable: false,
                description: "Training".into(),
                start: afternoon,
                end: Some(afternoon + Duration::minutes(90)),
            });
            if i == 2 {
                let late = at(day, 23, 30);
                out.push(SimTimeEntry {
                    id: format!("t{:023}", n + 2),
                    user_id: u.id.clone(),
                    project_id: Some(project.id.clone()),
                    billable: false,
                    description: "Late release".into(),
                    start: late,
                    end: Some(late + Duration::minutes(45)),
                });
            }
        }
    }
    let running = Utc::now() - Duration::minutes(20);
    out.push(SimTimeEntry {
        id: "t_running_timer_000000001".into(),
        user_id: users[4].id.clone(),
        project_id: Some(projects[0].id.clone()),
        billable: true,
        description: "Still going".into(),
        start: running,
        end: None,
    });
    out
}
