//! "Save & Run"'s rules, as a pure function: the request and what is stored in, the
//! settings to save (or the refusal, naming its field) out. No I/O: the checks that ask
//! Clockify, Runn or DNS come after, in the handler.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;
use shared::account::{
    check_people_filter_change, check_rebinding_state, switches_actuals_on, validate_credential,
    AccountId, AccountSettings, Credential, PeopleFilter, SettingsError, Switches,
    DEFAULT_WINDOW_DAYS,
};
use shared::clockify::ClockifyHost;
use shared::hosts::HostPolicy;
use shared::ids::WorkspaceId;
use shared::runn::RunnHost;
use shared::store::AccountState;
use shared::SecretString;
use url::Url;

/// The body of "Save & Run".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationRequest {
    pub runn_account: String,
    pub runn_host: RunnHost,
    pub clockify_host: ClockifyHost,
    #[serde(default)]
    pub clockify_reports_url: Option<Url>,
    pub clockify_workspace: WorkspaceId,
    pub switches: Switches,
    #[serde(default)]
    pub actuals_since: Option<NaiveDate>,
    #[serde(default)]
    pub window_days: Option<u32>,
    /// Absent: kept as it is, and on for a new integration.
    #[serde(default)]
    pub autofill: Option<bool>,
    /// Who is imported. Absent: kept as it is (none for a new integration: everyone);
    /// empty: everyone. A change needs the Clockify key (it checks the groups).
    #[serde(default)]
    pub people_filter: Option<PeopleFilter>,
    pub time_zone: Tz,
    /// Absent: the stored one is kept (Runn's form shows it masked).
    #[serde(default)]
    pub runn_token: Option<SecretString>,
    #[serde(default)]
    pub clockify_api_key: Option<SecretString>,
}

impl IntegrationRequest {
    pub fn credential(&self, c: Credential) -> Option<&SecretString> {
        match c {
            Credential::RunnToken => self.runn_token.as_ref(),
            Credential::ClockifyApiKey => self.clockify_api_key.as_ref(),
        }
    }
}

/// What Save & Run will save, and what it must check first.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub settings: AccountSettings,
    /// Actuals are being switched on: the "Unknown" role gate must pass.
    pub gate: bool,
    /// Something differs from what is stored (a setting, or a credential given): a job
    /// queued or running meanwhile is followed by one with the new settings.
    pub changed: bool,
}

/// The settings Save & Run saves from `req` over `stored`, or the refusal (a 422 naming
/// its field; the message is whole, for a person).
pub fn merge_settings(
    id: &AccountId,
    req: &IntegrationRequest,
    stored: Option<&AccountState>,
    hosts: HostPolicy,
    today: NaiveDate,
) -> Result<Merged, SettingsError> {
    let old = stored.map(|s| &s.settings);
    let settings = AccountSettings {
        id: id.clone(),
        runn_account: req.runn_account.clone(),
        runn_host: req.runn_host.clone(),
        clockify_host: req.clockify_host.clone(),
        clockify_reports_url: req.clockify_reports_url.clone(),
        clockify_workspace: req.clockify_workspace.clone(),
        switches: req.switches,
        actuals_since: req.actuals_since,
        window_days: req
            .window_days
            .or(old.map(|s| s.window_days))
            .unwrap_or(DEFAULT_WINDOW_DAYS),
        autofill: req.autofill.or(old.map(|s| s.autofill)).unwrap_or(true),
        time_zone: req.time_zone,
        // Saving working credentials re-enables an account disabled for rejected ones.
        enabled: true,
        disabled_reason: None,
        people_filter: merged_filter(req, old),
    };
    settings
        .validate_on(hosts, today)
        .map_err(|e| SettingsError {
            field: e.field,
            reason: format!("{}; nothing was saved", e.reason),
        })?;
    check_credentials(req, stored)?;
    if let Some(stored) = stored {
        check_rebinding_state(stored, &settings, |c| req.credential(c).is_some()).map_err(|e| {
            SettingsError {
                field: e.field,
                reason: format!("{}; nothing was saved", e.reason),
            }
        })?;
    }
    check_people_filter_change(old, &settings, req.clockify_api_key.is_some()).map_err(|e| {
        SettingsError {
            field: e.field,
            reason: format!("{}; nothing was saved", e.reason),
        }
    })?;
    // Actuals being switched on: no linked person may still be on "Unknown".
    let gate = switches_actuals_on(old, &settings);
    if gate && req.runn_token.is_none() {
        return Err(SettingsError {
            field: "runn_token",
            reason: "give the Runn API token to switch actuals on: it checks that no linked person is still on the \"Unknown\" role; nothing was saved".into(),
        });
    }
    let given = Credential::ALL.iter().any(|c| req.credential(*c).is_some());
    let changed = given || old != Some(&settings);
    Ok(Merged {
        settings,
        gate,
        changed,
    })
}

/// The people filter to save: the request's, or the stored one when it sends none; as it
/// is compared (normalised), and none when it leaves everyone in.
fn merged_filter(req: &IntegrationRequest, old: Option<&AccountSettings>) -> Option<PeopleFilter> {
    req.people_filter
        .as_ref()
        .or(old.and_then(|s| s.people_filter.as_ref()))
        .map(PeopleFilter::normalized)
        .filter(|f| !f.is_empty())
}

/// Each credential given can be sent at all; each left out is stored.
fn check_credentials(
    req: &IntegrationRequest,
    stored: Option<&AccountState>,
) -> Result<(), SettingsError> {
    for c in Credential::ALL {
        match req.credential(c) {
            Some(secret) => validate_credential(c.field(), secret).map_err(|e| SettingsError {
                field: c.field(),
                reason: format!("the {} {}", c.what(), e.reason),
            })?,
            None if !stored.is_some_and(|s| s.credentials.has(c)) => {
                return Err(SettingsError {
                    field: c.field(),
                    reason: format!(
                        "the {} is needed: none is stored for this account",
                        c.what()
                    ),
                })
            }
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use shared::store::StoredCredentials;

    fn id() -> AccountId {
        AccountId::parse("acme").unwrap()
    }
    fn today() -> NaiveDate {
        "2026-12-01".parse().unwrap()
    }

    fn form(changes: Value) -> Value {
        let mut body = json!({
            "runn_account": "Acme", "runn_host": {"kind": "custom", "url": "https://runn.acme.example"},
            "clockify_host": {"kind": "server", "url": "https://time.acme.example"},
            "clockify_workspace": "65b1c0ffee0000000000a001",
            "switches": {"clients_and_projects": true, "people": true, "actuals": false},
            "time_zone": "Europe/London"
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    }

    fn request(changes: Value) -> IntegrationRequest {
        serde_json::from_value(form(changes)).unwrap()
    }

    fn with_keys(changes: Value) -> IntegrationRequest {
        let mut c = json!({"runn_token": "LIVE_t", "clockify_api_key": "ck_k"});
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        request(c)
    }

    /// What an account saved from the base form (with both credentials) holds.
    fn stored() -> AccountState {
        let settings = merge(&with_keys(json!({})), None).unwrap().settings;
        AccountState {
            settings,
            credentials: StoredCredentials {
                runn_token: true,
                clockify_api_key: true,
            },
            version: 3,
            credentials_version: 1,
            sealed_for: Default::default(),
        }
    }

    fn merge(
        req: &IntegrationRequest,
        stored: Option<&AccountState>,
    ) -> Result<Merged, SettingsError> {
        merge_settings(&id(), req, stored, HostPolicy::STRICT, today())
    }

    fn refused(req: &IntegrationRequest, stored: Option<&AccountState>) -> (&'static str, String) {
        let e = merge(req, stored).expect_err("refused");
        (e.field, e.reason)
    }

    #[test]
    fn a_new_integration_needs_both_credentials_and_gets_autofill() {
        let m = merge(&with_keys(json!({})), None).unwrap();
        assert!(m.settings.autofill && m.settings.enabled && m.changed && !m.gate);
        assert_eq!(m.settings.window_days, DEFAULT_WINDOW_DAYS);
        let (field, why) = refused(&request(json!({"runn_token": "LIVE_t"})), None);
        assert_eq!(field, "clockify_api_key");
        assert!(why.contains("none is stored"), "{why}");
        let (field, why) = refused(&with_keys(json!({"runn_token": "has space"})), None);
        assert_eq!(field, "runn_token");
        assert!(why.contains("printable characters"), "{why}");
    }

    #[test]
    fn left_out_credentials_keep_the_stored_ones_and_settings_kept_as_they_were() {
        let mut s = stored();
        s.settings.autofill = false;
        s.settings.window_days = 30;
        let m = merge(&request(json!({})), Some(&s)).unwrap();
        assert_eq!((m.settings.autofill, m.settings.window_days), (false, 30));
        assert!(
            !m.changed,
            "nothing differs: a press of Save & Run as it was"
        );
        let m = merge(&request(json!({"time_zone": "Europe/Paris"})), Some(&s)).unwrap();
        assert!(m.changed);
        let m = merge(&with_keys(json!({})), Some(&s)).unwrap();
        assert!(m.changed, "a credential given is a change");
    }

    #[test]
    fn a_left_out_credential_is_refused_when_what_it_is_sent_to_changes() {
        let s = stored();
        let cases = [
            (
                json!({"runn_host": {"kind": "custom", "url": "https://evil.example"}}),
                "runn_token",
            ),
            (json!({"runn_host": {"kind": "eu"}}), "runn_token"),
            (
                json!({"clockify_host": {"kind": "server", "url": "https://evil.example"}}),
                "clockify_api_key",
            ),
            (
                json!({"clockify_host": {"kind": "global"}}),
                "clockify_api_key",
            ),
            (
                json!({"clockify_reports_url": "https://reports.evil.example"}),
                "clockify_api_key",
            ),
            (
                json!({"clockify_workspace": "65b1c0ffee0000000000ffff"}),
                "clockify_api_key",
            ),
        ];
        for (change, field) in cases {
            let (f, why) = refused(&request(change.clone()), Some(&s));
            assert_eq!(f, field, "{change}");
            assert!(
                why.contains("needed again") && why.contains("nothing was saved"),
                "{why}"
            );
            // Given again, it is checked afresh and may be saved.
            let mut again = change.clone();
            again[field] = json!("fresh-credential");
            assert!(merge(&request(again), Some(&s)).is_ok(), "{change}");
        }
    }

    #[test]
    fn a_credential_is_held_to_what_it_was_sealed_for_not_only_the_settings_before() {
        // The settings moved to another host behind the rules' back (the credential no
        // longer opens): Save & Run with it left out is refused though nothing in the form
        // differs from what is stored.
        let mut s = stored();
        let sealed_here = s.settings.clone();
        s.sealed_for.insert(
            "runn_token".into(),
            Credential::RunnToken.binding_text(&sealed_here),
        );
        s.settings.runn_host = RunnHost::Custom {
            url: "https://elsewhere.example".parse().unwrap(),
        };
        let moved =
            request(json!({"runn_host": {"kind": "custom", "url": "https://elsewhere.example"}}));
        let (field, why) = refused(&moved, Some(&s));
        assert_eq!(field, "runn_token");
        assert!(why.contains("needed again"), "{why}");
        // Back to where it was sealed for: accepted.
        assert!(merge(&request(json!({})), Some(&s)).is_ok());
    }

    #[test]
    fn the_same_host_spelled_another_way_is_no_change() {
        let s = stored();
        for same in [
            json!({"runn_host": {"kind": "custom", "url": "https://RUNN.acme.example/"}}),
            json!({"clockify_host": {"kind": "server", "url": "https://Time.Acme.Example/"}}),
            json!({"clockify_host": {"kind": "server", "url": "https://time.acme.example/api"}}),
            // The default reports URL, spelled out.
            json!({"clockify_reports_url": "https://time.acme.example/report/"}),
        ] {
            assert!(merge(&request(same.clone()), Some(&s)).is_ok(), "{same}");
        }
    }

    #[test]
    fn switching_actuals_on_needs_the_token_for_the_gate() {
        let s = stored();
        let on =
            json!({"switches": {"clients_and_projects": true, "people": true, "actuals": true}});
        let (field, _) = refused(&request(on.clone()), Some(&s));
        assert_eq!(field, "runn_token");
        let mut with_token = on.clone();
        with_token["runn_token"] = json!("LIVE_t");
        let m = merge(&request(with_token), Some(&s)).unwrap();
        assert!(m.gate);
        // Already on: no gate, no token needed.
        let mut on_already = s.clone();
        on_already.settings.switches.actuals = true;
        let m = merge(&request(on), Some(&on_already)).unwrap();
        assert!(!m.gate);
        // On, but for a disabled integration: switching it back on is gated.
        on_already.settings.enabled = false;
        let on =
            json!({"switches": {"clients_and_projects": true, "people": true, "actuals": true}});
        assert_eq!(refused(&request(on), Some(&on_already)).0, "runn_token");
    }

    #[test]
    fn changing_the_people_filter_needs_the_clockify_key() {
        let s = stored();
        let filter = json!({"people_filter": {"include_groups": ["g1"], "exclude_emails": []}});
        let (field, why) = refused(&request(filter.clone()), Some(&s));
        assert_eq!(field, "clockify_api_key");
        assert!(
            why.contains("people filter") && why.ends_with("nothing was saved"),
            "{why}"
        );
        let mut with_key = filter.clone();
        with_key["clockify_api_key"] = json!("ck_k");
        let m = merge(&request(with_key), Some(&s)).unwrap();
        assert!(m.changed);
        assert_eq!(
            m.settings.people_filter.unwrap().include_groups,
            [shared::ids::UserGroupId::from("g1")]
        );
        // Clearing it is a change too.
        let mut filtered = s.clone();
        filtered.settings.people_filter = Some(PeopleFilter {
            include_groups: vec!["g1".into()],
            exclude_emails: vec![],
        });
        let cleared = request(json!({"people_filter": {}}));
        assert_eq!(refused(&cleared, Some(&filtered)).0, "clockify_api_key");
    }

    #[test]
    fn the_people_filter_left_out_or_typed_another_way_is_kept_without_the_key() {
        let mut s = stored();
        s.settings.people_filter = Some(PeopleFilter {
            include_groups: vec!["g1".into(), "g2".into()],
            exclude_emails: vec!["ana@example.com".into()],
        });
        // Left out: kept as it is.
        let m = merge(&request(json!({})), Some(&s)).unwrap();
        assert_eq!(m.settings.people_filter, s.settings.people_filter);
        assert!(!m.changed);
        // The same, in another order, case and spacing: no change, no key needed.
        let same = json!({"people_filter": {"include_groups": ["g2", " g1"],
            "exclude_emails": [" ANA@Example.com ", "ana@example.com"]}});
        let m = merge(&request(same), Some(&s)).unwrap();
        assert_eq!(m.settings.people_filter, s.settings.people_filter);
        assert!(!m.changed);
        // An empty filter on a new integration is stored as none: everyone.
        let m = merge(&with_keys(json!({"people_filter": {}})), None).unwrap();
        assert_eq!(m.settings.people_filter, None);
    }

    #[test]
    fn a_people_filter_out_of_bounds_is_refused_naming_it() {
        let groups: Vec<String> = (0..101).map(|i| format!("g{i}")).collect();
        let emails: Vec<String> = (0..1001).map(|i| format!("u{i}@x.com")).collect();
        for filter in [
            json!({"include_groups": groups}),
            json!({"exclude_emails": emails}),
            json!({"include_groups": ["../admin"]}),
            json!({"include_groups": [""]}),
            json!({"exclude_emails": ["not an address"]}),
            json!({"exclude_emails": [format!("{}@x.com", "a".repeat(300))]}),
        ] {
            let req = with_keys(json!({ "people_filter": filter.clone() }));
            let (field, why) = refused(&req, None);
            assert_eq!(field, "people_filter", "{filter}: {why}");
            assert!(why.ends_with("nothing was saved"), "{why}");
        }
        let at_most: Vec<String> = (0..100).map(|i| format!("g{i}")).collect();
        let req = with_keys(json!({"people_filter": {"include_groups": at_most}}));
        assert!(merge(&req, None).is_ok());
        // An unknown field inside it is refused as any unknown field is.
        let body = form(json!({"people_filter": {"include_groups": [], "groups": []}}));
        assert!(serde_json::from_value::<IntegrationRequest>(body).is_err());
    }

    #[test]
    fn settings_out_of_bounds_are_refused_by_field() {
        for (change, field) in [
            (json!({"window_days": 0}), "window_days"),
            (json!({"window_days": 367}), "window_days"),
            (json!({"actuals_since": "2014-12-31"}), "actuals_since"),
            (json!({"actuals_since": "2026-12-02"}), "actuals_since"),
            (
                json!({"clockify_workspace": "../admin"}),
                "clockify_workspace",
            ),
            (
                json!({"runn_host": {"kind": "custom", "url": "http://runn.acme.example"}}),
                "runn_host",
            ),
        ] {
            let (f, why) = refused(&with_keys(change.clone()), None);
            assert_eq!(f, field, "{change}: {why}");
            assert!(why.ends_with("nothing was saved"), "{why}");
        }
        assert!(merge(&with_keys(json!({"actuals_since": "2015-01-01"})), None).is_ok());
        assert!(merge(&with_keys(json!({"actuals_since": "2026-12-01"})), None).is_ok());
    }
}
