//! Every integration test of the workspace, in one test binary: each file was its own
//! binary, and linking the AWS SDK and the simulators into each took most of CI's time.

mod actuals;
mod aws_testbed;
mod cli;
mod clockify_client;
mod credentials;
mod engine;
mod functions;
mod functions_gateway;
mod hardening;
mod import;
mod infra;
mod links;
mod people_filter;
mod pipeline;
mod runn_client;
mod secrets;
mod simulators;
mod webhooks;
