//! The persisted and exchanged types, with no I/O: an account's settings and switches,
//! run records and their reports, the ledger's rows, and the plans the rules make. The
//! store and the sync engine both depend on this module; it depends on neither.

pub mod account;
pub mod ledger;
pub mod links;
pub mod plan;
pub mod report;
pub mod run;
pub mod scope;
pub mod webhooks;
