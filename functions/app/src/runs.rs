//! Operation runs: the execution truth of every queued action. A run is written (queued) with its
//! work in one commit (a transactional outbox, drained to the queue); each unit of work is recorded once, however often its message
//! arrives; the run completes when every unit is accounted for; a run whose authority vanished
//! before it executed ends Blocked; one stuck past its deadline is reconciled to Failed.
//!
//! Items: `RUN#<id> / RUN` (the run, canonical address; GSI1 lists a workspace's runs),
//! `RUN#<id> / ACTIVE` (GSI1 `RUNS#ACTIVE` by deadline, for the reconciler), `RUN#<id> /
//! ITEM#<key>` (the units one message recorded, ADR 0056), `<scope pk> / RUN#<id>` (the
//! environment's index) and
//! `<scope pk> / ACTIVE#<type>` (dedupe: one active run per type and scope) and `RUN#<id> /
//! OUTBOX#<n>` (messages committed with the start and not yet sent; GSI1 `OUTBOX` by time).

pub use atlas_domain::ItemResult;
use atlas_domain::{Capability, OperationType, Role, RunOutcome, RunState};
use atlas_store::{Cond, Key, OutMessage, TableError, TxItem, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use crate::error::{ServiceError, ServiceResult};
use crate::identity::Actor;
use crate::records::runs::{
    self as rec, Counts, OperationRun, RunItem, RunLock, RunOutbox, RunRef, marker_key, scope_pk,
};
pub use crate::records::runs::{OUTBOX, run_key};
use crate::records::{self, Record};
use crate::scope::EnvScope;
use crate::state::AppState;

/// Reads a run by id, with the units its tally counted while it is active (ADR 0044).
pub async fn get(state: &AppState, run_id: &str) -> ServiceResult<Option<OperationRun>> {
    match get_plain(state, run_id).await? {
        Some(run) => Ok(Some(tallied(state, run).await?)),
        None => Ok(None),
    }
}

/// The run item alone: its state, not an active run's live counts (those are on its tally).
/// For callers that act only once the run ended, when the item holds every count: one read,
/// where [`get`] also queries an active run's tally.
pub async fn get_plain(state: &AppState, run_id: &str) -> ServiceResult<Option<OperationRun>> {
    Ok(records::get(&state.table, &run_key(run_id)).await?)
}

/// `run` with its tally added when it is active; an ended run already holds its counts.
pub async fn tallied(state: &AppState, run: OperationRun) -> ServiceResult<OperationRun> {
    if !run.is_active() {
        return Ok(run);
    }
    let items = state
        .table
        .query_all(rec::counts_query(&run.run_id, run.counts.total))
        .await?;
    Ok(run.with_tally(rec::Tally::of(&items)))
}

/// The capability a run type needs — checked when it starts and again when it executes.
pub fn capability(kind: OperationType) -> Capability {
    match kind {
        OperationType::ProviderVerify => Capability::ProviderVerify,
        OperationType::InventorySync => Capability::InventorySync,
        OperationType::BackupCapture => Capability::BackupRun,
        OperationType::BackupPrune => Capability::BackupManage,
        OperationType::RestoreExecute => Capability::RestoreExecute,
        OperationType::DriftDetect => Capability::BaselineManage,
        OperationType::EvidenceBuild => Capability::EvidenceExport,
        OperationType::RunReconcile => Capability::OperationsView,
        OperationType::AlertDeliver => Capability::AlertsManage,
    }
}

/// A unit of work as its queue carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkMessage {
    pub run_id: String,
    /// Unique within the run: the idempotency key of the unit.
    pub item: String,
    #[serde(default)]
    pub params: Value,
    /// The run's environment (`<workspace>/<environment>`): local workers share their slots
    /// fairly between environments by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// More units of the same run with the same `params`, worked by the same delivery (a
    /// backup's families, ADR 0051): one begin and one look at the run's end for all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl WorkMessage {
    /// The units this message carries, each as a message of its own.
    pub fn units(&self) -> Vec<WorkMessage> {
        let one = |item: &str| WorkMessage {
            run_id: self.run_id.clone(),
            item: item.to_owned(),
            params: self.params.clone(),
            env: self.env.clone(),
            also: Vec::new(),
        };
        std::iter::once(self.item.as_str())
            .chain(self.also.iter().map(String::as_str))
            .map(one)
            .collect()
    }
}

pub fn to_api(run: &OperationRun) -> atlas_api_types::OperationRun {
    run.to_api()
}

pub struct Started {
    pub run: OperationRun,
    /// False when an active run of the same type and scope was returned instead.
    pub created: bool,
}

/// Starts a run over `items` (one message each) on the step's queue, unless one of the same type
/// is active on the same environment: then that one is returned.
pub async fn start(
    state: &AppState,
    scope: &EnvScope,
    kind: OperationType,
    queue: &str,
    items: Vec<(String, Value)>,
    deadline_ms: i64,
) -> ServiceResult<Started> {
    start_with(state, scope, Start::new(state, kind, queue, items, deadline_ms)).await
}

/// A run to start, with the writes that must happen in the same commit (a backup's set, a
/// restore draft's move to confirmed).
pub struct Start {
    /// Chosen up front so the caller's writes can name the run.
    pub id: String,
    pub kind: OperationType,
    pub queue: String,
    pub items: Vec<(String, Value)>,
    pub deadline_ms: i64,
    /// Committed with the run, or nothing is: their conditions guard the caller's state.
    pub also: Vec<TxItem>,
    /// The conflict reported when one of `also`'s conditions does not hold.
    pub conflict: String,
    /// A backup schedule starts it.
    pub scheduled: bool,
    /// Units per message (at least 1): see [`WorkMessage::also`].
    pub group: usize,
}

impl Start {
    pub fn new(
        state: &AppState,
        kind: OperationType,
        queue: &str,
        items: Vec<(String, Value)>,
        deadline_ms: i64,
    ) -> Self {
        Self {
            id: state.ids.next_id(),
            kind,
            queue: queue.to_owned(),
            items,
            deadline_ms,
            also: Vec::new(),
            conflict: "the records changed meanwhile; nothing was started".into(),
            scheduled: false,
            group: 1,
        }
    }

    /// Sends up to `n` units (with the same params) per message (ADR 0051).
    pub fn grouped(mut self, n: usize) -> Self {
        self.group = n.max(1);
        self
    }

    /// Marks the run as started by a backup schedule.
    pub fn scheduled(mut self) -> Self {
        self.scheduled = true;
        self
    }

    pub fn also(mut self, changes: Vec<TxItem>, conflict: impl Into<String>) -> Self {
        self.also = changes;
        self.conflict = conflict.into();
        self
    }
}

/// Messages per outbox item at least; more when a run has very many units, so the outbox never
/// takes more than [`MAX_OUTBOX_ITEMS`] of the transaction's 100 writes.
const OUTBOX_MESSAGES: usize = 250;
const MAX_OUTBOX_ITEMS: usize = 40;
/// The sweep leaves younger outbox items to the process that wrote them, which drains right
/// after its commit: a double send is harmless, but needless.
pub const OUTBOX_GRACE_MS: i64 = 5_000;

/// The run, its marker, dedupe lock and index, the caller's writes and the run's first messages
/// (the outbox) are one commit: a crash before it leaves nothing, a crash after it leaves a run
/// whose messages the drainer sends. The messages are then sent at once ([`drain`]); whatever a
/// crash or an unavailable queue leaves in the outbox, the sweep ([`sweep_outbox`]) sends later.
pub async fn start_with(state: &AppState, scope: &EnvScope, start: Start) -> ServiceResult<Started> {
    start_in(state, scope.workspace(), Some(scope.environment_id()), start).await
}

/// [`start_with`] in a workspace, or one of its environments (`env`; the caller checked the
/// scope is entitled to it). A workspace-level run (an evidence pack of the whole workspace) is
/// indexed and deduplicated in the workspace's partition.
pub async fn start_in(
    state: &AppState,
    ws: &crate::scope::WorkspaceScope,
    env: Option<&atlas_domain::EnvironmentId>,
    start: Start,
) -> ServiceResult<Started> {
    let Start {
        id,
        kind,
        queue,
        items,
        deadline_ms,
        also,
        conflict,
        scheduled,
        group,
    } = start;
    let ws_id = ws.workspace_id();
    let now = state.clock.now_millis();
    let empty = items.is_empty();
    let mut run = OperationRun {
        run_id: id.clone(),
        kind,
        workspace_id: ws_id.as_str().to_owned(),
        environment_id: env.map(|e| e.as_str().to_owned()),
        initiator_id: ws.actor().user_id.clone(),
        initiator_email: ws.actor().email.clone(),
        scheduled,
        queue: Some(queue.clone()),
        status: RunState::Queued,
        created_ms: now,
        deadline_ms: now + deadline_ms,
        counts: Counts {
            total: items.len() as u64,
            succeeded: 0,
            failed: 0,
            skipped: 0,
        },
        count_succeeded: 0,
        count_failed: 0,
        count_skipped: 0,
        read_units_milli: 0,
        write_units_milli: 0,
        outcome: None,
        reason: None,
        started_ms: None,
        ended_ms: None,
        gsi1pk: rec::workspace_runs_gsi(ws_id),
        gsi1sk: rec::run_ref_sk(&id),
        deadline_on_lock: !empty,
    };
    if empty {
        // Nothing to queue: the run is born complete, holding no lock.
        run.status = RunState::Completed;
        run.outcome = Some(RunOutcome::Succeeded);
        run.reason = Some("Nothing to do.".into());
        run.started_ms = Some(now);
        run.ended_ms = Some(now);
    }
    let env_pk = scope_pk(ws_id, env);
    let lock = RunLock::new(env_pk.clone(), kind, &id, ws_id);
    let index = RunRef {
        pk: env_pk,
        run_id: id.clone(),
        kind,
        workspace_id: ws_id.as_str().to_owned(),
        environment_id: env.map(|e| e.as_str().to_owned()).unwrap_or_default(),
    };
    let mut changes = vec![run.create()];
    // The lock is the run's deadline entry too (ADR 0055): one item less to write and delete.
    let lock_at = changes.len();
    if !empty {
        changes.push(lock.clone().with_deadline(now + deadline_ms).create());
    }
    changes.push(index.create());
    // The system console's cross-workspace index, by start day (ADR 0047).
    changes.push(
        crate::records::system::SystemRunEntry {
            run_id: id.clone(),
            workspace_id: ws_id.as_str().to_owned(),
            environment_id: env.map(|e| e.as_str().to_owned()),
            kind,
            created_ms: now,
        }
        .create(),
    );
    let also_at = changes.len();
    let also_len = also.len();
    changes.extend(also);
    let units = items.len();
    let env_tag = env.map(|e| format!("{ws_id}/{e}"));
    let per_item = OUTBOX_MESSAGES.max(units.div_ceil(MAX_OUTBOX_ITEMS));
    for (n, chunk) in items.chunks(per_item).enumerate() {
        let outbox = RunOutbox::of_units(&id, n, &queue, env_tag.clone(), chunk.to_vec(), now).grouped(group);
        changes.push(outbox.create());
    }
    if changes.len() + 2 > atlas_store::table::MAX_TX_ITEMS {
        return Err(ServiceError::Permanent(
            "a run start does not fit one transaction".into(),
        ));
    }
    let mut ev = NewEvent::success("run.start", format!("run/{id}")).meta(
        json!({"type": kind.as_str(), "items": units, "trigger": if scheduled { "schedule" } else { "request" }}),
    );
    ev.environment_id = env.cloned();
    // The lock names the active run of this type; when that run ends between our commit and our
    // read of the lock, the way is free: commit again (a few times at most).
    let mut attempts = 0;
    loop {
        attempts += 1;
        match audit::commit(state, ws, changes.clone(), ev.clone()).await {
            Ok(()) => break,
            Err(e) if !empty && audit::failed_at(&e) == Some(lock_at) => {
                let lock: Option<RunLock> = records::get(&state.table, &lock.key()).await?;
                let existing = match lock {
                    Some(l) => get(state, &l.run_id).await?,
                    None => None,
                };
                match existing {
                    Some(run) if run.status.is_active() => return Ok(Started { run, created: false }),
                    _ if attempts < 3 => continue,
                    _ => {
                        return Err(ServiceError::Conflict(
                            "another run of this type keeps starting and ending; start again".into(),
                        ));
                    }
                }
            }
            Err(e) if audit::failed_at(&e).is_some_and(|i| (also_at..also_at + also_len).contains(&i)) => {
                return Err(ServiceError::Conflict(conflict));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Committed: the work is owed. Sent now, or by the sweep if this fails or the process dies.
    if let Err(e) = drain(state, &id).await {
        tracing::warn!(run_id = %id, error = %e, "the run's work stays in the outbox until the next sweep");
    }
    let run = get(state, &id).await?.ok_or(ServiceError::NotFound)?;
    Ok(Started { run, created: true })
}

/// Sends a run's outbox to its queue, deleting each outbox item only after its messages were
/// accepted. A crash in between sends them again: every unit is idempotent, so that is harmless.
/// The outbox of a run that already ended is dropped unsent. Returns how many messages were sent.
pub async fn drain(state: &AppState, run_id: &str) -> ServiceResult<usize> {
    let pending: Vec<RunOutbox> = records::query_all(&state.table, rec::outbox_query(run_id)).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let active = get(state, run_id).await?.is_some_and(|r| r.is_active());
    let mut sent = 0;
    for outbox in pending {
        if active {
            let bodies = messages(&outbox)?;
            let n = bodies.len();
            if n > 0 {
                let bodies = bodies.iter().map(OutMessage::new).collect();
                state.queues.get(&outbox.queue)?.send_batch(bodies).await?;
            }
            sent += n;
        }
        state.table.delete(&outbox.key(), None).await?;
    }
    Ok(sent)
}

/// The message bodies an outbox item holds: whole (before ADR 0044) or built from its units.
fn messages(outbox: &RunOutbox) -> ServiceResult<Vec<String>> {
    let mut out = outbox.bodies.clone();
    let mut pending: Option<WorkMessage> = None;
    let group = (outbox.group as usize).max(1);
    let mut sealed = Vec::new();
    for (item, params) in &outbox.units {
        match &mut pending {
            // Consecutive units with the same params share a message, up to the group's size.
            Some(m) if m.params == *params && m.also.len() + 1 < group => m.also.push(item.clone()),
            _ => {
                sealed.extend(pending.take());
                pending = Some(WorkMessage {
                    run_id: outbox.run_id.clone(),
                    item: item.clone(),
                    params: params.clone(),
                    env: outbox.env.clone(),
                    also: Vec::new(),
                });
            }
        }
    }
    sealed.extend(pending);
    for m in sealed {
        out.push(serde_json::to_string(&m).map_err(|e| ServiceError::Permanent(e.to_string()))?);
    }
    Ok(out)
}

/// Drains every outbox item older than [`OUTBOX_GRACE_MS`]: what a crash between a start's commit
/// and its send left behind, or a queue that was unavailable then. Runs on the scheduler tick
/// (AWS) and on a short timer (local mode). Returns how many messages were sent.
pub async fn sweep_outbox(state: &AppState) -> ServiceResult<usize> {
    let q = rec::outbox_before(state.clock.now_millis() - OUTBOX_GRACE_MS).limit(100);
    // A bounded page per sweep; the next sweep continues.
    let page = records::query::<RunOutbox>(&state.table, &q).await?;
    let mut runs: Vec<String> = page.items.into_iter().map(|i| i.run_id).collect();
    runs.dedup();
    let mut sent = 0;
    for run_id in runs {
        match drain(state, &run_id).await {
            Ok(n) => sent += n,
            Err(e) => tracing::warn!(run_id = %run_id, error = %e, "outbox not drained; the next sweep retries"),
        }
    }
    if sent > 0 {
        tracing::info!(sent, "outbox swept");
    }
    Ok(sent)
}

/// What a step should do with its message.
pub enum Begin {
    /// Do the work; the run is running. With the initiator's scope, rebuilt from the membership
    /// just re-checked, for a run of an environment.
    Proceed(Box<OperationRun>, Option<EnvScope>),
    /// The run already ended (blocked, cancelled, reconciled): acknowledge and do nothing.
    Finished,
}

/// At execution: the run must still be active, its initiator still a member entitled to the
/// environment and holding the capability, and the environment still active. Otherwise the run
/// ends Blocked with the reason, audited.
pub async fn begin(state: &AppState, run_id: &str) -> ServiceResult<Begin> {
    let Some(run) = get_plain(state, run_id).await? else {
        return Ok(Begin::Finished);
    };
    if !run.is_active() {
        return Ok(Begin::Finished);
    }
    let kind = run.kind;
    let ws = run.workspace().map_err(ServiceError::Permanent)?;
    let env = run.environment();
    let member = crate::tenancy::membership_at_execution(state, &ws, &run.initiator_id).await?;
    let reason = match (&member, &env) {
        (None, _) => Some("The initiator is no longer a member of the workspace.".to_owned()),
        (Some(m), Some(e)) if !m.entitlement.allows(e) => {
            Some("The initiator is no longer entitled to the environment.".into())
        }
        (Some(m), _) if !m.role.can(capability(kind)) => Some(format!(
            "The initiator no longer holds {} (role {}).",
            capability(kind),
            m.role
        )),
        _ => None,
    };
    let reason = match (reason, &env) {
        (None, Some(e)) => match rec::environment_lifecycle(&state.table, &ws, e).await? {
            Some(l) if l == "active" => None,
            Some(l) => Some(format!("The environment is {l}.")),
            None => Some("The environment no longer exists.".into()),
        },
        (r, _) => r,
    };
    if let Some(reason) = reason {
        finish(state, run_id, RunOutcome::Blocked, Some(reason)).await?;
        return Ok(Begin::Finished);
    }
    // The re-checked membership is the scope the work runs in: no second read of it.
    let scope = member.and_then(|m| scope_with(&run, m));
    if run.status == RunState::Running {
        // Only the first unit moves the run to running: the others' writes would change nothing.
        return Ok(Begin::Proceed(Box::new(run), scope));
    }
    let started = Update::new()
        .set("status", RunState::Running.as_str())
        .set_if_absent("started_ms", state.clock.now_millis());
    match state
        .table
        .update(
            &run_key(run_id),
            &started,
            Some(Cond::Or(vec![
                Cond::eq("status", RunState::Queued.as_str()),
                Cond::eq("status", RunState::Running.as_str()),
            ])),
        )
        .await
    {
        Ok(run) => Ok(Begin::Proceed(Box::new(OperationRun::from_item(run)?), scope)),
        Err(TableError::ConditionFailed) => Ok(Begin::Finished),
        Err(e) => Err(e.into()),
    }
}

/// What recording a unit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// This delivery recorded the unit (false: an earlier one had).
    pub first: bool,
    /// Every unit of the run is accounted for: the run has ended (by this call or another).
    pub run_done: bool,
}

/// Records a unit's result and completes the run when every unit is accounted for.
pub async fn record(
    state: &AppState,
    run_id: &str,
    item: &str,
    result: ItemResult,
    detail: Value,
) -> ServiceResult<Recorded> {
    record_known(state, run_id, None, item, result, detail).await
}

/// [`record`] for a unit that may have read its run when it began (`known`): the run's total is
/// fixed at the start, so counting then reads nothing more of it.
pub async fn record_known(
    state: &AppState,
    run_id: &str,
    known: Option<&OperationRun>,
    item: &str,
    result: ItemResult,
    detail: Value,
) -> ServiceResult<Recorded> {
    let (firsts, run_done) = record_all(state, run_id, known, vec![(item.to_owned(), result, detail)]).await?;
    Ok(Recorded {
        first: firsts.first().copied().unwrap_or(false),
        run_done,
    })
}

/// Records the units of one message (ADR 0051) in one record (ADR 0056), each unit once, then
/// looks once at whether the run has ended (and ends it when they were the last). Returns, per
/// unit, whether this delivery recorded it, and whether the run has ended. Also after a
/// redelivery: the message may have crashed between recording and ending its run.
pub async fn record_all(
    state: &AppState,
    run_id: &str,
    known: Option<&OperationRun>,
    units: Vec<(String, ItemResult, Value)>,
) -> ServiceResult<(Vec<bool>, bool)> {
    if units.is_empty() {
        return Ok((Vec::new(), false));
    }
    let units = units
        .into_iter()
        .map(|(item, result, detail)| rec::UnitResult { item, result, detail })
        .collect();
    let (firsts, run) = record_counted(state, run_id, known, units).await?;
    let run_done = match run {
        Some(run) => finish_when_counted(state, tallied(state, run).await?).await?,
        // The run is gone: nothing is left to count on.
        None => true,
    };
    Ok((firsts, run_done))
}

/// A unit whose record an earlier delivery wrote: counts that record's result (a crash may have
/// come between the record and its count on the tally) and ends the run when it was the last;
/// true when the run has ended.
pub async fn recount(state: &AppState, run_id: &str, item: &str) -> ServiceResult<bool> {
    match find_unit(state, run_id, item).await? {
        Some(earlier) => Ok(record(state, run_id, item, earlier.result, earlier.detail)
            .await?
            .run_done),
        // No record: the unit ended its run (Blocked) instead.
        None => finish_if_complete(state, run_id).await,
    }
}

/// A unit's result as recorded: its own record, or (ADR 0056) the record of the message that
/// carried it.
async fn find_unit(state: &AppState, run_id: &str, item: &str) -> ServiceResult<Option<RunItem>> {
    if let Some(own) = records::get::<RunItem>(&state.table, &rec::item_key(run_id, item)).await? {
        return Ok(Some(own));
    }
    Ok(rec::units(&state.table, run_id, false)
        .await?
        .into_iter()
        .find(|u| u.item == item))
}

/// The first half of [`record`]: the unit's record, written once, and its count; false when the
/// unit had already been recorded (nothing is counted twice).
pub async fn record_unit(
    state: &AppState,
    run_id: &str,
    item: &str,
    result: ItemResult,
    detail: Value,
) -> ServiceResult<bool> {
    let unit = rec::UnitResult {
        item: item.to_owned(),
        result,
        detail,
    };
    let (firsts, _) = record_counted(state, run_id, None, vec![unit]).await?;
    Ok(firsts.first().copied().unwrap_or(false))
}

/// The units' record, created once; a redelivery finds it and counts the results it holds. A
/// small run is counted by those records alone (ADR 0049): one write per message (ADR 0056). A
/// bigger run also sets each unit's result once on a tally item (ADR 0044): idempotent writes, no
/// transaction, so a crash between them, or a second delivery at any point, neither loses nor
/// doubles a count. Returns, per unit, whether this delivery recorded it, and the run as read
/// before counting (`None`: the run is gone).
async fn record_counted(
    state: &AppState,
    run_id: &str,
    known: Option<&OperationRun>,
    units: Vec<rec::UnitResult>,
) -> ServiceResult<(Vec<bool>, Option<OperationRun>)> {
    // The units' consumed capacity so far rides on their count (ADR 0038), so a run's units are
    // in place when it completes; what follows this write is added after the units end.
    let meter = state.table.meter().filter(|m| m.has_parent());
    let used = meter.as_ref().map(|m| m.take()).unwrap_or_default();
    let res = count_units(state, run_id, units, known, used).await;
    if let Some(m) = &meter {
        // The count's own writes stay out of the run's units: adding them would cost as much
        // again (ADR 0044). The process's meters still see them.
        m.take();
        if !matches!(res, Ok((_, _, true))) {
            m.restore(used);
        }
    }
    res.map(|(firsts, run, _)| (firsts, run))
}

/// Bytes of unit details one record holds at most (ADR 0056): a message's units share a record
/// up to this; a unit bigger alone has a record of its own, far below DynamoDB's 400 KB.
const RECORD_DETAIL_BYTES: usize = 16 * 1024;

/// How many of `pending` (at least one) go in the next record.
fn fitting(units: &[rec::UnitResult], pending: &[usize]) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for &i in pending {
        bytes += units[i].item.len() + serde_json::to_string(&units[i].detail).map_or(0, |d| d.len());
        if n > 0 && bytes > RECORD_DETAIL_BYTES {
            break;
        }
        n += 1;
    }
    n.max(1)
}

/// (per unit: recorded by this delivery, the run, `used` added to its counts).
async fn count_units(
    state: &AppState,
    run_id: &str,
    units: Vec<rec::UnitResult>,
    known: Option<&OperationRun>,
    used: atlas_store::Consumed,
) -> ServiceResult<(Vec<bool>, Option<OperationRun>, bool)> {
    // Only the run's total (fixed at its start) is needed here: the run its unit began with, or
    // an eventually consistent read, and a strong one when that misses a run started a moment ago.
    let run = match known {
        Some(run) => Some(run.clone()),
        None => match records::get_eventually::<OperationRun>(&state.table, &run_key(run_id)).await? {
            Some(run) => Some(run),
            None => get_plain(state, run_id).await?,
        },
    };
    let Some(run) = run else {
        return Ok((vec![false; units.len()], None, false));
    };
    let by_records = rec::counted_by_records(run.counts.total);
    // Per unit: (recorded by this delivery, its result as recorded).
    let mut fates: Vec<Option<(bool, ItemResult)>> = vec![None; units.len()];
    let mut pending: Vec<usize> = (0..units.len()).collect();
    let mut used_added = false;
    while let Some(&head) = pending.first() {
        let n = fitting(&units, &pending);
        let listed: Vec<rec::UnitResult> = pending[..n].iter().map(|&i| units[i].clone()).collect();
        let Some(mut record) = RunItem::of_units(run_id, listed, state.clock.now_millis()) else {
            break;
        };
        if by_records && !used_added {
            record.read_units_milli = used.read_milli as i64;
            record.write_units_milli = used.write_milli as i64;
        }
        match state.table.put(record.to_item(), Some(Cond::NotExists)).await {
            Ok(()) => {
                for i in pending.drain(..n) {
                    fates[i] = Some((true, units[i].result));
                }
                used_added |= by_records;
            }
            Err(TableError::ConditionFailed) => {
                // A redelivery: the units any record of the run lists were recorded by an earlier
                // delivery, and their results stand. The others (a part deferred then) go on to
                // a record of their own, keyed by the first of them. Read only on a conflict, so
                // a first delivery pays one write.
                let listed: std::collections::HashMap<String, ItemResult> = rec::units(&state.table, run_id, false)
                    .await?
                    .into_iter()
                    .map(|u| (u.item, u.result))
                    .collect();
                pending.retain(|&i| match listed.get(&units[i].item) {
                    Some(result) => {
                        fates[i] = Some((false, *result));
                        false
                    }
                    None => true,
                });
                // The record's key is a unit it lists; one gone since (its run swept) keeps ours.
                if fates[head].is_none() {
                    fates[head] = Some((false, units[head].result));
                    pending.retain(|&i| i != head);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let fates: Vec<(bool, ItemResult)> = fates
        .into_iter()
        .zip(&units)
        .map(|(f, u)| f.unwrap_or((false, u.result)))
        .collect();
    if by_records {
        return Ok((fates.iter().map(|(first, _)| *first).collect(), Some(run), used_added));
    }
    let mut firsts = Vec::with_capacity(units.len());
    for (u, (first, result)) in units.iter().zip(fates) {
        let attr = rec::tally_attr(&u.item);
        let key = rec::tally_key(run_id, &u.item, run.counts.total);
        let set = Update::new().set(&attr, result.as_str());
        let update = if used_added { set } else { with_units(set, used) };
        match state.table.update(&key, &update, Some(Cond::AttrNotExists(attr))).await {
            Ok(_) => used_added = true,
            // Counted by another delivery (an earlier one, or one racing this one that lost
            // the record's put): counted once all the same.
            Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        firsts.push(first);
    }
    Ok((firsts, Some(run), used_added))
}

/// `update` also adding `used` to the run's request units (nothing when it is zero).
fn with_units(update: Update, used: atlas_store::Consumed) -> Update {
    if used.is_zero() {
        return update;
    }
    update
        .add("read_units_milli", used.read_milli as i64)
        .add("write_units_milli", used.write_milli as i64)
}

/// Adds the request units one of the run's units consumed (ADR 0038). The add is not itself
/// counted; a run that is gone is left alone.
pub async fn add_units(state: &AppState, run_id: &str, used: atlas_store::Consumed) -> ServiceResult<()> {
    if used.is_zero() {
        return Ok(());
    }
    let update = with_units(Update::new(), used);
    match state.table.update(&run_key(run_id), &update, Some(Cond::Exists)).await {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Ends the run when every unit is counted; true when it has ended. Safe to call again:
/// [`finish`] is conditional.
pub async fn finish_if_complete(state: &AppState, run_id: &str) -> ServiceResult<bool> {
    let run = get(state, run_id).await?.ok_or(ServiceError::NotFound)?;
    finish_when_counted(state, run).await
}

/// [`finish_if_complete`] on a run already read with its counts.
async fn finish_when_counted(state: &AppState, run: OperationRun) -> ServiceResult<bool> {
    let run_id = run.run_id.as_str();
    let total = run.counts.total as i64;
    let (ok, failed, skipped) = run.counted();
    let done = ok + failed + skipped >= total;
    if done && run.is_active() {
        finish(state, run_id, RunOutcome::of_counts(ok, failed, skipped), None).await?;
    }
    Ok(done || !run.is_active())
}

/// Ends an active run with an outcome, releasing its marker and lock, audited. A run that already
/// ended is left alone.
pub async fn finish(state: &AppState, run_id: &str, outcome: RunOutcome, reason: Option<String>) -> ServiceResult<()> {
    let Some(run) = get_plain(state, run_id).await? else {
        return Ok(());
    };
    if !run.is_active() {
        return Ok(());
    }
    // The tally's counts and units move onto the run with its end (ADR 0044).
    let tally = rec::Tally::of(
        &state
            .table
            .query_all(rec::counts_query(run_id, run.counts.total))
            .await?,
    );
    let run = run.with_tally(tally);
    let prior = run.status;
    let ws = run.workspace().map_err(ServiceError::Permanent)?;
    let env = run.environment();
    let kind = run.kind;
    let now = state.clock.now_millis();
    let (ok, failed, skipped) = run.counted();
    let counts = Counts {
        total: run.counts.total,
        succeeded: ok,
        failed,
        skipped,
    };
    let mut update = Update::new()
        .set("status", RunState::Completed.as_str())
        .set("outcome", outcome.as_str())
        .set("ended_ms", now)
        .set("counts", json!(counts))
        .set("count_succeeded", ok)
        .set("count_failed", failed)
        .set("count_skipped", skipped);
    if tally.read_units_milli != 0 {
        update = update.add("read_units_milli", tally.read_units_milli);
    }
    if tally.write_units_milli != 0 {
        update = update.add("write_units_milli", tally.write_units_milli);
    }
    if let Some(r) = &reason {
        update = update.set("reason", r.as_str());
    }
    let mut changes = vec![TxItem::Update {
        key: run_key(run_id),
        update,
        cond: Some(Cond::eq("status", prior.as_str())),
    }];
    // A run started before ADR 0055 has a marker as its deadline entry; a later one, its lock.
    if !run.deadline_on_lock {
        changes.push(TxItem::Delete {
            key: marker_key(run_id),
            cond: None,
        });
    }
    // The dedupe lock is released only if it is still this run's.
    let lock_key = Key::new(run.scope_pk(), rec::lock_sk(kind));
    let lock: Option<RunLock> = records::get(&state.table, &lock_key).await?;
    if lock.is_some_and(|l| l.run_id == run_id) {
        changes.push(TxItem::Delete {
            key: lock_key,
            cond: Some(Cond::eq("run_id", run_id)),
        });
    }
    if let Some(env) = &env {
        changes.extend(crate::records::dashboard::run_ended(
            &ws, env, run_id, kind, outcome, now,
        ));
    }
    // The initiator's notification, when they asked for this ending: with the ending or not at all.
    changes.extend(crate::notifications::run_ended_items(state, &ws, &run, outcome).await?);
    let initiator = Actor {
        user_id: run.initiator_id.clone(),
        email: run.initiator_email.clone(),
        name: String::new(),
    };
    let ev = NewEvent {
        action: "run.finish".into(),
        target: format!("run/{run_id}"),
        environment_id: env,
        outcome: match outcome {
            RunOutcome::Succeeded => Outcome::Success,
            RunOutcome::Blocked => Outcome::Denied,
            _ => Outcome::Failed,
        },
        reason: reason.clone(),
        metadata: json!({"type": kind.as_str(), "outcome": outcome.as_str()}),
    };
    // A run that did not succeed is news (spec 016): its alert event commits with its end.
    let alert = run_alert(&run, outcome, reason.as_deref()).map(|a| crate::alerts::event_item(state, &ws, a));
    changes.extend(alert.clone());
    let tx = audit::with_event(state, &ws, &initiator, None, changes, ev);
    match audit::transact(state, tx).await {
        Ok(()) => {
            if let Some(a) = alert {
                crate::alerts::dispatch::after_commit(state, &[a]).await;
            }
            Ok(())
        }
        // Someone else ended it first.
        Err(TableError::TransactionCanceled { reasons }) if reasons.first().is_some_and(Option::is_some) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The alert a run's end reports: failed, blocked and partial runs; nothing for the rest.
fn run_alert(run: &OperationRun, outcome: RunOutcome, reason: Option<&str>) -> Option<crate::alerts::NewAlert> {
    use atlas_domain::alerts::AlertEventType as T;
    let (kind, severity, word) = match outcome {
        RunOutcome::Failed => (T::RunFailed, atlas_domain::Severity::High, "failed"),
        RunOutcome::Blocked => (T::RunBlocked, atlas_domain::Severity::Medium, "was blocked"),
        RunOutcome::PartiallySucceeded => (T::RunPartial, atlas_domain::Severity::Medium, "partly failed"),
        _ => return None,
    };
    let env = run.environment();
    let title = match &env {
        Some(e) => format!("{} {word} in {e}", run.kind.label()),
        None => format!("{} {word}", run.kind.label()),
    };
    Some(crate::alerts::NewAlert {
        kind,
        environment_id: env,
        severity: Some(severity),
        object: format!("run/{}", run.run_id),
        state: outcome.as_str().to_owned(),
        title,
        link: format!("/workspaces/{}/operations/{}", run.workspace_id, run.run_id),
        data: json!({
            "run_id": run.run_id,
            "operation_type": run.kind.as_str(),
            "outcome": outcome.as_str(),
            "reason": reason,
            "counts": {"total": run.counts.total, "succeeded": run.count_succeeded, "failed": run.count_failed, "skipped": run.count_skipped},
        }),
    })
}

pub fn role_of(r: &str) -> Option<Role> {
    Role::parse(r)
}

/// The initiator's scope for a run's environment, rebuilt at execution after [`begin`] re-checked
/// membership, entitlement and capability.
pub async fn scope_of(state: &AppState, run: &OperationRun) -> ServiceResult<Option<EnvScope>> {
    let ws = run.workspace().map_err(ServiceError::Permanent)?;
    if run.environment().is_none() {
        return Ok(None);
    }
    let Some(m) = crate::tenancy::membership(state, &ws, &run.initiator_id).await? else {
        return Ok(None);
    };
    Ok(scope_with(run, m))
}

/// [`scope_of`] with the initiator's membership already read.
fn scope_with(run: &OperationRun, m: crate::tenancy::Membership) -> Option<EnvScope> {
    use crate::scope::{Proof, WorkspaceScope};
    let ws = run.workspace().ok()?;
    let env = run.environment()?;
    let actor = Actor {
        user_id: run.initiator_id.clone(),
        email: run.initiator_email.clone(),
        name: String::new(),
    };
    let ws_scope = WorkspaceScope::new(actor, ws, m.role, m.entitlement, None, Proof::checked());
    Some(EnvScope::new(ws_scope, env, Proof::checked()))
}

/// A message that exhausted its receives: its unit is recorded as failed, so the run shows it
/// rather than waiting for it. Anything that is not a unit of a run is only logged.
pub async fn dead_letter(state: &AppState, body: &str) -> ServiceResult<()> {
    match serde_json::from_str::<WorkMessage>(body) {
        Ok(m) => {
            let detail = json!({"reason": "The work failed on every attempt and was moved to the dead-letter queue."});
            // Every unit the message carried (ADR 0051); one recorded before keeps its result.
            let units = m
                .units()
                .into_iter()
                .map(|u| (u.item, ItemResult::Failed, detail.clone()))
                .collect();
            record_all(state, &m.run_id, None, units).await.map(|_| ())
        }
        Err(_) if crate::support::DeliverSupport::parse(body).is_some() => {
            let m = crate::support::DeliverSupport::parse(body).ok_or(ServiceError::NotFound)?;
            crate::support::dead_letter(state, &m).await
        }
        Err(_) if crate::alerts::deliver::DeliverMessage::parse(body).is_some() => {
            let m = crate::alerts::deliver::DeliverMessage::parse(body).ok_or(ServiceError::NotFound)?;
            crate::alerts::deliver::dead_letter(state, &m).await
        }
        Err(_) => {
            tracing::warn!(
                bytes = body.len(),
                "a dead-lettered message that is not a run's work was dropped"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(outbox: &RunOutbox) -> Vec<(String, Vec<String>)> {
        messages(outbox)
            .unwrap()
            .iter()
            .map(|b| serde_json::from_str::<WorkMessage>(b).unwrap())
            .map(|m| (m.item, m.also))
            .collect()
    }

    #[test]
    fn an_outbox_sends_units_with_the_same_params_together_up_to_its_group() {
        let units: Vec<(String, Value)> = [
            ("a", json!({})),
            ("b", json!({})),
            ("c", json!({})),
            ("d", json!({"x": 1})),
            ("e", json!({"x": 1})),
            ("f", json!({})),
        ]
        .into_iter()
        .map(|(i, p)| (i.to_owned(), p))
        .collect();
        let outbox =
            |group| RunOutbox::of_units("01jrun", 0, "q", Some("ws/env".into()), units.clone(), 5).grouped(group);
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            sent(&outbox(2)),
            [
                ("a".to_owned(), s(&["b"])),
                ("c".to_owned(), s(&[])),
                ("d".to_owned(), s(&["e"])),
                ("f".to_owned(), s(&[])),
            ]
        );
        // Without a group (and as outboxes were written before): one unit per message.
        assert_eq!(sent(&outbox(1)).len(), 6);
        assert!(sent(&outbox(1)).iter().all(|(_, also)| also.is_empty()));
        // A message's units are messages of their own, with its params and environment.
        let m: WorkMessage = serde_json::from_str(&messages(&outbox(5)).unwrap()[0]).unwrap();
        let units = m.units();
        assert_eq!(
            units.iter().map(|u| u.item.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(
            units
                .iter()
                .all(|u| u.also.is_empty() && u.env.as_deref() == Some("ws/env"))
        );
        // A single unit's message reads as it always did (no `also`).
        assert!(!messages(&outbox(1)).unwrap()[0].contains("also"));
    }
}
