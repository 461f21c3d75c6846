//! My notifications (the bell) and what I opted in to (spec 016).

use atlas_api_types as api;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryMap};
use crate::identity::Actor;
use crate::notifications;
use crate::state::AppState;

pub const PAGE_QUERY: &[&str] = &["cursor", "limit"];

pub async fn list(State(state): State<AppState>, actor: Actor, q: QueryMap) -> ApiResult<Json<api::NotificationPage>> {
    let limit = q.int("limit", 1, i64::from(notifications::MAX_PAGE))?.unwrap_or(20) as u32;
    let cursor = q.get("cursor").map(str::to_owned);
    Ok(Json(notifications::page(&state, &actor, cursor, limit).await?))
}

pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<api::NotificationsRead>,
) -> ApiResult<StatusCode> {
    notifications::mark_read(&state, &actor, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_prefs(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<api::NotificationPrefs>> {
    Ok(Json(notifications::prefs(&state, &actor).await?))
}

pub async fn put_prefs(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<api::NotificationPrefs>,
) -> ApiResult<Json<api::NotificationPrefs>> {
    Ok(Json(notifications::set_prefs(&state, &actor, &body).await?))
}
