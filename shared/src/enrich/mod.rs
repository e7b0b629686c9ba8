//! Scheduled enrichment: finds contacts due for enrichment through a sparse
//! index, asks providers about them, and writes what they found without ever
//! overwriting what a user set. One module per concept.

pub mod builtin;
pub mod config;
pub mod http;
pub mod job;
pub mod lambda;
pub mod plan;
pub mod provider;
pub mod queue;
pub mod report;

pub use config::{EnrichConfig, Enricher};
pub use job::{Job, Limits};
pub use provider::{Change, Lookup, Provider};
pub use report::Summary;
