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
use crate::records::Record as _;
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

/// Changes a schedule. A new cadence, time zone or a resume recomputes the next run from now; a
/// pause moves the schedule out of the due index. Conditional on the due time read: a tick
/// claiming the schedule meanwhile (a new interval schedule is due at once) is not a lost update
/// and not the user's problem either, so the change is applied again to what the tick left.
pub async fn update_schedule(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<api::BackupScheduleUpdate>,
) -> ApiResult<Json<api::BackupSchedule>> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        match apply_schedule_update(&state, &scope, &id, body.clone()).await {
            Err(UpdateError::Claimed) if attempt < ATTEMPTS => continue,
            Err(UpdateError::Claimed) => break,
            Err(UpdateError::Api(e)) => return Err(e),
            Ok(()) => {
                let sched = scope
                    .records(&state.table)
                    .get::<crate::schedules::BackupSchedule>(crate::records::schedules::schedule_sk(&id))
                    .await?
                    .ok_or(ApiError::NotFound)?;
                return Ok(Json(crate::schedules::to_api(&sched)));
            }
        }
    }
    Err(ApiError::Conflict(
        "the schedule keeps starting backups; load it again and retry".into(),
    ))
}

/// Why one attempt at a schedule change did not land.
enum UpdateError {
    /// A tick claimed the schedule between its read and the write: nothing was written.
    Claimed,
    Api(ApiError),
}

impl<E: Into<ApiError>> From<E> for UpdateError {
    fn from(e: E) -> Self {
        UpdateError::Api(e.into())
    }
}

async fn apply_schedule_update(
    state: &AppState,
    scope: &EnvScope,
    id: &str,
    body: api::BackupScheduleUpdate,
) -> Result<(), UpdateError> {
    use crate::records::schedules::{DUE, PAUSED, schedule_sk};
    use crate::schedules::{BackupSchedule, Cadence, due_sk, time_zone};
    let sched = scope
        .records(&state.table)
        .get::<BackupSchedule>(schedule_sk(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut f = Fields::default();
    let api::BackupScheduleUpdate {
        cron,
        every_minutes,
        time_zone: zone,
        families,
        enabled,
    } = body;
    if cron.is_none() && every_minutes.is_none() && zone.is_none() && families.is_none() && enabled.is_none() {
        f.push(
            "body",
            "changes nothing: give cron, every_minutes, time_zone, families or enabled",
        );
    }
    let zone_name = zone.clone().unwrap_or_else(|| sched.time_zone.clone());
    let tz = f.check("time_zone", time_zone(&zone_name));
    let (new_cron, new_every) = match (cron, every_minutes) {
        (Some(_), Some(_)) => {
            f.push("cron", "give either cron or every_minutes, not both");
            (None, None)
        }
        (Some(c), None) => (Some(c.trim().to_owned()), None),
        (None, Some(m)) => (None, Some(m)),
        (None, None) => (sched.cron.clone(), sched.every_minutes),
    };
    if new_cron.as_ref().is_some_and(|c| c.chars().count() > 100) {
        f.push("cron", "must be at most 100 characters");
    }
    let cadence = match &new_cron {
        Some(expr) => f
            .check("cron", Cadence::cron(expr, tz.unwrap_or(chrono_tz::UTC)))
            .filter(|_| tz.is_some()),
        None => f.check("every_minutes", Cadence::every(new_every.unwrap_or(0))),
    };
    check_families(&mut f, &families);
    f.finish()?;
    let Some(cadence) = cadence else {
        return Err(ApiError::internal("schedule validated without a cadence").into());
    };
    let was_enabled = sched.enabled.unwrap_or(true);
    let enabled = enabled.unwrap_or(was_enabled);
    let now = state.clock.now_millis();
    let retimed = new_cron != sched.cron
        || (new_cron.is_none() && new_every != sched.every_minutes)
        || zone_name != sched.time_zone
        || (enabled && !was_enabled);
    let next = if retimed {
        cadence
            .after(now)
            .ok_or_else(|| ApiError::field("cron", "has no run in the future"))?
    } else {
        sched.next_due_ms
    };
    let (ws, env) = (sched.workspace_id.as_str(), sched.environment_id.as_str());
    let mut update = atlas_store::Update::new()
        .set("cron", new_cron.clone().map_or(serde_json::Value::Null, Into::into))
        .set("every_minutes", new_every.map_or(serde_json::Value::Null, Into::into))
        .set("time_zone", zone_name.clone())
        .set("enabled", enabled)
        .set("next_due_ms", next)
        .set("GSI1PK", if enabled { DUE } else { PAUSED })
        .set("GSI1SK", due_sk(next, ws, env, &sched.schedule_id));
    if let Some(list) = &families {
        update = update.set("families", json!(list));
    }
    let changes = vec![atlas_store::TxItem::Update {
        key: sched.key(),
        update,
        cond: Some(atlas_store::Cond::eq("next_due_ms", sched.next_due_ms)),
    }];
    let ev = crate::audit::NewEvent::success("backup.schedule.update", format!("backup-schedule/{id}"))
        .env(scope.environment_id())
        .meta(
            json!({"cron": new_cron, "every_minutes": new_every, "time_zone": zone_name,
                     "families": families, "enabled": enabled}),
        );
    crate::audit::commit(state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match crate::audit::failed_at(&e) {
            Some(0) => UpdateError::Claimed,
            _ => e.into(),
        })
}

/// Retries a partial or failed set's failed items: a new capture of only the families that
/// failed or left items unread. Once per set: the set records its retry run in the same commit,
/// so asking again answers with that run.
pub async fn retry(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, set_id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    use crate::records::backups::{BackupSetRecord, set_sk};
    let set = self::set_id(&set_id)?;
    let records = scope.records(&state.table);
    let rec = records
        .get::<BackupSetRecord>(set_sk(&set))
        .await?
        .ok_or(ApiError::NotFound)?;
    let existing = |run: Option<crate::records::runs::OperationRun>| match run {
        Some(run) => Ok(crate::routes::operations::accepted(&scope, &run)),
        None => Err(ApiError::NotFound),
    };
    if let Some(run_id) = &rec.retry_run {
        return existing(crate::runs::get(&state, run_id).await?);
    }
    let run = crate::runs::get(&state, set.as_str()).await?;
    let view = backup::set_api(&rec, run.as_ref());
    match view.state {
        atlas_domain::BackupSetStatus::Running => {
            return Err(ApiError::Conflict("the backup is still running".into()));
        }
        atlas_domain::BackupSetStatus::Complete => {
            return Err(ApiError::Conflict("nothing to retry: every item was captured".into()));
        }
        _ => {}
    }
    let failed_units = crate::records::runs::units(&state.table, set.as_str(), false).await?;
    let mut families: std::collections::BTreeSet<String> = failed_units
        .iter()
        .filter(|i| i.result == atlas_domain::ItemResult::Failed)
        .map(|i| i.item.clone())
        .collect();
    families.extend(
        view.unreadable
            .iter()
            .filter_map(|k| k.split('/').next().map(str::to_owned)),
    );
    families.retain(|f| atlas_graph::families::Family::by_code(f).is_some());
    if families.is_empty() {
        return Err(ApiError::Conflict(
            "nothing to retry: no family of this backup failed".into(),
        ));
    }
    if crate::provider::consented(&state, &scope).await?.is_none() {
        return Err(ApiError::Conflict("connect the environment's provider first".into()));
    }
    let families: Vec<String> = families.into_iter().collect();
    let mut start = backup::capture_start(&state, &scope, &families, None);
    start.also.push(atlas_store::TxItem::Update {
        key: rec.key(),
        update: atlas_store::Update::new().set("retry_run", start.id.clone()),
        cond: Some(atlas_store::Cond::AttrNotExists("retry_run".into())),
    });
    start.conflict = "retried already".into();
    match crate::runs::start_with(&state, &scope, start).await {
        Ok(s) if s.created => {
            let ev = crate::audit::NewEvent::success("backup.retry", format!("backup/{set_id}"))
                .env(scope.environment_id())
                .meta(json!({"run_id": s.run.run_id, "families": families}));
            crate::audit::commit(&state, scope.workspace(), vec![], ev)
                .await
                .map_err(ApiError::from)?;
            Ok(crate::routes::operations::accepted(&scope, &s.run))
        }
        Ok(_) => Err(ApiError::Conflict(
            "a backup of this environment is running; retry once it ended".into(),
        )),
        Err(crate::error::ServiceError::Conflict(_)) => {
            // Another request retried the set meanwhile: its run is the answer.
            let rec = records
                .get::<BackupSetRecord>(set_sk(&set))
                .await?
                .ok_or(ApiError::NotFound)?;
            match rec.retry_run {
                Some(id) => existing(crate::runs::get(&state, &id).await?),
                None => Err(ApiError::Conflict("the backup set changed meanwhile; try again".into())),
            }
        }
        Err(e) => Err(e.into()),
    }
}
