//! Client configuration: Microsoft's endpoints and published limits by default, every one overridable,
//! so the same client talks to Graph, to the simulator or to any Graph-compatible endpoint.

use std::time::Duration;

use crate::GraphError;

pub const MICROSOFT_GRAPH_BASE: &str = "https://graph.microsoft.com";
pub const MICROSOFT_LOGIN_BASE: &str = "https://login.microsoftonline.com";
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

#[derive(Debug, Clone, PartialEq)]
pub struct GraphConfig {
    /// Origin of Graph (no version): `https://graph.microsoft.com`.
    pub graph_base: String,
    /// Origin of the identity platform: `https://login.microsoftonline.com`.
    pub login_base: String,
    /// The client-credentials `scope`; Graph's `/.default` even when talking to a simulator.
    pub scope: String,
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first try, per request and per `$batch` item.
    pub max_retries: u32,
    /// First backoff ceiling; doubles per retry up to `backoff_cap` (full jitter below the ceiling).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A cached token is replaced this long before it expires (at most half its lifetime).
    pub token_refresh_margin: Duration,
    /// Requests in flight per tenant (across apps and clones of the client). Intune states its
    /// limits as rates, not as requests in flight; this only keeps one tenant from holding every
    /// connection. The rates bind first: 1,000 requests per 20 s per service is 50 a second, and a
    /// backup reads from several services at once; at a 150 ms round trip 100 a second need 15
    /// requests in flight (a `$batch` of 20 reads counts 20).
    pub tenant_concurrency: usize,
    /// Writes (POST, PUT, PATCH, DELETE; `$batch` items count one each) per app per tenant per
    /// Intune service per `budget_window`: Intune's 100 (the devices service twice that, see
    /// `services.rs`). Two of our apps in one tenant together stay under the 200 for all apps.
    pub app_writes_per_20s: u32,
    /// All requests per app per tenant per Intune service per `budget_window`: Intune's 1,000.
    pub app_requests_per_20s: u32,
    /// The budget window: Intune states its limits per 20 s.
    pub budget_window: Duration,
    /// Guard against a server that pages forever.
    pub max_pages: u32,
    /// The longest `Retry-After` a request sleeps through. A longer one is returned as the error
    /// (see [`crate::GraphError::must_wait`]) so queued work can give its slot to other tenants.
    pub max_retry_wait: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            graph_base: MICROSOFT_GRAPH_BASE.to_owned(),
            login_base: MICROSOFT_LOGIN_BASE.to_owned(),
            scope: GRAPH_DEFAULT_SCOPE.to_owned(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 6,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(60),
            token_refresh_margin: Duration::from_secs(5 * 60),
            tenant_concurrency: 16,
            app_writes_per_20s: 100,
            app_requests_per_20s: 1000,
            budget_window: Duration::from_secs(20),
            max_pages: 10_000,
            max_retry_wait: Duration::MAX,
        }
    }
}

impl GraphConfig {
    /// Defaults, with `ATLAS_GRAPH_BASE_URL` and `ATLAS_LOGIN_BASE_URL` applied when set.
    pub fn from_env() -> Result<Self, GraphError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads from any lookup, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, GraphError> {
        let mut config = GraphConfig::default();
        let set = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if let Some(v) = set("ATLAS_GRAPH_BASE_URL") {
            config.graph_base = v;
        }
        if let Some(v) = set("ATLAS_LOGIN_BASE_URL") {
            config.login_base = v;
        }
        config.validate()?;
        Ok(config)
    }

    /// The same defaults pointed at one endpoint that serves both Graph and login (the simulator).
    pub fn for_base_url(base_url: &str) -> Self {
        GraphConfig {
            graph_base: base_url.to_owned(),
            login_base: base_url.to_owned(),
            ..GraphConfig::default()
        }
    }

    pub fn validate(&self) -> Result<(), GraphError> {
        for (name, value) in [("graph_base", &self.graph_base), ("login_base", &self.login_base)] {
            let url = reqwest::Url::parse(value)
                .map_err(|e| GraphError::InvalidInput(format!("{name} {value:?} is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(GraphError::InvalidInput(format!(
                    "{name} {value:?} must be an http(s) URL"
                )));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(GraphError::InvalidInput(format!(
                    "{name} {value:?} must not carry a query"
                )));
            }
        }
        if self.tenant_concurrency == 0 {
            return Err(GraphError::InvalidInput("tenant_concurrency must be at least 1".into()));
        }
        if self.app_writes_per_20s == 0 || self.app_requests_per_20s == 0 {
            return Err(GraphError::InvalidInput("request budgets must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_microsofts() {
        let c = GraphConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.graph_base, "https://graph.microsoft.com");
        assert_eq!(c.login_base, "https://login.microsoftonline.com");
        assert_eq!(c.app_requests_per_20s, 1000);
        assert_eq!(c.app_writes_per_20s, 100);
        assert_eq!(c.budget_window, Duration::from_secs(20));
    }

    #[test]
    fn env_overrides_base_urls() {
        let c = GraphConfig::from_lookup(|k| match k {
            "ATLAS_GRAPH_BASE_URL" => Some("http://127.0.0.1:8080".into()),
            "ATLAS_LOGIN_BASE_URL" => Some(" http://127.0.0.1:8081/ ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.graph_base, "http://127.0.0.1:8080");
        assert_eq!(c.login_base, "http://127.0.0.1:8081/");
    }

    #[test]
    fn bad_urls_are_rejected() {
        for bad in ["graph.microsoft.com", "ftp://x", "https://graph.microsoft.com/?a=b"] {
            let r = GraphConfig::from_lookup(|k| (k == "ATLAS_GRAPH_BASE_URL").then(|| bad.to_owned()));
            assert!(matches!(r, Err(GraphError::InvalidInput(_))), "{bad}");
        }
    }
}
