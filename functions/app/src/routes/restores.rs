//! Restores into an environment (the target): draft, preview, confirm, cancel (spec 006). The
//! flow's rules are the restore service's (`restore::flow`); these handlers parse and answer.

use atlas_api_types as api;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::records::restore::{self as rec, RestoreDraftRecord};
use crate::restore::{self, flow};
use crate::scope::EnvScope;
use crate::state::AppState;

type RestorePath = Path<(String, String, String)>;

pub async fn create(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::RestoreCreate>,
) -> ApiResult<(StatusCode, Json<api::Restore>)> {
    let draft = flow::create(&state, &scope, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(restore::to_api(&state, &scope, &draft).await?),
    ))
}

pub async fn list(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::RestoreList>> {
    let records = scope.records(&state.table);
    let drafts = RestoreDraftRecord::among(state.table.query_all(records.query(rec::DRAFTS)).await?)?;
    let mut items = Vec::new();
    let visible = |d: &&RestoreDraftRecord| restore::source_entitled(&scope, d);
    for d in drafts.iter().rev().filter(visible) {
        items.push(restore::to_api(&state, &scope, d).await?);
    }
    Ok(Json(api::RestoreList { items }))
}

pub async fn get(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
) -> ApiResult<Json<api::Restore>> {
    let draft = flow::load(&state, &scope, &id).await?;
    Ok(Json(restore::to_api(&state, &scope, &draft).await?))
}

pub async fn preview(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
    JsonBody(body): JsonBody<api::RestorePreviewRequest>,
) -> ApiResult<(StatusCode, Json<api::RestorePreview>)> {
    let p = flow::preview(&state, &scope, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(api::RestorePreview::from(&p))))
}

pub async fn confirm(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
    JsonBody(body): JsonBody<api::RestoreConfirm>,
) -> ApiResult<Response> {
    let run = flow::confirm(&state, &scope, &id, &body).await?;
    Ok(crate::routes::operations::accepted(&scope, &run))
}

pub async fn cancel(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
) -> ApiResult<Json<api::Restore>> {
    let draft = flow::cancel(&state, &scope, &id).await?;
    Ok(Json(restore::to_api(&state, &scope, &draft).await?))
}
