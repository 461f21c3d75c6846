//! Promotion from a source environment to a target (spec 022), built on restore: a promotion
//! owns a restore draft in the target whose source is the source's backup set. Plan (the
//! restore preview with the mapping table applied) → dry-run (reads, writes nothing) →
//! approval by a second member → cutover (the target's backup first, then the restore run) →
//! verify (the promoted objects read back and compared) → rollback (a restore of that backup).

pub mod compare;
pub mod mappings;

use std::collections::{BTreeMap, BTreeSet};

use atlas_api_types as api;
use atlas_domain::{BackupSetStatus, RunId, RunOutcome, Status};
use atlas_graph::families::Family;
use atlas_store::TxItem;
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use crate::error::{ServiceError, ServiceResult};
use crate::records::promotion::{self as rec, MappingRecord, PromotionRecord};
use crate::records::restore::{self as rrec, RestoreMappingRecord, RestorePreviewRecord};
use crate::records::runs::OperationRun;
use crate::records::{self, Record};
use crate::restore::plan::{self, References};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

/// A plan waits this long for its approval and cutover (a second person must act).
pub const PLAN_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Where a promotion is; the states an operator can still act on are the first three.
pub mod states {
    pub const PLANNED: &str = "planned";
    pub const APPROVED: &str = "approved";
    pub const BACKING_UP: &str = "backing_up";
    pub const CUTTING_OVER: &str = "cutting_over";
    pub const VERIFIED: &str = "verified";
    pub const DIFFERENCES: &str = "differences";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
}
use states::*;

fn status_of(p: &PromotionRecord, blocked: bool) -> Status {
    match p.state.as_str() {
        PLANNED if blocked => Status::Blocked,
        PLANNED => Status::NeedsAttention,
        APPROVED | VERIFIED => Status::Ready,
        BACKING_UP | CUTTING_OVER => Status::Running,
        DIFFERENCES => Status::NeedsAttention,
        FAILED => Status::Failed,
        EXPIRED => Status::Expired,
        CANCELLED => Status::Historical,
        _ => Status::Unknown,
    }
}

/// The state as of now: an unexpired plan's promotion, or `expired`.
fn current(mut p: PromotionRecord, now: i64) -> PromotionRecord {
    if matches!(p.state.as_str(), PLANNED | APPROVED) && p.plan_expires_ms.is_some_and(|e| now >= e) {
        p.state = EXPIRED.into();
    }
    p
}

async fn load(state: &AppState, ws: &WorkspaceScope, id: &str) -> ServiceResult<PromotionRecord> {
    if RunId::parse(id).is_err() {
        return Err(ServiceError::NotFound);
    }
    let p: PromotionRecord = records::get(&state.table, &rec::promotion_key(ws.workspace_id(), id))
        .await?
        .ok_or(ServiceError::NotFound)?;
    // Both environments must be visible to the actor, or the promotion is not.
    if !ws.entitled_to(&p.source_environment_id) || !ws.entitled_to(&p.target_environment_id) {
        return Err(ServiceError::NotFound);
    }
    Ok(current(p, state.clock.now_millis()))
}

/// The promotion, if it is in one of `states`; else a conflict saying `what` cannot be.
async fn load_in(
    state: &AppState,
    ws: &WorkspaceScope,
    id: &str,
    states: &[&str],
    what: &str,
) -> ServiceResult<PromotionRecord> {
    let p = load(state, ws, id).await?;
    if !states.contains(&p.state.as_str()) {
        return Err(ServiceError::Conflict(format!("this promotion is {}: {what}", p.state)));
    }
    Ok(p)
}

/// Writes `next` over `p` (at the version read) with its audit event; answers it as it is now.
async fn commit(
    state: &AppState,
    ws: &WorkspaceScope,
    p: &PromotionRecord,
    next: &PromotionRecord,
    ev: NewEvent,
) -> ServiceResult<api::Promotion> {
    audit::commit(state, ws, vec![next.write(p.version)], ev).await?;
    get(state, ws, &p.promotion_id).await
}

fn target(ws: &WorkspaceScope, p: &PromotionRecord) -> ServiceResult<EnvScope> {
    ws.environment(&p.target_environment_id).ok_or(ServiceError::NotFound)
}

/// The restore draft's latest preview: the plan.
async fn plan_record(
    state: &AppState,
    scope: &EnvScope,
    p: &PromotionRecord,
) -> ServiceResult<Option<RestorePreviewRecord>> {
    match &p.preview_id {
        Some(preview) => crate::restore::preview(state, scope, &p.restore_id, preview).await,
        None => Ok(None),
    }
}

async fn run_api(state: &AppState, id: &Option<String>) -> ServiceResult<Option<api::OperationRun>> {
    match id {
        Some(id) => Ok(crate::runs::get(state, id).await?.map(|r| crate::runs::to_api(&r))),
        None => Ok(None),
    }
}

pub async fn to_api(state: &AppState, ws: &WorkspaceScope, p: &PromotionRecord) -> ServiceResult<api::Promotion> {
    let scope = target(ws, p)?;
    let plan = plan_record(state, &scope, p).await?;
    let blocked = plan.as_ref().is_some_and(|r| !r.plan.blockers.is_empty());
    let source_scope = scope.sibling(p.source_environment_id.clone());
    let name = |r: crate::records::tenancy::EnvironmentRecord| r.display_name;
    Ok(api::Promotion {
        id: p.promotion_id.clone(),
        source_environment_id: p.source_environment_id.to_string(),
        source_environment_name: name(crate::tenancy::environment_record(state, &source_scope).await?),
        target_environment_id: p.target_environment_id.to_string(),
        target_environment_name: name(crate::tenancy::environment_record(state, &scope).await?),
        backup_set_id: p.backup_set_id.clone(),
        items: p.items.clone(),
        include_assignments: p.include_assignments,
        state: p.state.clone(),
        status: status_of(p, blocked),
        reason: p.reason.clone(),
        created_by_email: p.created_by_email.clone(),
        created_ms: p.created_ms,
        plan: plan.as_ref().map(api::RestorePreview::from),
        plan_fingerprint: p.plan_fingerprint.clone(),
        plan_expires_ms: p.plan_expires_ms,
        dry_run: p.dry_run.clone().and_then(|d| serde_json::from_value(d).ok()),
        approved_by_email: p.approved_by_email.clone(),
        approved_ms: p.approved_ms,
        pre_backup_run: run_api(state, &p.pre_backup_run).await?,
        pre_backup_set_id: p.pre_backup_run.clone(),
        cutover_run: run_api(state, &p.cutover_run).await?,
        restore_id: p.restore_id.clone(),
        verify: p.verify.clone().and_then(|v| serde_json::from_value(v).ok()),
        rollback_restore_id: p.rollback_restore_id.clone(),
    })
}

/// The promotions of the workspace whose two environments the actor sees, newest first.
pub async fn list(state: &AppState, ws: &WorkspaceScope) -> ServiceResult<api::PromotionList> {
    let all: Vec<PromotionRecord> = records::query_all(&state.table, rec::promotions_of(ws.workspace_id())).await?;
    let now = state.clock.now_millis();
    let mut items = Vec::new();
    for p in all
        .into_iter()
        .filter(|p| ws.entitled_to(&p.source_environment_id) && ws.entitled_to(&p.target_environment_id))
    {
        items.push(to_api(state, ws, &current(p, now)).await?);
    }
    Ok(api::PromotionList { items })
}

pub async fn get(state: &AppState, ws: &WorkspaceScope, id: &str) -> ServiceResult<api::Promotion> {
    let p = load(state, ws, id).await?;
    to_api(state, ws, &p).await
}

/// The newest complete backup set of an environment.
async fn newest_complete_set(state: &AppState, scope: &EnvScope) -> ServiceResult<String> {
    crate::backup::sets(state, scope)
        .await?
        .into_iter()
        .find(|s| s.state == BackupSetStatus::Complete)
        .map(|s| s.id)
        .ok_or_else(|| {
            ServiceError::field(
                "backup_set_id",
                "the source environment has no complete backup set: back it up first, or name a set",
            )
        })
}

/// `POST …/promotions`: the restore draft, the promotion, and its first plan.
pub async fn create(
    state: &AppState,
    ws: &WorkspaceScope,
    body: api::PromotionCreate,
) -> ServiceResult<api::Promotion> {
    let (source, target) = mappings::pair(state, ws, &body.source_environment_id, &body.target_environment_id).await?;
    let set = match &body.backup_set_id {
        Some(s) => s.clone(),
        None => newest_complete_set(state, &source).await?,
    };
    let draft = crate::restore::flow::create(
        state,
        &target,
        api::RestoreCreate {
            backup_set_id: set.clone(),
            source_environment_id: Some(source.environment_id().to_string()),
            items: body.items.clone(),
            include_assignments: body.include_assignments,
            accept_partial: Some(false),
        },
    )
    .await?;
    let id = state.ids.next_id();
    let p = PromotionRecord {
        workspace_id: ws.workspace_id().clone(),
        promotion_id: id.clone(),
        source_environment_id: source.environment_id().clone(),
        target_environment_id: target.environment_id().clone(),
        backup_set_id: set,
        items: draft.items.clone(),
        include_assignments: draft.include_assignments,
        restore_id: draft.restore_id.clone(),
        state: PLANNED.into(),
        reason: None,
        created_by: ws.actor().user_id.clone(),
        created_by_email: ws.actor().email.clone(),
        created_ms: state.clock.now_millis(),
        preview_id: None,
        plan_fingerprint: None,
        plan_expires_ms: None,
        plan_digest: None,
        dry_run: None,
        approved_by: None,
        approved_by_email: None,
        approved_ms: None,
        pre_backup_run: None,
        cutover_run: None,
        verify: None,
        rollback_restore_id: None,
        version: 0,
    };
    let ev = NewEvent::success("promotion.create", format!("promotion/{id}"))
        .env(target.environment_id())
        .meta(json!({"source_environment_id": source.environment_id().as_str(), "restore_id": draft.restore_id, "items": p.items.len()}));
    audit::commit(state, ws, vec![p.create()], ev).await?;
    replan(state, ws, &id).await
}

/// The mapping table as the restore planner takes it.
fn references(rows: &[MappingRecord]) -> (BTreeMap<String, Option<String>>, References) {
    let mut groups = BTreeMap::new();
    let mut refs = References::default();
    for r in rows {
        let (from, to) = (r.source_id.clone(), r.target_id.clone());
        match r.kind.as_str() {
            "group" => {
                groups.insert(from, Some(to));
            }
            "filter" => {
                refs.filters.insert(from, to);
            }
            "scope_tag" => {
                refs.scope_tags.insert(from, to);
            }
            "object" => {}
            _ => {
                refs.ids.insert(from, to);
            }
        }
    }
    (groups, refs)
}

/// What a plan read of the target and decided, without its ids and times: equal digests mean
/// nothing changed in between.
fn digest(p: &rrec::Plan) -> String {
    crate::backup::content_hash(&json!({
        "items": p.items.iter().map(|i| json!([i.key, i.action, i.target_id, i.live_hash, i.hash, i.assign, i.scope_tags, i.ids])).collect::<Vec<_>>(),
        "groups": p.groups.iter().map(|g| json!([g.source_group_id, g.target_group_id, g.resolution])).collect::<Vec<_>>(),
        "blockers": p.blockers,
    }))
}

/// A fresh plan of the promotion's draft with the current mapping table (not stored). The
/// groups the table maps must be assigned by the chosen items; others are left out.
async fn fresh_plan(
    state: &AppState,
    ws: &WorkspaceScope,
    scope: &EnvScope,
    p: &PromotionRecord,
) -> ServiceResult<RestorePreviewRecord> {
    let draft = crate::restore::flow::load(state, scope, &p.restore_id).await?;
    let rows = mappings::rows(state, ws, &p.source_environment_id, &p.target_environment_id).await?;
    let (mut groups, refs) = references(&rows);
    // Only the groups the items use may be named to the planner.
    let source = crate::restore::source_scope(scope, &draft);
    let mut used = BTreeSet::new();
    for (_, _, _, hash) in crate::restore::chosen_items(state, &source, &draft).await? {
        let payload = crate::restore::payload(state, &source, &hash).await?;
        for (kind, id) in mappings::references(&payload) {
            if kind == "group" {
                used.insert(id);
            }
        }
    }
    groups.retain(|g, _| used.contains(g));
    Ok(plan::preview_with(state, scope, &draft, &groups, &refs).await?.record)
}

/// `POST …/promotions/{p}/plan`: plans again (a changed mapping table, a changed target); any
/// approval and dry-run of the old plan are void.
pub async fn replan(state: &AppState, ws: &WorkspaceScope, id: &str) -> ServiceResult<api::Promotion> {
    let p = load_in(
        state,
        ws,
        id,
        &[PLANNED, APPROVED, EXPIRED],
        "it cannot be planned again",
    )
    .await?;
    let scope = target(ws, &p)?;
    let preview = fresh_plan(state, ws, &scope, &p).await?;
    let draft = crate::restore::flow::load(state, &scope, &p.restore_id).await?;
    let mut next = p.clone();
    next.state = PLANNED.into();
    next.reason = None;
    next.preview_id = Some(preview.preview_id.clone());
    next.plan_fingerprint = Some(preview.plan.fingerprint.clone());
    next.plan_expires_ms = Some(state.clock.now_millis() + PLAN_TTL_MS);
    next.plan_digest = Some(digest(&preview.plan));
    next.dry_run = None;
    next.approved_by = None;
    next.approved_by_email = None;
    next.approved_ms = None;
    let changes = vec![
        preview.create(),
        TxItem::Update {
            key: draft.key(),
            update: rrec::previewed(&preview.preview_id),
            cond: Some(rrec::while_open()),
        },
        next.write(p.version),
    ];
    let ev = NewEvent::success("promotion.plan", format!("promotion/{id}"))
        .env(scope.environment_id())
        .meta(json!({"preview_id": preview.preview_id, "summary": preview.plan.summary, "blockers": preview.plan.blockers}));
    audit::commit(state, ws, changes, ev).await?;
    get(state, ws, id).await
}

fn check(code: &str, status: Status, message: impl Into<String>) -> api::DryRunCheck {
    api::DryRunCheck {
        code: code.into(),
        status,
        message: message.into(),
    }
}

fn worst(checks: &[api::DryRunCheck]) -> Status {
    let rank = |s: Status| match s {
        Status::Blocked => 2,
        Status::NeedsAttention => 1,
        _ => 0,
    };
    checks
        .iter()
        .map(|c| c.status)
        .max_by_key(|s| rank(*s))
        .filter(|s| rank(*s) > 0)
        .unwrap_or(Status::Ready)
}

/// `POST …/promotions/{p}/dry-run`: everything cutover would check, against the target as it is
/// now, without writing to it.
pub async fn dry_run(state: &AppState, ws: &WorkspaceScope, id: &str) -> ServiceResult<api::Promotion> {
    let p = load_in(state, ws, id, &[PLANNED, APPROVED], "there is nothing to dry-run").await?;
    let scope = target(ws, &p)?;
    let draft = crate::restore::flow::load(state, &scope, &p.restore_id).await?;
    let mut checks = Vec::new();
    let readiness = crate::restore::readiness(state, &scope, &draft).await?;
    for c in &readiness.checks {
        let code = match c.code.as_str() {
            "approval" => "multi_admin_approval",
            "permission" | "provider" => "permissions",
            _ => "readiness",
        };
        if c.status != Status::Ready {
            checks.push(check(code, c.status, c.message.clone()));
        }
    }
    match fresh_plan(state, ws, &scope, &p).await {
        Ok(fresh) => {
            let (refs, others): (Vec<&String>, Vec<&String>) = fresh
                .plan
                .blockers
                .iter()
                .partition(|b| b.contains("no match in the target") || b.contains("names no"));
            for b in refs {
                checks.push(check("references", Status::Blocked, b.clone()));
            }
            for b in others {
                checks.push(check("conflicts", Status::Blocked, b.clone()));
            }
            if p.plan_digest.as_deref() != Some(digest(&fresh.plan).as_str()) {
                let changed: Vec<String> = match plan_record(state, &scope, &p).await? {
                    Some(old) => fresh
                        .plan
                        .items
                        .iter()
                        .filter(|n| {
                            !old.plan.items.iter().any(|o| {
                                o.key == n.key
                                    && o.live_hash == n.live_hash
                                    && o.target_id == n.target_id
                                    && o.action == n.action
                            })
                        })
                        .map(|n| n.name.clone())
                        .collect(),
                    None => vec![],
                };
                let what = if changed.is_empty() {
                    "the references or blockers".to_owned()
                } else {
                    changed.join(", ")
                };
                checks.push(check(
                    "changed_since_plan",
                    Status::Blocked,
                    format!("The target changed since the plan ({what}): plan again."),
                ));
            }
        }
        Err(ServiceError::Invalid(fields)) => {
            for f in fields {
                checks.push(check(
                    "references",
                    Status::Blocked,
                    format!("{}: {}", f.field, f.message),
                ));
            }
        }
        Err(ServiceError::Conflict(why)) => checks.push(check("readiness", Status::Blocked, why)),
        Err(e) => return Err(e),
    }
    if checks.is_empty() {
        checks.push(check(
            "references",
            Status::Ready,
            "Every mapped reference exists in the target; nothing changed since the plan.",
        ));
    }
    let dry = api::DryRun {
        ran_ms: state.clock.now_millis(),
        status: worst(&checks),
        checks,
        writes: 0,
    };
    let mut next = p.clone();
    next.dry_run = Some(serde_json::to_value(&dry).map_err(|e| ServiceError::Permanent(e.to_string()))?);
    let ev = NewEvent::success("promotion.dry_run", format!("promotion/{id}"))
        .env(scope.environment_id())
        .meta(json!({"status": dry.status, "checks": dry.checks.len()}));
    commit(state, ws, &p, &next, ev).await
}

/// A refusal: a denied audit event, and the error.
async fn deny(state: &AppState, ws: &WorkspaceScope, action: &str, id: &str, err: ServiceError) -> ServiceError {
    let reason = match &err {
        ServiceError::Refused(w) | ServiceError::Conflict(w) => w.clone(),
        other => other.to_string(),
    };
    let ev = NewEvent {
        action: action.into(),
        target: format!("promotion/{id}"),
        environment_id: None,
        outcome: Outcome::Denied,
        reason: Some(reason),
        metadata: json!({}),
    };
    match audit::record_denial(state, ws.workspace_id(), ws.actor(), ws.request_id(), ev).await {
        Ok(()) => err,
        Err(e) => e,
    }
}

fn bound(p: &PromotionRecord, body: &api::PromotionDecision) -> ServiceResult<()> {
    if p.state == EXPIRED {
        return Err(ServiceError::Conflict("The plan expired: plan again.".into()));
    }
    if p.plan_fingerprint.as_deref() != Some(body.plan_fingerprint.as_str()) {
        return Err(ServiceError::Conflict(
            "The fingerprint does not match the promotion's plan: review the current plan.".into(),
        ));
    }
    Ok(())
}

/// `POST …/promotions/{p}/approve`: a second member approves the plan they saw.
pub async fn approve(
    state: &AppState,
    ws: &WorkspaceScope,
    id: &str,
    body: &api::PromotionDecision,
) -> ServiceResult<api::Promotion> {
    let p = load(state, ws, id).await?;
    let why = (|| {
        if p.created_by == ws.actor().user_id {
            return Err(ServiceError::Refused(
                "The member who planned a promotion cannot approve it: a second member must.".into(),
            ));
        }
        if p.state != PLANNED && p.state != EXPIRED {
            return Err(ServiceError::Conflict(format!(
                "this promotion is {}: there is nothing to approve",
                p.state
            )));
        }
        bound(&p, body)?;
        let dry: Option<api::DryRun> = p.dry_run.clone().and_then(|d| serde_json::from_value(d).ok());
        match dry {
            None => Err(ServiceError::Conflict(
                "Run the dry-run first: approval follows a dry-run.".into(),
            )),
            Some(d) if d.status == Status::Blocked => Err(ServiceError::Conflict(
                "The dry-run is Blocked: resolve its checks and plan again.".into(),
            )),
            Some(_) => Ok(()),
        }
    })();
    if let Err(e) = why {
        return Err(deny(state, ws, "promotion.approve", id, e).await);
    }
    let mut next = p.clone();
    next.state = APPROVED.into();
    next.approved_by = Some(ws.actor().user_id.clone());
    next.approved_by_email = Some(ws.actor().email.clone());
    next.approved_ms = Some(state.clock.now_millis());
    let ev = NewEvent::success("promotion.approve", format!("promotion/{id}"))
        .env(&p.target_environment_id)
        .meta(json!({"plan_fingerprint": body.plan_fingerprint}));
    commit(state, ws, &p, &next, ev).await
}

/// The families a plan writes.
fn families_of(p: &PromotionRecord) -> Vec<String> {
    let set: BTreeSet<String> = p
        .items
        .iter()
        .filter_map(|k| k.split_once('/').map(|(f, _)| f.to_owned()))
        .filter(|f| Family::by_code(f).is_some())
        .collect();
    set.into_iter().collect()
}

/// `POST …/promotions/{p}/cutover`: the target's backup starts now; the restore follows once it
/// is complete ([`after_pre_backup`]).
pub async fn cutover(
    state: &AppState,
    ws: &WorkspaceScope,
    id: &str,
    body: &api::PromotionDecision,
) -> ServiceResult<api::Promotion> {
    let p = load(state, ws, id).await?;
    let scope = target(ws, &p)?;
    let env = crate::tenancy::environment_record(state, &scope).await?;
    let why = (|| {
        if p.state != APPROVED && p.state != EXPIRED {
            return Err(ServiceError::Conflict(format!(
                "this promotion is {}: only an approved plan is cut over",
                p.state
            )));
        }
        bound(&p, body)?;
        if body.confirm.as_deref().map(str::trim) != Some(env.display_name.as_str()) {
            return Err(ServiceError::Conflict(format!(
                "The typed name does not match the target environment's name ({}).",
                env.display_name
            )));
        }
        Ok(())
    })();
    if let Err(e) = why {
        return Err(deny(state, ws, "promotion.cutover", id, e).await);
    }
    let mut next = p.clone();
    next.state = BACKING_UP.into();
    let ev = NewEvent::success("promotion.cutover", format!("promotion/{id}"))
        .env(scope.environment_id())
        .meta(json!({"plan_fingerprint": body.plan_fingerprint}));
    let mut start = crate::backup::capture_start_for_promotion(state, &scope, &families_of(&p), id);
    next.pre_backup_run = Some(start.id.clone());
    let event = audit::item(state, ws.workspace_id(), ws.actor(), ws.request_id(), ev);
    start.also.push(next.write(p.version));
    start.also.push(TxItem::Put {
        item: event,
        cond: Some(atlas_store::Cond::NotExists),
    });
    start.conflict = "the promotion changed meanwhile".into();
    let started = crate::runs::start_with(state, &scope, start).await?;
    if !started.created {
        return Err(ServiceError::Conflict(format!(
            "A backup of the target is running (run {}): cut over when it has ended.",
            started.run.run_id
        )));
    }
    get(state, ws, id).await
}

/// Ends a promotion that cannot go on (only from `from`; a redelivery finds it moved on).
async fn end(state: &AppState, p: &PromotionRecord, from: &str, to: &str, reason: Option<String>) -> ServiceResult<()> {
    if p.state != from {
        return Ok(());
    }
    let mut next = p.clone();
    next.state = to.into();
    next.reason = reason;
    match state.table.transact(vec![next.write(p.version)]).await {
        Ok(()) | Err(atlas_store::TableError::TransactionCanceled { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn by_id(state: &AppState, scope: &EnvScope, id: &str) -> ServiceResult<Option<PromotionRecord>> {
    Ok(records::get(&state.table, &rec::promotion_key(scope.workspace().workspace_id(), id)).await?)
}

/// The target's backup ended: a complete one lets the cutover write (after re-reading the plan:
/// a target changed since the plan stops it), anything else ends the promotion before a write.
/// `scope` is the cutover initiator's, re-checked by the restore run when it executes.
pub async fn after_pre_backup(state: &AppState, scope: &EnvScope, id: &str, run: &OperationRun) -> ServiceResult<()> {
    let Some(p) = by_id(state, scope, id).await? else {
        return Ok(());
    };
    if p.state != BACKING_UP || p.pre_backup_run.as_deref() != Some(run.run_id.as_str()) {
        return Ok(());
    }
    if run.outcome != Some(RunOutcome::Succeeded) {
        let why = format!(
            "The target's backup before cutover did not complete ({}): nothing was written.",
            run.outcome.map(|o| o.as_str()).unwrap_or("unknown")
        );
        return end(state, &p, BACKING_UP, FAILED, Some(why)).await;
    }
    let ws = scope.workspace();
    let fresh = match fresh_plan(state, ws, scope, &p).await {
        Ok(f) => f,
        Err(e) => {
            let why = format!(
                "The plan could not be read again before writing: {}",
                crate::restore::message(e)
            );
            return end(state, &p, BACKING_UP, FAILED, Some(why)).await;
        }
    };
    if p.plan_digest.as_deref() != Some(digest(&fresh.plan).as_str()) {
        let why = "The target changed since the plan was approved: nothing was written. Plan again.".to_owned();
        return end(state, &p, BACKING_UP, FAILED, Some(why)).await;
    }
    let draft = crate::restore::flow::load(state, scope, &p.restore_id).await?;
    let changes = vec![
        fresh.create(),
        TxItem::Update {
            key: draft.key(),
            update: rrec::previewed(&fresh.preview_id),
            cond: Some(rrec::while_open()),
        },
    ];
    state.table.transact(changes).await?;
    let env = crate::tenancy::environment_record(state, scope).await?;
    let confirm = api::RestoreConfirm {
        preview_id: fresh.preview_id.clone(),
        fingerprint: fresh.plan.fingerprint.clone(),
        confirm: env.display_name,
    };
    match crate::restore::flow::confirm(state, scope, &p.restore_id, &confirm).await {
        Ok(run) => {
            let mut next = p.clone();
            next.state = CUTTING_OVER.into();
            next.cutover_run = Some(run.run_id.clone());
            state.table.transact(vec![next.write(p.version)]).await?;
            Ok(())
        }
        Err(e) => {
            let why = format!("The cutover was refused: {}", crate::restore::message(e));
            end(state, &p, BACKING_UP, FAILED, Some(why)).await
        }
    }
}

/// The cutover's restore run ended: every promoted object is read back from the target and
/// compared with what the plan wrote.
pub async fn after_cutover(state: &AppState, run_id: &str) -> ServiceResult<()> {
    let Some(run) = crate::runs::get_plain(state, run_id).await? else {
        return Ok(());
    };
    // Called after every unit: only the run's end verifies.
    if run.status != atlas_domain::RunState::Completed {
        return Ok(());
    }
    let Some(scope) = crate::runs::scope_of(state, &run).await? else {
        return Ok(());
    };
    let ws = scope.workspace();
    let all: Vec<PromotionRecord> = records::query_all(&state.table, rec::promotions_of(ws.workspace_id())).await?;
    let Some(p) = all
        .into_iter()
        .find(|p| p.state == CUTTING_OVER && p.cutover_run.as_deref() == Some(run_id))
    else {
        return Ok(());
    };
    let verify = verify(state, &scope, &p).await;
    let mut next = p.clone();
    match verify {
        Ok(v) => {
            let clean = v.differences == 0 && run.outcome == Some(RunOutcome::Succeeded);
            next.state = if clean { VERIFIED } else { DIFFERENCES }.into();
            next.reason = (run.outcome != Some(RunOutcome::Succeeded)).then(|| {
                format!(
                    "The cutover run ended {}: see its items.",
                    run.outcome.map(|o| o.as_str()).unwrap_or("unknown")
                )
            });
            next.verify = Some(serde_json::to_value(&v).map_err(|e| ServiceError::Permanent(e.to_string()))?);
        }
        Err(e) => {
            next.state = DIFFERENCES.into();
            next.reason = Some(format!(
                "The promoted objects could not be read back: {}",
                crate::restore::message(e)
            ));
        }
    }
    match state.table.transact(vec![next.write(p.version)]).await {
        Ok(()) | Err(atlas_store::TableError::TransactionCanceled { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Reads every promoted object from the target and compares it with the plan's desired state
/// (the source payload, references mapped, the planned assignments).
async fn verify(state: &AppState, scope: &EnvScope, p: &PromotionRecord) -> ServiceResult<api::PromotionVerify> {
    let Some(plan) = plan_record(state, scope, p).await? else {
        return Err(ServiceError::Conflict("the plan is gone".into()));
    };
    let draft = crate::restore::flow::load(state, scope, &p.restore_id).await?;
    let source = crate::restore::source_scope(scope, &draft);
    let client = plan::target_client(state, scope).await?;
    let mut reader = plan::LiveReader::new(
        state,
        scope,
        &client,
        p.source_environment_id.as_str(),
        p.include_assignments,
    )
    .await?;
    let names = crate::drift::names(state, &scope.pk()).await?;
    let t = compare::Translation::new(names.clone(), names, &[]);
    // Filters and scope tags this cutover created: the plan names them by their source ids
    // (the units wrote the new ids), so the desired state takes the new ids too.
    let (mut filters, mut tags) = (BTreeMap::new(), BTreeMap::new());
    let recorded: Vec<RestoreMappingRecord> = records::query_all(
        &state.table,
        scope
            .records(&state.table)
            .query(rrec::mappings_of(&p.source_environment_id)),
    )
    .await?;
    for m in &recorded {
        match m.mapped(&p.source_environment_id).and_then(|k| k.split_once('#')) {
            Some(("assignmentFilters", id)) => filters.insert(id.to_owned(), m.target_id.clone()),
            Some(("roleScopeTags", id)) => tags.insert(id.to_owned(), m.target_id.clone()),
            _ => None,
        };
    }
    let mut objects = Vec::new();
    let mut differences = 0;
    for item in &plan.plan.items {
        let Some(family) = Family::by_code(&item.family) else {
            continue;
        };
        let payload = crate::restore::payload(state, &source, &item.hash).await?;
        let desired = plan::with_scope_tags(&compare::replace_ids(&payload, &item.ids), &item.scope_tags);
        let mut desired = plan::with_scope_tags(&desired, &tags);
        if let Value::Object(m) = &mut desired {
            match &item.assign {
                Some(a) => m.insert(
                    "assignments".into(),
                    compare::replace_ids(&Value::Array(a.clone()), &filters),
                ),
                None => m.remove("assignments"),
            };
        }
        let want = compare::Obj {
            family: item.family.clone(),
            id: item.source_id.clone(),
            name: item.name.clone(),
            payload: desired,
        };
        let live = reader.find(family, &item.source_id, &item.name).await?;
        let have: Vec<compare::Obj> = live
            .object
            .map(|mut o| {
                // Assignments as the planner writes them: target and settings, no service ids.
                if let Some(a) = o.get_mut("assignments").and_then(Value::as_array_mut) {
                    *a = a
                        .iter()
                        .filter_map(crate::restore::graph_ops::clean_assignment)
                        .collect();
                }
                compare::Obj {
                    family: item.family.clone(),
                    id: live.target_id.clone().unwrap_or_default(),
                    name: item.name.clone(),
                    payload: o,
                }
            })
            .into_iter()
            .collect();
        let c = compare::compare_objects(std::slice::from_ref(&want), &have, false, &t, &[]);
        for o in c.objects.into_iter().filter(|o| o.result != "same") {
            differences += 1;
            objects.push(o);
        }
    }
    Ok(api::PromotionVerify {
        verified_ms: state.clock.now_millis(),
        compared: plan.plan.items.len() as u64,
        differences,
        objects,
    })
}

/// `POST …/promotions/{p}/rollback`: drafts a restore of the target's pre-cutover backup for
/// the objects the promotion updated; it is previewed and confirmed like any restore.
pub async fn rollback(
    state: &AppState,
    ws: &WorkspaceScope,
    id: &str,
    body: &api::PromotionDecision,
) -> ServiceResult<api::Promotion> {
    let p = load(state, ws, id).await?;
    let scope = target(ws, &p)?;
    if !matches!(p.state.as_str(), VERIFIED | DIFFERENCES | FAILED) || p.cutover_run.is_none() {
        return Err(ServiceError::Conflict(format!(
            "this promotion is {}: only a cutover that ran can be rolled back",
            p.state
        )));
    }
    if p.plan_fingerprint.as_deref() != Some(body.plan_fingerprint.as_str()) {
        return Err(ServiceError::Conflict(
            "The fingerprint does not match the promotion's plan.".into(),
        ));
    }
    if p.rollback_restore_id.is_some() {
        return get(state, ws, id).await;
    }
    let set = p
        .pre_backup_run
        .clone()
        .ok_or_else(|| ServiceError::Conflict("there is no backup from before the cutover".into()))?;
    let plan = plan_record(state, &scope, &p)
        .await?
        .ok_or_else(|| ServiceError::Conflict("the plan is gone".into()))?;
    let updated: Vec<String> = plan
        .plan
        .items
        .iter()
        .filter(|i| i.action == "update")
        .filter_map(|i| i.target_id.as_ref().map(|t| format!("{}/{t}", i.family)))
        .collect();
    let created: Vec<&str> = plan
        .plan
        .items
        .iter()
        .filter(|i| i.action == "create")
        .map(|i| i.name.as_str())
        .collect();
    if updated.is_empty() {
        return Err(ServiceError::Conflict(format!(
            "The promotion updated no existing object, so there is nothing to restore; it created {}: delete them in the target if they must go.",
            created.join(", ")
        )));
    }
    let draft = crate::restore::flow::create(
        state,
        &scope,
        api::RestoreCreate {
            backup_set_id: set,
            source_environment_id: None,
            items: Some(updated),
            include_assignments: Some(p.include_assignments),
            accept_partial: Some(false),
        },
    )
    .await?;
    let mut next = p.clone();
    next.rollback_restore_id = Some(draft.restore_id.clone());
    if !created.is_empty() {
        next.reason = Some(format!(
            "Rollback restores the objects the promotion updated; it created {} (delete them in the target if they must go).",
            created.join(", ")
        ));
    }
    let ev = NewEvent::success("promotion.rollback", format!("promotion/{id}"))
        .env(scope.environment_id())
        .meta(json!({"restore_id": draft.restore_id}));
    commit(state, ws, &p, &next, ev).await
}

/// `POST …/promotions/{p}/cancel`: before cutover only; its restore draft is cancelled too.
pub async fn cancel(state: &AppState, ws: &WorkspaceScope, id: &str) -> ServiceResult<api::Promotion> {
    let p = load_in(
        state,
        ws,
        id,
        &[PLANNED, APPROVED, EXPIRED],
        "it can no longer be cancelled",
    )
    .await?;
    let scope = target(ws, &p)?;
    let mut next = p.clone();
    next.state = CANCELLED.into();
    let ev = NewEvent::success("promotion.cancel", format!("promotion/{id}")).env(scope.environment_id());
    audit::commit(state, ws, vec![next.write(p.version)], ev).await?;
    // The draft follows; one already closed is fine.
    match crate::restore::flow::cancel(state, &scope, &p.restore_id).await {
        Ok(_) | Err(ServiceError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    get(state, ws, id).await
}
