//! Backup records (environment partition, ADR 0020, ADR 0040): the set `BACKUPSET#<set>`, one row
//! per captured family `BACKUP#<set>#FAMILY#<family>` naming its manifest, payloads by content
//! `BLOB#<hash>` (objects, and manifests: `[id, name, hash]` per object) and a small mark per
//! payload `BLOBREF#<hash>` (when a backup last referenced it). Sets written before manifests hold
//! one row per object, `BACKUP#<set>#ITEM#<family>#<id>`, and are still read. Since ADR 0050 a
//! set has no family rows: its capture run's unit records (`RUN#<set>/ITEM#<family>`, one per
//! family, written once anyway to count the unit) name each family's manifest
//! ([`FamilyManifest`]), and the set says so (`manifests_on_units`).
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
/// A manifest mark's attribute: the oldest of its payloads' marks.
const FLOOR_MS: &str = "floor_ms";
/// The payload's attribute the sweep compares with its cutoff.
pub const WRITTEN_MS: &str = "written_ms";
/// A set's attributes naming, per family, the items whose payload was not stored.
const UNREADABLE: &str = "unreadable_";

pub fn set_sk(set: &RunId) -> String {
    format!("{SETS}{set}")
}

/// The sort-key prefix of everything one set holds: its family rows (and a legacy set's items).
pub fn contents_of(set: &RunId) -> String {
    format!("{ITEMS}{set}#")
}

/// A set's row for one family.
pub fn family_sk(set: &RunId, family: &str) -> String {
    format!("{ITEMS}{set}#FAMILY#{family}")
}

/// The sort-key prefix of one set's items (sets written before manifests).
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
    /// The run retrying this set's failed items (at most one: `POST …/backups/{set}/retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_run: Option<String>,
    /// The families' manifests are named by the capture run's unit records, not by family rows
    /// of the set (ADR 0050). Absent on sets written before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manifests_on_units: bool,
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
            retry_run: None,
            manifests_on_units: true,
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

/// One family of a set: the manifest (a payload by content) listing its objects. Unchanged
/// families of later sets name the same manifest, so a backup of an unchanged family writes this
/// row only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupFamilyRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub set_id: String,
    pub family: String,
    /// The content hash of the manifest's payload.
    pub manifest: String,
    /// How many objects the manifest lists.
    pub items: usize,
}

impl BackupFamilyRecord {
    pub fn new(ws: &WorkspaceId, env: &EnvironmentId, set: &RunId, family: &str, manifest: &str, items: usize) -> Self {
        Self {
            pk: env_pk(ws, env),
            set_id: set.to_string(),
            family: family.to_owned(),
            manifest: manifest.to_owned(),
            items,
        }
    }
}

impl Record for BackupFamilyRecord {
    const ENTITY: &'static str = "backup_family";
    fn key(&self) -> Key {
        Key::new(&self.pk, format!("{ITEMS}{}#FAMILY#{}", self.set_id, self.family))
    }
}

/// One family of a set as its capture unit recorded it (ADR 0050): the unit's record carries the
/// manifest's content hash and how many objects it lists, so the set needs no row per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyManifest {
    pub family: String,
    pub manifest: String,
    pub items: usize,
}

impl FamilyManifest {
    /// The detail attribute naming the manifest.
    pub const ATTR: &'static str = "manifest";

    /// What a capture unit's record says, `None` for a unit that captured nothing (its family
    /// could not be read).
    pub fn of_unit(unit: &super::runs::RunItem) -> Option<Self> {
        let d = &unit.detail;
        Some(Self {
            family: unit.item.clone(),
            manifest: d.get(Self::ATTR)?.as_str()?.to_owned(),
            items: d.get("items").and_then(Value::as_u64).unwrap_or(0) as usize,
        })
    }
}

impl From<BackupFamilyRecord> for FamilyManifest {
    fn from(r: BackupFamilyRecord) -> Self {
        Self {
            family: r.family,
            manifest: r.manifest,
            items: r.items,
        }
    }
}

/// What a set's partition row is: a family (with its manifest) or, in a set written before
/// manifests, one object.
pub enum SetRow {
    Family(BackupFamilyRecord),
    Item(BackupItemRecord),
}

impl SetRow {
    /// `None` for a row of another kind under the same prefix.
    pub fn from_item(item: atlas_store::Item) -> Result<Option<Self>, atlas_store::TableError> {
        match item.get("entity").and_then(Value::as_str) {
            Some(BackupFamilyRecord::ENTITY) => BackupFamilyRecord::from_item(item).map(|r| Some(Self::Family(r))),
            Some(BackupItemRecord::ENTITY) => BackupItemRecord::from_item(item).map(|r| Some(Self::Item(r))),
            _ => Ok(None),
        }
    }
}

/// A family's manifest, stored as a payload: `[id, name, hash]` per object, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The family's code.
    pub manifest: String,
    pub items: Vec<(String, String, String)>,
}

impl Manifest {
    /// The manifest stored in a payload, `Corrupt` when the payload is not one.
    pub fn from_payload(v: Value) -> Result<Self, atlas_store::TableError> {
        serde_json::from_value(v).map_err(|e| atlas_store::TableError::Corrupt(format!("backup manifest: {e}")))
    }

    /// Its objects as items of set `set_id`, in the partition `pk`.
    pub fn into_items(self, pk: &str, set_id: &str) -> impl Iterator<Item = BackupItemRecord> {
        let (pk, set_id, family) = (pk.to_owned(), set_id.to_owned(), self.manifest);
        self.items
            .into_iter()
            .map(move |(item_id, name, hash)| BackupItemRecord {
                pk: pk.clone(),
                set_id: set_id.clone(),
                family: family.clone(),
                item_id,
                name,
                hash,
            })
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

/// A payload, stored once per content hash. Written once and read whole, so a large one is
/// stored packed (ADR 0053): Graph's JSON deflates to a third or less, and a payload's write,
/// storage and read units go with its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobRecord {
    #[serde(flatten)]
    pub of: PayloadOf,
    #[serde(default)]
    pub written_ms: i64,
    /// The payload as JSON: a small one, and every payload written before ADR 0053.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    payload: Value,
    /// The payload packed ([`atlas_store::codec::pack_json`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_z: Option<String>,
}

impl BlobRecord {
    /// Packed as [`super::packed`] packs: from the same length, when that is shorter.
    pub fn new(of: PayloadOf, written_ms: i64, payload: &Value) -> Result<Self, atlas_store::TableError> {
        Ok(match super::packed::shorter(payload, 0)? {
            Some(z) => Self {
                of,
                written_ms,
                payload: Value::Null,
                payload_z: Some(z),
            },
            None => Self {
                of,
                written_ms,
                payload: payload.clone(),
                payload_z: None,
            },
        })
    }

    /// The payload, unpacked when it was stored packed.
    pub fn into_payload(self) -> Result<Value, atlas_store::TableError> {
        match self.payload_z {
            Some(z) => atlas_store::codec::unpack_json(&z),
            None => Ok(self.payload),
        }
    }
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
    /// A manifest's mark only: no payload the manifest lists had a mark older than this when a
    /// backup last checked them (ADR 0040).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_ms: Option<i64>,
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

/// Marks the manifest at `mark` referenced now with its payloads' marks no older than `floor_ms`,
/// refused (condition failed) when no mark exists.
pub fn touch_manifest_ref(mark: Key, now_ms: i64, floor_ms: i64) -> TxItem {
    TxItem::Update {
        key: mark,
        update: Update::new().set(LAST_REFERENCED_MS, now_ms).set(FLOOR_MS, floor_ms),
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
        // Since ADR 0050 a new set says its units name its manifests; one written before reads
        // as a set of family rows.
        let mut now = old.clone();
        now.insert("manifests_on_units".into(), json!(true));
        assert_eq!(stored, now);
        assert_eq!(BackupSetRecord::from_item(stored.clone()).unwrap().to_item(), stored);
        assert!(!BackupSetRecord::from_item(old.clone()).unwrap().manifests_on_units);
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

        let b = BlobRecord::new(PayloadOf::new(&ws, &env, "h1"), 5, &json!({"id": "x"})).unwrap();
        let old_blob = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BLOB#h1", "entity": "backup_blob", "hash": "h1",
            "workspace_id": "ws-a", "environment_id": "env-b", "written_ms": 5, "payload": {"id": "x"},
        }));
        assert_eq!(b.to_item(), old_blob, "a small payload stays plain");
        assert_eq!(BlobRecord::from_item(old_blob).unwrap(), b);

        let r = BlobRefRecord {
            of: PayloadOf::new(&ws, &env, "h1"),
            last_referenced_ms: 9,
            floor_ms: None,
        };
        let old_ref = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BLOBREF#h1", "entity": "backup_blob_ref", "hash": "h1",
            "workspace_id": "ws-a", "environment_id": "env-b", "last_referenced_ms": 9,
        }));
        assert_eq!(r.to_item(), old_ref);
        assert_eq!(BlobRefRecord::from_item(old_ref).unwrap(), r);
    }

    #[test]
    fn a_large_payload_is_stored_packed_and_reads_back_whole() {
        let (ws, env, _) = ids();
        let settings: Vec<Value> = (0..60)
            .map(|i| json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingDefinitionId": format!("device_vendor_msft_policy_config_{i}"), "value": i % 3 == 0}))
            .collect();
        let payload = json!({"id": "p1", "displayName": "Baseline", "settings": settings});
        let plain = serde_json::to_string(&payload).unwrap().len();
        let b = BlobRecord::new(PayloadOf::new(&ws, &env, "h2"), 7, &payload).unwrap();
        let stored = b.to_item();
        assert!(!stored.contains_key("payload"), "no plain copy beside the packed one");
        let z = stored["payload_z"].as_str().expect("packed");
        assert!(z.len() * 3 < plain, "{} packed of {plain}", z.len());
        let read = BlobRecord::from_item(stored).unwrap();
        assert_eq!(read.into_payload().unwrap(), payload);
        // Written plain before ADR 0053: read as it is.
        let old = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BLOB#h2", "entity": "backup_blob", "hash": "h2",
            "workspace_id": "ws-a", "environment_id": "env-b", "written_ms": 5, "payload": payload.clone(),
        }));
        assert_eq!(BlobRecord::from_item(old).unwrap().into_payload().unwrap(), payload);
        // A damaged packed value is an error, never a wrong payload.
        let mut bad = b.to_item();
        bad.insert("payload_z".into(), json!("bm90IGRlZmxhdGU="));
        assert!(BlobRecord::from_item(bad).unwrap().into_payload().is_err());
    }

    #[test]
    fn a_family_row_and_its_manifest_read_back_as_items() {
        let (ws, env, set) = ids();
        let f = BackupFamilyRecord::new(&ws, &env, &set, "fam", "m1", 2);
        let stored = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "BACKUP#01jset#FAMILY#fam", "entity": "backup_family",
            "set_id": "01jset", "family": "fam", "manifest": "m1", "items": 2,
        }));
        assert_eq!(f.to_item(), stored);
        assert_eq!(f.key().sk, family_sk(&set, "fam"));
        assert!(f.key().sk.starts_with(&contents_of(&set)) && !f.key().sk.starts_with(&items_of(&set)));
        assert!(matches!(SetRow::from_item(stored).unwrap(), Some(SetRow::Family(r)) if r == f));
        let legacy = BackupItemRecord::new(&ws, &env, &set, "fam", "id1", "Name", "h1").to_item();
        assert!(matches!(SetRow::from_item(legacy).unwrap(), Some(SetRow::Item(i)) if i.item_id == "id1"));
        assert!(
            SetRow::from_item(item(json!({"entity": "backup_set"})))
                .unwrap()
                .is_none()
        );

        let m =
            Manifest::from_payload(json!({"manifest": "fam", "items": [["id1", "One", "h1"], ["id2", "Two", "h2"]]}))
                .unwrap();
        let items: Vec<_> = m.into_items("WS#ws-a#ENV#env-b", "01jset").collect();
        assert_eq!(
            items[1],
            BackupItemRecord::new(&ws, &env, &set, "fam", "id2", "Two", "h2")
        );
        let e = Manifest::from_payload(json!({"id": "an object, not a manifest"})).unwrap_err();
        assert!(matches!(e, atlas_store::TableError::Corrupt(_)), "{e}");
        // A manifest's mark carries its floor; a payload's does not.
        let mark = BlobRefRecord {
            of: PayloadOf::new(&ws, &env, "m1"),
            last_referenced_ms: 9,
            floor_ms: Some(5),
        };
        assert_eq!(mark.to_item()["floor_ms"], 5);
        assert_eq!(BlobRefRecord::from_item(mark.to_item()).unwrap(), mark);
    }

    #[test]
    fn a_mark_without_its_time_is_corrupt() {
        let e = BlobRefRecord::from_item(item(json!({"PK": "p", "SK": "BLOBREF#h", "hash": "h"}))).unwrap_err();
        assert!(matches!(e, atlas_store::TableError::Corrupt(_)), "{e}");
    }
}
