//! The JSON going in and out: an answer (`Reply`, its status and body, and every error in
//! the shape `{"error": {"code", "message", "field"?}}`), and a request body read into a
//! type, refused by field.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use shared::account::AccountId;
use shared::store::StoreError;

/// An answer: its status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(status: u16, body: Value) -> Self {
        Self { status, body }
    }
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": {"code": code, "message": message.into()}}),
        }
    }
    pub fn field(status: u16, code: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": {"code": code, "field": field, "message": message.into()}}),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::error(400, "bad_request", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::error(503, "unavailable", message)
    }
    pub fn no_account(id: &AccountId) -> Self {
        Self::error(
            404,
            "not_found",
            format!("there is no integration for account {id}"),
        )
    }
    pub fn store_failed(e: StoreError) -> Self {
        tracing::error!(error = %e, "store request failed");
        Self::unavailable("the integration's records could not be reached; try again shortly")
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let json = HeaderValue::from_static("application/json");
        (
            status,
            [(header::CONTENT_TYPE, json)],
            self.body.to_string(),
        )
            .into_response()
    }
}

/// A JSON body into `T`, refusing bad JSON and unknown fields with what serde says (it
/// names the field, never a value of a credential: those are strings, and a string is
/// never quoted back).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    // Serde would also take a struct as an array of its fields in order: the contract
    // says an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(Reply::bad_request("the body must be a JSON object"));
    }
    let mut json = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        // Where the fault is in a field (a bad zone, a wrong type), it is named.
        if field.is_empty() || field == "." {
            Reply::bad_request(format!("the body is not what this request takes: {inner}"))
        } else {
            Reply::field(400, "bad_request", &field, format!("{field}: {inner}"))
        }
    })
}

/// Refuses a body where a request takes none.
pub fn no_body(body: &[u8]) -> Result<(), Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(())
    } else {
        Err(Reply::bad_request("this request takes no body"))
    }
}
