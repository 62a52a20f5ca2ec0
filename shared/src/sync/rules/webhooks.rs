//! Which Clockify webhooks an integration keeps on its workspace, pure: from the
//! webhooks the workspace has now, this integration's URL, the ids it registered before
//! and the plan's limit, what to keep, create, re-create and delete, and which events are
//! left to the daily run. Ours are known by their URL (or by an id registered before,
//! when the URL changed); a webhook that is not ours is never touched, and counts against
//! the limit.

use std::collections::{BTreeMap, BTreeSet};

/// The events that carry a finished entry's change, in the order they are registered.
pub const CORE_EVENTS: [&str; 4] = [
    "NEW_TIME_ENTRY",
    "TIMER_STOPPED",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
];

/// Registered after the core ones, where the plan leaves room.
pub const EXTRA_EVENTS: [&str; 5] = [
    "TIME_ENTRY_SPLIT",
    "TIME_ENTRY_RESTORED",
    "NEW_PROJECT",
    "NEW_CLIENT",
    "USER_JOINED_WORKSPACE",
];

/// Webhooks a workspace may have: 3 on Clockify's free plan, 100 on the others.
pub fn workspace_limit(free_plan: bool) -> usize {
    if free_plan {
        3
    } else {
        100
    }
}

/// How long a delivery's job waits before it runs (SQS `DelaySeconds`): the changes
/// of a burst (a bulk edit, a timer stopped and corrected) come in one job.
pub const CHANGES_DELAY: std::time::Duration = std::time::Duration::from_secs(20);

/// A claim on the debounced job older than this is taken for lost: the next delivery
/// queues another.
pub const STALE_CLAIM: std::time::Duration = std::time::Duration::from_secs(20 + 60);

/// Clockify requests a day's run of a small free workspace takes: what the hourly budget
/// of webhook runs leaves it.
pub const DAILY_RESERVE: u64 = 12;

/// Clockify requests webhook runs may spend in an hour: on the free plan (30 requests an
/// hour for the whole workspace) what the daily run's reserve leaves; on a paid plan
/// (50 a second) a tenth of the hour's.
pub fn hourly_budget(free_plan: bool) -> u64 {
    if free_plan {
        30 - DAILY_RESERVE
    } else {
        50 * 3600 / 10
    }
}

/// A webhook as the workspace lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    pub id: String,
    pub url: String,
    pub event: String,
    /// Clockify stops delivering after too many failures, or over the plan's limit.
    pub delivering: bool,
}

/// What to do with the workspace's webhooks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookPlan {
    /// Ours, delivering, for a wanted event: left as they are.
    pub keep: Vec<String>,
    /// Events to create a webhook for.
    pub create: Vec<String>,
    /// Ours to delete: duplicates, ones whose delivery stopped or whose URL changed
    /// (their events are in `create`), and ones for events that no longer fit.
    pub delete: Vec<String>,
    /// Wanted events the plan leaves no room for: the daily run brings their changes.
    pub left_to_daily: Vec<String>,
}

/// A URL as webhooks are compared by it: no trailing slash, the scheme and host in lower
/// case.
fn canonical(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!("{}://{}{path}", scheme.to_lowercase(), host.to_lowercase())
        }
        None => url.to_owned(),
    }
}

/// Plans the webhooks of one integration. Pure; planned twice on its own result, it
/// keeps everything and creates nothing.
pub fn plan_hooks(
    hooks: &[Hook],
    our_url: &str,
    registered_before: &BTreeSet<String>,
    limit: usize,
) -> HookPlan {
    let url = canonical(our_url);
    let (ours, foreign): (Vec<&Hook>, Vec<&Hook>) = hooks
        .iter()
        .partition(|h| canonical(&h.url) == url || registered_before.contains(&h.id));
    let room = limit.saturating_sub(foreign.len());
    let mut plan = HookPlan::default();
    // Ours per event, the usable ones (delivering, at our URL) first.
    let mut by_event: BTreeMap<&str, Vec<&Hook>> = BTreeMap::new();
    for h in &ours {
        by_event.entry(h.event.as_str()).or_default().push(h);
    }
    let usable = |h: &Hook| h.delivering && canonical(&h.url) == url;
    for list in by_event.values_mut() {
        list.sort_by_key(|h| !usable(h));
    }
    let wanted = CORE_EVENTS.iter().chain(EXTRA_EVENTS.iter());
    for (slot, event) in wanted.enumerate() {
        let mine = by_event.remove(event).unwrap_or_default();
        if slot >= room {
            plan.left_to_daily.push((*event).to_owned());
            plan.delete.extend(mine.iter().map(|h| h.id.clone()));
            continue;
        }
        match mine.split_first() {
            Some((first, rest)) if usable(first) => {
                plan.keep.push(first.id.clone());
                plan.delete.extend(rest.iter().map(|h| h.id.clone()));
            }
            _ => {
                plan.delete.extend(mine.iter().map(|h| h.id.clone()));
                plan.create.push((*event).to_owned());
            }
        }
    }
    // Ours for events no longer wanted.
    for list in by_event.values() {
        plan.delete.extend(list.iter().map(|h| h.id.clone()));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://api.example.com/webhooks/clockify/acme";

    fn hook(id: &str, url: &str, event: &str) -> Hook {
        Hook {
            id: id.into(),
            url: url.into(),
            event: event.into(),
            delivering: true,
        }
    }

    /// The workspace after a plan is carried out.
    fn carry_out(hooks: &[Hook], plan: &HookPlan) -> Vec<Hook> {
        let mut after: Vec<Hook> = hooks
            .iter()
            .filter(|h| !plan.delete.contains(&h.id))
            .cloned()
            .collect();
        for (i, e) in plan.create.iter().enumerate() {
            after.push(hook(&format!("new{i}-{e}"), URL, e));
        }
        after
    }

    #[test]
    fn a_free_workspace_gets_what_fits_in_order_beside_a_foreign_webhook() {
        let foreign = hook("theirs", "https://zapier.example/hook", "NEW_TIME_ENTRY");
        let plan = plan_hooks(std::slice::from_ref(&foreign), URL, &BTreeSet::new(), 3);
        assert_eq!(plan.create, ["NEW_TIME_ENTRY", "TIMER_STOPPED"]);
        assert!(plan.delete.is_empty() && !plan.delete.contains(&foreign.id));
        assert_eq!(plan.left_to_daily.len(), 7);
        assert_eq!(plan.left_to_daily[0], "TIME_ENTRY_UPDATED");
    }

    #[test]
    fn registering_twice_keeps_the_same_webhooks() {
        let plan = plan_hooks(&[], URL, &BTreeSet::new(), 100);
        assert_eq!(plan.create.len(), 9);
        let after = carry_out(&[], &plan);
        let again = plan_hooks(&after, &format!("{URL}/"), &BTreeSet::new(), 100);
        assert!(
            again.create.is_empty() && again.delete.is_empty(),
            "{again:?}"
        );
        assert_eq!(again.keep.len(), 9);
    }

    #[test]
    fn a_webhook_clockify_stopped_or_moved_elsewhere_is_made_again_and_duplicates_go() {
        let mut stopped = hook("a", URL, "NEW_TIME_ENTRY");
        stopped.delivering = false;
        let moved = hook(
            "b",
            "https://old.example.com/webhooks/clockify/acme",
            "TIMER_STOPPED",
        );
        let twin1 = hook("c", URL, "TIME_ENTRY_UPDATED");
        let twin2 = hook("d", URL, "TIME_ENTRY_UPDATED");
        let hooks = [stopped, moved, twin1, twin2];
        let before = BTreeSet::from(["b".to_owned()]);
        let plan = plan_hooks(&hooks, URL, &before, 100);
        assert!(plan
            .create
            .starts_with(&["NEW_TIME_ENTRY".into(), "TIMER_STOPPED".into()]));
        for id in ["a", "b", "d"] {
            assert!(plan.delete.contains(&id.to_owned()), "{id}: {plan:?}");
        }
        assert!(plan.keep.contains(&"c".to_owned()));
    }

    #[test]
    fn a_plan_that_shrinks_deletes_ours_beyond_it_and_never_a_foreign_one() {
        let mut hooks: Vec<Hook> = CORE_EVENTS
            .iter()
            .chain(EXTRA_EVENTS.iter())
            .enumerate()
            .map(|(i, e)| hook(&format!("ours{i}"), URL, e))
            .collect();
        hooks.push(hook("theirs", "https://other.example/x", "NEW_CLIENT"));
        let plan = plan_hooks(&hooks, URL, &BTreeSet::new(), 3);
        assert_eq!(plan.keep, ["ours0", "ours1"]);
        assert_eq!(plan.delete.len(), 7);
        assert!(!plan.delete.contains(&"theirs".to_owned()));
    }
}
