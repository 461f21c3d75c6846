//! Backups: a `backup.capture` run captures every object of the chosen families with its payload,
//! assignments and scope tags (`TenantClient::read_family`: list with `$expand`, else `$batch`). Payloads are stored once per
//! content hash (`BLOB#<hash>`), so an unchanged policy is referenced, not stored again; payloads
//! over DynamoDB's item limit go through the store's compression and chunking. A family that fails
//! to read is a failed unit: the set is Partial and says which family and why.
//!
//! Items (environment partition): `BACKUPSET#<set>` (the set), `BACKUP#<set>#ITEM#<family>#<id>`
//! (one per captured object), `BLOB#<hash>` (payloads by content).

use atlas_api_types as api;
use atlas_graph::families::Family;
use atlas_store::{Cond, Item, Query, TableError};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::scope::EnvScope;
use crate::state::AppState;
use crate::tenancy::{n, obj, s};

pub fn content_hash(v: &Value) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What one family's capture did.
#[derive(Debug, Default)]
pub struct Captured {
    pub items: usize,
    /// Payloads written now; the rest were already stored by an earlier backup.
    pub stored: usize,
}

pub async fn capture_family(
    state: &AppState,
    scope: &EnvScope,
    set_id: &str,
    client: &atlas_graph::TenantClient,
    family: &Family,
) -> Result<Captured, ApiError> {
    let objects = client.read_family(family).await.map_err(|e| match e.must_wait() {
        // Throttled for longer than a unit should hold its worker: come back later.
        Some(wait) => ApiError::Wait(wait),
        None => ApiError::Conflict(format!("{} could not be read completely: {e}", family.label)),
    })?;
    let mut out = Captured {
        items: objects.len(),
        stored: 0,
    };
    for object in &objects {
        let Some(id) = object.get("id").and_then(Value::as_str) else {
            continue;
        };
        let hash = content_hash(object);
        let blob = obj(json!({
            "PK": scope.pk(), "SK": format!("BLOB#{hash}"), "entity": "backup_blob", "hash": hash, "payload": object,
        }));
        match state.table.put(blob, Some(Cond::NotExists)).await {
            Ok(()) => out.stored += 1,
            Err(TableError::ConditionFailed) => {} // the same content is already kept
            Err(e) => return Err(e.into()),
        }
        let name = object
            .get("displayName")
            .or(object.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let item = obj(json!({
            "PK": scope.pk(), "SK": format!("BACKUP#{set_id}#ITEM#{}#{id}", family.code), "entity": "backup_item",
            "set_id": set_id, "family": family.code, "item_id": id, "name": name, "hash": hash,
        }));
        state.table.put(item, None).await?;
    }
    Ok(out)
}

pub fn set_api(set: &Item, run: Option<&Item>) -> api::BackupSet {
    let run_view = run.map(crate::runs::to_api);
    let status = match &run_view {
        Some(r) if r.state != "completed" => "running",
        Some(r) => match r.outcome.as_deref() {
            Some("succeeded") => "complete",
            Some("partially_succeeded") => "partial",
            _ => "failed",
        },
        None => "unknown",
    };
    api::BackupSet {
        id: s(set, "set_id"),
        created_ms: n(set, "created_ms"),
        families: set
            .get("families")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        status: status.to_owned(),
        run: run_view,
    }
}

/// The sets of an environment, newest first.
pub async fn sets(state: &AppState, scope: &EnvScope) -> Result<Vec<api::BackupSet>, ApiError> {
    let sets = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("BACKUPSET#").backward())
        .await?;
    let mut out = Vec::with_capacity(sets.len());
    for set in sets {
        let run = state.table.get(&crate::runs::run_key(&s(&set, "set_id"))).await?;
        out.push(set_api(&set, run.as_ref()));
    }
    Ok(out)
}

/// Deletes a set and its items, then the payloads no remaining set references. Idempotent.
pub async fn delete_set(state: &AppState, scope: &EnvScope, set_id: &str) -> Result<usize, ApiError> {
    let items = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with(format!("BACKUP#{set_id}#ITEM#")))
        .await?;
    for i in &items {
        state.table.delete(&atlas_store::Key::of(i)?, None).await?;
    }
    state
        .table
        .delete(&atlas_store::Key::new(scope.pk(), format!("BACKUPSET#{set_id}")), None)
        .await?;
    collect_blobs(state, scope).await?;
    Ok(items.len())
}

/// Removes payloads that no backup item references any more.
async fn collect_blobs(state: &AppState, scope: &EnvScope) -> Result<(), ApiError> {
    let referenced: std::collections::BTreeSet<String> = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("BACKUP#"))
        .await?
        .iter()
        .map(|i| s(i, "hash"))
        .collect();
    for blob in state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("BLOB#"))
        .await?
    {
        if !referenced.contains(&s(&blob, "hash")) {
            state.table.delete(&atlas_store::Key::of(&blob)?, None).await?;
        }
    }
    Ok(())
}

/// Retention: keeps the newest `keep_last` completed sets (when set) and every set younger than
/// `keep_days` (when set); running sets are never pruned. Returns the deleted set ids.
pub async fn prune(
    state: &AppState,
    scope: &EnvScope,
    keep_last: Option<u32>,
    keep_days: Option<u32>,
) -> Result<Vec<String>, ApiError> {
    if keep_last.is_none() && keep_days.is_none() {
        return Ok(Vec::new());
    }
    let now = state.clock.now_millis();
    let mut completed = 0u32;
    let mut deleted = Vec::new();
    for set in sets(state, scope).await? {
        if set.status == "running" {
            continue;
        }
        completed += 1;
        let within_last = keep_last.is_some_and(|n| completed <= n);
        let within_days = keep_days.is_some_and(|d| now - set.created_ms < i64::from(d) * 86_400_000);
        if !within_last && !within_days {
            delete_set(state, scope, &set.id).await?;
            deleted.push(set.id);
        }
    }
    Ok(deleted)
}
