//! The system console (spec 025, ADR 0047): platform operators search runs across workspaces,
//! export their metadata and drill into a failure. The entitlement is the deployment's
//! (`ATLAS_PLATFORM_OPERATORS`), checked by the guard; every access, allowed or not, is written to
//! the system audit log, a partition no workspace owns.

use atlas_api_types as api;
use atlas_domain::{OperationType, Status, redact};
use serde_json::Value;

use crate::error::{ServiceError, ServiceResult};
use crate::identity::Actor;
use crate::records::runs::{self as run_rec, OperationRun};
use crate::records::system::{self as rec, SystemAuditRecord, SystemRunEntry};
use crate::records::{self, Record};
use crate::scope::PlatformScope;
use crate::state::AppState;

/// The widest search window: a month of days, each one query.
pub const MAX_WINDOW_MS: i64 = 31 * rec::DAY;
/// Without `since`: the last week.
pub const DEFAULT_WINDOW_MS: i64 = 7 * rec::DAY;

fn audit_record(
    state: &AppState,
    actor: &Actor,
    request_id: Option<&str>,
    action: &str,
    target: &str,
    outcome: &str,
) -> SystemAuditRecord {
    SystemAuditRecord {
        event_id: state.ids.next_id(),
        at_ms: state.clock.now_millis(),
        user_id: actor.user_id.clone(),
        email: actor.email.clone(),
        action: action.to_owned(),
        target: target.chars().take(1_024).collect(),
        outcome: outcome.to_owned(),
        request_id: request_id.map(str::to_owned),
    }
}

/// A platform operator's access, written before it is answered: no audit, no answer.
pub async fn record_access(state: &AppState, scope: &PlatformScope, action: &str, target: &str) -> ServiceResult<()> {
    let r = audit_record(state, scope.actor(), scope.request_id(), action, target, "success");
    state.table.transact(vec![r.create()]).await?;
    Ok(())
}

/// A signed-in user who is not a platform operator asked for the console: they get a 404, the
/// log gets the attempt.
pub async fn record_denial(state: &AppState, actor: &Actor, request_id: Option<&str>, action: &str, target: &str) {
    let r = audit_record(state, actor, request_id, action, target, "denied");
    if let Err(e) = state.table.transact(vec![r.create()]).await {
        tracing::error!(error = %e, "could not write a system console denial to the system audit log");
    }
}

/// The search's filters, parsed.
pub struct Search {
    pub status: Option<Status>,
    pub kind: Option<OperationType>,
    pub workspace: Option<String>,
    pub since_ms: i64,
    pub until_ms: i64,
}

impl Search {
    /// `q` answers a query key's value (the route's query map; this layer does not import it).
    pub fn parse<'a>(q: impl Fn(&str) -> Option<&'a str>, now_ms: i64) -> ServiceResult<Self> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(atlas_api_types::FieldError {
                field: format!("query.{field}"),
                message,
            })
        };
        let status = q("status").and_then(|s| {
            let st = Status::parse(s);
            if st.is_none() {
                err(
                    "status",
                    "must be a canonical status such as running, ready or failed".into(),
                );
            }
            st
        });
        let kind = q("type").and_then(|t| {
            let k = OperationType::parse(t);
            if k.is_none() {
                let all: Vec<&str> = OperationType::ALL.iter().map(|o| o.as_str()).collect();
                err("type", format!("must be one of {}", all.join(", ")));
            }
            k
        });
        let workspace = q("workspace").and_then(|w| match atlas_domain::WorkspaceId::parse(w) {
            Ok(w) => Some(w.as_str().to_owned()),
            Err(_) => {
                err("workspace", "is not a workspace id".into());
                None
            }
        });
        let mut time = |k: &str| -> Option<i64> {
            let raw = q(k)?;
            match raw.parse::<i64>().ok().filter(|n| *n >= 0) {
                Some(n) => Some(n),
                None => {
                    err(k, "must be a time in milliseconds since 1970".into());
                    None
                }
            }
        };
        let until_ms = time("until").unwrap_or(now_ms);
        let since_ms = time("since").unwrap_or(until_ms - DEFAULT_WINDOW_MS);
        if since_ms > until_ms {
            err("since", "must not be after until".into());
        } else if until_ms - since_ms > MAX_WINDOW_MS {
            err("since", "a search spans at most 31 days".into());
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        Ok(Self {
            status,
            kind,
            workspace,
            since_ms,
            until_ms,
        })
    }
}

/// `<created ms>.<run id>`: where the next page starts (exclusive).
fn cursor_of(e: &SystemRunEntry) -> String {
    format!("{}.{}", e.created_ms, e.run_id)
}

fn parse_cursor(c: &str) -> ServiceResult<(i64, String)> {
    c.split_once('.')
        .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
        .ok_or_else(|| ServiceError::field("query.cursor", "is not a cursor this search gave"))
}

/// Runs of every workspace, newest first: each day of the window is one query of its index
/// partition (never a scan); type and workspace filter on the entry, status on the run.
pub async fn search(
    state: &AppState,
    s: &Search,
    cursor: Option<&str>,
    limit: usize,
) -> ServiceResult<(Vec<api::OperationRun>, Option<String>)> {
    let mut until = s.until_ms;
    let mut after: Option<String> = None;
    if let Some(c) = cursor {
        let (ms, id) = parse_cursor(c)?;
        until = until.min(ms);
        after = Some(rec::run_entry_sk(ms, &id));
    }
    let mut out = Vec::new();
    let mut day = rec::day_start(until);
    while day >= rec::day_start(s.since_ms) {
        let q = rec::runs_between(day, s.since_ms.max(day), until.min(day + rec::DAY - 1));
        let entries: Vec<SystemRunEntry> = records::query_all(&state.table, q).await?;
        for e in entries {
            if after
                .as_deref()
                .is_some_and(|a| rec::run_entry_sk(e.created_ms, &e.run_id).as_str() >= a)
            {
                continue;
            }
            if s.kind.is_some_and(|k| e.kind != k) || s.workspace.as_ref().is_some_and(|w| *w != e.workspace_id) {
                continue;
            }
            let Some(run) = crate::runs::get(state, &e.run_id).await? else {
                continue;
            };
            if s.status.is_some_and(|st| run.status() != st) {
                continue;
            }
            out.push(run.to_api());
            if out.len() == limit {
                return Ok((out, Some(cursor_of(&e))));
            }
        }
        day -= rec::DAY;
    }
    Ok((out, None))
}

/// A run of any workspace with its errors and step results, secrets redacted.
pub async fn run_detail(state: &AppState, run_id: &str) -> ServiceResult<api::SystemRunDetail> {
    if atlas_domain::RunId::parse(run_id).is_err() {
        return Err(ServiceError::NotFound);
    }
    let run: OperationRun = records::get(&state.table, &run_rec::run_key(run_id))
        .await?
        .ok_or(ServiceError::NotFound)?;
    let run = crate::runs::tallied(state, run).await?;
    let mut items: Vec<api::RunItem> = run_rec::units(&state.table, run_id, false)
        .await?
        .iter()
        .map(api::RunItem::from)
        .collect();
    for i in items.iter_mut() {
        redact::redact(&mut i.detail);
    }
    let mut errors = Vec::new();
    let mut view = run.to_api();
    if let Some(reason) = &view.reason
        && view.status != Status::Ready
    {
        let mut v = Value::String(reason.clone());
        redact::redact(&mut v);
        let reason = v.as_str().unwrap_or_default().to_owned();
        view.reason = Some(reason.clone());
        errors.push(api::SystemRunError {
            item: "run".into(),
            message: reason,
        });
    }
    errors.extend(
        items
            .iter()
            .filter(|i| i.result == "failed")
            .map(|i| api::SystemRunError {
                item: i.item.clone(),
                message: crate::support::error_of(&i.detail),
            }),
    );
    Ok(api::SystemRunDetail {
        run: view,
        errors,
        items,
    })
}

/// The system audit log, newest first: this month and the ones before, a page at a time
/// (`cursor` is the month and position to continue from).
pub async fn audit_log(
    state: &AppState,
    cursor: Option<&str>,
    limit: usize,
) -> ServiceResult<(Vec<api::SystemAuditEvent>, Option<String>)> {
    let now = state.clock.now_millis();
    // Months back from now (at most a year per page walk); the cursor names the item to go past.
    let (mut month_ms, mut after) = match cursor {
        None => (now, None),
        Some(c) => {
            let (ms, id) = parse_cursor(c)?;
            (ms, Some(rec::audit_event_sk(ms, &id)))
        }
    };
    let mut out = Vec::new();
    for _ in 0..12 {
        let mut q = rec::audit_month(month_ms);
        // The cursor's position bounds its own month only; older months are read whole.
        if let Some(a) = after.take() {
            q = q.sk(atlas_store::SkCond::Lt(a));
        }
        let events: Vec<SystemAuditRecord> = records::query_all(&state.table, q).await?;
        for e in events {
            out.push(api::SystemAuditEvent {
                id: e.event_id.clone(),
                at_ms: e.at_ms,
                user_id: e.user_id,
                email: e.email,
                action: e.action,
                target: e.target,
                outcome: e.outcome,
                request_id: e.request_id,
            });
            if out.len() == limit {
                return Ok((out, Some(format!("{}.{}", e.at_ms, e.event_id))));
            }
        }
        // The last millisecond of the month before.
        let first = chrono::DateTime::from_timestamp_millis(month_ms)
            .unwrap_or_default()
            .format("%Y-%m-01T00:00:00Z")
            .to_string();
        month_ms = chrono::DateTime::parse_from_rfc3339(&first)
            .map(|d| d.timestamp_millis() - 1)
            .unwrap_or(0);
    }
    Ok((out, None))
}
