//! Support requests (spec 025): ask for help with the server's own context snapshot.

use atlas_api_types as api;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::scope::WorkspaceScope;
use crate::state::AppState;
use crate::support;

pub use crate::support::DEDUPED_200;

/// 201 with the new request; 200 with the existing one when the same member asked the same
/// thing about the same target within ten minutes (no second e-mail).
pub async fn create(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::SupportRequestCreate>,
) -> ApiResult<(StatusCode, Json<api::SupportRequest>)> {
    let c = support::create(&state, &scope, body).await?;
    let status = if c.new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(support::to_api(&c.request))))
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::SupportRequestList>> {
    let items = support::list(&state, &scope)
        .await?
        .iter()
        .map(support::to_api)
        .collect();
    Ok(Json(api::SupportRequestList { items }))
}

pub async fn get(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::SupportRequest>> {
    Ok(Json(support::to_api(&support::get(&state, &scope, &id).await?)))
}
