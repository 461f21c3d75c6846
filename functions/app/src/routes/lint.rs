//! The offline policy lint (spec 021): the rule catalogue, and an environment's report.

use atlas_api_types as api;
use axum::Json;
use axum::extract::State;

use crate::error::ApiResult;
use crate::lint;
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

pub async fn rules(_scope: WorkspaceScope) -> Json<api::LintRuleList> {
    Json(lint::rules())
}

pub async fn environment(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::LintReport>> {
    Ok(Json(lint::environment(&state, &scope).await?))
}
