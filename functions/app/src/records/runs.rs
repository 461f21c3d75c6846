//! Operation runs as stored: the run, its active marker, the dedupe lock, the environment's index
//! entry, the outbox and the records of its units of work.
//!
//! Items: `RUN#<id> / RUN` (the run, canonical address; GSI1 `RUNS#<ws>` lists a workspace's
//! runs), `RUN#<id> / ACTIVE` (GSI1 `RUNS#ACTIVE` by deadline, for the reconciler), `RUN#<id> /
//! ITEM#<key>` (the units one message recorded, keyed by its first, ADR 0056), `<scope pk> /
//! RUN#<id>` (the environment's index), `<scope pk> / ACTIVE#<type>` (dedupe: one active run per type and scope) and `RUN#<id> /
//! OUTBOX#<n>` (messages committed with the start and not yet sent; GSI1 `OUTBOX` by time).

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, ItemResult, OperationType, RunOutcome, RunState, Status, WorkspaceId};
use atlas_store::{Key, Query, SkCond};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{env_pk, ws_pk};
use super::{Owned, Record};

/// The partition (GSI1) of every active run's marker, by deadline.
pub const ACTIVE_RUNS: &str = "RUNS#ACTIVE";
/// The partition (GSI1) of every outbox item not yet drained, by creation time.
pub const OUTBOX: &str = "OUTBOX";

/// A run's own partition.
pub fn run_pk(run_id: &str) -> String {
    format!("RUN#{run_id}")
}

/// The run's canonical address.
pub fn run_key(run_id: &str) -> Key {
    Key::new(run_pk(run_id), "RUN")
}

/// The run's active marker.
pub fn marker_key(run_id: &str) -> Key {
    Key::new(run_pk(run_id), "ACTIVE")
}

/// The GSI1 sort key of an active run: its deadline, zero-padded so text order is time order.
pub fn active_run_sk(deadline_ms: i64, run_id: &str) -> String {
    format!("{deadline_ms:015}#{run_id}")
}

/// The partition a run's lock and index live in: its environment's, or its workspace's.
pub fn scope_pk(ws: &WorkspaceId, env: Option<&EnvironmentId>) -> String {
    match env {
        Some(e) => env_pk(ws, e),
        None => ws_pk(ws),
    }
}

/// The sort key of the dedupe lock of a run type.
pub fn lock_sk(kind: OperationType) -> String {
    format!("ACTIVE#{}", kind.as_str())
}

/// The sort key of a run in its environment's index, and of the run in its workspace's GSI1.
pub fn run_ref_sk(run_id: &str) -> String {
    format!("RUN#{run_id}")
}

/// The GSI1 partition listing a workspace's runs.
pub fn workspace_runs_gsi(ws: &WorkspaceId) -> String {
    format!("RUNS#{ws}")
}

/// The sort key of a unit's record.
pub fn item_sk(item: &str) -> String {
    format!("ITEM#{item}")
}

fn outbox_sk(n: usize) -> String {
    format!("OUTBOX#{n:04}")
}

/// A run's outbox items.
pub fn outbox_query(run_id: &str) -> Query {
    Query::partition(run_pk(run_id)).begins_with("OUTBOX#")
}

/// Outbox items written before `before_ms`, oldest first.
pub fn outbox_before(before_ms: i64) -> Query {
    Query::gsi1(OUTBOX).sk(SkCond::Lt(format!("{before_ms:015}")))
}

/// Markers of runs whose deadline is before `now_ms`.
pub fn overdue_markers(now_ms: i64) -> Query {
    Query::gsi1(ACTIVE_RUNS).sk(SkCond::Lt(active_run_sk(now_ms, "")))
}

/// A run's unit records.
pub fn items_query(run_id: &str) -> Query {
    Query::partition(run_pk(run_id)).begins_with("ITEM#")
}

/// Units whose results one tally item holds at most (ADR 0044): a tally item stays under 1 KB
/// for short unit keys, so each count is one write unit.
pub const TALLY_UNITS: u64 = 32;

/// The tally item `unit` is counted on, of a run of `total` units: `RUN#<id> / TALLY#<n>`, with
/// `n` a stable hash of the unit's key over `ceil(total / TALLY_UNITS)` items.
pub fn tally_key(run_id: &str, unit: &str, total: u64) -> Key {
    let shards = total.div_ceil(TALLY_UNITS).max(1);
    // FNV-1a: stable across processes and releases, unlike the std hasher.
    let hash = unit.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Key::new(run_pk(run_id), format!("TALLY#{:04}", hash % shards))
}

/// The attribute of a tally item holding `unit`'s result.
pub fn tally_attr(unit: &str) -> String {
    format!("u:{unit}")
}

/// A run's tally items.
pub fn tally_query(run_id: &str) -> Query {
    Query::partition(run_pk(run_id)).begins_with("TALLY#")
}

/// A run of at most [`TALLY_UNITS`] units is counted by its unit records alone (ADR 0049): the
/// record's conditional create is the count, and one query of those few records reads them all.
/// A bigger run also counts each unit on its tally, so a count check never reads every record.
pub fn counted_by_records(total: u64) -> bool {
    total <= TALLY_UNITS
}

/// What holds a run's counts: its unit records (a small run) or its tally items.
pub fn counts_query(run_id: &str, total: u64) -> Query {
    if counted_by_records(total) {
        items_query(run_id)
    } else {
        tally_query(run_id)
    }
}

/// What a run's tally items say: units counted by result, and request units added by its units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub read_units_milli: i64,
    pub write_units_milli: i64,
}

impl Tally {
    /// Sums tally items (each `u:<unit>` attribute is one unit counted under its result) or unit
    /// records (each unit they list counted once, as [`units_of`] reads them), whichever
    /// [`counts_query`] read.
    pub fn of(items: &[atlas_store::Item]) -> Self {
        let mut t = Self::default();
        let mut records = Vec::new();
        for item in items {
            if is_unit_record(item) {
                // Counted below, each unit once over all records (ADR 0056), as readers see them.
                if let Ok(record) = RunItem::from_item(item.clone()) {
                    records.push(record);
                }
            } else {
                let results = item.iter().filter(|(k, _)| k.starts_with("u:"));
                for result in results.filter_map(|(_, v)| v.as_str().and_then(ItemResult::parse)) {
                    t.count(result);
                }
            }
            let n = |a: &str| item.get(a).and_then(Value::as_i64).unwrap_or(0);
            t.read_units_milli += n("read_units_milli");
            t.write_units_milli += n("write_units_milli");
        }
        for unit in units_of(records) {
            t.count(unit.result);
        }
        t
    }

    fn count(&mut self, result: ItemResult) {
        match result {
            ItemResult::Succeeded => self.succeeded += 1,
            ItemResult::Failed => self.failed += 1,
            ItemResult::Skipped => self.skipped += 1,
        }
    }
}

/// A workspace's runs, newest first (GSI1).
pub fn workspace_runs(ws: &WorkspaceId) -> Query {
    Query::gsi1(workspace_runs_gsi(ws)).begins_with("RUN#").backward()
}

fn ws_pk_str(ws: &str) -> String {
    format!("WS#{ws}")
}

/// The lifecycle of an environment, as the re-check of queued work needs it (`None`: gone).
/// Only this attribute is read; the environment record itself belongs to tenancy.
pub async fn environment_lifecycle(
    table: &atlas_store::Table,
    ws: &WorkspaceId,
    env: &EnvironmentId,
) -> Result<Option<String>, atlas_store::TableError> {
    #[derive(Deserialize)]
    struct Lifecycle {
        #[serde(default)]
        lifecycle: String,
    }
    // Read by queued work re-checking its environment at execution (ADR 0049).
    match table.get_eventually(&Key::new(ws_pk(ws), format!("ENV#{env}"))).await? {
        Some(item) => serde_json::from_value::<Lifecycle>(Value::Object(item))
            .map(|l| Some(l.lifecycle))
            .map_err(|e| atlas_store::TableError::Corrupt(format!("environment record: {e}"))),
        None => Ok(None),
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The counts fixed at the start (`total`) and copied from the atomic `count_*` when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    #[serde(default)]
    pub succeeded: i64,
    #[serde(default)]
    pub failed: i64,
    #[serde(default)]
    pub skipped: i64,
}

/// `RUN#<id> / RUN`: the run. The run's identity, type, workspace, state and total are required;
/// the rest is read leniently, as the viewer always has (test fixtures write runs with less).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRun {
    pub run_id: String,
    #[serde(rename = "type")]
    pub kind: OperationType,
    pub workspace_id: String,
    /// Every run is started on an environment; the reader keeps a workspace-wide run possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(default)]
    pub initiator_id: String,
    #[serde(default)]
    pub initiator_email: String,
    /// Started by a backup schedule (as its creator), not by a member's request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled: bool,
    /// Absent on runs written before it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub status: RunState,
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub deadline_ms: i64,
    pub counts: Counts,
    /// Units counted so far by atomic adds; absent until the first one of its kind.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count_succeeded: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count_failed: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count_skipped: i64,
    /// Request units the run's step units consumed, in thousandths, added by each unit (ADR 0038).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read_units_milli: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub write_units_milli: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "String::is_empty")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "String::is_empty")]
    pub gsi1sk: String,
    /// The run's deadline entry for the reconciler is its dedupe lock, not a `RUN#<id>/ACTIVE`
    /// marker (ADR 0055). Absent on runs started before, which have a marker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deadline_on_lock: bool,
}

impl Record for OperationRun {
    const ENTITY: &'static str = "operation_run";
    fn key(&self) -> Key {
        run_key(&self.run_id)
    }
}

impl Owned for OperationRun {
    fn workspace_id(&self) -> &str {
        &self.workspace_id
    }
}

impl OperationRun {
    /// Queued or running: the run may still do work and end.
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// The canonical status of a run.
    pub fn status(&self) -> Status {
        if self.is_active() {
            return Status::Running;
        }
        self.outcome.map_or(Status::Failed, RunOutcome::status)
    }

    pub fn workspace(&self) -> Result<WorkspaceId, String> {
        WorkspaceId::parse(&self.workspace_id).map_err(|e| e.to_string())
    }

    /// The run's environment, when it names a valid one.
    pub fn environment(&self) -> Option<EnvironmentId> {
        self.environment_id
            .as_deref()
            .and_then(|e| EnvironmentId::parse(e).ok())
    }

    /// The partition of the run's lock and index: its environment's as recorded, or its
    /// workspace's.
    pub fn scope_pk(&self) -> String {
        let ws = ws_pk_str(&self.workspace_id);
        match &self.environment_id {
            Some(e) => format!("{ws}#ENV#{e}"),
            None => ws,
        }
    }

    /// The run with what its tally items counted added (ADR 0044): units are counted there while
    /// the run is active; its end copies the sum onto the run, so an ended run is read as is.
    pub fn with_tally(mut self, t: Tally) -> Self {
        self.count_succeeded += t.succeeded;
        self.count_failed += t.failed;
        self.count_skipped += t.skipped;
        self.read_units_milli += t.read_units_milli;
        self.write_units_milli += t.write_units_milli;
        self
    }

    /// The units counted so far: succeeded, failed, skipped.
    pub fn counted(&self) -> (i64, i64, i64) {
        (self.count_succeeded, self.count_failed, self.count_skipped)
    }

    pub fn to_api(&self) -> api::OperationRun {
        // Units are counted by atomic adds on `count_*`; `counts.total` is fixed at the start.
        let count = |n: i64| n.max(0) as u64;
        api::OperationRun {
            id: self.run_id.clone(),
            operation_type: self.kind,
            label: self.kind.label().to_owned(),
            workspace_id: self.workspace_id.clone(),
            environment_id: self.environment_id.clone(),
            initiator: self.initiator_email.clone(),
            scheduled: self.scheduled,
            state: self.status,
            outcome: self.outcome,
            status: self.status(),
            reason: self.reason.clone(),
            created_ms: self.created_ms,
            started_ms: self.started_ms,
            ended_ms: self.ended_ms,
            duration_ms: self.started_ms.zip(self.ended_ms).map(|(a, b)| b - a),
            total: self.counts.total,
            succeeded: count(self.count_succeeded),
            failed: count(self.count_failed),
            skipped: count(self.count_skipped),
            read_units_milli: count(self.read_units_milli),
            write_units_milli: count(self.write_units_milli),
        }
    }
}

impl From<&OperationRun> for api::OperationRun {
    fn from(r: &OperationRun) -> Self {
        r.to_api()
    }
}

/// `RUN#<id> / ACTIVE`: indexes an active run by its deadline for the reconciler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMarker {
    pub run_id: String,
    /// Absent on markers written before it was stored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workspace_id: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
}

impl RunMarker {
    pub fn new(run_id: &str, ws: &WorkspaceId, deadline_ms: i64) -> Self {
        Self {
            run_id: run_id.to_owned(),
            workspace_id: ws.as_str().to_owned(),
            gsi1pk: ACTIVE_RUNS.to_owned(),
            gsi1sk: active_run_sk(deadline_ms, run_id),
        }
    }
}

impl Record for RunMarker {
    const ENTITY: &'static str = "run_marker";
    fn key(&self) -> Key {
        marker_key(&self.run_id)
    }
}

/// `<scope pk> / ACTIVE#<type>`: the one active run of a type on a scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLock {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub run_id: String,
    /// Absent on locks written before it was stored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workspace_id: String,
    /// The run's entry in the reconciler's index of active runs by deadline (ADR 0055): the lock
    /// exists exactly while its run is active, as the marker did. Absent on locks written before.
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

impl RunLock {
    pub fn new(scope_pk: String, kind: OperationType, run_id: &str, ws: &WorkspaceId) -> Self {
        Self {
            pk: scope_pk,
            sk: lock_sk(kind),
            run_id: run_id.to_owned(),
            workspace_id: ws.as_str().to_owned(),
            gsi1pk: None,
            gsi1sk: None,
        }
    }

    /// The lock listed in the reconciler's index by its run's deadline, in place of a marker.
    pub fn with_deadline(mut self, deadline_ms: i64) -> Self {
        self.gsi1pk = Some(ACTIVE_RUNS.to_owned());
        self.gsi1sk = Some(active_run_sk(deadline_ms, &self.run_id));
        self
    }
}

impl Record for RunLock {
    const ENTITY: &'static str = "run_lock";
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), self.sk.clone())
    }
}

/// `<scope pk> / RUN#<id>`: the run in its environment's index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    #[serde(rename = "PK")]
    pub pk: String,
    pub run_id: String,
    #[serde(rename = "type")]
    pub kind: OperationType,
    pub workspace_id: String,
    pub environment_id: String,
}

impl Record for RunRef {
    const ENTITY: &'static str = "run_ref";
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), run_ref_sk(&self.run_id))
    }
}

/// `RUN#<id> / OUTBOX#<n>`: messages committed with the run's start, not yet sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutbox {
    pub run_id: String,
    pub queue: String,
    /// Whole message bodies: how outboxes were written before ADR 0044 (read still).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bodies: Vec<String>,
    /// The units, `[item, params]`, whose messages share the run and `env` (ADR 0044): a third of
    /// the bytes of whole bodies, and the outbox is written, indexed and deleted once per run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<(String, Value)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Units per message (ADR 0051); absent (one) before.
    #[serde(default, skip_serializing_if = "at_most_one")]
    pub group: u32,
    pub created_ms: i64,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "SK", default, skip_serializing)]
    pub sk: String,
}

impl RunOutbox {
    pub fn new(run_id: &str, n: usize, queue: &str, bodies: Vec<String>, now_ms: i64) -> Self {
        Self {
            run_id: run_id.to_owned(),
            queue: queue.to_owned(),
            bodies,
            units: Vec::new(),
            env: None,
            group: 0,
            created_ms: now_ms,
            gsi1pk: OUTBOX.to_owned(),
            gsi1sk: format!("{now_ms:015}#{run_id}#{n:04}"),
            sk: outbox_sk(n),
        }
    }

    /// The outbox item `n` of a run's units, each sent as one message naming the run and `env`.
    pub fn of_units(
        run_id: &str,
        n: usize,
        queue: &str,
        env: Option<String>,
        units: Vec<(String, Value)>,
        now_ms: i64,
    ) -> Self {
        Self {
            units,
            env,
            ..Self::new(run_id, n, queue, Vec::new(), now_ms)
        }
    }
}

impl RunOutbox {
    /// Sends up to `n` units per message.
    pub fn grouped(mut self, n: usize) -> Self {
        self.group = u32::try_from(n).unwrap_or(u32::MAX);
        self
    }
}

fn at_most_one(n: &u32) -> bool {
    *n <= 1
}

impl Record for RunOutbox {
    const ENTITY: &'static str = "run_outbox";
    fn key(&self) -> Key {
        Key::new(run_pk(&self.run_id), self.sk.clone())
    }
}

/// `RUN#<id> / ITEM#<key>`: one unit's result, written once, and since ADR 0056 the results of
/// the other units its message completed with it (`more`). Read through [`units_of`], which
/// expands a record into its units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunItem {
    pub run_id: String,
    pub item: String,
    pub result: ItemResult,
    #[serde(default)]
    pub detail: Value,
    pub at_ms: i64,
    /// The request units the unit's work consumed, on a run counted by its records (ADR 0049).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read_units_milli: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub write_units_milli: i64,
    /// The message's other units recorded with this one (ADR 0056); empty on a unit's own record
    /// and on every record written before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<UnitResult>,
}

/// A unit's result as a grouped record lists it (ADR 0056).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    pub item: String,
    pub result: ItemResult,
    #[serde(default)]
    pub detail: Value,
}

impl RunItem {
    /// A record of `units` (at least one): the first is the record's own, keying it; the others
    /// ride in `more`.
    pub fn of_units(run_id: &str, mut units: Vec<UnitResult>, at_ms: i64) -> Option<Self> {
        if units.is_empty() {
            return None;
        }
        let first = units.remove(0);
        Some(Self {
            run_id: run_id.to_owned(),
            item: first.item,
            result: first.result,
            detail: first.detail,
            at_ms,
            read_units_milli: 0,
            write_units_milli: 0,
            more: units,
        })
    }

    /// The units the record lists, its own first.
    pub fn items(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.item.as_str()).chain(self.more.iter().map(|u| u.item.as_str()))
    }

    /// Each unit the record lists, as a record of its own; the record's request units stay on
    /// its first.
    pub fn expand(mut self) -> Vec<RunItem> {
        let more = std::mem::take(&mut self.more);
        let (run_id, at_ms) = (self.run_id.clone(), self.at_ms);
        let mut out = Vec::with_capacity(1 + more.len());
        out.push(self);
        out.extend(more.into_iter().map(|u| RunItem {
            run_id: run_id.clone(),
            item: u.item,
            result: u.result,
            detail: u.detail,
            at_ms,
            read_units_milli: 0,
            write_units_milli: 0,
            more: Vec::new(),
        }));
        out
    }
}

/// A run's units from its records (in key order, as a query returns them), each unit once and
/// by unit key: a unit two records list (a message redelivered after part of it was deferred)
/// keeps the result of the first record listing it, the rule [`Tally::of`] counts by.
pub fn units_of(records: Vec<RunItem>) -> Vec<RunItem> {
    let mut units = std::collections::BTreeMap::new();
    for unit in records.into_iter().flat_map(RunItem::expand) {
        units.entry(unit.item.clone()).or_insert(unit);
    }
    units.into_values().collect()
}

/// A run's units, each once (ADR 0056): every reader of unit records reads through this (or
/// [`units_of`] over records it queried). `eventually`: for a run that ended a while ago.
pub async fn units(
    table: &atlas_store::Table,
    run_id: &str,
    eventually: bool,
) -> Result<Vec<RunItem>, atlas_store::TableError> {
    let q = items_query(run_id);
    let q = if eventually { q.eventually() } else { q };
    Ok(units_of(super::query_all(table, q).await?))
}

/// Whether a raw item is a run's unit record.
fn is_unit_record(item: &atlas_store::Item) -> bool {
    item.get("SK")
        .and_then(Value::as_str)
        .is_some_and(|sk| sk.starts_with("ITEM#"))
}

impl Record for RunItem {
    const ENTITY: &'static str = "run_item";
    fn key(&self) -> Key {
        item_key(&self.run_id, &self.item)
    }
}

/// `RUN#<id> / ITEM#<key>`: the key of one unit's record.
pub fn item_key(run_id: &str, item: &str) -> Key {
    Key::new(run_pk(run_id), item_sk(item))
}

impl From<&RunItem> for api::RunItem {
    fn from(i: &RunItem) -> Self {
        api::RunItem {
            item: i.item.clone(),
            result: i.result.as_str().to_owned(),
            detail: i.detail.clone(),
        }
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
    fn a_tally_counts_each_unit_once_by_result_and_sums_units() {
        let a = item(
            json!({"PK": "RUN#r", "SK": "TALLY#0000", "u:a": "succeeded", "u:b": "failed",
            "read_units_milli": 1500, "write_units_milli": 2000}),
        );
        let b = item(
            json!({"PK": "RUN#r", "SK": "TALLY#0001", "u:c": "skipped", "u:d": "succeeded",
            "write_units_milli": 1000, "other": "ignored"}),
        );
        let t = Tally::of(&[a, b]);
        assert_eq!((t.succeeded, t.failed, t.skipped), (2, 1, 1));
        assert_eq!((t.read_units_milli, t.write_units_milli), (1500, 3000));
    }

    #[test]
    fn a_small_run_is_counted_by_its_unit_records() {
        let prefix = |q: Query| match q.sk {
            atlas_store::SkCond::BeginsWith(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(prefix(counts_query("r", 25)), "ITEM#");
        assert_eq!(prefix(counts_query("r", 33)), "TALLY#");
        let unit = |family: &str, result: &str, units: i64| {
            let r = RunItem {
                run_id: "r".into(),
                item: family.into(),
                result: ItemResult::parse(result).unwrap(),
                detail: json!({"family": family, "result": "not this one"}),
                at_ms: 1,
                read_units_milli: units,
                write_units_milli: 2 * units,
                more: Vec::new(),
            };
            r.to_item()
        };
        let t = Tally::of(&[
            unit("a", "succeeded", 500),
            unit("b", "failed", 0),
            unit("c", "succeeded", 250),
        ]);
        assert_eq!((t.succeeded, t.failed, t.skipped), (2, 1, 0));
        assert_eq!((t.read_units_milli, t.write_units_milli), (750, 1500));
        // A record's units are not written when there are none.
        assert!(!unit("d", "skipped", 0).contains_key("read_units_milli"));
    }

    #[test]
    fn a_grouped_record_counts_and_reads_each_unit_once() {
        let unit = |item: &str, result: ItemResult| UnitResult {
            item: item.into(),
            result,
            detail: json!({"family": item}),
        };
        let mut grouped = RunItem::of_units(
            "r",
            vec![
                unit("a", ItemResult::Succeeded),
                unit("c", ItemResult::Failed),
                unit("e", ItemResult::Succeeded),
            ],
            1,
        )
        .unwrap();
        grouped.write_units_milli = 3000;
        assert_eq!(grouped.key().sk, "ITEM#a");
        assert_eq!(grouped.items().collect::<Vec<_>>(), ["a", "c", "e"]);
        // A unit recorded alone (written before, or a deferred part) and one listed twice: a
        // redelivered message recorded `e` again with `f`, under `e`'s key.
        let alone = RunItem::of_units("r", vec![unit("b", ItemResult::Skipped)], 2).unwrap();
        let again = RunItem::of_units(
            "r",
            vec![unit("e", ItemResult::Failed), unit("f", ItemResult::Succeeded)],
            3,
        )
        .unwrap();
        assert!(
            !alone.to_item().contains_key("more"),
            "a unit's own record is as before"
        );
        let records = [grouped.clone(), alone.clone(), again.clone()];
        let mut raw: Vec<atlas_store::Item> = records.iter().map(Record::to_item).collect();
        raw.sort_by(|x, y| x["SK"].as_str().cmp(&y["SK"].as_str()));
        let t = Tally::of(&raw);
        // a, e (first listed, succeeded), f succeeded; c failed; b skipped.
        assert_eq!((t.succeeded, t.failed, t.skipped), (3, 1, 1));
        assert_eq!(t.write_units_milli, 3000);
        let mut in_key_order = records.to_vec();
        in_key_order.sort_by(|x, y| x.key().sk.cmp(&y.key().sk));
        let units = units_of(in_key_order);
        let seen: Vec<(&str, ItemResult)> = units.iter().map(|u| (u.item.as_str(), u.result)).collect();
        assert_eq!(
            seen,
            [
                ("a", ItemResult::Succeeded),
                ("b", ItemResult::Skipped),
                ("c", ItemResult::Failed),
                ("e", ItemResult::Succeeded),
                ("f", ItemResult::Succeeded),
            ]
        );
        assert!(units.iter().all(|u| u.more.is_empty() && u.run_id == "r"));
        assert_eq!(units[2].detail, json!({"family": "c"}));
    }

    #[test]
    fn a_units_tally_item_is_stable_and_runs_spread_over_enough_items() {
        // 17 family units: one item.
        assert!((0..17).all(|i| tally_key("r", &format!("family{i}"), 17).sk == "TALLY#0000"));
        // 1,000 restore units: 32 items, none holding more than twice its share.
        let mut per: std::collections::HashMap<String, usize> = Default::default();
        for i in 0..1000 {
            let k = tally_key(
                "r",
                &format!("deviceConfigurations/{i:08x}-0000-4000-8000-000000000000"),
                1000,
            );
            assert_eq!(
                k,
                tally_key(
                    "r",
                    &format!("deviceConfigurations/{i:08x}-0000-4000-8000-000000000000"),
                    1000
                )
            );
            *per.entry(k.sk).or_default() += 1;
        }
        assert_eq!(per.len(), 32);
        assert!(per.values().all(|n| *n <= 64), "{per:?}");
    }

    /// A run as `runs::start_with` on main wrote it, after two units were counted.
    fn stored_run() -> Item {
        let (id, now) = ("r-1", 1_000_i64);
        item(json!({
            "PK": format!("RUN#{id}"), "SK": "RUN", "entity": "operation_run", "run_id": id, "type": "backup.capture",
            "workspace_id": "ws-a", "environment_id": "env-b",
            "initiator_id": "u-1", "initiator_email": "o@x.test", "queue": "backup-capture",
            "status": "queued", "created_ms": now, "deadline_ms": now + 60_000,
            "counts": {"total": 3, "succeeded": 0, "failed": 0, "skipped": 0},
            "GSI1PK": "RUNS#ws-a", "GSI1SK": format!("RUN#{id}"),
            "count_succeeded": 2, "count_failed": 1,
        }))
    }

    #[test]
    fn a_run_stored_by_main_decodes_and_round_trips() {
        let old = stored_run();
        let run = OperationRun::from_item(old.clone()).unwrap();
        assert_eq!(run.kind, OperationType::BackupCapture);
        assert_eq!(run.status, RunState::Queued);
        assert_eq!(run.counted(), (2, 1, 0));
        assert_eq!(run.environment().unwrap().as_str(), "env-b");
        assert_eq!(run.to_item(), old);
        assert_eq!(OperationRun::from_item(run.to_item()).unwrap(), run);
    }

    #[test]
    fn an_ended_run_shows_its_outcome_and_duration() {
        let mut old = stored_run();
        for (k, v) in [
            ("status", json!("completed")),
            ("outcome", json!("partially_succeeded")),
            ("reason", json!("why")),
            ("started_ms", json!(1_100)),
            ("ended_ms", json!(1_600)),
        ] {
            old.insert(k.into(), v);
        }
        let run = OperationRun::from_item(old.clone()).unwrap();
        assert_eq!(run.to_item(), old);
        let a = run.to_api();
        assert_eq!(a.status, RunOutcome::PartiallySucceeded.status());
        assert_eq!(a.duration_ms, Some(500));
        assert_eq!((a.total, a.succeeded, a.failed, a.skipped), (3, 2, 1, 0));
        assert_eq!(a.reason.as_deref(), Some("why"));
    }

    #[test]
    fn a_fixture_run_with_few_attributes_still_reads() {
        // As tests/it/matrix.rs writes a finished backup's run.
        let old = item(
            json!({"PK": "RUN#s", "SK": "RUN", "entity": "operation_run", "run_id": "s", "type": "backup.capture",
            "workspace_id": "ws-demo", "environment_id": "env-contoso", "status": "completed", "outcome": "succeeded",
            "counts": {"total": 1}}),
        );
        let run = OperationRun::from_item(old).unwrap();
        assert_eq!(run.to_api().status, Status::Ready);
    }

    #[test]
    fn a_run_without_its_status_is_corrupt() {
        let mut old = stored_run();
        old.remove("status");
        assert!(OperationRun::from_item(old).is_err());
    }

    #[test]
    fn marker_lock_ref_outbox_and_item_keep_their_stored_shape() {
        let ws = WorkspaceId::parse("ws-a").unwrap();
        let env = EnvironmentId::parse("env-b").unwrap();
        let (id, now) = ("r-1", 1_000_i64);
        let marker = item(json!({
            "PK": format!("RUN#{id}"), "SK": "ACTIVE", "entity": "run_marker", "run_id": id,
            "workspace_id": "ws-a", "GSI1PK": ACTIVE_RUNS, "GSI1SK": active_run_sk(now, id),
        }));
        assert_eq!(RunMarker::new(id, &ws, now).to_item(), marker);
        assert_eq!(RunMarker::from_item(marker).unwrap().run_id, id);

        let lock = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": "ACTIVE#inventory.sync", "entity": "run_lock", "run_id": id,
            "workspace_id": "ws-a",
        }));
        let typed = RunLock::new(scope_pk(&ws, Some(&env)), OperationType::InventorySync, id, &ws);
        assert_eq!(typed.to_item(), lock);
        // Locks written by tests and older code carry no workspace.
        let bare = item(json!({"PK": "WS#ws-a#ENV#env-b", "SK": "ACTIVE#inventory.sync", "run_id": id}));
        assert_eq!(RunLock::from_item(bare).unwrap().run_id, id);

        let index = item(json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": format!("RUN#{id}"), "entity": "run_ref", "run_id": id,
            "type": "inventory.sync", "workspace_id": "ws-a", "environment_id": "env-b",
        }));
        let r = RunRef::from_item(index.clone()).unwrap();
        assert_eq!(r.to_item(), index);

        let outbox = item(json!({
            "PK": format!("RUN#{id}"), "SK": "OUTBOX#0001", "entity": "run_outbox", "run_id": id,
            "queue": "q", "bodies": ["a", "b"], "created_ms": now,
            "GSI1PK": OUTBOX, "GSI1SK": format!("{now:015}#{id}#0001"),
        }));
        assert_eq!(
            RunOutbox::new(id, 1, "q", vec!["a".into(), "b".into()], now).to_item(),
            outbox
        );
        let read = RunOutbox::from_item(outbox).unwrap();
        assert_eq!(
            (read.bodies.len(), read.queue.as_str(), read.sk.as_str()),
            (2, "q", "OUTBOX#0001")
        );
        // ADR 0044: units rather than whole bodies.
        let compact = item(json!({
            "PK": format!("RUN#{id}"), "SK": "OUTBOX#0000", "entity": "run_outbox", "run_id": id,
            "queue": "q", "units": [["intents", {}], ["x", {"k": 1}]], "env": "ws-a/env-b", "created_ms": now,
            "GSI1PK": OUTBOX, "GSI1SK": format!("{now:015}#{id}#0000"),
        }));
        let units = vec![("intents".to_owned(), json!({})), ("x".to_owned(), json!({"k": 1}))];
        let written = RunOutbox::of_units(id, 0, "q", Some("ws-a/env-b".into()), units.clone(), now);
        assert_eq!(written.to_item(), compact);
        let read = RunOutbox::from_item(compact).unwrap();
        assert_eq!((read.units, read.bodies.len()), (units, 0));

        let unit = item(json!({
            "PK": format!("RUN#{id}"), "SK": "ITEM#policies", "entity": "run_item", "run_id": id,
            "item": "policies", "result": "failed", "detail": {"reason": "x"}, "at_ms": now,
        }));
        let u = RunItem::from_item(unit.clone()).unwrap();
        assert_eq!(u.result, ItemResult::Failed);
        assert_eq!(u.to_item(), unit);
        assert_eq!(api::RunItem::from(&u).result, "failed");
    }
}
