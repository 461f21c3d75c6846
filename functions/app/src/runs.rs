//! Operation runs: the execution truth of every queued action. A run is written (queued) and its
//! work sent in one motion; each unit of work is recorded once, however often its message
//! arrives; the run completes when every unit is accounted for; a run whose authority vanished
//! before it executed ends Blocked; one stuck past its deadline is reconciled to Failed.
//!
//! Items: `RUN#<id> / RUN` (the run, canonical address; GSI1 lists a workspace's runs),
//! `RUN#<id> / ACTIVE` (GSI1 `RUNS#ACTIVE` by deadline, for the reconciler), `RUN#<id> /
//! ITEM#<key>` (one per unit of work), `<scope pk> / RUN#<id>` (the environment's index) and
//! `<scope pk> / ACTIVE#<type>` (dedupe: one active run per type and scope).

use atlas_api_types as api;
use atlas_domain::{Capability, OperationType, Role, Status, WorkspaceId};
use atlas_store::{Cond, Item, Key, OutMessage, TableError, TxItem, Update};
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
}

/// The canonical status of a run.
pub fn status(run: &Item) -> Status {
    match (s(run, "status").as_str(), s(run, "outcome").as_str()) {
        ("queued" | "running", _) => Status::Running,
        (_, "succeeded") => Status::Ready,
        (_, "partially_succeeded") => Status::NeedsAttention,
        (_, "blocked") => Status::Blocked,
        (_, "cancelled") => Status::Historical,
        _ => Status::Failed,
    }
}

pub fn to_api(run: &Item) -> api::OperationRun {
    // Units are counted by atomic adds on `count_*`; `counts.total` is fixed at the start.
    let count = |k: &str| n(run, &format!("count_{k}")).max(0) as u64;
    let kind = OperationType::parse(&s(run, "type"));
    let started = run.get("started_ms").and_then(Value::as_i64);
    let ended = run.get("ended_ms").and_then(Value::as_i64);
    api::OperationRun {
        id: s(run, "run_id"),
        operation_type: s(run, "type"),
        label: kind.map(|k| k.label().to_owned()).unwrap_or_default(),
        workspace_id: s(run, "workspace_id"),
        environment_id: run.get("environment_id").and_then(Value::as_str).map(str::to_owned),
        initiator: s(run, "initiator_email"),
        state: s(run, "status"),
        outcome: run.get("outcome").and_then(Value::as_str).map(str::to_owned),
        status: status(run).as_str().to_owned(),
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
    let ws = scope.workspace();
    let id = state.ids.next_id();
    let now = state.clock.now_millis();
    let run = obj(json!({
        "PK": format!("RUN#{id}"), "SK": "RUN", "entity": "operation_run", "run_id": id, "type": kind.as_str(),
        "workspace_id": ws.workspace_id().as_str(), "environment_id": scope.environment_id().as_str(),
        "initiator_id": ws.actor().user_id, "initiator_email": ws.actor().email, "queue": queue,
        "status": "queued", "created_ms": now, "deadline_ms": now + deadline_ms,
        "counts": {"total": items.len(), "succeeded": 0, "failed": 0, "skipped": 0},
        "GSI1PK": format!("RUNS#{}", ws.workspace_id()), "GSI1SK": format!("RUN#{id}"),
    }));
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
    let changes = vec![
        TxItem::Put {
            item: run.clone(),
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: marker,
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: lock,
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: index,
            cond: Some(Cond::NotExists),
        },
    ];
    let ev = NewEvent::success("run.start", format!("run/{id}"))
        .env(scope.environment_id())
        .meta(json!({"type": kind.as_str(), "items": items.len()}));
    match audit::commit(state, ws, changes, ev).await {
        Ok(()) => {}
        Err(e) if audit::failed_at(&e) == Some(2) => {
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
        Err(e) => return Err(e.into()),
    }
    let messages: Result<Vec<OutMessage>, _> = items
        .into_iter()
        .map(|(item, params)| {
            serde_json::to_string(&WorkMessage {
                run_id: id.clone(),
                item,
                params,
            })
            .map(OutMessage::new)
        })
        .collect();
    let sent = match messages {
        Ok(m) if m.is_empty() => Ok(Vec::new()),
        Ok(m) => state.queues.get(queue)?.send_batch(m).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::error!(run_id = %id, error = %e, "could not queue the run's work");
        finish(
            state,
            &id,
            "failed",
            Some("The work could not be queued; nothing was done.".into()),
        )
        .await?;
    } else if run["counts"]["total"] == 0 {
        finish(state, &id, "succeeded", Some("Nothing to do.".into())).await?;
    }
    let run = state.table.get(&run_key(&id)).await?.ok_or(ApiError::NotFound)?;
    Ok(Started { run, created: true })
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
    if !matches!(s(&run, "status").as_str(), "queued" | "running") {
        return Ok(Begin::Finished);
    }
    let kind = OperationType::parse(&s(&run, "type")).ok_or_else(|| ApiError::internal("unknown run type"))?;
    let ws = WorkspaceId::parse(&s(&run, "workspace_id")).map_err(ApiError::internal)?;
    let env = run
        .get("environment_id")
        .and_then(Value::as_str)
        .and_then(|e| atlas_domain::EnvironmentId::parse(e).ok());
    let member = crate::auth::membership(state, &ws, &s(&run, "initiator_id")).await?;
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
        finish(state, run_id, "blocked", Some(reason)).await?;
        return Ok(Begin::Finished);
    }
    let started = Update::new()
        .set("status", "running")
        .set_if_absent("started_ms", state.clock.now_millis());
    match state
        .table
        .update(
            &run_key(run_id),
            &started,
            Some(Cond::Or(vec![
                Cond::eq("status", "queued"),
                Cond::eq("status", "running"),
            ])),
        )
        .await
    {
        Ok(run) => Ok(Begin::Proceed(run)),
        Err(TableError::ConditionFailed) => Ok(Begin::Finished),
        Err(e) => Err(e.into()),
    }
}

/// A unit's result. Recorded once per run and item: a redelivered message changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemResult {
    Succeeded,
    Failed,
    Skipped,
}

impl ItemResult {
    fn as_str(self) -> &'static str {
        match self {
            ItemResult::Succeeded => "succeeded",
            ItemResult::Failed => "failed",
            ItemResult::Skipped => "skipped",
        }
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
    if ok + failed + skipped >= total && matches!(s(&run, "status").as_str(), "queued" | "running") {
        let outcome = if failed == 0 {
            "succeeded"
        } else if ok + skipped > 0 {
            "partially_succeeded"
        } else {
            "failed"
        };
        finish(state, run_id, outcome, None).await?;
    }
    Ok(())
}

/// Ends an active run with an outcome, releasing its marker and lock, audited. A run that already
/// ended is left alone.
pub async fn finish(state: &AppState, run_id: &str, outcome: &str, reason: Option<String>) -> Result<(), ApiError> {
    let Some(run) = state.table.get(&run_key(run_id)).await? else {
        return Ok(());
    };
    let prior = s(&run, "status");
    if !matches!(prior.as_str(), "queued" | "running") {
        return Ok(());
    }
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
        .set("status", "completed")
        .set("outcome", outcome)
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
            "succeeded" => Outcome::Success,
            "blocked" => Outcome::Denied,
            _ => Outcome::Failed,
        },
        reason: reason.clone(),
        metadata: json!({"type": kind.as_str(), "outcome": outcome}),
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
    let Some(m) = crate::auth::membership(state, &ws, &s(run, "initiator_id")).await? else {
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
