//! One restore unit: one item written at most once, however often its message arrives.

use atlas_domain::EnvironmentId;
use atlas_graph::families::Family;
use atlas_graph::{GraphError, TenantClient};
use atlas_store::Key;
use serde_json::{Value, json};

use super::graph_ops;
use super::plan::{LiveReader, live_hash};
use crate::error::{ServiceError, ServiceResult};
use crate::records::Record;
use crate::records::restore::{self as rec, MaaFlagRecord, RestoreMappingRecord, unit_key};
use crate::runs::{ItemResult, WorkMessage};
use crate::scope::EnvScope;
use crate::state::AppState;

/// What Graph said, for the item's result: code, request id, status.
fn failure(name: &str, family: &str, what: &str, e: &GraphError) -> Value {
    json!({
        "result": "failed", "name": name, "family": family, "reason": format!("{what}: {e}"),
        "code": e.code(), "request_id": e.request_id(), "status": e.status(),
    })
}

fn failed(name: &str, family: &str, reason: String) -> (ItemResult, Value) {
    (
        ItemResult::Failed,
        json!({"result": "failed", "name": name, "family": family, "reason": reason}),
    )
}

/// Whether a create's outcome is unknown: it may have landed although we saw an error.
fn ambiguous(e: &GraphError) -> bool {
    matches!(e, GraphError::Timeout { .. } | GraphError::Network { .. }) || e.status().is_some_and(|s| s >= 500)
}

/// Runs a unit; `None` when its result was already recorded (a redelivery), or when the run was
/// just ended Blocked.
pub async fn unit(
    state: &AppState,
    scope: &EnvScope,
    client: &TenantClient,
    m: &WorkMessage,
) -> ServiceResult<Option<(ItemResult, Value)>> {
    // A restore's units travel one to a message, so each has a record of its own (ADR 0056
    // groups only a message's units): a get by its key is exact.
    if state.table.get(&rec::run_item_key(&m.run_id, &m.item)).await?.is_some() {
        return Ok(None);
    }
    let restore_id = m.params["restore_id"].as_str().unwrap_or_default();
    let preview_id = m.params["preview_id"].as_str().unwrap_or_default();
    let draft_gone = || ServiceError::Conflict("the restore draft is gone".into());
    let draft = super::draft(state, scope, &super::restore_id(restore_id).map_err(|_| draft_gone())?)
        .await?
        .ok_or_else(draft_gone)?;
    // The run's re-check covers the target; the source is re-checked here, before anything is
    // read from it or written. The run ends Blocked (audited); later units find it ended.
    if !super::source_entitled(scope, &draft) {
        let why = "The initiator is no longer entitled to the restore's source environment.";
        crate::runs::finish(state, &m.run_id, atlas_domain::RunOutcome::Blocked, Some(why.into())).await?;
        return Ok(None);
    }
    let preview = super::preview(state, scope, restore_id, preview_id)
        .await?
        .ok_or_else(|| ServiceError::Conflict("the confirmed preview is gone".into()))?;
    let Some(plan) = preview.plan.items.into_iter().find(|p| p.key == m.item) else {
        return Ok(Some(failed(
            "",
            "",
            format!("{} is not in the confirmed preview", m.item),
        )));
    };
    let name = plan.name.clone();
    let code = plan.family.clone();
    let Some(family) = Family::by_code(&code) else {
        return Ok(Some(failed(&name, &code, format!("{code} is not a family"))));
    };
    let payload = super::payload(state, &super::source_scope(scope, &draft), &plan.hash).await?;
    let payload = crate::promotion::compare::replace_ids(&payload, &plan.ids);
    let mut payload = super::plan::with_scope_tags(&payload, &plan.scope_tags);
    let mut assign: Option<Vec<Value>> = plan.assign.clone();
    let source_env = draft.source_environment_id.clone();
    let source_id = plan.source_id.clone();

    let ukey = unit_key(&m.run_id, &m.item);
    let unit = rec::read_unit(state.table.get(&ukey).await?)?;
    let phase = unit.phase.clone();
    let action = plan.action.as_str();
    let tag_waits = &plan.await_tags;
    if !tag_waits.is_empty() && matches!(action, "create" | "update") {
        match created_by_this_run(state, scope, &m.run_id, &source_env, "roleScopeTags", tag_waits).await? {
            Ok(created) => payload = super::plan::with_scope_tags(&payload, &created),
            Err(why) => return Ok(Some(failed(&name, &code, format!("Not written: {why}.")))),
        }
    }
    let stale = |what: &str| {
        failed(
            &name,
            &code,
            format!("Stale: {what} changed since the preview; nothing was written. Preview again."),
        )
    };

    let (target_id, result) = match action {
        "unchanged" => {
            let id = plan.target_id.as_deref().unwrap_or_default();
            let live = graph_ops::read_live(client, family, id, assign.is_some()).await;
            if let Err(e) = &live {
                super::wait_if_throttled(e)?;
            }
            let live = live.map_err(|e| ServiceError::Conflict(e.to_string()));
            return Ok(Some(match live {
                Ok(Some(o)) if live_hash(&o) == plan.live_hash => (
                    ItemResult::Succeeded,
                    json!({"result": "unchanged", "name": name, "family": code, "target_id": id}),
                ),
                Ok(_) => stale("the live object"),
                Err(e) => failed(&name, &code, super::message(e)),
            }));
        }
        "create" => {
            let mut target = unit.target_id.clone();
            if target.is_none() {
                let mut reader = LiveReader::new(state, scope, client, &source_env, false).await?;
                let found = reader.find(family, &source_id, &name).await?;
                match (phase.as_str(), found.target_id) {
                    // A crash after the POST: the object we created is there; adopt it.
                    ("creating", Some(id)) => target = Some(id),
                    ("creating", None) => {}
                    (_, Some(_)) => return Ok(Some(stale("an object with this identity appeared"))),
                    (_, None) => {}
                }
            }
            let id = match target {
                Some(id) => id,
                None => {
                    state.table.put(rec::unit_item(&ukey, "creating", None), None).await?;
                    match graph_ops::create(client, family, &payload).await {
                        Ok(id) => id,
                        Err(e) => {
                            let adopted = if ambiguous(&e) {
                                let mut reader = LiveReader::new(state, scope, client, &source_env, false).await?;
                                reader
                                    .find(family, &source_id, &name)
                                    .await
                                    .ok()
                                    .and_then(|l| l.target_id)
                            } else {
                                None
                            };
                            match adopted {
                                Some(id) => id,
                                None => {
                                    super::wait_if_throttled(&e)?;
                                    note_approval(state, scope, &code, &e).await?;
                                    return Ok(Some((ItemResult::Failed, failure(&name, &code, "create", &e))));
                                }
                            }
                        }
                    }
                }
            };
            if phase != "created" && phase != "completed" {
                record_created(state, scope, &ukey, &source_env, &code, &source_id, &id, &m.run_id).await?;
            }
            if phase != "completed" {
                if let Err(e) = graph_ops::complete_create(client, family, &id, &payload).await {
                    super::wait_if_throttled(&e)?;
                    let mut d = failure(&name, &code, "created, but its settings could not be written", &e);
                    d["target_id"] = json!(id);
                    return Ok(Some((ItemResult::Failed, d)));
                }
                state.table.update(&ukey, &rec::unit_phase("completed"), None).await?;
            }
            (id, "created")
        }
        "update" => {
            let id = plan.target_id.clone().unwrap_or_default();
            if phase.is_empty() {
                // Re-read before the write: a change since the preview stops this item.
                let live = graph_ops::read_live(client, family, &id, assign.is_some()).await;
                match live {
                    Ok(Some(o)) if live_hash(&o) == plan.live_hash => {}
                    Ok(_) => return Ok(Some(stale("the live object"))),
                    Err(e) => {
                        super::wait_if_throttled(&e)?;
                        return Ok(Some((ItemResult::Failed, failure(&name, &code, "re-read", &e))));
                    }
                }
                state
                    .table
                    .put(rec::unit_item(&ukey, "writing", Some(&id)), None)
                    .await?;
            }
            if phase != "completed" {
                // PATCH and PUT carry the full desired state: repeating one after a crash is safe.
                if let Err(e) = graph_ops::update(client, family, &id, &payload).await {
                    super::wait_if_throttled(&e)?;
                    note_approval(state, scope, &code, &e).await?;
                    let mut d = failure(&name, &code, "update", &e);
                    d["target_id"] = json!(id);
                    return Ok(Some((ItemResult::Failed, d)));
                }
                state.table.update(&ukey, &rec::unit_phase("completed"), None).await?;
            }
            (id, "updated")
        }
        other => {
            return Ok(Some((
                ItemResult::Skipped,
                json!({"result": "skipped", "name": name, "family": code, "reason": format!("planned as {other}")}),
            )));
        }
    };

    let waits = &plan.await_filters;
    if let Some(want) = assign.as_mut()
        && !waits.is_empty()
    {
        match created_by_this_run(state, scope, &m.run_id, &source_env, "assignmentFilters", waits).await? {
            Ok(created) => {
                for a in want.iter_mut() {
                    let key = "deviceAndAppManagementAssignmentFilterId";
                    if let Some(to) = a["target"][key].as_str().and_then(|f| created.get(f)) {
                        a["target"][key] = json!(to);
                    }
                }
            }
            Err(why) => {
                let mut d = json!({"result": "failed", "name": name, "family": code, "target_id": target_id});
                d["reason"] = json!(format!("{result}, but its assignments were not written: {why}"));
                return Ok(Some((ItemResult::Failed, d)));
            }
        }
    }

    if let Some(want) = &assign
        && family.assign != atlas_graph::families::Assign::None
        && let Err(e) = graph_ops::assign(client, family, &target_id, &payload, want).await
    {
        super::wait_if_throttled(&e)?;
        note_approval(state, scope, &code, &e).await?;
        let mut d = failure(
            &name,
            &code,
            &format!("{result}, but its assignments could not be written"),
            &e,
        );
        d["target_id"] = json!(target_id);
        return Ok(Some((ItemResult::Failed, d)));
    }

    let verification = verify(client, family, &target_id, &payload, assign.as_deref()).await;
    Ok(Some((
        ItemResult::Succeeded,
        json!({"result": result, "name": name, "family": code, "target_id": target_id, "verification": verification}),
    )))
}

/// How long a unit polls for the scope tags or assignment filters it uses, when sibling units of
/// the same run recreate them (they are queued first). Short: past it the unit re-queues itself
/// ([`DEPENDENCY_REQUEUE`]) and gives its worker back, so waiting units can never fill every
/// slot while the units they wait for sit in the queue.
const DEPENDENCY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// The delay of that re-queue; the step's deferral cap bounds how often it happens.
const DEPENDENCY_REQUEUE: std::time::Duration = std::time::Duration::from_secs(2);

/// Source id → the id this run created it under, once each `family` object's unit has created
/// it. `Err(why)` when one's unit ended without creating it.
async fn created_by_this_run(
    state: &AppState,
    scope: &EnvScope,
    run_id: &str,
    source_env: &str,
    family: &str,
    filters: &[String],
) -> ServiceResult<Result<std::collections::BTreeMap<String, String>, String>> {
    let what = if family == "roleScopeTags" {
        "scope tag"
    } else {
        "assignment filter"
    };
    let source_env = EnvironmentId::parse(source_env).ok();
    let records = scope.records(&state.table);
    let deadline = tokio::time::Instant::now() + DEPENDENCY_WAIT;
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        let mut created = std::collections::BTreeMap::new();
        for fid in filters {
            let mapped = match &source_env {
                Some(env) => {
                    records
                        .get::<RestoreMappingRecord>(rec::mapping_sk(env, family, fid))
                        .await?
                }
                None => None,
            };
            if let Some(to) = mapped {
                created.insert(fid.clone(), to.target_id);
                continue;
            }
            let unit = rec::run_item_key(run_id, &format!("{family}/{fid}"));
            if let Some(done) = state.table.get(&unit).await? {
                let (name, why) = rec::run_item_reason(&done);
                let why = why.unwrap_or_else(|| "it was not restored".into());
                let name = name.unwrap_or_else(|| fid.clone());
                return Ok(Err(format!("its {what} {name} was not recreated ({why})")));
            }
        }
        if created.len() == filters.len() {
            return Ok(Ok(created));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ServiceError::Wait(DEPENDENCY_REQUEUE));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_millis(500));
    }
}

#[allow(clippy::too_many_arguments)]
async fn record_created(
    state: &AppState,
    scope: &EnvScope,
    ukey: &Key,
    source_env: &str,
    family: &str,
    source_id: &str,
    id: &str,
    run_id: &str,
) -> ServiceResult<()> {
    let unit = atlas_store::TxItem::Put {
        item: rec::unit_item(ukey, "created", Some(id)),
        cond: None,
    };
    let mut tx = vec![unit];
    // A source that names no environment has no mapping to keep (its draft could not be loaded).
    if let Ok(source_env) = EnvironmentId::parse(source_env) {
        let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
        let at = state.clock.now_millis();
        tx.push(RestoreMappingRecord::new(ws, env, (&source_env, family, source_id), id, run_id, at).put());
    }
    state.table.transact(tx).await?;
    Ok(())
}

/// A write refused for Multi Admin Approval flags the family in readiness from now on.
async fn note_approval(state: &AppState, scope: &EnvScope, family: &str, e: &GraphError) -> ServiceResult<()> {
    let maa = matches!(e, GraphError::ApprovalRequired(_)) || e.to_string().contains("x-msft-approval-justification");
    if maa {
        let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
        let flag = MaaFlagRecord::new(ws, env, family, state.clock.now_millis());
        state.table.put(flag.to_item(), None).await?;
    }
    Ok(())
}

/// Reads the written object back and names every planned field or assignment that differs.
async fn verify(client: &TenantClient, family: &Family, id: &str, payload: &Value, assign: Option<&[Value]>) -> Value {
    let live = match graph_ops::read_live(client, family, id, assign.is_some()).await {
        Ok(Some(o)) => o,
        Ok(None) => return json!({"ok": false, "mismatches": ["the object is not there"]}),
        Err(e) => return json!({"ok": false, "mismatches": [format!("could not read it back: {e}")]}),
    };
    let want = graph_ops::comparable(family, payload);
    let have = graph_ops::comparable(family, &live);
    let mut mismatches: Vec<String> = want
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| have.get(k.as_str()) != Some(v))
        .map(|(k, _)| format!("/{k}"))
        .collect();
    if let Some(want) = assign {
        let mut w: Vec<String> = want.iter().map(graph_ops::target_key).collect();
        let mut h: Vec<String> = live["assignments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(graph_ops::target_key)
            .collect();
        w.sort();
        h.sort();
        if w != h && family.assign != atlas_graph::families::Assign::None {
            mismatches.push("assignments".into());
        }
    }
    json!({"ok": mismatches.is_empty(), "mismatches": mismatches})
}
