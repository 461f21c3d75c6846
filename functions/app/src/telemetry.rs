//! Logs: JSON under Lambda (CloudWatch parses it), readable text locally.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber once; later calls are no-ops (tests call it freely).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let under_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let _ = if under_lambda {
        fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .without_time() // CloudWatch stamps each line
            .try_init()
    } else {
        fmt().with_env_filter(filter).with_target(false).compact().try_init()
    };
}
