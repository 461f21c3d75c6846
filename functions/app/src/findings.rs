//! Findings: one store and one lifecycle for every source (spec 015, "Findings").
//!
//! A detection is identified by its fingerprint (environment + source + object + property): a
//! recurring one updates its finding (`last_seen_ms`, `count`), never opens a second. Every write
//! of a finding is conditional on the `version` it read; a status change goes through
//! [`transition`] only, which also requires the status it moves from and writes the finding, its
//! history entry and the audit event in one transaction. A write that read an older version (a
//! stale triage, a detection racing a triage) is refused by that condition and changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use atlas_api_types as api;
use atlas_domain::alerts::AlertEventType;
use atlas_domain::findings::{ExceptionStatus, FindingSource, FindingStatus, Severity, SlaPolicy, allowed};
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{TableError, TxItem};
use serde_json::{Value, json};

use crate::alerts::NewAlert;
use crate::audit::NewEvent;
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::identity::Actor;
use crate::records::dashboard as rec_dash;
use crate::records::drift::{self as rec, FindingEventRecord, FindingRecord};
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

/// The actor of what the product does by itself (a detection that resolves or reopens).
pub fn system() -> Actor {
    Actor {
        user_id: "system".into(),
        email: "system".into(),
        name: "TenantAtlas".into(),
    }
}

/// One thing a detector sees now.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub environment_id: EnvironmentId,
    pub source: FindingSource,
    /// Identifies the object within the source (drift: `<baseline>/<family>/<object>`).
    pub object_key: String,
    pub property: String,
    pub severity: Severity,
    pub title: String,
    pub family: Option<String>,
    pub object_id: Option<String>,
    pub baseline_object_id: Option<String>,
    pub object_name: String,
    pub kind: Option<atlas_domain::drift::DriftKind>,
    pub desired: Option<Value>,
    pub current: Option<Value>,
    pub matched_by: Option<atlas_domain::drift::MatchedBy>,
    pub baseline_id: Option<String>,
    pub changed_by: Option<String>,
}

impl Detection {
    pub fn fingerprint(&self) -> String {
        atlas_domain::findings::fingerprint(
            self.environment_id.as_str(),
            self.source,
            &self.object_key,
            &self.property,
        )
    }
}

/// Which existing findings a detection pass looked at: those it no longer sees are resolved.
pub struct Coverage<'a> {
    pub environment_id: &'a EnvironmentId,
    pub source: FindingSource,
    /// Only findings of these families (drift evaluates family by family).
    pub family: Option<&'a str>,
    /// Only findings of these baselines (`None`: any).
    pub baselines: Option<&'a BTreeSet<String>>,
    /// Only findings about these objects (their id in the environment or in the baseline): the
    /// change feed's pass over the objects that changed (`None`: any).
    pub objects: Option<&'a BTreeSet<String>>,
}

impl Coverage<'_> {
    fn covers(&self, f: &FindingRecord) -> bool {
        &f.environment_id == self.environment_id
            && f.source == self.source
            && self.family.is_none_or(|fam| f.family.as_deref() == Some(fam))
            && self
                .baselines
                .is_none_or(|b| f.baseline_id.as_ref().is_some_and(|id| b.contains(id)))
            && self.objects.is_none_or(|o| {
                [&f.object_id, &f.baseline_object_id]
                    .into_iter()
                    .any(|id| id.as_ref().is_some_and(|id| o.contains(id)))
            })
    }
}

/// What one detection pass did to the findings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Observed {
    pub opened: usize,
    pub updated: usize,
    pub reopened: usize,
    pub resolved: usize,
    /// Writes refused because another writer changed the finding meanwhile (seen again next pass).
    pub raced: usize,
    /// Baseline objects with an open "changed" finding in the coverage before the pass.
    pub drifted_before: BTreeSet<String>,
}

pub(crate) fn event(f: &FindingRecord, state: &AppState, kind: &str, actor: &str) -> FindingEventRecord {
    FindingEventRecord {
        workspace_id: f.workspace_id.clone(),
        finding_id: f.finding_id.clone(),
        event_id: state.ids.next_id(),
        at_ms: state.clock.now_millis(),
        kind: kind.into(),
        from: None,
        to: None,
        actor: actor.into(),
        reason: None,
        desired: None,
        current: None,
    }
}

/// Every finding of the workspace (the hub filters in memory; findings are few per workspace
/// compared with the objects they are about).
async fn all(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Vec<FindingRecord>> {
    let q = atlas_store::Query::partition(crate::records::keys::ws_pk(ws)).begins_with(rec::FINDINGS);
    Ok(records::query_all(&state.table, q).await?)
}

/// The findings a pass over `coverage` may touch: those it covers and those `ids` name, read
/// through the environment's finding references (ADR 0043). The first pass of an environment
/// without complete references reads the workspace's findings once and writes them.
async fn in_pass_findings(
    state: &AppState,
    ws: &WorkspaceId,
    coverage: &Coverage<'_>,
    ids: &BTreeSet<String>,
) -> ServiceResult<BTreeMap<String, FindingRecord>> {
    let env = coverage.environment_id;
    let rows = state.table.query_all(rec::finding_refs(ws, env)).await?;
    let complete = rows
        .iter()
        .any(|r| r.get("entity").and_then(Value::as_str) == Some(rec::FindingRefsComplete::ENTITY));
    if !complete {
        let mine: Vec<FindingRecord> = all(state, ws)
            .await?
            .into_iter()
            .filter(|f| &f.environment_id == env)
            .collect();
        let mut writes: Vec<TxItem> = mine.iter().map(|f| rec::FindingRef::from(f).put()).collect();
        for page in writes.chunks(crate::backup::PAGE) {
            crate::backup::all_written(state.table.batch(page.to_vec()).await?)?;
        }
        let done = rec::FindingRefsComplete {
            workspace_id: ws.clone(),
            environment_id: env.clone(),
            at_ms: state.clock.now_millis(),
        };
        writes = vec![done.put()];
        crate::backup::all_written(state.table.batch(writes).await?)?;
        return Ok(mine.into_iter().map(|f| (f.finding_id.clone(), f)).collect());
    }
    let mut out = BTreeMap::new();
    for row in rows {
        if row.get("entity").and_then(Value::as_str) != Some(rec::FindingRef::ENTITY) {
            continue;
        }
        let r = rec::FindingRef::from_item(row)?;
        let may_cover = r.source == coverage.source
            && coverage.family.is_none_or(|fam| r.family.as_deref() == Some(fam))
            && coverage
                .baselines
                .is_none_or(|b| r.baseline_id.as_ref().is_some_and(|id| b.contains(id)));
        if !may_cover && !ids.contains(&r.finding_id) {
            continue;
        }
        let key = rec::finding_key(ws, &r.finding_id);
        if let Some(f) = records::get::<FindingRecord>(&state.table, &key).await? {
            out.insert(f.finding_id.clone(), f);
        }
    }
    Ok(out)
}

/// Applies one detection pass: opens, updates or reopens a finding per detection, and resolves
/// the covered open findings it no longer sees.
pub async fn observe(
    state: &AppState,
    ws: &WorkspaceId,
    detections: Vec<Detection>,
    coverage: &Coverage<'_>,
) -> ServiceResult<Observed> {
    let now = state.clock.now_millis();
    let policy = crate::exceptions::policy(state, ws).await?;
    let ids: BTreeSet<String> = detections.iter().map(Detection::fingerprint).collect();
    let existing = in_pass_findings(state, ws, coverage, &ids).await?;
    let mut out = Observed {
        drifted_before: existing
            .values()
            .filter(|f| {
                coverage.covers(f) && f.status.is_open() && f.kind == Some(atlas_domain::drift::DriftKind::Changed)
            })
            .filter_map(|f| f.baseline_object_id.clone())
            .collect(),
        ..Observed::default()
    };
    let mut seen = BTreeSet::new();
    for d in detections {
        let id = d.fingerprint();
        if !seen.insert(id.clone()) {
            continue;
        }
        let result = match existing.get(&id) {
            None => {
                let f = FindingRecord {
                    workspace_id: ws.clone(),
                    environment_id: d.environment_id.clone(),
                    finding_id: id.clone(),
                    source: d.source,
                    status: FindingStatus::New,
                    severity: d.severity,
                    title: d.title.clone(),
                    family: d.family.clone(),
                    object_id: d.object_id.clone(),
                    baseline_object_id: d.baseline_object_id.clone(),
                    object_name: d.object_name.clone(),
                    kind: d.kind,
                    property: d.property.clone(),
                    desired: d.desired.clone(),
                    current: d.current.clone(),
                    matched_by: d.matched_by,
                    baseline_id: d.baseline_id.clone(),
                    first_seen_ms: now,
                    last_seen_ms: now,
                    opened_ms: now,
                    count: 1,
                    owner: None,
                    changed_by: d.changed_by.clone(),
                    exception_id: None,
                    pinned: None,
                    due_ms: policy.sla.due_ms(d.severity, now),
                    sla_next_ms: policy.sla.due_ms(d.severity, now),
                    sla_step: 0,
                    version: 1,
                };
                let mut ev = event(&f, state, "detected", d.changed_by.as_deref().unwrap_or("system"));
                ev.to = Some(FindingStatus::New);
                (ev.desired, ev.current) = (d.desired.clone(), d.current.clone());
                out.opened += 1;
                let alert = alert_item(
                    state,
                    &f,
                    AlertEventType::FindingCreated,
                    json!({"kind": f.kind, "property": f.property}),
                );
                // The environment's reference first, alone: a write, not a transaction's two. It
                // is idempotent, and one left without its finding (a crash or a lost race before
                // the transaction) names nothing a pass reads: the finding's get finds none.
                match crate::audit::transact(state, vec![rec::FindingRef::from(&f).put()]).await {
                    Ok(()) => {
                        let mut tx = vec![f.replace(None), ev.create(), alert];
                        rec_dash::push_merged(&mut tx, rec_dash::finding_changes(None, &f, now));
                        reported(state, tx).await
                    }
                    Err(e) => Err(e),
                }
            }
            Some(f) if f.status == FindingStatus::Resolved => {
                let mut next = seen_again(f, &d, now);
                next.opened_ms = now;
                out.reopened += 1;
                let why = "detected again after it was resolved";
                in_pass(state, ws, f, next, FindingStatus::Reopened, why, Also::default()).await?
            }
            // Watched while accepted: another value than the one accepted reopens it.
            Some(f) if f.status == FindingStatus::RiskAccepted && f.pinned.is_some() && d.current != f.pinned => {
                let next = seen_again(f, &d, now);
                out.reopened += 1;
                let who = d.changed_by.as_deref().unwrap_or("system");
                let why = "changed after its risk was accepted";
                let mut also = Also::default();
                if let Some(id) = &f.exception_id {
                    let void = (ExceptionStatus::Active, ExceptionStatus::Voided);
                    also.items = crate::exceptions::end_items(state, ws, id, void, who, why).await?;
                }
                in_pass(state, ws, f, next, FindingStatus::Reopened, why, also).await?
            }
            Some(f) => {
                let next = seen_again(f, &d, now);
                out.updated += 1;
                if next.desired != f.desired || next.current != f.current {
                    let mut ev = event(&next, state, "redetected", d.changed_by.as_deref().unwrap_or("system"));
                    (ev.desired, ev.current) = (next.desired.clone(), next.current.clone());
                    state
                        .table
                        .transact(vec![next.replace(Some(f.version)), ev.create()])
                        .await
                } else {
                    state.table.transact(vec![next.replace(Some(f.version))]).await
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(TableError::ConditionFailed | TableError::TransactionCanceled { .. }) => out.raced += 1,
            Err(e) => return Err(e.into()),
        }
    }
    for f in existing.values() {
        if seen.contains(&f.finding_id) || !coverage.covers(f) || !f.status.is_open() {
            continue;
        }
        let moved = in_pass(
            state,
            ws,
            f,
            f.clone(),
            FindingStatus::Resolved,
            "no longer detected",
            Also::default(),
        );
        match moved.await? {
            Ok(()) => out.resolved += 1,
            Err(_) => out.raced += 1,
        }
    }
    Ok(out)
}

/// A detection pass moving `f` (as `next`) to `to`: a write another writer got to first is a
/// race (seen again next pass), any other failure the pass's.
async fn in_pass(
    state: &AppState,
    ws: &WorkspaceId,
    f: &FindingRecord,
    next: FindingRecord,
    to: FindingStatus,
    why: &str,
    also: Also,
) -> ServiceResult<Result<(), TableError>> {
    let sys = system();
    let moved = transition_with(state, ws, &sys, None, f, next, to, Some(why.into()), also);
    match moved.await {
        Ok(_) => Ok(Ok(())),
        Err(ServiceError::Conflict(_)) => Ok(Err(TableError::ConditionFailed)),
        Err(e) => Err(e),
    }
}

/// The finding as this detection sees it: the newest values, one more sighting.
fn seen_again(f: &FindingRecord, d: &Detection, now: i64) -> FindingRecord {
    let mut next = f.clone();
    next.last_seen_ms = now;
    next.count = f.count + 1;
    next.desired = d.desired.clone();
    next.current = d.current.clone();
    next.title = d.title.clone();
    next.object_id = d.object_id.clone().or(next.object_id);
    next.object_name = d.object_name.clone();
    next.matched_by = d.matched_by;
    if d.changed_by.is_some() {
        next.changed_by = d.changed_by.clone();
    }
    next
}

/// The one way a finding's status changes: allowed by the table in `atlas-domain`, conditional on
/// the status and version read, and written with its history entry and audit event atomically.
pub async fn transition(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    f: &FindingRecord,
    to: FindingStatus,
    reason: Option<String>,
) -> ServiceResult<FindingRecord> {
    transition_with(state, ws, actor, request_id, f, f.clone(), to, reason, Also::default()).await
}

/// What else a status move writes in its transaction (an exception's change and history), and
/// the audit event that names it when it is not a plain `finding.transition`.
#[derive(Default)]
pub(crate) struct Also {
    pub items: Vec<TxItem>,
    pub audit: Option<NewEvent>,
}

/// [`transition`] with the finding as the caller changed it (`next`) and what else to write.
/// Reopening fixes a new due date from the workspace policy, restarts the SLA steps, drops the
/// ended exception and reports `finding.reopened`; closing withdraws a requested exception.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn transition_with(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    f: &FindingRecord,
    mut next: FindingRecord,
    to: FindingStatus,
    reason: Option<String>,
    also: Also,
) -> ServiceResult<FindingRecord> {
    if !allowed(f.status, to) {
        return Err(ServiceError::Conflict(format!(
            "a finding cannot move from {} to {to}",
            f.status
        )));
    }
    next.status = to;
    next.version = f.version + 1;
    let mut items = Vec::new();
    if to == FindingStatus::Reopened {
        let now = state.clock.now_millis();
        let policy = crate::exceptions::policy(state, ws).await?;
        next.opened_ms = now;
        next.due_ms = policy.sla.due_ms(next.severity, now);
        next.sla_next_ms = next.due_ms;
        next.sla_step = 0;
        next.exception_id = None;
        next.pinned = None;
        let data = json!({"reason": reason, "from": f.status});
        items.push(alert_item(state, &next, AlertEventType::FindingReopened, data));
    } else if !to.is_open() && to != FindingStatus::RiskAccepted {
        if let Some(id) = &f.exception_id {
            let why = format!("the finding was closed as {to}");
            let withdraw = (ExceptionStatus::Requested, ExceptionStatus::Withdrawn);
            items.extend(crate::exceptions::end_items(state, ws, id, withdraw, &actor.email, &why).await?);
        }
        next.exception_id = None;
    }
    let mut ev = event(&next, state, "transition", &actor.email);
    (ev.from, ev.to, ev.reason) = (Some(f.status), Some(to), reason.clone());
    let audit = also.audit.unwrap_or_else(|| {
        NewEvent::success("finding.transition", format!("finding/{}", f.finding_id))
            .env(&f.environment_id)
            .meta(json!({"from": f.status, "to": to, "reason": reason, "title": f.title}))
    });
    let mut changes = vec![next.transition(f.status, f.version), ev.create()];
    changes.extend(items);
    changes.extend(also.items);
    let tallies = rec_dash::finding_changes(Some(f), &next, state.clock.now_millis());
    rec_dash::push_merged(&mut changes, tallies);
    let tx = crate::audit::with_event(state, ws, actor, request_id, changes, audit);
    match reported(state, tx).await {
        Ok(()) => Ok(next),
        Err(e @ TableError::TransactionCanceled { .. }) => {
            let what = if crate::audit::failed_at(&e) == Some(0) {
                "finding"
            } else {
                "exception"
            };
            Err(ServiceError::Conflict(format!(
                "the {what} changed meanwhile; reload it and try again"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Commits `tx`, then dispatches the alert events in it right away (the scheduler's sweep does it
/// otherwise, a tick later).
pub(crate) async fn reported(state: &AppState, tx: Vec<TxItem>) -> Result<(), TableError> {
    crate::audit::transact(state, tx.clone()).await?;
    crate::alerts::dispatch::after_commit(state, &tx).await;
    Ok(())
}

/// The web app's page of a finding (alerts link to it).
pub fn link(ws: &WorkspaceId, finding_id: &str) -> String {
    format!("/workspaces/{ws}/findings/{finding_id}")
}

/// The alert-outbox write reporting `kind` about this finding, deduped per opening.
pub(crate) fn alert_item(state: &AppState, f: &FindingRecord, kind: AlertEventType, data: Value) -> TxItem {
    crate::alerts::event_item(
        state,
        &f.workspace_id,
        NewAlert {
            kind,
            environment_id: Some(f.environment_id.clone()),
            severity: Some(f.severity),
            object: format!("finding/{}", f.finding_id),
            state: format!("{}:{}", f.status, f.opened_ms),
            title: f.title.clone(),
            link: link(&f.workspace_id, &f.finding_id),
            data,
        },
    )
}

/// Sets or clears a finding's owner, with its history entry and audit event.
async fn set_owner(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &FindingRecord,
    owner: Option<String>,
) -> ServiceResult<FindingRecord> {
    let mut next = f.clone();
    next.owner = owner.clone();
    next.version = f.version + 1;
    let mut ev = event(&next, state, "owner", &scope.actor().email);
    ev.reason = Some(match &owner {
        Some(o) => format!("owner set to {o}"),
        None => "owner cleared".into(),
    });
    let audit = NewEvent::success("finding.owner", format!("finding/{}", f.finding_id))
        .env(&f.environment_id)
        .meta(json!({"owner": owner}));
    match crate::audit::commit(state, scope, vec![next.replace(Some(f.version)), ev.create()], audit).await {
        Ok(()) => Ok(next),
        Err(e) if crate::audit::failed_at(&e) == Some(0) => Err(ServiceError::Conflict(
            "the finding changed meanwhile; reload it and try again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub fn to_api(f: &FindingRecord, now_ms: i64) -> api::Finding {
    // Findings opened before due dates were stored get theirs from the default policy.
    let due = f
        .due_ms
        .or_else(|| SlaPolicy::default().due_ms(f.severity, f.opened_ms))
        .filter(|_| f.status.is_open());
    api::Finding {
        id: f.finding_id.clone(),
        environment_id: f.environment_id.to_string(),
        source: f.source,
        state: f.status,
        status: f.status.canonical(),
        severity: f.severity,
        title: f.title.clone(),
        object: f.family.as_ref().map(|family| api::FindingObject {
            family: family.clone(),
            id: f.object_id.clone(),
            baseline_object_id: f.baseline_object_id.clone(),
            name: f.object_name.clone(),
        }),
        kind: f.kind,
        property: f.property.clone(),
        desired: f.desired.clone(),
        current: f.current.clone(),
        matched_by: f.matched_by,
        baseline_id: f.baseline_id.clone(),
        first_seen_ms: f.first_seen_ms,
        last_seen_ms: f.last_seen_ms,
        count: f.count,
        owner: f.owner.clone(),
        due_ms: due,
        overdue: due.is_some_and(|d| now_ms > d),
        changed_by: f.changed_by.clone(),
        version: f.version,
    }
}

/// The hub's filters, as the route parsed them.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub environment_id: Option<EnvironmentId>,
    /// Any of these; `open` in the query stands for every open status.
    pub status: Option<Vec<FindingStatus>>,
    pub severity: Option<Severity>,
    pub source: Option<FindingSource>,
    pub owner: Option<String>,
    pub overdue: Option<bool>,
    pub baseline_id: Option<String>,
    pub search: Option<String>,
}

/// Findings the member may see (their environments only), filtered, most severe and newest first.
pub async fn matching(state: &AppState, scope: &WorkspaceScope, filter: &Filter) -> ServiceResult<Vec<api::Finding>> {
    let now = state.clock.now_millis();
    let search = filter.search.as_ref().map(|s| s.to_lowercase());
    let mut out: Vec<api::Finding> = all(state, scope.workspace_id())
        .await?
        .iter()
        .filter(|f| scope.entitled_to(&f.environment_id))
        .filter(|f| filter.environment_id.as_ref().is_none_or(|e| &f.environment_id == e))
        .filter(|f| filter.status.as_ref().is_none_or(|s| s.contains(&f.status)))
        .filter(|f| filter.severity.is_none_or(|s| f.severity == s))
        .filter(|f| filter.source.is_none_or(|s| f.source == s))
        .filter(|f| {
            filter
                .owner
                .as_ref()
                .is_none_or(|o| f.owner.as_deref() == Some(o.as_str()))
        })
        .filter(|f| {
            filter
                .baseline_id
                .as_ref()
                .is_none_or(|b| f.baseline_id.as_ref() == Some(b))
        })
        .filter(|f| {
            search
                .as_ref()
                .is_none_or(|s| f.title.to_lowercase().contains(s) || f.object_name.to_lowercase().contains(s))
        })
        .map(|f| to_api(f, now))
        .filter(|f| filter.overdue.is_none_or(|o| f.overdue == o))
        .collect();
    out.sort_by(|a, b| {
        (a.severity, std::cmp::Reverse(a.last_seen_ms), &a.id).cmp(&(
            b.severity,
            std::cmp::Reverse(b.last_seen_ms),
            &b.id,
        ))
    });
    Ok(out)
}

/// One page of [`matching`]; the cursor is the offset of the next page.
pub async fn page(
    state: &AppState,
    scope: &WorkspaceScope,
    filter: &Filter,
    cursor: Option<&str>,
    limit: usize,
) -> ServiceResult<api::FindingPage> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| ServiceError::field("query.cursor", "is not a cursor this API returned"))?,
    };
    let all = matching(state, scope, filter).await?;
    let total = all.len() as u64;
    let end = (start + limit).min(all.len());
    let items = all.get(start..end).map(<[_]>::to_vec).unwrap_or_default();
    Ok(api::FindingPage {
        items,
        total,
        next: (end < all.len()).then(|| end.to_string()),
    })
}

pub(crate) async fn visible(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<FindingRecord> {
    let f: FindingRecord = scope
        .records(&state.table)
        .get(rec::finding_sk(id))
        .await?
        .ok_or(ServiceError::NotFound)?;
    if !scope.entitled_to(&f.environment_id) {
        return Err(ServiceError::NotFound);
    }
    Ok(f)
}

/// A finding with its history, oldest first; 404 when it is not in an environment the member sees.
pub async fn detail(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::FindingDetail> {
    let f = visible(state, scope, id).await?;
    let ws = scope.records(&state.table);
    let history: Vec<FindingEventRecord> = records::query_all(&state.table, ws.query(rec::finding_events(id))).await?;
    let filter = crate::exceptions::Filter {
        finding_id: Some(f.finding_id.clone()),
        ..Default::default()
    };
    let exceptions = crate::exceptions::list(state, scope, &filter).await?.items;
    Ok(api::FindingDetail {
        exceptions,
        finding: to_api(&f, state.clock.now_millis()),
        history: history
            .into_iter()
            .map(|e| api::FindingEvent {
                at_ms: e.at_ms,
                kind: e.kind,
                from: e.from,
                to: e.to,
                actor: e.actor,
                reason: e.reason,
                desired: e.desired,
                current: e.current,
            })
            .collect(),
    })
}

/// The statuses a member may move a finding to by triage (risk acceptance is the exceptions
/// workflow's; reopening is the detector's).
const TRIAGE_TO: &[FindingStatus] = &[
    FindingStatus::Acknowledged,
    FindingStatus::InProgress,
    FindingStatus::Resolved,
    FindingStatus::FalsePositive,
];
pub const MAX_TRIAGE: usize = 200;

/// Validates a bulk triage request: what to do, to 1–200 findings.
pub fn check_triage(body: &api::FindingsTriage) -> ServiceResult<()> {
    let mut f = Fields::default();
    if body.ids.is_empty() || body.ids.len() > MAX_TRIAGE {
        f.push("ids", format!("name 1 to {MAX_TRIAGE} findings"));
    }
    if body.state.is_none() && body.owner.is_none() {
        f.push("state", "give a state, an owner, or both");
    }
    if let Some(s) = body.state {
        if !TRIAGE_TO.contains(&s) {
            f.push(
                "state",
                "must be acknowledged, in_progress, resolved or false_positive (risk acceptance is an exception request)",
            );
        }
        let needs_reason = matches!(s, FindingStatus::Resolved | FindingStatus::FalsePositive);
        if needs_reason && body.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            f.push("reason", format!("say why the findings are {s}"));
        }
    }
    if body.reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        f.push("reason", "must be at most 1000 characters");
    }
    if let Some(o) = &body.owner
        && !o.is_empty()
        && (!o.contains('@') || o.len() > 254)
    {
        f.push("owner", "must be a member's email, or empty to clear");
    }
    f.checked()
}

/// Applies one triage to each finding on its own: a finding that cannot move (not found, not
/// allowed from its status, changed meanwhile) says why and the others still move.
pub async fn triage(
    state: &AppState,
    scope: &WorkspaceScope,
    body: &api::FindingsTriage,
) -> ServiceResult<api::TriageResult> {
    check_triage(body)?;
    if let Some(o) = body.owner.as_deref().filter(|o| !o.is_empty()) {
        let mark = crate::records::tenancy::member_email_key(scope.workspace_id(), &o.to_lowercase());
        if state.table.get(&mark).await?.is_none() {
            return Err(ServiceError::field("owner", "is not a member of this workspace"));
        }
    }
    let now = state.clock.now_millis();
    let mut items = Vec::with_capacity(body.ids.len());
    let mut done = BTreeSet::new();
    for id in &body.ids {
        if !done.insert(id.clone()) {
            continue;
        }
        let outcome = triage_one(state, scope, id, body).await;
        items.push(match outcome {
            Ok(f) => api::TriageOutcome {
                id: id.clone(),
                http_status: 200,
                finding: Some(to_api(&f, now)),
                error: None,
            },
            Err(e) => {
                let (status, error) = match e {
                    ServiceError::NotFound => (404, "not found".to_owned()),
                    ServiceError::Conflict(why) => (409, why),
                    other => return Err(other),
                };
                api::TriageOutcome {
                    id: id.clone(),
                    http_status: status,
                    finding: None,
                    error: Some(error),
                }
            }
        });
    }
    Ok(api::TriageResult { items })
}

async fn triage_one(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::FindingsTriage,
) -> ServiceResult<FindingRecord> {
    let mut f = visible(state, scope, id).await?;
    if let Some(to) = body.state
        && to != f.status
    {
        f = transition(
            state,
            scope.workspace_id(),
            scope.actor(),
            scope.request_id(),
            &f,
            to,
            body.reason.clone(),
        )
        .await?;
    }
    if let Some(owner) = &body.owner {
        let owner = (!owner.is_empty()).then(|| owner.to_lowercase());
        if owner != f.owner {
            f = set_owner(state, scope, &f, owner).await?;
        }
    }
    Ok(f)
}

/// Open findings per environment, for the environment cards' needs-attention counts.
pub async fn open_counts(state: &AppState, ws: &WorkspaceId) -> ServiceResult<BTreeMap<EnvironmentId, u64>> {
    let mut out = BTreeMap::new();
    for f in all(state, ws).await? {
        if f.status.is_open() {
            *out.entry(f.environment_id).or_default() += 1;
        }
    }
    Ok(out)
}

/// The hub as CSV (every matching finding; times in ISO 8601 UTC).
pub fn csv(items: &[api::Finding]) -> String {
    let mut out = String::from(
        "id,environment_id,source,status,severity,title,family,object,property,desired,current,first_seen,last_seen,count,owner,due,overdue\r\n",
    );
    for f in items {
        let (family, object) = f
            .object
            .as_ref()
            .map(|o| (o.family.clone(), o.name.clone()))
            .unwrap_or_default();
        let json = |v: &Option<Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        let row = [
            f.id.clone(),
            f.environment_id.clone(),
            f.source.to_string(),
            f.status.to_string(),
            f.severity.to_string(),
            f.title.clone(),
            family,
            object,
            f.property.clone(),
            json(&f.desired),
            json(&f.current),
            iso(f.first_seen_ms),
            iso(f.last_seen_ms),
            f.count.to_string(),
            f.owner.clone().unwrap_or_default(),
            f.due_ms.map(iso).unwrap_or_default(),
            f.overdue.to_string(),
        ];
        let cells: Vec<String> = row.iter().map(|c| crate::audit::csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn iso(ms: i64) -> String {
    crate::audit::iso8601(ms)
}
