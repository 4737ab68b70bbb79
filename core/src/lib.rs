//! Meridian's pure domain: typed ids, validated names and account rules.
//!
//! Nothing here does I/O: no tokio, no sqlx, no axum, no leptos. The crate builds for
//! `wasm32-unknown-unknown` so the browser runs the very same validators as the server.

pub mod account;
pub mod agent_api;
pub mod api_key;
pub mod backbone;
pub mod bandwidth;
pub mod calendar;
pub mod field;
pub mod form_token;
pub mod host;
pub mod id;
pub mod ipam;
pub mod job;
pub mod map;
pub mod placement;
pub mod pricing;
pub mod residency;
pub mod resource;
pub mod scaling;
pub mod stack;
pub mod staff;
#[cfg(test)]
mod test_rng;
pub mod text;
pub mod throttle;
pub mod view;
pub mod zone;

pub use account::{Email, Password, Role, Signup, TenantName};
pub use field::FieldErrors;
pub use id::{TenantId, UserId};
