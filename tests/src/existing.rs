//! An existing Runn customer, generated beside a Clockify workspace: Runn already holds
//! people (some e-mails in another case, some only by name, two of one name), clients
//! and projects under slightly different spellings, one record linked to another
//! Clockify id, and references of another integration. Seeded through Runn's API, and
//! with what every linking rule must make of it.

use crate::clockify::WorkspaceData;
use shared::ids::RunnClientId;
use shared::model::links::{Confidence, LinkKind};
use shared::runn::{NewClient, NewPerson, NewProject, NewRole, Reference, RunnClient};
use std::collections::BTreeMap;

/// What each Clockify record should be suggested as: `(kind, clockify id)` → the
/// confidence and, when one record is meant, its Runn id.
pub type Expected = BTreeMap<(LinkKind, String), (Confidence, Option<i64>)>;

/// What the generator made.
pub struct ExistingRunn {
    pub expected: Expected,
    /// Records carrying another integration's reference: `(kind, runn id)`.
    pub foreign: Vec<(LinkKind, i64)>,
    /// How many Runn records were seeded.
    pub seeded: usize,
}

fn harvest(id: &str) -> Reference {
    Reference {
        reference_name: "Harvest".into(),
        external_id: id.into(),
    }
}

/// A name spelled the way a person typing it into Runn might: other case, no accents,
/// extra spaces.
fn respelled(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'É' => 'e',
            'ö' => 'o',
            'ü' => 'u',
            'ễ' => 'e',
            'í' => 'i',
            other => other,
        })
        .collect();
    format!(" {}  ", plain.to_uppercase())
}

/// Seeds Runn from the workspace's active users, clients and projects.
pub async fn seed(runn: &RunnClient, ws: &WorkspaceData) -> ExistingRunn {
    let mut out = ExistingRunn {
        expected: Expected::new(),
        foreign: vec![],
        seeded: 0,
    };
    let role = runn
        .create_role(&NewRole {
            name: "Consultant".into(),
            references: vec![],
        })
        .await
        .expect("a role")
        .id;
    let person = |first: &str, last: &str, email: Option<String>, refs: Vec<Reference>| NewPerson {
        first_name: first.into(),
        last_name: last.into(),
        role_id: role,
        email,
        references: refs,
        start_date: None,
    };
    let active: Vec<_> = ws
        .users
        .iter()
        .filter(|u| u.membership_status == "ACTIVE")
        .collect();
    for (i, u) in active.iter().enumerate() {
        let key = (LinkKind::Person, u.id.clone());
        let name = u.name.trim();
        let (first, last) = name.split_once(' ').unwrap_or((name, "-"));
        // Matching by name needs a full name; a one-word one is matched by e-mail.
        let case = if !name.contains(' ') && matches!(i % 6, 1 | 2) {
            0
        } else {
            i % 6
        };
        match case {
            // The same e-mail in another case, a reference of another integration: sure.
            0 => {
                let refs = vec![harvest(&format!("h-{i}"))];
                let p = person(first, last, Some(u.email.to_uppercase()), refs);
                let id = runn.create_person(&p).await.expect("seed").id.0;
                out.foreign.push((LinkKind::Person, id));
                out.expected.insert(key, (Confidence::Sure, Some(id)));
            }
            // Only by name, spelled another way: likely.
            1 => {
                let p = person(&respelled(first), &respelled(last), None, vec![]);
                let id = runn.create_person(&p).await.expect("seed").id.0;
                out.expected.insert(key, (Confidence::Likely, Some(id)));
            }
            // Two of that name: ambiguous.
            2 => {
                for _ in 0..2 {
                    runn.create_person(&person(first, last, None, vec![]))
                        .await
                        .expect("seed");
                }
                out.seeded += 1;
                out.expected.insert(key, (Confidence::Ambiguous, None));
            }
            // The same e-mail, but linked to another Clockify id: a conflict.
            3 => {
                let refs = vec![Reference::clockify(format!("0ld{i:021}"))];
                let p = person(first, last, Some(u.email.clone()), refs);
                let id = runn.create_person(&p).await.expect("seed").id.0;
                out.expected.insert(key, (Confidence::Conflict, Some(id)));
            }
            // Not in Runn: created by the import.
            _ => continue,
        }
        out.seeded += 1;
    }
    seed_clients_and_projects(runn, ws, &mut out).await;
    out
}

async fn seed_clients_and_projects(runn: &RunnClient, ws: &WorkspaceData, out: &mut ExistingRunn) {
    let live: Vec<_> = ws.clients.iter().filter(|c| !c.archived).collect();
    let mut runn_client: BTreeMap<&str, RunnClientId> = BTreeMap::new();
    // Every other client is in Runn already, spelled another way, one with another
    // integration's reference.
    for (i, c) in live.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        let references = if i == 0 {
            vec![harvest("hc-0")]
        } else {
            vec![]
        };
        let new = NewClient {
            name: respelled(&c.name),
            website: None,
            references,
        };
        let id = runn.create_client(&new).await.expect("seed").id;
        if i == 0 {
            out.foreign.push((LinkKind::Client, id.0));
        }
        runn_client.insert(c.id.as_str(), id);
        out.expected.insert(
            (LinkKind::Client, c.id.clone()),
            (Confidence::Sure, Some(id.0)),
        );
        out.seeded += 1;
    }
    // A client of Runn's own, for projects filed under "another client".
    let elsewhere = runn
        .create_client(&NewClient {
            name: "Runn's own client".into(),
            website: None,
            references: vec![],
        })
        .await
        .expect("seed")
        .id;
    out.seeded += 1;
    let projects: Vec<_> = ws
        .projects
        .iter()
        .filter(|p| {
            !p.archived
                && p.client_id
                    .as_deref()
                    .is_some_and(|c| live.iter().any(|x| x.id == c))
        })
        .collect();
    for (i, p) in projects.iter().enumerate().filter(|(i, _)| i % 3 != 2) {
        let client = p.client_id.as_deref().and_then(|c| runn_client.get(c));
        // Under its linked client: sure. Under another client (or its client is not in
        // Runn): by name alone, likely.
        let (client_id, confidence) = match (client, i % 3) {
            (Some(c), 0) => (*c, Confidence::Sure),
            _ => (elsewhere, Confidence::Likely),
        };
        let new = NewProject {
            name: respelled(&p.name),
            client_id,
            is_confirmed: None,
            pricing_model: None,
            references: vec![],
        };
        let id = runn.create_project(&new).await.expect("seed").id.0;
        out.expected
            .insert((LinkKind::Project, p.id.clone()), (confidence, Some(id)));
        out.seeded += 1;
    }
}
