//! Alert rules, destinations and the delivery history (spec 016): parse, call the service, answer.

use atlas_api_types as api;
use atlas_domain::alerts::DeliveryStatus;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::alerts::{deliveries, destinations, email, rules};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

pub const DELIVERIES_QUERY: &[&str] = &["state", "rule_id", "destination_id", "cursor", "limit"];
pub const OUTBOX_QUERY: &[&str] = &["limit"];

pub async fn list_rules(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::AlertRuleList>> {
    Ok(Json(api::AlertRuleList {
        items: rules::list(&state, &scope).await?,
    }))
}

pub async fn create_rule(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::AlertRuleCreate>,
) -> ApiResult<(StatusCode, Json<api::AlertRule>)> {
    Ok((StatusCode::CREATED, Json(rules::create(&state, &scope, &body).await?)))
}

pub async fn get_rule(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::AlertRule>> {
    Ok(Json(rules::get(&state, &scope, &id).await?))
}

pub async fn patch_rule(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::AlertRulePatch>,
) -> ApiResult<Json<api::AlertRule>> {
    Ok(Json(rules::patch(&state, &scope, &id, &body).await?))
}

pub async fn delete_rule(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    rules::delete(&state, &scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn snooze_rule(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::AlertRuleSnooze>,
) -> ApiResult<Json<api::AlertRule>> {
    Ok(Json(rules::snooze(&state, &scope, &id, &body).await?))
}

pub async fn unsnooze_rule(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::AlertRule>> {
    Ok(Json(rules::unsnooze(&state, &scope, &id).await?))
}

pub async fn list_destinations(
    State(state): State<AppState>,
    scope: WorkspaceScope,
) -> ApiResult<Json<api::AlertDestinationList>> {
    Ok(Json(api::AlertDestinationList {
        items: destinations::list(&state, &scope).await?,
    }))
}

pub async fn create_destination(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::AlertDestinationCreate>,
) -> ApiResult<(StatusCode, Json<api::DestinationCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(destinations::create(&state, &scope, &body).await?),
    ))
}

pub async fn get_destination(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::AlertDestination>> {
    Ok(Json(destinations::get(&state, &scope, &id).await?))
}

pub async fn patch_destination(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::AlertDestinationPatch>,
) -> ApiResult<Json<api::AlertDestination>> {
    Ok(Json(destinations::patch(&state, &scope, &id, &body).await?))
}

pub async fn delete_destination(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    destinations::delete(&state, &scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::AlertSecretRotate>,
) -> ApiResult<Json<api::DestinationCreated>> {
    Ok(Json(destinations::rotate(&state, &scope, &id, &body).await?))
}

/// 202 with the delivery, and where to follow it.
fn accepted(scope: &WorkspaceScope, d: api::AlertDelivery) -> Response {
    let location = atlas_api_types::paths::alert_delivery(scope.workspace_id().as_str(), &d.id);
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(d)).into_response()
}

pub async fn send_test(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let d = deliveries::send_test(&state, &scope, &id).await?;
    Ok(accepted(&scope, d))
}

pub async fn list_deliveries(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::AlertDeliveryPage>> {
    let status = match q.get("state") {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            let all: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::field("query.state", format!("must be one of {}", all.join(", ")))
        })?),
    };
    let f = deliveries::Filter {
        status,
        rule_id: q.get("rule_id").map(str::to_owned),
        destination_id: q.get("destination_id").map(str::to_owned),
    };
    let limit = q.int("limit", 1, 200)?.unwrap_or(50) as usize;
    Ok(Json(
        deliveries::page(&state, &scope, &f, q.get("cursor"), limit).await?,
    ))
}

pub async fn get_delivery(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::AlertDeliveryDetail>> {
    Ok(Json(deliveries::detail(&state, &scope, &id).await?))
}

pub async fn redeliver(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let d = deliveries::redeliver(&state, &scope, &id).await?;
    Ok(accepted(&scope, d))
}

/// The workspace's email outbox (local mode without SMTP): newest first, at most `limit` (1–200, 50).
pub async fn list_outbox(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::AlertOutboxList>> {
    let limit = q.int("limit", 1, 200)?.unwrap_or(50) as usize;
    Ok(Json(email::outbox(&state, &scope, limit).await?))
}
