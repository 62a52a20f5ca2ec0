//! Simulators of the Clockify and Runn APIs, faithful to their specs, for the integration
//! tests, the benchmarks and the local demo.

// Handlers return their error answer (an HTTP response) as `Err`, the axum way; the size
// of a response on the rare error path does not matter here.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod bench;
pub mod clockify;
pub mod common;
pub mod contract;
pub mod demo;
pub mod existing;
pub mod gateway;
pub mod generate;
pub mod lambda;
pub mod live;
pub mod poller;
pub mod runn;
pub mod schema;
pub mod testkit;
