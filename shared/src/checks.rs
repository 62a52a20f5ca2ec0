//! The checks "Save & Run" makes of what it is given, before anything is saved: each
//! credential is used read-only, within a short deadline (API Gateway allows 30 s in all),
//! and a refusal names the field in words a person understands.

use crate::account::{AccountSettings, PeopleFilter};
use crate::clockify::{ClockifyClient, ClockifyHost, WorkspaceRole};
use crate::error::{ApiError, FailureClass};
use crate::hosts::{check_resolved, HostPolicy, Resolver};
use crate::ids::WorkspaceId;
use crate::runn::RunnClient;
use crate::runn::RunnHost;
use crate::sync::rules::people_filter::missing_groups;
use futures::StreamExt;
use url::Url;

/// A check's answer when it cannot let the request through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// What was given is wrong: nothing is saved, and the message names the field.
    #[error("{field}: {message}")]
    Refused {
        field: &'static str,
        message: String,
    },
    /// The service could not be asked in time; nothing is saved, and trying again may pass.
    #[error("{message}")]
    Unavailable { message: String },
}

/// How a failed request of a check reads: a rejected credential names the credential, a
/// service that answers but not as it should names the host, anything else may pass.
fn refusal(
    e: ApiError,
    service: &str,
    credential: (&'static str, &str),
    host_field: &'static str,
) -> CheckError {
    if let ApiError::Forbidden { permission, .. } = &e {
        return CheckError::Refused {
            field: credential.0,
            message: format!(
                "the {} works, but {service} does not let it {permission} (HTTP 403); give it that permission",
                credential.1
            ),
        };
    }
    match e.class() {
        FailureClass::CredentialsRejected => CheckError::Refused {
            field: credential.0,
            message: format!("the {} was rejected by {service}", credential.1),
        },
        FailureClass::Transient => CheckError::Unavailable {
            message: format!(
                "{service} could not be reached in time to check the {}; nothing was saved, try again",
                credential.1
            ),
        },
        FailureClass::Permanent => CheckError::Refused {
            field: host_field,
            message: format!(
                "{service} at this address did not answer as {service} does ({e}); check the address"
            ),
        },
    }
}

/// Resolves and checks every host the settings name (whether or not its credential is in
/// the request), within `by`: a name that points at a loopback, private or metadata
/// address is refused naming its field. The fixed hosts (Runn's EU and US, Clockify's
/// own) are ours and not looked up.
pub async fn check_hosts(
    settings: &AccountSettings,
    policy: HostPolicy,
    resolver: &dyn Resolver,
    by: tokio::time::Instant,
) -> Result<(), CheckError> {
    let mut named: Vec<(&'static str, Url)> = vec![];
    if let RunnHost::Custom { url } = &settings.runn_host {
        named.push(("runn_host", url.clone()));
    }
    if let ClockifyHost::Server { .. } = &settings.clockify_host {
        for u in [
            settings.clockify_host.api_base(),
            settings.clockify_host.reports_base(),
        ]
        .into_iter()
        .flatten()
        {
            named.push(("clockify_host", u));
        }
    }
    if let Some(u) = &settings.clockify_reports_url {
        named.push(("clockify_reports_url", u.clone()));
    }
    for (field, url) in named {
        let checked = tokio::time::timeout_at(by, check_resolved(&url, policy, resolver)).await;
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(CheckError::Refused {
                    field,
                    message: format!("the address {e}"),
                })
            }
            Err(_) => {
                return Err(CheckError::Unavailable {
                    message: format!("the host of {field} could not be looked up in time; nothing was saved, try again"),
                })
            }
        }
    }
    Ok(())
}

const CLOCKIFY_KEY: (&str, &str) = ("clockify_api_key", "Clockify API key");
const RUNN_TOKEN: (&str, &str) = ("runn_token", "Runn API token");

/// Checks a Clockify key against its workspace: the key's own user, the workspace among
/// theirs, and whether they are an admin or owner of it. `Ok(Some(warning))` when they are
/// not: the key still works, but Clockify shows it only that user's own time.
pub async fn check_clockify(
    clockify: &ClockifyClient,
    workspace: &WorkspaceId,
) -> Result<Option<String>, CheckError> {
    let fail = |e| refusal(e, "Clockify", CLOCKIFY_KEY, "clockify_host");
    let user = clockify.current_user().await.map_err(fail)?;
    let all = clockify.workspaces().await.map_err(fail)?;
    if !all.iter().any(|w| &w.id == workspace) {
        return Err(CheckError::Refused {
            field: "clockify_workspace",
            message: format!(
                "the Clockify workspace {workspace} is not one the API key's user belongs to"
            ),
        });
    }
    for role in [WorkspaceRole::Admin, WorkspaceRole::Owner] {
        let with_role = clockify.workspaces_with_role(role).await.map_err(fail)?;
        if with_role.iter().any(|w| &w.id == workspace) {
            return Ok(None);
        }
    }
    let who = if user.name.trim().is_empty() {
        "its user".to_owned()
    } else {
        crate::model::report::clip(user.name.trim(), 120)
    };
    Ok(Some(format!(
        "the Clockify API key belongs to {who}, who is not an admin or owner of the workspace: \
         only {who}'s own time will be visible to the import. Use an admin's key to import everyone's time."
    )))
}

/// Refuses a people filter that names a user group the workspace does not have: the
/// groups are read with the key being checked (and within its deadline).
pub async fn check_people_filter(
    clockify: &ClockifyClient,
    workspace: &WorkspaceId,
    filter: &PeopleFilter,
) -> Result<(), CheckError> {
    if filter.include_groups.is_empty() {
        return Ok(());
    }
    let fail = |e| refusal(e, "Clockify", CLOCKIFY_KEY, "clockify_host");
    let groups = crate::sync::all(clockify.user_groups(workspace))
        .await
        .map_err(fail)?;
    let missing = missing_groups(filter, &groups);
    if missing.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 10;
    let mut list = missing
        .iter()
        .take(SHOWN)
        .map(|g| crate::model::report::clip(g.as_str(), 80))
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > SHOWN {
        list.push_str(&format!(" and {} more", missing.len() - SHOWN));
    }
    Err(CheckError::Refused {
        field: "people_filter",
        message: format!(
            "the Clockify workspace {workspace} has no user group {list}; include only groups it has"
        ),
    })
}

/// Checks a Runn token: who it is (`GET /me/`) and a read the import needs (people).
pub async fn check_runn(runn: &RunnClient) -> Result<(), CheckError> {
    let fail = |e| refusal(e, "Runn", RUNN_TOKEN, "runn_host");
    runn.me().await.map_err(fail)?;
    let mut people = runn.people(&crate::runn::PeopleFilter::default());
    if let Some(Err(e)) = people.next().await {
        return Err(fail(e));
    }
    Ok(())
}

/// Refuses to turn actuals on while linked people are still on "Unknown": their time
/// would be skipped (the help article's "fix all unknown roles").
pub async fn unknown_role_gate(runn: &RunnClient) -> Result<(), CheckError> {
    let names = crate::sync::gather::people_on_unknown_role(runn)
        .await
        .map_err(|e| refusal(e, "Runn", RUNN_TOKEN, "runn_host"))?;
    match unknown_role_refusal(&names) {
        Some(message) => Err(CheckError::Refused {
            field: "switches.actuals",
            message,
        }),
        None => Ok(()),
    }
}

/// The gate's message for the people on "Unknown", if any.
pub fn unknown_role_refusal(names: &[String]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    const SHOWN: usize = 20;
    let mut list = names
        .iter()
        .take(SHOWN)
        .map(|n| crate::model::report::clip(n, 120))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    Some(format!(
        "actuals cannot be turned on while {} linked {} still on the \"Unknown\" role in Runn: {list}. \
         Give them their roles in Runn first",
        names.len(),
        if names.len() == 1 { "person is" } else { "people are" },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Service;

    #[test]
    fn a_rejected_key_is_named_in_words_not_a_status_code() {
        let e = ApiError::CredentialsRejected {
            service: Service::Clockify,
            request: "GET /v1/user".into(),
            status: 401,
        };
        let r = refusal(e, "Clockify", CLOCKIFY_KEY, "clockify_host");
        assert_eq!(
            r,
            CheckError::Refused {
                field: "clockify_api_key",
                message: "the Clockify API key was rejected by Clockify".into()
            }
        );
    }

    #[test]
    fn the_gate_names_people_and_stops_at_twenty() {
        assert_eq!(unknown_role_refusal(&[]), None);
        let one = unknown_role_refusal(&["Ann Lee".into()]).unwrap();
        assert!(
            one.contains("1 linked person is") && one.contains("Ann Lee"),
            "{one}"
        );
        let many: Vec<String> = (0..25).map(|i| format!("P{i}")).collect();
        let msg = unknown_role_refusal(&many).unwrap();
        assert!(
            msg.contains("25 linked people are") && msg.contains("and 5 more"),
            "{msg}"
        );
        assert!(!msg.contains("P24"), "{msg}");
    }
}
