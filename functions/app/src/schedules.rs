//! Backup schedules. Each schedule is indexed in GSI1 by its next due time; the scheduler tick
//! claims a due time with a write conditional on it, so two overlapping ticks start one backup.

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Cond, Item, Key, Query, SkCond, TableError, Update};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use crate::tenancy::{n, s};

pub const DUE: &str = "SCHEDULES#DUE";

pub fn due_sk(due_ms: i64, ws: &str, env: &str, id: &str) -> String {
    format!("{due_ms:015}#{ws}#{env}#{id}")
}

/// The first due time strictly after `now`, on the schedule's grid.
pub fn next_after(due_ms: i64, every_ms: i64, now_ms: i64) -> i64 {
    if due_ms > now_ms {
        return due_ms;
    }
    let missed = (now_ms - due_ms) / every_ms + 1;
    due_ms + missed * every_ms
}

pub fn to_api(i: &Item) -> api::BackupSchedule {
    let every = n(i, "every_minutes").max(1);
    let next = n(i, "next_due_ms");
    api::BackupSchedule {
        id: s(i, "schedule_id"),
        every_minutes: every as u32,
        time_zone: s(i, "time_zone"),
        families: i
            .get("families")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()),
        next_due_ms: next,
        keep_last: i.get("keep_last").and_then(Value::as_u64).map(|v| v as u32),
        keep_days: i.get("keep_days").and_then(Value::as_u64).map(|v| v as u32),
        upcoming_ms: (0..5).map(|k| next + k * every * 60_000).collect(),
        created_by: s(i, "created_by_email"),
    }
}

/// Starts every due backup once. Returns how many were started.
pub async fn run_due(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.now_millis();
    let due = state
        .table
        .query_all(Query::gsi1(DUE).sk(SkCond::Lt(format!("{:015}~", now))))
        .await?;
    let mut started = 0;
    for sched in due {
        let due_ms = n(&sched, "next_due_ms");
        if due_ms > now {
            continue;
        }
        let every_ms = n(&sched, "every_minutes").max(1) * 60_000;
        let next = next_after(due_ms, every_ms, now);
        let (ws, env, id) = (
            s(&sched, "workspace_id"),
            s(&sched, "environment_id"),
            s(&sched, "schedule_id"),
        );
        let claim = Update::new()
            .set("next_due_ms", next)
            .set("GSI1SK", due_sk(next, &ws, &env, &id))
            .set("last_due_ms", due_ms);
        let key = Key::of(&sched)?;
        match state
            .table
            .update(&key, &claim, Some(Cond::eq("next_due_ms", due_ms)))
            .await
        {
            Ok(_) => {}
            // Another tick claimed this due time.
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
        if start_backup(state, &sched).await? {
            started += 1;
        }
        if sched.get("keep_last").is_some_and(|v| !v.is_null()) || sched.get("keep_days").is_some_and(|v| !v.is_null())
        {
            start_prune(state, &sched).await?;
        }
    }
    Ok(started)
}

/// The schedule creator's scope, if they are still a member; runs re-check it at execution.
async fn creator_scope(state: &AppState, sched: &Item) -> Result<Option<crate::scope::EnvScope>, ApiError> {
    use crate::scope::{EnvScope, Proof, WorkspaceScope};
    let (Ok(ws), Ok(env)) = (
        WorkspaceId::parse(&s(sched, "workspace_id")),
        EnvironmentId::parse(&s(sched, "environment_id")),
    ) else {
        return Ok(None);
    };
    let Some(m) = crate::auth::membership(state, &ws, &s(sched, "created_by")).await? else {
        tracing::warn!(schedule = %s(sched, "schedule_id"), "the schedule's creator left the workspace; not started");
        return Ok(None);
    };
    let actor = crate::identity::Actor {
        user_id: s(sched, "created_by"),
        email: s(sched, "created_by_email"),
        name: String::new(),
    };
    let ws_scope = WorkspaceScope::new(actor, ws, m.role, m.entitlement, None, Proof::checked());
    Ok(Some(EnvScope::new(ws_scope, env, Proof::checked())))
}

/// A `backup.prune` run applying the schedule's retention.
async fn start_prune(state: &AppState, sched: &Item) -> Result<(), ApiError> {
    let Some(scope) = creator_scope(state, sched).await? else {
        return Ok(());
    };
    let params = json!({"keep_last": sched.get("keep_last"), "keep_days": sched.get("keep_days")});
    let units = vec![("prune".to_owned(), params)];
    crate::runs::start(
        state,
        &scope,
        atlas_domain::OperationType::BackupPrune,
        "backup-prune",
        units,
        10 * 60_000,
    )
    .await?;
    Ok(())
}

/// Starts the schedule's backup as its creator; the step re-checks their authority at execution.
async fn start_backup(state: &AppState, sched: &Item) -> Result<bool, ApiError> {
    let Some(scope) = creator_scope(state, sched).await? else {
        return Ok(false);
    };
    let families: Vec<String> = match sched.get("families").and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        None => atlas_graph::families::FAMILIES
            .iter()
            .map(|f| f.code.to_owned())
            .collect(),
    };
    let units = families.iter().map(|f| (f.clone(), json!({}))).collect();
    let started = crate::runs::start(
        state,
        &scope,
        atlas_domain::OperationType::BackupCapture,
        "backup-capture",
        units,
        crate::routes::backups::CAPTURE_DEADLINE_MS,
    )
    .await?;
    if started.created {
        crate::routes::backups::record_set(state, &scope, &started.run, &families).await?;
    }
    Ok(started.created)
}
