//! Compare, the mapping table and promotion (spec 022): workspace routes spanning two
//! environments; the services check both are entitled.

use atlas_api_types as api;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap};
use crate::promotion::{self, compare, mappings};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

pub const COMPARE_QUERY: &[&str] = &["a", "b", "family"];
pub const MAPPING_QUERY: &[&str] = &["source_environment_id", "target_environment_id"];

fn required<'q>(q: &'q QueryMap, k: &str) -> ApiResult<&'q str> {
    q.get(k)
        .ok_or_else(|| ApiError::field(&format!("query.{k}"), "is required"))
}

async fn comparison(state: &AppState, scope: &WorkspaceScope, q: &QueryMap) -> ApiResult<api::Comparison> {
    let (a, b) = (required(q, "a")?, required(q, "b")?);
    Ok(compare::compare(state, scope, a, b, q.get("family")).await?)
}

pub async fn get_compare(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::Comparison>> {
    Ok(Json(comparison(&state, &scope, &q).await?))
}

pub async fn export_compare(State(state): State<AppState>, scope: WorkspaceScope, q: QueryMap) -> ApiResult<Response> {
    let c = comparison(&state, &scope, &q).await?;
    Ok(super::csv_download("compare.csv", Body::from(compare::csv(&c))))
}

pub async fn get_mappings(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::MappingTable>> {
    let (s, t) = (
        required(&q, "source_environment_id")?,
        required(&q, "target_environment_id")?,
    );
    Ok(Json(mappings::table(&state, &scope, s, t).await?))
}

pub async fn post_mappings(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::MappingChange>,
) -> ApiResult<Json<api::MappingTable>> {
    Ok(Json(mappings::change(&state, &scope, &body).await?))
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::PromotionList>> {
    Ok(Json(promotion::list(&state, &scope).await?))
}

pub async fn create(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::PromotionCreate>,
) -> ApiResult<(StatusCode, Json<api::Promotion>)> {
    Ok((
        StatusCode::CREATED,
        Json(promotion::create(&state, &scope, body).await?),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Promotion>> {
    Ok(Json(promotion::get(&state, &scope, &id).await?))
}

pub async fn plan(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Promotion>> {
    Ok(Json(promotion::replan(&state, &scope, &id).await?))
}

pub async fn dry_run(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Promotion>> {
    Ok(Json(promotion::dry_run(&state, &scope, &id).await?))
}

pub async fn approve(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::PromotionDecision>,
) -> ApiResult<Json<api::Promotion>> {
    Ok(Json(promotion::approve(&state, &scope, &id, &body).await?))
}

/// 202 with `Location`: the promotion, which shows the backup, the cutover run and the verification.
pub async fn cutover(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::PromotionDecision>,
) -> ApiResult<Response> {
    let p = promotion::cutover(&state, &scope, &id, &body).await?;
    let location = api::paths::promotion(scope.workspace_id().as_str(), &p.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(p)).into_response())
}

pub async fn rollback(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::PromotionDecision>,
) -> ApiResult<Json<api::Promotion>> {
    Ok(Json(promotion::rollback(&state, &scope, &id, &body).await?))
}

pub async fn cancel(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Promotion>> {
    Ok(Json(promotion::cancel(&state, &scope, &id).await?))
}
