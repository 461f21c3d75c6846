//! The environment's groups by display name (`crate::directory`).

use atlas_api_types as api;
use axum::Json;
use axum::extract::State;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::scope::EnvScope;
use crate::state::AppState;

pub const GROUPS_QUERY: &[&str] = &["search", "ids"];

pub async fn groups(
    State(state): State<AppState>,
    scope: EnvScope,
    q: QueryMap,
) -> ApiResult<Json<api::DirectoryGroupList>> {
    let lookup = crate::directory::lookup(q.get("search"), q.get("ids")).map_err(|(f, m)| ApiError::field(f, m))?;
    Ok(Json(crate::directory::groups(&state, &scope, lookup).await?))
}
