//! Baselines, drift and findings as stored (spec 015).
//!
//! Workspace partition: `BASELINE#<id>` (a profile), `BASELINENAME#<lowercase name>` (its name,
//! unique), `BASESNAP#<id>#<n>` (a snapshot's header), `BASEASSIGN#<env>#<id>` (a profile
//! assigned to an environment), `FINDING#<fingerprint>` and `FINDINGEV#<fingerprint>#<ulid>` (its
//! history). Source environment partition: `SNAPITEM#<id>#<n>#<family>#<object>`, each naming a
//! payload `BLOB#<hash>` of that partition, which the payload sweep keeps while the item exists.
//! Target environment partition: `DRIFTWATCH` (the change feed's cursor, indexed in GSI1
//! `DRIFT#DUE` by its next poll) and `DRIFTCHANGE#<audit event id>` (one change it saw).

use std::collections::BTreeMap;

use atlas_domain::drift::{DriftKind, MatchedBy};
use atlas_domain::findings::{FindingSource, FindingStatus, Severity};
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Cond, Item, Key, Query, SkCond, TxItem, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::{env_pk, ws_pk};

pub const PROFILES: &str = "BASELINE#";
pub const ASSIGNMENTS: &str = "BASEASSIGN#";
pub const FINDINGS: &str = "FINDING#";
pub const CHANGES: &str = "DRIFTCHANGE#";
/// Sort-key prefix of every snapshot item of a source environment (the payload sweep's references).
pub const SNAPSHOT_ITEMS: &str = "SNAPITEM#";
/// The GSI1 partition of every open finding with an SLA step ahead, by that step's time.
pub const FINDINGS_SLA: &str = "FINDING#SLA";
/// The GSI1 partition of every change-feed cursor, by its next poll.
pub const WATCH_DUE: &str = "DRIFT#DUE";
const WATCH_SK: &str = "DRIFTWATCH";

pub fn profile_sk(id: &str) -> String {
    format!("{PROFILES}{id}")
}

pub fn name_sk(name: &str) -> String {
    format!("BASELINENAME#{}", name.trim().to_lowercase())
}

pub fn snapshots_of(profile: &str) -> String {
    format!("BASESNAP#{profile}#")
}

pub fn snapshot_sk(profile: &str, number: u32) -> String {
    format!("{}{number:06}", snapshots_of(profile))
}

/// The sort-key prefix of one snapshot's items of one family (or of every family).
pub fn snapshot_items(profile: &str, number: u32, family: Option<&str>) -> String {
    match family {
        Some(f) => format!("{SNAPSHOT_ITEMS}{profile}#{number:06}#{f}#"),
        None => format!("{SNAPSHOT_ITEMS}{profile}#{number:06}#"),
    }
}

/// The assignments of one environment.
pub fn assignments_of(env: &EnvironmentId) -> String {
    format!("{ASSIGNMENTS}{env}#")
}

pub fn assignment_sk(env: &EnvironmentId, profile: &str) -> String {
    format!("{}{profile}", assignments_of(env))
}

pub fn finding_sk(id: &str) -> String {
    format!("{FINDINGS}{id}")
}

pub fn finding_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(ws_pk(ws), finding_sk(id))
}

pub fn finding_events(id: &str) -> String {
    format!("FINDINGEV#{id}#")
}

pub fn change_sk(event_id: &str) -> String {
    format!("{CHANGES}{event_id}")
}

pub fn watch_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(env_pk(ws, env), WATCH_SK)
}

/// A watch's entry in the scheduler's index: by environment, not by due time. A claim then changes
/// only projected attributes (one index write) instead of moving the entry (two), and polls come
/// every few minutes, so nearly every watch is due at each tick anyway (ADR 0038, fleet bench).
pub fn watch_due_sk(ws: &str, env: &str) -> String {
    format!("{ws}#{env}")
}

/// Open findings whose next SLA step is at or before `now_ms`.
pub fn findings_sla_due_by(now_ms: i64) -> Query {
    Query::gsi1(FINDINGS_SLA).sk(SkCond::Lt(format!("{now_ms:015}~")))
}

/// The change feed's tick claim (`SYSTEM / DRIFTFEED#SLOT`): the latest poll slot a scheduler
/// tick sent. One conditional write per slot for the whole fleet instead of one per watch.
pub fn feed_slot_key() -> Key {
    Key::new("SYSTEM", "DRIFTFEED#SLOT")
}

/// Claims the poll slot starting at `slot_ms`: refused when a tick already sent it (or a later one).
pub fn claim_slot(slot_ms: i64) -> (Update, Cond) {
    (
        Update::new().set("slot_ms", slot_ms),
        Cond::Or(vec![Cond::NotExists, Cond::Lt("slot_ms".into(), slot_ms.into())]),
    )
}

/// Every watch: the caller keeps those due (`next_due_ms`). Entries written before the index
/// was by environment are in the same partition and read alike.
pub fn watches() -> Query {
    Query::gsi1(WATCH_DUE)
}

/// A baseline profile: `<ws pk> / BASELINE#<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineProfile {
    pub workspace_id: WorkspaceId,
    pub profile_id: String,
    pub name: String,
    pub source_environment_id: EnvironmentId,
    pub families: Vec<String>,
    /// `[{family, id}]`; every object of the families when empty.
    pub objects: Vec<atlas_api_types::ObjectRef>,
    pub ignored_properties: Vec<String>,
    pub report_extra: bool,
    pub created_ms: i64,
    pub created_by: String,
    /// The newest snapshot's number, 0 before the first.
    pub latest_snapshot: u32,
}

impl Record for BaselineProfile {
    const ENTITY: &'static str = "baseline_profile";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), profile_sk(&self.profile_id))
    }
}

/// The name mark that keeps profile names unique in a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineName {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub profile_id: String,
}

impl Record for BaselineName {
    const ENTITY: &'static str = "baseline_name";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), name_sk(&self.name))
    }
}

/// A snapshot's header: `<ws pk> / BASESNAP#<id>#<n>`, written after its items (the commit point).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub workspace_id: WorkspaceId,
    pub profile_id: String,
    pub number: u32,
    pub source_environment_id: EnvironmentId,
    pub from_backup_set_id: String,
    pub created_ms: i64,
    pub created_by: String,
    pub counts: BTreeMap<String, u64>,
}

impl Record for SnapshotRecord {
    const ENTITY: &'static str = "baseline_snapshot";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), snapshot_sk(&self.profile_id, self.number))
    }
}

/// One object of a snapshot: `<source env pk> / SNAPITEM#<id>#<n>#<family>#<object>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotItem {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub profile_id: String,
    pub number: u32,
    pub family: String,
    pub item_id: String,
    pub name: String,
    pub hash: String,
}

impl Record for SnapshotItem {
    const ENTITY: &'static str = "baseline_snapshot_item";
    fn key(&self) -> Key {
        Key::new(
            env_pk(&self.workspace_id, &self.environment_id),
            format!(
                "{}{}",
                snapshot_items(&self.profile_id, self.number, Some(&self.family)),
                self.item_id
            ),
        )
    }
}

/// A profile assigned to an environment: `<ws pk> / BASEASSIGN#<env>#<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub profile_id: String,
    pub priority: u32,
    #[serde(default)]
    pub snapshot: Option<u32>,
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    pub assigned_ms: i64,
    pub assigned_by: String,
}

impl Record for AssignmentRecord {
    const ENTITY: &'static str = "baseline_assignment";
    fn key(&self) -> Key {
        Key::new(
            ws_pk(&self.workspace_id),
            assignment_sk(&self.environment_id, &self.profile_id),
        )
    }
}

/// Sort-key prefix of an environment's finding references (ADR 0043).
pub const FINDING_REFS: &str = "FINDINGREF#";

/// Every finding reference of an environment, with the mark that they are complete (its key sorts
/// first under the same prefix, so one query reads both).
pub fn finding_refs(ws: &WorkspaceId, env: &EnvironmentId) -> Query {
    Query::partition(env_pk(ws, env)).begins_with(FINDING_REFS)
}

/// A finding's reference in its environment's partition: `<env pk> / FINDINGREF#<fingerprint>`,
/// created with the finding and never changed. It holds what a detection pass's coverage is
/// decided on, so a pass reads its environment's findings, not the workspace's (ADR 0043).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRef {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub finding_id: String,
    pub source: FindingSource,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub baseline_id: Option<String>,
}

impl Record for FindingRef {
    const ENTITY: &'static str = "finding_ref";
    fn key(&self) -> Key {
        Key::new(
            env_pk(&self.workspace_id, &self.environment_id),
            format!("{FINDING_REFS}{}", self.finding_id),
        )
    }
}

impl From<&FindingRecord> for FindingRef {
    fn from(f: &FindingRecord) -> Self {
        Self {
            workspace_id: f.workspace_id.clone(),
            environment_id: f.environment_id.clone(),
            finding_id: f.finding_id.clone(),
            source: f.source,
            family: f.family.clone(),
            baseline_id: f.baseline_id.clone(),
        }
    }
}

/// Written once every finding of the environment has its reference (findings created before
/// references get theirs from the first pass that reads the workspace's findings once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRefsComplete {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub at_ms: i64,
}

impl Record for FindingRefsComplete {
    const ENTITY: &'static str = "finding_refs_complete";
    fn key(&self) -> Key {
        Key::new(env_pk(&self.workspace_id, &self.environment_id), FINDING_REFS)
    }
}

/// A finding: `<ws pk> / FINDING#<fingerprint>`. Every write is conditional on `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub finding_id: String,
    pub source: FindingSource,
    pub status: FindingStatus,
    pub severity: Severity,
    pub title: String,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default)]
    pub baseline_object_id: Option<String>,
    #[serde(default)]
    pub object_name: String,
    #[serde(default)]
    pub kind: Option<DriftKind>,
    #[serde(default)]
    pub property: String,
    #[serde(default)]
    pub desired: Option<Value>,
    #[serde(default)]
    pub current: Option<Value>,
    #[serde(default)]
    pub matched_by: Option<MatchedBy>,
    #[serde(default)]
    pub baseline_id: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// When it last became open (opened or reopened): the SLA counts from here.
    pub opened_ms: i64,
    pub count: u64,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub changed_by: Option<String>,
    /// Its requested or active exception (one at a time; spec 016).
    #[serde(default)]
    pub exception_id: Option<String>,
    /// The value whose risk was accepted: a detection seeing another value reopens the finding.
    #[serde(default)]
    pub pinned: Option<Value>,
    /// Fixed when it opens or reopens, from the workspace policy then in force.
    #[serde(default)]
    pub due_ms: Option<i64>,
    /// The next SLA step's time (the due date, then the managers' escalation); none when done.
    #[serde(default)]
    pub sla_next_ms: Option<i64>,
    /// SLA steps reported since it last opened: 0, 1 (owner told), 2 (managers told).
    #[serde(default)]
    pub sla_step: u8,
    pub version: u64,
}

impl Record for FindingRecord {
    const ENTITY: &'static str = "finding";
    fn key(&self) -> Key {
        finding_key(&self.workspace_id, &self.finding_id)
    }

    /// Stored with its SLA-index entry while it is open and has an SLA step ahead, so the tick
    /// finds it; a closed finding leaves the index by the same write that closes it.
    fn to_item(&self) -> Item {
        let mut item = super::base_item(self);
        if let Some(at) = self.sla_next_ms.filter(|_| self.status.is_open()) {
            item.insert("GSI1PK".into(), FINDINGS_SLA.into());
            item.insert(
                "GSI1SK".into(),
                format!("{at:015}#{}#{}", self.workspace_id, self.finding_id).into(),
            );
        }
        item
    }
}

impl FindingRecord {
    /// This record written over the stored one only if that is still at `seen_version` (a new
    /// record: only if none exists). The one way a finding is written.
    pub fn replace(&self, seen_version: Option<u64>) -> TxItem {
        super::versioned_put(self.to_item(), seen_version)
    }

    /// A write that checks the finding is still at `version` and `status` (for a status move).
    pub fn transition(&self, from: FindingStatus, seen_version: u64) -> TxItem {
        TxItem::Put {
            item: self.to_item(),
            cond: Some(Cond::And(vec![
                Cond::eq("version", seen_version),
                Cond::eq("status", from.as_str()),
            ])),
        }
    }
}

/// One entry of a finding's history: `<ws pk> / FINDINGEV#<fingerprint>#<ulid>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEventRecord {
    pub workspace_id: WorkspaceId,
    pub finding_id: String,
    pub event_id: String,
    pub at_ms: i64,
    pub kind: String,
    #[serde(default)]
    pub from: Option<FindingStatus>,
    #[serde(default)]
    pub to: Option<FindingStatus>,
    pub actor: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub desired: Option<Value>,
    #[serde(default)]
    pub current: Option<Value>,
}

impl Record for FindingEventRecord {
    const ENTITY: &'static str = "finding_event";
    fn key(&self) -> Key {
        Key::new(
            ws_pk(&self.workspace_id),
            format!("{}{}", finding_events(&self.finding_id), self.event_id),
        )
    }
}

/// The change feed of one environment: `<env pk> / DRIFTWATCH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftWatch {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    /// The member whose authority the poll runs with (re-checked at every poll).
    pub user_id: String,
    pub user_email: String,
    pub poll_seconds: u64,
    /// Events up to this activity time were read (Unix ms); 0 before the first poll.
    pub cursor_ms: i64,
    pub next_due_ms: i64,
    #[serde(default)]
    pub polled_ms: Option<i64>,
    /// When the next full `drift.detect` run (the nightly safety net) is due.
    #[serde(default)]
    pub next_sweep_ms: i64,
    /// Events already worked that the next read's overlap will list again, as `[id, time]`: not
    /// looked up again (ADR 0041).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<(String, i64)>,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
}

impl Record for DriftWatch {
    const ENTITY: &'static str = "drift_watch";
    fn key(&self) -> Key {
        watch_key(&self.workspace_id, &self.environment_id)
    }
}

impl DriftWatch {
    /// Claims the full sweep due at `next_sweep_ms` and sets the next one.
    pub fn claim_sweep(&self, next_sweep_ms: i64) -> (Update, Cond) {
        (
            Update::new().set("next_sweep_ms", next_sweep_ms),
            Cond::eq("next_sweep_ms", self.next_sweep_ms),
        )
    }

    /// Advances the cursor, never backwards, says when the feed last read changes and which
    /// worked events the next read will list again.
    pub fn advance(cursor_ms: i64, now_ms: i64, seen: &[(String, i64)]) -> (Update, Cond) {
        let seen: Vec<Value> = seen.iter().map(|(id, at)| serde_json::json!([id, at])).collect();
        (
            Update::new()
                .set("cursor_ms", cursor_ms)
                .set("polled_ms", now_ms)
                .set("seen", Value::Array(seen)),
            Cond::Le("cursor_ms".into(), cursor_ms.into()),
        )
    }
}

/// A change the feed saw: `<env pk> / DRIFTCHANGE#<audit event id>` (created once per event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftChangeRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub event_id: String,
    pub at_ms: i64,
    pub actor: String,
    pub activity: String,
    pub operation: String,
    #[serde(default)]
    pub family: Option<String>,
    pub object_id: String,
    pub object_name: String,
    pub properties: Value,
    pub seen_ms: i64,
}

impl Record for DriftChangeRecord {
    const ENTITY: &'static str = "drift_change";
    fn key(&self) -> Key {
        Key::new(
            env_pk(&self.workspace_id, &self.environment_id),
            change_sk(&self.event_id),
        )
    }
}
