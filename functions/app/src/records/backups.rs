//! Backup records (environment partition, ADR 0020): the set `BACKUPSET#<set>`, one item per
//! captured object `BACKUP#<set>#ITEM#<family>#<id>`, payloads by content `BLOB#<hash>` and a small
//! mark per payload `BLOBREF#<hash>` (when a backup last referenced it).
//!
//! These records carry no environment id of their own in every item ever written, so each keeps
//! the partition it was read from (`PK`) and is built from the scope's newtypes.

use atlas_domain::{EnvironmentId, RunId, WorkspaceId};
use atlas_store::{Cond, Key, TxItem, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Record;
use super::keys::env_pk;

/// Sort-key prefix of an environment's sets.
pub const SETS: &str = "BACKUPSET#";
/// Sort-key prefix of every backup item of an environment (whatever the set).
pub const ITEMS: &str = "BACKUP#";
/// Sort-key prefix of the payload marks.
pub const BLOB_REFS: &str = "BLOBREF#";
/// The mark's attribute the sweep compares with its cutoff.
pub const LAST_REFERENCED_MS: &str = "last_referenced_ms";
/// The payload's attribute the sweep compares with its cutoff.
pub const WRITTEN_MS: &str = "written_ms";
/// A set's attributes naming, per family, the items whose payload was not stored.
const UNREADABLE: &str = "unreadable_";

pub fn set_sk(set: &RunId) -> String {
    format!("{SETS}{set}")
}

/// The sort-key prefix of one set's items.
pub fn items_of(set: &RunId) -> String {
    format!("{ITEMS}{set}#ITEM#")
}

/// The sort-key prefix of one family's items in a set.
pub fn items_of_family(set: &RunId, family: &str) -> String {
    format!("{}{family}#", items_of(set))
}

pub fn item_sk(set: &RunId, family: &str, item_id: &str) -> String {
    format!("{}{item_id}", items_of_family(set, family))
}

pub fn blob_sk(hash: &str) -> String {
    format!("BLOB#{hash}")
}

pub fn blob_ref_sk(hash: &str) -> String {
    format!("{BLOB_REFS}{hash}")
}

/// A backup set: what a capture run fills.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupSetRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub set_id: String,
    #[serde(default)]
    pub workspace_id: String,
    #[serde(default)]
    pub environment_id: String,
    pub families: Vec<String>,
    pub created_ms: i64,
    /// A schedule's retention rules, applied once the run ended; stored as null without one.
    #[serde(default)]
    pub retention: Option<Value>,
    /// The retention run started for this set (at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_run: Option<String>,
    /// A baseline profile to capture a snapshot of from this set once it is complete (a fresh
    /// capture: `POST …/baselines/{id}/captures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// A promotion whose cutover waits for this set (the target's backup before it is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<String>,
    /// Attributes written by later updates (`unreadable_<family>`), and the item's own keys.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl BackupSetRecord {
    pub fn new(
        ws: &WorkspaceId,
        env: &EnvironmentId,
        set_id: &str,
        families: &[String],
        created_ms: i64,
        retention: Option<Value>,
    ) -> Self {
        Self {
            pk: env_pk(ws, env),
            set_id: set_id.to_owned(),
            workspace_id: ws.to_string(),
            environment_id: env.to_string(),
            families: families.to_vec(),
            created_ms,
            retention,
            prune_run: None,
            baseline: None,
            promotion: None,
            rest: Map::new(),
        }
    }

    /// `family/id` of every item captured without a stored payload, by family.
    pub fn unreadable(&self) -> Vec<String> {
        self.rest
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(UNREADABLE)?, v.as_array()?)))
            .flat_map(|(family, ids)| {
                ids.iter()
                    .filter_map(move |id| Some(format!("{family}/{}", id.as_str()?)))
            })
            .collect()
    }

    /// Retention rules, when the set has some.
    pub fn retention(&self) -> Option<&Value> {
        self.retention.as_ref().filter(|r| r.is_object())
    }
}

/// Records that `ids` of `family` have no stored payload.
pub fn mark_unreadable(family: &str, ids: &[String]) -> Update {
    Update::new().set(&format!("{UNREADABLE}{family}"), Value::from(ids.to_vec()))
}

/// Records the retention run started for a set.
pub fn set_prune_run(run_id: &str) -> Update {
    Update::new().set("prune_run", run_id)
}

impl Record for BackupSetRecord {
    const ENTITY: &'static str = "backup_set";
    fn key(&self) -> Key {
        Key::new(&self.pk, format!("{SETS}{}", self.set_id))
    }
}

/// One captured object of a set: which payload holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupItemRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub set_id: String,
    pub family: String,
    pub item_id: String,
    pub name: String,
    pub hash: String,
}

impl BackupItemRecord {
    pub fn new(
        ws: &WorkspaceId,
        env: &EnvironmentId,
        set: &RunId,
        family: &str,
        item_id: &str,
        name: &str,
        hash: &str,
    ) -> Self {
        Self {
            pk: env_pk(ws, env),
            set_id: set.to_string(),
            family: family.to_owned(),
            item_id: item_id.to_owned(),
            name: name.to_owned(),
            hash: hash.to_owned(),
        }
    }

    /// The item's `family/id`, as restores name it.
    pub fn path(&self) -> String {
        format!("{}/{}", self.family, self.item_id)
    }
}

impl Record for BackupItemRecord {
    const ENTITY: &'static str = "backup_item";
    fn key(&self) -> Key {
        Key::new(
            &self.pk,
            format!("{ITEMS}{}#ITEM#{}#{}", self.set_id, self.family, self.item_id),
        )
    }
}

impl From<&BackupItemRecord> for atlas_api_types::BackupItem {
    fn from(i: &BackupItemRecord) -> Self {
        Self {
            family: i.family.clone(),
            id: i.item_id.clone(),
            name: i.name.clone(),
            hash: i.hash.clone(),
        }
    }
}

/// Which payload, and whose: shared by a payload and its mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadOf {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub hash: String,
    #[serde(default)]
    pub workspace_id: String,
    #[serde(default)]
    pub environment_id: String,
}

impl PayloadOf {
    pub fn new(ws: &WorkspaceId, env: &EnvironmentId, hash: &str) -> Self {
        Self {
            pk: env_pk(ws, env),
            hash: hash.to_owned(),
            workspace_id: ws.to_string(),
            environment_id: env.to_string(),
        }
    }
}

/// A payload, stored once per content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobRecord {
    #[serde(flatten)]
    pub of: PayloadOf,
    #[serde(default)]
    pub written_ms: i64,
    #[serde(default)]
    pub payload: Value,
}

impl Record for BlobRecord {
    const ENTITY: &'static str = "backup_blob";
    fn key(&self) -> Key {
        Key::new(&self.of.pk, blob_sk(&self.of.hash))
    }
}

/// A payload's mark: exists only while its payload does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobRefRecord {
    #[serde(flatten)]
    pub of: PayloadOf,
    pub last_referenced_ms: i64,
}

impl Record for BlobRefRecord {
    const ENTITY: &'static str = "backup_blob_ref";
    fn key(&self) -> Key {
        Key::new(&self.of.pk, blob_ref_sk(&self.of.hash))
    }
}

/// Marks the payload at `mark` referenced now, refused (condition failed) when no mark exists.
pub fn touch_blob_ref(mark: Key, now_ms: i64) -> TxItem {
    TxItem::Update {
        key: mark,
        update: Update::new().set(LAST_REFERENCED_MS, now_ms),
        cond: Some(Cond::Exists),
    }
}

/// Holds while `attribute` (a mark's or payload's time) is still before `cutoff`.
pub fn older_than(attribute: &str, cutoff: i64) -> Cond {
    Cond::Lt(attribute.into(), cutoff.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> (WorkspaceId, EnvironmentId, RunId) {
        (
            WorkspaceId::parse("ws-a").unwrap(),
            EnvironmentId::parse("env-b").unwrap(),
            RunId::parse("01jset").unwrap(),
        )
    }

    fn item(v: Value) -> atlas_store::Item {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_set_round_trips_and_reads_what_main_stored() {
        let (ws, env, set) = ids();
        let rec = BackupSetRecord::new(&ws, &env, set.as_str(), &["a".into()], 7, None);
        let stored = rec.to_item();
        // The shape `backup::capture_start` wrote before typed records.
        let old = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BACKUPSET#01jset", "entity": "backup_set", "set_id": "01jset",
            "workspace_id": "ws-a", "environment_id": "env-b", "families": ["a"], "created_ms": 7,
            "retention": null,
        }));
        assert_eq!(stored, old);
        assert_eq!(BackupSetRecord::from_item(stored.clone()).unwrap().to_item(), stored);
        let mut later = old.clone();
        later.insert("unreadable_a".into(), json!(["x", "y"]));
        later.insert("prune_run".into(), json!("01jprune"));
        later.insert("retention".into(), json!({"keep_last": 2}));
        let read = BackupSetRecord::from_item(later).unwrap();
        assert_eq!(read.unreadable(), ["a/x", "a/y"]);
        assert_eq!(read.prune_run.as_deref(), Some("01jprune"));
        assert_eq!(read.retention(), Some(&json!({"keep_last": 2})));
        assert_eq!(read.key(), Key::new("WS#ws-a#ENV#env-b", set_sk(&set)));
    }

    #[test]
    fn items_blobs_and_marks_keep_their_stored_shape() {
        let (ws, env, set) = ids();
        let i = BackupItemRecord::new(&ws, &env, &set, "fam", "id1", "Name", "h1");
        let old_item = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BACKUP#01jset#ITEM#fam#id1", "entity": "backup_item",
            "set_id": "01jset", "family": "fam", "item_id": "id1", "name": "Name", "hash": "h1",
        }));
        assert_eq!(i.to_item(), old_item);
        assert_eq!(BackupItemRecord::from_item(old_item).unwrap(), i);
        assert_eq!(i.key().sk, item_sk(&set, "fam", "id1"));
        assert!(i.key().sk.starts_with(&items_of(&set)) && i.key().sk.starts_with(ITEMS));

        let b = BlobRecord {
            of: PayloadOf::new(&ws, &env, "h1"),
            written_ms: 5,
            payload: json!({"id": "x"}),
        };
        let old_blob = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BLOB#h1", "entity": "backup_blob", "hash": "h1",
            "workspace_id": "ws-a", "environment_id": "env-b", "written_ms": 5, "payload": {"id": "x"},
        }));
        assert_eq!(b.to_item(), old_blob);
        assert_eq!(BlobRecord::from_item(old_blob).unwrap(), b);

        let r = BlobRefRecord {
            of: PayloadOf::new(&ws, &env, "h1"),
            last_referenced_ms: 9,
        };
        let old_ref = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BLOBREF#h1", "entity": "backup_blob_ref", "hash": "h1",
            "workspace_id": "ws-a", "environment_id": "env-b", "last_referenced_ms": 9,
        }));
        assert_eq!(r.to_item(), old_ref);
        assert_eq!(BlobRefRecord::from_item(old_ref).unwrap(), r);
    }

    #[test]
    fn a_mark_without_its_time_is_corrupt() {
        let e = BlobRefRecord::from_item(item(json!({"PK": "p", "SK": "BLOBREF#h", "hash": "h"}))).unwrap_err();
        assert!(matches!(e, atlas_store::TableError::Corrupt(_)), "{e}");
    }
}
