//! The dispatcher: pending alert events → the workspace's matching rules → one delivery per
//! (rule, destination) and its message on `alert-deliver`; then the event leaves the pending
//! index. Mirrors the run-start outbox (ADR 0022): the writer dispatches right after its commit
//! (best effort) and the scheduler tick sweeps what a crash left, after a short grace.
//!
//! Everything it writes is a conditional create keyed by what it is about, so dispatching the
//! same event twice (a crash between the deliveries and the event's update, two sweepers)
//! writes nothing new: the delivery id is the event, rule and destination; the incident is the
//! rule, environment, object and state.

use atlas_domain::alerts::{AlertEventType, DeliveryStatus};
use atlas_store::{Cond, OutMessage, TableError, TxItem};

use crate::error::ServiceResult;
use crate::records::alerts::{
    self as rec, AlertDeliveryRecord, AlertEventRecord, AlertIncidentRecord, AlertRuleRecord, TEST_RULE,
};
use crate::records::{self, Record};
use crate::state::AppState;

use super::deliver::{DeliverMessage, QUEUE};

/// The sweep leaves younger events to the process that wrote them (it dispatches right after
/// its commit): a double dispatch is harmless, but needless.
pub const GRACE_MS: i64 = 3_000;
/// One incident alerts once within this window; the same state a day later alerts again.
pub const DEDUPE_WINDOW_MS: i64 = 24 * 3_600_000;

/// Whether `rule` wants `ev`: enabled, the type subscribed, the severity high enough (finding
/// events), the environment watched.
pub fn matches(rule: &AlertRuleRecord, ev: &AlertEventRecord) -> bool {
    if !rule.enabled || !rule.event_types.contains(&ev.kind) {
        return false;
    }
    if ev.kind.is_finding()
        && let Some(min) = rule.min_severity
    {
        // Severity orders Critical first: "at or above" is "not after".
        match ev.severity {
            Some(s) if s <= min => {}
            _ => return false,
        }
    }
    match (&rule.environments, &ev.environment_id) {
        (None, _) => true,
        (Some(envs), Some(e)) => envs.contains(e),
        (Some(_), None) => false,
    }
}

/// Dispatches the events among `changes` (a transaction just committed). Best effort: what
/// fails here the sweep does later.
pub async fn after_commit(state: &AppState, changes: &[TxItem]) {
    for c in changes {
        let TxItem::Put { item, .. } = c else { continue };
        if item.get("entity").and_then(|e| e.as_str()) != Some(AlertEventRecord::ENTITY) {
            continue;
        }
        let Ok(ev) = AlertEventRecord::from_item(item.clone()) else {
            continue;
        };
        if let Err(e) = dispatch_event(state, &ev).await {
            tracing::warn!(event_id = %ev.event_id, error = %e, "alert not dispatched yet; the sweep retries");
        }
    }
}

/// Dispatches pending events older than [`GRACE_MS`], a bounded page per call. Returns how
/// many events were dispatched.
pub async fn sweep(state: &AppState) -> ServiceResult<usize> {
    let q = rec::pending_before(state.clock.now_millis() - GRACE_MS).limit(100);
    let page = records::query::<AlertEventRecord>(&state.table, &q).await?;
    let mut done = 0;
    for ev in page.items {
        match dispatch_event(state, &ev).await {
            Ok(()) => done += 1,
            Err(e) => {
                tracing::warn!(event_id = %ev.event_id, error = %e, "alert not dispatched; the next sweep retries")
            }
        }
    }
    if done > 0 {
        tracing::info!(events = done, "alert events dispatched");
    }
    Ok(done)
}

/// One event: its deliveries (or suppressions), then its move out of the pending index.
pub async fn dispatch_event(state: &AppState, ev: &AlertEventRecord) -> ServiceResult<()> {
    let ws = &ev.workspace_id;
    if ev.kind == AlertEventType::Test {
        // A test goes to the destination it names, past every rule.
        if let Some(dest) = ev.data.get("destination_id").and_then(|d| d.as_str()) {
            deliver_to(state, ev, TEST_RULE, dest, false).await?;
        }
    } else {
        let rules: Vec<AlertRuleRecord> = records::query_all(&state.table, rec::rules_query(ws)).await?;
        let now = state.clock.now_millis();
        for rule in rules.iter().filter(|r| matches(r, ev)) {
            if !first_of_incident(state, rule, ev).await? {
                tracing::info!(event_id = %ev.event_id, rule_id = %rule.rule_id, "alert deduplicated: the incident was reported already");
                continue;
            }
            let snoozed = rule.snooze.as_ref().is_some_and(|s| s.until_ms > now);
            for dest in &rule.destinations {
                deliver_to(state, ev, &rule.rule_id, dest, snoozed).await?;
            }
        }
    }
    match state
        .table
        .update(&ev.key(), &rec::dispatched(), Some(Cond::Exists))
        .await
    {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Claims the incident for this event; false when another event of the same incident holds it
/// within the dedupe window. The same event claiming again (a re-dispatch) is the first.
async fn first_of_incident(state: &AppState, rule: &AlertRuleRecord, ev: &AlertEventRecord) -> ServiceResult<bool> {
    let now = state.clock.now_millis();
    let incident = AlertIncidentRecord {
        workspace_id: ev.workspace_id.clone(),
        rule_id: rule.rule_id.clone(),
        environment_id: ev.environment_id.clone(),
        object: ev.object.clone(),
        state: ev.state.clone(),
        event_id: ev.event_id.clone(),
        at_ms: now,
        until_ms: now + DEDUPE_WINDOW_MS,
    };
    let cond = Cond::Or(vec![Cond::NotExists, Cond::Lt("until_ms".into(), now.into())]);
    match state.table.put(incident.to_item(), Some(cond)).await {
        Ok(()) => Ok(true),
        Err(TableError::ConditionFailed) => {
            let held: Option<AlertIncidentRecord> = records::get(&state.table, &incident.key()).await?;
            Ok(held.is_some_and(|h| h.event_id == ev.event_id))
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates the delivery (once) and queues its first attempt; a snoozed rule's is written
/// suppressed and sends nothing.
async fn deliver_to(
    state: &AppState,
    ev: &AlertEventRecord,
    rule_id: &str,
    destination_id: &str,
    suppressed: bool,
) -> ServiceResult<()> {
    let now = state.clock.now_millis();
    let delivery = AlertDeliveryRecord {
        workspace_id: ev.workspace_id.clone(),
        delivery_id: rec::delivery_id(&ev.event_id, rule_id, destination_id),
        event_id: ev.event_id.clone(),
        rule_id: rule_id.to_owned(),
        destination_id: destination_id.to_owned(),
        kind: ev.kind,
        title: ev.title.clone(),
        environment_id: ev.environment_id.clone(),
        severity: ev.severity,
        status: if suppressed {
            DeliveryStatus::Suppressed
        } else {
            DeliveryStatus::Pending
        },
        reason: suppressed.then(|| "The rule was snoozed when the event happened.".to_owned()),
        attempts: 0,
        series: 0,
        series_started_ms: now,
        series_first_attempt: 0,
        next_attempt_ms: (!suppressed).then_some(now),
        lease_until_ms: None,
        created_ms: now,
        updated_ms: now,
        delivered_ms: None,
    };
    let send = match state.table.put(delivery.to_item(), Some(Cond::NotExists)).await {
        Ok(()) => !suppressed,
        Err(TableError::ConditionFailed) => {
            // Written before (a re-dispatch): its first message may not have been sent. A second
            // copy is harmless, the step acts on the attempt number the delivery expects.
            let existing: Option<AlertDeliveryRecord> = records::get(&state.table, &delivery.key()).await?;
            existing.is_some_and(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
        }
        Err(e) => return Err(e.into()),
    };
    if send {
        let m = DeliverMessage::new(&ev.workspace_id, &delivery.delivery_id, 0, now);
        state.queues.get(QUEUE)?.send(OutMessage::new(m.body())).await?;
    }
    Ok(())
}
