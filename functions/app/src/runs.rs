//! Operation runs: the execution truth of every queued action. A run is written (queued) with its
//! work in one commit (a transactional outbox, drained to the queue); each unit of work is recorded once, however often its message
//! arrives; the run completes when every unit is accounted for; a run whose authority vanished
//! before it executed ends Blocked; one stuck past its deadline is reconciled to Failed.
//!
//! Items: `RUN#<id> / RUN` (the run, canonical address; GSI1 lists a workspace's runs),
//! `RUN#<id> / ACTIVE` (GSI1 `RUNS#ACTIVE` by deadline, for the reconciler), `RUN#<id> /
//! ITEM#<key>` (one per unit of work), `<scope pk> / RUN#<id>` (the environment's index) and
//! `<scope pk> / ACTIVE#<type>` (dedupe: one active run per type and scope) and `RUN#<id> /
//! OUTBOX#<n>` (messages committed with the start and not yet sent; GSI1 `OUTBOX` by time).

use atlas_api_types as api;
pub use atlas_domain::ItemResult;
use atlas_domain::{Capability, OperationType, Role, RunOutcome, RunState, Status, WorkspaceId};
use atlas_store::{Cond, Item, Key, OutMessage, Query, SkCond, TableError, TxItem, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use crate::error::ApiError;
use crate::identity::Actor;
use crate::scope::{EnvScope, ws_pk};
use crate::state::AppState;
use crate::steps::{ACTIVE_RUNS, active_run_sk};
use crate::tenancy::{n, obj, s};

pub fn run_key(id: &str) -> Key {
    Key::new(format!("RUN#{id}"), "RUN")
}

fn marker_key(id: &str) -> Key {
    Key::new(format!("RUN#{id}"), "ACTIVE")
}

fn lock_key(scope_pk: &str, kind: OperationType) -> Key {
    Key::new(scope_pk.to_owned(), format!("ACTIVE#{}", kind.as_str()))
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
}

/// A run item's state; `None` for a value no run is written with.
pub fn state_of(run: &Item) -> Option<RunState> {
    RunState::parse(&s(run, "status"))
}

/// Queued or running: the run may still do work and end.
pub fn is_active(run: &Item) -> bool {
    state_of(run).is_some_and(RunState::is_active)
}

/// The canonical status of a run.
pub fn status(run: &Item) -> Status {
    if is_active(run) {
        return Status::Running;
    }
    RunOutcome::parse(&s(run, "outcome")).map_or(Status::Failed, RunOutcome::status)
}

pub fn to_api(run: &Item) -> api::OperationRun {
    // Units are counted by atomic adds on `count_*`; `counts.total` is fixed at the start.
    let count = |k: &str| n(run, &format!("count_{k}")).max(0) as u64;
    let kind = OperationType::parse(&s(run, "type"));
    let started = run.get("started_ms").and_then(Value::as_i64);
    let ended = run.get("ended_ms").and_then(Value::as_i64);
    api::OperationRun {
        id: s(run, "run_id"),
        // Runs are created only with a catalog type.
        operation_type: kind.unwrap_or(OperationType::RunReconcile),
        label: kind.map(|k| k.label().to_owned()).unwrap_or_default(),
        workspace_id: s(run, "workspace_id"),
        environment_id: run.get("environment_id").and_then(Value::as_str).map(str::to_owned),
        initiator: s(run, "initiator_email"),
        state: RunState::parse(&s(run, "status")).unwrap_or(RunState::Completed),
        outcome: run.get("outcome").and_then(Value::as_str).and_then(RunOutcome::parse),
        status: status(run),
        reason: run.get("reason").and_then(Value::as_str).map(str::to_owned),
        created_ms: n(run, "created_ms"),
        started_ms: started,
        ended_ms: ended,
        duration_ms: started.zip(ended).map(|(a, b)| b - a),
        total: run["counts"]["total"].as_u64().unwrap_or(0),
        succeeded: count("succeeded"),
        failed: count("failed"),
        skipped: count("skipped"),
    }
}

pub struct Started {
    pub run: Item,
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
) -> Result<Started, ApiError> {
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
        }
    }

    pub fn also(mut self, changes: Vec<TxItem>, conflict: impl Into<String>) -> Self {
        self.also = changes;
        self.conflict = conflict.into();
        self
    }
}

/// The partition (GSI1) of every outbox item not yet drained, by creation time.
pub const OUTBOX: &str = "OUTBOX";
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
pub async fn start_with(state: &AppState, scope: &EnvScope, start: Start) -> Result<Started, ApiError> {
    let Start {
        id,
        kind,
        queue,
        items,
        deadline_ms,
        also,
        conflict,
    } = start;
    let ws = scope.workspace();
    let now = state.clock.now_millis();
    let empty = items.is_empty();
    let mut run = obj(json!({
        "PK": format!("RUN#{id}"), "SK": "RUN", "entity": "operation_run", "run_id": id, "type": kind.as_str(),
        "workspace_id": ws.workspace_id().as_str(), "environment_id": scope.environment_id().as_str(),
        "initiator_id": ws.actor().user_id, "initiator_email": ws.actor().email, "queue": queue,
        "status": RunState::Queued.as_str(), "created_ms": now, "deadline_ms": now + deadline_ms,
        "counts": {"total": items.len(), "succeeded": 0, "failed": 0, "skipped": 0},
        "GSI1PK": format!("RUNS#{}", ws.workspace_id()), "GSI1SK": format!("RUN#{id}"),
    }));
    if empty {
        // Nothing to queue: the run is born complete, holding no lock.
        for (k, v) in [
            ("status", json!(RunState::Completed.as_str())),
            ("outcome", json!(RunOutcome::Succeeded.as_str())),
            ("reason", json!("Nothing to do.")),
            ("started_ms", json!(now)),
            ("ended_ms", json!(now)),
        ] {
            run.insert(k.into(), v);
        }
    }
    let marker = obj(json!({
        "PK": format!("RUN#{id}"), "SK": "ACTIVE", "entity": "run_marker", "run_id": id,
        "workspace_id": ws.workspace_id().as_str(),
        "GSI1PK": ACTIVE_RUNS, "GSI1SK": active_run_sk(now + deadline_ms, &id),
    }));
    let lock = obj(json!({
        "PK": scope.pk(), "SK": format!("ACTIVE#{}", kind.as_str()), "entity": "run_lock", "run_id": id,
        "workspace_id": ws.workspace_id().as_str(),
    }));
    let index = obj(json!({
        "PK": scope.pk(), "SK": format!("RUN#{id}"), "entity": "run_ref", "run_id": id, "type": kind.as_str(),
        "workspace_id": ws.workspace_id().as_str(), "environment_id": scope.environment_id().as_str(),
    }));
    let put = |item: Item| TxItem::Put {
        item,
        cond: Some(Cond::NotExists),
    };
    let mut changes = vec![put(run)];
    if !empty {
        changes.push(put(marker));
        changes.push(put(lock));
    }
    changes.push(put(index));
    let also_at = changes.len();
    let also_len = also.len();
    changes.extend(also);
    let bodies = items
        .into_iter()
        .map(|(item, params)| {
            serde_json::to_string(&WorkMessage {
                run_id: id.clone(),
                item,
                params,
                env: Some(format!("{}/{}", ws.workspace_id(), scope.environment_id())),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let per_item = OUTBOX_MESSAGES.max(bodies.len().div_ceil(MAX_OUTBOX_ITEMS));
    for (n, chunk) in bodies.chunks(per_item).enumerate() {
        changes.push(put(obj(json!({
            "PK": format!("RUN#{id}"), "SK": format!("OUTBOX#{n:04}"), "entity": "run_outbox", "run_id": id,
            "queue": queue, "bodies": chunk, "created_ms": now,
            "GSI1PK": OUTBOX, "GSI1SK": format!("{now:015}#{id}#{n:04}"),
        }))));
    }
    if changes.len() + 2 > atlas_store::table::MAX_TX_ITEMS {
        return Err(ApiError::internal("a run start does not fit one transaction"));
    }
    let ev = NewEvent::success("run.start", format!("run/{id}"))
        .env(scope.environment_id())
        .meta(json!({"type": kind.as_str(), "items": bodies.len()}));
    match audit::commit(state, ws, changes, ev).await {
        Ok(()) => {}
        Err(e) if !empty && audit::failed_at(&e) == Some(2) => {
            let lock = state.table.get(&lock_key(&scope.pk(), kind)).await?;
            let existing = match lock.as_ref().map(|l| s(l, "run_id")) {
                Some(rid) => state.table.get(&run_key(&rid)).await?,
                None => None,
            };
            return match existing {
                Some(run) => Ok(Started { run, created: false }),
                None => Err(ApiError::Conflict("another run just finished; start again".into())),
            };
        }
        Err(e) if audit::failed_at(&e).is_some_and(|i| (also_at..also_at + also_len).contains(&i)) => {
            return Err(ApiError::Conflict(conflict));
        }
        Err(e) => return Err(e.into()),
    }
    // Committed: the work is owed. Sent now, or by the sweep if this fails or the process dies.
    if let Err(e) = drain(state, &id).await {
        tracing::warn!(run_id = %id, error = %e, "the run's work stays in the outbox until the next sweep");
    }
    let run = state.table.get(&run_key(&id)).await?.ok_or(ApiError::NotFound)?;
    Ok(Started { run, created: true })
}

/// Sends a run's outbox to its queue, deleting each outbox item only after its messages were
/// accepted. A crash in between sends them again: every unit is idempotent, so that is harmless.
/// The outbox of a run that already ended is dropped unsent. Returns how many messages were sent.
pub async fn drain(state: &AppState, run_id: &str) -> Result<usize, ApiError> {
    let pending = state
        .table
        .query_all(Query::partition(format!("RUN#{run_id}")).begins_with("OUTBOX#"))
        .await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let active = state.table.get(&run_key(run_id)).await?.is_some_and(|r| is_active(&r));
    let mut sent = 0;
    for item in pending {
        if active {
            let bodies: Vec<OutMessage> = item
                .get("bodies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(OutMessage::new)
                .collect();
            let n = bodies.len();
            if n > 0 {
                state.queues.get(&s(&item, "queue"))?.send_batch(bodies).await?;
            }
            sent += n;
        }
        state.table.delete(&Key::of(&item)?, None).await?;
    }
    Ok(sent)
}

/// Drains every outbox item older than [`OUTBOX_GRACE_MS`]: what a crash between a start's commit
/// and its send left behind, or a queue that was unavailable then. Runs on the scheduler tick
/// (AWS) and on a short timer (local mode). Returns how many messages were sent.
pub async fn sweep_outbox(state: &AppState) -> Result<usize, ApiError> {
    let before = state.clock.now_millis() - OUTBOX_GRACE_MS;
    let q = Query::gsi1(OUTBOX).sk(SkCond::Lt(format!("{before:015}"))).limit(100);
    // A bounded page per sweep; the next sweep continues.
    let page = state.table.query(&q).await?;
    let mut runs: Vec<String> = page.items.iter().map(|i| s(i, "run_id")).collect();
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
    /// Do the work; the run is running.
    Proceed(Item),
    /// The run already ended (blocked, cancelled, reconciled): acknowledge and do nothing.
    Finished,
}

/// At execution: the run must still be active, its initiator still a member entitled to the
/// environment and holding the capability, and the environment still active. Otherwise the run
/// ends Blocked with the reason, audited.
pub async fn begin(state: &AppState, run_id: &str) -> Result<Begin, ApiError> {
    let Some(run) = state.table.get(&run_key(run_id)).await? else {
        return Ok(Begin::Finished);
    };
    if !is_active(&run) {
        return Ok(Begin::Finished);
    }
    let kind = OperationType::parse(&s(&run, "type")).ok_or_else(|| ApiError::internal("unknown run type"))?;
    let ws = WorkspaceId::parse(&s(&run, "workspace_id")).map_err(ApiError::internal)?;
    let env = run
        .get("environment_id")
        .and_then(Value::as_str)
        .and_then(|e| atlas_domain::EnvironmentId::parse(e).ok());
    let member = crate::tenancy::membership(state, &ws, &s(&run, "initiator_id")).await?;
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
        (None, Some(e)) => {
            let item = state.table.get(&crate::tenancy::env_key(&ws, e)).await?;
            match item.map(|i| s(&i, "lifecycle")) {
                Some(l) if l == "active" => None,
                Some(l) => Some(format!("The environment is {l}.")),
                None => Some("The environment no longer exists.".into()),
            }
        }
        (r, _) => r,
    };
    if let Some(reason) = reason {
        finish(state, run_id, RunOutcome::Blocked, Some(reason)).await?;
        return Ok(Begin::Finished);
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
        Ok(run) => Ok(Begin::Proceed(run)),
        Err(TableError::ConditionFailed) => Ok(Begin::Finished),
        Err(e) => Err(e.into()),
    }
}

/// Records a unit's result and completes the run when every unit is accounted for. Returns
/// false when the unit had already been recorded.
pub async fn record(
    state: &AppState,
    run_id: &str,
    item: &str,
    result: ItemResult,
    detail: Value,
) -> Result<bool, ApiError> {
    let recorded = record_unit(state, run_id, item, result, detail).await?;
    // Also after a redelivery: the unit may have crashed between recording and ending its run.
    finish_if_complete(state, run_id).await?;
    Ok(recorded)
}

/// The first half of [`record`]: the unit's record and its count, in one transaction; false when
/// the unit had already been recorded (nothing is counted twice).
pub async fn record_unit(
    state: &AppState,
    run_id: &str,
    item: &str,
    result: ItemResult,
    detail: Value,
) -> Result<bool, ApiError> {
    let rec = obj(json!({
        "PK": format!("RUN#{run_id}"), "SK": format!("ITEM#{item}"), "entity": "run_item", "run_id": run_id,
        "item": item, "result": result.as_str(), "detail": detail, "at_ms": state.clock.now_millis(),
    }));
    let tx = vec![
        TxItem::Put {
            item: rec,
            cond: Some(Cond::NotExists),
        },
        TxItem::Update {
            key: run_key(run_id),
            update: Update::new().add(&format!("count_{}", result.as_str()), 1),
            cond: Some(Cond::Exists),
        },
    ];
    match state.table.transact(tx).await {
        Ok(()) => Ok(true),
        Err(TableError::TransactionCanceled { reasons }) if reasons.first().is_some_and(Option::is_some) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Ends the run when every unit is counted. Safe to call again: [`finish`] is conditional.
pub async fn finish_if_complete(state: &AppState, run_id: &str) -> Result<(), ApiError> {
    let run = state.table.get(&run_key(run_id)).await?.ok_or(ApiError::NotFound)?;
    let total = run["counts"]["total"].as_u64().unwrap_or(0) as i64;
    let (ok, failed, skipped) = (
        n(&run, "count_succeeded"),
        n(&run, "count_failed"),
        n(&run, "count_skipped"),
    );
    if ok + failed + skipped >= total && is_active(&run) {
        finish(state, run_id, RunOutcome::of_counts(ok, failed, skipped), None).await?;
    }
    Ok(())
}

/// Ends an active run with an outcome, releasing its marker and lock, audited. A run that already
/// ended is left alone.
pub async fn finish(
    state: &AppState,
    run_id: &str,
    outcome: RunOutcome,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let Some(run) = state.table.get(&run_key(run_id)).await? else {
        return Ok(());
    };
    let Some(prior) = state_of(&run).filter(|st| st.is_active()) else {
        return Ok(());
    };
    let ws = WorkspaceId::parse(&s(&run, "workspace_id")).map_err(ApiError::internal)?;
    let scope_pk = match run.get("environment_id").and_then(Value::as_str) {
        Some(e) => format!("{}#ENV#{e}", ws_pk(&ws)),
        None => ws_pk(&ws),
    };
    let kind = OperationType::parse(&s(&run, "type")).ok_or_else(|| ApiError::internal("unknown run type"))?;
    let now = state.clock.now_millis();
    let counts = json!({
        "total": run["counts"]["total"],
        "succeeded": n(&run, "count_succeeded"), "failed": n(&run, "count_failed"), "skipped": n(&run, "count_skipped"),
    });
    let mut update = Update::new()
        .set("status", RunState::Completed.as_str())
        .set("outcome", outcome.as_str())
        .set("ended_ms", now)
        .set("counts", counts);
    if let Some(r) = &reason {
        update = update.set("reason", r.as_str());
    }
    let mut changes = vec![
        TxItem::Update {
            key: run_key(run_id),
            update,
            cond: Some(Cond::eq("status", prior.as_str())),
        },
        TxItem::Delete {
            key: marker_key(run_id),
            cond: None,
        },
    ];
    // The dedupe lock is released only if it is still this run's.
    let lock = state.table.get(&lock_key(&scope_pk, kind)).await?;
    if lock.as_ref().is_some_and(|l| s(l, "run_id") == run_id) {
        changes.push(TxItem::Delete {
            key: lock_key(&scope_pk, kind),
            cond: Some(Cond::eq("run_id", run_id)),
        });
    }
    let initiator = Actor {
        user_id: s(&run, "initiator_id"),
        email: s(&run, "initiator_email"),
        name: String::new(),
    };
    let env = run
        .get("environment_id")
        .and_then(Value::as_str)
        .and_then(|e| atlas_domain::EnvironmentId::parse(e).ok());
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
    let tx = audit::with_event(state, &ws, &initiator, None, changes, ev);
    match state.table.transact(tx).await {
        Ok(()) => Ok(()),
        // Someone else ended it first.
        Err(TableError::TransactionCanceled { reasons }) if reasons.first().is_some_and(Option::is_some) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn role_of(r: &str) -> Option<Role> {
    Role::parse(r)
}

/// The initiator's scope for a run's environment, rebuilt at execution after [`begin`] re-checked
/// membership, entitlement and capability.
pub async fn scope_of(state: &AppState, run: &Item) -> Result<Option<EnvScope>, ApiError> {
    use crate::scope::{Proof, WorkspaceScope};
    let ws = WorkspaceId::parse(&s(run, "workspace_id")).map_err(ApiError::internal)?;
    let Some(env) = run
        .get("environment_id")
        .and_then(Value::as_str)
        .and_then(|e| atlas_domain::EnvironmentId::parse(e).ok())
    else {
        return Ok(None);
    };
    let Some(m) = crate::tenancy::membership(state, &ws, &s(run, "initiator_id")).await? else {
        return Ok(None);
    };
    let actor = Actor {
        user_id: s(run, "initiator_id"),
        email: s(run, "initiator_email"),
        name: String::new(),
    };
    let ws_scope = WorkspaceScope::new(actor, ws, m.role, m.entitlement, None, Proof::checked());
    Ok(Some(EnvScope::new(ws_scope, env, Proof::checked())))
}

/// A message that exhausted its receives: its unit is recorded as failed, so the run shows it
/// rather than waiting for it. Anything that is not a unit of a run is only logged.
pub async fn dead_letter(state: &AppState, body: &str) -> Result<(), ApiError> {
    match serde_json::from_str::<WorkMessage>(body) {
        Ok(m) => {
            let detail = json!({"reason": "The work failed on every attempt and was moved to the dead-letter queue."});
            record(state, &m.run_id, &m.item, ItemResult::Failed, detail)
                .await
                .map(|_| ())
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
