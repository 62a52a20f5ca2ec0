//! The linking rules, pure: which Clockify records look like records already in Runn
//! (the suggestions every import holds back), and what a reviewed list of links may
//! write once it is checked against what both sides hold now.

use crate::clockify::MembershipStatus;
use crate::ids::WorkspaceId;
use crate::model::links::{
    Candidate, Confidence, LinkDecision, LinkKind, LinkRequest, Rejection, Suggestion,
};
use crate::model::report::{clip, LINE_CHARS};
use crate::sync::rules::import::ClockifyState;
use std::collections::{BTreeMap, HashMap, HashSet};
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// One Runn client, project or person, as the linking rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnRecord {
    pub id: i64,
    pub name: String,
    /// People only.
    pub email: Option<String>,
    /// Projects only: their Runn client.
    pub client: Option<i64>,
    /// The Clockify id it carries, if any.
    pub clockify: Option<String>,
    pub archived: bool,
}

/// What Runn holds of the kinds read.
#[derive(Clone, Debug, Default)]
pub struct RunnRecords {
    pub clients: Vec<RunnRecord>,
    pub projects: Vec<RunnRecord>,
    pub people: Vec<RunnRecord>,
}

impl RunnRecords {
    pub fn of(&self, kind: LinkKind) -> &[RunnRecord] {
        match kind {
            LinkKind::Client => &self.clients,
            LinkKind::Project => &self.projects,
            LinkKind::Person => &self.people,
        }
    }
}

/// A name as it is compared: accents folded (and the letters no decomposition takes
/// apart: ł, ø, đ, ß, æ, œ, ı, þ), case and spaces normalised.
pub fn normalise(name: &str) -> String {
    let lower: String = name
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    let mut folded = String::with_capacity(lower.len());
    for c in lower.chars() {
        match c {
            'ł' => folded.push('l'),
            'ø' => folded.push('o'),
            'đ' | 'ð' => folded.push('d'),
            'ı' => folded.push('i'),
            'ß' => folded.push_str("ss"),
            'æ' => folded.push_str("ae"),
            'œ' => folded.push_str("oe"),
            'þ' => folded.push_str("th"),
            c => folded.push(c),
        }
    }
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An e-mail as it is compared: trimmed, case-insensitive.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The records a Clockify record is matched against: Runn's, not archived, and either
/// carrying no Clockify id (candidates) or another one (conflicts).
struct Pool<'a> {
    free: Vec<&'a RunnRecord>,
    linked: Vec<&'a RunnRecord>,
}

impl<'a> Pool<'a> {
    fn new(records: &'a [RunnRecord]) -> Self {
        let live = records.iter().filter(|r| !r.archived);
        let (linked, free) = live.partition(|r| r.clockify.is_some());
        Self { free, linked }
    }
}

/// The most candidates a suggestion lists (its `why` says how many there are): a
/// suggestion stays small whatever the account, so a page of them fits one item.
pub const MAX_CANDIDATES: usize = 10;

fn clipped(name: &str) -> String {
    clip(name.trim(), LINE_CHARS)
}

fn candidates(found: &[&RunnRecord]) -> Vec<Candidate> {
    found
        .iter()
        .take(MAX_CANDIDATES)
        .map(|r| Candidate {
            runn_id: r.id,
            name: clipped(&r.name),
        })
        .collect()
}

/// The suggestion for one Clockify record from its matches: one (sure or `one`), several
/// (ambiguous), or, with none among the free records, one linked elsewhere (a conflict).
struct Matched<'a> {
    kind: LinkKind,
    clockify_id: &'a str,
    clockify_name: &'a str,
}

impl Matched<'_> {
    fn suggestion(
        &self,
        found: &[&RunnRecord],
        confidence: Confidence,
        why: &str,
    ) -> Option<Suggestion> {
        let mut s = Suggestion {
            kind: self.kind,
            clockify_id: self.clockify_id.to_owned(),
            clockify_name: clipped(self.clockify_name),
            runn_id: None,
            runn_name: None,
            confidence,
            why: why.to_owned(),
            candidates: vec![],
        };
        match found {
            [] => return None,
            [one] => {
                s.runn_id = Some(one.id);
                s.runn_name = Some(clipped(&one.name));
            }
            several => {
                s.confidence = Confidence::Ambiguous;
                s.why = if several.len() > MAX_CANDIDATES {
                    format!(
                        "{} Runn records (the first {MAX_CANDIDATES} listed): {why}",
                        several.len()
                    )
                } else {
                    format!("{} Runn records: {why}", several.len())
                };
                s.candidates = candidates(several);
            }
        }
        Some(s)
    }

    /// A Runn record of the same e-mail or name linked to a Clockify id the workspace no
    /// longer has (a record deleted and made again): likely this one. One linked to a
    /// live record is that record's, and no suggestion at all.
    fn conflict(
        &self,
        linked: &[&RunnRecord],
        live: &HashSet<&str>,
        why: &str,
    ) -> Option<Suggestion> {
        let gone: Vec<&RunnRecord> = linked
            .iter()
            .copied()
            .filter(|r| r.clockify.as_deref().is_some_and(|x| !live.contains(x)))
            .collect();
        let linked = gone.as_slice();
        let first = linked.first()?;
        let other = first.clockify.as_deref().unwrap_or_default();
        let mut s = self.suggestion(&[first], Confidence::Conflict, why)?;
        s.why = format!("{why}, but it is linked to Clockify id {other}");
        s.candidates = if linked.len() > 1 {
            candidates(linked)
        } else {
            vec![]
        };
        Some(s)
    }
}

fn same_name<'a>(records: &[&'a RunnRecord], name: &str) -> Vec<&'a RunnRecord> {
    let n = normalise(name);
    records
        .iter()
        .copied()
        .filter(|r| normalise(&r.name) == n)
        .collect()
}

fn under_client<'a>(
    records: &[&'a RunnRecord],
    name: &str,
    client: Option<i64>,
) -> Vec<&'a RunnRecord> {
    match client {
        None => vec![],
        Some(c) => same_name(records, name)
            .into_iter()
            .filter(|r| r.client == Some(c))
            .collect(),
    }
}

fn by_email<'a>(records: &[&'a RunnRecord], email: &str) -> Vec<&'a RunnRecord> {
    let e = normalise_email(email);
    records
        .iter()
        .copied()
        .filter(|r| r.email.as_deref().map(normalise_email).as_deref() == Some(e.as_str()))
        .collect()
}

/// Clockify's clients, by name.
fn suggest_clients(
    clockify: &ClockifyState,
    runn: &RunnRecords,
    open: &dyn Fn(LinkKind, &str) -> bool,
) -> Vec<Suggestion> {
    let pool = Pool::new(&runn.clients);
    let live: HashSet<&str> = clockify.clients.iter().map(|c| c.id.as_str()).collect();
    clockify
        .clients
        .iter()
        .filter(|c| !c.archived && open(LinkKind::Client, c.id.as_str()))
        .filter_map(|c| {
            let m = Matched {
                kind: LinkKind::Client,
                clockify_id: c.id.as_str(),
                clockify_name: &c.name,
            };
            m.suggestion(
                &same_name(&pool.free, &c.name),
                Confidence::Sure,
                "same name",
            )
            .or_else(|| m.conflict(&same_name(&pool.linked, &c.name), &live, "same name"))
        })
        .collect()
}

/// Clockify's projects: by name under the Runn client their client is (or, by a
/// suggestion, will be) linked to; else by name alone.
fn suggest_projects(
    clockify: &ClockifyState,
    runn: &RunnRecords,
    client_of: &HashMap<&str, i64>,
    open: &dyn Fn(LinkKind, &str) -> bool,
) -> Vec<Suggestion> {
    let pool = Pool::new(&runn.projects);
    let live: HashSet<&str> = clockify.projects.iter().map(|p| p.id.as_str()).collect();
    let client_name: HashMap<i64, &str> = runn
        .clients
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut out = vec![];
    for p in &clockify.projects {
        if p.archived || !open(LinkKind::Project, p.id.as_str()) {
            continue;
        }
        let m = Matched {
            kind: LinkKind::Project,
            clockify_id: p.id.as_str(),
            clockify_name: &p.name,
        };
        let client = p.client_id.as_ref().and_then(|c| client_of.get(c.as_str()));
        let under = |records| under_client(records, &p.name, client.copied());
        let why_under = match client.and_then(|c| client_name.get(c)) {
            Some(name) => format!("same name, under {name}"),
            None => String::new(),
        };
        let s = m
            .suggestion(&under(&pool.free), Confidence::Sure, &why_under)
            .or_else(|| {
                let why = if client.is_some() {
                    "same name, under another client"
                } else {
                    "same name"
                };
                m.suggestion(&same_name(&pool.free, &p.name), Confidence::Likely, why)
            })
            .or_else(|| m.conflict(&same_name(&pool.linked, &p.name), &live, "same name"));
        out.extend(s);
    }
    out
}

/// Clockify's active members: by e-mail (sure), else by full name (likely).
fn suggest_people(
    ws: &WorkspaceId,
    clockify: &ClockifyState,
    runn: &RunnRecords,
    open: &dyn Fn(LinkKind, &str) -> bool,
) -> Vec<Suggestion> {
    let pool = Pool::new(&runn.people);
    let live: HashSet<&str> = clockify.users.iter().map(|u| u.id.as_str()).collect();
    let mut out = vec![];
    for u in &clockify.users {
        if u.workspace_status(ws) != Some(&MembershipStatus::Active)
            || !open(LinkKind::Person, u.id.as_str())
        {
            continue;
        }
        let name = u.name.as_deref().unwrap_or_default();
        let m = Matched {
            kind: LinkKind::Person,
            clockify_id: u.id.as_str(),
            clockify_name: name,
        };
        let email = u.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let named = |records| {
            if normalise(name).is_empty() {
                vec![]
            } else {
                same_name(records, name)
            }
        };
        let s = email
            .and_then(|e| m.suggestion(&by_email(&pool.free, e), Confidence::Sure, "same e-mail"))
            .or_else(|| m.suggestion(&named(&pool.free), Confidence::Likely, "same full name"))
            .or_else(|| {
                let linked = email.map(|e| by_email(&pool.linked, e)).unwrap_or_default();
                m.conflict(&linked, &live, "same e-mail")
            })
            .or_else(|| m.conflict(&named(&pool.linked), &live, "same full name"));
        out.extend(s);
    }
    out
}

/// Two Clockify records matched to one Runn record: both become conflicts, neither is
/// applied as it stands.
fn mark_contested(suggestions: &mut [Suggestion]) {
    let mut by_target: HashMap<(LinkKind, i64), Vec<usize>> = HashMap::new();
    for (i, s) in suggestions.iter().enumerate() {
        if let (Some(id), Confidence::Sure | Confidence::Likely) = (s.runn_id, s.confidence) {
            by_target.entry((s.kind, id)).or_default().push(i);
        }
    }
    for idx in by_target.into_values().filter(|v| v.len() > 1) {
        let mut names: Vec<String> = idx
            .iter()
            .take(3)
            .map(|&i| suggestions[i].clockify_name.clone())
            .collect();
        if idx.len() > 3 {
            names.push("...".into());
        }
        for &i in &idx {
            let s = &mut suggestions[i];
            s.confidence = Confidence::Conflict;
            let why = format!(
                "{}; {} Clockify records match it ({})",
                s.why,
                idx.len(),
                names.join(", ")
            );
            s.why = clip(&why, LINE_CHARS);
        }
    }
}

/// The suggestions for every Clockify record of the kinds read that carries no Clockify
/// reference in Runn yet and was not rejected. Pure.
pub fn suggest_links(
    ws: &WorkspaceId,
    clockify: &ClockifyState,
    runn: &RunnRecords,
    rejected: &HashSet<(LinkKind, String)>,
) -> Vec<Suggestion> {
    let linked: HashSet<(LinkKind, &str)> = LinkKind::ALL
        .iter()
        .flat_map(|&k| {
            runn.of(k)
                .iter()
                .filter_map(move |r| r.clockify.as_deref().map(|x| (k, x)))
        })
        .collect();
    let open = |kind: LinkKind, id: &str| {
        !linked.contains(&(kind, id)) && !rejected.contains(&(kind, id.to_owned()))
    };
    let mut clients = suggest_clients(clockify, runn, &open);
    mark_contested(&mut clients);
    // Where each Clockify client is (or is suggested to be) in Runn.
    let mut client_of: HashMap<&str, i64> = runn
        .clients
        .iter()
        .filter(|c| !c.archived)
        .filter_map(|c| c.clockify.as_deref().map(|x| (x, c.id)))
        .collect();
    for s in &clients {
        if let (Some(id), Confidence::Sure | Confidence::Likely) = (s.runn_id, s.confidence) {
            client_of.insert(s.clockify_id.as_str(), id);
        }
    }
    let mut projects = suggest_projects(clockify, runn, &client_of, &open);
    mark_contested(&mut projects);
    let mut people = suggest_people(ws, clockify, runn, &open);
    mark_contested(&mut people);
    clients.into_iter().chain(projects).chain(people).collect()
}

/// A link to write: the Runn record gets the Clockify reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkWrite {
    pub kind: LinkKind,
    pub clockify_id: String,
    pub runn_id: i64,
    pub name: String,
}

/// What a reviewed list may do, checked against what both sides hold now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkPlan {
    pub writes: Vec<LinkWrite>,
    /// Links already in place (their decisions are kept, should a run have stopped
    /// between the write and its decision).
    pub already: Vec<LinkWrite>,
    /// Links not applied: the link's line, and why.
    pub skipped: Vec<String>,
    /// Rejections to record (new ones only).
    pub reject: Vec<Rejection>,
}

/// Checks a reviewed list of links against Runn and Clockify now; pure. A link whose
/// Runn record changed since the suggestion (gone, archived, linked elsewhere), or whose
/// Clockify record is gone or linked already, is skipped with why; two links to one
/// record are both skipped. Applying the same list twice plans nothing the second time.
pub fn plan_links(
    request: &LinkRequest,
    runn: &RunnRecords,
    in_clockify: &HashSet<(LinkKind, String)>,
    decisions: &[LinkDecision],
) -> LinkPlan {
    let mut plan = LinkPlan::default();
    let mut to_record: BTreeMap<(LinkKind, i64), usize> = BTreeMap::new();
    let mut to_clockify: BTreeMap<(LinkKind, &str), usize> = BTreeMap::new();
    for l in &request.links {
        *to_record.entry((l.kind, l.runn_id)).or_default() += 1;
        *to_clockify
            .entry((l.kind, l.clockify_id.as_str()))
            .or_default() += 1;
    }
    let mut seen = HashSet::new();
    for l in &request.links {
        if !seen.insert(l) {
            continue;
        }
        let line = format!("{} {} → Runn {}", l.kind.label(), l.clockify_id, l.runn_id);
        let records = runn.of(l.kind);
        let holder = records
            .iter()
            .find(|r| r.clockify.as_deref() == Some(l.clockify_id.as_str()));
        let target = records.iter().find(|r| r.id == l.runn_id);
        let why = match (holder, target) {
            (Some(h), _) if h.id == l.runn_id => {
                plan.already.push(LinkWrite {
                    kind: l.kind,
                    clockify_id: l.clockify_id.clone(),
                    runn_id: h.id,
                    name: h.name.clone(),
                });
                continue;
            }
            (Some(h), _) => Some(format!(
                "the Clockify record is linked to {} already",
                h.name
            )),
            _ if !in_clockify.contains(&(l.kind, l.clockify_id.clone())) => {
                Some("not in Clockify any more (or left out by the people filter)".to_owned())
            }
            (_, None) => Some("the Runn record is not in Runn any more".to_owned()),
            (_, Some(t)) if t.archived => Some(format!("{} is archived in Runn", t.name)),
            (_, Some(t)) if t.clockify.is_some() => Some(format!(
                "{} is linked to Clockify id {}",
                t.name,
                t.clockify.as_deref().unwrap_or_default()
            )),
            _ if to_record[&(l.kind, l.runn_id)] > 1 => {
                Some("several Clockify records are linked to this Runn record".to_owned())
            }
            _ if to_clockify[&(l.kind, l.clockify_id.as_str())] > 1 => {
                Some("this Clockify record is linked to several Runn records".to_owned())
            }
            _ => None,
        };
        match (why, target) {
            (Some(why), _) => plan.skipped.push(format!("{line}: {why}")),
            (None, Some(t)) => plan.writes.push(LinkWrite {
                kind: l.kind,
                clockify_id: l.clockify_id.clone(),
                runn_id: t.id,
                name: t.name.clone(),
            }),
            (None, None) => unreachable!("a link without its Runn record is skipped above"),
        }
    }
    let rejected_before: HashSet<(LinkKind, &str)> = decisions
        .iter()
        .filter(|d| d.decision == crate::model::links::Decision::Rejected)
        .map(|d| (d.kind, d.clockify_id.as_str()))
        .collect();
    let linked_now = |r: &Rejection| {
        runn.of(r.kind)
            .iter()
            .any(|x| x.clockify.as_deref() == Some(r.clockify_id.as_str()))
    };
    let mut rejected: Vec<Rejection> = request.rejected.clone();
    rejected.sort();
    rejected.dedup();
    for r in rejected {
        if rejected_before.contains(&(r.kind, r.clockify_id.as_str())) {
            continue;
        }
        if !in_clockify.contains(&(r.kind, r.clockify_id.clone())) {
            plan.skipped.push(format!(
                "rejection of {} {}: not in Clockify",
                r.kind.label(),
                r.clockify_id
            ));
            continue;
        }
        if to_clockify.contains_key(&(r.kind, r.clockify_id.as_str())) || linked_now(&r) {
            plan.skipped.push(format!(
                "rejection of {} {}: it is linked",
                r.kind.label(),
                r.clockify_id
            ));
            continue;
        }
        plan.reject.push(r);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clockify::{Client, Membership, Project, User};
    use crate::model::links::{Decision, Link};

    fn ws() -> WorkspaceId {
        WorkspaceId::new("ws1")
    }
    fn rec(id: i64, name: &str) -> RunnRecord {
        RunnRecord {
            id,
            name: name.into(),
            email: None,
            client: None,
            clockify: None,
            archived: false,
        }
    }
    fn user(id: &str, name: &str, email: Option<&str>) -> User {
        User {
            id: id.into(),
            name: Some(name.into()),
            email: email.map(Into::into),
            status: Some("ACTIVE".into()),
            memberships: vec![Membership {
                user_id: Some(id.into()),
                target_id: Some("ws1".into()),
                membership_type: Some("WORKSPACE".into()),
                membership_status: MembershipStatus::Active,
            }],
            settings: None,
        }
    }
    fn client(id: &str, name: &str) -> Client {
        Client {
            id: id.into(),
            name: name.into(),
            archived: false,
        }
    }
    fn project(id: &str, name: &str, client: Option<&str>) -> Project {
        Project {
            id: id.into(),
            name: name.into(),
            client_id: client.map(Into::into),
            client_name: None,
            archived: false,
            billable: true,
            template: false,
        }
    }
    fn by_id<'a>(s: &'a [Suggestion], id: &str) -> &'a Suggestion {
        s.iter().find(|s| s.clockify_id == id).expect(id)
    }

    #[test]
    fn names_are_compared_without_accents_case_or_extra_spaces() {
        assert_eq!(normalise("  Zoë   Ødegård "), normalise("zoe ødegard"));
        assert_eq!(normalise("José  MARTÍNEZ"), "jose martinez");
        assert_eq!(normalise("Łukasz Søreide"), normalise("LUKASZ SOREIDE"));
        assert_eq!(normalise("Strauß"), "strauss");
        assert_eq!(normalise_email(" Ana@Example.COM "), "ana@example.com");
    }

    #[test]
    fn people_by_email_are_sure_by_unique_name_likely_and_by_shared_name_ambiguous() {
        let clockify = ClockifyState {
            users: vec![
                user("u1", "Ana Lima", Some("ANA@acme.test ")),
                user("u2", "José Martínez", Some("jose@elsewhere.test")),
                user("u3", "Sam Lee", None),
                user("u4", "Nobody Here", Some("no@acme.test")),
            ],
            ..Default::default()
        };
        let mut ana = rec(1, "Ana B. Lima");
        ana.email = Some("ana@acme.test".into());
        let runn = RunnRecords {
            people: vec![
                ana,
                rec(2, "Jose Martinez"),
                rec(3, "Sam Lee"),
                rec(4, "sam  lee"),
            ],
            ..Default::default()
        };
        let s = suggest_links(&ws(), &clockify, &runn, &HashSet::new());
        assert_eq!(s.len(), 3);
        let a = by_id(&s, "u1");
        assert_eq!((a.confidence, a.runn_id), (Confidence::Sure, Some(1)));
        let j = by_id(&s, "u2");
        assert_eq!((j.confidence, j.runn_id), (Confidence::Likely, Some(2)));
        let sam = by_id(&s, "u3");
        assert_eq!(sam.confidence, Confidence::Ambiguous);
        assert_eq!(sam.runn_id, None);
        assert_eq!(sam.candidates.len(), 2);
        assert_eq!(sam.chosen(), None);
    }

    #[test]
    fn a_record_linked_to_another_id_is_a_conflict_and_two_matches_of_one_record_are_both() {
        let clockify = ClockifyState {
            clients: vec![
                client("c1", "Acme"),
                client("c2", "ACME "),
                client("c3", "Globex"),
            ],
            ..Default::default()
        };
        let mut globex = rec(11, "Globex");
        globex.clockify = Some("old".into());
        let runn = RunnRecords {
            clients: vec![rec(10, "Acme"), globex],
            ..Default::default()
        };
        let s = suggest_links(&ws(), &clockify, &runn, &HashSet::new());
        for id in ["c1", "c2"] {
            let x = by_id(&s, id);
            assert_eq!(x.confidence, Confidence::Conflict, "{x:?}");
            assert!(x.why.contains("2 Clockify records"), "{}", x.why);
        }
        let g = by_id(&s, "c3");
        assert_eq!((g.confidence, g.runn_id), (Confidence::Conflict, Some(11)));
        assert!(g.why.contains("linked to Clockify id old"), "{}", g.why);
    }

    #[test]
    fn projects_match_under_their_clients_link_else_by_name_alone() {
        let clockify = ClockifyState {
            clients: vec![client("c1", "Acme"), client("c2", "Initech")],
            projects: vec![
                project("p1", "Website", Some("c1")),
                project("p2", "Audit", Some("c2")),
                project("p3", "Website", Some("c2")),
            ],
            ..Default::default()
        };
        let mut web_acme = rec(20, "website");
        web_acme.client = Some(10);
        let mut web_other = rec(21, "Website");
        web_other.client = Some(99);
        let mut audit = rec(22, "Audit");
        audit.client = Some(99);
        let runn = RunnRecords {
            clients: vec![rec(10, "Acme")],
            projects: vec![web_acme, web_other, audit],
            ..Default::default()
        };
        let s = suggest_links(&ws(), &clockify, &runn, &HashSet::new());
        let p1 = by_id(&s, "p1");
        assert_eq!((p1.confidence, p1.runn_id), (Confidence::Sure, Some(20)));
        assert_eq!(p1.why, "same name, under Acme");
        // Initech has no Runn client: by name alone.
        let p2 = by_id(&s, "p2");
        assert_eq!((p2.confidence, p2.runn_id), (Confidence::Likely, Some(22)));
        let p3 = by_id(&s, "p3");
        assert_eq!(p3.confidence, Confidence::Ambiguous);
        // Once the client's link is rejected, its project is suggested by name alone.
        let rejected = HashSet::from([(LinkKind::Client, "c1".to_owned())]);
        let s = suggest_links(&ws(), &clockify, &runn, &rejected);
        assert!(s.iter().all(|x| x.clockify_id != "c1"));
        assert_eq!(by_id(&s, "p1").confidence, Confidence::Ambiguous);
    }

    #[test]
    fn an_empty_runn_or_linked_records_give_no_suggestion() {
        let clockify = ClockifyState {
            clients: vec![client("c1", "Acme")],
            users: vec![user("u1", "Ana", Some("a@x.test"))],
            ..Default::default()
        };
        assert!(
            suggest_links(&ws(), &clockify, &RunnRecords::default(), &HashSet::new()).is_empty()
        );
        let mut acme = rec(10, "Acme");
        acme.clockify = Some("c1".into());
        let mut archived = rec(11, "Ana");
        archived.archived = true;
        let runn = RunnRecords {
            clients: vec![acme],
            people: vec![archived],
            ..Default::default()
        };
        assert!(suggest_links(&ws(), &clockify, &runn, &HashSet::new()).is_empty());
    }

    fn link(kind: LinkKind, c: &str, r: i64) -> Link {
        Link {
            kind,
            clockify_id: c.into(),
            runn_id: r,
        }
    }

    #[test]
    fn a_link_whose_record_changed_is_skipped_and_applying_twice_writes_nothing() {
        let mut gone_elsewhere = rec(2, "Linked");
        gone_elsewhere.clockify = Some("zzz".into());
        let mut archived = rec(3, "Old");
        archived.archived = true;
        let mut runn = RunnRecords {
            people: vec![rec(1, "Ana"), gone_elsewhere, archived, rec(5, "Twin")],
            ..Default::default()
        };
        let in_clockify: HashSet<(LinkKind, String)> = ["u1", "u2", "u3", "u4", "u5", "u6", "u9"]
            .iter()
            .map(|u| (LinkKind::Person, (*u).to_owned()))
            .collect();
        let request = LinkRequest {
            links: vec![
                link(LinkKind::Person, "u1", 1),
                link(LinkKind::Person, "u2", 2),
                link(LinkKind::Person, "u3", 3),
                link(LinkKind::Person, "u4", 4),
                link(LinkKind::Person, "u5", 5),
                link(LinkKind::Person, "u6", 5),
                link(LinkKind::Person, "gone", 7),
            ],
            rejected: vec![Rejection {
                kind: LinkKind::Person,
                clockify_id: "u9".into(),
            }],
        };
        let plan = plan_links(&request, &runn, &in_clockify, &[]);
        assert_eq!(plan.writes.len(), 1, "{plan:?}");
        assert_eq!(plan.writes[0].runn_id, 1);
        assert_eq!(plan.skipped.len(), 6, "{:?}", plan.skipped);
        assert_eq!(plan.reject.len(), 1);
        // Applied: Runn now carries the reference, and the rejection is recorded.
        runn.people[0].clockify = Some("u1".into());
        let decisions = vec![LinkDecision {
            kind: LinkKind::Person,
            clockify_id: "u9".into(),
            decision: Decision::Rejected,
            run_id: "r".into(),
        }];
        let again = plan_links(&request, &runn, &in_clockify, &decisions);
        assert!(
            again.writes.is_empty() && again.reject.is_empty(),
            "{again:?}"
        );
        assert_eq!(again.already.len(), 1);
    }

    #[test]
    fn a_same_named_record_linked_to_a_live_clockify_record_is_no_suggestion() {
        // Imported before: Runn's Acme is Clockify's c1. A second Clockify "Acme" is
        // another client, created by the import, not held.
        let clockify = ClockifyState {
            clients: vec![client("c1", "Acme"), client("c2", "Acme")],
            ..Default::default()
        };
        let mut acme = rec(10, "Acme");
        acme.clockify = Some("c1".into());
        let runn = RunnRecords {
            clients: vec![acme],
            ..Default::default()
        };
        assert!(suggest_links(&ws(), &clockify, &runn, &HashSet::new()).is_empty());
    }

    #[test]
    fn a_suggestion_stays_small_however_many_records_match() {
        let clockify = ClockifyState {
            users: vec![user("u1", &"Sam Lee ".repeat(40), None)],
            ..Default::default()
        };
        let runn = RunnRecords {
            people: (0..300).map(|i| rec(i, &"sam lee ".repeat(40))).collect(),
            ..Default::default()
        };
        let s = suggest_links(&ws(), &clockify, &runn, &HashSet::new());
        assert_eq!(s[0].candidates.len(), MAX_CANDIDATES);
        assert!(s[0].why.starts_with("300 Runn records"), "{}", s[0].why);
        let json = serde_json::to_string(&s[0]).unwrap();
        assert!(json.len() < 4 * 1024, "{} bytes", json.len());
    }

    #[test]
    fn a_rejection_of_a_record_clockify_does_not_have_is_not_kept() {
        let request = LinkRequest {
            links: vec![],
            rejected: vec![Rejection {
                kind: LinkKind::Client,
                clockify_id: "madeup".into(),
            }],
        };
        let plan = plan_links(&request, &RunnRecords::default(), &HashSet::new(), &[]);
        assert!(plan.reject.is_empty());
        assert_eq!(plan.skipped.len(), 1);
    }

    #[test]
    fn an_ambiguous_line_applies_once_one_candidate_is_kept() {
        let mut s = Suggestion {
            kind: LinkKind::Person,
            clockify_id: "u".into(),
            clockify_name: "Sam".into(),
            runn_id: None,
            runn_name: None,
            confidence: Confidence::Ambiguous,
            why: "2 Runn records".into(),
            candidates: vec![
                Candidate {
                    runn_id: 1,
                    name: "Sam".into(),
                },
                Candidate {
                    runn_id: 2,
                    name: "Sam".into(),
                },
            ],
        };
        assert_eq!(s.chosen(), None);
        s.candidates.pop();
        assert_eq!(s.chosen(), Some(1));
    }
}
