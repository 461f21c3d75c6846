//! Drift (spec 015): an environment's objects compared with the baselines assigned to it, one
//! policy family at a time, from stored payloads only — the inventory (kept current by a sync or
//! by the change feed) on one side and a snapshot's payloads on the other. What differs becomes
//! findings (`findings::observe`); what no longer differs resolves them.
//!
//! A family whose last read was incomplete is not evaluated: no finding opens and none resolves
//! on data that may be short (spec 013).

pub mod baselines;
pub mod feed;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use atlas_domain::drift::{self as core, Candidate, DriftKind, Names};
use atlas_domain::findings::{FindingSource, Severity};
use atlas_domain::{FamilySyncStatus, InventoryStatus, OperationType};
use serde_json::{Value, json};

use crate::error::{ServiceError, ServiceResult};
use crate::findings::{Coverage, Detection, Observed};
use crate::records::backups::{self as brec, BlobRecord};
use crate::records::inventory::{self as irec, InventoryFamily, InventoryItem};
use crate::records::keys::env_pk;
use crate::records::{self};
use crate::scope::EnvScope;
use crate::state::AppState;

/// The queue of `drift.detect` units (one per family).
pub const DETECT_QUEUE: &str = "drift-detect";
/// A detect run that has not ended after this long is failed by the reconciler.
pub const DETECT_DEADLINE_MS: i64 = 60 * 60 * 1000;

/// What evaluating one family found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FamilyDrift {
    /// Baseline objects compared (all profiles).
    pub compared: usize,
    pub missing: usize,
    pub extra: usize,
    /// Differing properties.
    pub changed: usize,
    /// Pairs left to a higher-priority profile covering the same object.
    pub shadowed: usize,
    /// Matched objects with at least one differing property.
    pub drifted: usize,
    pub observed: Observed,
}

/// Display names of the tenant-local objects payloads reference, from one environment's inventory.
pub(crate) async fn names(state: &AppState, pk: &str) -> ServiceResult<Names> {
    Ok(Names {
        filters: active_names(state, pk, "assignmentFilters").await?,
        scope_tags: active_names(state, pk, "roleScopeTags").await?,
        ..Names::default()
    })
}

/// Id → display name of a family's active inventory items.
async fn active_names(state: &AppState, pk: &str, family: &str) -> ServiceResult<HashMap<String, String>> {
    let q = atlas_store::Query::partition(pk).begins_with(irec::items_prefix(Some(family)));
    Ok(records::query_all::<InventoryItem>(&state.table, q)
        .await?
        .into_iter()
        .filter(|i| i.status == InventoryStatus::Active)
        .map(|i| (i.item_id, i.view.name))
        .collect())
}

/// Secret-looking values are masked; the fact that they differ is kept.
pub(crate) fn masked(path: &str, v: Option<Value>, secrets: &[String]) -> Option<Value> {
    let secret_path = secrets.iter().any(|s| atlas_domain::redact::is_within(path, s))
        || path.split('/').any(|seg| {
            !seg.is_empty()
                && (atlas_domain::redact::is_secret_key(seg) || atlas_domain::redact::is_secret_definition(seg))
        });
    v.map(|mut v| {
        if secret_path {
            v = Value::String(atlas_domain::redact::MASK.into());
        } else {
            atlas_domain::redact::redact(&mut v);
        }
        v
    })
}

fn severity(kind: DriftKind) -> Severity {
    match kind {
        DriftKind::Missing => Severity::High,
        DriftKind::Changed => Severity::Medium,
        DriftKind::Extra => Severity::Low,
    }
}

/// Evaluates `family` of the scope's environment against every baseline assigned to it.
/// `changed_by` names who last changed an object (by its id), when the change feed knows it.
pub async fn evaluate_family(
    state: &AppState,
    scope: &EnvScope,
    family: &str,
    changed_by: &BTreeMap<String, String>,
) -> ServiceResult<FamilyDrift> {
    let env = scope.records(&state.table);
    let marker: Option<InventoryFamily> = env.get(irec::family_sk(family)).await?;
    match marker {
        Some(m) if m.status == FamilySyncStatus::Ok => {}
        Some(m) => {
            return Err(ServiceError::Conflict(format!(
                "{family} was not read completely ({}); its findings are left as they were",
                m.error.unwrap_or_default()
            )));
        }
        None => {
            return Err(ServiceError::Conflict(format!(
                "{family} has not been read from this environment yet"
            )));
        }
    }
    let ws_scope = scope.workspace();
    let mut profiles = baselines::assigned_profiles(state, scope).await?;
    profiles.retain(|(p, _)| p.families.iter().any(|f| f == family));
    let current: Vec<InventoryItem> = records::query_all(&state.table, env.query(irec::items_prefix(Some(family))))
        .await?
        .into_iter()
        .filter(|i: &InventoryItem| i.status == InventoryStatus::Active)
        .collect();
    let env_candidates: Vec<Candidate> = current
        .iter()
        .map(|i| Candidate::from_payload(family, &i.payload))
        .collect();
    let env_names = names(state, &scope.pk()).await?;
    let mut source_names: BTreeMap<String, Names> = BTreeMap::new();
    let mut claimed: BTreeSet<usize> = BTreeSet::new();
    let mut detections = Vec::new();
    let mut out = FamilyDrift::default();
    let env_id = scope.environment_id().clone();
    for (p, a) in &profiles {
        let (_, mut items) = baselines::snapshot_items(state, ws_scope, p, a, family).await?;
        let wanted: BTreeSet<&str> = p
            .objects
            .iter()
            .filter(|o| o.family == family)
            .map(|o| o.id.as_str())
            .collect();
        if !wanted.is_empty() {
            items.retain(|i| wanted.contains(i.item_id.as_str()));
        }
        let src_pk = env_pk(&p.workspace_id, &p.source_environment_id);
        if !source_names.contains_key(&src_pk) {
            let n = names(state, &src_pk).await?;
            source_names.insert(src_pk.clone(), n);
        }
        let src_names = &source_names[&src_pk];
        let mut payloads = Vec::with_capacity(items.len());
        for i in &items {
            payloads.push(baseline_payload(state, &src_pk, p, i).await?);
        }
        let base_candidates: Vec<Candidate> = payloads.iter().map(|v| Candidate::from_payload(family, v)).collect();
        let same_tenant = p.source_environment_id == env_id;
        let m = core::match_objects(&base_candidates, &env_candidates, same_tenant, &a.overrides);
        out.compared += items.len();
        for pair in &m.pairs {
            if !claimed.insert(pair.env) {
                out.shadowed += 1;
                continue;
            }
            let (b, e) = (&items[pair.baseline], &current[pair.env]);
            let names = (src_names, &env_names);
            let found = compared(
                &env_id,
                family,
                p,
                b,
                &payloads[pair.baseline],
                e,
                names,
                pair.matched_by,
                changed_by,
            );
            let differs = !found.is_empty();
            out.changed += found.len();
            detections.extend(found);
            out.drifted += usize::from(differs);
        }
        for &bi in &m.missing {
            let b = &items[bi];
            out.missing += 1;
            detections.push(Detection {
                environment_id: env_id.clone(),
                source: FindingSource::Drift,
                object_key: format!("{}/{family}/{}", p.profile_id, b.item_id),
                property: String::new(),
                severity: severity(DriftKind::Missing),
                title: format!("{} is missing (baseline \"{}\")", b.name, p.name),
                family: Some(family.to_owned()),
                object_id: None,
                baseline_object_id: Some(b.item_id.clone()),
                object_name: b.name.clone(),
                kind: Some(DriftKind::Missing),
                desired: Some(json!({"displayName": b.name})),
                current: None,
                matched_by: None,
                baseline_id: Some(p.profile_id.clone()),
                changed_by: None,
            });
        }
    }
    // Extra: what no profile claimed, reported by the first profile that asks for it.
    if let Some((p, _)) = profiles.iter().find(|(p, _)| p.report_extra) {
        for (ei, e) in current.iter().enumerate() {
            if claimed.contains(&ei) {
                continue;
            }
            out.extra += 1;
            detections.push(Detection {
                environment_id: env_id.clone(),
                source: FindingSource::Drift,
                object_key: format!("{}/{family}/extra:{}", p.profile_id, e.item_id),
                property: String::new(),
                severity: severity(DriftKind::Extra),
                title: format!("{} is not in baseline \"{}\"", e.view.name, p.name),
                family: Some(family.to_owned()),
                object_id: Some(e.item_id.clone()),
                baseline_object_id: None,
                object_name: e.view.name.clone(),
                kind: Some(DriftKind::Extra),
                desired: None,
                current: Some(json!({"displayName": e.view.name})),
                matched_by: None,
                baseline_id: Some(p.profile_id.clone()),
                changed_by: changed_by.get(&e.item_id).cloned(),
            });
        }
    }
    let assigned: BTreeSet<String> = profiles.iter().map(|(p, _)| p.profile_id.clone()).collect();
    let coverage = Coverage {
        environment_id: &env_id,
        source: FindingSource::Drift,
        family: Some(family),
        baselines: Some(&assigned),
        objects: None,
    };
    out.observed = crate::findings::observe(state, ws_scope.workspace_id(), detections, &coverage).await?;
    // Baseline alignment for the dashboard: objects compared once, and those matching exactly.
    let total = out.compared.saturating_sub(out.shadowed);
    let aligned = total.saturating_sub(out.drifted + out.missing);
    let at = state.clock.now_millis();
    let align = crate::records::dashboard::alignment(ws_scope.workspace_id(), &env_id, family, total, aligned, at);
    state.table.transact(vec![align]).await?;
    Ok(out)
}

/// A baseline item's payload, stored in its source environment `src_pk`.
async fn baseline_payload(
    state: &AppState,
    src_pk: &str,
    p: &crate::records::drift::BaselineProfile,
    i: &crate::records::drift::SnapshotItem,
) -> ServiceResult<Value> {
    let key = atlas_store::Key::new(src_pk, brec::blob_sk(&i.hash));
    let blob: BlobRecord = records::get(&state.table, &key).await?.ok_or_else(|| {
        ServiceError::Conflict(format!(
            "the payload of {}/{} in snapshot {} of baseline \"{}\" is not stored",
            i.family, i.item_id, i.number, p.name
        ))
    })?;
    Ok(blob.into_payload()?)
}

/// The "changed" detections of one matched pair: each property where the environment's object
/// differs from the baseline's (secret values masked).
#[allow(clippy::too_many_arguments)]
fn compared(
    env_id: &atlas_domain::EnvironmentId,
    family: &str,
    p: &crate::records::drift::BaselineProfile,
    b: &crate::records::drift::SnapshotItem,
    desired_payload: &Value,
    e: &InventoryItem,
    (src_names, env_names): (&Names, &Names),
    matched_by: atlas_domain::drift::MatchedBy,
    changed_by: &BTreeMap<String, String>,
) -> Vec<Detection> {
    let desired = core::normalize(family, desired_payload, src_names, &p.ignored_properties);
    let now_doc = core::normalize(family, &e.payload, env_names, &p.ignored_properties);
    let secrets: Vec<String> = atlas_domain::redact::secret_pointers(&desired)
        .into_iter()
        .chain(atlas_domain::redact::secret_pointers(&now_doc))
        .collect();
    core::compare(&desired, &now_doc)
        .into_iter()
        .map(|d| Detection {
            environment_id: env_id.clone(),
            source: FindingSource::Drift,
            object_key: format!("{}/{family}/{}", p.profile_id, b.item_id),
            property: d.path.clone(),
            severity: severity(DriftKind::Changed),
            title: format!("{}: {} differs from baseline \"{}\"", e.view.name, d.path, p.name),
            family: Some(family.to_owned()),
            object_id: Some(e.item_id.clone()),
            baseline_object_id: Some(b.item_id.clone()),
            object_name: e.view.name.clone(),
            kind: Some(DriftKind::Changed),
            desired: masked(&d.path, d.desired, &secrets),
            current: masked(&d.path, d.current, &secrets),
            matched_by: Some(matched_by),
            baseline_id: Some(p.profile_id.clone()),
            changed_by: changed_by.get(&e.item_id).cloned(),
        })
        .collect()
}

/// Re-evaluates only the objects `ids` of `family` that the change feed refetched: a point read
/// of each object, its baseline item and payload instead of the whole family and snapshot
/// (ADR 0042). `None` when that would not give what a whole-family pass gives — more than one
/// profile covers the family, a baseline from another environment or with pinned matches, or an
/// object that is new, gone, or not in the baseline by its id — and the caller evaluates the
/// family.
pub async fn evaluate_objects(
    state: &AppState,
    scope: &EnvScope,
    family: &str,
    ids: &BTreeSet<String>,
    changed_by: &BTreeMap<String, String>,
) -> ServiceResult<Option<FamilyDrift>> {
    let env = scope.records(&state.table);
    let marker: Option<InventoryFamily> = env.get(irec::family_sk(family)).await?;
    if marker.is_none_or(|m| m.status != FamilySyncStatus::Ok) {
        return Ok(None);
    }
    let env_id = scope.environment_id().clone();
    let mut profiles = baselines::assigned_profiles(state, scope).await?;
    profiles.retain(|(p, _)| p.families.iter().any(|f| f == family));
    let [(p, a)] = profiles.as_slice() else {
        return Ok(None);
    };
    if p.source_environment_id != env_id || !a.overrides.is_empty() {
        return Ok(None);
    }
    let in_baseline = |id: &String| p.objects.is_empty() || p.objects.iter().any(|o| o.family == family && &o.id == id);
    if !ids.iter().all(in_baseline) {
        return Ok(None);
    }
    let (_, items) = baselines::snapshot_items(state, scope.workspace(), p, a, family).await?;
    let mut pairs = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(b) = items.iter().find(|i| &i.item_id == id) else {
            return Ok(None);
        };
        match env.get::<InventoryItem>(irec::item_sk(family, id)).await? {
            Some(e) if e.status == InventoryStatus::Active => pairs.push((b, e)),
            _ => return Ok(None),
        }
    }
    let names = names(state, &scope.pk()).await?;
    let mut out = FamilyDrift::default();
    let mut detections = Vec::new();
    let mut now_drifted = BTreeSet::new();
    for (b, e) in &pairs {
        let desired = baseline_payload(state, &scope.pk(), p, b).await?;
        let by_id = atlas_domain::drift::MatchedBy::Id;
        let found = compared(&env_id, family, p, b, &desired, e, (&names, &names), by_id, changed_by);
        out.compared += 1;
        out.changed += found.len();
        if !found.is_empty() {
            out.drifted += 1;
            now_drifted.insert(b.item_id.clone());
        }
        detections.extend(found);
    }
    let assigned = BTreeSet::from([p.profile_id.clone()]);
    let coverage = Coverage {
        environment_id: &env_id,
        source: FindingSource::Drift,
        family: Some(family),
        baselines: Some(&assigned),
        objects: Some(ids),
    };
    let ws = scope.workspace().workspace_id();
    out.observed = crate::findings::observe(state, ws, detections, &coverage).await?;
    // Baseline alignment, adjusted by what changed for these objects (a whole pass sets it).
    let was = &out.observed.drifted_before;
    let fixed = ids
        .iter()
        .filter(|id| was.contains(*id) && !now_drifted.contains(*id))
        .count() as i64;
    let broke = ids
        .iter()
        .filter(|id| !was.contains(*id) && now_drifted.contains(*id))
        .count() as i64;
    if fixed != broke {
        use crate::records::dashboard::{align_key, alignment_of, counter_key};
        let mut current = state
            .table
            .get(&align_key(ws, &env_id))
            .await?
            .and_then(|a| alignment_of(&a, family));
        if current.is_none() {
            // Set before ADR 0052: on the counter item.
            current = state
                .table
                .get(&counter_key(ws, &env_id))
                .await?
                .and_then(|c| alignment_of(&c, family));
        }
        if let Some((total, aligned)) = current {
            let aligned = (aligned as i64 + fixed - broke).clamp(0, total as i64) as usize;
            let at = state.clock.now_millis();
            let align = crate::records::dashboard::alignment(ws, &env_id, family, total, aligned, at);
            state.table.transact(vec![align]).await?;
        }
    }
    Ok(Some(out))
}

/// The families the environment's baselines cover (`only`, when given, narrows them).
pub async fn covered_families(state: &AppState, scope: &EnvScope) -> ServiceResult<BTreeSet<String>> {
    Ok(baselines::assigned_profiles(state, scope)
        .await?
        .into_iter()
        .flat_map(|(p, _)| p.families)
        .collect())
}

/// Starts a `drift.detect` run over the families the environment's baselines cover (or `only`
/// those of them): each unit reads its family from Graph (unless `refresh` is off), then compares.
pub async fn start_detect(
    state: &AppState,
    scope: &EnvScope,
    only: Option<&BTreeSet<String>>,
    refresh: bool,
) -> ServiceResult<crate::runs::Started> {
    let mut families = covered_families(state, scope).await?;
    if families.is_empty() {
        return Err(ServiceError::Conflict(
            "no baseline is assigned to this environment: assign one first".into(),
        ));
    }
    if let Some(only) = only {
        families.retain(|f| only.contains(f));
        if families.is_empty() {
            return Err(ServiceError::Conflict(
                "none of these families is covered by the environment's baselines".into(),
            ));
        }
    }
    if crate::provider::consented(state, scope).await?.is_none() {
        return Err(ServiceError::Conflict(
            "connect the environment's provider first".into(),
        ));
    }
    let units = families.into_iter().map(|f| (f, json!({"refresh": refresh}))).collect();
    crate::runs::start(
        state,
        scope,
        OperationType::DriftDetect,
        DETECT_QUEUE,
        units,
        DETECT_DEADLINE_MS,
    )
    .await
}

/// The environment's drift at a glance.
pub async fn summary(state: &AppState, scope: &EnvScope) -> ServiceResult<atlas_api_types::DriftSummary> {
    let assignments = baselines::assignments(state, scope).await?;
    let filter = crate::findings::Filter {
        environment_id: Some(scope.environment_id().clone()),
        source: Some(FindingSource::Drift),
        ..Default::default()
    };
    let mut open: BTreeMap<String, u64> = DriftKind::ALL.iter().map(|k| (k.to_string(), 0)).collect();
    for f in crate::findings::matching(state, scope.workspace(), &filter).await? {
        if let (true, Some(kind)) = (f.state.is_open(), f.kind) {
            *open.entry(kind.to_string()).or_default() += 1;
        }
    }
    let watch: Option<crate::records::drift::DriftWatch> = records::get(
        &state.table,
        &crate::records::drift::watch_key(scope.workspace().workspace_id(), scope.environment_id()),
    )
    .await?;
    Ok(atlas_api_types::DriftSummary {
        environment_id: scope.environment_id().to_string(),
        assignments: assignments.iter().map(baselines::assignment_api).collect(),
        open,
        polled_ms: watch.as_ref().and_then(|w| w.polled_ms),
        poll_seconds: watch.map_or(state.drift_poll_seconds, |w| w.poll_seconds),
        quiet_record_seconds: u64::try_from(feed::QUIET_WRITE_MS / 1000).unwrap_or_default(),
    })
}

/// Whether a unit's message asks for a Graph read before comparing.
pub fn refresh_requested(params: &Value) -> bool {
    params.get("refresh").and_then(Value::as_bool).unwrap_or(true)
}

/// After a restore run ended: one `drift.detect` run over the families it wrote that baselines
/// cover, so findings about what the restore put back resolve without waiting for the nightly sweep.
/// Started at most once per restore run, from any delivery of its last unit.
pub async fn recheck_after_restore(state: &AppState, run_id: &str) -> ServiceResult<()> {
    let Some(run) = crate::runs::get_plain(state, run_id).await? else {
        return Ok(());
    };
    if run.status.is_active() {
        return Ok(());
    }
    let Some(scope) = crate::runs::scope_of(state, &run).await? else {
        return Ok(());
    };
    let items = crate::records::runs::units(&state.table, run_id, false).await?;
    let written: BTreeSet<String> = items
        .iter()
        .filter(|i| i.result == atlas_domain::ItemResult::Succeeded)
        .filter_map(|i| i.item.split('/').next().map(str::to_owned))
        .collect();
    let covered = covered_families(state, &scope).await?;
    let families: BTreeSet<String> = written.intersection(&covered).cloned().collect();
    if families.is_empty() {
        return Ok(());
    }
    let once = atlas_store::Update::new().set("drift_recheck", true);
    let first = atlas_store::Cond::AttrNotExists("drift_recheck".into());
    match state
        .table
        .update(&crate::records::runs::run_key(run_id), &once, Some(first))
        .await
    {
        Ok(_) => {}
        Err(atlas_store::TableError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    match start_detect(state, &scope, Some(&families), true).await {
        Ok(started) => tracing::info!(run_id = %started.run.run_id, "drift re-check after the restore started"),
        Err(e @ (ServiceError::Conflict(_) | ServiceError::Forbidden)) => {
            tracing::info!(error = %e, "no drift re-check after the restore")
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
