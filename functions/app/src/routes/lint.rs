//! The offline policy lint (spec 021): the rule catalogue, the workspace's settings, an
//! environment's or a backup set's report, and the inventory's lint recorded as findings.

use atlas_api_types as api;
use axum::Json;
use axum::extract::{Path, State};

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::lint;
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

pub async fn rules(_scope: WorkspaceScope) -> Json<api::LintRuleList> {
    Json(lint::rules())
}

pub async fn environment(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::LintReport>> {
    Ok(Json(lint::environment(&state, &scope).await?))
}

/// `POST …/environments/{env}/lint`: the inventory's lint recorded as findings.
pub async fn record(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::LintRecorded>> {
    Ok(Json(lint::record(&state, &scope).await?))
}

/// `GET …/backups/{set}/lint`: an id that cannot be a set's is as absent as a missing set.
pub async fn backup_set(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, set_id)): Path<(String, String, String)>,
) -> ApiResult<Json<api::LintReport>> {
    let set = atlas_domain::RunId::parse(&set_id).map_err(|_| ApiError::NotFound)?;
    let report = lint::backup_set(&state, &scope, &set)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(report))
}

pub async fn get_settings(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::LintSettings>> {
    Ok(Json(lint::settings(&state, scope.workspace_id()).await?))
}

/// `PUT …/lint/settings`: validated whole (400 naming each bad field, nothing stored), audited.
pub async fn put_settings(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::LintSettings>,
) -> ApiResult<Json<api::LintSettings>> {
    Ok(Json(lint::set_settings(&state, &scope, body).await?))
}
