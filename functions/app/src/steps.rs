//! The step registry: every operation-run step is its own Lambda consuming its own SQS queue
//! (with a dead-letter queue), reporting partial batch failures. Locally the same handlers run
//! as in-process workers on the embedded queues.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use atlas_domain::OperationType;
use atlas_store::TableError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "local")]
use tokio::sync::watch;
use tracing::Instrument;

use crate::records::Record;
use crate::records::runs::RunMarker;
use crate::registry::TableAccess;
use crate::state::AppState;

mod unit;
use unit::service_to_step;
pub use unit::{Done, StepWork, Unit};

pub type StepFuture = Pin<Box<dyn Future<Output = Result<(), StepError>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The body is not a message this step understands. Retrying cannot help; after its
    /// receives run out it lands in the dead-letter queue, where an operator sees it.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A transient failure: the message is redelivered after its visibility timeout.
    #[error("retryable: {0}")]
    Retry(String),
    /// The unit must wait this long (Graph's `Retry-After`): it is re-queued with that delay and
    /// its worker freed for other work.
    #[error("must wait {0:?}")]
    Defer(Duration),
    /// Some units of the message must wait this long: the message `body` carries them alone
    /// (the others were recorded), re-queued with that delay.
    #[error("must wait {0:?}")]
    DeferWith(Duration, String),
}

impl From<TableError> for StepError {
    fn from(e: TableError) -> Self {
        StepError::Retry(e.to_string())
    }
}

#[derive(Clone, Copy)]
pub struct Step {
    /// The Lambda function (and binary) name.
    pub function: &'static str,
    /// The logical queue it consumes; the template names it `<stack>-<queue>`.
    pub queue: &'static str,
    pub operation: OperationType,
    pub summary: &'static str,
    pub table: TableAccess,
    pub handler: fn(AppState, String) -> StepFuture,
    /// Seals or opens secrets (a provider's credential for Graph): the template grants it the KMS key.
    pub secrets: bool,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} on {}", self.function, self.queue)
    }
}

/// Queues a step starts runs on besides its own (a backup's end starts its retention run and a
/// promotion's cutover): the template lets its function send there.
pub fn also_sends(step: &Step) -> &'static [&'static str] {
    match step.queue {
        "backup-capture" => &["backup-prune", crate::restore::QUEUE],
        _ => &[],
    }
}

pub fn steps() -> &'static [Step] {
    &[
        Step {
            function: "step-run-reconcile",
            queue: "run-reconcile",
            operation: OperationType::RunReconcile,
            secrets: false,
            summary: "Marks operation runs stuck past their deadline as failed, with the reason",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(reconcile(s, b)),
        },
        Step {
            function: "step-inventory-sync",
            queue: "inventory-sync",
            operation: OperationType::InventorySync,
            secrets: true,
            summary: "Syncs one policy family of an environment's inventory, with ghost detection",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(unit::run(s, b, unit::InventorySync)),
        },
        Step {
            function: "step-backup-capture",
            queue: "backup-capture",
            operation: OperationType::BackupCapture,
            secrets: true,
            summary: "Captures one policy family of an environment into a backup set",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(unit::run(s, b, unit::BackupCapture::default())),
        },
        Step {
            function: "step-backup-prune",
            queue: "backup-prune",
            operation: OperationType::BackupPrune,
            secrets: false,
            summary: "Applies a schedule's retention: deletes the sets it no longer keeps",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(unit::run(s, b, unit::BackupPrune)),
        },
        Step {
            function: "step-restore-execute",
            queue: "restore-execute",
            operation: OperationType::RestoreExecute,
            secrets: true,
            summary: "Restores one item: re-read, create or update, assign, verify; written at most once",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(unit::run(s, b, unit::RestoreExecute)),
        },
        Step {
            function: "step-provider-verify",
            queue: "provider-verify",
            operation: OperationType::ProviderVerify,
            secrets: true,
            summary: "Verifies a provider connection: token, permissions, one read per family",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(unit::run(s, b, unit::ProviderVerify)),
        },
        Step {
            function: "step-drift-detect",
            queue: crate::drift::DETECT_QUEUE,
            operation: OperationType::DriftDetect,
            secrets: true,
            summary: "Reads one policy family of an environment and compares it with its baselines: findings open, update or resolve",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(unit::run(s, b, unit::DriftDetect)),
        },
        Step {
            function: "step-drift-poll",
            queue: crate::drift::feed::POLL_QUEUE,
            operation: OperationType::DriftDetect,
            secrets: true,
            summary: "Reads an environment's Intune audit log since its cursor, refetches what changed and re-evaluates its drift",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(drift_poll(s, b)),
        },
        Step {
            function: crate::alerts::deliver::FUNCTION,
            queue: crate::alerts::deliver::QUEUE,
            operation: OperationType::AlertDeliver,
            secrets: true,
            summary: "Sends one alert delivery (signed webhook or Teams card), records the attempt, retries with backoff",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(alert_deliver(s, b)),
        },
        Step {
            function: crate::evidence::FUNCTION,
            queue: crate::evidence::QUEUE,
            operation: OperationType::EvidenceBuild,
            secrets: false,
            summary: "Builds one evidence pack: the period's records, audit chain, manifest, SHA256SUMS and Ed25519 signature",
            table: TableAccess::Write,
            handler: |s, b| Box::pin(evidence_build(s, b)),
        },
    ]
}

/// One evidence pack build (a one-unit `evidence.build` run; the unit checks its own scope, as a
/// workspace-wide run has no environment for the shared unit code).
async fn evidence_build(state: AppState, body: String) -> Result<(), StepError> {
    crate::evidence::build_step(&state, &body)
        .await
        .map_err(service_to_step)
}

/// One alert delivery attempt (not an operation run: its history is the delivery's attempts).
async fn alert_deliver(state: AppState, body: String) -> Result<(), StepError> {
    // Support requests' e-mails ride the same queue and e-mail path (spec 025, ADR 0047).
    if crate::support::DeliverSupport::parse(&body).is_some() {
        return crate::support::deliver(&state, &body).await.map_err(service_to_step);
    }
    if crate::alerts::deliver::DeliverMessage::parse(&body).is_none() {
        return Err(StepError::Malformed("not an alert delivery message".into()));
    }
    crate::alerts::deliver::handle(&state, &body)
        .await
        .map_err(service_to_step)
}

/// A batch of change-feed polls (not an operation run: it runs every few minutes per environment
/// and reports what it did in one log line per environment; what it finds shows as findings and
/// changes). An environment whose poll fails is left to the next slot.
async fn drift_poll(state: AppState, body: String) -> Result<(), StepError> {
    let batch = crate::drift::feed::PollBatch::parse(&body).map_err(|e| StepError::Malformed(e.to_string()))?;
    for (m, res) in crate::drift::feed::poll_batch(&state, &batch).await {
        match res {
            Ok(polled) => tracing::info!(
                workspace_id = %m.workspace_id,
                environment_id = %m.environment_id,
                events = polled.events,
                changes = polled.changes,
                refetched = polled.refetched,
                gone = polled.gone,
                opened = polled.opened,
                resolved = polled.resolved,
                skipped = polled.skipped.as_deref().unwrap_or(""),
                "change feed polled"
            ),
            Err(e) => tracing::warn!(
                workspace_id = %m.workspace_id,
                environment_id = %m.environment_id,
                error = %e,
                "change feed poll failed; the next slot polls again"
            ),
        }
    }
    Ok(())
}

/// The dead-letter consumer of a step's queue, named after the step.
pub fn dead_letter_function(step: &Step) -> String {
    format!("{}-dead-letters", step.function)
}

/// The span every log line of one message's handling is written in: the step, and the run, its
/// workspace and environment and its operation type, so a unit's lines can be found by any of
/// them. A message that names no environment gets it from its run once the unit has begun.
pub fn unit_span(step: &Step, message_id: &str, body: &str) -> tracing::Span {
    let m = serde_json::from_str::<crate::runs::WorkMessage>(body).ok();
    let run_id = m.as_ref().map(|m| m.run_id.clone()).unwrap_or_default();
    let (ws, env) = m
        .as_ref()
        .and_then(|m| m.env.as_deref())
        .and_then(|e| e.split_once('/'))
        .map_or((None, None), |(w, e)| (Some(w.to_owned()), Some(e.to_owned())));
    let span = tracing::info_span!(
        "unit",
        step = step.function,
        message_id = %message_id,
        operation_type = %step.operation,
        run_id = tracing::field::Empty,
        workspace_id = tracing::field::Empty,
        environment_id = tracing::field::Empty,
    );
    if !run_id.is_empty() {
        span.record("run_id", tracing::field::display(&run_id));
    }
    if let (Some(ws), Some(env)) = (ws, env) {
        span.record("workspace_id", tracing::field::display(&ws));
        span.record("environment_id", tracing::field::display(&env));
    }
    span
}

pub fn find(function: &str) -> Option<Step> {
    steps().iter().find(|s| s.function == function).copied()
}

/// Runs one batch; returns the ids of the messages that failed (the SQS partial batch response).
/// The messages run side by side, so one slow unit does not hold back the others of the batch.
pub async fn handle_batch(state: &AppState, step: &Step, messages: Vec<(String, String)>) -> Vec<String> {
    let mut running = tokio::task::JoinSet::new();
    let bill = crate::metering::BatchBill::new(step.function, messages.len());
    for (id, body) in messages {
        let (state, step, bill) = (state.clone(), *step, bill.clone());
        let span = unit_span(&step, &id, &body);
        running.spawn(
            async move {
                match handle_in_batch(&state, &step, body, &bill).await {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::warn!(step = step.function, message_id = %id, error = %e, "step failed; the message will be retried");
                        Some(id)
                    }
                }
            }
            .instrument(span),
        );
    }
    let mut failed = Vec::new();
    while let Some(done) = running.join_next().await {
        match done {
            Ok(Some(id)) => failed.push(id),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(step = step.function, error = %e, "a step task panicked; its message will be retried")
            }
        }
    }
    failed
}

/// The longest Graph `Retry-After` a unit sleeps through; a longer one re-queues it (ADR 0022).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// A unit re-queued this often for throttling takes the ordinary retry path (and, in the end,
/// the dead-letter queue), so a tenant that never lets up cannot keep it alive forever.
pub const MAX_DEFERRALS: u64 = 60;

/// Runs the step on one message. A unit that must wait is re-queued with that delay and counts
/// as handled: it gives its worker back instead of sleeping.
///
/// What the unit consumes of the table is metered and added to its run (ADR 0038), whether the
/// unit succeeded or not: a failed attempt is billed too.
pub async fn handle_one(state: &AppState, step: &Step, body: String) -> Result<(), StepError> {
    atlas_store::capacity::trace::within(step.function, handle_one_traced(state, step, body, None)).await
}

/// [`handle_one`] for one message of a received batch: the batch is billed as one invocation.
pub async fn handle_in_batch(
    state: &AppState,
    step: &Step,
    body: String,
    bill: &std::sync::Mutex<crate::metering::BatchBill>,
) -> Result<(), StepError> {
    atlas_store::capacity::trace::within(step.function, handle_one_traced(state, step, body, Some(bill))).await
}

async fn handle_one_traced(
    state: &AppState,
    step: &Step,
    body: String,
    bill: Option<&std::sync::Mutex<crate::metering::BatchBill>>,
) -> Result<(), StepError> {
    let started = std::time::Instant::now();
    // `total` sees everything the unit consumed; `meter` what is not yet on its run (recording
    // the unit takes what came before it).
    let total = atlas_store::Meter::under(state.table.meter());
    let meter = atlas_store::Meter::under(Some(total.clone()));
    let mut metered = state.clone();
    metered.table = state.table.metered(meter.clone());
    let res = match (step.handler)(metered, body.clone()).await {
        Err(StepError::Defer(wait)) => requeue(state, step, &body, wait, true).await,
        Err(StepError::DeferWith(wait, rest)) => requeue(state, step, &carried(&body, rest), wait, true).await,
        other => other,
    };
    // The tail (what followed the unit's record) is added only when it wrote: a run's own
    // status reads after its count would otherwise cost a write each (ADR 0038 amendment).
    let tail = meter.take();
    if tail.write_milli > 0
        && let Ok(msg) = serde_json::from_str::<crate::runs::WorkMessage>(&body)
        && let Err(e) = crate::runs::add_units(state, &msg.run_id, tail).await
    {
        tracing::warn!(step = step.function, error = %e, "the unit's consumed capacity was not recorded");
    }
    let took = started.elapsed();
    match bill {
        Some(bill) => crate::metering::BatchBill::done(bill, took, total.consumed()),
        None => crate::metering::global().invoked(step.function, took, total.consumed()),
    }
    if crate::metering::in_lambda() {
        println!(
            "{}",
            crate::metering::emf_line(step.function, took, total.consumed(), state.clock.now_millis())
        );
    }
    res
}

/// `rest` (what is left of the message `body`) with the deferrals `body` had used, so a unit
/// re-queued with others still meets [`MAX_DEFERRALS`].
fn carried(body: &str, rest: String) -> String {
    let used = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("deferred").and_then(Value::as_u64));
    match (used, serde_json::from_str::<Value>(&rest)) {
        (Some(n), Ok(Value::Object(mut obj))) => {
            obj.insert("deferred".into(), Value::from(n));
            Value::Object(obj).to_string()
        }
        _ => rest,
    }
}

/// Sends a fresh copy of `body` with a delay. A fresh copy, not a visibility change: a released
/// receive counts toward the dead-letter limit, and waiting is not failing. `count` marks a
/// deferral the unit asked for (capped by [`MAX_DEFERRALS`]), not a slot given back for fairness.
async fn requeue(state: &AppState, step: &Step, body: &str, wait: Duration, count: bool) -> Result<(), StepError> {
    let mut value: Value = serde_json::from_str(body).map_err(|e| StepError::Malformed(e.to_string()))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| StepError::Malformed("the message is not an object".into()))?;
    let deferred = obj.get("deferred").and_then(Value::as_u64).unwrap_or(0);
    if count {
        if deferred >= MAX_DEFERRALS {
            return Err(StepError::Retry(format!("still waiting after {deferred} deferrals")));
        }
        obj.insert("deferred".into(), Value::from(deferred + 1));
    }
    let delay = wait.clamp(Duration::from_secs(1), Duration::from_secs(900));
    let queue = state.queues.get(step.queue).map_err(service_to_step)?;
    queue
        .send(atlas_store::OutMessage::new(value.to_string()).delayed(delay))
        .await
        .map_err(|e| StepError::Retry(e.to_string()))?;
    tracing::info!(
        step = step.function,
        delay_s = delay.as_secs(),
        deferred = deferred + u64::from(count),
        "unit re-queued to wait"
    );
    Ok(())
}

/// How long a locally received message stays hidden while its step runs; a running unit extends it.
#[cfg(feature = "local")]
pub const LOCAL_VISIBILITY: Duration = Duration::from_secs(60);
/// Units one local worker runs at once, across tenants: enough that 20 of one backup's 25 families
/// run at once with [`KEEP_FREE`] slots left for others (the rest start as those end). A unit mostly waits on Graph, whose per-tenant
/// in-flight limit and budget bound the real load.
#[cfg(feature = "local")]
pub const LOCAL_CONCURRENCY: usize = 24;
/// Units of one environment a local worker runs at once while other tenants could use the slots:
/// each tenant's fair share.
#[cfg(feature = "local")]
pub const PER_TENANT: usize = 4;
/// Slots a tenant over its share leaves free. A backup's 25 families are 5 messages of 5 families
/// read side by side (ADR 0051); while the worker has more than this many slots free, a tenant may
/// borrow them (up to 20 of 24), so one backup reads all of its families side by side. Any other tenant still finds this many free for its share, and a
/// borrowed slot comes back when its unit ends (units are one family: seconds).
#[cfg(feature = "local")]
pub const KEEP_FREE: usize = PER_TENANT;
/// Units received while their tenant is at its limit, held in memory (message kept hidden) and
/// started as soon as that tenant has a slot, instead of going back to the queue for a second.
#[cfg(feature = "local")]
const MAX_HELD: usize = 64;
/// How long a unit of a tenant with every slot busy waits in the queue before it is received
/// again, when [`MAX_HELD`] units are held already: the queue's shortest delay.
#[cfg(feature = "local")]
const TENANT_BUSY_WAIT: Duration = Duration::from_secs(1);
/// With units held and nothing received, how soon the queue is looked at again.
#[cfg(feature = "local")]
const HELD_POLL: Duration = Duration::from_millis(50);
/// On stop, in-flight units get this long to finish; the rest are released back to the queue.
#[cfg(feature = "local")]
pub const STOP_GRACE: Duration = Duration::from_secs(6);

/// The fairness key of a message: the environment of its run, or "" for system work.
#[cfg(feature = "local")]
fn tenant_of(body: &str) -> String {
    serde_json::from_str::<crate::runs::WorkMessage>(body)
        .ok()
        .and_then(|m| m.env)
        .unwrap_or_default()
}

/// Takes a slot for a unit of `tenant` if it may run now, with `running` units in flight: system
/// work always, a tenant under its share whenever a slot is free, a tenant over it only while more
/// than [`KEEP_FREE`] slots stay free for others.
#[cfg(feature = "local")]
fn take_slot(busy: &std::sync::Mutex<std::collections::HashMap<String, usize>>, tenant: &str, running: usize) -> bool {
    let mut busy = busy.lock().unwrap_or_else(|p| p.into_inner());
    let n = busy.entry(tenant.to_owned()).or_default();
    let free = LOCAL_CONCURRENCY.saturating_sub(running);
    let ok = free > 0 && (tenant.is_empty() || *n < PER_TENANT || free > KEEP_FREE);
    if ok {
        *n += 1;
    }
    ok
}

/// A local worker: receives from the step's queue until `shutdown` turns true, running up to
/// [`LOCAL_CONCURRENCY`] units at once; a tenant runs [`PER_TENANT`] of them, more only while
/// [`KEEP_FREE`] slots stay free for others. A unit whose tenant is at its limit is held (its
/// message kept hidden) and starts when that tenant has a slot. A receive does not wait for the
/// previous ones to finish. A message is deleted only after its step succeeded, so a crash or
/// shutdown loses nothing.
#[cfg(feature = "local")]
pub async fn run_worker(state: AppState, step: Step, mut shutdown: watch::Receiver<bool>) {
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;
    let queue = match state.queues.get(step.queue) {
        Ok(q) => q.clone(),
        Err(e) => {
            tracing::error!(step = step.function, error = %e, "worker cannot start");
            return;
        }
    };
    // Receipts of the units in flight, by task, and how many each tenant has.
    let inflight: Arc<Mutex<HashMap<u64, String>>> = Arc::default();
    let mut next_key = 0u64;
    let per_tenant: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut running = tokio::task::JoinSet::new();
    // Units waiting for their tenant's slot, oldest first, with when their message was last hidden.
    type Bill = Arc<Mutex<crate::metering::BatchBill>>;
    let mut held: VecDeque<(String, atlas_store::Received, Instant, Bill)> = VecDeque::new();
    let mut start = |tenant: String, m: atlas_store::Received, bill: Bill, running: &mut tokio::task::JoinSet<()>| {
        let (state, queue, per_tenant, inflight2) =
            (state.clone(), queue.clone(), per_tenant.clone(), inflight.clone());
        let span = tracing::info_span!("step", receive_count = m.receive_count);
        let span = span.in_scope(|| unit_span(&step, &m.id, &m.body));
        next_key += 1;
        let key = next_key;
        inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, m.receipt.clone());
        running.spawn(
            async move {
                let work = handle_in_batch(&state, &step, m.body, &bill);
                tokio::pin!(work);
                // A long unit keeps its message hidden, so it is not delivered twice meanwhile.
                let mut beat = tokio::time::interval(LOCAL_VISIBILITY / 2);
                beat.tick().await;
                let result = loop {
                    tokio::select! {
                        r = &mut work => break r,
                        _ = beat.tick() => {
                            let _ = queue.change_visibility(&m.receipt, LOCAL_VISIBILITY).await;
                        }
                    }
                };
                match result {
                    Ok(()) => {
                        if let Err(e) = queue.delete(&m.receipt).await {
                            tracing::warn!(error = %e, "could not delete a finished message; it will run again");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "step failed; the message will be retried"),
                }
                if let Some(n) = per_tenant.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&tenant) {
                    *n = n.saturating_sub(1);
                }
                inflight2.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
            .instrument(span),
        );
    };
    while !*shutdown.borrow() {
        while running.try_join_next().is_some() {}
        // Held units whose tenant has room now go first, oldest first.
        let mut i = 0;
        while i < held.len() {
            if take_slot(&per_tenant, &held[i].0, running.len()) {
                if let Some((tenant, m, _, bill)) = held.remove(i) {
                    start(tenant, m, bill, &mut running);
                }
            } else {
                i += 1;
            }
        }
        for (_, m, hidden, _) in held.iter_mut().filter(|h| h.2.elapsed() >= LOCAL_VISIBILITY / 2) {
            let _ = queue.change_visibility(&m.receipt, LOCAL_VISIBILITY).await;
            *hidden = Instant::now();
        }
        let free = LOCAL_CONCURRENCY.saturating_sub(running.len());
        if (free == 0 || held.len() >= MAX_HELD) && !running.is_empty() {
            tokio::select! {
                _ = running.join_next() => {}
                _ = shutdown.changed() => break,
            }
            continue;
        }
        // With units held, a receive does not sit out its wait while a slot may free.
        let wait = if held.is_empty() {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        let batch = tokio::select! {
            r = queue.receive(free.clamp(1, 10) as u32, LOCAL_VISIBILITY, wait) => r,
            _ = shutdown.changed() => break,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(step = step.function, error = %e, "receive failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let received = batch.len();
        // The batch is what one Lambda invocation would be handed (metering::BatchBill).
        let bill = crate::metering::BatchBill::new(step.function, received);
        for m in batch {
            let tenant = tenant_of(&m.body);
            if take_slot(&per_tenant, &tenant, running.len()) {
                start(tenant, m, bill.clone(), &mut running);
            } else if held.len() < MAX_HELD {
                held.push_back((tenant, m, Instant::now(), bill.clone()));
            } else {
                crate::metering::BatchBill::done(&bill, Duration::ZERO, atlas_store::Consumed::default());
                if requeue(&state, &step, &m.body, TENANT_BUSY_WAIT, false).await.is_ok() {
                    // Too many held already: this one waits in the queue, not in memory.
                    let _ = queue.delete(&m.receipt).await;
                }
            }
        }
        if received == 0 && !held.is_empty() {
            // Nothing new: wait for a unit to end (a held one may then start), or look again soon.
            tokio::select! {
                // An empty set would answer at once: never spin on it.
                _ = running.join_next(), if !running.is_empty() => {}
                _ = tokio::time::sleep(HELD_POLL) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
    // Held units never started: their messages are made visible again at once.
    for (_, m, _, _) in held.drain(..) {
        let _ = queue.change_visibility(&m.receipt, Duration::ZERO).await;
    }
    // Stopping: in-flight units get a grace period; what is still running then is abandoned and
    // its message made visible again at once (units are idempotent, so a re-run is safe).
    let finished = tokio::time::timeout(STOP_GRACE, async { while running.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        running.abort_all();
        while running.join_next().await.is_some() {}
        let left: Vec<String> = inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, r)| r)
            .collect();
        for receipt in &left {
            let _ = queue.change_visibility(receipt, Duration::ZERO).await;
        }
        tracing::info!(
            step = step.function,
            released = left.len(),
            "stopped; unfinished units were released to the queue"
        );
    }
}

/// Active runs are indexed in GSI1 by their deadline, so the reconciler reads only overdue ones.
pub use crate::records::runs::{ACTIVE_RUNS, active_run_sk};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "run.reconcile")]
pub struct ReconcileRequest {
    pub requested_at_ms: i64,
}

/// Fails every active run whose deadline passed. Each end is conditional on the run's status
/// not having changed meanwhile, so a run that just finished is left alone. Safe to run twice.
async fn reconcile(state: AppState, body: String) -> Result<(), StepError> {
    let req: ReconcileRequest = serde_json::from_str(&body).map_err(|e| StepError::Malformed(e.to_string()))?;
    let now = state.clock.now_millis();
    // Each entry is a run's marker (runs started before ADR 0055) or its dedupe lock.
    let overdue = state
        .table
        .query_all(crate::records::runs::overdue_markers(now))
        .await
        .map_err(|e| service_to_step(e.into()))?;
    let mut failed = 0;
    for entry in overdue {
        let marker = RunMarker::from_item(entry.clone()).map_err(|e| service_to_step(e.into()))?;
        let run_id = marker.run_id.as_str();
        let reason = "The run did not finish before its deadline; the reconciler stopped it.";
        crate::runs::finish(&state, run_id, atlas_domain::RunOutcome::Failed, Some(reason.into()))
            .await
            .map_err(service_to_step)?;
        // An entry whose run ended by itself meanwhile is left over: remove it, if it still
        // names this run (a lock may name the next run of its type by now).
        if let Ok(key) = atlas_store::Key::of(&entry) {
            let _ = state
                .table
                .delete(&key, Some(atlas_store::Cond::eq("run_id", run_id)))
                .await;
        }
        failed += 1;
    }
    tracing::info!(requested_at_ms = req.requested_at_ms, failed, "reconcile finished");
    Ok(())
}

/// A local dead-letter worker: each message that exhausted its receives is recorded as a failed
/// unit of its run, then removed.
#[cfg(feature = "local")]
pub async fn run_dead_letters(state: AppState, step: Step, mut shutdown: watch::Receiver<bool>) {
    let Some(queue) = state.queues.dead_letter(step.queue).cloned() else {
        return;
    };
    while !*shutdown.borrow() {
        let batch = tokio::select! {
            r = queue.receive(10, LOCAL_VISIBILITY, Duration::from_secs(1)) => r,
            _ = shutdown.changed() => break,
        };
        let Ok(batch) = batch else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        for m in batch {
            match crate::runs::dead_letter(&state, &m.body).await {
                Ok(()) => {
                    let _ = queue.delete(&m.receipt).await;
                }
                Err(e) => tracing::warn!(error = %e, "could not record a dead-lettered message; it stays"),
            }
        }
    }
}
