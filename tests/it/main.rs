//! One integration-test binary, so the workspace links it once.

mod api;
mod backups;
mod budget;
mod contract;
mod derived;
mod honest_state;
mod identity;
mod inventory;
mod lambda;
mod local;
mod matrix;
mod operations;
mod provider;
mod restore;
mod tenancy;
