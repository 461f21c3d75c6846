//! Exceptions (risk acceptance) and the workspace's governance policy (spec 016).

use atlas_api_types as api;
use atlas_domain::findings::ExceptionStatus;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::error::ApiResult;
use crate::exceptions::{self, Filter};
use crate::extract::{JsonBody, QueryMap};
use crate::routes::drift::parse_or;
use crate::scope::WorkspaceScope;
use crate::state::AppState;

pub const LIST_QUERY: &[&str] = &["state", "environment_id", "finding_id"];

pub async fn request(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, finding)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::ExceptionRequest>,
) -> ApiResult<(StatusCode, Json<api::Exception>)> {
    Ok((
        StatusCode::CREATED,
        Json(exceptions::request(&state, &scope, &finding, &body).await?),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::ExceptionList>> {
    let statuses: Vec<&str> = ExceptionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let filter = Filter {
        status: parse_or(&q, "state", ExceptionStatus::parse, &statuses)?,
        environment_id: crate::tenancy::hub_environment(&state, &scope, q.get("environment_id")).await?,
        finding_id: q.get("finding_id").map(str::to_owned),
    };
    Ok(Json(exceptions::list(&state, &scope, &filter).await?))
}

pub async fn detail(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::ExceptionDetail>> {
    Ok(Json(exceptions::detail(&state, &scope, &id).await?))
}

pub async fn approve(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::ExceptionDecision>,
) -> ApiResult<Json<api::Exception>> {
    Ok(Json(exceptions::approve(&state, &scope, &id, &body).await?))
}

pub async fn reject(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::ExceptionDecision>,
) -> ApiResult<Json<api::Exception>> {
    Ok(Json(exceptions::reject(&state, &scope, &id, &body).await?))
}

pub async fn revoke(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::ExceptionDecision>,
) -> ApiResult<Json<api::Exception>> {
    Ok(Json(exceptions::revoke(&state, &scope, &id, &body).await?))
}

pub async fn get_policy(
    State(state): State<AppState>,
    scope: WorkspaceScope,
) -> ApiResult<Json<api::GovernancePolicy>> {
    Ok(Json(exceptions::policy(&state, scope.workspace_id()).await?))
}

pub async fn put_policy(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::GovernancePolicy>,
) -> ApiResult<Json<api::GovernancePolicy>> {
    Ok(Json(exceptions::set_policy(&state, &scope, &body).await?))
}
