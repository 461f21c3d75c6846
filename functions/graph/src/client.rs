//! The client: one pooled `reqwest::Client`, a token cache, per-tenant limits, and the request loop
//! (budget → token → concurrency permit → send → classify → retry).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::budget::Budget;
use crate::credential::{AppIdentity, Credential};
use crate::error::{AuthError, GraphError, ResponseError, parse_error_value, parse_token_error};
use crate::retry::{full_jitter, is_repeatable, is_retryable_status, parse_retry_after};
use crate::token::{AccessToken, parse_expires_in};
use crate::{GraphConfig, new_guid};

const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const APPROVAL_CODE_HEADER: &str = "x-msft-approval-code";

/// Shared by every clone: build one per process.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: GraphConfig,
    graph_base: Url,
    login_base: String,
    tokens: Mutex<HashMap<(String, String), TokenSlot>>,
    tenants: Mutex<HashMap<String, Arc<TenantState>>>,
    writes: Budget,
    requests: Budget,
    /// The tenant write budget shared with other processes, where there are several.
    shared_writes: Option<Arc<dyn crate::budget::SharedBudget>>,
    counters: Counters,
}

/// What this process sent to Graph, for operators' figures and benchmarks; token requests are not
/// Graph requests and are not counted.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    batch_items: AtomicU64,
    throttled: AtomicU64,
    server_errors: AtomicU64,
}

/// A snapshot of [`GraphClient::counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphCounters {
    /// HTTP requests sent to Graph, retries included; a `$batch` is one.
    pub sent: u64,
    /// Requests sent inside those `$batch` calls.
    pub batch_items: u64,
    /// Answers 429, to requests or batch items.
    pub throttled: u64,
    /// Answers 5xx, to requests or batch items.
    pub server_errors: u64,
}

type TokenSlot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

struct TenantState {
    permits: Semaphore,
    /// Set by a 429: every request to the tenant waits, not only the one that was throttled.
    paused_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl GraphClient {
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        Self::with_shared_writes(config, None)
    }

    /// A client whose per-tenant write budget is also taken from `shared`, so processes writing
    /// to one tenant side by side stay under its ceiling together.
    pub fn with_shared_writes(
        config: GraphConfig,
        shared: Option<Arc<dyn crate::budget::SharedBudget>>,
    ) -> Result<Self, GraphError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("TenantAtlas/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::InvalidInput(format!("HTTP client: {e}")))?;
        let graph_base = Url::parse(config.graph_base.trim_end_matches('/'))
            .map_err(|e| GraphError::InvalidInput(format!("graph_base: {e}")))?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                login_base: config.login_base.trim_end_matches('/').to_owned(),
                graph_base,
                writes: Budget::new(local_window(config.budget_window)),
                requests: Budget::new(local_window(config.budget_window)),
                tokens: Mutex::new(HashMap::new()),
                tenants: Mutex::new(HashMap::new()),
                counters: Counters::default(),
                shared_writes: shared,
                config,
            }),
        })
    }

    pub fn config(&self) -> &GraphConfig {
        &self.inner.config
    }

    pub(crate) fn count_answer(&self, status: u16) {
        let c = &self.inner.counters;
        match status {
            429 => c.throttled.fetch_add(1, Ordering::Relaxed),
            500.. => c.server_errors.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    pub(crate) fn count_batch_items(&self, n: usize) {
        self.inner.counters.batch_items.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn counters(&self) -> GraphCounters {
        let c = &self.inner.counters;
        GraphCounters {
            sent: c.sent.load(Ordering::Relaxed),
            batch_items: c.batch_items.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
        }
    }

    /// A handle for one tenant as one app. Cheap; handles for the same tenant share its limits,
    /// and handles for the same tenant and app share the cached token.
    pub fn tenant(&self, tenant_id: &str, app: AppIdentity) -> TenantClient {
        let tenant_key = tenant_id.trim().to_ascii_lowercase();
        let state = lock(&self.inner.tenants)
            .entry(tenant_key.clone())
            .or_insert_with(|| {
                Arc::new(TenantState {
                    permits: Semaphore::new(self.inner.config.tenant_concurrency),
                    paused_until: Mutex::new(None),
                })
            })
            .clone();
        let token_slot = lock(&self.inner.tokens)
            .entry((tenant_key.clone(), app.client_id.clone()))
            .or_default()
            .clone();
        TenantClient {
            app_key: format!("{tenant_key}|{}", app.client_id),
            tenant_id: tenant_id.trim().to_owned(),
            client: self.clone(),
            app: Arc::new(app),
            state,
            token_slot,
        }
    }
}

/// Our windows are 1/64 longer than Graph's (about 0.3 s of 20 s): we stamp a request when we send
/// it, Graph counts it when it arrives, and a request can arrive later than the next one sent
/// after its slot frees. Without the margin the first requests after a window slides land inside
/// Graph's window, and with 16 in flight every one of them answers 429.
fn local_window(window: Duration) -> Duration {
    window + window / 64
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One request to Graph, for [`TenantClient::send`].
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: Method,
    /// `/beta/deviceManagement/…` (under the configured base) or a full URL under it.
    pub path: String,
    pub body: Option<Value>,
    /// Extra headers, e.g. `ConsistencyLevel`, `x-msft-approval-justification`, or an `Accept` with
    /// `odata.metadata=full`.
    pub headers: Vec<(String, String)>,
}

impl GraphRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        GraphRequest {
            method,
            path: path.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body; `Null` for an empty body (204).
    pub body: Value,
    pub request_id: Option<String>,
    pub client_request_id: String,
}

/// A request ready to go out, with what it costs against the budgets.
pub(crate) struct Prepared<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a Value>,
    pub headers: &'a [(String, String)],
    /// Safe to send again after a 5xx or a timeout.
    pub repeatable: bool,
    /// What it takes from each Intune service's allowance (a `$batch` one unit per item, by the
    /// service of each item's URL; its envelope nothing).
    pub costs: Vec<Cost>,
}

/// Units one request takes from one service's allowance.
pub(crate) struct Cost {
    pub service: crate::services::Service,
    pub requests: u32,
    pub writes: u32,
}

impl Cost {
    /// One request to `path`.
    pub fn one(path: &str, method: &Method) -> Vec<Cost> {
        vec![Cost {
            service: crate::services::service_of(path),
            requests: 1,
            writes: u32::from(*method != Method::GET && *method != Method::HEAD),
        }]
    }
}

/// Graph for one tenant, as one app.
#[derive(Clone)]
pub struct TenantClient {
    pub(crate) client: GraphClient,
    tenant_id: String,
    /// `tenant|client id`: with a service name, the key of this app's allowance there.
    app_key: String,
    app: Arc<AppIdentity>,
    state: Arc<TenantState>,
    token_slot: TokenSlot,
}

impl std::fmt::Debug for TenantClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantClient")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.app.client_id)
            .finish()
    }
}

impl TenantClient {
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn client_id(&self) -> &str {
        &self.app.client_id
    }

    pub(crate) fn config(&self) -> &GraphConfig {
        &self.client.inner.config
    }

    /// A valid token for this tenant and app: from the cache while it has more than the refresh
    /// margin left, otherwise fetched once (concurrent callers wait for the same fetch).
    pub async fn token(&self) -> Result<AccessToken, GraphError> {
        let mut slot = self.token_slot.lock().await;
        if let Some(token) = slot.as_ref()
            && token.is_fresh(Instant::now(), self.config().token_refresh_margin)
        {
            return Ok(token.clone());
        }
        let token = self.fetch_token().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// A token fetched now, replacing the cached one: what the tenant grants at this moment (a
    /// cached token keeps the roles it was issued with, as Entra's do).
    pub async fn fresh_token(&self) -> Result<AccessToken, GraphError> {
        let mut slot = self.token_slot.lock().await;
        let token = self.fetch_token().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Drops `stale` from the cache unless another task has already replaced it.
    async fn forget_token(&self, stale: &AccessToken) {
        let mut slot = self.token_slot.lock().await;
        if slot.as_ref().is_some_and(|t| t.bearer() == stale.bearer()) {
            *slot = None;
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, GraphError> {
        if self.tenant_id.is_empty()
            || !self
                .tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(GraphError::InvalidInput(format!(
                "tenant id {:?} is not a GUID or domain",
                self.tenant_id
            )));
        }
        let config = self.config();
        let path = format!("/{}/oauth2/v2.0/token", self.tenant_id);
        let url = format!("{}{path}", self.client.inner.login_base);
        let mut retry = 0;
        loop {
            let mut form: Vec<(&str, String)> = vec![
                ("client_id", self.app.client_id.clone()),
                ("scope", config.scope.clone()),
                ("grant_type", "client_credentials".to_owned()),
            ];
            match &self.app.credential {
                Credential::Secret(secret) => form.push(("client_secret", secret.expose().to_owned())),
                Credential::Certificate(cert) => {
                    form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()));
                    form.push(("client_assertion", cert.client_assertion(&self.app.client_id, &url)?));
                }
            }
            let requested_at = Instant::now();
            let sent = self
                .client
                .inner
                .http
                .post(&url)
                .header(ACCEPT, "application/json")
                .form(&form)
                .send()
                .await;
            let (status, headers, bytes) = match read(sent).await {
                Ok(parts) => parts,
                Err(e) => {
                    if retry < config.max_retries {
                        let delay = full_jitter(retry, config.backoff_base, config.backoff_cap);
                        warn!(tenant = %self.tenant_id, error = %e, retry, "token request failed; retrying");
                        tokio::time::sleep(delay).await;
                        retry += 1;
                        continue;
                    }
                    return Err(transport_error(e, "POST", &path, config.timeout));
                }
            };
            if (200..300).contains(&status) {
                let body: Value = serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode {
                    path: path.clone(),
                    message: format!("token response is not JSON: {e}"),
                })?;
                let bearer = body
                    .get("access_token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| GraphError::Decode {
                        path: path.clone(),
                        message: "token response has no access_token".into(),
                    })?;
                let lifetime = parse_expires_in(body.get("expires_in")).unwrap_or(Duration::from_secs(300));
                let token = AccessToken::new(bearer.to_owned(), requested_at, lifetime);
                info!(tenant = %self.tenant_id, client_id = %self.app.client_id, expires_in_s = lifetime.as_secs(),
                    roles = token.roles.len(), "access token acquired");
                return Ok(token);
            }
            let retry_after = retry_after(&headers);
            if is_retryable_status(status, true) && retry < config.max_retries {
                let delay = retry_after.unwrap_or_else(|| full_jitter(retry, config.backoff_base, config.backoff_cap));
                warn!(tenant = %self.tenant_id, status, retry, delay_ms = delay.as_millis() as u64, "token endpoint busy; retrying");
                tokio::time::sleep(delay).await;
                retry += 1;
                continue;
            }
            if !(400..500).contains(&status) {
                let body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
                let meta = ResponseMeta {
                    retry_after,
                    ..ResponseMeta::default()
                };
                return Err(status_error("POST", &path, status, &meta, &body, &bytes));
            }
            let err = parse_token_error(&bytes);
            warn!(tenant = %self.tenant_id, client_id = %self.app.client_id, status,
                code = err.code.as_deref().unwrap_or(""), "token request refused");
            return Err(GraphError::Auth(Box::new(AuthError {
                tenant: self.tenant_id.clone(),
                status,
                code: err.code.unwrap_or_else(|| format!("http_{status}")),
                description: err.description.unwrap_or_default(),
                error_codes: err.error_codes,
                correlation_id: err.correlation_id,
            })));
        }
    }

    /// Sends one request with retries, budgets and the tenant's concurrency limit.
    pub async fn send(&self, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        let url = self.resolve(&request.path)?;
        self.execute(Prepared {
            repeatable: is_repeatable(&request.method),
            costs: Cost::one(url.path(), &request.method),
            method: request.method,
            url,
            body: request.body.as_ref(),
            headers: &request.headers,
        })
        .await
    }

    /// GET one resource.
    pub async fn get(&self, path: &str) -> Result<Value, GraphError> {
        Ok(self.send(GraphRequest::get(path)).await?.body)
    }

    /// POST (create or action); `Null` when the response has no body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, GraphError> {
        Ok(self
            .send(GraphRequest::new(Method::POST, path).body(body.clone()))
            .await?
            .body)
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, GraphError> {
        Ok(self
            .send(GraphRequest::new(Method::PATCH, path).body(body.clone()))
            .await?
            .body)
    }

    /// PUT a full body (the settings catalog's update).
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, GraphError> {
        Ok(self
            .send(GraphRequest::new(Method::PUT, path).body(body.clone()))
            .await?
            .body)
    }

    pub async fn delete(&self, path: &str) -> Result<(), GraphError> {
        self.send(GraphRequest::new(Method::DELETE, path)).await.map(|_| ())
    }

    /// Every item of a collection, following `@odata.nextLink` to the end. Any failure after the first
    /// page, a page without `value`, a foreign or repeating nextLink, or fewer items than the first
    /// page's `@odata.count` is [`GraphError::Incomplete`]: never a shorter list.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        let mut pages = self.list_pages(path)?;
        let mut items = Vec::new();
        while let Some(page) = pages.next_page().await? {
            items.extend(page);
        }
        Ok(items)
    }

    /// [`TenantClient::list_all`] a page at a time, so a caller can work on a page while the next
    /// is read. The same checks: the last page is returned only after them.
    pub(crate) fn list_pages(&self, path: &str) -> Result<ListPages<'_>, GraphError> {
        Ok(ListPages {
            client: self,
            path: path.to_owned(),
            next: Some(self.resolve(path)?),
            pages: 0,
            items: 0,
            expected: None,
            seen: HashSet::new(),
        })
    }

    /// `path` (`/beta/…`) under the Graph base, or a full URL that is already under it.
    pub(crate) fn resolve(&self, path: &str) -> Result<Url, GraphError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            return self
                .resolve_next_link(path)
                .map_err(|reason| GraphError::InvalidInput(format!("{path:?}: {reason}")));
        }
        if !path.starts_with('/') {
            return Err(GraphError::InvalidInput(format!(
                "{path:?} must start with /v1.0/ or /beta/"
            )));
        }
        let base = self.client.inner.graph_base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).map_err(|e| GraphError::InvalidInput(format!("{path:?}: {e}")))
    }

    /// A nextLink is followed only under our own base: the bearer token never goes anywhere else.
    pub(crate) fn resolve_next_link(&self, link: &str) -> Result<Url, String> {
        let base = &self.client.inner.graph_base;
        let url = if link.starts_with('/') {
            Url::parse(&format!("{}{link}", base.as_str().trim_end_matches('/')))
        } else {
            Url::parse(link)
        }
        .map_err(|e| format!("nextLink is not a URL: {e}"))?;
        let prefix = base.path().trim_end_matches('/');
        if url.origin() != base.origin() || !url.path().starts_with(prefix) {
            return Err(format!("nextLink leaves {}", base.as_str().trim_end_matches('/')));
        }
        Ok(url)
    }

    /// The path part of the Graph base (empty for Microsoft's).
    pub(crate) fn graph_base_path(&self) -> &str {
        self.client.inner.graph_base.path().trim_end_matches('/')
    }

    /// Path and query, for logs and errors.
    pub(crate) fn display_path(url: &Url) -> String {
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Sleeps while the tenant is paused by a 429; a pause longer than `max_retry_wait` is
    /// returned instead (the remaining wait).
    async fn wait_while_paused(&self) -> Result<(), Duration> {
        loop {
            let until = *lock(&self.state.paused_until);
            match until.map(|u| u.saturating_duration_since(Instant::now())) {
                Some(wait) if wait > self.client.inner.config.max_retry_wait => return Err(wait),
                Some(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
                _ => return Ok(()),
            }
        }
    }

    pub(crate) fn pause_tenant(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = lock(&self.state.paused_until);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// The request loop. Transport errors are retried when the request is repeatable (or never
    /// reached the server); 429/503 wait for `Retry-After` when given; a 401 refreshes the token once.
    pub(crate) async fn execute(&self, req: Prepared<'_>) -> Result<GraphResponse, GraphError> {
        let inner = &self.client.inner;
        let config = &inner.config;
        let path = Self::display_path(&req.url);
        let method = req.method.as_str().to_owned();
        let span = info_span!("graph", tenant = %self.tenant_id, method = %method, path = %path);
        async {
            let mut retry = 0u32;
            let mut reauthenticated = false;
            loop {
                if let Err(wait) = self.wait_while_paused().await {
                    return Err(GraphError::Throttled(Box::new(ResponseError {
                        method: method.clone(),
                        path: path.clone(),
                        status: 429,
                        code: "TooManyRequests".into(),
                        message: "the tenant is throttled; not sent".into(),
                        request_id: None,
                        client_request_id: None,
                        retry_after: Some(wait),
                        approval_code: None,
                    })));
                }
                let token = self.token().await?;
                let client_request_id = new_guid();
                let (started, outcome) = {
                    // The permit first, then the budget: the budget's log then records when the
                    // request is actually sent, not when it began waiting for a free connection,
                    // so many requests queued at the permit cannot bunch up past the ceiling.
                    let _permit = self.state.permits.acquire().await.map_err(|_| GraphError::InvalidInput("client closed".into()))?;
                    for cost in &req.costs {
                        let key = crate::budget::service_key(&self.app_key, &cost.service.name);
                        let limit = config.app_requests_per_20s * cost.service.scale;
                        inner.requests.acquire(&key, cost.requests, limit).await;
                        if cost.writes > 0 {
                            let limit = config.app_writes_per_20s * cost.service.scale;
                            inner.writes.acquire(&key, cost.writes, limit).await;
                            if let Some(shared) = &inner.shared_writes {
                                let window = config.budget_window;
                                crate::budget::take_shared(shared.as_ref(), &key, cost.writes, limit, window).await;
                            }
                        }
                    }
                    let started = Instant::now();
                    let mut builder = inner
                        .http
                        .request(req.method.clone(), req.url.clone())
                        .bearer_auth(token.bearer())
                        .header("client-request-id", &client_request_id)
                        .header("return-client-request-id", "true");
                    if !req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
                        builder = builder.header(ACCEPT, "application/json");
                    }
                    if let Some(body) = req.body {
                        builder = builder.header(CONTENT_TYPE, "application/json").json(body);
                    }
                    for (name, value) in req.headers {
                        builder = builder.header(name.as_str(), value.as_str());
                    }
                    inner.counters.sent.fetch_add(1, Ordering::Relaxed);
                    (started, read(builder.send().await).await)
                };
                let elapsed_ms = started.elapsed().as_millis() as u64;
                let (status, headers, bytes) = match outcome {
                    Ok(parts) => parts,
                    Err(e) if e.is_builder() => {
                        return Err(GraphError::InvalidInput(format!("{method} {path}: {e}")));
                    }
                    Err(e) => {
                        if (e.is_connect() || req.repeatable) && retry < config.max_retries {
                            let delay = full_jitter(retry, config.backoff_base, config.backoff_cap);
                            warn!(%client_request_id, error = %e, timeout = e.is_timeout(), retry, elapsed_ms,
                                delay_ms = delay.as_millis() as u64, "transport error; retrying");
                            tokio::time::sleep(delay).await;
                            retry += 1;
                            continue;
                        }
                        warn!(%client_request_id, error = %e, timeout = e.is_timeout(), retry, elapsed_ms, "transport error");
                        return Err(transport_error(e, &method, &path, config.timeout));
                    }
                };
                let request_id = header(&headers, "request-id");
                self.client.count_answer(status);
                if (200..300).contains(&status) {
                    debug!(status, request_id = request_id.as_deref().unwrap_or(""), %client_request_id, elapsed_ms, "ok");
                    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                        Value::Null
                    } else {
                        serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode {
                            path: path.clone(),
                            message: format!("{status} body is not JSON: {e}"),
                        })?
                    };
                    return Ok(GraphResponse {
                        status,
                        headers,
                        body,
                        request_id,
                        client_request_id,
                    });
                }
                if status == 401 && !reauthenticated {
                    // Graph rejected a token we thought valid (revoked, clock skew): fetch a new one once.
                    info!(status, request_id = request_id.as_deref().unwrap_or(""), %client_request_id, "401; refreshing the token");
                    self.forget_token(&token).await;
                    reauthenticated = true;
                    continue;
                }
                let retry_after = retry_after(&headers);
                // A Retry-After longer than the caller sits through ends the request with it.
                let too_long = retry_after.is_some_and(|d| d > config.max_retry_wait);
                if is_retryable_status(status, req.repeatable) && retry < config.max_retries && !too_long {
                    let delay = retry_after.unwrap_or_else(|| full_jitter(retry, config.backoff_base, config.backoff_cap));
                    if status == 429 {
                        self.pause_tenant(delay);
                    }
                    warn!(status, request_id = request_id.as_deref().unwrap_or(""), %client_request_id, retry,
                        delay_ms = delay.as_millis() as u64, retry_after = retry_after.is_some(), "retrying");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                    continue;
                }
                if let (true, 429, Some(d)) = (too_long, status, retry_after) {
                    self.pause_tenant(d);
                }
                let body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
                let err = status_error(
                    &method,
                    &path,
                    status,
                    &ResponseMeta {
                        request_id,
                        client_request_id: Some(client_request_id),
                        approval_code: header(&headers, APPROVAL_CODE_HEADER),
                        retry_after,
                    },
                    &body,
                    &bytes,
                );
                warn!(status, code = err.code().unwrap_or(""), request_id = err.request_id().unwrap_or(""),
                    client_request_id = err.client_request_id().unwrap_or(""), retry, "request failed");
                return Err(err);
            }
        }
        .instrument(span)
        .await
    }
}

/// A collection read page by page ([`TenantClient::list_pages`]).
pub(crate) struct ListPages<'a> {
    client: &'a TenantClient,
    path: String,
    next: Option<Url>,
    pages: u32,
    items: usize,
    expected: Option<u64>,
    seen: HashSet<String>,
}

impl ListPages<'_> {
    fn incomplete(&self, reason: String, source: Option<GraphError>) -> GraphError {
        GraphError::Incomplete {
            path: self.path.clone(),
            pages_read: self.pages,
            items_read: self.items,
            reason,
            source: source.map(Box::new),
        }
    }

    /// The next page's items; `None` after the last. An error ends the list (never a shorter one).
    pub(crate) async fn next_page(&mut self) -> Result<Option<Vec<Value>>, GraphError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let max_pages = self.client.config().max_pages;
        if self.pages >= max_pages {
            return Err(self.incomplete(format!("stopped after {max_pages} pages"), None));
        }
        let response = self
            .client
            .execute(Prepared {
                method: Method::GET,
                costs: Cost::one(url.path(), &Method::GET),
                url,
                body: None,
                headers: &[],
                repeatable: true,
            })
            .await;
        let body = match response {
            Ok(r) => r.body,
            Err(e) if self.pages == 0 => return Err(e),
            Err(e) => return Err(self.incomplete(format!("page {} failed", self.pages + 1), Some(e))),
        };
        let Value::Object(mut page) = body else {
            return Err(self.incomplete(format!("page {} is not a JSON object", self.pages + 1), None));
        };
        let Some(Value::Array(values)) = page.remove("value") else {
            return Err(self.incomplete(format!("page {} has no value array", self.pages + 1), None));
        };
        if self.pages == 0 {
            self.expected = page.get("@odata.count").and_then(Value::as_u64);
        }
        self.pages += 1;
        self.items += values.len();
        self.next = match page.remove("@odata.nextLink") {
            None | Some(Value::Null) => None,
            Some(Value::String(link)) => {
                let url = self
                    .client
                    .resolve_next_link(&link)
                    .map_err(|reason| self.incomplete(reason, None))?;
                if !self.seen.insert(url.to_string()) {
                    return Err(self.incomplete("nextLink repeats an earlier page".into(), None));
                }
                Some(url)
            }
            Some(_) => return Err(self.incomplete("nextLink is not a string".into(), None)),
        };
        if self.next.is_none() {
            if let Some(expected) = self.expected
                && (self.items as u64) < expected
            {
                let reason = format!("@odata.count is {expected} but the pages held {}", self.items);
                return Err(self.incomplete(reason, None));
            }
            debug!(tenant = %self.client.tenant_id, path = %self.path, pages = self.pages, items = self.items, "list read to the end");
        }
        Ok(Some(values))
    }
}

async fn read(sent: Result<reqwest::Response, reqwest::Error>) -> Result<(u16, HeaderMap, Vec<u8>), reqwest::Error> {
    let response = sent?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    Ok((status, headers, bytes.to_vec()))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

fn transport_error(e: reqwest::Error, method: &str, path: &str, timeout: Duration) -> GraphError {
    if e.is_timeout() {
        GraphError::Timeout {
            method: method.to_owned(),
            path: path.to_owned(),
            timeout,
        }
    } else {
        // The chain holds the useful part ("connection refused", "connection reset").
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        GraphError::Network {
            method: method.to_owned(),
            path: path.to_owned(),
            message,
        }
    }
}

/// What a response (or a `$batch` item) carried besides its body.
#[derive(Debug, Default, Clone)]
pub(crate) struct ResponseMeta {
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    pub approval_code: Option<String>,
    pub retry_after: Option<Duration>,
}

/// The typed error for a non-success status.
pub(crate) fn status_error(
    method: &str,
    path: &str,
    status: u16,
    meta: &ResponseMeta,
    body: &Value,
    raw: &[u8],
) -> GraphError {
    let parsed = parse_error_value(body);
    let request_id = meta.request_id.clone().or(parsed.request_id);
    let client_request_id = meta.client_request_id.clone().or(parsed.client_request_id);
    let message = parsed.message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(raw);
        text.chars().take(200).collect()
    });
    let is_approval = parsed.code.as_deref() == Some("ApprovalRequired") || meta.approval_code.is_some();
    let details = Box::new(ResponseError {
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        code: parsed.code.unwrap_or_else(|| format!("http_{status}")),
        message,
        request_id,
        client_request_id,
        retry_after: meta.retry_after,
        approval_code: meta.approval_code.clone(),
    });
    if status == 429 {
        GraphError::Throttled(details)
    } else if is_approval {
        GraphError::ApprovalRequired(details)
    } else {
        GraphError::Http(details)
    }
}
