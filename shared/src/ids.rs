//! Newtypes for the identifiers of both systems, so a Clockify project id can never be
//! passed where a Runn project id (or a Clockify user id) is expected.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

macro_rules! clockify_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self { Self(id.into()) }
            pub fn as_str(&self) -> &str { &self.0 }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.pad(&self.0) }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self { Self(s.to_owned()) }
        }
    )*};
}

clockify_id!(
    /// A Clockify workspace id (24 hex characters in practice; treated as opaque).
    WorkspaceId,
    /// A Clockify client id.
    ClockifyClientId,
    /// A Clockify project id.
    ClockifyProjectId,
    /// A Clockify user id.
    ClockifyUserId,
    /// A Clockify time entry id.
    TimeEntryId,
    /// A Clockify user group id (the people filter names the groups it includes).
    UserGroupId,
    /// A Clockify webhook id.
    WebhookId,
);

macro_rules! runn_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_runn_number(d).map(Self)
            }
        }
    )*};
}

runn_id!(
    /// A Runn client id.
    RunnClientId,
    /// A Runn project id.
    RunnProjectId,
    /// A Runn person id.
    RunnPersonId,
    /// A Runn role id.
    RunnRoleId,
    /// A Runn project tag id.
    RunnTagId,
    /// A Runn actual id.
    RunnActualId,
    /// A Runn contract id.
    RunnContractId,
    /// A Runn assignment id.
    RunnAssignmentId,
    /// A Runn workstream id.
    RunnWorkstreamId,
    /// A Runn phase id.
    RunnPhaseId,
);

/// Runn's spec types some ids as `number` rather than `integer` (Person.id, the foreign keys
/// of Actual), so accept `12.0` as well as `12`, but never a fractional id.
fn deserialize_runn_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!("not an integral id: {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runn_ids_accept_integral_numbers_only() {
        assert_eq!(
            serde_json::from_str::<RunnPersonId>("12").unwrap(),
            RunnPersonId(12)
        );
        assert_eq!(
            serde_json::from_str::<RunnPersonId>("12.0").unwrap(),
            RunnPersonId(12)
        );
        assert!(serde_json::from_str::<RunnPersonId>("12.5").is_err());
        assert!(serde_json::from_str::<RunnPersonId>("\"12\"").is_err());
    }

    #[test]
    fn clockify_ids_are_transparent_strings() {
        let id: ClockifyProjectId = serde_json::from_str("\"5b641568b07987035750505e\"").unwrap();
        assert_eq!(id.as_str(), "5b641568b07987035750505e");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"5b641568b07987035750505e\""
        );
    }
}
