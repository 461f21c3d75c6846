//! The step registry: every operation-run step is its own Lambda consuming its own SQS queue
//! (with a dead-letter queue), reporting partial batch failures. Locally the same handlers run
//! as in-process workers on the embedded queues.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use atlas_domain::OperationType;
use atlas_store::{Cond, Query, SkCond, TableError, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use crate::registry::TableAccess;
use crate::state::AppState;

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
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} on {}", self.function, self.queue)
    }
}

pub fn steps() -> &'static [Step] {
    &[Step {
        function: "step-run-reconcile",
        queue: "run-reconcile",
        operation: OperationType::RunReconcile,
        summary: "Marks operation runs stuck past their deadline as failed, with the reason",
        table: TableAccess::Write,
        handler: |s, b| Box::pin(reconcile(s, b)),
    }]
}

pub fn find(function: &str) -> Option<Step> {
    steps().iter().find(|s| s.function == function).copied()
}

/// Runs one batch; returns the ids of the messages that failed (the SQS partial batch response).
pub async fn handle_batch(state: &AppState, step: &Step, messages: Vec<(String, String)>) -> Vec<String> {
    let mut failed = Vec::new();
    for (id, body) in messages {
        if let Err(e) = (step.handler)(state.clone(), body).await {
            tracing::warn!(step = step.function, message_id = %id, error = %e, "step failed; the message will be retried");
            failed.push(id);
        }
    }
    failed
}

/// How long a locally received message stays hidden while its step runs.
pub const LOCAL_VISIBILITY: Duration = Duration::from_secs(60);

/// A local worker: receives from the step's queue until `shutdown` turns true. A message is
/// deleted only after its step succeeded, so a crash or shutdown loses nothing.
pub async fn run_worker(state: AppState, step: Step, mut shutdown: watch::Receiver<bool>) {
    let queue = match state.queues.get(step.queue) {
        Ok(q) => q.clone(),
        Err(e) => {
            tracing::error!(step = step.function, error = %e, "worker cannot start");
            return;
        }
    };
    while !*shutdown.borrow() {
        let batch = tokio::select! {
            r = queue.receive(10, LOCAL_VISIBILITY, Duration::from_secs(1)) => r,
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
        let mut pending = batch.into_iter();
        for m in pending.by_ref() {
            let span =
                tracing::info_span!("step", step = step.function, message_id = %m.id, receive_count = m.receive_count);
            let _g = span.enter();
            match (step.handler)(state.clone(), m.body.clone()).await {
                Ok(()) => {
                    if let Err(e) = queue.delete(&m.receipt).await {
                        tracing::warn!(error = %e, "could not delete a finished message; it will run again");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "step failed; the message will be retried"),
            }
            if *shutdown.borrow() {
                break;
            }
        }
        // Shutting down mid-batch: hand the untouched messages back at once.
        for m in pending {
            let _ = queue.change_visibility(&m.receipt, Duration::ZERO).await;
        }
    }
}

/// Active runs are indexed in GSI1 by their deadline, so the reconciler reads only overdue ones.
pub const ACTIVE_RUNS: &str = "RUNS#ACTIVE";

/// The GSI1 sort key of an active run: its deadline, zero-padded so text order is time order.
pub fn active_run_sk(deadline_ms: i64, run_id: &str) -> String {
    format!("{deadline_ms:015}#{run_id}")
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "run.reconcile")]
pub struct ReconcileRequest {
    pub requested_at_ms: i64,
}

/// Fails every active run whose deadline passed, each conditional on its status not having
/// changed meanwhile, so a run that just finished is left alone. Safe to run twice.
#[tracing::instrument(skip_all)]
async fn reconcile(state: AppState, body: String) -> Result<(), StepError> {
    let req: ReconcileRequest = serde_json::from_str(&body).map_err(|e| StepError::Malformed(e.to_string()))?;
    let now = state.clock.now_millis();
    let q = Query::gsi1(ACTIVE_RUNS).sk(SkCond::Lt(active_run_sk(now, "")));
    let overdue = state.table.query_all(q).await?;
    let mut failed = 0;
    for run in overdue {
        let key = atlas_store::Key::of(&run)?;
        let status = run.get("status").cloned().unwrap_or(Value::Null);
        let update = Update::new()
            .set("status", "failed")
            .set("outcome", "failed")
            .set(
                "reason",
                "The run did not finish before its deadline; it was stopped by the reconciler.",
            )
            .set("ended_at_ms", now)
            .remove("GSI1PK")
            .remove("GSI1SK");
        match state
            .table
            .update(&key, &update, Some(Cond::Eq("status".into(), status)))
            .await
        {
            Ok(_) => {
                failed += 1;
                tracing::info!(run_id = ?run.get("run_id"), "run past its deadline marked failed");
            }
            Err(TableError::ConditionFailed) => {} // it moved on by itself
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(requested_at_ms = req.requested_at_ms, failed, "reconcile finished");
    Ok(())
}
