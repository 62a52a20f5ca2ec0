//! The import's rules: from what Clockify holds and which Clockify ids Runn already
//! carries, the clients, projects and people to create and what to skip, and why. Pure.

use crate::clockify::{self, MembershipStatus};
use crate::ids::{ClockifyClientId, ClockifyProjectId, ClockifyUserId, WorkspaceId};
use crate::model::links::LinkKind;
use crate::model::plan::{
    ClientToCreate, ImportPlan, PersonToCreate, ProjectToCreate, RecordKind, Skip, SkipReason,
};
use crate::sync::rules::names::split_name;
use std::collections::HashSet;

pub use crate::account::Switches;

/// What the Clockify workspace holds.
#[derive(Clone, Debug, Default)]
pub struct ClockifyState {
    pub clients: Vec<clockify::Client>,
    pub projects: Vec<clockify::Project>,
    pub users: Vec<clockify::User>,
}

/// The Clockify ids Runn already carries as references (`referenceName: "Clockify"`),
/// whoever put them there: a previous import or a Runn user linking a record by hand.
#[derive(Clone, Debug, Default)]
pub struct LinkedInRunn {
    pub clients: HashSet<ClockifyClientId>,
    pub projects: HashSet<ClockifyProjectId>,
    /// Archived people included: an archived person stays archived and is not recreated.
    pub people: HashSet<ClockifyUserId>,
    /// Clockify records with an open link suggestion (neither applied nor rejected): no
    /// import creates them until a person has decided.
    pub held: HashSet<(LinkKind, String)>,
}

impl LinkedInRunn {
    fn holds(&self, kind: LinkKind, id: &str) -> bool {
        self.held.contains(&(kind, id.to_owned()))
    }
}

/// Why a Clockify project is not in Runn, by the import's rules, in a customer's words
/// (for the time skipped on it).
pub fn why_project_not_in_runn(
    project: Option<&clockify::Project>,
    clients: &[clockify::Client],
    switches: Switches,
) -> &'static str {
    let Some(p) = project else {
        return "not in Clockify any more";
    };
    if !switches.clients_and_projects {
        return "clients and projects are not imported (switched off)";
    }
    if p.archived {
        return SkipReason::Archived.explain();
    }
    match &p.client_id {
        None => SkipReason::MissingClient.explain(),
        Some(c) if clients.iter().any(|x| &x.id == c && !x.archived) => {
            "not imported yet (the next import creates it)"
        }
        Some(_) => SkipReason::ClientNotImported.explain(),
    }
}

/// Why a Clockify user is not in Runn, by the import's rules.
pub fn why_person_not_in_runn(
    user: Option<&clockify::User>,
    ws: &WorkspaceId,
    switches: Switches,
) -> &'static str {
    match user {
        None => "not a user of the workspace",
        Some(_) if !switches.people => "people are not imported (switched off)",
        Some(u) if u.workspace_status(ws) != Some(&MembershipStatus::Active) => {
            SkipReason::NotActiveMember.explain()
        }
        Some(_) => "not imported yet (the next import creates them)",
    }
}

/// The names of the linked people whose current contract is on `role`, sorted.
pub fn names_on_role(
    linked: &std::collections::HashMap<crate::ids::RunnPersonId, String>,
    contracts: &[crate::runn::Contract],
    role: crate::ids::RunnRoleId,
) -> Vec<String> {
    let on_role: std::collections::BTreeSet<crate::ids::RunnPersonId> = contracts
        .iter()
        .filter(|c| c.role_id == role)
        .map(|c| c.person_id)
        .collect();
    let mut names: Vec<String> = on_role
        .iter()
        .filter_map(|id| linked.get(id).cloned())
        .collect();
    names.sort();
    names
}

/// Applies the integration's rules. Pure: the same inputs always give the same plan.
pub fn plan_import(
    ws: &WorkspaceId,
    switches: Switches,
    clockify: &ClockifyState,
    runn: &LinkedInRunn,
) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let mut skip = |kind, id: &str, name: &str, reason| {
        plan.skipped.push(Skip {
            kind,
            clockify_id: id.to_owned(),
            name: name.to_owned(),
            reason,
        })
    };
    let mut clients = vec![];
    let mut projects = vec![];
    let mut people = vec![];

    if switches.clients_and_projects {
        // Clients that will exist in Runn after this run: already linked, or created now.
        let mut in_runn: HashSet<&ClockifyClientId> = HashSet::new();
        for c in &clockify.clients {
            if runn.clients.contains(&c.id) {
                in_runn.insert(&c.id);
                skip(
                    RecordKind::Client,
                    c.id.as_str(),
                    &c.name,
                    SkipReason::AlreadyLinked,
                );
            } else if c.archived {
                skip(
                    RecordKind::Client,
                    c.id.as_str(),
                    &c.name,
                    SkipReason::Archived,
                );
            } else if runn.holds(LinkKind::Client, c.id.as_str()) {
                skip(
                    RecordKind::Client,
                    c.id.as_str(),
                    &c.name,
                    SkipReason::LinkSuggested,
                );
            } else {
                in_runn.insert(&c.id);
                clients.push(ClientToCreate {
                    clockify_id: c.id.clone(),
                    name: c.name.trim().to_owned(),
                });
            }
        }
        for p in &clockify.projects {
            let reason = if runn.projects.contains(&p.id) {
                Some(SkipReason::AlreadyLinked)
            } else if p.archived {
                Some(SkipReason::Archived)
            } else if runn.holds(LinkKind::Project, p.id.as_str()) {
                Some(SkipReason::LinkSuggested)
            } else {
                match &p.client_id {
                    None => Some(SkipReason::MissingClient),
                    Some(c) if runn.holds(LinkKind::Client, c.as_str()) => {
                        Some(SkipReason::ClientHeld)
                    }
                    Some(c) if !in_runn.contains(c) => Some(SkipReason::ClientNotImported),
                    Some(_) => None,
                }
            };
            match (reason, &p.client_id) {
                (Some(r), _) => skip(RecordKind::Project, p.id.as_str(), &p.name, r),
                (None, Some(c)) => projects.push(ProjectToCreate {
                    clockify_id: p.id.clone(),
                    clockify_client_id: c.clone(),
                    name: p.name.trim().to_owned(),
                }),
                (None, None) => unreachable!("a project without a client is skipped above"),
            }
        }
    }

    if switches.people {
        for u in &clockify.users {
            let display = u.name.clone().unwrap_or_default();
            if runn.people.contains(&u.id) {
                skip(
                    RecordKind::Person,
                    u.id.as_str(),
                    &display,
                    SkipReason::AlreadyLinked,
                );
            } else if u.workspace_status(ws) != Some(&MembershipStatus::Active) {
                skip(
                    RecordKind::Person,
                    u.id.as_str(),
                    &display,
                    SkipReason::NotActiveMember,
                );
            } else if runn.holds(LinkKind::Person, u.id.as_str()) {
                skip(
                    RecordKind::Person,
                    u.id.as_str(),
                    &display,
                    SkipReason::LinkSuggested,
                );
            } else {
                let email = u.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
                let (first_name, last_name) = split_name(&display, email);
                people.push(PersonToCreate {
                    clockify_id: u.id.clone(),
                    first_name,
                    last_name,
                    email: email.map(str::to_owned),
                });
            }
        }
    }
    plan.clients = clients;
    plan.projects = projects;
    plan.people = people;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clockify::{Client, Membership, Project, User};

    fn ws() -> WorkspaceId {
        WorkspaceId::new("ws1")
    }
    fn client(id: &str, archived: bool) -> Client {
        Client {
            id: id.into(),
            name: format!("Client {id}"),
            archived,
        }
    }
    fn project(id: &str, client: Option<&str>, archived: bool) -> Project {
        Project {
            id: id.into(),
            name: format!(" Project {id} "),
            client_id: client.map(Into::into),
            client_name: None,
            archived,
            billable: true,
            template: false,
        }
    }
    fn user(id: &str, name: &str, status: MembershipStatus) -> User {
        User {
            id: id.into(),
            name: Some(name.into()),
            email: Some(format!("{id}@example.com")),
            status: Some("ACTIVE".into()),
            memberships: vec![Membership {
                user_id: Some(id.into()),
                target_id: Some("ws1".into()),
                membership_type: Some("WORKSPACE".into()),
                membership_status: status,
            }],
            settings: None,
        }
    }
    const ALL: Switches = Switches::ALL;

    fn state() -> ClockifyState {
        ClockifyState {
            clients: vec![client("c1", false), client("c2", false), client("c3", true)],
            projects: vec![
                project("p1", Some("c1"), false),
                project("p2", None, false),
                project("p3", Some("c1"), true),
                project("p4", Some("c3"), false),
                project("p5", Some("c2"), false),
            ],
            users: vec![
                user("u1", "Ana Brown", MembershipStatus::Active),
                user("u2", "Łukasz", MembershipStatus::Active),
                user("u3", "Gone Person", MembershipStatus::Inactive),
                user("u4", "Invited", MembershipStatus::Pending),
            ],
        }
    }

    fn ids(v: Vec<&str>) -> Vec<&str> {
        v
    }

    fn reasons(plan: &ImportPlan) -> Vec<(&str, SkipReason)> {
        plan.skipped
            .iter()
            .map(|s| (s.clockify_id.as_str(), s.reason))
            .collect()
    }

    #[test]
    fn why_a_record_is_not_in_runn_follows_the_import_rules() {
        let clients = [client("c1", false), client("c2", true)];
        let all = Switches::ALL;
        let p = |client, archived| project("p", client, archived);
        assert_eq!(
            why_project_not_in_runn(Some(&p(None, false)), &clients, all),
            "has no client in Clockify"
        );
        assert_eq!(
            why_project_not_in_runn(Some(&p(Some("c2"), false)), &clients, all),
            "its client is not imported"
        );
        assert_eq!(
            why_project_not_in_runn(Some(&p(Some("c1"), true)), &clients, all),
            "archived in Clockify"
        );
        assert!(
            why_project_not_in_runn(Some(&p(Some("c1"), false)), &clients, all)
                .contains("next import")
        );
        assert!(why_project_not_in_runn(None, &clients, all).contains("not in Clockify"));
        let off = Switches {
            clients_and_projects: false,
            ..all
        };
        assert!(
            why_project_not_in_runn(Some(&p(None, false)), &clients, off).contains("switched off")
        );
        let gone = user("u", "Gone", MembershipStatus::Inactive);
        assert_eq!(
            why_person_not_in_runn(Some(&gone), &ws(), all),
            "not an active member of the workspace"
        );
    }

    #[test]
    fn a_first_import_creates_what_the_rules_allow_and_says_why_not_the_rest() {
        let plan = plan_import(&ws(), ALL, &state(), &LinkedInRunn::default());
        assert_eq!(
            ids(plan
                .clients
                .iter()
                .map(|c| c.clockify_id.as_str())
                .collect()),
            ["c1", "c2"]
        );
        assert_eq!(
            ids(plan
                .projects
                .iter()
                .map(|p| p.clockify_id.as_str())
                .collect()),
            ["p1", "p5"]
        );
        assert_eq!(plan.projects[0].name, "Project p1");
        assert_eq!(
            ids(plan.people.iter().map(|p| p.clockify_id.as_str()).collect()),
            ["u1", "u2"]
        );
        assert_eq!(
            (
                plan.people[1].first_name.as_str(),
                plan.people[1].last_name.as_str()
            ),
            ("Łukasz", "-")
        );
        assert_eq!(
            reasons(&plan),
            [
                ("c3", SkipReason::Archived),
                ("p2", SkipReason::MissingClient),
                ("p3", SkipReason::Archived),
                ("p4", SkipReason::ClientNotImported),
                ("u3", SkipReason::NotActiveMember),
                ("u4", SkipReason::NotActiveMember),
            ]
        );
    }

    #[test]
    fn records_with_an_open_suggestion_are_held_and_their_clients_projects_with_them() {
        let linked = LinkedInRunn {
            held: [
                (LinkKind::Client, "c1".to_owned()),
                (LinkKind::Person, "u1".to_owned()),
            ]
            .into(),
            ..Default::default()
        };
        let plan = plan_import(&ws(), ALL, &state(), &linked);
        let reason = |id: &str| {
            plan.skipped
                .iter()
                .find(|s| s.clockify_id == id)
                .map(|s| s.reason)
        };
        assert_eq!(reason("c1"), Some(SkipReason::LinkSuggested));
        assert_eq!(reason("u1"), Some(SkipReason::LinkSuggested));
        assert_eq!(reason("p1"), Some(SkipReason::ClientHeld));
        assert!(plan.clients.iter().all(|c| c.clockify_id.as_str() != "c1"));
        assert!(plan.people.iter().all(|p| p.clockify_id.as_str() != "u1"));
        assert!(plan.projects.iter().all(|p| p.clockify_id.as_str() != "p1"));
    }

    #[test]
    fn records_runn_already_carries_are_never_created_again() {
        let linked = LinkedInRunn {
            clients: ["c1".into(), "c2".into()].into(),
            projects: ["p1".into(), "p5".into()].into(),
            people: ["u1".into(), "u2".into()].into(),
            held: Default::default(),
        };
        let plan = plan_import(&ws(), ALL, &state(), &linked);
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(
            plan.skipped
                .iter()
                .filter(|s| s.reason == SkipReason::AlreadyLinked)
                .count(),
            6
        );
    }

    #[test]
    fn a_project_whose_client_was_linked_by_hand_is_imported() {
        // c3 is archived in Clockify but a Runn user linked it: its projects can go in.
        let linked = LinkedInRunn {
            clients: ["c3".into()].into(),
            ..Default::default()
        };
        let plan = plan_import(&ws(), ALL, &state(), &linked);
        assert!(plan.projects.iter().any(|p| p.clockify_id.as_str() == "p4"));
    }

    #[test]
    fn switches_limit_what_is_planned() {
        let only_people = Switches {
            clients_and_projects: false,
            people: true,
            actuals: false,
        };
        let plan = plan_import(&ws(), only_people, &state(), &LinkedInRunn::default());
        assert!(plan.clients.is_empty() && plan.projects.is_empty());
        assert_eq!(plan.people.len(), 2);
        let only_cp = Switches {
            clients_and_projects: true,
            people: false,
            actuals: false,
        };
        let plan = plan_import(&ws(), only_cp, &state(), &LinkedInRunn::default());
        assert!(plan.people.is_empty());
        assert_eq!(plan.clients.len(), 2);
    }
}
