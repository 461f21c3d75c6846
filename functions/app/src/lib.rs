//! The application: handlers, the route and step registries, errors, configuration and the
//! edges that serve them — one Lambda per route or step, or everything in one local process.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod config;
pub mod consent;
pub mod dashboard;
pub mod directory;
pub mod drift;
pub mod error;
pub mod evidence;
pub mod exceptions;
pub mod extract;
pub mod findings;
pub mod identity;
pub mod inventory;
pub mod lambda;
pub mod lint;
#[cfg(feature = "local")]
pub mod local;
pub mod manifest;
pub mod metering;
pub mod notifications;
pub mod openapi;
pub mod posture;
pub mod promotion;
pub mod provider;
pub mod records;
pub mod registry;
pub mod restore;
pub mod router;
pub mod routes;
pub mod runs;
pub mod scheduler;
pub mod schedules;
pub mod scope;
pub mod secrets;
pub mod state;
pub mod steps;
pub mod support;
pub mod system;
pub mod telemetry;
pub mod tenancy;

pub use config::Config;
pub use error::ApiError;
pub use state::AppState;

/// The build's version, reported by `/api/health` and the OpenAPI document.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
