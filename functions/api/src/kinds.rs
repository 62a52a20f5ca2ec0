//! The kinds a request names (`clients`, `projects`, `people`, `actuals`) as the switches
//! a job is limited to (the library's one mapping, [`Switches::of_kinds`]), and the
//! checks both the import buttons and the previews make of the account before they queue
//! one.

use crate::app::Api;
use crate::reply::Reply;
pub use shared::account::Kind;
use shared::account::{AccountId, Switches};

/// The switches the kinds ask for (clients and projects go together, as their switch
/// does); at least one kind must be named (`to` says what for).
pub fn switches(kinds: &[Kind], to: &str) -> Result<Switches, Reply> {
    if kinds.is_empty() {
        return Err(Reply::field(
            400,
            "bad_request",
            "kinds",
            format!("name at least one kind to {to}"),
        ));
    }
    Ok(Switches::of_kinds(kinds))
}

/// The account exists, is on, and has every kind of `only` switched on.
pub async fn check_account(api: &Api, id: &AccountId, only: Switches) -> Result<(), Reply> {
    let settings = match api.store.settings(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Reply::no_account(id)),
        Err(e) => return Err(Reply::store_failed(e)),
    };
    if !settings.enabled {
        let why = settings
            .disabled_reason
            .as_deref()
            .unwrap_or("it is disabled");
        return Err(Reply::error(
            409,
            "disabled",
            format!("the integration is off ({why}); Save & Run it again first"),
        ));
    }
    let off = settings.switches.off_of(only);
    if !off.is_empty() {
        return Err(Reply::field(
            422,
            "refused",
            "kinds",
            format!(
                "the import of {} is switched off in the integration's settings; nothing was queued",
                off.join(" and ")
            ),
        ));
    }
    Ok(())
}
