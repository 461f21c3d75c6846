//! The scheduler tick: EventBridge invokes it every minute in AWS; locally a timer does.
//! It only enqueues work, so a tick is cheap and a missed tick is caught up by the next.

use atlas_store::OutMessage;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::steps::ReconcileRequest;

/// The scheduler's Lambda function name and the queues it sends to: every step's, since it also
/// drains the outbox of runs whose start crashed before sending.
pub const FUNCTION: &str = "scheduler-tick";
pub const SENDS: &[&str] = &[
    "run-reconcile",
    "backup-capture",
    "backup-prune",
    "inventory-sync",
    "restore-execute",
    "provider-verify",
    "drift-detect",
    "drift-poll",
    "alert-deliver",
];
pub const RATE: &str = "rate(1 minute)";

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct TickReport {
    pub enqueued: usize,
    /// Messages sent from the outbox (starts whose own send did not happen).
    pub swept: usize,
    /// Alert events dispatched (those their writer left pending).
    pub alerts: usize,
}

#[tracing::instrument(skip_all)]
pub async fn tick(state: &AppState) -> Result<TickReport, ApiError> {
    // First, so a queue outage here does not hold back the outbox.
    let swept = crate::runs::sweep_outbox(state).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "outbox sweep failed; the next tick retries");
        0
    });
    let body = serde_json::to_string(&ReconcileRequest {
        requested_at_ms: state.clock.now_millis(),
    })
    .map_err(ApiError::internal)?;
    state.queues.get("run-reconcile")?.send(OutMessage::new(body)).await?;
    let backups = crate::schedules::run_due(state).await?;
    let polls = crate::drift::feed::send_due(state).await?;
    // Expiry warnings, expiries and SLA steps: a failure here must not hold back the rest.
    match crate::exceptions::sweep(state).await {
        Ok(s) if s != crate::exceptions::Swept::default() => tracing::info!(
            warned = s.warned,
            expired = s.expired,
            sla_steps = s.sla_steps,
            raced = s.raced,
            "governance sweep"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "governance sweep failed; the next tick retries"),
    }
    crate::evidence::sweep_logged(state).await; // Evidence packs past their retention (ADR 0032).
    // Alert events a writer did not dispatch itself (it crashed, or the queue was down).
    let alerts = crate::alerts::dispatch::sweep(state).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "alert dispatch failed; the next tick retries");
        0
    });
    Ok(TickReport {
        enqueued: 1 + backups + polls,
        swept,
        alerts,
    })
}
