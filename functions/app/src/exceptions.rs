//! Exceptions (risk acceptance), the workspace's governance policy, and the tick's due work:
//! expiry warnings, expiries and SLA steps (spec 016).
//!
//! An exception and its finding move together: every write names the versions it read, and a
//! status move of the finding goes through [`findings::transition_with`], so an approval, a
//! revocation or an expiry either changes both (with history, audit and alert events) or nothing.

use std::collections::BTreeMap;

use atlas_api_types as api;
use atlas_domain::alerts::AlertEventType;
use atlas_domain::findings::{ExceptionStatus, FindingStatus, GovernancePolicy};
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{TableError, TxItem};
use serde_json::json;

use crate::alerts::NewAlert;
use crate::audit::NewEvent;
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::findings::{self, Also};
use crate::records::drift::{FindingRecord, finding_key, finding_sk, findings_sla_due_by};
use crate::records::exceptions::{
    ExceptionEventRecord, ExceptionRecord, PolicyRecord, exception_events, exception_key, exception_sk,
    exceptions_due_by, policy_key,
};
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

const MAX_JUSTIFICATION: usize = 2000;
const MAX_REASON: usize = 1000;
const MAX_TICKET_URL: usize = 500;

// ---------------------------------------------------------------------------------------------
// Governance policy

/// The workspace's policy (the defaults until an owner sets one).
pub async fn policy(state: &AppState, ws: &WorkspaceId) -> ServiceResult<GovernancePolicy> {
    let stored: Option<PolicyRecord> = records::get(&state.table, &policy_key(ws)).await?;
    Ok(stored.map(|r| r.policy).unwrap_or_default())
}

/// Replaces the policy, audited with the old and new values. New due dates and caps apply to
/// what opens or is requested from now on.
pub async fn set_policy(
    state: &AppState,
    scope: &WorkspaceScope,
    body: &GovernancePolicy,
) -> ServiceResult<GovernancePolicy> {
    let next = *body;
    let mut f = Fields::default();
    for (field, why) in next.problems() {
        f.push(field, why);
    }
    f.checked()?;
    let ws = scope.workspace_id();
    let old = policy(state, ws).await?;
    let rec = PolicyRecord {
        workspace_id: ws.clone(),
        policy: next,
        updated_ms: state.clock.now_millis(),
        updated_by: scope.actor().email.clone(),
    };
    let audit =
        NewEvent::success("governance_policy.update", "governance-policy").meta(json!({"old": old, "new": body}));
    crate::audit::commit(state, scope, vec![rec.put()], audit).await?;
    Ok(next)
}

/// Unix ms `days` from the wall clock (the request example's expiry).
pub fn days_from_now(days: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    now + days * 24 * 60 * 60 * 1000
}

// ---------------------------------------------------------------------------------------------
// Reading

pub fn to_api(e: &ExceptionRecord) -> api::Exception {
    api::Exception {
        id: e.exception_id.clone(),
        finding_id: e.finding_id.clone(),
        environment_id: e.environment_id.to_string(),
        finding_title: e.finding_title.clone(),
        state: e.status,
        status: e.status.canonical(),
        justification: e.justification.clone(),
        ticket_url: e.ticket_url.clone(),
        expires_ms: e.expires_ms,
        warn_at_ms: e.warn_at_ms,
        requested_by: e.requested_by.clone(),
        requested_ms: e.requested_ms,
        decided_by: e.decided_by.clone(),
        decided_ms: e.decided_ms,
        decision_reason: e.decision_reason.clone(),
        ended_by: e.ended_by.clone(),
        ended_ms: e.ended_ms,
        end_reason: e.end_reason.clone(),
        property: e.property.clone(),
        pinned: e.pinned.clone(),
        version: e.version,
    }
}

async fn load(state: &AppState, ws: &WorkspaceId, id: &str) -> ServiceResult<Option<ExceptionRecord>> {
    Ok(records::get(&state.table, &exception_key(ws, id)).await?)
}

/// An exception in an environment the member sees; 404 otherwise.
async fn visible(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<ExceptionRecord> {
    let e: ExceptionRecord = scope
        .records(&state.table)
        .get(exception_sk(id))
        .await?
        .ok_or(ServiceError::NotFound)?;
    if !scope.entitled_to(&e.environment_id) {
        return Err(ServiceError::NotFound);
    }
    Ok(e)
}

/// The list's filters, as the route parsed them.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub status: Option<ExceptionStatus>,
    pub environment_id: Option<EnvironmentId>,
    pub finding_id: Option<String>,
}

/// Exceptions in the member's environments, newest request first.
pub async fn list(state: &AppState, scope: &WorkspaceScope, filter: &Filter) -> ServiceResult<api::ExceptionList> {
    let q = atlas_store::Query::partition(scope.pk()).begins_with(crate::records::exceptions::EXCEPTIONS);
    let all: Vec<ExceptionRecord> = records::query_all(&state.table, q).await?;
    let mut items: Vec<api::Exception> = all
        .iter()
        .filter(|e| scope.entitled_to(&e.environment_id))
        .filter(|e| filter.status.is_none_or(|s| e.status == s))
        .filter(|e| {
            filter
                .environment_id
                .as_ref()
                .is_none_or(|env| &e.environment_id == env)
        })
        .filter(|e| filter.finding_id.as_ref().is_none_or(|f| &e.finding_id == f))
        .map(to_api)
        .collect();
    items.sort_by(|a, b| (b.requested_ms, &b.id).cmp(&(a.requested_ms, &a.id)));
    Ok(api::ExceptionList { items })
}

/// An exception with its history, oldest first.
pub async fn detail(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::ExceptionDetail> {
    let e = visible(state, scope, id).await?;
    let q = scope.records(&state.table).query(exception_events(id));
    let history: Vec<ExceptionEventRecord> = records::query_all(&state.table, q).await?;
    Ok(api::ExceptionDetail {
        exception: to_api(&e),
        history: history
            .into_iter()
            .map(|h| api::ExceptionEvent {
                at_ms: h.at_ms,
                kind: h.kind,
                actor: h.actor,
                reason: h.reason,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

fn history(state: &AppState, e: &ExceptionRecord, kind: &str, actor: &str, reason: Option<&str>) -> TxItem {
    ExceptionEventRecord {
        workspace_id: e.workspace_id.clone(),
        exception_id: e.exception_id.clone(),
        event_id: state.ids.next_id(),
        at_ms: state.clock.now_millis(),
        kind: kind.into(),
        actor: actor.into(),
        reason: reason.map(str::to_owned),
    }
    .create()
}

fn audit(action: &str, e: &ExceptionRecord, reason: Option<&str>) -> NewEvent {
    NewEvent::success(action, format!("exception/{}", e.exception_id))
        .env(&e.environment_id)
        .meta(json!({
            "finding_id": e.finding_id,
            "finding_title": e.finding_title,
            "expires_ms": e.expires_ms,
            "requested_by": e.requested_by,
            "reason": reason,
        }))
}

fn conflict_from(e: TableError) -> ServiceError {
    match e {
        TableError::ConditionFailed | TableError::TransactionCanceled { .. } => {
            ServiceError::Conflict("the finding or the exception changed meanwhile; reload it and try again".into())
        }
        other => other.into(),
    }
}

fn check_reason(reason: Option<&str>, required: bool, f: &mut Fields) {
    match reason.map(str::trim) {
        None | Some("") if required => f.push("reason", "say why"),
        Some(r) if r.chars().count() > MAX_REASON => {
            f.push("reason", format!("must be at most {MAX_REASON} characters"))
        }
        _ => {}
    }
}

fn check_request(body: &api::ExceptionRequest, policy: &GovernancePolicy, now_ms: i64) -> ServiceResult<()> {
    let mut f = Fields::default();
    let justification = body.justification.trim();
    if justification.is_empty() {
        f.push("justification", "say why the risk is acceptable");
    } else if justification.chars().count() > MAX_JUSTIFICATION {
        f.push(
            "justification",
            format!("must be at most {MAX_JUSTIFICATION} characters"),
        );
    }
    if let Some(t) = &body.ticket_url {
        let ok = t.len() <= MAX_TICKET_URL
            && reqwest::Url::parse(t).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            f.push(
                "ticket_url",
                format!("must be an http or https URL of at most {MAX_TICKET_URL} characters"),
            );
        }
    }
    let latest = policy.latest_expiry_ms(now_ms);
    if body.expires_ms <= now_ms {
        f.push("expires_ms", "must be in the future: every acceptance expires");
    } else if body.expires_ms > latest {
        f.push(
            "expires_ms",
            format!(
                "must be at most {} days away (the workspace's exception_max_days; no permanent acceptance)",
                policy.exception_max_days
            ),
        );
    }
    f.checked()
}

/// Requests a risk acceptance for an open finding that has none requested or active.
pub async fn request(
    state: &AppState,
    scope: &WorkspaceScope,
    finding_id: &str,
    body: &api::ExceptionRequest,
) -> ServiceResult<api::Exception> {
    let ws = scope.workspace_id();
    let now = state.clock.now_millis();
    let policy = policy(state, ws).await?;
    check_request(body, &policy, now)?;
    let f = findings::visible(state, scope, finding_id).await?;
    if !f.status.is_open() {
        return Err(ServiceError::Conflict(format!(
            "only an open finding's risk can be accepted; this one is {}",
            f.status
        )));
    }
    if let Some(current) = &f.exception_id {
        return Err(ServiceError::Conflict(format!(
            "the finding already has exception {current} requested or active"
        )));
    }
    let actor = scope.actor();
    let e = ExceptionRecord {
        workspace_id: ws.clone(),
        exception_id: state.ids.next_id(),
        finding_id: f.finding_id.clone(),
        environment_id: f.environment_id.clone(),
        finding_title: f.title.clone(),
        status: ExceptionStatus::Requested,
        justification: body.justification.trim().to_owned(),
        ticket_url: body.ticket_url.clone(),
        expires_ms: body.expires_ms,
        warn_at_ms: policy.warn_at_ms(body.expires_ms),
        warned_ms: None,
        requested_by: actor.email.clone(),
        requested_by_user: actor.user_id.clone(),
        requested_ms: now,
        decided_by: None,
        decided_ms: None,
        decision_reason: None,
        ended_by: None,
        ended_ms: None,
        end_reason: None,
        property: f.property.clone(),
        pinned: None,
        version: 1,
    };
    let mut next = f.clone();
    next.exception_id = Some(e.exception_id.clone());
    next.version = f.version + 1;
    let mut fev = findings::event(&next, state, "exception_requested", &actor.email);
    fev.reason = Some(e.justification.clone());
    let changes = vec![
        next.replace(Some(f.version)),
        e.replace(None),
        history(state, &e, "requested", &actor.email, Some(&e.justification)),
        fev.create(),
    ];
    let ev = audit("exception.request", &e, Some(&e.justification));
    crate::audit::commit(state, scope, changes, ev)
        .await
        .map_err(conflict_from)?;
    Ok(to_api(&e))
}

/// The exception and its (visible, still linked) finding, for a decision.
async fn with_finding(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
) -> ServiceResult<(ExceptionRecord, FindingRecord)> {
    let e = visible(state, scope, id).await?;
    let f: FindingRecord = scope
        .records(&state.table)
        .get(finding_sk(&e.finding_id))
        .await?
        .ok_or_else(|| ServiceError::Conflict("the exception's finding no longer exists".into()))?;
    Ok((e, f))
}

/// A decision's checks: the reason (required or not), then the exception still requested.
async fn requested(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::ExceptionDecision,
    reason_required: bool,
) -> ServiceResult<(ExceptionRecord, FindingRecord)> {
    let mut fields = Fields::default();
    check_reason(body.reason.as_deref(), reason_required, &mut fields);
    fields.checked()?;
    let (e, f) = with_finding(state, scope, id).await?;
    if e.status != ExceptionStatus::Requested {
        return Err(ServiceError::Conflict(format!(
            "the exception is {}, not requested",
            e.status
        )));
    }
    Ok((e, f))
}

/// Approves a requested exception: a different member than the requester (403 with the reason
/// otherwise). The finding moves to `risk_accepted` with its current value pinned.
pub async fn approve(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::ExceptionDecision,
) -> ServiceResult<api::Exception> {
    let (e, f) = requested(state, scope, id, body, false).await?;
    let actor = scope.actor();
    if e.requested_by_user == actor.user_id {
        return Err(ServiceError::Refused(
            "you requested this exception: another member with findings.accept_risk must approve it".into(),
        ));
    }
    let now = state.clock.now_millis();
    if e.expires_ms <= now {
        return Err(ServiceError::Conflict(
            "the exception expired before it was approved".into(),
        ));
    }
    if f.exception_id.as_deref() != Some(id) || !f.status.is_open() {
        return Err(ServiceError::Conflict(format!(
            "the finding is {} and no longer waits for this exception",
            f.status
        )));
    }
    let mut next_e = e.clone();
    next_e.status = ExceptionStatus::Active;
    next_e.decided_by = Some(actor.email.clone());
    next_e.decided_ms = Some(now);
    next_e.decision_reason = body.reason.clone();
    next_e.property = f.property.clone();
    next_e.pinned = f.current.clone();
    next_e.version = e.version + 1;
    let mut next_f = f.clone();
    next_f.pinned = f.current.clone();
    let also = Also {
        items: vec![
            next_e.replace(Some(e.version)),
            history(state, &e, "approved", &actor.email, body.reason.as_deref()),
        ],
        audit: Some(audit("exception.approve", &next_e, body.reason.as_deref())),
    };
    let why = Some(format!("risk accepted until {}", crate::audit::iso8601(e.expires_ms)));
    findings::transition_with(
        state,
        scope.workspace_id(),
        actor,
        scope.request_id(),
        &f,
        next_f,
        FindingStatus::RiskAccepted,
        why,
        also,
    )
    .await?;
    Ok(to_api(&next_e))
}

/// Rejects a requested exception; the finding stays as it is and may be requested again.
pub async fn reject(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::ExceptionDecision,
) -> ServiceResult<api::Exception> {
    let (e, f) = requested(state, scope, id, body, true).await?;
    let actor = scope.actor();
    let mut next_e = e.clone();
    next_e.status = ExceptionStatus::Rejected;
    next_e.decided_by = Some(actor.email.clone());
    next_e.decided_ms = Some(state.clock.now_millis());
    next_e.decision_reason = body.reason.clone();
    next_e.version = e.version + 1;
    let changes = unlink(state, &f, &next_e, &e, "rejected", &actor.email, body.reason.as_deref());
    let ev = audit("exception.reject", &next_e, body.reason.as_deref());
    crate::audit::commit(state, scope, changes, ev)
        .await
        .map_err(conflict_from)?;
    Ok(to_api(&next_e))
}

/// The writes that end a requested exception without a status move of its finding: the
/// exception, its history entry, and the finding no longer naming it (when it still does).
fn unlink(
    state: &AppState,
    f: &FindingRecord,
    next_e: &ExceptionRecord,
    e: &ExceptionRecord,
    kind: &str,
    actor: &str,
    reason: Option<&str>,
) -> Vec<TxItem> {
    let mut changes = vec![next_e.replace(Some(e.version)), history(state, e, kind, actor, reason)];
    if f.exception_id.as_deref() == Some(e.exception_id.as_str()) {
        let mut next_f = f.clone();
        next_f.exception_id = None;
        next_f.version = f.version + 1;
        changes.push(next_f.replace(Some(f.version)));
    }
    changes
}

fn ended(e: &ExceptionRecord, status: ExceptionStatus, by: &str, why: &str, now_ms: i64) -> ExceptionRecord {
    let mut next = e.clone();
    next.status = status;
    next.ended_by = Some(by.to_owned());
    next.ended_ms = Some(now_ms);
    next.end_reason = Some(why.to_owned());
    next.version = e.version + 1;
    next
}

/// Revokes an active exception (`findings.accept_risk`; its finding reopens) or withdraws a
/// requested one (its requester, or a member with `findings.accept_risk`).
pub async fn revoke(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::ExceptionDecision,
) -> ServiceResult<api::Exception> {
    let mut fields = Fields::default();
    check_reason(body.reason.as_deref(), true, &mut fields);
    fields.checked()?;
    let (e, f) = with_finding(state, scope, id).await?;
    let actor = scope.actor();
    let may_decide = scope.can(atlas_domain::Capability::FindingsAcceptRisk);
    let reason = body.reason.as_deref().unwrap_or_default().trim();
    let now = state.clock.now_millis();
    match e.status {
        ExceptionStatus::Active => {
            if !may_decide {
                return Err(ServiceError::Refused(
                    "revoking an accepted risk needs findings.accept_risk".into(),
                ));
            }
            let next_e = ended(&e, ExceptionStatus::Revoked, &actor.email, reason, now);
            let also = Also {
                items: vec![
                    next_e.replace(Some(e.version)),
                    history(state, &e, "revoked", &actor.email, Some(reason)),
                ],
                audit: Some(audit("exception.revoke", &next_e, Some(reason))),
            };
            if f.status != FindingStatus::RiskAccepted || f.exception_id.as_deref() != Some(id) {
                return Err(ServiceError::Conflict(format!(
                    "the finding is {}; reload it and try again",
                    f.status
                )));
            }
            let why = Some(format!("its exception was revoked: {reason}"));
            findings::transition_with(
                state,
                scope.workspace_id(),
                actor,
                scope.request_id(),
                &f,
                f.clone(),
                FindingStatus::Reopened,
                why,
                also,
            )
            .await?;
            Ok(to_api(&next_e))
        }
        ExceptionStatus::Requested => {
            if !may_decide && e.requested_by_user != actor.user_id {
                return Err(ServiceError::Refused(
                    "only its requester or a member with findings.accept_risk may withdraw a request".into(),
                ));
            }
            let next_e = ended(&e, ExceptionStatus::Withdrawn, &actor.email, reason, now);
            let changes = unlink(state, &f, &next_e, &e, "withdrawn", &actor.email, Some(reason));
            let ev = audit("exception.withdraw", &next_e, Some(reason));
            crate::audit::commit(state, scope, changes, ev)
                .await
                .map_err(conflict_from)?;
            Ok(to_api(&next_e))
        }
        other => Err(ServiceError::Conflict(format!("the exception is {other} already"))),
    }
}

/// The writes that end an exception (`from → to`) when it is still `from`, with its history
/// entry; empty otherwise. The caller moves its finding in the same transaction: a detection
/// voids an active one whose accepted value changed, closing a finding withdraws a request.
pub(crate) async fn end_items(
    state: &AppState,
    ws: &WorkspaceId,
    id: &str,
    (from, to): (ExceptionStatus, ExceptionStatus),
    by: &str,
    why: &str,
) -> ServiceResult<Vec<TxItem>> {
    let Some(e) = load(state, ws, id).await? else {
        return Ok(Vec::new());
    };
    if e.status != from {
        return Ok(Vec::new());
    }
    let next = ended(&e, to, by, why, state.clock.now_millis());
    Ok(vec![
        next.replace(Some(e.version)),
        history(state, &e, to.as_str(), by, Some(why)),
    ])
}

// ---------------------------------------------------------------------------------------------
// The tick: expiry warnings, expiries, SLA steps

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub warned: usize,
    pub expired: usize,
    pub sla_steps: usize,
    /// Writes refused because another writer (a second tick, a triage) got there first.
    pub raced: usize,
}

fn exception_alert(state: &AppState, e: &ExceptionRecord, kind: AlertEventType) -> TxItem {
    crate::alerts::event_item(
        state,
        &e.workspace_id,
        NewAlert {
            kind,
            environment_id: Some(e.environment_id.clone()),
            severity: None,
            object: format!("exception/{}", e.exception_id),
            state: format!("{kind}:{}", e.expires_ms),
            title: format!("Risk acceptance of \"{}\"", e.finding_title),
            link: findings::link(&e.workspace_id, &e.finding_id),
            data: json!({
                "finding_id": e.finding_id,
                "expires_ms": e.expires_ms,
                "requested_by": e.requested_by,
                "approved_by": e.decided_by,
            }),
        },
    )
}

/// Warns about exceptions expiring soon, expires those past their date (reopening an accepted
/// finding), and takes the SLA steps of overdue findings. Each change is one conditional
/// transaction, so ticks that overlap do each thing once.
pub async fn sweep(state: &AppState) -> ServiceResult<Swept> {
    let now = state.clock.now_millis();
    let mut out = Swept::default();
    let sys = findings::system();
    let due: Vec<ExceptionRecord> = records::query_all(&state.table, exceptions_due_by(now)).await?;
    for e in due {
        let ws = e.workspace_id.clone();
        let result = if now < e.expires_ms {
            if e.status != ExceptionStatus::Active || e.warned_ms.is_some() {
                continue;
            }
            let mut next = e.clone();
            next.warned_ms = Some(now);
            next.version = e.version + 1;
            let changes = vec![
                next.replace(Some(e.version)),
                history(state, &e, "expiring", &sys.email, None),
                exception_alert(state, &e, AlertEventType::ExceptionExpiring),
            ];
            let done = findings::reported(state, changes).await;
            out.warned += usize::from(done.is_ok());
            done.map_err(ServiceError::from)
        } else {
            let why = "it reached its expiry";
            let next = ended(&e, ExceptionStatus::Expired, &sys.email, why, now);
            let mut writes = vec![
                next.replace(Some(e.version)),
                history(state, &e, "expired", &sys.email, Some(why)),
            ];
            let f: Option<FindingRecord> = records::get(&state.table, &finding_key(&ws, &e.finding_id)).await?;
            let done = match f {
                Some(f) if e.status == ExceptionStatus::Active && f.status == FindingStatus::RiskAccepted => {
                    writes.push(exception_alert(state, &e, AlertEventType::ExceptionExpired));
                    let also = Also {
                        items: writes,
                        audit: Some(audit("exception.expire", &next, Some(why))),
                    };
                    let reopen = Some("its exception expired".to_owned());
                    findings::transition_with(
                        state,
                        &ws,
                        &sys,
                        None,
                        &f,
                        f.clone(),
                        FindingStatus::Reopened,
                        reopen,
                        also,
                    )
                    .await
                    .map(drop)
                }
                Some(f) => {
                    let mut changes = unlink(state, &f, &next, &e, "expired", &sys.email, Some(why));
                    changes.push(exception_alert(state, &e, AlertEventType::ExceptionExpired));
                    findings::reported(state, changes).await.map_err(ServiceError::from)
                }
                None => state.table.transact(writes).await.map_err(ServiceError::from),
            };
            out.expired += usize::from(done.is_ok());
            done
        };
        match result {
            Ok(()) => {}
            Err(ServiceError::Conflict(_)) => out.raced += 1,
            Err(e) => return Err(e),
        }
    }
    let mut policies: BTreeMap<WorkspaceId, GovernancePolicy> = BTreeMap::new();
    let overdue: Vec<FindingRecord> = records::query_all(&state.table, findings_sla_due_by(now)).await?;
    for f in overdue {
        if !f.status.is_open() || f.sla_step >= 2 {
            continue;
        }
        let policy = match policies.get(&f.workspace_id) {
            Some(p) => *p,
            None => {
                let p = policy(state, &f.workspace_id).await?;
                policies.insert(f.workspace_id.clone(), p);
                p
            }
        };
        match sla_step(state, &f, &policy).await {
            Ok(()) => out.sla_steps += 1,
            Err(ServiceError::Conflict(_)) => out.raced += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Reports the finding's next SLA step: at its due date to its owner, `escalate_after_days`
/// later to the environment's managers.
async fn sla_step(state: &AppState, f: &FindingRecord, policy: &GovernancePolicy) -> ServiceResult<()> {
    let step = f.sla_step + 1;
    let escalation = if step == 1 { "owner" } else { "managers" };
    let mut next = f.clone();
    next.sla_step = step;
    next.sla_next_ms = match (step, f.due_ms) {
        (1, Some(due)) => Some(policy.escalate_at_ms(due)),
        _ => None,
    };
    next.version = f.version + 1;
    let mut ev = findings::event(&next, state, "sla_breached", "system");
    ev.reason = Some(format!("past its due date: {escalation} told"));
    let data = json!({
        "escalation": escalation,
        "step": step,
        "owner": f.owner,
        "due_ms": f.due_ms,
    });
    let alert = crate::alerts::event_item(
        state,
        &f.workspace_id,
        NewAlert {
            kind: AlertEventType::FindingSlaBreached,
            environment_id: Some(f.environment_id.clone()),
            severity: Some(f.severity),
            object: format!("finding/{}", f.finding_id),
            state: format!("sla:{}:{step}", f.opened_ms),
            title: f.title.clone(),
            link: findings::link(&f.workspace_id, &f.finding_id),
            data,
        },
    );
    let mut tx = vec![next.replace(Some(f.version)), ev.create(), alert];
    let tallies = crate::records::dashboard::finding_changes(Some(f), &next, state.clock.now_millis());
    crate::records::dashboard::push_merged(&mut tx, tallies);
    findings::reported(state, tx).await.map_err(ServiceError::from)
}
