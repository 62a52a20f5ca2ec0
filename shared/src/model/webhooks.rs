//! Near-real-time sync's persisted types, with no I/O: the webhooks registered for an
//! account (only a digest of each token), the people and kinds changed since the last
//! webhook run, and what the latest one brought in.

use crate::ids::ClockifyUserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The hex SHA-256 of a webhook token: all the store keeps of it, and all the API needs
/// to check a delivery's `Clockify-Signature`.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a presented token's digest is one of `digests`, in constant time per digest
/// (no early exit on the first differing byte).
pub fn token_matches<'a>(token: &str, digests: impl IntoIterator<Item = &'a String>) -> bool {
    let presented = Sha256::digest(token.as_bytes());
    let mut found = false;
    for d in digests {
        let Ok(stored) = hex::decode(d) else { continue };
        if stored.len() != presented.len() {
            continue;
        }
        let diff = stored
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        found |= diff == 0;
    }
    found
}

/// One of this integration's webhooks on the workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredHook {
    pub id: String,
    pub event: String,
    /// [`token_digest`] of its `authToken`.
    pub token_digest: String,
}

/// An account's webhooks, as the latest registration (or clean-up) left them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRegistration {
    /// The URL they deliver to.
    pub url: String,
    pub hooks: Vec<RegisteredHook>,
    /// Wanted events the plan left no room for: the daily run brings their changes.
    #[serde(default)]
    pub left_to_daily: Vec<String>,
    /// Webhooks that are not this integration's (never touched), counted.
    #[serde(default)]
    pub foreign: usize,
    /// Clockify's free plan (3 webhooks, 30 requests an hour): it sets the hourly budget.
    #[serde(default)]
    pub free_plan: bool,
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the latest registration did not finish, if it did not.
    #[serde(default)]
    pub error: Option<String>,
    /// Set by a clean-up: whether the webhooks were deleted, or left (the credentials
    /// were deleted first), in words.
    #[serde(default)]
    pub cleanup: Option<String>,
}

impl HookRegistration {
    /// The events a delivery may carry.
    pub fn events(&self) -> BTreeSet<&str> {
        self.hooks.iter().map(|h| h.event.as_str()).collect()
    }
}

/// What changed since the last webhook run: whose time, and which kinds of record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub people: BTreeSet<ClockifyUserId>,
    /// More people changed than the item keeps ([`MAX_MARKED_PEOPLE`]): everyone's time
    /// over the window is recomputed.
    #[serde(default)]
    pub everyone: bool,
    /// Kinds of record whose entity import the events ask for: `clients_and_projects`,
    /// `people`.
    pub entities: BTreeSet<EntityKind>,
    /// When the earliest of these changes arrived.
    pub first_at: Option<DateTime<Utc>>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.entities.is_empty() && !self.everyone
    }
}

/// The most people the changes item names; past it, the next job recomputes everyone
/// (the item never grows without bound, whatever is delivered).
pub const MAX_MARKED_PEOPLE: usize = 1000;

/// Whether a delivered `userId` can be a Clockify id (opaque, but short and plain):
/// anything else is refused before it is stored.
pub fn plausible_user_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A kind of record an entity event asks to import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    ClientsAndProjects,
    People,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::ClientsAndProjects => "clients_and_projects",
            EntityKind::People => "people",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [EntityKind::ClientsAndProjects, EntityKind::People]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What a delivery asks for, by its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A time entry's change: its user's time is recomputed.
    TimeEntry,
    /// A record of this kind was added: its entity import runs.
    Entity(EntityKind),
}

impl EventKind {
    /// The kind of a `clockify-webhook-event-type`; `None` for an event this integration
    /// does not act on.
    pub fn of(event: &str) -> Option<Self> {
        Some(match event {
            "NEW_TIME_ENTRY"
            | "TIMER_STOPPED"
            | "TIME_ENTRY_UPDATED"
            | "TIME_ENTRY_DELETED"
            | "TIME_ENTRY_SPLIT"
            | "TIME_ENTRY_RESTORED" => EventKind::TimeEntry,
            "NEW_PROJECT" | "NEW_CLIENT" => EventKind::Entity(EntityKind::ClientsAndProjects),
            "USER_JOINED_WORKSPACE" => EventKind::Entity(EntityKind::People),
            _ => return None,
        })
    }
}

/// What the latest webhook-driven run brought in, for the status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesBroughtIn {
    /// When the latest run that brought changes in finished.
    pub at: Option<DateTime<Utc>>,
    /// From its earliest change's arrival to its end, in seconds.
    pub delay_secs: Option<i64>,
    pub people: usize,
    pub writes: usize,
    /// Set while changes wait for the next hour's budget (or the daily run).
    #[serde(default)]
    pub waiting: Option<String>,
    /// The latest webhook run's failure, if it failed.
    #[serde(default)]
    pub failed: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_only_its_own_digest() {
        let digests = vec![token_digest("tok-a"), token_digest("tok-b")];
        assert!(token_matches("tok-b", &digests));
        assert!(!token_matches("tok-c", &digests));
        assert!(!token_matches("", &digests));
        assert!(!token_matches("tok-a", &["not hex".to_string()]));
        assert_eq!(token_digest("x").len(), 64);
    }

    #[test]
    fn only_a_plain_short_user_id_is_kept() {
        assert!(plausible_user_id("5b715448b079875110792222"));
        for bad in ["", "a b", "x/../y", &"a".repeat(65), "ü"] {
            assert!(!plausible_user_id(bad), "{bad}");
        }
    }

    #[test]
    fn events_are_sorted_into_what_they_ask_for() {
        assert_eq!(EventKind::of("TIMER_STOPPED"), Some(EventKind::TimeEntry));
        assert_eq!(
            EventKind::of("NEW_CLIENT"),
            Some(EventKind::Entity(EntityKind::ClientsAndProjects))
        );
        assert_eq!(
            EventKind::of("USER_JOINED_WORKSPACE"),
            Some(EventKind::Entity(EntityKind::People))
        );
        assert_eq!(EventKind::of("NEW_TIMER_STARTED"), None);
        assert_eq!(EventKind::of("EXPENSE_CREATED"), None);
    }
}
