//! A small, realistic company for the demo and the import tests: an agency with a few
//! clients (one archived), projects with and without a client (one archived), and people
//! in several time zones with one-word, accented and oddly spaced names.

use crate::clockify::{ClockifyData, SimClient, SimProject, SimTimeEntry, SimUser, WorkspaceData};
use chrono::{Duration, TimeZone, Utc};

pub const WORKSPACE_ID: &str = "65b1c0ffee0000000000a001";
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
    let start = Utc.with_ymd_and_hms(2025, 5, 5, 9, 0, 0).unwrap();
    let mut time_entries = vec![];
    for (i, u) in users.iter().take(5).enumerate() {
        for day in 0..5 {
            let s = start + Duration::days(day) + Duration::hours(i as i64);
            time_entries.push(SimTimeEntry {
                id: format!("t{:023}", i * 10 + day as usize),
                user_id: u.id.clone(),
                project_id: Some(projects[(i + day as usize) % 4].id.clone()),
                billable: true,
                description: "Client work".into(),
                start: s,
                end: Some(s + Duration::hours(6)),
            });
        }
    }
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
        workspaces: vec![workspace()],
    }
}
