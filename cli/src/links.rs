//! `link` and `remove`: the suggestions as a table and a file a person edits (one JSON
//! object a line: delete a line to reject it), the reviewed file read back into links and
//! rejections, and the reports of links and removal runs.

use shared::model::links::{
    Confidence, Link, LinkKind, LinkReport, LinkRequest, Rejection, RemovalReport, Suggestion,
};
use shared::model::report::Capped;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The file's first line: whose suggestions, and every one offered (so a line deleted is
/// known as rejected).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    account: String,
    run_id: String,
    /// `kind/clockify id` of each suggestion written below.
    offered: Vec<String>,
    help: String,
}

fn key(kind: LinkKind, id: &str) -> String {
    format!("{}/{id}", kind.label())
}

/// The review file: a header line, then one suggestion a line.
pub fn file(account: &str, run_id: &str, suggestions: &[Suggestion]) -> String {
    let header = Header {
        account: account.to_owned(),
        run_id: run_id.to_owned(),
        offered: suggestions
            .iter()
            .map(|s| key(s.kind, &s.clockify_id))
            .collect(),
        help: "one suggestion a line: delete a line to reject it (the next import creates \
               the Clockify record); on a line with candidates keep exactly one; then \
               `runn-clockify link ACCOUNT --apply FILE`"
            .into(),
    };
    let mut out = serde_json::to_string(&header).expect("a header serialises");
    out.push('\n');
    for s in suggestions {
        out.push_str(&serde_json::to_string(s).expect("a suggestion serialises"));
        out.push('\n');
    }
    out
}

/// A reviewed file: the links to apply, the rejections (lines deleted), and the lines
/// left open (several candidates still, or a conflict kept).
#[derive(Debug)]
pub struct Reviewed {
    pub account: String,
    pub request: LinkRequest,
    pub open: Vec<String>,
}

pub fn read(raw: &str) -> Result<Reviewed, String> {
    let mut lines = raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.next() else {
        return Err("the file is empty".into());
    };
    let header: Header = serde_json::from_str(first)
        .map_err(|e| format!("line 1 is not the file's header ({e}); write the file with --out"))?;
    let mut kept = BTreeSet::new();
    let mut request = LinkRequest::default();
    let mut open = vec![];
    for (n, line) in lines {
        let s: Suggestion = serde_json::from_str(line.trim().trim_end_matches(','))
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        kept.insert(key(s.kind, &s.clockify_id));
        let name = format!("{} {} ({})", s.kind.label(), s.clockify_name, s.clockify_id);
        match (s.chosen(), s.confidence) {
            (Some(runn_id), _) => request.links.push(Link {
                kind: s.kind,
                clockify_id: s.clockify_id,
                runn_id,
            }),
            (None, _) => open.push(format!("{name}: keep exactly one candidate to link it")),
        }
    }
    for offered in &header.offered {
        if kept.contains(offered) {
            continue;
        }
        let (kind, id) = offered
            .split_once('/')
            .ok_or_else(|| format!("the header's {offered:?} is not kind/id"))?;
        let kind = match kind {
            "client" => LinkKind::Client,
            "project" => LinkKind::Project,
            "person" => LinkKind::Person,
            other => return Err(format!("the header's kind {other:?} is not a kind")),
        };
        request.rejected.push(Rejection {
            kind,
            clockify_id: id.to_owned(),
        });
    }
    Ok(Reviewed {
        account: header.account,
        request,
        open,
    })
}

fn confidence(c: Confidence) -> &'static str {
    match c {
        Confidence::Sure => "sure",
        Confidence::Likely => "likely",
        Confidence::Ambiguous => "ambiguous",
        Confidence::Conflict => "conflict",
    }
}

/// The suggestions as a table: kind, Clockify name and id, Runn name and id, confidence,
/// why.
pub fn table(suggestions: &[Suggestion]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<28} {:<26} {:<28} {:>8}  {:<10} why",
        "kind", "Clockify", "id", "Runn", "id", "confidence"
    );
    for s in suggestions {
        let (runn, id) = match (&s.runn_name, s.runn_id) {
            (Some(n), Some(id)) => (n.clone(), id.to_string()),
            _ => (
                s.candidates
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.runn_id))
                    .collect::<Vec<_>>()
                    .join(" / "),
                String::new(),
            ),
        };
        let _ = writeln!(
            out,
            "{:<8} {:<28} {:<26} {:<28} {:>8}  {:<10} {}",
            s.kind.label(),
            s.clockify_name,
            s.clockify_id,
            runn,
            id,
            confidence(s.confidence),
            s.why
        );
    }
    out
}

fn capped(out: &mut String, title: &str, c: &Capped<String>) {
    if c.count == 0 {
        return;
    }
    let _ = writeln!(out, "    {title} ({}):", c.count);
    for line in &c.named {
        let _ = writeln!(out, "      {line}");
    }
    if c.count > c.named.len() {
        let _ = writeln!(out, "      ... and {} more", c.count - c.named.len());
    }
}

pub fn link_report(out: &mut String, r: &LinkReport) {
    if r.suggestions.count > 0 || (r.linked.count == 0 && r.rejected == 0 && r.already == 0) {
        let c = r.counts;
        let _ = writeln!(
            out,
            "    Suggestions: {} ({} sure, {} likely, {} ambiguous, {} conflicts).",
            c.total(),
            c.sure,
            c.likely,
            c.ambiguous,
            c.conflict
        );
        return;
    }
    let verb = if r.dry_run { "Would link" } else { "Linked" };
    let _ = writeln!(
        out,
        "    {verb} {}; {} already linked; {} rejected{}.",
        r.linked.count,
        r.already,
        r.rejected,
        if r.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    capped(out, "Links", &r.linked);
    capped(out, "Not applied", &r.skipped);
}

pub fn removal_report(out: &mut String, r: &RemovalReport) {
    let (deleted, archived) = if r.dry_run {
        ("Would delete", "would archive")
    } else {
        ("Deleted", "archived")
    };
    let _ = writeln!(
        out,
        "    {deleted} {} actuals the integration wrote; {archived} {} clients, {} projects, {} people{}.",
        r.actuals_deleted,
        r.archived.clients,
        r.archived.projects,
        r.archived.people,
        if r.dry_run { " (dry run: nothing written)" } else { "" }
    );
    capped(out, "Records", &r.archived_records);
    capped(
        out,
        "Actuals changed in Runn since, left",
        &r.actuals_changed,
    );
    capped(
        out,
        "Planned on in Runn since, left (--include-planned archives them)",
        &r.planned,
    );
    capped(
        out,
        "Origin unknown, left (--include-unrecorded archives them)",
        &r.unrecorded,
    );
    capped(
        out,
        "Clients left: they hold projects that stay",
        &r.kept_clients,
    );
    capped(out, "Refused by Runn", &r.failed);
    if !r.switched_off.is_empty() {
        let _ = writeln!(
            out,
            "    Switched off so the daily run does not bring them back: {} (Save & Run switches them on again).",
            r.switched_off.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::links::Candidate;

    fn suggestion(id: &str, runn: Option<i64>, candidates: &[i64]) -> Suggestion {
        Suggestion {
            kind: LinkKind::Person,
            clockify_id: id.into(),
            clockify_name: format!("Person {id}"),
            runn_id: runn,
            runn_name: runn.map(|r| format!("Runn {r}")),
            confidence: if candidates.is_empty() {
                Confidence::Sure
            } else {
                Confidence::Ambiguous
            },
            why: "same e-mail".into(),
            candidates: candidates
                .iter()
                .map(|&c| Candidate {
                    runn_id: c,
                    name: format!("Runn {c}"),
                })
                .collect(),
        }
    }

    #[test]
    fn a_deleted_line_is_a_rejection_and_an_ambiguous_one_applies_once_one_candidate_is_left() {
        let all = [
            suggestion("a1", Some(1), &[]),
            suggestion("b2", Some(2), &[]),
            suggestion("c3", None, &[3, 4]),
            suggestion("d4", None, &[5, 6]),
        ];
        let text = file("acme", "run-1", &all);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // Reject b2; keep one candidate of c3; leave d4 as it is.
        lines.remove(2);
        let mut c3: Suggestion = serde_json::from_str(&lines[2]).unwrap();
        c3.candidates.truncate(1);
        lines[2] = serde_json::to_string(&c3).unwrap();
        let reviewed = read(&lines.join("\n")).unwrap();
        assert_eq!(reviewed.account, "acme");
        let links: Vec<(&str, i64)> = reviewed
            .request
            .links
            .iter()
            .map(|l| (l.clockify_id.as_str(), l.runn_id))
            .collect();
        assert_eq!(links, vec![("a1", 1), ("c3", 3)]);
        assert_eq!(reviewed.request.rejected.len(), 1);
        assert_eq!(reviewed.request.rejected[0].clockify_id, "b2");
        assert_eq!(reviewed.open.len(), 1, "{:?}", reviewed.open);
    }

    #[test]
    fn a_file_without_its_header_is_refused() {
        let line = serde_json::to_string(&suggestion("a1", Some(1), &[])).unwrap();
        assert!(read(&line).unwrap_err().contains("header"));
        assert!(read("").is_err());
    }
}
