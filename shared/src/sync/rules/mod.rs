//! The rules, pure: data in, a plan out. No client, store or clock is passed in; each
//! file has its own unit tests.

pub mod actuals;
pub mod autofill;
pub mod import;
pub mod links;
pub mod names;
pub mod people_filter;
pub mod reads;
pub mod removal;
#[cfg(test)]
pub(crate) mod testing;
pub mod webhooks;
