//! Simulators of the Clockify and Runn APIs, faithful to their specs, for the integration
//! tests, the benchmarks and the local demo.

pub mod clockify;
pub mod common;
pub mod generate;
pub mod runn;
pub mod schema;
pub mod testkit;
