//! What the command line prints: plain text for people, not logs.

use futures::TryStreamExt;
use shared::account::{Account, AccountSettings, Outcome, RunRecord, Trigger};
use shared::runn::{PeopleFilter, ProjectFilter, Reference, RunnClient};
use shared::sync::hours::HoursRow;
use shared::sync::ActualsReport;
use shared::sync::{RecordKind, SkipReason, UNKNOWN_ROLE};
use shared::{ApiError, FailureClass};
use std::collections::HashMap;
use std::fmt::Write as _;

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn trigger(t: Trigger) -> &'static str {
    match t {
        Trigger::Schedule => "daily schedule",
        Trigger::Manual => "import button in Runn",
        Trigger::Continuation => "continuation",
        Trigger::CommandLine => "command line",
        Trigger::Webhook => "Clockify webhook",
    }
}

fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Succeeded => "succeeded".into(),
        Outcome::Continued => "stopped at its time limit; continuing in a new run".into(),
        Outcome::Failed { class, message } => {
            let what = match class {
                FailureClass::Transient => "failed, will be retried",
                FailureClass::Permanent => "failed",
                FailureClass::CredentialsRejected => {
                    "failed: credentials rejected, imports paused until they are updated"
                }
            };
            format!("{what} ({message})")
        }
    }
}

/// A name as one line, its runs of spaces closed up.
fn tidy(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One line per account for `account list`.
pub fn account_line(s: &AccountSettings, last: Option<&RunRecord>) -> String {
    let state = if s.enabled { "enabled" } else { "DISABLED" };
    let last = match last {
        None => "never run".to_owned(),
        Some(r) => format!(
            "last run {} ({}): {}",
            r.started_at.format("%Y-%m-%d %H:%M UTC"),
            trigger(r.trigger),
            outcome(&r.outcome)
        ),
    };
    format!(
        "{:<24} {:<8} {:<28} {last}",
        s.id.as_str(),
        state,
        s.runn_account
    )
}

/// An account's settings and runs, for `status` and after `sync`.
/// `status`: the account, why it is disabled, who is on "Unknown", and its runs.
pub fn account_status(st: &shared::status::AccountStatus) -> String {
    let mut out = status_head(&st.settings);
    if let Some(why) = &st.settings.disabled_reason {
        let _ = writeln!(out, "  Disabled: {why}");
    }
    if !st.credentials_stored {
        let _ = writeln!(out, "  No credentials stored.");
    }
    if st.people_on_unknown_role_count > 0 {
        let _ = writeln!(
            out,
            "  On the \"Unknown\" role in Runn ({}): {}",
            st.people_on_unknown_role_count,
            st.people_on_unknown_role.join(", ")
        );
    }
    for notice in &st.notices {
        let _ = writeln!(out, "  {notice}");
    }
    out.push_str(runs_text(&st.runs).as_str());
    out
}

pub fn status(s: &AccountSettings, runs: &[RunRecord]) -> String {
    let mut out = status_head(s);
    out.push_str(&runs_text(runs));
    out
}

fn status_head(s: &AccountSettings) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nAccount {} — {} ({})",
        s.id,
        s.runn_account,
        if s.enabled { "enabled" } else { "disabled" }
    );
    let _ = writeln!(
        out,
        "  Runn {}  ·  Clockify {} workspace {}",
        s.runn_host.base(),
        s.clockify_host
            .api_base()
            .map_or_else(|e| format!("(invalid: {e})"), |u| u.to_string()),
        s.clockify_workspace
    );
    let _ = writeln!(
        out,
        "  Import: clients & projects {}, people {}, actuals {}; autofill {}; time zone {}",
        on_off(s.switches.clients_and_projects),
        on_off(s.switches.people),
        on_off(s.switches.actuals),
        on_off(s.autofill),
        s.time_zone
    );
    if s.switches.actuals {
        let _ = writeln!(
            out,
            "  Actuals: from {}, each day re-reading the last {} days",
            s.actuals_since
                .map_or_else(|| "the window".to_owned(), |d| d.to_string()),
            s.window_days
        );
    }
    out
}

fn runs_text(runs: &[RunRecord]) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        let _ = writeln!(out, "  No runs yet.");
    }
    for r in runs {
        let secs = (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0;
        let _ = writeln!(
            out,
            "\n  Run {} — {} — started by the {}, took {secs:.1} s: {}",
            r.run_id,
            r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            trigger(r.trigger),
            outcome(&r.outcome)
        );
        if let Some(plan) = &r.plan {
            preview(&mut out, plan);
        }
        if let Some(a) = &r.actuals {
            actuals(&mut out, a);
        }
        if let Some(l) = &r.links {
            crate::links::link_report(&mut out, l);
        }
        if let Some(rm) = &r.removal {
            crate::links::removal_report(&mut out, rm);
        }
        let Some(rep) = &r.report else { continue };
        if rep.held > 0 {
            let _ = writeln!(
                out,
                "    {} already in Runn: review the links (`runn-clockify link`).",
                plural(rep.held, "record looks like one", "records look like ones")
            );
        }
        let _ = writeln!(
            out,
            "    Created {}, {}, {}.",
            plural(rep.created.clients, "client", "clients"),
            plural(rep.created.projects, "project", "projects"),
            plural(rep.created.people, "person", "people")
        );
        let linked = |kind| rep.skipped(kind, SkipReason::AlreadyLinked);
        if rep
            .skipped
            .iter()
            .any(|g| g.reason == SkipReason::AlreadyLinked)
        {
            let _ = writeln!(
                out,
                "    Already in Runn: {}, {}, {}.",
                plural(linked(RecordKind::Client), "client", "clients"),
                plural(linked(RecordKind::Project), "project", "projects"),
                plural(linked(RecordKind::Person), "person", "people")
            );
        }
        let other: Vec<_> = rep
            .skipped
            .iter()
            .filter(|g| g.reason != SkipReason::AlreadyLinked)
            .collect();
        if !other.is_empty() {
            let n: usize = other.iter().map(|g| g.records.count).sum();
            let _ = writeln!(out, "    Not imported ({n}):");
            for g in other {
                for k in &g.records.named {
                    let _ = writeln!(
                        out,
                        "      {:<8} {:<32} {}",
                        g.kind.label(),
                        tidy(&k.name),
                        g.reason.explain()
                    );
                }
                if g.records.more() > 0 {
                    let _ = writeln!(
                        out,
                        "      … and {} more {} ({})",
                        g.records.more(),
                        if g.records.more() == 1 {
                            g.kind.label().to_owned()
                        } else {
                            format!("{}s", g.kind.label())
                        },
                        g.reason.explain()
                    );
                }
            }
        }
        if !rep.failed.is_empty() {
            let _ = writeln!(out, "    Failed {}:", rep.failed.count);
            for f in &rep.failed.named {
                let _ = writeln!(
                    out,
                    "      {:<8} {:<32} {}",
                    f.kind.label(),
                    tidy(&f.record.name),
                    f.reason
                );
            }
            if rep.failed.more() > 0 {
                let _ = writeln!(out, "      … and {} more", rep.failed.more());
            }
        }
        if !rep.lookups.is_empty() {
            let found = rep.lookups.named.iter().filter(|l| l.found).count();
            let _ = writeln!(
                out,
                "    Looked up {} whose answer was lost (none sent twice blindly):",
                plural(rep.lookups.count, "write", "writes")
            );
            for l in &rep.lookups.named {
                let _ = writeln!(
                    out,
                    "      {:<8} {:<32} {}",
                    l.kind.label(),
                    tidy(&l.record.name),
                    if l.found {
                        "had been created"
                    } else {
                        "was not there; created again"
                    }
                );
            }
            if rep.lookups.more() > 0 {
                let _ = writeln!(out, "      … and {} more", rep.lookups.more());
            }
            let _ = found;
        }
        if rep.people_on_unknown_role > 0 {
            let _ = writeln!(
                out,
                "    {} on the \"{UNKNOWN_ROLE}\" role: give them their real role in Runn so their timesheets can become actuals.",
                plural(rep.people_on_unknown_role, "person is", "people are")
            );
        }
    }
    out
}

fn linked(refs: &[Reference]) -> &'static str {
    if refs.iter().any(Reference::is_clockify) {
        "from Clockify"
    } else {
        "entered in Runn"
    }
}

/// Clients with their projects, and people with their current role, as Runn has them.
pub async fn runn_contents(account: &Account, runn: &RunnClient) -> Result<String, ApiError> {
    let clients: Vec<_> = runn.clients(None).try_concat().await?;
    let projects: Vec<_> = runn
        .projects(&ProjectFilter::default())
        .try_concat()
        .await?;
    let people: Vec<_> = runn.people(&PeopleFilter::default()).try_concat().await?;
    let contracts: Vec<_> = runn.current_contracts().try_concat().await?;
    let roles: Vec<_> = runn.roles(None).try_concat().await?;
    let role_name: HashMap<_, _> = roles
        .iter()
        .map(|r| (r.id, r.name.clone().unwrap_or_default()))
        .collect();
    let role_of: HashMap<_, _> = contracts.iter().map(|c| (c.person_id, c.role_id)).collect();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nRunn now holds, for {}:",
        account.settings.runn_account
    );
    let _ = writeln!(out, "  {}", plural(clients.len(), "client", "clients"));
    for c in &clients {
        let _ = writeln!(out, "    {:<36} {}", c.name, linked(&c.references));
        for p in projects.iter().filter(|p| p.client_id == c.id) {
            let _ = writeln!(out, "      · {:<32} {}", p.name, linked(&p.references));
        }
    }
    let _ = writeln!(out, "  {}", plural(people.len(), "person", "people"));
    for p in &people {
        let role = role_of
            .get(&p.id)
            .and_then(|r| role_name.get(r))
            .map(String::as_str)
            .unwrap_or("-");
        let _ = writeln!(
            out,
            "    {:<28} {:<30} role {:<10} {}",
            shared::model::report::person_name(&p.first_name, &p.last_name),
            p.email.as_deref().unwrap_or(""),
            role,
            linked(&p.references)
        );
    }
    Ok(out)
}

/// What a preview (a dry run) would do.
fn preview(out: &mut String, p: &shared::model::plan::PlanSummary) {
    let _ = writeln!(out, "    A dry run: nothing was written.");
    let _ = writeln!(
        out,
        "    Would create {}, {}, {}.",
        plural(p.create.clients, "client", "clients"),
        plural(p.create.projects, "project", "projects"),
        plural(p.create.people, "person", "people")
    );
    for c in &p.creates.named {
        let _ = writeln!(
            out,
            "      {:<8} {:<32} {}",
            c.kind.label(),
            tidy(&c.name),
            c.clockify_id
        );
    }
    if p.creates.more() > 0 {
        let _ = writeln!(out, "      … and {} more", p.creates.more());
    }
    for g in p
        .skipped
        .iter()
        .filter(|g| g.reason != SkipReason::AlreadyLinked)
    {
        for k in &g.records.named {
            let _ = writeln!(
                out,
                "      would skip {:<8} {:<32} {}",
                g.kind.label(),
                tidy(&k.name),
                g.reason.explain()
            );
        }
    }
    let Some(a) = &p.actuals else { return };
    let days = match (a.first, a.last) {
        (Some(f), Some(l)) => format!(" {f} to {l}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "    Actuals{days}: would write {}, set {} back to 0, fill {} with 0; {} already right.",
        plural(a.would_write, "day total", "day totals"),
        a.would_zero,
        a.would_autofill,
        a.unchanged
    );
    for line in &a.would.named {
        let _ = writeln!(out, "      {}", tidy(line));
    }
    if a.would.more() > 0 {
        let _ = writeln!(out, "      … and {} more", a.would.more());
    }
    actuals_skipped(out, a);
}

/// What an actuals sync or autofill did.
fn actuals(out: &mut String, a: &ActualsReport) {
    let days = match (a.first, a.last) {
        (Some(f), Some(l)) => format!(" {f} to {l}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "    Actuals{days}: {} written, {} set back to 0, {} autofilled with 0, {} already right.",
        plural(a.written, "day total", "day totals"),
        a.zeroed,
        a.autofilled,
        a.unchanged
    );
    actuals_skipped(out, a);
}

/// The time an actuals run skipped, and why; the people on "Unknown"; Runn's refusals.
fn actuals_skipped(out: &mut String, a: &ActualsReport) {
    for g in &a.skipped {
        let _ = writeln!(
            out,
            "      Not synced ({}): {}, {} min",
            g.reason.explain(),
            // Records from before day totals were counted apart had a line per day.
            plural(g.day_totals.max(g.days.count), "day total", "day totals"),
            g.minutes
        );
        for d in g.days.named.iter().take(10) {
            let _ = writeln!(out, "        {}", tidy(d));
        }
        let more = g.days.count.saturating_sub(g.days.named.len().min(10));
        if more > 0 {
            let _ = writeln!(out, "        … and {more} more");
        }
    }
    if !a.unknown_role.is_empty() {
        let _ = writeln!(
            out,
            "      On the \"{UNKNOWN_ROLE}\" role, time not synced: {}",
            a.unknown_role.named.join(", ")
        );
    }
    if !a.refused.is_empty() {
        let _ = writeln!(out, "      Refused by Runn ({}):", a.refused.count);
        for r in &a.refused.named {
            let _ = writeln!(out, "        {r}");
        }
    }
    for n in &a.notes.named {
        let _ = writeln!(out, "      Note: {n}");
    }
}

fn hm(minutes: u64) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// Clockify's hours beside Runn's, a line per person and project.
pub fn hours(from: chrono::NaiveDate, to: chrono::NaiveDate, rows: &[HoursRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nHours {from} to {to} (h:mm), Clockify beside Runn:");
    let _ = writeln!(
        out,
        "  {:<24} {:<28} {:>9} {:>9}",
        "person", "project", "Clockify", "Runn"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<24} {:<28} {:>9} {:>9}  {}",
            tidy(&r.person),
            tidy(&r.project),
            hm(r.clockify),
            hm(r.runn),
            if r.clockify == r.runn {
                "="
            } else {
                "DIFFERENT"
            }
        );
    }
    let (c, n): (u64, u64) = rows
        .iter()
        .fold((0, 0), |(c, n), r| (c + r.clockify, n + r.runn));
    let _ = writeln!(out, "  {:<53} {:>9} {:>9}", "total", hm(c), hm(n));
    out
}
