//! Builds the axum router for a set of registry routes: every route locally, one route per
//! Lambda. Both get the same request ids, tracing and problem rendering.

use std::path::PathBuf;

use atlas_api_types::Problem;
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

use crate::error::{ApiError, PROBLEM_JSON};
use crate::registry::Route;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
    build(state, routes, None)
}

/// The API routes, with the web app served from `web_dir` for every non-API path.
pub fn with_web(state: AppState, routes: &[Route], web_dir: PathBuf) -> Router {
    build(state, routes, Some(web_dir))
}

fn build(state: AppState, routes: &[Route], web_dir: Option<PathBuf>) -> Router {
    let mut router = Router::new();
    for r in routes {
        let guard = crate::auth::Guard::for_route(state.clone(), r);
        let handler = (r.handler)().route_layer(middleware::from_fn_with_state(guard, crate::auth::guard));
        router = router.route(r.path, handler);
    }
    let web = web_dir.map(|d| ServeDir::new(&d).fallback(ServeFile::new(d.join("index.html"))));
    router
        .fallback(move |req: Request| fallback(req, web.clone()))
        .method_not_allowed_fallback(|| async {
            let mut res = ApiError::MethodNotAllowed.into_response();
            *res.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
            res
        })
        .layer(axum::extract::DefaultBodyLimit::max(crate::extract::BODY_LIMIT))
        .layer(middleware::from_fn(stamp_problems))
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
        .with_state(state)
}

async fn fallback(req: Request, web: Option<ServeDir<ServeFile>>) -> Response {
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    let Some(dir) = web else {
        return ApiError::NotFound.into_response();
    };
    if !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
        return ApiError::NotFound.into_response();
    }
    match dir.oneshot(req).await {
        Ok(res) if res.status() != axum::http::StatusCode::NOT_FOUND => res.into_response(),
        _ => not_built().into_response(),
    }
}

fn not_built() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>TenantAtlas</title>\
         <h1>TenantAtlas</h1><p>The web app has not been built. Run <code>cargo xtask up</code>, \
         which builds it and starts the server; the API is at <a href=\"/api/health\">/api/health</a>.</p></html>",
    )
}

/// Adds the request id to every problem body, so a user can quote it.
async fn stamp_problems(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let res = next.run(req).await;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    let Some(id) = id.filter(|_| is_problem) else {
        return res;
    };
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return ApiError::Internal("unreadable problem body".into()).into_response();
    };
    let body = match serde_json::from_slice::<Problem>(&bytes) {
        Ok(mut p) => {
            p.request_id = Some(id);
            serde_json::to_vec(&p).unwrap_or_else(|_| bytes.to_vec())
        }
        Err(_) => bytes.to_vec(),
    };
    let mut res = Response::from_parts(parts, Body::from(body));
    res.headers_mut().remove(header::CONTENT_LENGTH);
    res
}
