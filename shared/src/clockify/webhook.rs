//! Clockify's webhooks on the wire: `WebhookDtoV1` as read, `CreateWebhookRequestV1` as
//! sent (both from the official spec).

use crate::ids::{WebhookId, WorkspaceId};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `WebhookEventType`: the events the integration registers by name, any other as
/// `Other` (the spec's list grows, and a workspace holds the customer's own webhooks too).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    NewTimeEntry,
    TimerStopped,
    TimeEntryUpdated,
    TimeEntryDeleted,
    TimeEntrySplit,
    TimeEntryRestored,
    NewProject,
    NewClient,
    UserJoinedWorkspace,
    Other(String),
}

/// The named events and their wire names, in one table so the two directions agree.
const NAMED: [(WebhookEvent, &str); 9] = [
    (WebhookEvent::NewTimeEntry, "NEW_TIME_ENTRY"),
    (WebhookEvent::TimerStopped, "TIMER_STOPPED"),
    (WebhookEvent::TimeEntryUpdated, "TIME_ENTRY_UPDATED"),
    (WebhookEvent::TimeEntryDeleted, "TIME_ENTRY_DELETED"),
    (WebhookEvent::TimeEntrySplit, "TIME_ENTRY_SPLIT"),
    (WebhookEvent::TimeEntryRestored, "TIME_ENTRY_RESTORED"),
    (WebhookEvent::NewProject, "NEW_PROJECT"),
    (WebhookEvent::NewClient, "NEW_CLIENT"),
    (WebhookEvent::UserJoinedWorkspace, "USER_JOINED_WORKSPACE"),
];

impl WebhookEvent {
    /// The wire name (`NEW_TIME_ENTRY`).
    pub fn as_str(&self) -> &str {
        match self {
            WebhookEvent::Other(s) => s,
            named => NAMED
                .iter()
                .find(|(e, _)| e == named)
                .map(|(_, s)| *s)
                .unwrap_or_default(),
        }
    }

    /// The event of a wire name; one not named here is kept as it came.
    pub fn from_wire(s: &str) -> Self {
        NAMED
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(e, _)| e.clone())
            .unwrap_or_else(|| WebhookEvent::Other(s.to_owned()))
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| WebhookEvent::from_wire(&s))
    }
}

/// `WebhookDtoV1`, the fields we use; others are ignored. The token is what Clockify
/// sends in `Clockify-Signature` with every delivery, so it is kept secret: `{:?}` shows
/// `[REDACTED]` in its place.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: WebhookId,
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    pub webhook_event: WebhookEvent,
    pub auth_token: SecretString,
    // The spec's defaults for the three flags are false.
    #[serde(default)]
    pub enabled: bool,
    /// False once Clockify gave up delivering (too many failures): such a webhook is
    /// re-created.
    #[serde(default)]
    pub delivery_enabled: bool,
    /// False when the workspace's plan does not cover it (over the limit after a downgrade).
    #[serde(default)]
    pub plan_enabled: bool,
}

/// `WebhooksDtoV1`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WebhookList {
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
}

/// `triggerSourceType` of a create: what `triggerSource` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerSourceType {
    ProjectId,
    UserId,
    TagId,
    TaskId,
    WorkspaceId,
    AssignmentId,
    ExpenseId,
}

/// `CreateWebhookRequestV1`: one event per webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewWebhook {
    /// 2 to 30 characters when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: String,
    pub webhook_event: WebhookEvent,
    pub trigger_source_type: TriggerSourceType,
    pub trigger_source: Vec<String>,
}

impl NewWebhook {
    /// A webhook for `event` anywhere in the workspace `ws` (`triggerSourceType:
    /// WORKSPACE_ID`, the workspace as its only source).
    pub fn for_workspace(ws: &WorkspaceId, url: impl Into<String>, event: WebhookEvent) -> Self {
        Self {
            name: None,
            url: url.into(),
            webhook_event: event,
            trigger_source_type: TriggerSourceType::WorkspaceId,
            trigger_source: vec![ws.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn events_round_trip_and_unknown_ones_are_kept() {
        for (e, name) in NAMED.iter() {
            assert_eq!(e.as_str(), *name);
            assert_eq!(&WebhookEvent::from_wire(name), e);
        }
        let e: WebhookEvent = serde_json::from_str("\"EXPENSE_CREATED\"").unwrap();
        assert_eq!(e, WebhookEvent::Other("EXPENSE_CREATED".into()));
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"EXPENSE_CREATED\"");
    }

    #[test]
    fn a_webhook_reads_with_unknown_fields_and_hides_its_token() {
        let w: Webhook = serde_json::from_str(
            r#"{"id":"w1","url":"https://x.example/h","webhookEvent":"NEW_TIME_ENTRY",
                "authToken":"tok-secret-123","enabled":true,"deliveryEnabled":false,
                "planEnabled":true,"userId":"u","workspaceId":"ws","triggerSource":["ws"],
                "triggerSourceType":"WORKSPACE_ID","somethingNew":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(w.webhook_event, WebhookEvent::NewTimeEntry);
        assert!(w.enabled && !w.delivery_enabled && w.plan_enabled);
        assert_eq!(w.name, None);
        assert_eq!(w.auth_token.expose_secret(), "tok-secret-123");
        let shown = format!("{w:?} {w:#?}");
        assert!(!shown.contains("tok-secret-123"), "{shown}");
    }

    #[test]
    fn a_new_webhook_is_the_specs_camel_case_body() {
        let ws = WorkspaceId::new("ws1");
        let body = serde_json::to_value(NewWebhook::for_workspace(
            &ws,
            "https://api.example/webhooks/clockify/acc",
            WebhookEvent::TimerStopped,
        ))
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"url": "https://api.example/webhooks/clockify/acc",
                "webhookEvent": "TIMER_STOPPED", "triggerSourceType": "WORKSPACE_ID",
                "triggerSource": ["ws1"]})
        );
    }
}
