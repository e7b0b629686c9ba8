//! The Contacts API library: everything the Lambda binaries and the dev
//! server share. One module per concept.

pub mod app;
pub mod auth;
pub mod company;
pub mod config;
pub mod contact;
pub mod counts;
pub mod cursor;
pub mod dynamodb_http;
pub mod enrich;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod lambda;
pub mod logging;
pub mod routes;
pub mod search;
pub mod store;
pub mod validate;

pub use app::App;
pub use config::Config;
pub use error::ApiError;
pub use routes::{Route, serve};
