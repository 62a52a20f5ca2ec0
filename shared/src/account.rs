//! An integration account: which Runn account, which Clockify workspace, the credentials
//! for both, and what to import.

use crate::clockify::ClockifyHost;
use crate::error::FailureClass;
use crate::ids::WorkspaceId;
use crate::runn::RunnHost;
use crate::sync::{ImportReport, Switches};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

/// Our id of an integration account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

#[derive(Debug, thiserror::Error)]
#[error("an account id is 1 to 64 letters, digits, '-' or '_', not {0:?}")]
pub struct BadAccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, BadAccountId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadAccountId(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The switches of Runn's integration page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct AccountSwitches {
    pub clients_and_projects: bool,
    pub people: bool,
    pub actuals: bool,
}

impl AccountSwitches {
    pub fn import(&self) -> Switches {
        Switches {
            clients_and_projects: self.clients_and_projects,
            people: self.people,
        }
    }
}

/// The settings of an account, without its secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct AccountSettings {
    pub id: AccountId,
    /// The Runn account this integration belongs to (as Runn names it).
    pub runn_account: String,
    pub runn_host: RunnHost,
    pub clockify_host: ClockifyHost,
    #[serde(default)]
    pub clockify_reports_url: Option<Url>,
    pub clockify_workspace: WorkspaceId,
    pub switches: AccountSwitches,
    #[serde(default = "yes")]
    pub autofill: bool,
    /// The zone whose calendar days actuals are counted in.
    pub time_zone: Tz,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// An account with its credentials (only the worker and the command line open these).
#[derive(Clone, Debug, Deserialize)]
pub struct Account {
    #[serde(flatten)]
    pub settings: AccountSettings,
    pub runn_token: SecretString,
    pub clockify_api_key: SecretString,
}

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The daily schedule.
    Schedule,
    /// An import button in Runn ("Save & Run", "Import from Clockify").
    Manual,
    /// A run continuing one that stopped at its deadline.
    Continuation,
    /// An operator's command line.
    CommandLine,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    Succeeded,
    /// Stopped at its deadline; a continuation was queued.
    Continued,
    Failed {
        class: FailureClass,
        message: String,
    },
}

/// One run of an account's import, as its status shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub report: Option<ImportReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_checked() {
        assert!(AccountId::parse("acme-eu_1").is_ok());
        assert!(AccountId::parse("").is_err());
        assert!(AccountId::parse("a#b").is_err());
        assert!(AccountId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn an_account_file_parses_and_its_secrets_never_print() {
        let a: Account = serde_json::from_str(
            r#"{"id": "acme", "runn_account": "Acme Ltd", "runn_host": {"kind": "eu"},
                "clockify_host": {"kind": "regional", "region": "euc1"}, "clockify_workspace": "ws1",
                "switches": {"clients_and_projects": true, "people": true, "actuals": false},
                "time_zone": "Europe/Berlin", "runn_token": "LIVE_abc123", "clockify_api_key": "key-xyz"}"#,
        )
        .unwrap();
        assert!(a.settings.enabled && a.settings.autofill);
        assert_eq!(a.settings.time_zone, chrono_tz::Europe::Berlin);
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("LIVE_abc123") && !shown.contains("key-xyz"),
            "{shown}"
        );
        assert!(
            serde_json::from_str::<Account>(r#"{"id": "x", "time_zone": "Mars/Base"}"#).is_err()
        );
    }
}
