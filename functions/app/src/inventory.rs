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
use atlas_store::{Item, Query, TxItem};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::scope::EnvScope;
use crate::state::AppState;
use crate::tenancy::{n, obj, s};

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
pub fn normalize(family: &Family, object: &Value) -> Value {
    let assignments = object.get("assignments").and_then(Value::as_array);
    let groups = assignments.map(|a| a.len()).unwrap_or(0);
    json!({
        "id": str_of(object, &["id"]),
        "name": str_of(object, &["displayName", "name"]).unwrap_or_default(),
        "odata_type": str_of(object, &["@odata.type"]),
        "platform": str_of(object, &["platforms", "platform"]).or_else(|| str_of(object, &["@odata.type"]).map(|t| platform_of(&t))),
        "last_modified": str_of(object, &["lastModifiedDateTime", "modifiedDateTime"]),
        "assignment_summary": if assignments.is_none() { "unknown".to_owned() } else if groups == 0 { "unassigned".to_owned() } else { format!("{groups} assignment(s)") },
        "scope_tags": object.get("roleScopeTagIds").cloned().unwrap_or(json!([])),
        "family": family.code,
    })
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
) -> Result<FamilySync, ApiError> {
    let now = state.clock.now_millis();
    let read = match client.read_family(family).await {
        Ok(r) => r,
        // Throttled for longer than a unit should hold its worker: nothing is known yet, come back.
        Err(e) if e.must_wait().is_some() => return Err(ApiError::Wait(e.must_wait().unwrap_or_default())),
        Err(e) => {
            crate::provider::record_run_failure(state, scope, &e).await;
            let why = format!("{} could not be read completely: {e}", family.label);
            return Err(mark_unknown(state, scope, family, now, why).await);
        }
    };
    let stored = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with(format!("INV#{}#", family.code)))
        .await?;
    let mut by_id: std::collections::BTreeMap<String, Item> =
        stored.into_iter().map(|i| (s(&i, "item_id"), i)).collect();
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
        let h = hash(object);
        let prior = by_id.remove(id);
        let mut history = prior
            .as_ref()
            .and_then(|p| p.get("history").cloned())
            .unwrap_or(json!([]));
        let event = match &prior {
            None => {
                out.added += 1;
                Some("seen")
            }
            Some(p) if s(p, "status") == "deleted" => {
                out.restored += 1;
                Some("restored")
            }
            Some(p) if s(p, "payload_hash") != h => {
                out.changed += 1;
                Some("changed")
            }
            Some(_) => None,
        };
        let Some(event) = event else { continue };
        if let Some(list) = history.as_array_mut() {
            list.push(json!({"event": event, "at_ms": now}));
            let len = list.len();
            if len > 50 {
                list.drain(..len - 50);
            }
        }
        let mut item = obj(json!({
            "PK": scope.pk(), "SK": format!("INV#{}#{id}", family.code), "entity": "inventory_item",
            "workspace_id": scope.workspace().workspace_id().as_str(), "environment_id": scope.environment_id().as_str(),
            "item_id": id, "family": family.code, "status": "active", "payload_hash": h, "payload": object,
            "first_seen_ms": prior.as_ref().map(|p| n(p, "first_seen_ms")).unwrap_or(now), "last_seen_ms": now,
            "history": history,
        }));
        if let Value::Object(norm) = normalize(family, object) {
            for (k, v) in norm {
                item.entry(k).or_insert(v);
            }
        }
        writes.push(item);
    }
    // What the list did not name is a ghost now (once), if its own GET proves it deleted.
    let missing: Vec<String> = by_id
        .iter()
        .filter(|(_, i)| s(i, "status") != "deleted")
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
    for (_, mut gone) in by_id {
        if s(&gone, "status") == "deleted" {
            continue;
        }
        out.ghosted += 1;
        gone.insert("status".into(), json!("deleted"));
        gone.insert("deleted_ms".into(), json!(now));
        if let Some(list) = gone.get_mut("history").and_then(Value::as_array_mut) {
            list.push(json!({"event": "deleted", "at_ms": now}));
        }
        writes.push(gone);
    }
    for w in writes {
        state.table.put(w, None).await?;
    }
    let marker = obj(json!({
        "PK": scope.pk(), "SK": format!("INVFAM#{}", family.code), "entity": "inventory_family",
        "family": family.code, "status": "ok", "at_ms": now, "count": objects.len(), "unread": out.unread,
    }));
    state
        .table
        .transact(vec![TxItem::Put {
            item: marker,
            cond: None,
        }])
        .await?;
    Ok(out)
}

/// Records the family Unknown as of `now`, with why, and gives the error its run unit fails with.
async fn mark_unknown(state: &AppState, scope: &EnvScope, family: &Family, now: i64, why: String) -> ApiError {
    let marker = obj(json!({
        "PK": scope.pk(), "SK": format!("INVFAM#{}", family.code), "entity": "inventory_family",
        "family": family.code, "status": "unknown", "at_ms": now, "error": why,
    }));
    match state.table.put(marker, None).await {
        Ok(()) => ApiError::Conflict(why),
        Err(e) => e.into(),
    }
}

/// The last sync of each family of the environment that has been synced: `ok`, or `unknown` with
/// when and why.
pub async fn family_states(state: &AppState, scope: &EnvScope) -> Result<Vec<api::InventoryFamily>, ApiError> {
    let markers = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("INVFAM#".to_owned()))
        .await?;
    Ok(markers
        .iter()
        .map(|m| {
            let code = s(m, "family");
            api::InventoryFamily {
                label: Family::by_code(&code)
                    .map(|f| f.label.to_owned())
                    .unwrap_or_else(|| code.clone()),
                family: code,
                // `ok` only when the read was whole: anything else is not trusted.
                status: FamilySyncStatus::parse(&s(m, "status")).unwrap_or(FamilySyncStatus::Unknown),
                at_ms: n(m, "at_ms"),
                reason: m.get("error").and_then(Value::as_str).map(str::to_owned),
                count: m.get("count").and_then(Value::as_u64),
                unread: m.get("unread").and_then(Value::as_u64).unwrap_or(0),
            }
        })
        .collect())
}

pub fn item_api(i: &Item, with_payload: bool) -> api::InventoryItem {
    let mut payload = i.get("payload").cloned().unwrap_or(Value::Null);
    atlas_domain::redact::redact(&mut payload);
    api::InventoryItem {
        id: s(i, "item_id"),
        family: s(i, "family"),
        name: s(i, "name"),
        platform: i.get("platform").and_then(Value::as_str).map(str::to_owned),
        last_modified: i.get("last_modified").and_then(Value::as_str).map(str::to_owned),
        assignment_summary: s(i, "assignment_summary"),
        scope_tags: i
            .get("scope_tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        payload_hash: s(i, "payload_hash"),
        status: InventoryStatus::parse(&s(i, "status")).unwrap_or(InventoryStatus::Active),
        deleted_ms: i.get("deleted_ms").and_then(Value::as_i64),
        last_seen_ms: n(i, "last_seen_ms"),
        // Written only by the sync step as `{event, at_ms}`; read leniently, as stores differ in
        // how they hand numbers back.
        history: i
            .get("history")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|e| api::InventoryEvent {
                        event: e.get("event").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        at_ms: e
                            .get("at_ms")
                            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
                            .or_else(|| e.get("at_ms").and_then(Value::as_str).and_then(|s| s.parse().ok()))
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        payload: with_payload.then_some(payload),
    }
}

pub fn families() -> &'static [Family] {
    FAMILIES
}
