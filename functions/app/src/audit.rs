//! The audit log: append-only events of who did what, where, with what outcome. A state change
//! and its event are written in one transaction (see [`tx_items`]); denials are recorded alone.

use atlas_api_types::AuditEvent;
use atlas_domain::{EnvironmentId, WorkspaceId, redact};
use atlas_store::{Cond, Item, TxItem, Update};
use serde_json::{Value, json};

use crate::error::ServiceResult;
use crate::identity::Actor;
use crate::records::audit::{self as audit_records, AUDIT_END, AUDIT_PREFIX, AuditEventRecord, audit_sk};
use crate::records::tenancy::workspace_key;
use crate::records::{self, Record};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;

/// How an audited action ended: the domain's vocabulary.
pub use atlas_domain::EventOutcome as Outcome;

/// What a handler says about its action; who, where and when come from the scope and clock.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// A stable action code, e.g. `invitation.create`.
    pub action: String,
    /// What was acted on, e.g. `invitation/01j…`.
    pub target: String,
    pub environment_id: Option<EnvironmentId>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub metadata: Value,
}

impl NewEvent {
    pub fn success(action: &str, target: impl Into<String>) -> Self {
        Self {
            action: action.to_owned(),
            target: target.into(),
            environment_id: None,
            outcome: Outcome::Success,
            reason: None,
            metadata: json!({}),
        }
    }
    pub fn env(mut self, env: &EnvironmentId) -> Self {
        self.environment_id = Some(env.clone());
        self
    }
    pub fn meta(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }
}

/// The event's record: who, where and when from the caller, what from `ev`; metadata redacted.
pub fn record(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    ev: NewEvent,
) -> AuditEventRecord {
    let id = state.ids.next_id();
    let mut metadata = ev.metadata;
    redact::redact(&mut metadata);
    AuditEventRecord::new(
        id,
        state.clock.now_millis(),
        ws.clone(),
        actor,
        ev.action,
        ev.target,
        ev.environment_id,
        ev.outcome,
        ev.reason,
        request_id.map(str::to_owned),
        metadata,
    )
}

pub fn item(state: &AppState, ws: &WorkspaceId, actor: &Actor, request_id: Option<&str>, ev: NewEvent) -> Item {
    record(state, ws, actor, request_id, ev).to_item()
}

/// Adds the event and the workspace's last-activity stamp to a transaction. When the change
/// already updates the workspace item (a transaction may touch an item once), the stamp joins it.
pub fn with_event(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    mut changes: Vec<TxItem>,
    ev: NewEvent,
) -> Vec<TxItem> {
    let now = state.clock.now_millis();
    let ws_key = workspace_key(ws);
    let mut stamped = false;
    for c in changes.iter_mut() {
        if let TxItem::Update { key, update, .. } = c
            && *key == ws_key
        {
            update
                .ops
                .push(atlas_store::UpdateOp::Set("last_activity_ms".into(), json!(now)));
            stamped = true;
        }
    }
    if !stamped {
        changes.push(TxItem::Update {
            key: ws_key,
            update: Update::new().set("last_activity_ms", now),
            cond: Some(Cond::Exists),
        });
    }
    changes.push(record(state, ws, actor, request_id, ev).create());
    changes
}

/// Writes `changes` and their audit event atomically; nothing is written if any condition fails.
pub async fn commit(
    state: &AppState,
    scope: &WorkspaceScope,
    changes: Vec<TxItem>,
    ev: NewEvent,
) -> Result<(), atlas_store::TableError> {
    let tx = with_event(
        state,
        scope.workspace_id(),
        scope.actor(),
        scope.request_id(),
        changes,
        ev,
    );
    state.table.transact(tx).await
}

/// Which of the caller's changes (by index) failed its condition, if the transaction was cancelled.
pub fn failed_at(e: &atlas_store::TableError) -> Option<usize> {
    match e {
        atlas_store::TableError::TransactionCanceled { reasons } => reasons.iter().position(Option::is_some),
        _ => None,
    }
}

/// A denial changes nothing, so its event is written alone.
pub async fn record_denial(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    ev: NewEvent,
) -> ServiceResult<()> {
    state
        .table
        .put(item(state, ws, actor, request_id, ev), Some(Cond::NotExists))
        .await?;
    Ok(())
}

/// The event as `reader` may see it, or `None` when it concerns an environment the reader is not
/// entitled to: its own, or one its metadata names under an `…environment_id` key (a restore's
/// source). Environment lists in metadata (`environments` of a grant) keep only the visible ones,
/// as the member list does.
pub fn for_reader(reader: &WorkspaceScope, mut ev: AuditEvent) -> Option<AuditEvent> {
    let entitled = |raw: &str| EnvironmentId::parse(raw).is_ok_and(|e| reader.entitled_to(&e));
    if ev.environment_id.as_deref().is_some_and(|e| !entitled(e)) {
        return None;
    }
    if *reader.entitlement() == Entitlement::All {
        return Some(ev);
    }
    if names_unseen(&ev.metadata, &entitled) {
        return None;
    }
    keep_seen(&mut ev.metadata, &entitled);
    Some(ev)
}

fn names_env(key: &str) -> bool {
    key == "environment_id" || key.ends_with("_environment_id")
}

/// Whether `v` names, under an `…environment_id` key, an environment that is not `entitled`.
/// A value that is no environment id names none.
fn names_unseen(v: &Value, entitled: &dyn Fn(&str) -> bool) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| match v.as_str() {
            Some(id) if names_env(k) => EnvironmentId::parse(id).is_ok() && !entitled(id),
            _ => names_unseen(v, entitled),
        }),
        Value::Array(a) => a.iter().any(|v| names_unseen(v, entitled)),
        _ => false,
    }
}

/// Drops the environments the reader is not `entitled` to from `environments` lists.
fn keep_seen(v: &mut Value, entitled: &dyn Fn(&str) -> bool) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                match v {
                    Value::Array(ids) if k == "environments" => ids.retain(|i| i.as_str().is_some_and(entitled)),
                    v => keep_seen(v, entitled),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| keep_seen(v, entitled)),
        _ => {}
    }
}

/// Hub filters; the environment has been checked against the scope.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub environment: Option<EnvironmentId>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// The smallest id sort key at or after `ms` (ids are ULIDs: time first).
fn bound(ms: i64, high: bool) -> String {
    let u = if high {
        ulid::Ulid::from_parts(ms.max(0) as u64, u128::MAX)
    } else {
        ulid::Ulid::from_parts(ms.max(0) as u64, 0)
    };
    audit_sk(&u.to_string().to_lowercase())
}

/// Newest first. Reads raw pages until `limit` events matched or a read budget is spent; the
/// cursor continues where reading stopped, so filtered pages may be short but never skip.
pub async fn list(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &Filters,
    cursor: Option<String>,
    limit: usize,
) -> ServiceResult<(Vec<AuditEvent>, Option<String>)> {
    let lo = f
        .from_ms
        .map(|ms| bound(ms, false))
        .unwrap_or_else(|| AUDIT_PREFIX.into());
    let hi = f.to_ms.map(|ms| bound(ms, true)).unwrap_or_else(|| AUDIT_END.into());
    let mut q = audit_records::between(scope.workspace_id(), f.environment.as_ref(), lo, hi)
        .backward()
        .limit(100)
        .after(cursor);
    let mut out = Vec::new();
    let mut budget = 20; // pages of 100
    loop {
        let page = records::query::<AuditEventRecord>(&state.table, &q).await?;
        for r in page.items {
            let Some(ev) = for_reader(scope, r.into()) else {
                continue;
            };
            let matches = f
                .actor
                .as_ref()
                .is_none_or(|a| *a == ev.actor_id || *a == ev.actor_email)
                && f.action.as_ref().is_none_or(|a| *a == ev.action)
                && f.outcome.is_none_or(|o| o == ev.outcome);
            if matches {
                out.push(ev);
            }
        }
        budget -= 1;
        match page.next {
            Some(next) if out.len() < limit && budget > 0 => q.cursor = Some(next),
            next => {
                if out.len() > limit {
                    // Stop exactly after the last returned event so nothing is skipped.
                    out.truncate(limit);
                    let last = out.last().expect("non-empty");
                    let key = audit_records::cursor_key(scope.workspace_id(), f.environment.as_ref(), &last.id);
                    return Ok((out, Some(atlas_store::table::encode_cursor(&key))));
                }
                return Ok((out, next));
            }
        }
    }
}

/// One CSV cell: quoted, with quotes doubled, and a leading `'` before anything a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return).
pub fn csv_cell(v: &str) -> String {
    let guarded = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// Unix milliseconds as ISO 8601 UTC with milliseconds (`2026-12-05T10:00:00.000Z`).
pub fn iso8601(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
