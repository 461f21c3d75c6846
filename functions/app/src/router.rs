//! Builds the axum router for a set of registry routes: every route locally, one route per
//! Lambda. Both get the same request ids, tracing and problem rendering.

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, ProblemExt};
use crate::registry::Route;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest path and query answered; longer ones get 414 before any handler runs.
pub const URI_LIMIT: usize = 8 * 1024;

/// The web app's policy: its own scripts and the WASM they compile, its own stylesheet (the one
/// dynamic width is a class, not a `style` attribute), calls to its own origin only, never framed.
/// The API sends the same: a JSON or problem body rendered as a document runs nothing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Clone, Default)]
struct MakeUlid;

impl MakeRequestId for MakeUlid {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&atlas_store::IdGen::next_id(&atlas_store::UlidIds))
            .ok()
            .map(RequestId::new)
    }
}

/// The API routes only; anything else is a 404 problem.
pub fn api(state: AppState, routes: &[Route]) -> Router {
    build(state, routes, None, None)
}

/// The API routes, with the web app served from `web_dir` for every non-API path, and `extra`
/// (local mode's sign-in issuer) nested under its prefix, behind the same layers.
#[cfg(feature = "local")]
pub fn with_web(
    state: AppState,
    routes: &[Route],
    web_dir: PathBuf,
    extra: Option<(&str, Router<AppState>)>,
) -> Router {
    build(state, routes, Some(web_dir), extra)
}

fn build(
    state: AppState,
    routes: &[Route],
    web_dir: Option<PathBuf>,
    extra: Option<(&str, Router<AppState>)>,
) -> Router {
    let mut router = Router::new();
    for r in routes {
        let guard = crate::auth::Guard::for_route(state.clone(), r);
        let handler = (r.handler)().route_layer(middleware::from_fn_with_state(guard, crate::auth::guard));
        router = router.route(r.path, handler);
    }
    if let Some((prefix, nested)) = extra {
        router = router.nest(prefix, nested);
    }
    let web = web_dir.map(Web::new);
    router
        .fallback(move |req: Request| fallback(req, web.clone()))
        .method_not_allowed_fallback(|| async {
            let mut res = ApiError::MethodNotAllowed.into_response();
            *res.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
            res
        })
        .layer(axum::extract::DefaultBodyLimit::max(crate::extract::BODY_LIMIT))
        .layer(middleware::from_fn(limit_uri))
        .layer(middleware::from_fn(stamp_problems))
        .layer(middleware::from_fn(browser_headers))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!(
                "request",
                request_id = %id,
                method = %req.method(),
                path = %req.uri().path(),
                workspace_id = tracing::field::Empty,
                environment_id = tracing::field::Empty,
                run_id = tracing::field::Empty,
                    user_id = tracing::field::Empty,
            )
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeUlid))
        .layer(middleware::from_fn(drop_unusable_request_id))
        .with_state(state)
}

/// How long a browser or CDN may keep a content-hashed file: a year, never revalidated (its
/// name changes when its content does).
pub const CACHE_HASHED: &str = "public, max-age=31536000, immutable";
/// index.html and any other file without a hash in its name: revalidated on every use, so a
/// deploy's new index.html (naming the new hashed files) is seen at once.
pub const CACHE_REVALIDATE: &str = "no-cache";

/// The built web app (`cargo xtask web`, ADR 0036): every file's `.br` or `.gz` sibling when
/// the browser accepts it, index.html for the app's own routes.
#[derive(Clone)]
struct Web {
    /// Content-hashed files only: a missing one is a 404, never the page.
    hashed: ServeDir,
    /// Any other path: its file, or index.html (a route of the single-page app).
    app: ServeDir<ServeFile>,
}

impl Web {
    fn new(dir: PathBuf) -> Self {
        let index = ServeFile::new(dir.join("index.html"))
            .precompressed_br()
            .precompressed_gzip();
        Self {
            hashed: ServeDir::new(&dir).precompressed_br().precompressed_gzip(),
            app: ServeDir::new(&dir)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(index),
        }
    }
}

async fn fallback(req: Request, web: Option<Web>) -> Response {
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    let Some(web) = web else {
        return ApiError::NotFound.into_response();
    };
    if !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
        return ApiError::NotFound.into_response();
    }
    let hashed = is_hashed_file(path);
    let res = if hashed {
        web.hashed.oneshot(req).await.map(IntoResponse::into_response)
    } else {
        web.app.oneshot(req).await.map(IntoResponse::into_response)
    };
    let mut res = match res {
        Ok(res) if res.status() != axum::http::StatusCode::NOT_FOUND => res,
        // An old page asking for a file a newer build replaced: not the page in its place.
        _ if hashed => return ApiError::NotFound.into_response(),
        _ => not_built().into_response(),
    };
    let cache = if hashed && (res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED) {
        CACHE_HASHED
    } else {
        CACHE_REVALIDATE
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // The same URL is answered plain, gzip or brotli by the request's Accept-Encoding.
    h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    res
}

/// A file the web build named by its content: `<name>-<8 hex digits>.<ext>`, or
/// `<name>-<8 hex digits>_bg.wasm` (a wasm-bindgen module).
fn is_hashed_file(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let Some((name, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    !name.is_empty()
        && !ext.is_empty()
        && hash.len() == 8
        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn not_built() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>TenantAtlas</title>\
         <h1>TenantAtlas</h1><p>The web app has not been built. Run <code>cargo xtask up</code>, \
         which builds it and starts the server; the API is at <a href=\"/api/health\">/api/health</a>.</p></html>",
    )
}

/// A caller's `x-request-id` is kept only when it is a plain token of reasonable length (it is
/// logged, stamped on problems and stored in audit events); any other is replaced by a minted one.
async fn drop_unusable_request_id(mut req: Request, next: Next) -> Response {
    let usable = req
        .headers()
        .get(REQUEST_ID)
        .is_none_or(|v| v.to_str().is_ok_and(crate::extract::valid_request_id));
    if !usable {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// 414 for an over-long path and query, before routing work or any handler reads it.
async fn limit_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > URI_LIMIT {
        return ApiError::UriTooLong(URI_LIMIT).into_response();
    }
    next.run(req).await
}

/// The browser hardening headers, on every answer (web app, API, sign-in pages) unless a handler
/// chose its own.
async fn browser_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    res
}

/// Adds the request id to every problem body, so a user can quote it. The problem travels with
/// the response, so the body is rendered again rather than read back and parsed.
async fn stamp_problems(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut res = next.run(req).await;
    let Some(id) = id else { return res };
    let Some(ProblemExt(mut problem)) = res.extensions_mut().remove::<ProblemExt>() else {
        return res;
    };
    problem.request_id = Some(id);
    let Ok(body) = serde_json::to_vec(&problem) else {
        return res;
    };
    *res.body_mut() = Body::from(body);
    res.headers_mut().remove(header::CONTENT_LENGTH);
    res
}

#[cfg(test)]
mod tests {
    use super::is_hashed_file;

    #[test]
    fn hashed_files_are_told_by_their_names() {
        for path in [
            "/atlas-web-30b0cbfa.js",
            "/atlas-web-30b0cbfa_bg.wasm",
            "/atlas-web-more-93c8c012_bg.wasm",
            "/boot-dab1d350.js",
            "/style-a08a8912.css",
        ] {
            assert!(is_hashed_file(path), "{path}");
        }
        for path in [
            "/",
            "/index.html",
            "/style.css",
            "/atlas-web.js",
            "/atlas-web_bg.wasm",
            "/atlas-web-more.js",
            "/workspaces/ws-demo",
            "/workspaces/abcdef12-3456",
            "/boot-DAB1D350.js",
            "/boot-dab1d35.js",
            "/-dab1d350.js",
            "/atlas-web-30b0cbfa_bg.wasm.br",
        ] {
            assert!(!is_hashed_file(path), "{path}");
        }
    }
}
