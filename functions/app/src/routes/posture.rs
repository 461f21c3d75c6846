//! The permission posture report (spec 019): an environment's reports, and the workspace view.

use atlas_api_types as api;
use axum::Json;
use axum::extract::State;

use crate::error::ApiResult;
use crate::posture;
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

pub async fn environment(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::EnvironmentPosture>> {
    Ok(Json(posture::environment(&state, &scope).await?))
}

pub async fn workspace(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::WorkspacePosture>> {
    Ok(Json(posture::workspace(&state, &scope).await?))
}
