//! Inventory sync: every family the Graph client knows, read to the end, normalized, and compared
//! with what the last sync saw. An item missing from a *complete* read is kept as a ghost (Deleted,
//! with when); if it reappears it is restored, with history. A family whose read failed or was
//! incomplete is Unknown for this sync and nothing in it is ghosted.
//!
//! Items: `WS#ws#ENV#env / INV#<family>#<id>` (the item, payload included; large payloads go
//! through the store's codec) and `WS#ws#ENV#env / INVFAM#<family>` (the family's last sync).

use atlas_api_types as api;
use atlas_domain::{FamilySyncStatus, InventoryStatus};
use atlas_graph::Presence;
use atlas_graph::families::{FAMILIES, Family};
use serde_json::{Value, json};

use crate::error::{ServiceError, ServiceResult};
use crate::records::inventory::{self as rec, InventoryFamily, InventoryItem, Normalized};
use crate::records::{self, Record};
use crate::scope::EnvScope;
use crate::state::AppState;

fn hash(v: &Value) -> String {
    // serde_json's maps are ordered, so equal payloads serialize identically.
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    d.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn str_of(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
}

/// The normalized view of one Graph object.
pub fn normalize(object: &Value) -> Normalized {
    let assignments = object.get("assignments").and_then(Value::as_array);
    let groups = assignments.map(|a| a.len()).unwrap_or(0);
    Normalized {
        id: str_of(object, &["id"]),
        name: str_of(object, &["displayName", "name"]).unwrap_or_default(),
        odata_type: str_of(object, &["@odata.type"]),
        platform: str_of(object, &["platforms", "platform"])
            .or_else(|| str_of(object, &["@odata.type"]).map(|t| platform_of(&t))),
        last_modified: str_of(object, &["lastModifiedDateTime", "modifiedDateTime"]),
        assignment_summary: if assignments.is_none() {
            "unknown".to_owned()
        } else if groups == 0 {
            "unassigned".to_owned()
        } else {
            format!("{groups} assignment(s)")
        },
        scope_tags: object.get("roleScopeTagIds").cloned().unwrap_or(json!([])),
    }
}

fn platform_of(odata_type: &str) -> String {
    let t = odata_type.to_ascii_lowercase();
    for (needle, p) in [
        ("windows", "windows"),
        ("ios", "ios"),
        ("macos", "macos"),
        ("android", "android"),
    ] {
        if t.contains(needle) {
            return p.to_owned();
        }
    }
    "any".to_owned()
}

/// What one family's sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FamilySync {
    pub seen: usize,
    pub added: usize,
    pub changed: usize,
    pub ghosted: usize,
    pub restored: usize,
    /// Listed but not read in full (after retries): left as the last sync saw them.
    pub unread: usize,
}

/// Syncs one family into the environment's inventory. The read is complete or it is an error:
/// then nothing of the family changes but its Unknown marker (with when and why). An object the
/// list no longer names is ghosted only when its own GET answers 404; a list that left out an object
/// that still exists, or a missing object that cannot be confirmed deleted, makes the family Unknown
/// and ghosts nothing (a truncated list is never a deletion).
pub async fn sync_family(
    state: &AppState,
    scope: &EnvScope,
    client: &atlas_graph::TenantClient,
    family: &Family,
) -> ServiceResult<FamilySync> {
    let now = state.clock.now_millis();
    let read = match client.read_family(family).await {
        Ok(r) => r,
        // Throttled for longer than a unit should hold its worker: nothing is known yet, come back.
        Err(e) if e.must_wait().is_some() => return Err(ServiceError::Wait(e.must_wait().unwrap_or_default())),
        Err(e) => {
            crate::provider::record_run_failure(state, scope, &e).await;
            let why = format!("{} could not be read completely: {e}", family.label);
            return Err(mark_unknown(state, scope, family, now, why).await);
        }
    };
    let env = scope.records(&state.table);
    let stored: Vec<InventoryItem> =
        records::query_all(&state.table, env.query(rec::items_prefix(Some(family.code)))).await?;
    let mut by_id: std::collections::BTreeMap<String, InventoryItem> =
        stored.into_iter().map(|i| (i.item_id.clone(), i)).collect();
    // Listed but not read in full: they exist; they stay as the last sync saw them.
    for f in &read.failed {
        by_id.remove(&f.id);
    }
    let objects = read.objects;
    let mut out = FamilySync {
        seen: objects.len(),
        unread: read.failed.len(),
        ..FamilySync::default()
    };
    let mut writes = Vec::new();
    for object in &objects {
        let Some(id) = object.get("id").and_then(Value::as_str) else {
            continue;
        };
        let prior = by_id.remove(id);
        let Some((item, event)) = seen(scope, family, object, prior.as_ref(), now) else {
            continue;
        };
        match event {
            "seen" => out.added += 1,
            "restored" => out.restored += 1,
            _ => out.changed += 1,
        }
        writes.push(item);
    }
    // What the list did not name is a ghost now (once), if its own GET proves it deleted.
    let missing: Vec<String> = by_id
        .iter()
        .filter(|(_, i)| i.status != InventoryStatus::Deleted)
        .map(|(id, _)| id.clone())
        .collect();
    if !missing.is_empty() {
        let (mut live, mut unconfirmed, mut why) = (0usize, 0usize, None);
        match client.confirm_absent(family, &missing).await {
            Ok(answers) => {
                for (_, presence) in answers {
                    match presence {
                        Presence::Gone => {}
                        Presence::Present => live += 1,
                        Presence::Unconfirmed(e) => {
                            unconfirmed += 1;
                            why.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            }
            Err(e) => {
                unconfirmed = missing.len();
                why = Some(e.to_string());
            }
        }
        if live > 0 {
            let why = format!(
                "the list of {} ended early: it left out {live} object(s) that still exist (read {} of at least {})",
                family.label,
                objects.len() + out.unread,
                objects.len() + out.unread + live
            );
            return Err(mark_unknown(state, scope, family, now, why).await);
        }
        if unconfirmed > 0 {
            let why = format!(
                "{unconfirmed} object(s) of {} missing from the list could not be confirmed deleted: {}",
                family.label,
                why.unwrap_or_default()
            );
            return Err(mark_unknown(state, scope, family, now, why).await);
        }
    }
    for (_, gone) in by_id {
        if let Some(ghost) = ghosted(gone, now) {
            out.ghosted += 1;
            writes.push(ghost);
        }
    }
    for w in writes {
        state.table.put(w.to_item(), None).await?;
    }
    let marker = InventoryFamily {
        pk: scope.pk(),
        family: family.code.to_owned(),
        status: FamilySyncStatus::Ok,
        at_ms: now,
        count: Some(objects.len() as u64),
        unread: Some(out.unread as u64),
        error: None,
    };
    state.table.transact(vec![marker.put()]).await?;
    Ok(out)
}

/// `object` as the inventory item to write, and the history event it adds (`seen`, `restored` or
/// `changed`); `None` when the stored item already holds exactly this payload.
fn seen(
    scope: &EnvScope,
    family: &Family,
    object: &Value,
    prior: Option<&InventoryItem>,
    now: i64,
) -> Option<(InventoryItem, &'static str)> {
    let id = object.get("id").and_then(Value::as_str)?;
    let h = hash(object);
    let event = match prior {
        None => "seen",
        Some(p) if p.status == InventoryStatus::Deleted => "restored",
        Some(p) if p.payload_hash != h => "changed",
        Some(_) => return None,
    };
    let mut history = prior.map(|p| p.history.clone()).unwrap_or(json!([]));
    if let Some(list) = history.as_array_mut() {
        list.push(json!({"event": event, "at_ms": now}));
        let len = list.len();
        if len > 50 {
            list.drain(..len - 50);
        }
    }
    let item = InventoryItem {
        pk: scope.pk(),
        workspace_id: scope.workspace().workspace_id().as_str().to_owned(),
        environment_id: scope.environment_id().as_str().to_owned(),
        item_id: id.to_owned(),
        family: family.code.to_owned(),
        status: InventoryStatus::Active,
        payload_hash: h,
        payload: object.clone(),
        first_seen_ms: prior.map(|p| p.first_seen_ms).unwrap_or(now),
        last_seen_ms: now,
        history,
        deleted_ms: None,
        view: normalize(object),
    };
    Some((item, event))
}

/// The item as a ghost (deleted at `now`), unless it already is one.
fn ghosted(mut gone: InventoryItem, now: i64) -> Option<InventoryItem> {
    if gone.status == InventoryStatus::Deleted {
        return None;
    }
    gone.status = InventoryStatus::Deleted;
    gone.deleted_ms = Some(now);
    if let Some(list) = gone.history.as_array_mut() {
        list.push(json!({"event": "deleted", "at_ms": now}));
    }
    Some(gone)
}

/// What the change feed read of some objects of a family: each read object written as
/// [`sync_family`] would, each object Graph answered 404 for made a ghost. The family's sync
/// marker is left alone (only a full read says the family is complete).
pub async fn apply_objects(
    state: &AppState,
    scope: &EnvScope,
    family: &Family,
    objects: &[Value],
    gone: &[String],
) -> ServiceResult<usize> {
    let now = state.clock.now_millis();
    let env = scope.records(&state.table);
    let mut writes = Vec::new();
    for object in objects {
        let Some(id) = object.get("id").and_then(Value::as_str) else {
            continue;
        };
        let prior: Option<InventoryItem> = env.get(rec::item_sk(family.code, id)).await?;
        writes.extend(seen(scope, family, object, prior.as_ref(), now).map(|(i, _)| i));
    }
    for id in gone {
        if let Some(prior) = env.get::<InventoryItem>(rec::item_sk(family.code, id)).await? {
            writes.extend(ghosted(prior, now));
        }
    }
    let n = writes.len();
    for w in writes {
        state.table.put(w.to_item(), None).await?;
    }
    Ok(n)
}

/// Records the family Unknown as of `now`, with why, and gives the error its run unit fails with.
async fn mark_unknown(state: &AppState, scope: &EnvScope, family: &Family, now: i64, why: String) -> ServiceError {
    let marker = InventoryFamily {
        pk: scope.pk(),
        family: family.code.to_owned(),
        status: FamilySyncStatus::Unknown,
        at_ms: now,
        count: None,
        unread: None,
        error: Some(why.clone()),
    };
    match state.table.put(marker.to_item(), None).await {
        Ok(()) => ServiceError::Conflict(why),
        Err(e) => e.into(),
    }
}

/// The last sync of each family of the environment that has been synced: `ok`, or `unknown` with
/// when and why.
pub async fn family_states(state: &AppState, scope: &EnvScope) -> ServiceResult<Vec<api::InventoryFamily>> {
    let env = scope.records(&state.table);
    let markers: Vec<InventoryFamily> = records::query_all(&state.table, env.query(rec::FAMILIES_PREFIX)).await?;
    Ok(markers
        .into_iter()
        .map(|m| api::InventoryFamily {
            label: Family::by_code(&m.family)
                .map(|f| f.label.to_owned())
                .unwrap_or_else(|| m.family.clone()),
            family: m.family,
            // `ok` only when the read was whole: anything else is not trusted.
            state: m.status,
            status: m.status.canonical(),
            at_ms: m.at_ms,
            reason: m.error,
            count: m.count,
            unread: m.unread.unwrap_or(0),
        })
        .collect())
}

pub fn families() -> &'static [Family] {
    FAMILIES
}
