//! An integration account: which Runn account, which Clockify workspace, the credentials
//! for both, what to import, and the rules a credential's binding follows. No I/O.

use crate::clockify::ClockifyHost;
use crate::hosts::{check_url, HostPolicy};
use crate::ids::{UserGroupId, WorkspaceId};
use crate::runn::RunnHost;

use chrono_tz::Tz;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

/// Our id of an integration account: parsed wherever it enters, deserialisation included,
/// so no key the store builds from it can hold a `#` or a space.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl TryFrom<String> for AccountId {
    type Error = BadAccountId;
    fn try_from(s: String) -> Result<Self, BadAccountId> {
        AccountId::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> String {
        id.0
    }
}

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
            // Quoted back in errors and logs: never more than a line of it.
            Err(BadAccountId(crate::model::report::clip(s, 80)))
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

/// What is imported: the switches of Runn's integration page, and (the same type) what
/// one run is limited to — an import button on one Runn page, or an operator's `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Switches {
    pub clients_and_projects: bool,
    pub people: bool,
    /// Timesheets become actuals. Absent in messages of the import-only days: off.
    #[serde(default)]
    pub actuals: bool,
}

impl Switches {
    pub const ALL: Switches = Switches {
        clients_and_projects: true,
        people: true,
        actuals: true,
    };
    /// What both allow.
    pub fn and(self, other: Switches) -> Switches {
        Switches {
            clients_and_projects: self.clients_and_projects && other.clients_and_projects,
            people: self.people && other.people,
            actuals: self.actuals && other.actuals,
        }
    }
    /// Whether any entity (client, project, person) is to be imported.
    pub fn imports_entities(self) -> bool {
        self.clients_and_projects || self.people
    }
}

/// A kind of record an import button or a preview names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Clients,
    Projects,
    People,
    Actuals,
}

impl Switches {
    /// The switches some kinds name: clients or projects means both, as their switch does.
    /// One rule for the import buttons, previews and the command line's `--only`.
    pub fn of_kinds(kinds: &[Kind]) -> Switches {
        let has = |k: Kind| kinds.contains(&k);
        Switches {
            clients_and_projects: has(Kind::Clients) || has(Kind::Projects),
            people: has(Kind::People),
            actuals: has(Kind::Actuals),
        }
    }

    /// The kinds `asked` names that these switches leave off, in words.
    pub fn off_of(self, asked: Switches) -> Vec<&'static str> {
        [
            (
                asked.clients_and_projects,
                self.clients_and_projects,
                "clients and projects",
            ),
            (asked.people, self.people, "people"),
            (asked.actuals, self.actuals, "actuals"),
        ]
        .into_iter()
        .filter(|(a, on, _)| *a && !on)
        .map(|(_, _, name)| name)
        .collect()
    }
}

/// How many days back each daily run re-reads, by default.
pub const DEFAULT_WINDOW_DAYS: u32 = 45;

fn default_window() -> u32 {
    DEFAULT_WINDOW_DAYS
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
    pub switches: Switches,
    /// The first day whose timesheets become actuals (the back-fill start); `None`: the
    /// window only.
    #[serde(default)]
    pub actuals_since: Option<chrono::NaiveDate>,
    /// Days each daily run re-reads, so edits, moves and deletions inside it are reflected.
    #[serde(default = "default_window")]
    pub window_days: u32,
    #[serde(default = "yes")]
    pub autofill: bool,
    /// The zone whose calendar days actuals are counted in.
    pub time_zone: Tz,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Why the account is disabled (credentials rejected, turned off in Runn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Who is imported and synced; absent (items from before it) or empty: everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people_filter: Option<PeopleFilter>,
}

/// The most groups a people filter includes, and e-mail addresses it leaves out: the
/// settings item stays small (a few tens of kilobytes at most).
pub const MAX_FILTER_GROUPS: usize = 100;
pub const MAX_FILTER_EMAILS: usize = 1000;
/// The longest e-mail address there is (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;

/// Who is imported: the Clockify users in at least one of `include_groups` (none named:
/// every user), less those whose e-mail address is in `exclude_emails` (trimmed, any
/// case). Both empty: everyone. The rule itself is `sync::rules::people_filter`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeopleFilter {
    pub include_groups: Vec<UserGroupId>,
    pub exclude_emails: Vec<String>,
}

impl PeopleFilter {
    /// Whether it leaves everyone in.
    pub fn is_empty(&self) -> bool {
        self.include_groups.is_empty() && self.exclude_emails.is_empty()
    }

    /// The filter as it is stored and compared: group ids trimmed, e-mails trimmed and
    /// lower-cased, each list sorted without repeats (the same filter typed another way
    /// is no change).
    pub fn normalized(&self) -> PeopleFilter {
        let mut include_groups: Vec<UserGroupId> = self
            .include_groups
            .iter()
            .map(|g| UserGroupId::new(g.as_str().trim()))
            .collect();
        include_groups.sort();
        include_groups.dedup();
        let mut exclude_emails: Vec<String> = self
            .exclude_emails
            .iter()
            .map(|e| normal_email(e))
            .collect();
        exclude_emails.sort();
        exclude_emails.dedup();
        PeopleFilter {
            include_groups,
            exclude_emails,
        }
    }

    /// Bounded, and every entry one that can match: a group id of letters and digits, an
    /// e-mail address with an `@`.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |reason: String| {
            Err(SettingsError {
                field: "people_filter",
                reason,
            })
        };
        let (groups, emails) = (self.include_groups.len(), self.exclude_emails.len());
        if groups > MAX_FILTER_GROUPS {
            return bad(format!(
                "include_groups holds at most {MAX_FILTER_GROUPS} groups, not {groups}"
            ));
        }
        if emails > MAX_FILTER_EMAILS {
            return bad(format!(
                "exclude_emails holds at most {MAX_FILTER_EMAILS} e-mail addresses, not {emails}"
            ));
        }
        for g in &self.include_groups {
            let id = g.as_str().trim();
            if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return bad(format!(
                    "{:?} is not a Clockify user group id (letters and digits)",
                    clip_quoted(g.as_str())
                ));
            }
        }
        for e in &self.exclude_emails {
            let e = e.trim();
            if !e.contains('@') || e.chars().count() > MAX_EMAIL_CHARS {
                return bad(format!(
                    "{:?} is not an e-mail address (1 to {MAX_EMAIL_CHARS} characters with an @)",
                    clip_quoted(e)
                ));
            }
        }
        Ok(())
    }
}

/// An e-mail address as the filter compares it: trimmed, lower case.
pub fn normal_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// A value quoted back in a refusal: never more than a line of it.
fn clip_quoted(s: &str) -> String {
    crate::model::report::clip(s, 80)
}

/// Whether saving `new` over `old` changes who is imported (an empty filter and none are
/// the same: everyone).
pub fn people_filter_changes(old: Option<&AccountSettings>, new: &AccountSettings) -> bool {
    let of = |s: Option<&AccountSettings>| {
        s.and_then(|s| s.people_filter.as_ref())
            .map(PeopleFilter::normalized)
            .unwrap_or_default()
    };
    of(old) != of(Some(new))
}

/// Changing the people filter needs the Clockify key given with it: the groups it names
/// are checked against the workspace with that key (the API cannot open a stored one).
/// One rule for Save & Run and the command line.
pub fn check_people_filter_change(
    old: Option<&AccountSettings>,
    new: &AccountSettings,
    key_given: bool,
) -> Result<(), SettingsError> {
    if key_given || !people_filter_changes(old, new) {
        return Ok(());
    }
    Err(SettingsError {
        field: Credential::ClockifyApiKey.field(),
        reason: "give the Clockify API key to change the people filter: it checks that the \
                 groups it names exist in the workspace"
            .into(),
    })
}

fn yes() -> bool {
    true
}

/// The earliest `actuals_since` accepted: Clockify has no older time to read.
pub const EARLIEST_ACTUALS_SINCE: chrono::NaiveDate =
    match chrono::NaiveDate::from_ymd_opt(2015, 1, 1) {
        Some(d) => d,
        None => panic!("a valid date"),
    };

/// A URL as it is compared and sealed: lower-case scheme and host, the port only when it
/// is not the scheme's default, no trailing slash.
pub fn canonical_url(u: &Url) -> String {
    let mut s = format!(
        "{}://{}",
        u.scheme(),
        u.host_str().unwrap_or_default().to_ascii_lowercase()
    );
    if let Some(port) = u.port() {
        s.push_str(&format!(":{port}"));
    }
    s.push_str(u.path().trim_end_matches('/'));
    if let Some(q) = u.query() {
        s.push('?');
        s.push_str(q);
    }
    s
}

/// A stored credential. Each is sent only where it was checked: what it is bound to (its
/// [`Credential::binding`]) seals it, and a change to any of that needs it given again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    RunnToken,
    ClockifyApiKey,
}

impl Credential {
    pub const ALL: [Credential; 2] = [Credential::RunnToken, Credential::ClockifyApiKey];

    /// Its field in a request and an account file (and its attribute in the store).
    pub fn field(self) -> &'static str {
        match self {
            Credential::RunnToken => "runn_token",
            Credential::ClockifyApiKey => "clockify_api_key",
        }
    }

    /// Its name in a person's words.
    pub fn what(self) -> &'static str {
        match self {
            Credential::RunnToken => "Runn API token",
            Credential::ClockifyApiKey => "Clockify API key",
        }
    }

    /// Where it goes and what it was checked against, canonical: the Runn host for the
    /// token; the Clockify host, the reports URL (the default spelled out) and the
    /// workspace for the key.
    pub fn binding(self, s: &AccountSettings) -> Vec<(&'static str, String)> {
        match self {
            Credential::RunnToken => vec![("runn_host", canonical_url(&s.runn_host.base()))],
            Credential::ClockifyApiKey => {
                let api = s.clockify_host.api_base().map(|u| canonical_url(&u));
                let reports = match &s.clockify_reports_url {
                    Some(u) => Ok(canonical_url(u)),
                    None => s.clockify_host.reports_base().map(|u| canonical_url(&u)),
                };
                // A host that gives no URL was refused by `validate`; its text still binds.
                let or_raw = |r: Result<String, crate::hosts::HostRefused>| {
                    r.unwrap_or_else(|_| format!("{:?}", s.clockify_host))
                };
                vec![
                    ("clockify_host", or_raw(api)),
                    ("reports_url", or_raw(reports)),
                    ("workspace", s.clockify_workspace.to_string()),
                ]
            }
        }
    }

    /// [`Credential::binding`] as text: what a stored credential is kept beside, so a
    /// change is seen against what it was sealed for, not only the settings before.
    pub fn binding_text(self, s: &AccountSettings) -> String {
        self.binding(s)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The setting whose change makes a stored credential unusable, in a person's words,
    /// if any changed between `old` and `new`.
    pub fn rebinding(self, old: &AccountSettings, new: &AccountSettings) -> Option<&'static str> {
        let (a, b) = (self.binding(old), self.binding(new));
        a.iter()
            .zip(&b)
            .find(|(x, y)| x != y)
            .map(|((name, _), _)| match *name {
                "runn_host" => "the Runn host",
                "clockify_host" => "the Clockify host",
                "reports_url" => "the Clockify reports URL",
                _ => "the Clockify workspace",
            })
    }
}

/// Which credentials an account has stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StoredCredentials {
    pub runn_token: bool,
    pub clockify_api_key: bool,
}

impl StoredCredentials {
    pub fn has(&self, c: Credential) -> bool {
        match c {
            Credential::RunnToken => self.runn_token,
            Credential::ClockifyApiKey => self.clockify_api_key,
        }
    }
}

/// An account's item as read, without opening a secret: its settings, which credentials
/// are stored, and the versions every conditional write of it is made against.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountState {
    pub settings: AccountSettings,
    pub credentials: StoredCredentials,
    /// Bumped by every write of the item (an item from before versions counts as 0).
    pub version: u64,
    /// Bumped whenever a stored credential is replaced or deleted.
    pub credentials_version: u64,
    /// What each stored credential was sealed for ([`Credential::binding_text`]), by its
    /// field; absent for credentials sealed before it was kept.
    pub sealed_for: std::collections::BTreeMap<String, String>,
}

/// Refuses settings that would send a stored credential somewhere it was not checked
/// for: when anything it is bound to changes, the credential must be given again
/// (`given`), wherever settings enter (Save & Run, `account put`, `account set`).
pub fn check_rebinding(
    old: &AccountSettings,
    new: &AccountSettings,
    given: impl Fn(Credential) -> bool,
) -> Result<(), SettingsError> {
    for c in Credential::ALL {
        if given(c) {
            continue;
        }
        if let Some(setting) = c.rebinding(old, new) {
            return Err(needed_again(c, setting));
        }
    }
    Ok(())
}

/// The refusal of settings that move a stored credential: it must be given again.
fn needed_again(c: Credential, setting: &str) -> SettingsError {
    SettingsError {
        field: c.field(),
        reason: format!(
            "the {what} is needed again: {setting} changed, and a stored {what} is only \
             ever sent where it was checked",
            what = c.what()
        ),
    }
}

/// [`check_rebinding`] against what each stored credential was sealed for, where that is
/// kept (so settings moved behind the rules' back, which left a credential that no longer
/// opens, are refused too); else against the stored settings.
pub fn check_rebinding_state(
    stored: &AccountState,
    new: &AccountSettings,
    given: impl Fn(Credential) -> bool,
) -> Result<(), SettingsError> {
    for c in Credential::ALL {
        if given(c) || !stored.credentials.has(c) {
            continue;
        }
        let moved = match stored.sealed_for.get(c.field()) {
            Some(bound) => (*bound != c.binding_text(new)).then_some("where it is sent"),
            None => c.rebinding(&stored.settings, new),
        };
        if let Some(setting) = moved {
            return Err(needed_again(c, setting));
        }
    }
    Ok(())
}

/// Whether saving `new` over `old` switches actuals on (so the "Unknown" role gate must
/// pass first): on now, and not on for an enabled integration before. One rule for the
/// API and the command line.
pub fn switches_actuals_on(old: Option<&AccountSettings>, new: &AccountSettings) -> bool {
    new.switches.actuals && !old.is_some_and(|s| s.enabled && s.switches.actuals)
}

/// A setting refused, naming the field and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SettingsError {
    pub field: &'static str,
    pub reason: String,
}

impl AccountSettings {
    /// Marks the account disabled, saying why (shown in its status).
    pub fn disable(&mut self, reason: &str) {
        self.enabled = false;
        self.disabled_reason = Some(crate::model::report::clip(reason, 480));
    }

    /// Checks everything a credential will be sent to, wherever settings enter (an account
    /// file, the HTTP API), before anything is stored.
    pub fn validate(&self, hosts: HostPolicy) -> Result<(), SettingsError> {
        let today = chrono::Utc::now()
            .with_timezone(&self.time_zone)
            .date_naive();
        self.validate_on(hosts, today)
    }

    /// [`AccountSettings::validate`] with `today` (in the account's zone) given.
    pub fn validate_on(
        &self,
        hosts: HostPolicy,
        today: chrono::NaiveDate,
    ) -> Result<(), SettingsError> {
        let bad = |field, reason: String| Err(SettingsError { field, reason });
        if self.runn_account.trim().is_empty() || self.runn_account.chars().count() > 200 {
            return bad("runn_account", "must be 1 to 200 characters".into());
        }
        // Every stored item has a bounded size.
        for (field, url) in [
            ("runn_host", Some(self.runn_host.base())),
            ("clockify_reports_url", self.clockify_reports_url.clone()),
        ] {
            if url.is_some_and(|u| u.as_str().len() > 2048) {
                return bad(field, "must be at most 2,048 characters".into());
            }
        }
        if let ClockifyHost::Server { url } = &self.clockify_host {
            if url.as_str().len() > 2048 {
                return bad("clockify_host", "must be at most 2,048 characters".into());
            }
        }
        if let Err(e) = check_url(&self.runn_host.base(), hosts) {
            return bad("runn_host", format!("the Runn URL {e}"));
        }
        if let Err(e) = self.clockify_host.check(hosts) {
            return bad("clockify_host", format!("the Clockify host {e}"));
        }
        if let Some(u) = &self.clockify_reports_url {
            if let Err(e) = check_url(u, hosts) {
                return bad("clockify_reports_url", format!("the reports URL {e}"));
            }
        }
        if !(1..=366).contains(&self.window_days) {
            return bad(
                "window_days",
                format!("must be 1 to 366 days, not {}", self.window_days),
            );
        }
        if let Some(since) = self.actuals_since {
            if since < EARLIEST_ACTUALS_SINCE || since > today {
                return bad(
                    "actuals_since",
                    format!(
                        "must be a day from {EARLIEST_ACTUALS_SINCE} to today ({today} in {}), not {since}",
                        self.time_zone.name()
                    ),
                );
            }
        }
        if let Some(f) = &self.people_filter {
            f.validate()?;
        }
        // The workspace id goes into request paths: letters and digits only.
        let ws = self.clockify_workspace.as_str();
        if ws.is_empty() || ws.len() > 64 || !ws.chars().all(|c| c.is_ascii_alphanumeric()) {
            return bad(
                "clockify_workspace",
                format!("{ws:?} is not a Clockify workspace id (letters and digits)"),
            );
        }
        Ok(())
    }
}

/// An account with its credentials (only the worker and the command line open these).
#[derive(Clone, Debug, Deserialize)]
pub struct Account {
    #[serde(flatten)]
    pub settings: AccountSettings,
    pub runn_token: SecretString,
    pub clockify_api_key: SecretString,
}

impl Account {
    /// The settings' checks, and credentials that can be sent at all.
    pub fn validate(&self, hosts: HostPolicy) -> Result<(), SettingsError> {
        self.settings.validate(hosts)?;
        validate_credential("runn_token", &self.runn_token)?;
        validate_credential("clockify_api_key", &self.clockify_api_key)
    }
}

/// A credential that can be sent at all: 1 to 512 printable characters without spaces.
pub fn validate_credential(
    field: &'static str,
    secret: &SecretString,
) -> Result<(), SettingsError> {
    use secrecy::ExposeSecret;
    let v = secret.expose_secret();
    if v.trim().is_empty() || v.len() > 512 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SettingsError {
            field,
            reason: "must be 1 to 512 printable characters without spaces".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_id_is_parsed_on_the_way_in_deserialisation_included() {
        for bad in ["\"acme corp\"", "\"a#b\"", "\"\""] {
            assert!(serde_json::from_str::<AccountId>(bad).is_err(), "{bad}");
        }
        let id: AccountId = serde_json::from_str("\"acme-eu_1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"acme-eu_1\"");
        // Quoted back in an error, a huge id is cut.
        let e = AccountId::parse(&"x".repeat(10_000)).unwrap_err();
        assert!(e.to_string().len() < 200);
    }

    #[test]
    fn a_stored_credential_is_bound_to_what_it_was_checked_against() {
        let old = settings(
            serde_json::json!({"runn_host": {"kind": "custom", "url": "https://runn.acme.example"}}),
        );
        let new = |json| settings(json);
        let none_given = |_| false;
        // Case and a trailing slash are no change; the default reports URL spelled out
        // neither.
        for same in [
            serde_json::json!({"runn_host": {"kind": "custom", "url": "https://RUNN.acme.example/"}}),
            serde_json::json!({"runn_host": {"kind": "custom", "url": "https://runn.acme.example"}, "clockify_reports_url": "https://reports.api.clockify.me/"}),
        ] {
            assert_eq!(
                check_rebinding(&old, &new(same.clone()), none_given),
                Ok(()),
                "{same}"
            );
        }
        let e = check_rebinding(&old, &new(serde_json::json!({})), none_given).unwrap_err();
        assert_eq!(e.field, "runn_token");
        assert!(e.reason.contains("the Runn host changed"), "{}", e.reason);
        // Given again, it is checked anew: no refusal.
        assert_eq!(
            check_rebinding(&old, &new(serde_json::json!({})), |c| c
                == Credential::RunnToken),
            Ok(())
        );
        let moved = serde_json::json!({"runn_host": {"kind": "custom", "url": "https://runn.acme.example"}, "clockify_workspace": "otherws"});
        let e = check_rebinding(&old, &new(moved), none_given).unwrap_err();
        assert_eq!(e.field, "clockify_api_key");
    }

    #[test]
    fn switching_actuals_on_is_gated_the_same_way_everywhere() {
        let on = |enabled: bool, actuals: bool| {
            let mut s = settings(serde_json::json!({}));
            s.enabled = enabled;
            s.switches.actuals = actuals;
            s
        };
        assert!(switches_actuals_on(None, &on(true, true)));
        assert!(switches_actuals_on(Some(&on(true, false)), &on(true, true)));
        assert!(
            switches_actuals_on(Some(&on(false, true)), &on(true, true)),
            "re-enabled"
        );
        assert!(!switches_actuals_on(Some(&on(true, true)), &on(true, true)));
        assert!(!switches_actuals_on(None, &on(true, false)));
    }

    #[test]
    fn actuals_since_is_within_the_years_clockify_has_and_not_in_the_future() {
        let today: chrono::NaiveDate = "2026-12-01".parse().unwrap();
        let with = |since: &str| settings(serde_json::json!({"actuals_since": since}));
        for ok in ["2015-01-01", "2026-12-01"] {
            assert_eq!(
                with(ok).validate_on(HostPolicy::STRICT, today),
                Ok(()),
                "{ok}"
            );
        }
        for bad in ["2014-12-31", "2026-12-02", "1900-01-01"] {
            let e = with(bad)
                .validate_on(HostPolicy::STRICT, today)
                .unwrap_err();
            assert_eq!(e.field, "actuals_since", "{bad}");
        }
    }

    #[test]
    fn an_item_from_before_the_people_filter_reads_and_none_is_not_written() {
        let s = settings(serde_json::json!({}));
        assert_eq!(s.people_filter, None);
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("people_filter").is_none(), "{json}");
        let with = settings(serde_json::json!({"people_filter": {"include_groups": ["g1"]}}));
        assert_eq!(
            with.people_filter.unwrap().exclude_emails,
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_people_filter_is_bounded_and_each_entry_must_be_able_to_match() {
        let strict = HostPolicy::STRICT;
        let with = |f: serde_json::Value| settings(serde_json::json!({ "people_filter": f }));
        let groups: Vec<String> = (0..MAX_FILTER_GROUPS).map(|i| format!("g{i}")).collect();
        let emails: Vec<String> = (0..MAX_FILTER_EMAILS)
            .map(|i| format!("u{i}@x.com"))
            .collect();
        let full = with(serde_json::json!({"include_groups": groups, "exclude_emails": emails}));
        assert_eq!(full.validate(strict), Ok(()));
        let mut over = full.clone();
        let f = over.people_filter.as_mut().unwrap();
        f.include_groups.push("one_more".into());
        let e = over.validate(strict).unwrap_err();
        assert_eq!(e.field, "people_filter");
        assert!(e.reason.contains("at most 100 groups"), "{}", e.reason);
        let mut over = full;
        over.people_filter
            .as_mut()
            .unwrap()
            .exclude_emails
            .push("x@y.z".into());
        let e = over.validate(strict).unwrap_err();
        assert!(e.reason.contains("at most 1000"), "{}", e.reason);
        for bad in [
            serde_json::json!({"include_groups": ["a/b"]}),
            serde_json::json!({"include_groups": ["   "]}),
            serde_json::json!({"exclude_emails": ["nobody"]}),
        ] {
            let e = with(bad.clone()).validate(strict).unwrap_err();
            assert_eq!(e.field, "people_filter", "{bad}");
        }
    }

    #[test]
    fn the_people_filter_compares_normalised_and_a_change_needs_the_clockify_key() {
        let f = |groups: &[&str], emails: &[&str]| {
            settings(
                serde_json::json!({"people_filter": {"include_groups": groups, "exclude_emails": emails}}),
            )
        };
        let a = f(&["g2", "g1"], &[" Ana@X.com"]);
        let same = f(&["g1", " g2", "g1"], &["ana@x.com "]);
        assert!(!people_filter_changes(Some(&a), &same));
        assert_eq!(
            same.people_filter.as_ref().unwrap().normalized(),
            PeopleFilter {
                include_groups: vec!["g1".into(), "g2".into()],
                exclude_emails: vec!["ana@x.com".into()],
            }
        );
        // None and an empty filter are both everyone.
        let none = settings(serde_json::json!({}));
        assert!(!people_filter_changes(Some(&none), &f(&[], &[])));
        assert!(people_filter_changes(Some(&none), &a));
        assert!(people_filter_changes(None, &a));
        let e = check_people_filter_change(Some(&none), &a, false).unwrap_err();
        assert_eq!(e.field, "clockify_api_key");
        assert_eq!(check_people_filter_change(Some(&none), &a, true), Ok(()));
        assert_eq!(check_people_filter_change(Some(&a), &same, false), Ok(()));
    }

    #[test]
    fn account_ids_are_checked() {
        assert!(AccountId::parse("acme-eu_1").is_ok());
        assert!(AccountId::parse("").is_err());
        assert!(AccountId::parse("a#b").is_err());
        assert!(AccountId::parse(&"a".repeat(65)).is_err());
    }

    fn settings(json: serde_json::Value) -> AccountSettings {
        let mut base = serde_json::json!({"id": "acme", "runn_account": "Acme", "runn_host": {"kind": "eu"},
            "clockify_host": {"kind": "global"}, "clockify_workspace": "65b1c0ffee0000000000a001",
            "switches": {"clients_and_projects": true, "people": true, "actuals": false},
            "time_zone": "UTC"});
        for (k, v) in json.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn settings_that_would_send_a_key_somewhere_unsafe_are_refused_by_field() {
        let strict = HostPolicy::STRICT;
        assert_eq!(settings(serde_json::json!({})).validate(strict), Ok(()));
        let cases = [
            (
                serde_json::json!({"clockify_host": {"kind": "subdomain", "name": "evil.com/x"}}),
                "clockify_host",
            ),
            (
                serde_json::json!({"clockify_host": {"kind": "subdomain", "name": "a b"}}),
                "clockify_host",
            ),
            (
                serde_json::json!({"clockify_host": {"kind": "server", "url": "http://clockify.acme.com"}}),
                "clockify_host",
            ),
            (
                serde_json::json!({"clockify_host": {"kind": "server", "url": "https://127.0.0.1:9001"}}),
                "clockify_host",
            ),
            (
                serde_json::json!({"clockify_host": {"kind": "server", "url": "https://u:p@clockify.acme.com"}}),
                "clockify_host",
            ),
            (
                serde_json::json!({"clockify_reports_url": "https://169.254.169.254/latest"}),
                "clockify_reports_url",
            ),
            (
                serde_json::json!({"runn_host": {"kind": "custom", "url": "http://runn.acme.com"}}),
                "runn_host",
            ),
            (
                serde_json::json!({"runn_host": {"kind": "custom", "url": "https://[::1]:8080"}}),
                "runn_host",
            ),
            (
                serde_json::json!({"clockify_workspace": "../../admin"}),
                "clockify_workspace",
            ),
        ];
        for (json, field) in cases {
            let s = settings(json.clone());
            let err = s.validate(strict).expect_err(&json.to_string());
            assert_eq!(err.field, field, "{json}");
        }
        let local = settings(
            serde_json::json!({"runn_host": {"kind": "custom", "url": "http://127.0.0.1:8080"}}),
        );
        assert!(local.validate(strict).is_err());
        assert!(local.validate(HostPolicy::LOCAL).is_ok());
    }

    #[test]
    fn a_host_of_one_kind_with_the_fields_of_another_is_refused() {
        for host in [
            serde_json::json!({"runn_host": {"kind": "eu", "url": "https://evil.example"}}),
            serde_json::json!({"clockify_host": {"kind": "global", "url": "https://evil.example"}}),
            serde_json::json!({"clockify_host": {"kind": "server", "url": "https://c.example", "x": 1}}),
        ] {
            let mut base = serde_json::json!({"id": "acme", "runn_account": "Acme", "runn_host": {"kind": "eu"},
                "clockify_host": {"kind": "global"}, "clockify_workspace": "ws1",
                "switches": {"clients_and_projects": true, "people": true}, "time_zone": "UTC"});
            for (k, v) in host.as_object().unwrap() {
                base[k] = v.clone();
            }
            let err = serde_json::from_value::<AccountSettings>(base).unwrap_err();
            assert!(err.to_string().contains("unknown field"), "{host}: {err}");
        }
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
