//! Backups of an environment: start a capture run, list sets, a set's items, an item's payload.

use atlas_api_types as api;
use atlas_domain::RunId;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::backup;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody};
use crate::scope::EnvScope;
use crate::state::AppState;

pub async fn start(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::BackupStart>,
) -> ApiResult<Response> {
    let mut f = Fields::default();
    let families: Vec<String> = match body.families {
        None => atlas_graph::families::FAMILIES
            .iter()
            .map(|f| f.code.to_owned())
            .collect(),
        Some(list) => {
            if list.is_empty() {
                f.push("families", "lists at least one family, or is left out for all");
            }
            for code in &list {
                if atlas_graph::families::Family::by_code(code).is_none() {
                    f.push("families", format!("{code:?} is not a policy family"));
                }
            }
            list
        }
    };
    f.finish()?;
    if crate::provider::consented(&state, &scope).await?.is_none() {
        return Err(ApiError::Conflict("connect the environment's provider first".into()));
    }
    let started =
        crate::runs::start_with(&state, &scope, backup::capture_start(&state, &scope, &families, None)).await?;
    Ok(crate::routes::operations::accepted(&scope, &started.run))
}

pub async fn list(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::BackupSetList>> {
    Ok(Json(api::BackupSetList {
        items: backup::sets(&state, &scope).await?,
    }))
}

/// The set named in the path: an id that cannot be a set's is as absent as a missing set.
fn set_id(raw: &str) -> ApiResult<RunId> {
    RunId::parse(raw).map_err(|_| ApiError::NotFound)
}

pub async fn get(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, set_id)): Path<(String, String, String)>,
) -> ApiResult<Json<api::BackupSetDetail>> {
    let set = self::set_id(&set_id)?;
    let view = backup::set_view(&state, &scope, &set)
        .await?
        .ok_or(ApiError::NotFound)?;
    let items = backup::set_items(&state, &scope, &set)
        .await?
        .ok_or(ApiError::NotFound)?
        .iter()
        .map(api::BackupItem::from)
        .collect();
    Ok(Json(api::BackupSetDetail { set: view, items }))
}

/// One captured object's JSON, as a download; secret-looking values are redacted.
pub async fn item(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, set_id, family, item)): Path<(String, String, String, String, String)>,
) -> ApiResult<Response> {
    let rec = backup::item(&state, &scope, &self::set_id(&set_id)?, &family, &item)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut payload = backup::payload(&state, &scope, &rec.hash)
        .await?
        .ok_or(ApiError::NotFound)?;
    atlas_domain::redact::redact(&mut payload);
    let name = format!("attachment; filename=\"{family}-{item}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, name)], Json(payload)).into_response())
}

/// Added, removed and changed objects between two sets, with field-level changes.
pub async fn diff(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, set_id)): Path<(String, String, String)>,
    q: crate::extract::QueryMap,
) -> ApiResult<Json<api::BackupDiff>> {
    let other = q
        .get("with")
        .ok_or_else(|| ApiError::field("query.with", "names the set to compare with"))?;
    let other = RunId::parse(other).map_err(|e| ApiError::field("query.with", e.0))?;
    Ok(Json(
        backup::diff(&state, &scope, &self::set_id(&set_id)?, &other).await?,
    ))
}

fn check_families(f: &mut Fields, list: &Option<Vec<String>>) {
    if let Some(list) = list {
        if list.is_empty() {
            f.push("families", "lists at least one family, or is left out for all");
        }
        for code in list {
            if atlas_graph::families::Family::by_code(code).is_none() {
                f.push("families", format!("{code:?} is not a policy family"));
            }
        }
    }
}

/// Bounds on what a schedule stores and computes with, beyond the cadence's own checks.
fn check_schedule_bounds(f: &mut Fields, body: &api::BackupScheduleCreate, now: i64) {
    const MAX_KEEP_LAST: u32 = 1_000;
    const MAX_KEEP_DAYS: u32 = 3_660;
    const MAX_CRON_CHARS: usize = 100;
    const MAX_FIRST_DUE_AHEAD_MS: i64 = 5 * 366 * 24 * 3_600_000;
    if body.keep_last.is_some_and(|k| k > MAX_KEEP_LAST) {
        f.push("keep_last", format!("keeps at most {MAX_KEEP_LAST} sets"));
    }
    if body.keep_days.is_some_and(|k| k > MAX_KEEP_DAYS) {
        f.push("keep_days", format!("keeps at most {MAX_KEEP_DAYS} days (10 years)"));
    }
    if body.cron.as_ref().is_some_and(|c| c.chars().count() > MAX_CRON_CHARS) {
        f.push("cron", format!("must be at most {MAX_CRON_CHARS} characters"));
    }
    if body.first_due_ms.is_some_and(|d| d > now + MAX_FIRST_DUE_AHEAD_MS) {
        f.push("first_due_ms", "must be within five years from now");
    }
}

pub async fn create_schedule(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::BackupScheduleCreate>,
) -> ApiResult<(StatusCode, Json<api::BackupSchedule>)> {
    use crate::schedules::{Cadence, time_zone};
    let mut f = Fields::default();
    let tz = f.check("time_zone", time_zone(&body.time_zone));
    let cadence = match (body.every_minutes, body.cron.as_deref()) {
        (Some(_), Some(_)) => {
            f.push("cron", "give either cron or every_minutes, not both");
            None
        }
        (None, None) => {
            f.push("every_minutes", "give every_minutes or cron");
            None
        }
        (Some(m), None) => f.check("every_minutes", Cadence::every(m)),
        // Checked even when the zone is wrong, so both mistakes are named at once.
        (None, Some(expr)) => f
            .check("cron", Cadence::cron(expr, tz.unwrap_or(chrono_tz::UTC)))
            .filter(|_| tz.is_some()),
    };
    check_families(&mut f, &body.families);
    let now = state.clock.now_millis();
    if body.first_due_ms.is_some_and(|d| d < now - 60_000) {
        f.push("first_due_ms", "must not be in the past");
    }
    if body.keep_last == Some(0) {
        f.push("keep_last", "keeps at least one set");
    }
    if body.keep_days == Some(0) {
        f.push("keep_days", "keeps at least one day");
    }
    check_schedule_bounds(&mut f, &body, now);
    f.finish()?;
    let Some(cadence) = cadence else {
        return Err(ApiError::internal("schedule validated without a cadence"));
    };
    let due = cadence
        .first(body.first_due_ms.unwrap_or(now).max(now))
        .ok_or_else(|| ApiError::field("cron", "has no run in the future"))?;
    let sched = crate::schedules::create(&state, &scope, &body, due).await?;
    Ok((StatusCode::CREATED, Json(crate::schedules::to_api(&sched))))
}

pub async fn list_schedules(
    State(state): State<AppState>,
    scope: EnvScope,
) -> ApiResult<Json<api::BackupScheduleList>> {
    let items: Vec<crate::schedules::BackupSchedule> = crate::records::query_all(
        &state.table,
        scope
            .records(&state.table)
            .query(crate::records::schedules::SCHEDULES_PREFIX),
    )
    .await?;
    Ok(Json(api::BackupScheduleList {
        items: items.iter().map(crate::schedules::to_api).collect(),
    }))
}

pub async fn delete_schedule(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    crate::schedules::delete(&state, &scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a backup set: high risk, so the environment's display name must be typed to confirm.
pub async fn delete(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, set_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<api::Confirm>,
) -> ApiResult<StatusCode> {
    let env = crate::tenancy::environment_record(&state, &scope).await?;
    if body.confirm.trim() != env.display_name {
        return Err(ApiError::Unprocessable(vec![api::FieldError {
            field: "confirm".into(),
            message: "type the environment's display name exactly to confirm".into(),
        }]));
    }
    let set = self::set_id(&set_id)?;
    let view = backup::set_view(&state, &scope, &set)
        .await?
        .ok_or(ApiError::NotFound)?;
    if view.state == atlas_domain::BackupSetStatus::Running {
        return Err(ApiError::Conflict("the backup is still running".into()));
    }
    let items = backup::delete_set(&state, &scope, &set).await?;
    let ev = crate::audit::NewEvent::success("backup.delete", format!("backup/{set_id}"))
        .env(scope.environment_id())
        .meta(json!({"items": items}));
    crate::audit::commit(&state, scope.workspace(), vec![], ev)
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
