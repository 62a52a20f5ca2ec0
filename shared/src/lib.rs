//! The Clockify → Runn integration library: domain types, the two API clients and the
//! one retry/rate-limit mechanism they share. The Lambda functions and the command line
//! are thin layers over this crate.

pub mod aws;
pub mod checks;
pub mod clockify;
pub mod error;
pub mod hosts;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod queue;
pub mod runn;
pub mod signature;
pub mod signing_key;
pub mod status;
pub mod store;
pub mod sync;
pub mod telemetry;

pub use error::{ApiError, FailureClass, Service};
pub use secrecy::{ExposeSecret, SecretString};

/// The account's types where callers have always found them: [`model::account`] and the
/// run records of [`model::run`].
pub mod account {
    pub use crate::model::account::*;
    pub use crate::model::run::*;
}
