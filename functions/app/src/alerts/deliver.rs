//! The `alert-deliver` step: one attempt per message. It loads the delivery, re-checks that its
//! rule and destination still exist and are enabled, sends, and records the attempt (time,
//! status or error, latency, the first 512 bytes of the answer — never a secret). A success is
//! final; a failure queues the next attempt with exponential backoff (SQS delays are at most
//! 15 minutes, so a longer wait is chained: the message carries `not_before_ms`) until the retry
//! window ends; then the delivery is failed and its message goes to the dead-letter queue.
//!
//! Exactly-once bookkeeping over at-least-once messages: a message names the attempt number the
//! delivery expects; a copy for an attempt already made is dropped, and the attempt itself is
//! held by a short lease, so two copies never send side by side.

use std::time::{Duration, Instant};

use atlas_domain::WorkspaceId;
use atlas_domain::alerts::{DeliveryStatus, DestinationKind};
use atlas_store::{Cond, OutMessage, TableError, TxItem, Update};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::error::{ServiceError, ServiceResult};
use crate::records::alerts::{
    self as rec, AlertAttemptRecord, AlertDeliveryRecord, AlertDestinationRecord, AlertEventRecord, AlertRuleRecord,
    TEST_RULE,
};
use crate::records::{self, Record};
use crate::secrets::Secret;
use crate::state::AppState;

pub const QUEUE: &str = "alert-deliver";
pub const FUNCTION: &str = "step-alert-deliver";
/// How long one attempt holds its delivery; a copy of the message arriving meanwhile waits.
const LEASE_MS: i64 = 60_000;
/// A receiver gets this long to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest single backoff.
const MAX_BACKOFF_MS: i64 = 6 * 3_600_000;
/// How much of an answer the history keeps.
pub const RESPONSE_BYTES: usize = 512;

/// One attempt of one delivery, as the queue carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverMessage {
    /// Always `alert.deliver`: tells this message from a run's unit in a dead-letter queue.
    pub kind: String,
    pub workspace_id: WorkspaceId,
    pub delivery_id: String,
    /// The attempt number the delivery expects; any other copy is stale.
    pub attempt: u32,
    /// Not before this (a backoff longer than the queue's 15-minute delay is chained).
    pub not_before_ms: i64,
}

pub const KIND: &str = "alert.deliver";

impl DeliverMessage {
    pub fn new(ws: &WorkspaceId, delivery_id: &str, attempt: u32, not_before_ms: i64) -> Self {
        Self {
            kind: KIND.into(),
            workspace_id: ws.clone(),
            delivery_id: delivery_id.to_owned(),
            attempt,
            not_before_ms,
        }
    }

    pub fn body(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str::<Self>(body).ok().filter(|m| m.kind == KIND)
    }
}

/// Queues `m` to run at `m.not_before_ms`: the queue's delay is whole seconds, rounded up and
/// capped at 15 minutes (the step re-queues a message that arrives early).
pub async fn enqueue(state: &AppState, m: &DeliverMessage) -> ServiceResult<()> {
    let wait_ms = (m.not_before_ms - state.clock.now_millis()).max(0);
    let secs = ((wait_ms + 999) / 1000).min(900) as u64;
    state
        .queues
        .get(QUEUE)?
        .send(OutMessage::new(m.body()).delayed(Duration::from_secs(secs)))
        .await?;
    Ok(())
}

/// The webhook body: the event as receivers see it. `id` is the event's id: stable across
/// retries and redeliveries, so a receiver dedupes on it.
pub fn payload(state: &AppState, ev: &AlertEventRecord) -> Value {
    let link = if ev.link.starts_with("http://") || ev.link.starts_with("https://") {
        ev.link.clone()
    } else {
        format!("{}{}", state.public_url.trim_end_matches('/'), ev.link)
    };
    json!({
        "id": ev.event_id,
        "type": ev.kind,
        "occurred_at": rfc3339(ev.at_ms),
        "workspace_id": ev.workspace_id,
        "environment_id": ev.environment_id,
        "severity": ev.severity,
        "title": ev.title,
        "object": ev.object,
        "state": ev.state,
        "link": link,
        "data": ev.data,
    })
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `v1=<hex>` per secret, the newest first: HMAC-SHA256 over `"{timestamp}.{body}"`, the key
/// being the secret string exactly as shown (`whsec_…`).
pub fn signature(secrets: &[Secret], timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|s| format!("v1={}", sign(s.expose(), timestamp, body)))
        .collect::<Vec<_>>()
        .join(",")
}

fn sign(key: &[u8], timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A Microsoft Teams Workflows message: one Adaptive Card (1.4) with the event's facts and a
/// button to open it in the app.
pub fn teams_card(p: &Value) -> Value {
    let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("—").to_owned();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": text("title"), "weight": "Bolder", "size": "Medium", "wrap": true},
                    {"type": "FactSet", "facts": [
                        {"title": "Event", "value": text("type")},
                        {"title": "Severity", "value": text("severity")},
                        {"title": "Environment", "value": text("environment_id")},
                        {"title": "When", "value": text("occurred_at")},
                        {"title": "Event id", "value": text("id")},
                    ]},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open in TenantAtlas", "url": text("link")}],
            },
        }],
    })
}

/// The delivery client: no redirects, and a resolver that hands the connector only public
/// addresses (loopback too when `allow_loopback`): the addresses checked are the ones connected to.
fn client(allow_loopback: bool) -> &'static reqwest::Client {
    static STRICT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    static LOOPBACK: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let cell = if allow_loopback { &LOOPBACK } else { &STRICT };
    cell.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            // A redirect could carry the signed body somewhere the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(super::targets::CheckedResolver { allow_loopback }))
            // A proxy would resolve the name itself, past the check.
            .no_proxy()
            .user_agent(concat!("TenantAtlas-Alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

/// What one send came to.
struct Sent {
    ok: bool,
    http_status: Option<u16>,
    /// `http 200`, `smtp 250`, `outbox`…
    status: Option<String>,
    error: Option<String>,
    latency_ms: u64,
    response: String,
    /// More to write with the attempt (an email's outbox entry).
    extra: Option<TxItem>,
}

impl Sent {
    fn refused(error: String) -> Self {
        Sent {
            ok: false,
            http_status: None,
            status: None,
            error: Some(error),
            latency_ms: 0,
            response: String::new(),
            extra: None,
        }
    }
}

async fn send(
    state: &AppState,
    d: &AlertDeliveryRecord,
    dest: &AlertDestinationRecord,
    ev: &AlertEventRecord,
) -> ServiceResult<Sent> {
    let p = payload(state, ev);
    if dest.kind == DestinationKind::Email {
        let email = super::email::compose(state, dest, &p, state.clock.now_millis())?;
        let o = super::email::deliver(state, d, email, RESPONSE_BYTES).await?;
        return Ok(Sent {
            ok: o.ok,
            http_status: None,
            status: o.status,
            error: o.error,
            latency_ms: o.latency_ms,
            response: o.response,
            extra: o.outbox.as_ref().map(super::email::outbox_item),
        });
    }
    let opened = super::destinations::open_for_send(state, dest).await?;
    let allow_loopback = state.alerts.allow_http_loopback;
    // Checked again at every send (DNS can change since create): a literal here, a name in the
    // client's resolver, which connects only to the addresses it checked.
    let Ok(url) = reqwest::Url::parse(&opened.url) else {
        return Ok(Sent::refused("the destination's URL is not valid".into()));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Ok(Sent::refused("refused: the URL carries credentials".into()));
    }
    if let Some(b) = super::targets::check_literal(&url, allow_loopback) {
        return Ok(Sent::refused(format!("refused: the URL {b}")));
    }
    let (body, signed) = match dest.kind {
        DestinationKind::Teams => (teams_card(&p).to_string(), false),
        _ => (p.to_string(), true),
    };
    let timestamp = state.clock.now_millis() / 1000;
    let mut req = client(allow_loopback)
        .post(url)
        .header("content-type", "application/json")
        .header("Atlas-Event-Id", &ev.event_id)
        .header("Atlas-Timestamp", timestamp.to_string());
    if signed {
        req = req.header("Atlas-Signature", signature(&opened.secrets, timestamp, &body));
    }
    let started = Instant::now();
    let res = req.body(body).send().await;
    let sent = match res {
        Ok(r) => {
            let status = r.status();
            let bytes = r.bytes().await.unwrap_or_default();
            let cut = &bytes[..bytes.len().min(RESPONSE_BYTES)];
            let error = if status.is_redirection() {
                Some(format!(
                    "the receiver answered {status}, a redirect; redirects are not followed"
                ))
            } else {
                (!status.is_success()).then(|| format!("the receiver answered {status}"))
            };
            Sent {
                ok: status.is_success(),
                http_status: Some(status.as_u16()),
                status: Some(format!("http {}", status.as_u16())),
                error,
                latency_ms: started.elapsed().as_millis() as u64,
                response: String::from_utf8_lossy(cut).into_owned(),
                extra: None,
            }
        }
        Err(e) => Sent {
            ok: false,
            http_status: None,
            status: None,
            // reqwest's message names the URL; a Teams URL is a secret, so only the kind is kept.
            error: Some(send_error(&e)),
            latency_ms: started.elapsed().as_millis() as u64,
            response: String::new(),
            extra: None,
        },
    };
    Ok(sent)
}

fn send_error(e: &reqwest::Error) -> String {
    if let Some(b) = super::targets::blocked_in(e) {
        format!("refused: the host {b}")
    } else if e.is_timeout() {
        format!("no answer within {} s", SEND_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else if e.is_redirect() {
        "the receiver redirected; redirects are not followed".into()
    } else {
        "the request failed before an answer".into()
    }
}

/// The backoff before attempt `k + 1` of a series (k = 0 after the first attempt).
pub fn backoff_ms(base_ms: i64, k: u32) -> i64 {
    base_ms.saturating_mul(1i64 << k.min(30)).min(MAX_BACKOFF_MS)
}

/// The step's work for one message.
pub async fn handle(state: &AppState, body: &str) -> ServiceResult<()> {
    let m =
        DeliverMessage::parse(body).ok_or_else(|| ServiceError::Permanent("not an alert delivery message".into()))?;
    let key = rec::delivery_key(&m.workspace_id, &m.delivery_id);
    let Some(d) = records::get::<AlertDeliveryRecord>(&state.table, &key).await? else {
        return Ok(());
    };
    // Delivered, failed, cancelled: nothing to send. Another attempt number: a stale copy.
    if d.status != DeliveryStatus::Pending || d.attempts != m.attempt {
        return Ok(());
    }
    let now = state.clock.now_millis();
    if m.not_before_ms > now {
        return enqueue(state, &m).await;
    }
    let ws = &m.workspace_id;
    let dest: Option<AlertDestinationRecord> =
        records::get(&state.table, &rec::destination_key(ws, &d.destination_id)).await?;
    let rule: Option<AlertRuleRecord> = if d.rule_id == TEST_RULE {
        None
    } else {
        records::get(&state.table, &rec::rule_key(ws, &d.rule_id)).await?
    };
    let why_not = match (&dest, &rule) {
        (None, _) => Some("The destination was deleted before the alert could be sent."),
        (Some(x), _) if !x.enabled => Some("The destination is disabled."),
        (_, None) if d.rule_id != TEST_RULE => Some("The rule was deleted before the alert could be sent."),
        (_, Some(r)) if !r.enabled => Some("The rule is disabled."),
        _ => None,
    };
    let expected = Cond::And(vec![
        Cond::eq("status", DeliveryStatus::Pending.as_str()),
        Cond::eq("attempts", d.attempts),
    ]);
    if let Some(reason) = why_not {
        let u = Update::new()
            .set("status", DeliveryStatus::Cancelled.as_str())
            .set("reason", reason)
            .set("updated_ms", now)
            .remove("next_attempt_ms");
        return match state.table.update(&key, &u, Some(expected)).await {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    let (Some(dest), Some(ev)) = (
        dest,
        records::get::<AlertEventRecord>(&state.table, &rec::event_key(ws, &d.event_id)).await?,
    ) else {
        return Err(ServiceError::Conflict("the alert event is gone".into()));
    };
    // The lease: one copy of this attempt sends; another waits until it ends or expires.
    let free = Cond::Or(vec![
        Cond::AttrNotExists("lease_until_ms".into()),
        Cond::Lt("lease_until_ms".into(), now.into()),
    ]);
    let lease = Update::new().set("lease_until_ms", now + LEASE_MS);
    match state
        .table
        .update(&key, &lease, Some(Cond::And(vec![expected.clone(), free])))
        .await
    {
        Ok(_) => {}
        Err(TableError::ConditionFailed) => {
            return Err(ServiceError::Wait(Duration::from_millis(LEASE_MS as u64)));
        }
        Err(e) => return Err(e.into()),
    }
    let sent = send(state, &d, &dest, &ev).await?;
    let n = d.attempts;
    let at = state.clock.now_millis();
    tracing::info!(
        delivery_id = %d.delivery_id,
        attempt = n,
        ok = sent.ok,
        http_status = sent.http_status.unwrap_or_default(),
        latency_ms = sent.latency_ms,
        "alert delivery attempted"
    );
    let attempt = AlertAttemptRecord {
        workspace_id: ws.clone(),
        delivery_id: d.delivery_id.clone(),
        n,
        series: d.series,
        at_ms: at,
        http_status: sent.http_status,
        error: sent.error.clone(),
        latency_ms: sent.latency_ms,
        response: sent.response,
        ok: sent.ok,
        status: sent.status.clone(),
    };
    let mut update = Update::new()
        .set("attempts", n + 1)
        .set("updated_ms", at)
        .remove("lease_until_ms");
    let mut dead = false;
    if sent.ok {
        update = update
            .set("status", DeliveryStatus::Delivered.as_str())
            .set("delivered_ms", at)
            .remove("next_attempt_ms")
            .remove("reason");
    } else {
        let k = n - d.series_first_attempt;
        let next_at = at + backoff_ms(state.alerts.retry_base.as_millis() as i64, k);
        let window_ends = d.series_started_ms + state.alerts.retry_window.as_millis() as i64;
        if next_at > window_ends {
            dead = true;
            update = update
                .set("status", DeliveryStatus::Failed.as_str())
                .set(
                    "reason",
                    format!(
                        "Every attempt failed for {} (the retry window); the last: {}.",
                        human(state.alerts.retry_window),
                        sent.error.as_deref().unwrap_or("no answer")
                    ),
                )
                .remove("next_attempt_ms");
        } else {
            // Queued before the commit: a crash in between leaves a copy the next attempt number
            // does not match yet, and this message, still unacknowledged, tries again.
            enqueue(state, &DeliverMessage::new(ws, &d.delivery_id, n + 1, next_at)).await?;
            update = update.set("next_attempt_ms", next_at);
        }
    }
    let mut tx = vec![
        attempt.create(),
        TxItem::Update {
            key: key.clone(),
            update,
            cond: Some(Cond::eq("attempts", n)),
        },
    ];
    tx.extend(sent.extra);
    match state.table.transact(tx).await {
        Ok(()) => {}
        // Recorded by another copy already.
        Err(TableError::TransactionCanceled { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    if dead {
        // The existing dead-letter path sees it (and an operator inspecting the queue too).
        match state.queues.dead_letter(QUEUE) {
            Some(q) => {
                if let Err(e) = q.send(OutMessage::new(m.body())).await {
                    tracing::warn!(delivery_id = %d.delivery_id, error = %e, "failed delivery not copied to the dead-letter queue");
                }
            }
            None => {
                tracing::warn!(delivery_id = %d.delivery_id, "alert delivery failed after its retry window; recorded as failed")
            }
        }
    }
    Ok(())
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{s} s")
    }
}

/// A delivery message that exhausted its receives (the step itself kept failing): the delivery
/// is recorded failed, so the history shows it instead of a pending that never moves.
pub async fn dead_letter(state: &AppState, m: &DeliverMessage) -> ServiceResult<()> {
    let key = rec::delivery_key(&m.workspace_id, &m.delivery_id);
    let u = Update::new()
        .set("status", DeliveryStatus::Failed.as_str())
        .set(
            "reason",
            "The delivery step failed on every receive; the message was moved to the dead-letter queue.",
        )
        .set("updated_ms", state.clock.now_millis())
        .remove("next_attempt_ms")
        .remove("lease_until_ms");
    let cond = Cond::And(vec![
        Cond::eq("status", DeliveryStatus::Pending.as_str()),
        Cond::eq("attempts", m.attempt),
    ]);
    match state.table.update(&key, &u, Some(cond)).await {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2 shape: key "Jefe", data "what do ya want for nothing?".
        let s = sign(b"Jefe", 0, "what do ya want for nothing?");
        assert_eq!(s.len(), 64);
        let t = signature(&[Secret::new(b"k1".to_vec()), Secret::new(b"k2".to_vec())], 5, "{}");
        let parts: Vec<&str> = t.split(',').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1=")));
        assert_eq!(parts[0], format!("v1={}", sign(b"k1", 5, "{}")));
    }

    #[test]
    fn hmac_matches_a_known_vector() {
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog").
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"key").unwrap();
        mac.update(b"The quick brown fox jumps over the lazy dog");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(30_000, 0), 30_000);
        assert_eq!(backoff_ms(30_000, 1), 60_000);
        assert_eq!(backoff_ms(30_000, 3), 240_000);
        assert_eq!(backoff_ms(30_000, 40), MAX_BACKOFF_MS);
    }

    #[test]
    fn a_run_unit_is_not_a_delivery_message() {
        assert!(DeliverMessage::parse(r#"{"run_id":"r","item":"i"}"#).is_none());
        let ws = WorkspaceId::parse("ws-a").unwrap();
        let m = DeliverMessage::new(&ws, "d", 2, 5);
        assert_eq!(DeliverMessage::parse(&m.body()), Some(m));
    }
}
