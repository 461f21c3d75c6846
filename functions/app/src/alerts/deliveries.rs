//! The delivery history: deliveries newest first (filtered by status, rule, destination),
//! one delivery with every attempt, and redeliver (a new attempt series on the same delivery,
//! so the receiver sees the same event id). Also "send test event", which takes the same path.

use atlas_api_types as api;
use atlas_domain::alerts::{AlertEventType, DeliveryStatus};
use atlas_store::{Cond, Update};
use serde_json::json;

use crate::error::{ServiceError, ServiceResult};
use crate::records::alerts::{self as rec, AlertAttemptRecord, AlertDeliveryRecord, AlertEventRecord};
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

use super::NewAlert;
use super::deliver::{DeliverMessage, enqueue, payload};

/// A pending delivery this far past its next attempt has no message left to carry it.
const STUCK_MS: i64 = 30 * 60_000;

pub fn to_api(d: &AlertDeliveryRecord) -> api::AlertDelivery {
    api::AlertDelivery {
        id: d.delivery_id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.kind.as_str().to_owned(),
        title: d.title.clone(),
        rule_id: d.rule_id.clone(),
        destination_id: d.destination_id.clone(),
        environment_id: d.environment_id.as_ref().map(|e| e.as_str().to_owned()),
        severity: d.severity.map(|s| s.as_str().to_owned()),
        state: d.status.as_str().to_owned(),
        status: d.status.canonical(),
        reason: d.reason.clone(),
        attempts: d.attempts,
        series: d.series,
        next_attempt_ms: d.next_attempt_ms,
        created_ms: d.created_ms,
        updated_ms: d.updated_ms,
        delivered_ms: d.delivered_ms,
    }
}

#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<DeliveryStatus>,
    pub rule_id: Option<String>,
    pub destination_id: Option<String>,
}

/// A delivery about an environment the reader is not entitled to is not theirs to see.
fn visible(scope: &WorkspaceScope, d: &AlertDeliveryRecord) -> bool {
    d.environment_id.as_ref().is_none_or(|e| scope.entitled_to(e))
}

/// One page, newest first. The filters apply while paging, so a page holds at most `limit`
/// matches and its cursor continues after the last item read.
pub async fn page(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &Filter,
    cursor: Option<&str>,
    limit: usize,
) -> ServiceResult<api::AlertDeliveryPage> {
    let ws = scope.records(&state.table);
    let mut items = Vec::new();
    let mut next = cursor.map(str::to_owned);
    loop {
        let want = (limit - items.len()).max(1) as u32;
        let q = ws.query(rec::DELIVERIES).backward().limit(want).after(next.take());
        let got = records::query::<AlertDeliveryRecord>(&state.table, &q).await?;
        for d in got.items {
            let keep = visible(scope, &d)
                && f.status.is_none_or(|s| s == d.status)
                && f.rule_id.as_ref().is_none_or(|r| *r == d.rule_id)
                && f.destination_id.as_ref().is_none_or(|x| *x == d.destination_id);
            if keep {
                items.push(to_api(&d));
            }
        }
        next = got.next;
        if items.len() >= limit || next.is_none() {
            break;
        }
    }
    Ok(api::AlertDeliveryPage {
        items,
        next_cursor: next,
    })
}

async fn delivery(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<AlertDeliveryRecord> {
    if !rec::is_delivery_id(id) {
        return Err(ServiceError::NotFound);
    }
    let d: AlertDeliveryRecord = scope
        .records(&state.table)
        .get(rec::delivery_sk(id))
        .await?
        .ok_or(ServiceError::NotFound)?;
    if !visible(scope, &d) {
        return Err(ServiceError::NotFound);
    }
    Ok(d)
}

pub async fn detail(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::AlertDeliveryDetail> {
    let d = delivery(state, scope, id).await?;
    let ws = scope.records(&state.table);
    let attempts: Vec<AlertAttemptRecord> =
        records::query_all(&state.table, ws.query(rec::attempts_prefix(&d.delivery_id))).await?;
    let ev: Option<AlertEventRecord> = ws.get(rec::event_sk(&d.event_id)).await?;
    Ok(api::AlertDeliveryDetail {
        delivery: to_api(&d),
        attempts: attempts
            .into_iter()
            .map(|a| api::AlertAttempt {
                n: a.n,
                series: a.series,
                at_ms: a.at_ms,
                http_status: a.http_status,
                error: a.error,
                latency_ms: a.latency_ms,
                response: a.response,
                ok: a.ok,
                result: a.status,
            })
            .collect(),
        payload: ev.map(|e| payload(state, &e)).unwrap_or(serde_json::Value::Null),
    })
}

/// A new attempt series on the same delivery (delivered, failed, suppressed or cancelled ones;
/// a pending one is still trying). Audited.
pub async fn redeliver(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::AlertDelivery> {
    let d = delivery(state, scope, id).await?;
    let now = state.clock.now_millis();
    // A pending delivery whose next attempt is long overdue lost its message (a send that failed
    // after a redeliver's commit): redelivering it is the way out.
    let stuck = d.next_attempt_ms.is_none_or(|t| t < now - STUCK_MS);
    if d.status == DeliveryStatus::Pending && !stuck {
        return Err(ServiceError::Conflict(
            "the delivery is still being attempted; redeliver it once it is delivered or failed".into(),
        ));
    }
    let update = Update::new()
        .set("status", DeliveryStatus::Pending.as_str())
        .set("series", d.series + 1)
        .set("series_started_ms", now)
        .set("series_first_attempt", d.attempts)
        .set("next_attempt_ms", now)
        .set("updated_ms", now)
        .remove("reason")
        .remove("lease_until_ms");
    let write = atlas_store::TxItem::Update {
        key: d.key(),
        update,
        cond: Some(Cond::And(vec![
            Cond::eq("status", d.status.as_str()),
            Cond::eq("attempts", d.attempts),
        ])),
    };
    let ev = crate::audit::NewEvent::success("alert_delivery.redeliver", format!("alert_delivery/{id}"))
        .meta(json!({"series": d.series + 1, "was": d.status.as_str()}));
    match crate::audit::commit(state, scope, vec![write], ev).await {
        Ok(()) => {}
        Err(e) if crate::audit::failed_at(&e) == Some(0) => {
            return Err(ServiceError::Conflict(
                "the delivery changed meanwhile; read it again".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // Committed: if this send fails the delivery shows pending with its next attempt due; once
    // that is 30 minutes overdue, redeliver accepts it again.
    enqueue(state, &DeliverMessage::new(scope.workspace_id(), id, d.attempts, now)).await?;
    let d = delivery(state, scope, id).await?;
    Ok(to_api(&d))
}

/// "Send test event": a `test` event for one destination, through the same dispatch and
/// delivery path as any other. Answers the delivery it made.
pub async fn send_test(
    state: &AppState,
    scope: &WorkspaceScope,
    destination_id: &str,
) -> ServiceResult<api::AlertDelivery> {
    let dest = super::destinations::destination(state, scope, destination_id).await?;
    let alert = NewAlert {
        kind: AlertEventType::Test,
        environment_id: None,
        severity: None,
        object: format!("alert_destination/{}", dest.destination_id),
        state: "test".into(),
        title: format!("Test alert for \"{}\"", dest.name),
        link: format!("/workspaces/{}/alerts", scope.workspace_id()),
        data: json!({"destination_id": dest.destination_id, "sent_by": scope.actor().email}),
    };
    let item = super::event_item(state, scope.workspace_id(), alert);
    let ev = crate::audit::NewEvent::success(
        "alert_destination.test",
        format!("alert_destination/{}", dest.destination_id),
    );
    let changes = vec![item];
    crate::audit::commit(state, scope, changes.clone(), ev).await?;
    let event = match &changes[0] {
        atlas_store::TxItem::Put { item, .. } => AlertEventRecord::from_item(item.clone())?,
        _ => return Err(ServiceError::Permanent("an event is a put".into())),
    };
    super::dispatch::dispatch_event(state, &event).await?;
    let id = rec::delivery_id(&event.event_id, rec::TEST_RULE, &dest.destination_id);
    Ok(to_api(&delivery(state, scope, &id).await?))
}
