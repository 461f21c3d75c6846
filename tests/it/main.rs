//! One integration-test binary, so the workspace links it once.

mod api;
mod contract;
mod derived;
mod lambda;
mod local;
