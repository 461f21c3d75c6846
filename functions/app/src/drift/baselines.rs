//! Baseline profiles (workspace-owned), their immutable snapshots and their assignments to
//! environments (spec 015).
//!
//! A snapshot is captured from a complete backup set of the profile's source environment: its
//! items name the set's payloads by hash, in the source environment's partition, so the payload
//! sweep keeps them (`SNAPITEM#` items count as references) and nothing is copied. The capture
//! first marks every payload referenced now (refused when one is gone: the capture fails naming
//! it), then writes the items, then the header with the profile's new number in one transaction:
//! a crash before the header leaves items no reader sees, and a retry writes the same number.

use std::collections::{BTreeMap, BTreeSet};

use atlas_api_types as api;
use atlas_domain::{BackupSetStatus, EnvironmentId, RunId};
use atlas_graph::families::Family;
use atlas_store::{Cond, TxItem};
use serde_json::json;

use crate::audit::NewEvent;
use crate::backup::{all_written, refused};
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::records::backups::{self as brec, BackupItemRecord};
use crate::records::drift::{
    self as rec, AssignmentRecord, BaselineName, BaselineProfile, DriftWatch, SnapshotItem, SnapshotRecord,
};
use crate::records::{self, Record};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

/// How often the change feed polls an environment with a baseline, unless configured.
pub const DEFAULT_POLL_SECONDS: u64 = 300;
/// How often every covered family is read in full and compared (the change feed's safety net).
pub const SWEEP_EVERY_MS: i64 = 24 * 60 * 60 * 1000;
const MAX_NAME: usize = 100;
const MAX_PRIORITY: u32 = 1000;

fn to_api(p: &BaselineProfile, assignments: Vec<api::BaselineAssignment>) -> api::Baseline {
    api::Baseline {
        id: p.profile_id.clone(),
        name: p.name.clone(),
        source_environment_id: p.source_environment_id.to_string(),
        families: p.families.clone(),
        objects: p.objects.clone(),
        ignored_properties: p.ignored_properties.clone(),
        report_extra: p.report_extra,
        created_ms: p.created_ms,
        created_by: p.created_by.clone(),
        latest_snapshot: (p.latest_snapshot > 0).then_some(p.latest_snapshot),
        assignments,
    }
}

pub fn assignment_api(a: &AssignmentRecord) -> api::BaselineAssignment {
    api::BaselineAssignment {
        baseline_id: a.profile_id.clone(),
        environment_id: a.environment_id.to_string(),
        priority: a.priority,
        snapshot: a.snapshot,
        overrides: a.overrides.clone(),
        assigned_ms: a.assigned_ms,
        assigned_by: a.assigned_by.clone(),
    }
}

fn snapshot_api(s: &SnapshotRecord) -> api::BaselineSnapshot {
    api::BaselineSnapshot {
        baseline_id: s.profile_id.clone(),
        number: s.number,
        source_environment_id: s.source_environment_id.to_string(),
        from_backup_set_id: s.from_backup_set_id.clone(),
        created_ms: s.created_ms,
        created_by: s.created_by.clone(),
        counts: s.counts.clone(),
    }
}

/// The environment of this workspace named `id`, if the member is entitled to it; unknown and not
/// entitled are the same answer.
pub(crate) async fn entitled_environment(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &EnvironmentId,
) -> ServiceResult<EnvScope> {
    let env = scope.environment(id).ok_or(ServiceError::NotFound)?;
    crate::tenancy::environment_record(state, &env).await?;
    Ok(env)
}

/// Creates a profile; its name is unique in the workspace (409 otherwise).
pub async fn create(
    state: &AppState,
    scope: &WorkspaceScope,
    body: &api::BaselineCreate,
) -> ServiceResult<api::Baseline> {
    let mut f = Fields::default();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        f.push("name", format!("must be 1 to {MAX_NAME} characters"));
    }
    let source = f.check(
        "source_environment_id",
        EnvironmentId::parse(&body.source_environment_id),
    );
    if body.families.is_empty() {
        f.push("families", "name at least one policy family");
    }
    for (i, code) in body.families.iter().enumerate() {
        if Family::by_code(code).is_none() {
            f.push(&format!("families[{i}]"), format!("{code} is not a policy family"));
        }
    }
    let families: BTreeSet<&str> = body.families.iter().map(String::as_str).collect();
    for (i, o) in body.objects.iter().enumerate() {
        if !families.contains(o.family.as_str()) {
            f.push(&format!("objects[{i}].family"), "must be one of the profile's families");
        }
        if o.id.trim().is_empty() {
            f.push(&format!("objects[{i}].id"), "must not be empty");
        }
    }
    for (i, p) in body.ignored_properties.iter().enumerate() {
        if !p.starts_with('/') || p.len() > 300 {
            f.push(
                &format!("ignored_properties[{i}]"),
                "must be a JSON pointer such as /description or /assignments/*/intent",
            );
        }
    }
    f.checked()?;
    let source = source.ok_or_else(|| ServiceError::field("source_environment_id", "is required"))?;
    entitled_environment(state, scope, &source).await?;
    let mut families: Vec<String> = body.families.clone();
    families.sort();
    families.dedup();
    let profile = BaselineProfile {
        workspace_id: scope.workspace_id().clone(),
        profile_id: state.ids.next_id(),
        name: name.to_owned(),
        source_environment_id: source,
        families,
        objects: body.objects.clone(),
        ignored_properties: body.ignored_properties.clone(),
        report_extra: body.report_extra,
        created_ms: state.clock.now_millis(),
        created_by: scope.actor().email.clone(),
        latest_snapshot: 0,
    };
    let mark = BaselineName {
        workspace_id: scope.workspace_id().clone(),
        name: name.to_owned(),
        profile_id: profile.profile_id.clone(),
    };
    let ev = NewEvent::success("baseline.create", format!("baseline/{}", profile.profile_id)).meta(
        json!({"name": name, "source_environment_id": profile.source_environment_id, "families": profile.families}),
    );
    match crate::audit::commit(state, scope, vec![mark.create(), profile.create()], ev).await {
        Ok(()) => Ok(to_api(&profile, Vec::new())),
        Err(e) if crate::audit::failed_at(&e) == Some(0) => Err(ServiceError::Conflict(format!(
            "a baseline named \"{name}\" already exists in this workspace"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Every profile of the workspace with the assignments the member may see.
pub async fn list(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<Vec<api::Baseline>> {
    let ws = scope.records(&state.table);
    let profiles: Vec<BaselineProfile> = records::query_all(&state.table, ws.query(rec::PROFILES)).await?;
    let assignments: Vec<AssignmentRecord> = records::query_all(&state.table, ws.query(rec::ASSIGNMENTS)).await?;
    let mut by_profile: BTreeMap<&str, Vec<api::BaselineAssignment>> = BTreeMap::new();
    for a in assignments.iter().filter(|a| scope.entitled_to(&a.environment_id)) {
        by_profile.entry(&a.profile_id).or_default().push(assignment_api(a));
    }
    let mut out: Vec<api::Baseline> = profiles
        .iter()
        .map(|p| to_api(p, by_profile.remove(p.profile_id.as_str()).unwrap_or_default()))
        .collect();
    out.sort_by_key(|a| a.name.to_lowercase());
    Ok(out)
}

pub async fn profile(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<BaselineProfile> {
    scope
        .records(&state.table)
        .get(rec::profile_sk(id))
        .await?
        .ok_or(ServiceError::NotFound)
}

pub async fn get(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::Baseline> {
    let p = profile(state, scope, id).await?;
    let ws = scope.records(&state.table);
    let assignments: Vec<AssignmentRecord> = records::query_all(&state.table, ws.query(rec::ASSIGNMENTS)).await?;
    let mine = assignments
        .iter()
        .filter(|a| a.profile_id == p.profile_id && scope.entitled_to(&a.environment_id))
        .map(assignment_api)
        .collect();
    Ok(to_api(&p, mine))
}

pub async fn snapshots(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
) -> ServiceResult<Vec<api::BaselineSnapshot>> {
    profile(state, scope, id).await?;
    let ws = scope.records(&state.table);
    let mut items: Vec<SnapshotRecord> = records::query_all(&state.table, ws.query(rec::snapshots_of(id))).await?;
    items.reverse();
    Ok(items.iter().map(snapshot_api).collect())
}

/// Captures the profile from a complete backup set of its source environment (the newest complete
/// one when `from` is not given): a new snapshot numbered one past the latest.
pub async fn capture(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::SnapshotCreate,
) -> ServiceResult<api::BaselineSnapshot> {
    let p = profile(state, scope, id).await?;
    // The source's content is read with the member's own entitlement.
    let source = entitled_environment(state, scope, &p.source_environment_id).await?;
    let sets = crate::backup::sets(state, &source).await?;
    let set = match &body.from_backup_set_id {
        Some(sid) => {
            let set = sets.iter().find(|s| &s.id == sid).ok_or_else(|| {
                ServiceError::field("from_backup_set_id", "is not a backup set of the source environment")
            })?;
            if set.state != BackupSetStatus::Complete {
                let what = if set.unreadable.is_empty() {
                    String::new()
                } else {
                    format!("; unreadable: {}", set.unreadable.join(", "))
                };
                return Err(ServiceError::Conflict(format!(
                    "backup set {sid} is {}, not complete: a baseline is captured from a complete set{what}",
                    set.state
                )));
            }
            set
        }
        None => sets
            .iter()
            .find(|s| s.state == BackupSetStatus::Complete)
            .ok_or_else(|| {
                ServiceError::Conflict(
                    "the source environment has no complete backup set: run a backup of it first".into(),
                )
            })?,
    };
    // Capturing a set already captured answers that snapshot (a backup's settling may repeat).
    if let Some(done) = snapshots(state, scope, id)
        .await?
        .into_iter()
        .find(|s| s.from_backup_set_id == set.id)
    {
        return Ok(done);
    }
    let set_id = RunId::parse(&set.id).map_err(|e| ServiceError::Permanent(format!("backup set id: {e}")))?;
    let wanted: BTreeSet<(&str, &str)> = p.objects.iter().map(|o| (o.family.as_str(), o.id.as_str())).collect();
    let families: BTreeSet<&str> = p.families.iter().map(String::as_str).collect();
    let src = source.records(&state.table);
    let items: Vec<BackupItemRecord> = crate::backup::items_in(&state.table, &source.pk(), &set_id, None)
        .await?
        .into_iter()
        .filter(|i: &BackupItemRecord| families.contains(i.family.as_str()))
        .filter(|i| wanted.is_empty() || wanted.contains(&(i.family.as_str(), i.item_id.as_str())))
        .collect();
    for (family, id) in &wanted {
        if !items.iter().any(|i| i.family == *family && i.item_id == *id) {
            return Err(ServiceError::Conflict(format!(
                "{family}/{id} is not in backup set {}: it cannot be part of this baseline",
                set.id
            )));
        }
    }
    let number = p.latest_snapshot + 1;
    let now = state.clock.now_millis();
    // 1. Every payload referenced now: the sweep cannot take one between here and the items.
    let hashes: BTreeSet<&str> = items.iter().map(|i| i.hash.as_str()).collect();
    for chunk in hashes.iter().copied().collect::<Vec<_>>().chunks(crate::backup::PAGE) {
        let touches = chunk
            .iter()
            .map(|h| brec::touch_blob_ref(src.key(brec::blob_ref_sk(h)), now))
            .collect();
        let gone: Vec<&str> = chunk
            .iter()
            .zip(refused(state.table.batch(touches).await?)?)
            .filter_map(|(h, r)| r.then_some(*h))
            .collect();
        if !gone.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "{} payload(s) of backup set {} are no longer stored; capture from a newer set",
                gone.len(),
                set.id
            )));
        }
    }
    // 2. The items (invisible until the header exists).
    let mut counts: BTreeMap<String, u64> = p.families.iter().map(|f| (f.clone(), 0)).collect();
    for chunk in items.chunks(crate::backup::PAGE) {
        let writes = chunk
            .iter()
            .map(|i| {
                *counts.entry(i.family.clone()).or_default() += 1;
                SnapshotItem {
                    workspace_id: p.workspace_id.clone(),
                    environment_id: p.source_environment_id.clone(),
                    profile_id: p.profile_id.clone(),
                    number,
                    family: i.family.clone(),
                    item_id: i.item_id.clone(),
                    name: i.name.clone(),
                    hash: i.hash.clone(),
                }
                .put()
            })
            .collect();
        all_written(state.table.batch(writes).await?)?;
    }
    // 3. The header and the profile's number, with the audit event: the commit point.
    let header = SnapshotRecord {
        workspace_id: p.workspace_id.clone(),
        profile_id: p.profile_id.clone(),
        number,
        source_environment_id: p.source_environment_id.clone(),
        from_backup_set_id: set.id.clone(),
        created_ms: now,
        created_by: scope.actor().email.clone(),
        counts,
    };
    let mut next = p.clone();
    next.latest_snapshot = number;
    let bump = TxItem::Put {
        item: next.to_item(),
        cond: Some(Cond::eq("latest_snapshot", p.latest_snapshot)),
    };
    let ev = NewEvent::success("baseline.snapshot", format!("baseline/{}", p.profile_id))
        .meta(json!({"number": number, "from_backup_set_id": set.id, "items": items.len()}));
    match crate::audit::commit(state, scope, vec![header.create(), bump], ev).await {
        Ok(()) => Ok(snapshot_api(&header)),
        Err(e) if crate::audit::failed_at(&e).is_some() => Err(ServiceError::Conflict(
            "another snapshot of this baseline was captured meanwhile; try again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A fresh capture: a backup of the profile's families in its source environment, whose set
/// becomes the next snapshot once it is complete (a partial backup makes no snapshot, and says so).
pub async fn capture_fresh(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<crate::runs::Started> {
    let p = profile(state, scope, id).await?;
    let source = entitled_environment(state, scope, &p.source_environment_id).await?;
    if crate::provider::consented(state, &source).await?.is_none() {
        return Err(ServiceError::Conflict(
            "the source environment's provider connection is not consented".into(),
        ));
    }
    let start = crate::backup::capture_start_for_baseline(state, &source, &p.families, &p.profile_id);
    crate::runs::start_with(state, &source, start).await
}

/// Assigns (or re-assigns) a profile to the scope's environment, makes sure the environment's
/// change feed is watched, and starts the first detection of the profile's families.
pub async fn assign(
    state: &AppState,
    scope: &EnvScope,
    id: &str,
    body: &api::BaselineAssign,
) -> ServiceResult<api::BaselineAssignment> {
    let ws = scope.workspace();
    let p = profile(state, ws, id).await?;
    let mut f = Fields::default();
    if body.priority > MAX_PRIORITY {
        f.push("priority", format!("must be 0 to {MAX_PRIORITY}"));
    }
    if let Some(n) = body.snapshot
        && (n == 0 || n > p.latest_snapshot)
    {
        f.push("snapshot", format!("baseline has snapshots 1 to {}", p.latest_snapshot));
    }
    f.checked()?;
    if p.latest_snapshot == 0 {
        return Err(ServiceError::Conflict(
            "the baseline has no snapshot yet: capture one before assigning it".into(),
        ));
    }
    let now = state.clock.now_millis();
    let a = AssignmentRecord {
        workspace_id: ws.workspace_id().clone(),
        environment_id: scope.environment_id().clone(),
        profile_id: p.profile_id.clone(),
        priority: body.priority,
        snapshot: body.snapshot,
        overrides: body.overrides.clone(),
        assigned_ms: now,
        assigned_by: ws.actor().email.clone(),
    };
    let ev = NewEvent::success("baseline.assign", format!("baseline/{}", p.profile_id))
        .env(scope.environment_id())
        .meta(json!({"priority": a.priority, "snapshot": a.snapshot, "overrides": a.overrides.len()}));
    crate::audit::commit(state, ws, vec![a.put()], ev).await?;
    watch(state, scope, now).await?;
    // The first comparison now, not at the nightly sweep: the change feed only re-evaluates
    // families already read in full.
    let families: BTreeSet<String> = p.families.iter().cloned().collect();
    match super::start_detect(state, scope, Some(&families), true).await {
        Ok(_) => {}
        Err(e @ (ServiceError::Conflict(_) | ServiceError::Forbidden)) => {
            tracing::info!(error = %e, "no drift detection started with the assignment")
        }
        Err(e) => return Err(e),
    }
    Ok(assignment_api(&a))
}

/// The environment's change feed, created at the first assignment: it polls from now on, with the
/// authority of the member who assigned (re-checked at every poll).
async fn watch(state: &AppState, scope: &EnvScope, now: i64) -> ServiceResult<()> {
    let poll_seconds = state.drift_poll_seconds;
    let due = now + i64::try_from(poll_seconds).unwrap_or(300) * 1000;
    let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
    let w = DriftWatch {
        workspace_id: ws.clone(),
        environment_id: env.clone(),
        user_id: scope.workspace().actor().user_id.clone(),
        user_email: scope.workspace().actor().email.clone(),
        poll_seconds,
        cursor_ms: now,
        next_due_ms: due,
        polled_ms: None,
        next_sweep_ms: now + SWEEP_EVERY_MS,
        seen: Vec::new(),
        gsi1pk: rec::WATCH_DUE.into(),
        gsi1sk: rec::watch_due_sk(ws.as_str(), env.as_str()),
    };
    match state.table.put(w.to_item(), Some(Cond::NotExists)).await {
        Ok(()) | Err(atlas_store::TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes a profile from the scope's environment; the change feed stops with the last one.
pub async fn unassign(state: &AppState, scope: &EnvScope, id: &str) -> ServiceResult<()> {
    let ws = scope.workspace();
    let key = ws
        .records(&state.table)
        .key(rec::assignment_sk(scope.environment_id(), id));
    let ev = NewEvent::success("baseline.unassign", format!("baseline/{id}")).env(scope.environment_id());
    let gone = TxItem::Delete {
        key,
        cond: Some(Cond::Exists),
    };
    match crate::audit::commit(state, ws, vec![gone], ev).await {
        Ok(()) => {}
        Err(e) if crate::audit::failed_at(&e) == Some(0) => return Err(ServiceError::NotFound),
        Err(e) => return Err(e.into()),
    }
    // What this baseline found here is no longer asked for: its open findings resolve.
    let only: BTreeSet<String> = BTreeSet::from([id.to_owned()]);
    let coverage = crate::findings::Coverage {
        environment_id: scope.environment_id(),
        source: atlas_domain::findings::FindingSource::Drift,
        family: None,
        baselines: Some(&only),
        objects: None,
    };
    crate::findings::observe(state, ws.workspace_id(), Vec::new(), &coverage).await?;
    if assignments(state, scope).await?.is_empty() {
        state
            .table
            .delete(&rec::watch_key(ws.workspace_id(), scope.environment_id()), None)
            .await?;
    }
    Ok(())
}

/// The environment's assignments, highest priority (lowest number) first.
pub async fn assignments(state: &AppState, scope: &EnvScope) -> ServiceResult<Vec<AssignmentRecord>> {
    let ws = scope.workspace().records(&state.table);
    let mut all: Vec<AssignmentRecord> =
        records::query_all(&state.table, ws.query(rec::assignments_of(scope.environment_id()))).await?;
    all.sort_by(|a, b| (a.priority, &a.profile_id).cmp(&(b.priority, &b.profile_id)));
    Ok(all)
}

/// The environment's assignments with their profiles, highest priority first (an assignment whose
/// profile is gone is left out).
pub async fn assigned_profiles(
    state: &AppState,
    scope: &EnvScope,
) -> ServiceResult<Vec<(BaselineProfile, AssignmentRecord)>> {
    let mut out = Vec::new();
    for a in assignments(state, scope).await? {
        match profile(state, scope.workspace(), &a.profile_id).await {
            Ok(p) => out.push((p, a)),
            Err(ServiceError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The snapshot an assignment compares with, and its items of `family`.
pub async fn snapshot_items(
    state: &AppState,
    scope: &WorkspaceScope,
    p: &BaselineProfile,
    a: &AssignmentRecord,
    family: &str,
) -> ServiceResult<(u32, Vec<SnapshotItem>)> {
    let number = a.snapshot.unwrap_or(p.latest_snapshot);
    let header: Option<SnapshotRecord> = scope
        .records(&state.table)
        .get(rec::snapshot_sk(&p.profile_id, number))
        .await?;
    if header.is_none() {
        return Err(ServiceError::Conflict(format!(
            "snapshot {number} of baseline \"{}\" does not exist",
            p.name
        )));
    }
    let pk = crate::records::keys::env_pk(&p.workspace_id, &p.source_environment_id);
    let q = atlas_store::Query::partition(pk).begins_with(rec::snapshot_items(&p.profile_id, number, Some(family)));
    Ok((number, records::query_all(&state.table, q).await?))
}
