//! The offline policy lint (spec 021) over an environment's current inventory or one of its
//! backup sets: the objects as stored, no Graph call, with the workspace's lint settings. The
//! group rules use the groups the inventory's assignments named, read from the directory at the
//! end of each inventory sync (`LintGroupsRecord`); before the first, they report themselves not
//! evaluated. The inventory's lint can be recorded as findings of source `lint` (by hand, and
//! after every complete inventory sync).

use std::collections::{BTreeMap, BTreeSet};

use atlas_api_types as api;
use atlas_domain::findings::FindingSource;
use atlas_domain::lint::{self, Directory, GroupInfo, LintInput, LintObject, LintSettings};
use atlas_domain::{FamilySyncStatus, InventoryStatus, RunId, RunOutcome, RunState, WorkspaceId};
use serde_json::{Value, json};

use crate::error::{Fields, ServiceResult};
use crate::findings::{Coverage, Detection};
use crate::records::inventory::{self as irec, InventoryFamily, InventoryItem};
use crate::records::lint::{self as rec, LintGroupsRecord, LintSettingsRecord};
use crate::records::{self, Record};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

pub fn rules() -> api::LintRuleList {
    api::LintRuleList {
        items: lint::RULES
            .iter()
            .map(|r| api::LintRule {
                id: r.id.into(),
                title: r.title.into(),
                severity: r.severity,
                rationale: r.rationale.into(),
                fix_hint: r.fix_hint.into(),
                families: r.families.iter().map(|f| (*f).to_owned()).collect(),
            })
            .collect(),
    }
}

// ---- settings ----

/// The workspace's lint settings: the defaults until someone sets them.
pub async fn settings(state: &AppState, ws: &WorkspaceId) -> ServiceResult<LintSettings> {
    let stored: Option<LintSettingsRecord> = records::get(&state.table, &rec::settings_key(ws)).await?;
    Ok(stored.map(|r| r.settings).unwrap_or_default())
}

/// Replaces the settings: 400 naming every bad field and nothing written when
/// [`LintSettings::problems`] finds any; audited (`lint.settings.update`) with the fields changed.
pub async fn set_settings(state: &AppState, scope: &WorkspaceScope, body: LintSettings) -> ServiceResult<LintSettings> {
    let mut f = Fields::default();
    for (field, why) in body.problems() {
        f.push(&field, why);
    }
    f.checked()?;
    let ws = scope.workspace_id();
    let old = settings(state, ws).await?;
    let r = LintSettingsRecord {
        workspace_id: ws.clone(),
        settings: body.clone(),
        updated_ms: state.clock.now_millis(),
        updated_by: scope.actor().email.clone(),
    };
    let changed = changed_fields(&old, &body);
    let audit = crate::audit::NewEvent::success("lint.settings.update", "lint-settings")
        .meta(json!({"changed": changed, "old": old, "new": body}));
    crate::audit::commit(state, scope, vec![r.put()], audit).await?;
    Ok(body)
}

/// The settings' fields that differ (`stale_days`, `rules.LINT007` …), sorted.
pub fn changed_fields(old: &LintSettings, new: &LintSettings) -> Vec<String> {
    let (a, b) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    let empty = serde_json::Map::new();
    let (a, b) = (a.as_object().unwrap_or(&empty), b.as_object().unwrap_or(&empty));
    let mut out = BTreeSet::new();
    for k in a.keys().chain(b.keys()) {
        if a.get(k) == b.get(k) {
            continue;
        }
        if k == "rules" {
            let (ra, rb) = (&old.rules, &new.rules);
            for id in ra.keys().chain(rb.keys()) {
                if ra.get(id) != rb.get(id) {
                    out.insert(format!("rules.{id}"));
                }
            }
        } else {
            out.insert(k.clone());
        }
    }
    out.into_iter().collect()
}

// ---- reports ----

fn report(scope: &EnvScope, set: Option<&RunId>, input: &LintInput, settings: &LintSettings) -> api::LintReport {
    let report = lint::run(input, settings);
    api::LintReport {
        environment_id: scope.environment_id().to_string(),
        backup_set_id: set.map(|s| s.to_string()),
        objects: input.objects.len() as u64,
        evaluated_ms: input.now_ms,
        hits: report
            .hits
            .iter()
            .map(|h| api::LintHit {
                fingerprint: h.fingerprint(),
                rule_id: h.rule_id.clone(),
                severity: h.severity,
                family: h.family.clone(),
                object_id: h.object_id.clone(),
                object_name: h.object_name.clone(),
                property: h.property.clone(),
                message: h.message.clone(),
                related: h.related.clone(),
            })
            .collect(),
        not_evaluated: report
            .not_evaluated
            .into_iter()
            .map(|(rule_id, reason)| api::LintNotEvaluated { rule_id, reason })
            .collect(),
        rules_run: report.rules_run,
    }
}

async fn input(state: &AppState, scope: &EnvScope, objects: Vec<LintObject>) -> ServiceResult<LintInput> {
    let directory = directory(state, scope, &objects).await?;
    Ok(LintInput {
        objects,
        directory,
        now_ms: state.clock.now_millis(),
    })
}

/// The groups as the last sync read them. A group named since (by a backup set, or an object
/// changed after the read) was not looked up: it counts as existing with an unknown member count,
/// never as deleted.
async fn directory(state: &AppState, scope: &EnvScope, objects: &[LintObject]) -> ServiceResult<Directory> {
    let key = rec::groups_key(scope.workspace().workspace_id(), scope.environment_id());
    let Some(read) = records::get::<LintGroupsRecord>(&state.table, &key).await? else {
        return Ok(Directory::default());
    };
    let mut groups = read.found;
    for id in lint::referenced_groups(objects) {
        if !groups.contains_key(&id) && !read.missing.contains(&id) {
            let unknown = GroupInfo {
                display_name: id.clone(),
                member_count: None,
            };
            groups.insert(id, unknown);
        }
    }
    Ok(Directory {
        groups: Some(groups),
        ..Directory::default()
    })
}

/// Groups looked up per sync at most; more are left unknown (never reported deleted or empty),
/// and the record stays well under the table's item size.
const MAX_GROUPS: usize = 2_000;

/// Reads the groups the environment's inventory assignments name: one `$batch` item per group,
/// `GET /groups/{id}?$select=id,displayName&$expand=members($select=id)` (an expansion returns
/// at most 20 members, enough to tell an empty group); 404 means deleted. An item that fails
/// otherwise is left unknown. Nothing is written when the batch as a whole fails (the previous
/// read stays).
pub async fn refresh_groups(state: &AppState, scope: &EnvScope, objects: &[LintObject]) -> ServiceResult<()> {
    let Some(client) = crate::provider::tenant_client(state, scope).await? else {
        return Ok(());
    };
    let ids: Vec<String> = lint::referenced_groups(objects).into_iter().take(MAX_GROUPS).collect();
    let requests = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            atlas_graph::BatchRequest::get(
                i.to_string(),
                format!("/groups/{id}?$select=id,displayName&$expand=members($select=id)"),
            )
        })
        .collect();
    let answers = client
        .batch(atlas_graph::ApiVersion::V1, requests)
        .await
        .map_err(|e| crate::error::ServiceError::Conflict(format!("groups could not be read: {e}")))?;
    let mut found = BTreeMap::new();
    let mut missing = BTreeSet::new();
    for (id, answer) in ids.into_iter().zip(answers) {
        match answer.result {
            Ok(item) if item.status == 200 => {
                let members = item.body["members"].as_array().map_or(0, Vec::len);
                let info = GroupInfo {
                    display_name: item.body["displayName"].as_str().unwrap_or(&id).to_owned(),
                    member_count: (members < 20).then_some(members as u64),
                };
                found.insert(id, info);
            }
            Err(e) if e.is_not_found() => {
                missing.insert(id);
            }
            Ok(_) | Err(_) => {}
        }
    }
    let record = LintGroupsRecord {
        workspace_id: scope.workspace().workspace_id().clone(),
        environment_id: scope.environment_id().clone(),
        read_ms: state.clock.now_millis(),
        found,
        missing,
    };
    state.table.put(record.to_item(), None).await?;
    Ok(())
}

/// The environment's active inventory objects.
async fn inventory_objects(state: &AppState, scope: &EnvScope) -> ServiceResult<Vec<LintObject>> {
    let env = scope.records(&state.table);
    let items: Vec<InventoryItem> = records::query_all(&state.table, env.query(irec::items_prefix(None))).await?;
    Ok(items
        .into_iter()
        .filter(|i| i.status == InventoryStatus::Active)
        .map(|i| LintObject {
            family: i.family,
            id: i.item_id,
            payload: i.payload,
        })
        .collect())
}

/// The lint of the environment's current inventory with the workspace's settings.
pub async fn environment(state: &AppState, scope: &EnvScope) -> ServiceResult<api::LintReport> {
    let settings = settings(state, scope.workspace().workspace_id()).await?;
    lint_inventory(state, scope, inventory_objects(state, scope).await?, &settings).await
}

/// The lint of the inventory objects already read.
async fn lint_inventory(
    state: &AppState,
    scope: &EnvScope,
    objects: Vec<LintObject>,
    settings: &LintSettings,
) -> ServiceResult<api::LintReport> {
    let input = input(state, scope, objects).await?;
    Ok(report(scope, None, &input, settings))
}

/// The lint of one backup set's items (payloads from the set's blobs), `None` when there is no
/// such set. An item whose payload is gone is left out.
pub async fn backup_set(state: &AppState, scope: &EnvScope, set: &RunId) -> ServiceResult<Option<api::LintReport>> {
    let Some(items) = crate::backup::set_items(state, scope, set).await? else {
        return Ok(None);
    };
    let mut payloads: BTreeMap<String, Option<Value>> = BTreeMap::new();
    let mut objects = Vec::with_capacity(items.len());
    for item in items {
        if !payloads.contains_key(&item.hash) {
            let p = crate::backup::payload(state, scope, &item.hash).await?;
            payloads.insert(item.hash.clone(), p);
        }
        if let Some(Some(payload)) = payloads.get(&item.hash) {
            objects.push(LintObject {
                family: item.family,
                id: item.item_id,
                payload: payload.clone(),
            });
        }
    }
    let settings = settings(state, scope.workspace().workspace_id()).await?;
    let input = input(state, scope, objects).await?;
    Ok(Some(report(scope, Some(set), &input, &settings)))
}

// ---- findings ----

/// Why the inventory cannot be trusted whole (a family never synced or last read incompletely),
/// `None` when every family's last sync was complete.
async fn incomplete(state: &AppState, scope: &EnvScope) -> ServiceResult<Option<String>> {
    let env = scope.records(&state.table);
    let markers: Vec<InventoryFamily> = records::query_all(&state.table, env.query(irec::FAMILIES_PREFIX)).await?;
    let ok: BTreeSet<&str> = markers
        .iter()
        .filter(|m| m.status == FamilySyncStatus::Ok)
        .map(|m| m.family.as_str())
        .collect();
    let bad: Vec<&str> = crate::inventory::families()
        .iter()
        .map(|f| f.code)
        .filter(|code| !ok.contains(code))
        .collect();
    Ok((!bad.is_empty()).then(|| {
        format!(
            "the inventory is incomplete: {} not read completely by the last sync ({}); lint findings are only recorded from a complete inventory",
            if bad.len() == 1 { "1 family was" } else { "some families were" },
            bad.join(", ")
        )
    }))
}

/// A hit as the detection of a finding of source `lint`: object key `rule/family/object`.
fn detection(scope: &EnvScope, h: &api::LintHit) -> Detection {
    Detection {
        environment_id: scope.environment_id().clone(),
        source: FindingSource::Lint,
        object_key: format!("{}/{}/{}", h.rule_id, h.family, h.object_id),
        property: h.property.clone().unwrap_or_default(),
        severity: h.severity,
        title: h.message.clone(),
        family: Some(h.family.clone()),
        object_id: Some(h.object_id.clone()),
        baseline_object_id: None,
        object_name: h.object_name.clone(),
        kind: None,
        desired: None,
        current: None,
        matched_by: None,
        baseline_id: None,
        changed_by: None,
    }
}

/// Lints the inventory and records every hit as a finding of source `lint`: hits seen before
/// update their finding, hits gone resolve theirs. Nothing is recorded (and nothing resolved)
/// when a family's last read was incomplete: the answer says it was skipped.
pub async fn record(state: &AppState, scope: &EnvScope) -> ServiceResult<api::LintRecorded> {
    record_report(state, scope, environment(state, scope).await?).await
}

/// Records an inventory lint's hits as findings (see [`record`]).
async fn record_report(
    state: &AppState,
    scope: &EnvScope,
    report: api::LintReport,
) -> ServiceResult<api::LintRecorded> {
    if let Some(why) = incomplete(state, scope).await? {
        return Ok(api::LintRecorded {
            report,
            opened: 0,
            updated: 0,
            resolved: 0,
            skipped: Some(why),
        });
    }
    let detections = report.hits.iter().map(|h| detection(scope, h)).collect();
    let coverage = Coverage {
        environment_id: scope.environment_id(),
        source: FindingSource::Lint,
        family: None,
        baselines: None,
        objects: None,
    };
    let ws = scope.workspace().workspace_id();
    let o = crate::findings::observe(state, ws, detections, &coverage).await?;
    Ok(api::LintRecorded {
        report,
        opened: (o.opened + o.reopened) as u64,
        updated: o.updated as u64,
        resolved: o.resolved as u64,
        skipped: None,
    })
}

/// After an inventory sync run ended: when the workspace's settings ask for it
/// (`record_after_sync`), a succeeded run records its lint as findings (skipped, and logged, when
/// a family's read was incomplete). Safe to call again from any delivery.
pub async fn after_sync(state: &AppState, run_id: &str) -> ServiceResult<()> {
    let Some(run) = crate::runs::get_plain(state, run_id).await? else {
        return Ok(());
    };
    if run.status != RunState::Completed || run.outcome != Some(RunOutcome::Succeeded) {
        return Ok(());
    }
    let Some(scope) = crate::runs::scope_of(state, &run).await? else {
        return Ok(());
    };
    // The inventory is read once for both the group read and the lint.
    let objects = inventory_objects(state, &scope).await?;
    // The sync itself succeeded; a failed group read keeps the previous one and is retried by
    // the next sync.
    if let Err(e) = refresh_groups(state, &scope, &objects).await {
        tracing::warn!(error = %e, "the groups the inventory names could not be read");
    }
    let settings = settings(state, scope.workspace().workspace_id()).await?;
    if !settings.record_after_sync {
        return Ok(());
    }
    let recorded = match lint_inventory(state, &scope, objects, &settings).await {
        Ok(report) => record_report(state, &scope, report).await,
        Err(e) => Err(e),
    };
    match recorded {
        Ok(r) if r.skipped.is_some() => {
            tracing::info!(
                reason = r.skipped.as_deref(),
                "lint findings not recorded after the sync"
            )
        }
        Ok(r) => tracing::info!(
            opened = r.opened,
            updated = r.updated,
            resolved = r.resolved,
            "lint findings recorded after the sync"
        ),
        // The sync itself succeeded; the next sync (or a POST …/lint) records the lint.
        Err(e) => tracing::warn!(error = %e, "lint findings could not be recorded after the sync"),
    }
    Ok(())
}
