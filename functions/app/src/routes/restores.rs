//! Restores into an environment (the target): draft, preview, confirm, cancel (spec 006).

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, OperationType, RunId};
use atlas_store::{Cond, Query, TxItem, Update};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody};
use crate::restore::{self, draft_key, plan, preview_key};
use crate::scope::{EnvScope, env_pk};
use crate::state::AppState;
use crate::tenancy::{obj, s};

type RestorePath = Path<(String, String, String)>;

async fn load(state: &AppState, scope: &EnvScope, id: &str) -> ApiResult<atlas_store::Item> {
    RunId::parse(id).map_err(|_| ApiError::NotFound)?;
    let draft = state
        .table
        .get(&draft_key(scope, id))
        .await?
        .ok_or(ApiError::NotFound)?;
    // Sourced from an environment the actor cannot see: as absent as a missing restore.
    if !restore::source_entitled(scope, &draft) {
        return Err(ApiError::NotFound);
    }
    Ok(draft)
}

pub async fn create(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::RestoreCreate>,
) -> ApiResult<(StatusCode, Json<api::Restore>)> {
    let mut f = Fields::default();
    let set = f.check("backup_set_id", RunId::parse(&body.backup_set_id).map_err(|e| e.0));
    let source = match &body.source_environment_id {
        None => Some(scope.environment_id().clone()),
        Some(raw) => f.check("source_environment_id", EnvironmentId::parse(raw).map_err(|e| e.0)),
    };
    if let Some(items) = &body.items {
        if items.is_empty() {
            f.push("items", "lists at least one item, or is left out for all");
        }
        for k in items {
            let ok = k
                .split_once('/')
                .is_some_and(|(fam, id)| atlas_graph::families::Family::by_code(fam).is_some() && !id.is_empty());
            if !ok {
                f.push("items", format!("{k:?} is not a family/id key"));
            }
        }
    }
    f.finish()?;
    let (set, source) = (
        set.unwrap_or_else(|| unreachable!()),
        source.unwrap_or_else(|| unreachable!()),
    );
    // The source must be an environment of this workspace the actor is entitled to; otherwise
    // it is as absent as a missing one.
    if !scope.workspace().entitled_to(&source) {
        return Err(ApiError::NotFound);
    }
    let ws = scope.workspace().workspace_id();
    state
        .table
        .get(&crate::tenancy::env_key(ws, &source))
        .await?
        .ok_or(ApiError::NotFound)?;
    let src_pk = env_pk(ws, &source);
    state
        .table
        .get(&atlas_store::Key::new(src_pk.clone(), format!("BACKUPSET#{set}")))
        .await?
        .ok_or_else(|| ApiError::field("backup_set_id", "is not a backup set of the source environment"))?;
    let in_set: Vec<String> = state
        .table
        .query_all(Query::partition(src_pk).begins_with(format!("BACKUP#{set}#ITEM#")))
        .await?
        .iter()
        .map(|i| format!("{}/{}", s(i, "family"), s(i, "item_id")))
        .collect();
    let items = match body.items {
        None => in_set.clone(),
        Some(chosen) => {
            let mut f = Fields::default();
            for k in &chosen {
                if !in_set.contains(k) {
                    f.push("items", format!("{k} is not in the backup set"));
                }
            }
            f.finish()?;
            chosen
        }
    };
    if items.is_empty() {
        return Err(ApiError::field("backup_set_id", "the backup set holds no items"));
    }
    let id = state.ids.next_id();
    let now = state.clock.now_millis();
    let item = obj(json!({
        "PK": scope.pk(), "SK": format!("RESTORE#{id}"), "entity": "restore", "restore_id": id,
        "source_environment_id": source.as_str(), "backup_set_id": set.as_str(), "items": items,
        "include_assignments": body.include_assignments.unwrap_or(true),
        "accept_partial": body.accept_partial.unwrap_or(false), "state": "draft",
        "created_by_email": scope.workspace().actor().email, "created_ms": now,
    }));
    let ev = NewEvent::success("restore.draft", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"backup_set_id": set.as_str(), "source_environment_id": source.as_str(), "items": items.len()}));
    let changes = vec![TxItem::Put {
        item: item.clone(),
        cond: Some(Cond::NotExists),
    }];
    audit::commit(&state, scope.workspace(), changes, ev).await?;
    Ok((StatusCode::CREATED, Json(restore::to_api(&state, &scope, &item).await?)))
}

pub async fn list(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::RestoreList>> {
    let drafts = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("RESTORE#"))
        .await?;
    let mut items = Vec::new();
    let visible = |d: &&atlas_store::Item| s(d, "entity") == "restore" && restore::source_entitled(&scope, d);
    for d in drafts.iter().rev().filter(visible) {
        items.push(restore::to_api(&state, &scope, d).await?);
    }
    Ok(Json(api::RestoreList { items }))
}

pub async fn get(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
) -> ApiResult<Json<api::Restore>> {
    let draft = load(&state, &scope, &id).await?;
    Ok(Json(restore::to_api(&state, &scope, &draft).await?))
}

fn open(draft: &atlas_store::Item) -> ApiResult<()> {
    match s(draft, "state").as_str() {
        "draft" | "previewed" => Ok(()),
        "confirmed" => Err(ApiError::Conflict(
            "this restore was confirmed; its run is under way or done".into(),
        )),
        other => Err(ApiError::Conflict(format!("this restore is {other}"))),
    }
}

pub async fn preview(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
    JsonBody(body): JsonBody<api::RestorePreviewRequest>,
) -> ApiResult<(StatusCode, Json<api::RestorePreview>)> {
    let draft = load(&state, &scope, &id).await?;
    open(&draft)?;
    let planned = plan::preview(&state, &scope, &draft, &body.group_mapping).await?;
    let p = planned.item;
    let pid = s(&p, "preview_id");
    let summary = p["summary"].clone();
    let changes = vec![
        TxItem::Put {
            item: p.clone(),
            cond: Some(Cond::NotExists),
        },
        TxItem::Update {
            key: draft_key(&scope, &id),
            update: Update::new().set("state", "previewed").set("preview_id", pid.as_str()),
            cond: Some(Cond::Or(vec![
                Cond::eq("state", "draft"),
                Cond::eq("state", "previewed"),
            ])),
        },
    ];
    let ev = NewEvent::success("restore.preview", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"preview_id": pid, "summary": summary, "blockers": p["blockers"], "source_environment_id": s(&draft, "source_environment_id")}));
    audit::commit(&state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(1) => ApiError::Conflict("the restore changed while it was previewed".into()),
            _ => e.into(),
        })?;
    let view = plan::preview_api(&p, state.clock.now_millis()).ok_or_else(|| ApiError::internal("preview"))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A refused confirmation: 409 with the reason, and a denied audit event. No run, nothing written.
async fn refuse(state: &AppState, scope: &EnvScope, id: &str, reason: String) -> ApiError {
    // The source, so the audit log hides the event from whoever cannot see it.
    let source = match state.table.get(&draft_key(scope, id)).await {
        Ok(d) => d.map(|d| s(&d, "source_environment_id")),
        Err(e) => return e.into(),
    };
    let ev = NewEvent {
        action: "restore.confirm".into(),
        target: format!("restore/{id}"),
        environment_id: Some(scope.environment_id().clone()),
        outcome: Outcome::Denied,
        reason: Some(reason.clone()),
        metadata: json!({"source_environment_id": source}),
    };
    let ws = scope.workspace();
    if let Err(e) = audit::record_denial(state, ws.workspace_id(), ws.actor(), ws.request_id(), ev).await {
        return e;
    }
    ApiError::Conflict(reason)
}

pub async fn confirm(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
    JsonBody(body): JsonBody<api::RestoreConfirm>,
) -> ApiResult<Response> {
    let mut f = Fields::default();
    f.check("preview_id", RunId::parse(&body.preview_id).map_err(|e| e.0));
    if body.fingerprint.is_empty() {
        f.push("fingerprint", "is the fingerprint of the preview being confirmed");
    }
    f.finish()?;
    let draft = load(&state, &scope, &id).await?;
    if let Err(ApiError::Conflict(why)) = open(&draft) {
        return Err(refuse(&state, &scope, &id, why).await);
    }
    let env = crate::tenancy::environment(&state, &scope).await?;
    let latest = draft.get("preview_id").and_then(Value::as_str).unwrap_or_default();
    let preview = state.table.get(&preview_key(&scope, &id, &body.preview_id)).await?;
    let why = match &preview {
        None => Some("There is no such preview of this restore: preview first.".to_owned()),
        Some(_) if latest != body.preview_id => {
            Some("This is not the restore's latest preview: confirm the latest one.".into())
        }
        Some(p) if state.clock.now_millis() >= p["expires_ms"].as_i64().unwrap_or(0) => {
            Some("The preview expired: preview again and confirm within 15 minutes.".into())
        }
        Some(p) if p["fingerprint"].as_str() != Some(body.fingerprint.as_str()) => {
            Some("The fingerprint does not match the preview: confirm what you previewed.".into())
        }
        Some(_) if body.confirm.trim() != s(&env, "display_name") => Some(format!(
            "The typed name does not match the target environment's name ({}).",
            s(&env, "display_name")
        )),
        Some(p) if p["blockers"].as_array().is_some_and(|b| !b.is_empty()) => Some(format!(
            "The preview has blockers: {}",
            p["blockers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        )),
        Some(_) => None,
    };
    if let Some(why) = why {
        return Err(refuse(&state, &scope, &id, why).await);
    }
    let preview = preview.unwrap_or_default();
    let readiness = restore::readiness(&state, &scope, &draft).await?;
    if readiness.status == atlas_domain::Status::Blocked {
        let why = readiness
            .checks
            .iter()
            .filter(|c| c.status == atlas_domain::Status::Blocked)
            .map(|c| c.message.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        return Err(refuse(&state, &scope, &id, format!("Not ready: {why}")).await);
    }
    let stale = match plan::stale_items(&state, &scope, &draft, &preview).await {
        Ok(s) => s,
        Err(e) => return Err(refuse(&state, &scope, &id, restore::api_message(&e)).await),
    };
    if !stale.is_empty() {
        let why = format!(
            "Stale: live changed since the preview for {}. Preview again.",
            stale.join(", ")
        );
        return Err(refuse(&state, &scope, &id, why).await);
    }

    let mut units: Vec<(String, Value)> = preview["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["key"].as_str())
        .map(|k| (k.to_owned(), json!({"restore_id": id, "preview_id": body.preview_id})))
        .collect();
    // Scope tags, then assignment filters, first: items using ones this run creates wait for them.
    units.sort_by_key(|(k, _)| match k.split('/').next() {
        Some("roleScopeTags") => 0,
        Some("assignmentFilters") => 1,
        _ => 2,
    });
    // The draft moves to confirmed in the run's own commit: no restore writes to the tenant while
    // its draft still says previewed, and no confirmed draft is left without its run.
    let start = crate::runs::Start::new(
        &state,
        OperationType::RestoreExecute,
        restore::QUEUE,
        units,
        restore::DEADLINE_MS,
    );
    let ev = NewEvent::success("restore.confirm", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"preview_id": body.preview_id, "run_id": start.id, "items": preview["items"].as_array().map(Vec::len), "source_environment_id": s(&draft, "source_environment_id")}));
    let ws = scope.workspace();
    let also = vec![
        TxItem::Update {
            key: draft_key(&scope, &id),
            update: Update::new()
                .set("state", "confirmed")
                .set("run_id", start.id.as_str())
                .set("confirmed_preview_id", body.preview_id.as_str()),
            cond: Some(Cond::eq("state", "previewed")),
        },
        TxItem::Put {
            item: audit::item(&state, ws.workspace_id(), ws.actor(), ws.request_id(), ev),
            cond: Some(Cond::NotExists),
        },
    ];
    let start = start.also(also, "the restore was confirmed concurrently");
    let started = crate::runs::start_with(&state, &scope, start).await?;
    if !started.created {
        let run_id = s(&started.run, "run_id");
        let why = format!("Another restore into this environment is running (run {run_id}): wait for it.");
        return Err(refuse(&state, &scope, &id, why).await);
    }
    Ok(crate::routes::operations::accepted(&scope, &started.run))
}

pub async fn cancel(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): RestorePath,
) -> ApiResult<Json<api::Restore>> {
    let draft = load(&state, &scope, &id).await?;
    open(&draft)?;
    let changes = vec![TxItem::Update {
        key: draft_key(&scope, &id),
        update: Update::new().set("state", "cancelled"),
        cond: Some(Cond::Or(vec![
            Cond::eq("state", "draft"),
            Cond::eq("state", "previewed"),
        ])),
    }];
    let ev = NewEvent::success("restore.cancel", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"source_environment_id": s(&draft, "source_environment_id")}));
    audit::commit(&state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the restore changed meanwhile".into()),
            _ => e.into(),
        })?;
    let draft = load(&state, &scope, &id).await?;
    Ok(Json(restore::to_api(&state, &scope, &draft).await?))
}
