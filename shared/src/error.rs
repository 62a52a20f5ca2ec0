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
    /// 401 or 403: the key or token is wrong, revoked, or lacks the scope.
    #[error("{service} rejected the credentials (HTTP {status}) on {request}")]
    CredentialsRejected {
        service: Service,
        request: String,
        status: u16,
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

    /// The caller asked for something the API cannot take (e.g. a bulk call over 100 items).
    #[error("invalid request to {service}: {reason}")]
    Invalid { service: Service, reason: String },
}

impl ApiError {
    pub fn class(&self) -> FailureClass {
        match self {
            ApiError::CredentialsRejected { .. } => FailureClass::CredentialsRejected,
            ApiError::Transient { .. } => FailureClass::Transient,
            ApiError::Rejected { .. } | ApiError::Contract { .. } | ApiError::Invalid { .. } => {
                FailureClass::Permanent
            }
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::CredentialsRejected { status, .. } | ApiError::Rejected { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}
