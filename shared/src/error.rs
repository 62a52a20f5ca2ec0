//! Errors of the API clients. Each says which service and which request failed, and
//! whether trying again later can help ([`FailureClass`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The remote service a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Service {
    Clockify,
    Runn,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Clockify => "Clockify",
            Service::Runn => "Runn",
        })
    }
}

/// What a caller should do about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureClass {
    /// Worth retrying later: rate limits, 5xx, timeouts, dropped connections.
    Transient,
    /// Retrying the same request will fail the same way.
    Permanent,
    /// The API key or token was rejected: stop and tell the customer.
    CredentialsRejected,
}

/// Runn's documented error body (`BadRequest`, `NotFound`, `Conflict`, `UnprocessableEntity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnErrorBody {
    pub error: String,
    pub message: String,
    pub status_code: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 (or a 403 from the endpoint that identifies the credential): the key or token
    /// is wrong or revoked.
    #[error("{service} rejected the credentials (HTTP {status}) on {request}")]
    CredentialsRejected {
        service: Service,
        request: String,
        status: u16,
    },

    /// 403 from any other endpoint: the credential works, but lacks a permission this
    /// step needs. The step fails; the account stays enabled.
    #[error("{service} denied {request} (HTTP 403): the credential lacks the permission to {permission}{}", if message.is_empty() { String::new() } else { format!(" ({message})") })]
    Forbidden {
        service: Service,
        request: String,
        permission: String,
        message: String,
    },

    /// Any other 4xx: the request itself is wrong and will not succeed on retry.
    #[error("{service} refused {request} with HTTP {status}: {message}")]
    Rejected {
        service: Service,
        request: String,
        status: u16,
        message: String,
        /// Runn's structured error body, when it sent one.
        runn: Option<RunnErrorBody>,
    },

    /// Retries ran out on a failure that may pass (429, 5xx, timeouts, broken bodies).
    #[error("{service} {request} still failing after {attempts} attempts: {reason}")]
    Transient {
        service: Service,
        request: String,
        attempts: u32,
        reason: String,
    },

    /// The service answered 2xx with JSON of an unexpected shape: a contract mismatch.
    #[error("{service} {request} answered with a body that does not match its contract: {reason}")]
    Contract {
        service: Service,
        request: String,
        reason: String,
    },

    /// The caller asked for something the API cannot take (e.g. a bulk call over 100 items),
    /// or a host that failed validation.
    #[error("invalid request to {service}: {reason}")]
    Invalid { service: Service, reason: String },

    /// A write that may or may not have taken effect (its answer was lost: a 5xx, a
    /// timeout, a dropped connection). It is never resent blindly: look the record up.
    #[error("{service} {request} may or may not have taken effect: {reason}")]
    Unclear {
        service: Service,
        request: String,
        reason: String,
    },

    /// The run's time was up before the request could be sent or answered (including a
    /// wait the server asked for that would pass the deadline).
    #[error("the run's time ran out before {service} {request} ({reason})")]
    OutOfTime {
        service: Service,
        request: String,
        reason: String,
    },
}

impl ApiError {
    pub fn class(&self) -> FailureClass {
        match self {
            ApiError::CredentialsRejected { .. } => FailureClass::CredentialsRejected,
            ApiError::Transient { .. } | ApiError::Unclear { .. } | ApiError::OutOfTime { .. } => {
                FailureClass::Transient
            }
            ApiError::Rejected { .. }
            | ApiError::Forbidden { .. }
            | ApiError::Contract { .. }
            | ApiError::Invalid { .. } => FailureClass::Permanent,
        }
    }

    /// A 403 from the endpoint that says who the credential is (`GET /v1/user`,
    /// `GET /me/`) is the credential itself refused.
    pub fn identity_refused(self) -> ApiError {
        match self {
            ApiError::Forbidden {
                service, request, ..
            } => ApiError::CredentialsRejected {
                service,
                request,
                status: 403,
            },
            other => other,
        }
    }

    /// A write whose effect is unknown: look it up before sending it again.
    pub fn is_unclear(&self) -> bool {
        matches!(self, ApiError::Unclear { .. })
    }

    /// The run's deadline stopped the request: end the run cleanly, to be continued.
    pub fn is_out_of_time(&self) -> bool {
        matches!(self, ApiError::OutOfTime { .. })
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::CredentialsRejected { status, .. } | ApiError::Rejected { status, .. } => {
                Some(*status)
            }
            ApiError::Forbidden { .. } => Some(403),
            _ => None,
        }
    }
}
