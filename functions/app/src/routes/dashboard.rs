//! The dashboard (spec 020).

use atlas_api_types as api;
use axum::Json;
use axum::extract::State;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::scope::WorkspaceScope;
use crate::state::AppState;
use crate::{dashboard, tenancy};

pub const QUERY: &[&str] = &["environment_id", "days"];

pub async fn get(State(state): State<AppState>, scope: WorkspaceScope, q: QueryMap) -> ApiResult<Json<api::Dashboard>> {
    let days = match q.get("days") {
        None => 30,
        Some(d) => match d.parse::<u32>() {
            Ok(n) if dashboard::PERIODS.contains(&n) => n,
            _ => return Err(ApiError::field("query.days", "must be 30 or 90")),
        },
    };
    let env = tenancy::hub_environment(&state, &scope, q.get("environment_id")).await?;
    Ok(Json(dashboard::view(&state, &scope, env.as_ref(), days).await?))
}
