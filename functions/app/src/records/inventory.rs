//! The environment's inventory as stored: `<env pk> / INV#<family>#<id>` (one item, payload
//! included; large payloads go through the store's codec) and `<env pk> / INVFAM#<family>` (the
//! family's last sync).

use atlas_api_types as api;
use atlas_domain::{FamilySyncStatus, InventoryStatus};
use atlas_store::Key;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;

/// The sort key of an inventory item.
pub fn item_sk(family: &str, item_id: &str) -> String {
    format!("INV#{family}#{item_id}")
}

/// The sort-key prefix of a family's items, or of every item.
pub fn items_prefix(family: Option<&str>) -> String {
    match family {
        Some(f) => format!("INV#{f}#"),
        None => "INV#".to_owned(),
    }
}

/// The sort key of a family's sync marker.
pub fn family_sk(family: &str) -> String {
    format!("INVFAM#{family}")
}

pub const FAMILIES_PREFIX: &str = "INVFAM#";

fn empty_list() -> Value {
    Value::Array(Vec::new())
}

/// The normalized view of one Graph object, stored with the item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalized {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub odata_type: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
    #[serde(default)]
    pub assignment_summary: String,
    #[serde(default = "empty_list")]
    pub scope_tags: Value,
}

/// `<env pk> / INV#<family>#<id>`. Attributes other than the ids are read leniently: fixtures
/// and older syncs wrote fewer of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(default)]
    pub workspace_id: String,
    #[serde(default)]
    pub environment_id: String,
    pub item_id: String,
    pub family: String,
    pub status: InventoryStatus,
    #[serde(default)]
    pub payload_hash: String,
    /// Stored packed when large (ADR 0053): written whole, read whole.
    #[serde(default, with = "super::packed")]
    pub payload: Value,
    #[serde(default)]
    pub first_seen_ms: i64,
    #[serde(default)]
    pub last_seen_ms: i64,
    /// `[{event, at_ms}]`, read leniently: stores differ in how they hand numbers back.
    #[serde(default = "empty_list")]
    pub history: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_ms: Option<i64>,
    #[serde(flatten)]
    pub view: Normalized,
}

impl Record for InventoryItem {
    const ENTITY: &'static str = "inventory_item";
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), item_sk(&self.family, &self.item_id))
    }
}

impl InventoryItem {
    pub fn to_api(&self, with_payload: bool) -> api::InventoryItem {
        let mut payload = self.payload.clone();
        atlas_domain::redact::redact(&mut payload);
        api::InventoryItem {
            id: self.item_id.clone(),
            family: self.family.clone(),
            name: self.view.name.clone(),
            platform: self.view.platform.clone(),
            last_modified: self.view.last_modified.clone(),
            assignment_summary: self.view.assignment_summary.clone(),
            scope_tags: self
                .view
                .scope_tags
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            payload_hash: self.payload_hash.clone(),
            state: self.status,
            status: self.status.canonical(),
            deleted_ms: self.deleted_ms,
            last_seen_ms: self.last_seen_ms,
            history: self
                .history
                .as_array()
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
}

/// `<env pk> / INVFAM#<family>`: the family's last sync, `ok` with its count or `unknown` with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryFamily {
    #[serde(rename = "PK")]
    pub pk: String,
    pub family: String,
    pub status: FamilySyncStatus,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Record for InventoryFamily {
    const ENTITY: &'static str = "inventory_family";
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), family_sk(&self.family))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::Item;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn an_item_stored_by_main_decodes_and_round_trips() {
        let (pk, id, now) = ("WS#ws-a#ENV#env-b", "p-1", 5_i64);
        // The sync step's item on main: its own attributes merged with the normalized view.
        let old = item(json!({
            "PK": pk, "SK": format!("INV#deviceConfigurations#{id}"), "entity": "inventory_item",
            "workspace_id": "ws-a", "environment_id": "env-b",
            "item_id": id, "family": "deviceConfigurations", "status": "active", "payload_hash": "abc",
            "payload": {"id": id, "displayName": "P", "secret": "x"},
            "first_seen_ms": now, "last_seen_ms": now, "history": [{"event": "seen", "at_ms": now}],
            "id": id, "name": "P", "odata_type": null, "platform": null, "last_modified": null,
            "assignment_summary": "unknown", "scope_tags": ["0"],
        }));
        let rec = InventoryItem::from_item(old.clone()).unwrap();
        assert_eq!(rec.to_item(), old);
        let a = rec.to_api(false);
        assert_eq!((a.name.as_str(), a.scope_tags.len(), a.history[0].at_ms), ("P", 1, 5));
        assert!(a.payload.is_none());
        // A ghost carries when it went.
        let mut ghost = old.clone();
        ghost.insert("status".into(), json!("deleted"));
        ghost.insert("deleted_ms".into(), json!(9));
        let g = InventoryItem::from_item(ghost.clone()).unwrap();
        assert_eq!((g.status, g.deleted_ms), (InventoryStatus::Deleted, Some(9)));
        assert_eq!(g.to_item(), ghost);
    }

    #[test]
    fn a_fixture_item_with_few_attributes_still_reads() {
        let old = item(json!({
            "PK": "WS#w#ENV#e", "SK": "INV#deviceConfigurations#i", "entity": "inventory_item", "item_id": "i",
            "family": "deviceConfigurations", "name": "Fixture", "status": "active", "payload": {"id": "i"},
        }));
        let rec = InventoryItem::from_item(old).unwrap();
        assert_eq!(rec.view.name, "Fixture");
        assert_eq!(rec.to_api(true).history.len(), 0);
    }

    #[test]
    fn family_markers_keep_their_stored_shape() {
        let ok = item(json!({
            "PK": "WS#w#ENV#e", "SK": "INVFAM#deviceConfigurations", "entity": "inventory_family",
            "family": "deviceConfigurations", "status": "ok", "at_ms": 3, "count": 2, "unread": 0,
        }));
        assert_eq!(InventoryFamily::from_item(ok.clone()).unwrap().to_item(), ok);
        let unknown = item(json!({
            "PK": "WS#w#ENV#e", "SK": "INVFAM#deviceConfigurations", "entity": "inventory_family",
            "family": "deviceConfigurations", "status": "unknown", "at_ms": 3, "error": "why",
        }));
        let u = InventoryFamily::from_item(unknown.clone()).unwrap();
        assert_eq!((u.status, u.error.as_deref()), (FamilySyncStatus::Unknown, Some("why")));
        assert_eq!(u.to_item(), unknown);
    }
}
