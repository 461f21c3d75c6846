//! One integration-test binary, so the workspace links it once.

mod contract;
