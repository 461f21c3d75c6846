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
            .with_span_list(true)
            .without_time() // CloudWatch stamps each line
            .try_init()
    } else {
        fmt().with_env_filter(filter).with_target(false).compact().try_init()
    };
}

/// Every log line of the process, kept in memory instead of printed: tests search it to prove
/// that no secret is ever logged.
pub fn init_capturing() -> &'static std::sync::Mutex<Vec<u8>> {
    static BUF: std::sync::OnceLock<std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    let buf = BUF.get_or_init(|| std::sync::Mutex::new(Vec::new()));
    struct Tee;
    impl std::io::Write for Tee {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if let Some(m) = BUF.get()
                && let Ok(mut v) = m.lock()
            {
                v.extend_from_slice(b);
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let filter = EnvFilter::new("info,atlas_app=debug,atlas_store=debug,atlas_graph=debug");
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(|| Tee)
        .with_ansi(false)
        .try_init();
    buf
}

/// A request id worth keeping: up to 64 letters, digits, `-`, `_` or `.` (the router's rule; the
/// support intake checks a caller-given one the same way).
pub fn valid_request_id(v: &str) -> bool {
    (1..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
