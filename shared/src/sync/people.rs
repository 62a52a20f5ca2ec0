//! The people filter's reads and its use by the engine: Clockify's user groups (read
//! only when the filter names any), and who the filter leaves out — of Clockify's users
//! for the import, of the linked Runn people for the actuals and the autofill. The rule
//! itself is [`super::rules::people_filter`].

use super::all;
use super::gather::Index;
use super::rules::people_filter::{missing_groups, Included};
use crate::clockify::{ClockifyClient, User};
use crate::error::ApiError;
use crate::ids::{ClockifyUserId, RunnPersonId, WorkspaceId};
use crate::model::account::PeopleFilter;
use crate::model::plan::{RecordKind, Skip, SkipReason};
use std::collections::BTreeSet;

/// The filter made ready, or `None` when there is none (or it is empty: everyone is in).
/// The groups are read only when it names some.
pub async fn included(
    clockify: &ClockifyClient,
    ws: &WorkspaceId,
    filter: Option<&PeopleFilter>,
) -> Result<Option<Included>, ApiError> {
    let Some(filter) = filter.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let groups = if filter.include_groups.is_empty() {
        vec![]
    } else {
        all(clockify.user_groups(ws)).await?
    };
    let gone = missing_groups(filter, &groups);
    if !gone.is_empty() {
        // Deleted in Clockify since the filter was saved: nobody is in by them.
        tracing::warn!(groups = ?gone, "the people filter names user groups the workspace no longer has");
    }
    Ok(Some(Included::new(filter, &groups)))
}

/// Keeps the users the filter includes; the others become the import's skips.
pub fn leave_out(users: &mut Vec<User>, included: &Included) -> Vec<Skip> {
    let mut skips = vec![];
    users.retain(|u| {
        if included.covers(&u.id, u.email.as_deref()) {
            return true;
        }
        skips.push(Skip {
            kind: RecordKind::Person,
            clockify_id: u.id.to_string(),
            name: u.name.clone().unwrap_or_default(),
            reason: SkipReason::LeftOutByFilter,
        });
        false
    });
    skips
}

/// Whether a Clockify user is in, their e-mail address as the index read it.
pub fn covers(index: &Index, included: &Included, user: &ClockifyUserId) -> bool {
    let email = index
        .clockify_users
        .get(user)
        .and_then(|u| u.email.as_deref());
    included.covers(user, email)
}

/// The linked Runn people the filter leaves out (needs the index read with Clockify's
/// users, for their e-mail addresses).
pub fn runn_people_left_out(index: &Index, included: &Included) -> BTreeSet<RunnPersonId> {
    index
        .people
        .iter()
        .filter(|(user, _)| !covers(index, included, user))
        .map(|(_, p)| p.id)
        .collect()
}

/// The Runn people a run plans: those of its scope (`None`: everyone), less those the
/// filter leaves out, so their ledger totals are neither updated nor set back to 0.
pub fn planned_people(
    index: &Index,
    of_scope: Option<BTreeSet<RunnPersonId>>,
    included: Option<&Included>,
) -> Option<BTreeSet<RunnPersonId>> {
    let Some(included) = included else {
        return of_scope;
    };
    let left_out = runn_people_left_out(index, included);
    let everyone_else = || {
        index
            .people
            .values()
            .map(|p| p.id)
            .filter(|id| !left_out.contains(id))
            .collect()
    };
    Some(match of_scope {
        Some(only) => only.difference(&left_out).copied().collect(),
        None => everyone_else(),
    })
}
