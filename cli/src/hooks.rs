//! `webhooks ACCOUNT [--register | --remove | --list]`: this integration's webhooks on
//! the account's Clockify workspace, as an operator sees and repairs them.

use shared::account::AccountId;
use shared::jobs::{self, WorkerConfig};
use shared::store::roles::*;
use shared::store::DynamoStore;
use shared::sync::webhooks::{self as hooks, hook_url};
use std::process::ExitCode;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// What to do with the webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    List,
    Register,
    Remove,
}

pub async fn webhooks(
    store: &DynamoStore,
    id: AccountId,
    action: Action,
    public_url: Option<&str>,
) -> Fallible<ExitCode> {
    let Some(account) = store.account(&id).await? else {
        return Err(format!("no account {id}").into());
    };
    let (clockify, _) = jobs::clients(&account, &WorkerConfig::default(), None)?;
    let ws = &account.settings.clockify_workspace;
    let stored = store.hooks(&id).await?.unwrap_or_default();
    let url = match (public_url, stored.url.is_empty()) {
        (Some(p), _) => hook_url(p, &id),
        (None, false) => stored.url.clone(),
        (None, true) if action == Action::List => String::new(),
        (None, true) => {
            return Err("PUBLIC_API_URL (or --url) is not set: the webhooks' URL is the API's public URL and the account's route".into())
        }
    };
    match action {
        Action::Register => {
            let reg = hooks::register(&clockify, store, &id, ws, &url).await?;
            println!("{} webhooks registered for {id} at {url}.", reg.hooks.len());
            if !reg.left_to_daily.is_empty() {
                println!(
                    "Left to the daily run (the plan's limit): {}",
                    reg.left_to_daily.join(", ")
                );
            }
        }
        Action::Remove => {
            let n = hooks::remove(&clockify, store, &id, ws, &url).await?;
            println!("{n} webhooks of {id} deleted from the workspace.");
        }
        Action::List => list(store, &id, &clockify, ws, &stored).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(
    store: &DynamoStore,
    id: &AccountId,
    clockify: &shared::clockify::ClockifyClient,
    ws: &shared::ids::WorkspaceId,
    stored: &shared::model::webhooks::HookRegistration,
) -> Fallible<()> {
    let ours: std::collections::BTreeSet<&str> =
        stored.hooks.iter().map(|h| h.id.as_str()).collect();
    println!("Webhooks on workspace {ws}:");
    for w in clockify.webhooks(ws).await? {
        let whose =
            if ours.contains(w.id.as_str()) || (!stored.url.is_empty() && w.url == stored.url) {
                "this integration's"
            } else {
                "not ours (never touched)"
            };
        let delivering = w.enabled && w.delivery_enabled && w.plan_enabled;
        println!(
            "  {:<24} {:<22} {} {}",
            // As strings: the ids' and events' Display writes without padding.
            w.id.as_str(),
            w.webhook_event.as_str(),
            if delivering {
                "delivering"
            } else {
                "NOT delivering"
            },
            whose
        );
    }
    if !stored.left_to_daily.is_empty() {
        println!("Left to the daily run: {}", stored.left_to_daily.join(", "));
    }
    let b = store.brought_in(id).await?;
    if let Some(line) = jobs::hooks::brought_in_line(&b) {
        println!("{line}");
    }
    if let Some(w) = &b.waiting {
        println!("{w}");
    }
    Ok(())
}
