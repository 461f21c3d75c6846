//! Backups: a `backup.capture` run captures every object of the chosen families with its payload
//! (assignments and scope tags included where Graph expands them). Payloads are stored once per
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
    let objects = client
        .list_all(&family.list_query())
        .await
        .map_err(|e| ApiError::Conflict(format!("{} could not be read completely: {e}", family.label)))?;
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
