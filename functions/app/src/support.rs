//! Support intake (spec 025, ADR 0047): a member asks for help from where the problem is (a
//! failed run, a refused page, the user menu). The server builds the context itself from what
//! the member's proven scope can see (never from the client), redacts it, saves the request with
//! its audit event, and only then queues its e-mail to the deployment's support address — on the
//! alerts' e-mail path and queue, with the same exactly-once bookkeeping (a state condition and
//! a lease). The same fingerprint within ten minutes is the same request.

use std::time::Duration;

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, Status, WorkspaceId, redact};
use atlas_store::{Cond, OutMessage, TableError, TxItem, Update};
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{self, NewEvent};
use crate::error::{ServiceError, ServiceResult};
use crate::records::runs::{self as run_rec, OperationRun};
use crate::records::support::{self as rec, SupportFingerprintRecord, SupportRecord};
use crate::records::tenancy::EnvironmentRecord;
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

/// The route that answers 200 with the existing request when the same one is asked again (its
/// function name; the OpenAPI document declares that second answer).
pub const DEDUPED_200: &str = "post-support-request";

/// One request per fingerprint within this window.
pub const DEDUPE_MS: i64 = 10 * 60_000;
/// The longest message.
pub const MAX_MESSAGE: usize = 4_000;
/// Attempts before a request's e-mail is given up (the request itself stays).
const MAX_ATTEMPTS: u32 = 5;
/// Step results a snapshot keeps (failed ones first).
const MAX_STEPS: usize = 100;
/// How long one attempt holds its request; a copy arriving meanwhile waits.
const LEASE_MS: i64 = 60_000;

pub const SOURCES: &[&str] = &["operation_run", "provider_connection", "access_denied", "generic"];
pub const KINDS: &[&str] = &["technical_problem", "access_problem", "ux_feedback", "other"];

pub const RECEIVED: &str = "received";
pub const DELIVERED: &str = "delivered";
pub const DELIVERY_FAILED: &str = "delivery_failed";

/// The canonical status of a request's state.
pub fn status_of(state: &str) -> Status {
    match state {
        DELIVERED => Status::Ready,
        DELIVERY_FAILED => Status::Failed,
        _ => Status::Running,
    }
}

pub fn to_api(r: &SupportRecord) -> api::SupportRequest {
    api::SupportRequest {
        id: r.support_id.clone(),
        workspace_id: r.workspace_id.to_string(),
        environment_id: r.environment_id.clone(),
        source_type: r.source_type.clone(),
        issue_kind: r.issue_kind.clone(),
        message: r.message.clone(),
        target: r.target.clone(),
        created_by: r.created_by_email.clone(),
        created_ms: r.created_ms,
        state: r.state.clone(),
        status: status_of(&r.state),
        delivered_ms: r.delivered_ms,
        reason: r.reason.clone(),
        context: r.context.clone(),
    }
}

/// Whitespace collapsed and case folded: "Backup FAILED " and "backup failed" are one message.
pub fn normalize(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// user + source + target + issue kind + normalized message, hashed.
pub fn fingerprint(user_id: &str, source: &str, target: &str, kind: &str, message: &str) -> String {
    let text = format!("{user_id}\n{source}\n{target}\n{kind}\n{}", normalize(message));
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The outcome of a create: a new request, or the one the same fingerprint made moments ago.
pub struct Created {
    pub request: SupportRecord,
    pub new: bool,
}

fn bad(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::field(field, message)
}

/// Validates, builds the context, saves (with the dedupe guard and the audit event), then queues
/// the e-mail.
pub async fn create(
    state: &AppState,
    scope: &WorkspaceScope,
    body: api::SupportRequestCreate,
) -> ServiceResult<Created> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, field: &str, msg: String| {
        if !ok {
            errors.push(atlas_api_types::FieldError {
                field: field.into(),
                message: msg,
            });
        }
    };
    check(
        SOURCES.contains(&body.source_type.as_str()),
        "source_type",
        format!("must be one of {}", SOURCES.join(", ")),
    );
    check(
        KINDS.contains(&body.issue_kind.as_str()),
        "issue_kind",
        format!("must be one of {}", KINDS.join(", ")),
    );
    let message = body.message.trim().to_owned();
    check(
        !message.is_empty() && message.chars().count() <= MAX_MESSAGE,
        "message",
        format!("must say what went wrong, in 1 to {MAX_MESSAGE} characters"),
    );
    let source = body.source_type.as_str();
    check(
        source != "operation_run" || body.run_id.as_deref().is_some_and(|r| !r.is_empty()),
        "run_id",
        "is required for an operation_run request".into(),
    );
    check(
        source != "provider_connection" || body.environment_id.is_some(),
        "environment_id",
        "is required for a provider_connection request".into(),
    );
    let path_ok = body
        .path
        .as_deref()
        .is_none_or(|p| p.starts_with('/') && p.len() <= 512 && !p.chars().any(char::is_control));
    check(
        path_ok && (source != "access_denied" || body.path.is_some()),
        "path",
        "must be the refused page's path (starting with /, at most 512 characters); required for access_denied".into(),
    );
    let request_ok = body
        .request_id
        .as_deref()
        .is_none_or(crate::telemetry::valid_request_id);
    check(request_ok, "request_id", "is not a request id".into());
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }

    // The environment named, if any: one the member can see, else the same 404 as a missing one.
    let env = match body.environment_id.as_deref() {
        None => None,
        Some(raw) => Some(visible_environment(state, scope, raw).await?),
    };
    let mut context = json!({
        "app_version": crate::VERSION,
        "request_id": body.request_id,
        "reported_from_request_id": scope.request_id(),
        "user": {"id": scope.actor().user_id, "email": scope.actor().email},
        "scope": {
            "workspace_id": scope.workspace_id().as_str(),
            "environment_id": env.as_ref().map(|(e, _)| e.as_str().to_owned()),
            "role": scope.role().as_str(),
            "entitlement": match scope.entitlement() {
                crate::scope::Entitlement::All => json!("all"),
                crate::scope::Entitlement::Only(s) => json!(s.iter().map(|e| e.as_str()).collect::<Vec<_>>()),
            },
            "capabilities": crate::tenancy::capability_codes(scope.role()),
        },
    });
    if let Some((_, record)) = &env {
        context["environment"] = json!({"name": record.display_name, "lifecycle": record.lifecycle.as_str()});
    }
    let mut env_id = env.map(|(e, _)| e);
    let target = match source {
        "operation_run" => {
            let run_id = body.run_id.clone().unwrap_or_default();
            let run = proven_run(state, scope, &run_id).await?;
            if env_id.is_none() {
                env_id = run.environment();
            }
            context["run"] = run_context(state, &run).await?;
            Some(format!("run/{run_id}"))
        }
        "provider_connection" => {
            let e = env_id.clone().ok_or(ServiceError::NotFound)?;
            let es = scope.environment(&e).ok_or(ServiceError::NotFound)?;
            let conn = crate::provider::load(state, &es).await?;
            // The API's own view: no credential, no sealed value, ever.
            let view = crate::provider::to_api(conn.as_ref(), state.clock.now_millis());
            context["provider_connection"] = serde_json::to_value(view).unwrap_or(Value::Null);
            Some(format!("provider-connection/{e}"))
        }
        "access_denied" => body.path.clone(),
        _ => None,
    };
    context["message"] = json!(message);
    // Through the product's redaction: a secret in a run's error or in the message is masked.
    redact::redact(&mut context);
    let message = context["message"].as_str().unwrap_or_default().to_owned();
    if let Value::Object(m) = &mut context {
        m.remove("message");
    }

    let now = state.clock.now_millis();
    let fp = fingerprint(
        &scope.actor().user_id,
        source,
        target.as_deref().unwrap_or(""),
        &body.issue_kind,
        &message,
    );
    let id = state.ids.next_id();
    let request = SupportRecord {
        support_id: id.clone(),
        workspace_id: scope.workspace_id().clone(),
        environment_id: env_id.as_ref().map(|e| e.as_str().to_owned()),
        source_type: body.source_type.clone(),
        issue_kind: body.issue_kind.clone(),
        message,
        target: target.clone(),
        created_by: scope.actor().user_id.clone(),
        created_by_email: scope.actor().email.clone(),
        created_ms: now,
        state: RECEIVED.into(),
        attempts: 0,
        delivered_ms: None,
        reason: None,
        fingerprint: fp.clone(),
        context,
    };
    let guard = SupportFingerprintRecord {
        workspace_id: scope.workspace_id().clone(),
        fingerprint: fp.clone(),
        support_id: id.clone(),
        created_ms: now,
    };
    // The guard is replaced only when absent or older than the window: a second identical
    // request inside it fails here, and nothing of it is written.
    let fresh = Cond::Or(vec![
        Cond::NotExists,
        Cond::Lt("created_ms".into(), (now - DEDUPE_MS).into()),
    ]);
    let changes = vec![
        TxItem::Put {
            item: guard.to_item(),
            cond: Some(fresh),
        },
        request.create(),
    ];
    let mut ev = NewEvent::success("support.request.create", format!("support-request/{id}")).meta(json!({
        "source_type": source, "issue_kind": body.issue_kind, "target": target,
    }));
    ev.environment_id = env_id.clone();
    match audit::commit(state, scope, changes, ev).await {
        Ok(()) => {}
        Err(e) if audit::failed_at(&e) == Some(0) => {
            let g: Option<SupportFingerprintRecord> =
                records::get(&state.table, &rec::fingerprint_key(scope.workspace_id(), &fp)).await?;
            let existing = match g {
                Some(g) => {
                    records::get::<SupportRecord>(&state.table, &rec::request_key(scope.workspace_id(), &g.support_id))
                        .await?
                }
                None => None,
            };
            return match existing {
                Some(request) => Ok(Created { request, new: false }),
                None => Err(ServiceError::Conflict(
                    "the same request is being saved; try again".into(),
                )),
            };
        }
        Err(e) => return Err(e.into()),
    }
    // Saved: the e-mail is owed. A queue failure leaves the request `received`; sending it
    // again is the redeliver of an existing path (the alerts' sweep), not a lost request.
    if let Err(e) = enqueue(state, &DeliverSupport::new(scope.workspace_id(), &id, 0), 0).await {
        tracing::warn!(support_id = %id, error = %e, "the support request's e-mail was not queued");
    }
    Ok(Created { request, new: true })
}

async fn visible_environment(
    state: &AppState,
    scope: &WorkspaceScope,
    raw: &str,
) -> ServiceResult<(EnvironmentId, EnvironmentRecord)> {
    let env = EnvironmentId::parse(raw).map_err(|_| bad("environment_id", "is not an environment id"))?;
    if !scope.entitled_to(&env) {
        return Err(ServiceError::NotFound);
    }
    let record = scope
        .records(&state.table)
        .get::<EnvironmentRecord>(crate::records::tenancy::env_sk(&env))
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok((env, record))
}

/// The run, when it is the workspace's and the member is entitled to its environment; else the
/// same 404 as a run that does not exist.
async fn proven_run(state: &AppState, scope: &WorkspaceScope, run_id: &str) -> ServiceResult<OperationRun> {
    if atlas_domain::RunId::parse(run_id).is_err() {
        return Err(ServiceError::NotFound);
    }
    let run: OperationRun = scope
        .records(&state.table)
        .owned(&run_rec::run_key(run_id))
        .await?
        .ok_or(ServiceError::NotFound)?;
    if let Some(e) = &run.environment_id
        && !EnvironmentId::parse(e).is_ok_and(|e| scope.entitled_to(&e))
    {
        return Err(ServiceError::NotFound);
    }
    Ok(run)
}

/// The run's summary, counts, its errors and its step results (redacted by the caller).
pub async fn run_context(state: &AppState, run: &OperationRun) -> ServiceResult<Value> {
    let run = crate::runs::tallied(state, run.clone()).await?;
    let items = run_rec::units(&state.table, &run.run_id, false).await?;
    let mut items: Vec<api::RunItem> = items.iter().map(api::RunItem::from).collect();
    let errors: Vec<Value> = items
        .iter()
        .filter(|i| i.result == "failed")
        .take(MAX_STEPS)
        .map(|i| json!({"item": i.item, "error": error_of(&i.detail)}))
        .collect();
    // A stored item stays far below DynamoDB's 400 KB: failed steps first, then the rest, capped.
    let steps_total = items.len();
    items.sort_by_key(|i| i.result != "failed");
    items.truncate(MAX_STEPS);
    let v = run.to_api();
    Ok(json!({
        "id": v.id, "type": v.operation_type, "label": v.label, "environment_id": v.environment_id,
        "state": v.state, "outcome": v.outcome, "status": v.status, "reason": v.reason,
        "created_ms": v.created_ms, "duration_ms": v.duration_ms,
        "counts": {"total": v.total, "succeeded": v.succeeded, "failed": v.failed, "skipped": v.skipped},
        "errors": errors,
        "steps": items,
        "steps_total": steps_total,
    }))
}

/// A unit's error in words: its `error`, `reason` or `message`, else the whole detail.
pub fn error_of(detail: &Value) -> String {
    ["error", "reason", "message"]
        .iter()
        .find_map(|k| detail.get(*k).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| detail.to_string())
}

/// The requests a member may see: their own; an owner (members.manage) sees the workspace's.
pub async fn list(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<Vec<SupportRecord>> {
    let all: Vec<SupportRecord> =
        records::query_all(&state.table, scope.records(&state.table).query(rec::PREFIX)).await?;
    let mut mine: Vec<SupportRecord> = all.into_iter().filter(|r| may_see(scope, r)).collect();
    mine.sort_by(|a, b| {
        b.created_ms
            .cmp(&a.created_ms)
            .then_with(|| b.support_id.cmp(&a.support_id))
    });
    Ok(mine)
}

fn may_see(scope: &WorkspaceScope, r: &SupportRecord) -> bool {
    r.created_by == scope.actor().user_id || scope.can(atlas_domain::Capability::MembersManage)
}

pub async fn get(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<SupportRecord> {
    scope
        .records(&state.table)
        .get::<SupportRecord>(rec::request_sk(id))
        .await?
        .filter(|r| may_see(scope, r))
        .ok_or(ServiceError::NotFound)
}

/// One e-mail attempt of a support request, on the alerts' delivery queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverSupport {
    /// Always `support.deliver`: tells it from an alert delivery on the same queue.
    pub kind: String,
    pub workspace_id: WorkspaceId,
    pub support_id: String,
    /// The attempt number the request expects; any other copy is stale.
    pub attempt: u32,
}

pub const KIND: &str = "support.deliver";

impl DeliverSupport {
    pub fn new(ws: &WorkspaceId, id: &str, attempt: u32) -> Self {
        Self {
            kind: KIND.into(),
            workspace_id: ws.clone(),
            support_id: id.to_owned(),
            attempt,
        }
    }
    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str::<Self>(body).ok().filter(|m| m.kind == KIND)
    }
}

async fn enqueue(state: &AppState, m: &DeliverSupport, delay_ms: i64) -> ServiceResult<()> {
    let secs = ((delay_ms.max(0) + 999) / 1000).min(900) as u64;
    state
        .queues
        .get(crate::alerts::deliver::QUEUE)?
        .send(OutMessage::new(m.body()).delayed(Duration::from_secs(secs)))
        .await?;
    Ok(())
}

/// The message for support: who, where, what, and the context as indented JSON.
pub fn compose(state: &AppState, r: &SupportRecord) -> ServiceResult<crate::alerts::email::Email> {
    let bad = |e: String| ServiceError::Permanent(format!("the support e-mail cannot be composed: {e}"));
    let from: Mailbox = state.alerts.from.parse().map_err(|e| bad(format!("{e}")))?;
    let to: Mailbox = state
        .platform
        .support_address
        .parse()
        .map_err(|e| bad(format!("{e}")))?;
    let first_line: String = r.message.lines().next().unwrap_or_default().chars().take(60).collect();
    let subject = format!("[support] {} · {} · {first_line}", r.issue_kind, r.source_type);
    let link = match r.target.as_deref() {
        Some(t) if t.starts_with("run/") => format!(
            "{}/workspaces/{}/operations/{}",
            state.public_url.trim_end_matches('/'),
            r.workspace_id,
            &t[4..]
        ),
        _ => "—".into(),
    };
    let body = format!(
        "Support request {id}\n\n\
         From:         {email} ({user})\n\
         Workspace:    {ws}\n\
         Environment:  {env}\n\
         Source:       {source}\n\
         Kind:         {kind}\n\
         About:        {target}\n\
         Open:         {link}\n\n\
         Message:\n{message}\n\n\
         Context (secrets redacted):\n{context}\n",
        id = r.support_id,
        email = r.created_by_email,
        user = r.created_by,
        ws = r.workspace_id,
        env = r.environment_id.as_deref().unwrap_or("—"),
        source = r.source_type,
        kind = r.issue_kind,
        target = r.target.as_deref().unwrap_or("—"),
        message = r.message,
        context = serde_json::to_string_pretty(&r.context).unwrap_or_default(),
    );
    let message_id = format!(
        "<{}.support@{}>",
        r.support_id.to_ascii_lowercase(),
        from.email.domain()
    );
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .reply_to(r.created_by_email.parse::<Mailbox>().unwrap_or_else(|_| from.clone()))
        .subject(subject.clone())
        .message_id(Some(message_id.clone()))
        .header(ContentType::TEXT_PLAIN)
        .body(body.clone())
        .map_err(|e| bad(e.to_string()))?;
    Ok(crate::alerts::email::Email {
        message,
        from: from.to_string(),
        to: vec![state.platform.support_address.clone()],
        subject,
        message_id,
        body,
    })
}

/// The step's work for one message: a `received` request at the expected attempt is e-mailed
/// once (a lease keeps a second copy from sending beside it); a delivered or given-up request,
/// or a stale copy, is left alone, so a redelivered message never sends twice.
pub async fn deliver(state: &AppState, body: &str) -> ServiceResult<()> {
    let m = DeliverSupport::parse(body).ok_or_else(|| ServiceError::Permanent("not a support delivery".into()))?;
    let key = rec::request_key(&m.workspace_id, &m.support_id);
    let Some(r) = records::get::<SupportRecord>(&state.table, &key).await? else {
        return Ok(());
    };
    if r.state != RECEIVED || r.attempts != m.attempt {
        return Ok(());
    }
    let now = state.clock.now_millis();
    let expected = Cond::And(vec![Cond::eq("state", RECEIVED), Cond::eq("attempts", r.attempts)]);
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
        Err(TableError::ConditionFailed) => return Err(ServiceError::Wait(Duration::from_millis(LEASE_MS as u64))),
        Err(e) => return Err(e.into()),
    }
    let email = compose(state, &r)?;
    let file = format!("support-{}", r.support_id);
    let sent = crate::alerts::email::transmit(state, &file, email, crate::alerts::deliver::RESPONSE_BYTES).await;
    let at = state.clock.now_millis();
    let n = r.attempts + 1;
    tracing::info!(support_id = %r.support_id, attempt = n, ok = sent.ok, "support request e-mailed");
    let mut update = Update::new()
        .set("attempts", n)
        .set("updated_ms", at)
        .remove("lease_until_ms");
    let mut retry = None;
    if sent.ok {
        update = update.set("state", DELIVERED).set("delivered_ms", at).remove("reason");
    } else if n >= MAX_ATTEMPTS {
        update = update.set("state", DELIVERY_FAILED).set(
            "reason",
            format!(
                "The e-mail to support failed {n} times; the last: {}.",
                sent.error.as_deref().unwrap_or("no answer")
            ),
        );
    } else {
        let wait = crate::alerts::deliver::backoff_ms(state.alerts.retry_base.as_millis() as i64, n - 1);
        update = update.set("reason", sent.error.clone().unwrap_or_default());
        retry = Some(wait);
    }
    if let Some(wait) = retry {
        // Queued before the commit: a crash in between leaves a copy the attempt number does not
        // match yet, and this message, still unacknowledged, tries again.
        enqueue(state, &DeliverSupport::new(&m.workspace_id, &m.support_id, n), wait).await?;
    }
    match state.table.update(&key, &update, Some(expected)).await {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A support message that exhausted its receives: the request says its e-mail failed.
pub async fn dead_letter(state: &AppState, m: &DeliverSupport) -> ServiceResult<()> {
    let key = rec::request_key(&m.workspace_id, &m.support_id);
    let u = Update::new()
        .set("state", DELIVERY_FAILED)
        .set(
            "reason",
            "The e-mail step failed on every receive; the message was moved to the dead-letter queue.",
        )
        .remove("lease_until_ms");
    match state
        .table
        .update(
            &key,
            &u,
            Some(Cond::And(vec![
                Cond::eq("state", RECEIVED),
                Cond::eq("attempts", m.attempt),
            ])),
        )
        .await
    {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_case_and_spacing_but_not_the_target() {
        let a = fingerprint("u", "operation_run", "run/1", "technical_problem", "Backup  FAILED\n");
        let b = fingerprint("u", "operation_run", "run/1", "technical_problem", "backup failed");
        let c = fingerprint("u", "operation_run", "run/2", "technical_problem", "backup failed");
        let d = fingerprint("v", "operation_run", "run/1", "technical_problem", "backup failed");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn a_support_message_is_not_an_alert_delivery() {
        let ws = WorkspaceId::parse("ws-a").unwrap();
        let m = DeliverSupport::new(&ws, "s1", 0);
        assert_eq!(DeliverSupport::parse(&m.body()), Some(m.clone()));
        assert!(crate::alerts::deliver::DeliverMessage::parse(&m.body()).is_none());
        assert_eq!(status_of(DELIVERED), Status::Ready);
        assert_eq!(status_of(RECEIVED), Status::Running);
    }
}
