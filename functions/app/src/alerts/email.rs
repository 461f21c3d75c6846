//! Email alerts (spec 016, ADR 0029): one plain-text message per delivery, sent over SMTP to the
//! configured relay (`ATLAS_SMTP_URL`; in AWS the SES SMTP endpoint) or, with none configured,
//! written to the local outbox as `<outbox dir>/<delivery id>.eml` and indexed in the workspace's
//! partition for the outbox route.
//!
//! The `Message-ID` comes from the event id, so a retry or a redelivery is recognisably the same
//! message. The SMTP URL may hold a password: it is read only here and never logged or answered.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use atlas_api_types as api;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use crate::error::{ServiceError, ServiceResult};
use crate::records::alerts::{self as rec, AlertDeliveryRecord, AlertDestinationRecord, AlertOutboxRecord};
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

/// How long an SMTP server gets for the whole exchange.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One email, before it is sent or written.
pub struct Email {
    pub message: Message,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub body: String,
}

/// `[severity] title` (the event type stands in for a severity when the event has none).
pub fn subject(p: &Value) -> String {
    let tag = p
        .get("severity")
        .and_then(Value::as_str)
        .or_else(|| p.get("type").and_then(Value::as_str))
        .unwrap_or("alert");
    let title = p.get("title").and_then(Value::as_str).unwrap_or("TenantAtlas alert");
    // A header is one line.
    let title: String = title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    format!("[{tag}] {title}")
}

/// The plain-text body: what happened, where, the link, and the event id.
pub fn body(p: &Value) -> String {
    let text = |k: &str| match p.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "—".into(),
        Some(v) => v.to_string(),
    };
    format!(
        "{title}\n\n\
         Event:        {kind}\n\
         Severity:     {severity}\n\
         Environment:  {env}\n\
         Object:       {object}\n\
         State:        {state}\n\
         Occurred at:  {at}\n\
         Open:         {link}\n\
         Event id:     {id}\n\n\
         Sent by TenantAtlas for workspace {ws}. The event id is the same on every retry and\n\
         redelivery of this alert.\n",
        title = text("title"),
        kind = text("type"),
        severity = text("severity"),
        env = text("environment_id"),
        object = text("object"),
        state = text("state"),
        at = text("occurred_at"),
        link = text("link"),
        id = text("id"),
        ws = text("workspace_id"),
    )
}

/// `<event id>@<the sender's domain>`: stable across retries and redeliveries.
pub fn message_id(event_id: &str, from: &Mailbox) -> String {
    format!("<{}.alert@{}>", event_id.to_ascii_lowercase(), from.email.domain())
}

/// The message for one delivery of `payload` to `dest`'s recipients.
pub fn compose(state: &AppState, dest: &AlertDestinationRecord, payload: &Value, now_ms: i64) -> ServiceResult<Email> {
    let bad = |e: String| ServiceError::Permanent(format!("the email cannot be composed: {e}"));
    let from: Mailbox = state.alerts.from.parse().map_err(|e| bad(format!("{e}")))?;
    let event_id = payload.get("id").and_then(Value::as_str).unwrap_or_default();
    let subject = subject(payload);
    let body = body(payload);
    let message_id = message_id(event_id, &from);
    let mut b = Message::builder()
        .from(from.clone())
        .subject(subject.clone())
        .message_id(Some(message_id.clone()))
        .date(SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms.max(0) as u64));
    for r in &dest.recipients {
        b = b.to(r.parse::<Mailbox>().map_err(|e| bad(format!("{r}: {e}")))?);
    }
    let message = b
        .header(ContentType::TEXT_PLAIN)
        .body(body.clone())
        .map_err(|e| bad(e.to_string()))?;
    Ok(Email {
        message,
        from: from.to_string(),
        to: dest.recipients.clone(),
        subject,
        message_id,
        body,
    })
}

/// What one email attempt came to.
pub struct Outcome {
    pub ok: bool,
    pub status: Option<String>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub response: String,
    /// The outbox's index entry, written with the attempt.
    pub outbox: Option<AlertOutboxRecord>,
}

/// What one send came to, before anything is recorded.
pub struct Transmitted {
    pub ok: bool,
    pub status: Option<String>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub response: String,
    /// Written to the outbox (no SMTP configured) as this file.
    pub outbox_file: Option<String>,
}

/// Sends `email`: over SMTP when configured, else into the outbox as `<file_stem>.eml`. The
/// one e-mail path of the product (alerts, support requests).
pub async fn transmit(state: &AppState, file_stem: &str, email: Email, cut: usize) -> Transmitted {
    let started = Instant::now();
    let ms = |s: Instant| s.elapsed().as_millis() as u64;
    let failed = |error: String, latency_ms: u64| Transmitted {
        ok: false,
        status: None,
        error: Some(error),
        latency_ms,
        response: String::new(),
        outbox_file: None,
    };
    if let Some(url) = &state.alerts.smtp {
        let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose()) {
            Ok(b) => b.timeout(Some(SMTP_TIMEOUT)).build(),
            Err(_) => return failed(format!("the SMTP URL for {} is not usable", url.redacted()), 0),
        };
        return match transport.send(email.message).await {
            Ok(r) => {
                let reply: Vec<&str> = r.message().collect();
                Transmitted {
                    ok: r.is_positive(),
                    status: Some(format!("smtp {}", r.code())),
                    error: (!r.is_positive()).then(|| format!("the SMTP server answered {}", r.code())),
                    latency_ms: ms(started),
                    response: truncate(&format!("{} {}", r.code(), reply.join(" ")), cut),
                    outbox_file: None,
                }
            }
            Err(e) => {
                // lettre's message names the server's reply or the I/O error, never the URL.
                let status = e.status().map(|c| format!("smtp {c}"));
                let text = if e.is_timeout() {
                    format!("no answer from the SMTP server within {} s", SMTP_TIMEOUT.as_secs())
                } else {
                    format!("SMTP: {e}")
                };
                let text = text.replace(url.expose(), &url.redacted());
                Transmitted {
                    ok: false,
                    status,
                    error: Some(truncate(&text, cut)),
                    latency_ms: ms(started),
                    response: truncate(&text, cut),
                    outbox_file: None,
                }
            }
        };
    }
    let Some(dir) = &state.alerts.outbox_dir else {
        return failed(
            "no SMTP endpoint is configured (ATLAS_SMTP_URL) and this deployment has no outbox".into(),
            0,
        );
    };
    let file = format!("{file_stem}.eml");
    let bytes = email.message.formatted();
    match write_atomically(dir, &file, &bytes).await {
        Ok(()) => Transmitted {
            ok: true,
            status: Some("outbox".into()),
            error: None,
            latency_ms: ms(started),
            response: format!("written to the outbox as {file}"),
            outbox_file: Some(file),
        },
        Err(e) => failed(format!("the outbox could not be written: {e}"), ms(started)),
    }
}

/// Sends `email` for delivery `d`: over SMTP when configured, else into the outbox.
pub async fn deliver(state: &AppState, d: &AlertDeliveryRecord, email: Email, cut: usize) -> ServiceResult<Outcome> {
    let (from, to, subject, message_id, body) = (
        email.from.clone(),
        email.to.clone(),
        email.subject.clone(),
        email.message_id.clone(),
        email.body.clone(),
    );
    let t = transmit(state, &d.delivery_id, email, cut).await;
    let outbox = t.outbox_file.map(|file| AlertOutboxRecord {
        workspace_id: d.workspace_id.clone(),
        delivery_id: d.delivery_id.clone(),
        event_id: d.event_id.clone(),
        destination_id: d.destination_id.clone(),
        environment_id: d.environment_id.clone(),
        from,
        to,
        subject,
        message_id,
        body,
        file,
        at_ms: state.clock.now_millis(),
    });
    Ok(Outcome {
        ok: t.ok,
        status: t.status,
        error: t.error,
        latency_ms: t.latency_ms,
        response: t.response,
        outbox,
    })
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Writes `name` in `dir` through a temporary file, synced, then renamed: a crash leaves the
/// old file or the new one, never half a message.
async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = dir.to_owned();
    let name = name.to_owned();
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(&name))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The workspace's outbox, newest first: only its own messages (the index is in its partition),
/// and only those about environments the reader is entitled to.
pub async fn outbox(state: &AppState, scope: &WorkspaceScope, limit: usize) -> ServiceResult<api::AlertOutboxList> {
    let ws = scope.records(&state.table);
    let all: Vec<AlertOutboxRecord> = records::query_all(&state.table, ws.query(rec::OUTBOX)).await?;
    let mut items: Vec<AlertOutboxRecord> = all
        .into_iter()
        .filter(|m| m.environment_id.as_ref().is_none_or(|e| scope.entitled_to(e)))
        .collect();
    items.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| b.delivery_id.cmp(&a.delivery_id)));
    items.truncate(limit);
    Ok(api::AlertOutboxList {
        items: items
            .into_iter()
            .map(|m| api::AlertOutboxMessage {
                delivery_id: m.delivery_id,
                event_id: m.event_id,
                destination_id: m.destination_id,
                from: m.from,
                to: m.to,
                subject: m.subject,
                message_id: m.message_id,
                body: m.body,
                at_ms: m.at_ms,
            })
            .collect(),
    })
}

/// The outbox entry's write (a put: a redelivery replaces the entry as it replaces the file).
pub fn outbox_item(m: &AlertOutboxRecord) -> atlas_store::TxItem {
    atlas_store::TxItem::Put {
        item: m.to_item(),
        cond: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subject_body_and_message_id() {
        let p = json!({"id": "01JABC", "type": "finding.created", "severity": "high",
            "title": "Compliance policy changed\r\nBcc: x@y", "environment_id": "env-a",
            "object": "finding/1", "state": "open", "link": "https://atlas/x", "workspace_id": "ws-a"});
        assert_eq!(subject(&p), "[high] Compliance policy changed  Bcc: x@y");
        let b = body(&p);
        for want in ["env-a", "finding/1", "open", "https://atlas/x", "Event id:     01JABC"] {
            assert!(b.contains(want), "{want} in {b}");
        }
        assert_eq!(
            subject(&json!({"type": "test", "title": "T", "severity": null})),
            "[test] T"
        );
        let from: Mailbox = "TenantAtlas <alerts@example.com>".parse().unwrap();
        assert_eq!(message_id("01JABC", &from), "<01jabc.alert@example.com>");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
