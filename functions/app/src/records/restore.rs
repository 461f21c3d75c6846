//! Restore records (spec 006). Target environment partition: the draft `RESTORE#<r>`, its plans
//! `RESTORE#<r>#PREVIEW#<p>`, where an earlier restore wrote an object
//! `RESTOREMAP#<source env>#<family>#<source id>`, and `MAA#<family>` (a write there needed Multi
//! Admin Approval). Run partition: `RUN#<run>/UNIT#<key>` (a unit's progress: the created id
//! before anything else).
//!
//! None of these items names its partition in an attribute, so each record keeps the `PK` it was
//! read from and is built from the scope's newtypes.

use std::collections::BTreeMap;

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, RestoreState, RunId, WorkspaceId};
use atlas_store::{Cond, Item, Key, TableError, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::env_pk;

/// Sort-key prefix of the drafts (and their previews) of an environment.
pub const DRAFTS: &str = "RESTORE#";
/// Sort-key prefix of the Multi Admin Approval flags.
pub const MAA: &str = "MAA#";

pub fn draft_sk(restore: &RunId) -> String {
    format!("{DRAFTS}{restore}")
}

pub fn preview_sk(restore: &RunId, preview: &RunId) -> String {
    format!("{DRAFTS}{restore}#PREVIEW#{preview}")
}

/// The mappings recorded for objects restored from `source_env`.
pub fn mappings_of(source_env: &EnvironmentId) -> String {
    format!("RESTOREMAP#{source_env}#")
}

pub fn mapping_sk(source_env: &EnvironmentId, family: &str, source_id: &str) -> String {
    format!("{}{}", mappings_of(source_env), mapped_object(family, source_id))
}

/// `family#source id`: a mapped object within its source environment's mappings.
pub fn mapped_object(family: &str, source_id: &str) -> String {
    format!("{family}#{source_id}")
}

pub fn maa_sk(family: &str) -> String {
    format!("{MAA}{family}")
}

fn run_pk(run_id: &str) -> String {
    format!("RUN#{run_id}")
}

/// A unit's progress record in its run's partition.
pub fn unit_key(run_id: &str, item: &str) -> Key {
    Key::new(run_pk(run_id), format!("UNIT#{item}"))
}

/// The run's record of a unit's result (a run item, written by the runs service).
pub use super::runs::item_key as run_item_key;

/// What a recorded run item says about why its unit did not succeed: `(name, reason)`.
pub fn run_item_reason(item: &Item) -> (Option<String>, Option<String>) {
    let detail = item.get("detail");
    let text = |k: &str| detail.and_then(|d| d.get(k)).and_then(Value::as_str).map(str::to_owned);
    (text("name"), text("reason"))
}

fn yes() -> bool {
    true
}

/// A restore: what to restore from which set, and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreDraftRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub restore_id: String,
    pub source_environment_id: String,
    pub backup_set_id: String,
    /// `family/id` of each chosen backup item.
    pub items: Vec<String>,
    #[serde(default = "yes")]
    pub include_assignments: bool,
    #[serde(default)]
    pub accept_partial: bool,
    pub state: RestoreState,
    pub created_by_email: String,
    pub created_ms: i64,
    /// The latest preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_preview_id: Option<String>,
}

/// What a new draft is made of.
pub struct NewDraft<'a> {
    pub restore: &'a RunId,
    pub source: &'a EnvironmentId,
    pub backup_set: &'a RunId,
    pub items: Vec<String>,
    pub include_assignments: bool,
    pub accept_partial: bool,
    pub created_by_email: String,
    pub created_ms: i64,
}

impl RestoreDraftRecord {
    pub fn new(ws: &WorkspaceId, env: &EnvironmentId, d: NewDraft<'_>) -> Self {
        Self {
            pk: env_pk(ws, env),
            restore_id: d.restore.to_string(),
            source_environment_id: d.source.to_string(),
            backup_set_id: d.backup_set.to_string(),
            items: d.items,
            include_assignments: d.include_assignments,
            accept_partial: d.accept_partial,
            state: RestoreState::Draft,
            created_by_email: d.created_by_email,
            created_ms: d.created_ms,
            preview_id: None,
            run_id: None,
            confirmed_preview_id: None,
        }
    }

    /// Drafts among items read under [`DRAFTS`] (which also holds their previews), in order.
    pub fn among(items: Vec<Item>) -> Result<Vec<Self>, TableError> {
        items
            .into_iter()
            .filter(|i| i.get("entity").and_then(Value::as_str) == Some(Self::ENTITY))
            .map(Self::from_item)
            .collect()
    }

    /// Whether the draft may still be previewed, confirmed or cancelled.
    pub fn is_open(&self) -> bool {
        matches!(self.state, RestoreState::Draft | RestoreState::Previewed)
    }
}

impl Record for RestoreDraftRecord {
    const ENTITY: &'static str = "restore";
    fn key(&self) -> Key {
        Key::new(&self.pk, format!("{DRAFTS}{}", self.restore_id))
    }
}

/// The condition of a change to an open draft.
pub fn while_open() -> Cond {
    Cond::Or(vec![in_state(RestoreState::Draft), in_state(RestoreState::Previewed)])
}

pub fn in_state(state: RestoreState) -> Cond {
    Cond::eq("state", state.as_str())
}

/// The draft now has `preview` as its latest preview.
pub fn previewed(preview: &str) -> Update {
    Update::new()
        .set("state", RestoreState::Previewed.as_str())
        .set("preview_id", preview)
}

/// The draft was confirmed: `run` executes `preview`.
pub fn confirmed(run: &str, preview: &str) -> Update {
    Update::new()
        .set("state", RestoreState::Confirmed.as_str())
        .set("run_id", run)
        .set("confirmed_preview_id", preview)
}

pub fn cancelled() -> Update {
    Update::new().set("state", RestoreState::Cancelled.as_str())
}

/// One planned item of a preview: how it matched live and what executing it will do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedItem {
    /// `family/source id`: the run's unit key.
    pub key: String,
    pub family: String,
    pub source_id: String,
    pub name: String,
    /// The backup payload's content hash.
    pub hash: String,
    /// `create`, `update`, `unchanged` or `conflict`.
    pub action: String,
    pub target_id: Option<String>,
    pub matched_by: String,
    pub warnings: Vec<String>,
    pub conflict: Option<String>,
    pub changes: Vec<api::FieldChange>,
    pub assignments: api::AssignmentChanges,
    /// What live looked like when planned (`-` when nothing matched).
    pub live_hash: String,
    /// The assignments to write, mapped to the target; `None` when assignments are left alone.
    pub assign: Option<Vec<Value>>,
    /// Assignment filters this run recreates that the assignments wait for.
    pub await_filters: Vec<String>,
    /// Source scope tag id → target id.
    pub scope_tags: BTreeMap<String, String>,
    /// Scope tags this run recreates that the item waits for.
    pub await_tags: Vec<String>,
    /// Other references the mapping table translates (source id → target id), replaced in the
    /// payload wherever they occur as a value (a promotion's named locations, apps, templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ids: BTreeMap<String, String>,
}

impl From<&PlannedItem> for api::PreviewItem {
    fn from(p: &PlannedItem) -> Self {
        Self {
            key: p.key.clone(),
            family: p.family.clone(),
            source_id: p.source_id.clone(),
            name: p.name.clone(),
            action: p.action.clone(),
            target_id: p.target_id.clone(),
            matched_by: p.matched_by.clone(),
            warnings: p.warnings.clone(),
            conflict: p.conflict.clone(),
            changes: p.changes.clone(),
            assignments: p.assignments.clone(),
        }
    }
}

/// A preview: the plan, fingerprinted over it and the live state it read, expiring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorePreviewRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub preview_id: String,
    pub restore_id: String,
    #[serde(flatten)]
    pub plan: Plan,
}

/// What a preview planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub fingerprint: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub items: Vec<PlannedItem>,
    pub groups: Vec<api::GroupMapping>,
    pub blockers: Vec<String>,
    pub summary: api::PreviewSummary,
    #[serde(default = "yes")]
    pub include_assignments: bool,
}

impl RestorePreviewRecord {
    pub fn new(ws: &WorkspaceId, env: &EnvironmentId, preview: &RunId, restore: &RunId, plan: Plan) -> Self {
        Self {
            pk: env_pk(ws, env),
            preview_id: preview.to_string(),
            restore_id: restore.to_string(),
            plan,
        }
    }
}

impl Record for RestorePreviewRecord {
    const ENTITY: &'static str = "restore_preview";
    fn key(&self) -> Key {
        Key::new(
            &self.pk,
            format!("{DRAFTS}{}#PREVIEW#{}", self.restore_id, self.preview_id),
        )
    }
}

impl From<&RestorePreviewRecord> for api::RestorePreview {
    fn from(i: &RestorePreviewRecord) -> Self {
        let p = &i.plan;
        Self {
            id: i.preview_id.clone(),
            restore_id: i.restore_id.clone(),
            fingerprint: p.fingerprint.clone(),
            created_ms: p.created_ms,
            expires_ms: p.expires_ms,
            summary: p.summary.clone(),
            items: p.items.iter().map(api::PreviewItem::from).collect(),
            groups: p.groups.clone(),
            blockers: p.blockers.clone(),
        }
    }
}

/// Where an earlier restore wrote an object of another environment (or of this one, recreated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreMappingRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    #[serde(rename = "SK", skip_serializing)]
    sk: String,
    pub target_id: String,
    pub run_id: String,
    pub at_ms: i64,
}

impl RestoreMappingRecord {
    pub fn new(
        ws: &WorkspaceId,
        env: &EnvironmentId,
        (source_env, family, source_id): (&EnvironmentId, &str, &str),
        target_id: &str,
        run_id: &str,
        at_ms: i64,
    ) -> Self {
        Self {
            pk: env_pk(ws, env),
            sk: mapping_sk(source_env, family, source_id),
            target_id: target_id.to_owned(),
            run_id: run_id.to_owned(),
            at_ms,
        }
    }

    /// `family#source id` of the mapped object, when it was restored from `source_env`.
    pub fn mapped(&self, source_env: &EnvironmentId) -> Option<&str> {
        self.sk.strip_prefix(&mappings_of(source_env))
    }
}

impl Record for RestoreMappingRecord {
    const ENTITY: &'static str = "restore_mapping";
    fn key(&self) -> Key {
        Key::new(&self.pk, &self.sk)
    }
}

/// A restore unit's progress: `creating` (a POST may have landed), `created` (with the id),
/// `writing` (an update started) and `completed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreUnitRecord {
    #[serde(default)]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

/// A unit's phase record at `key` ([`unit_key`]).
pub fn unit_item(key: &Key, phase: &str, target_id: Option<&str>) -> Item {
    let unit = RestoreUnitRecord {
        phase: phase.to_owned(),
        target_id: target_id.map(str::to_owned),
    };
    keyed(key, RESTORE_UNIT, &unit)
}

/// A unit's phase moved on.
pub fn unit_phase(phase: &str) -> Update {
    Update::new().set("phase", phase)
}

pub fn read_unit(item: Option<Item>) -> Result<RestoreUnitRecord, TableError> {
    match item {
        Some(i) => serde_json::from_value(Value::Object(i))
            .map_err(|e| TableError::Corrupt(format!("{RESTORE_UNIT} record: {e}"))),
        None => Ok(RestoreUnitRecord::default()),
    }
}

const RESTORE_UNIT: &str = "restore_unit";

fn keyed<T: Serialize>(key: &Key, entity: &str, v: &T) -> Item {
    let mut item = match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Item::new(),
    };
    item.insert("PK".into(), key.pk.clone().into());
    item.insert("SK".into(), key.sk.clone().into());
    item.insert("entity".into(), entity.into());
    item
}

/// A write to `family` needed Multi Admin Approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaaFlagRecord {
    #[serde(rename = "PK", skip_serializing)]
    pk: String,
    pub family: String,
    pub at_ms: i64,
}

impl MaaFlagRecord {
    pub fn new(ws: &WorkspaceId, env: &EnvironmentId, family: &str, at_ms: i64) -> Self {
        Self {
            pk: env_pk(ws, env),
            family: family.to_owned(),
            at_ms,
        }
    }
}

impl Record for MaaFlagRecord {
    const ENTITY: &'static str = "maa_flag";
    fn key(&self) -> Key {
        Key::new(&self.pk, maa_sk(&self.family))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    fn ids() -> (WorkspaceId, EnvironmentId, EnvironmentId, RunId, RunId) {
        (
            WorkspaceId::parse("ws-a").unwrap(),
            EnvironmentId::parse("env-t").unwrap(),
            EnvironmentId::parse("env-s").unwrap(),
            RunId::parse("01jr").unwrap(),
            RunId::parse("01jset").unwrap(),
        )
    }

    #[test]
    fn a_draft_keeps_its_stored_shape_through_its_states() {
        let (ws, env, src, r, set) = ids();
        let d = RestoreDraftRecord::new(
            &ws,
            &env,
            NewDraft {
                restore: &r,
                source: &src,
                backup_set: &set,
                items: vec!["fam/1".into()],
                include_assignments: true,
                accept_partial: false,
                created_by_email: "a@b.c".into(),
                created_ms: 3,
            },
        );
        // The shape `routes::restores::create` wrote before typed records.
        let old = item(json!({
            "PK": "WS#ws-a#ENV#env-t", "SK": "RESTORE#01jr", "entity": "restore", "restore_id": "01jr",
            "source_environment_id": "env-s", "backup_set_id": "01jset", "items": ["fam/1"],
            "include_assignments": true, "accept_partial": false, "state": "draft",
            "created_by_email": "a@b.c", "created_ms": 3,
        }));
        assert_eq!(d.to_item(), old);
        assert_eq!(RestoreDraftRecord::from_item(old.clone()).unwrap(), d);
        let mut confirmed = old;
        confirmed.insert("state".into(), json!("confirmed"));
        confirmed.insert("preview_id".into(), json!("01jp"));
        confirmed.insert("run_id".into(), json!("01jrun"));
        confirmed.insert("confirmed_preview_id".into(), json!("01jp"));
        let read = RestoreDraftRecord::from_item(confirmed.clone()).unwrap();
        assert_eq!(read.state, RestoreState::Confirmed);
        assert!(!read.is_open());
        assert_eq!(read.to_item(), confirmed);
        let preview = item(json!({"PK": "p", "SK": "RESTORE#01jr#PREVIEW#01jp", "entity": "restore_preview"}));
        let drafts = RestoreDraftRecord::among(vec![preview, d.to_item()]).unwrap();
        assert_eq!(drafts, [d]);
    }

    #[test]
    fn a_preview_keeps_its_stored_shape() {
        let (ws, env, _, r, _) = ids();
        // The shape `restore::plan::preview` wrote before typed records.
        let old = item(json!({
            "PK": "WS#ws-a#ENV#env-t", "SK": "RESTORE#01jr#PREVIEW#01jp", "entity": "restore_preview",
            "preview_id": "01jp", "restore_id": "01jr", "fingerprint": "f", "created_ms": 1, "expires_ms": 2,
            "items": [{
                "key": "fam/1", "family": "fam", "source_id": "1", "name": "N", "hash": "h",
                "action": "create", "target_id": null, "matched_by": "none", "warnings": [],
                "conflict": null, "changes": [], "assignments": api::AssignmentChanges::default(),
                "live_hash": "-", "assign": null, "await_filters": [], "scope_tags": {}, "await_tags": [],
            }],
            "groups": [], "blockers": ["b"], "summary": api::PreviewSummary::default(), "include_assignments": true,
        }));
        let p = RestorePreviewRecord::from_item(old.clone()).unwrap();
        assert_eq!(p.to_item(), old);
        assert_eq!(p.plan.items[0].target_id, None);
        let built = RestorePreviewRecord::new(&ws, &env, &RunId::parse("01jp").unwrap(), &r, p.plan.clone());
        assert_eq!(built, p);
        let view = api::RestorePreview::from(&p);
        assert_eq!((view.id.as_str(), view.items[0].key.as_str()), ("01jp", "fam/1"));
    }

    #[test]
    fn mappings_units_and_flags_keep_their_stored_shape() {
        let (ws, env, src, _, _) = ids();
        let m = RestoreMappingRecord::new(&ws, &env, (&src, "fam", "s1"), "t1", "01jrun", 4);
        let old = item(json!({
            "PK": "WS#ws-a#ENV#env-t", "SK": "RESTOREMAP#env-s#fam#s1", "entity": "restore_mapping",
            "target_id": "t1", "run_id": "01jrun", "at_ms": 4,
        }));
        assert_eq!(m.to_item(), old);
        let read = RestoreMappingRecord::from_item(old).unwrap();
        assert_eq!(read.mapped(&src), Some("fam#s1"));
        assert_eq!(read.mapped(&env), None);

        let k = unit_key("01jrun", "fam/s1");
        let created = item(
            json!({"PK": "RUN#01jrun", "SK": "UNIT#fam/s1", "entity": "restore_unit",
            "phase": "created", "target_id": "t1"}),
        );
        assert_eq!(unit_item(&k, "created", Some("t1")), created);
        let creating = item(
            json!({"PK": "RUN#01jrun", "SK": "UNIT#fam/s1", "entity": "restore_unit",
            "phase": "creating"}),
        );
        assert_eq!(unit_item(&k, "creating", None), creating);
        assert_eq!(read_unit(Some(created)).unwrap().target_id.as_deref(), Some("t1"));
        assert_eq!(read_unit(None).unwrap().phase, "");

        let f = MaaFlagRecord::new(&ws, &env, "fam", 8);
        let old = item(json!({"PK": "WS#ws-a#ENV#env-t", "SK": "MAA#fam", "entity": "maa_flag",
            "family": "fam", "at_ms": 8}));
        assert_eq!(f.to_item(), old);
        assert_eq!(MaaFlagRecord::from_item(old).unwrap(), f);

        let done = item(json!({"detail": {"reason": "r", "name": "n"}}));
        assert_eq!(run_item_reason(&done), (Some("n".into()), Some("r".into())));
    }
}
