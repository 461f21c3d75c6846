//! The restore flow as a service (spec 006): draft, preview, confirm, cancel. Routes parse the
//! request and shape the answer; every rule of the flow (which source may be used, when a draft
//! is open, why a confirmation is refused, what a run is started with) lives here.

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, OperationType, RestoreState, RunId, Status};
use atlas_store::{Cond, TableError, TxItem};
use serde_json::{Value, json};

use super::plan;
use crate::audit::{self, NewEvent, Outcome};
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::records::Record;
use crate::records::restore::{self as rec, NewDraft, RestoreDraftRecord, RestorePreviewRecord};
use crate::records::runs::OperationRun;
use crate::scope::EnvScope;
use crate::state::AppState;

/// A restore of this environment the actor may see: one sourced from an environment the actor
/// cannot see is as absent as a missing one.
pub async fn load(state: &AppState, scope: &EnvScope, id: &str) -> ServiceResult<RestoreDraftRecord> {
    let id = super::restore_id(id)?;
    let draft = super::draft(state, scope, &id).await?.ok_or(ServiceError::NotFound)?;
    if !super::source_entitled(scope, &draft) {
        return Err(ServiceError::NotFound);
    }
    Ok(draft)
}

fn open(draft: &RestoreDraftRecord) -> ServiceResult<()> {
    match draft.state {
        _ if draft.is_open() => Ok(()),
        RestoreState::Confirmed => Err(ServiceError::Conflict(
            "this restore was confirmed; its run is under way or done".into(),
        )),
        other => Err(ServiceError::Conflict(format!("this restore is {other}"))),
    }
}

/// Which of `raw` (`family/id` keys) are not keys at all.
fn check_keys(f: &mut Fields, raw: &Option<Vec<String>>) {
    let Some(items) = raw else { return };
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

/// Drafts a restore of a backup set of `body.source_environment_id` (this environment when left
/// out) into this environment.
pub async fn create(state: &AppState, scope: &EnvScope, body: api::RestoreCreate) -> ServiceResult<RestoreDraftRecord> {
    let mut f = Fields::default();
    let set = f.check("backup_set_id", RunId::parse(&body.backup_set_id).map_err(|e| e.0));
    let source = match &body.source_environment_id {
        None => Some(scope.environment_id().clone()),
        Some(raw) => f.check("source_environment_id", EnvironmentId::parse(raw).map_err(|e| e.0)),
    };
    check_keys(&mut f, &body.items);
    f.checked()?;
    let (Some(set), Some(source)) = (set, source) else {
        return Err(ServiceError::Permanent("checked fields without their values".into()));
    };
    // The source must be an environment of this workspace the actor is entitled to; otherwise
    // it is as absent as a missing one.
    if !scope.workspace().entitled_to(&source) {
        return Err(ServiceError::NotFound);
    }
    let source_scope = scope.sibling(source.clone());
    crate::tenancy::environment_record(state, &source_scope).await?;
    let in_set: Vec<String> = crate::backup::set_items(state, &source_scope, &set)
        .await?
        .ok_or_else(|| ServiceError::field("backup_set_id", "is not a backup set of the source environment"))?
        .iter()
        .map(|i| i.path())
        .collect();
    let items = match body.items {
        None => in_set,
        Some(chosen) => {
            let mut f = Fields::default();
            for k in chosen.iter().filter(|k| !in_set.contains(k)) {
                f.push("items", format!("{k} is not in the backup set"));
            }
            f.checked()?;
            chosen
        }
    };
    if items.is_empty() {
        return Err(ServiceError::field("backup_set_id", "the backup set holds no items"));
    }
    let id = RunId::parse(&state.ids.next_id()).map_err(|e| ServiceError::Permanent(e.0.to_owned()))?;
    let ws = scope.workspace().workspace_id();
    let draft = RestoreDraftRecord::new(
        ws,
        scope.environment_id(),
        NewDraft {
            restore: &id,
            source: &source,
            backup_set: &set,
            items,
            include_assignments: body.include_assignments.unwrap_or(true),
            accept_partial: body.accept_partial.unwrap_or(false),
            created_by_email: scope.workspace().actor().email.clone(),
            created_ms: state.clock.now_millis(),
        },
    );
    let ev = NewEvent::success("restore.draft", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"backup_set_id": set.as_str(), "source_environment_id": source.as_str(), "items": draft.items.len()}));
    audit::commit(state, scope.workspace(), vec![draft.create()], ev).await?;
    Ok(draft)
}

/// A commit that fails at its `at`-th change failed because the draft changed meanwhile.
fn changed_meanwhile(at: usize, why: &'static str) -> impl Fn(TableError) -> ServiceError {
    move |e| match audit::failed_at(&e) {
        Some(i) if i == at => ServiceError::Conflict(why.into()),
        _ => e.into(),
    }
}

/// Previews an open draft against live and makes it the draft's latest preview.
pub async fn preview(
    state: &AppState,
    scope: &EnvScope,
    id: &str,
    req: &api::RestorePreviewRequest,
) -> ServiceResult<RestorePreviewRecord> {
    let draft = load(state, scope, id).await?;
    open(&draft)?;
    let p = plan::preview(state, scope, &draft, &req.group_mapping).await?.record;
    let changes = vec![
        p.create(),
        TxItem::Update {
            key: draft.key(),
            update: rec::previewed(&p.preview_id),
            cond: Some(rec::while_open()),
        },
    ];
    let ev = NewEvent::success("restore.preview", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"preview_id": p.preview_id, "summary": p.plan.summary, "blockers": p.plan.blockers, "source_environment_id": draft.source_environment_id}));
    audit::commit(state, scope.workspace(), changes, ev)
        .await
        .map_err(changed_meanwhile(1, "the restore changed while it was previewed"))?;
    Ok(p)
}

/// A refused confirmation: a conflict with the reason, and a denied audit event. No run, nothing
/// else written.
async fn refuse(state: &AppState, scope: &EnvScope, id: &str, reason: String) -> ServiceError {
    // The source, so the audit log hides the event from whoever cannot see it.
    let draft = match super::restore_id(id) {
        Ok(id) => super::draft(state, scope, &id).await,
        Err(_) => Ok(None),
    };
    let source = match draft {
        Ok(d) => d.map(|d| d.source_environment_id),
        Err(e) => return e,
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
    ServiceError::Conflict(reason)
}

/// Why `body` cannot confirm `preview` (the draft's latest is `latest`), if it cannot.
fn refusal(
    state: &AppState,
    body: &api::RestoreConfirm,
    latest: &str,
    environment_name: &str,
    preview: Option<&RestorePreviewRecord>,
) -> Option<String> {
    let Some(p) = preview else {
        return Some("There is no such preview of this restore: preview first.".to_owned());
    };
    if latest != body.preview_id {
        Some("This is not the restore's latest preview: confirm the latest one.".into())
    } else if state.clock.now_millis() >= p.plan.expires_ms {
        Some("The preview expired: preview again and confirm within 15 minutes.".into())
    } else if p.plan.fingerprint != body.fingerprint {
        Some("The fingerprint does not match the preview: confirm what you previewed.".into())
    } else if body.confirm.trim() != environment_name {
        Some(format!(
            "The typed name does not match the target environment's name ({environment_name})."
        ))
    } else if !p.plan.blockers.is_empty() {
        Some(format!("The preview has blockers: {}", p.plan.blockers.join(" ")))
    } else {
        None
    }
}

/// Confirms the draft's latest preview: starts the run that writes it, in the same commit that
/// moves the draft to confirmed. Every refusal is a conflict with its reason, audited as denied.
pub async fn confirm(
    state: &AppState,
    scope: &EnvScope,
    id: &str,
    body: &api::RestoreConfirm,
) -> ServiceResult<OperationRun> {
    let mut f = Fields::default();
    f.check("preview_id", RunId::parse(&body.preview_id).map_err(|e| e.0));
    if body.fingerprint.is_empty() {
        f.push("fingerprint", "is the fingerprint of the preview being confirmed");
    }
    f.checked()?;
    let draft = load(state, scope, id).await?;
    if let Err(ServiceError::Conflict(why)) = open(&draft) {
        return Err(refuse(state, scope, id, why).await);
    }
    let env = crate::tenancy::environment_record(state, scope).await?;
    let latest = draft.preview_id.as_deref().unwrap_or_default();
    let preview = super::preview(state, scope, id, &body.preview_id).await?;
    let preview = match (
        refusal(state, body, latest, &env.display_name, preview.as_ref()),
        preview,
    ) {
        (None, Some(preview)) => preview,
        (why, _) => {
            let why = why.unwrap_or_else(|| "There is no such preview of this restore: preview first.".to_owned());
            return Err(refuse(state, scope, id, why).await);
        }
    };
    let readiness = super::readiness(state, scope, &draft).await?;
    if readiness.status == Status::Blocked {
        let why = readiness
            .checks
            .iter()
            .filter(|c| c.status == Status::Blocked)
            .map(|c| c.message.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        return Err(refuse(state, scope, id, format!("Not ready: {why}")).await);
    }
    let stale = match plan::stale_items(state, scope, &draft, &preview).await {
        Ok(s) => s,
        Err(e) => return Err(refuse(state, scope, id, super::message(e)).await),
    };
    if !stale.is_empty() {
        let why = format!(
            "Stale: live changed since the preview for {}. Preview again.",
            stale.join(", ")
        );
        return Err(refuse(state, scope, id, why).await);
    }

    let mut units: Vec<(String, Value)> = preview
        .plan
        .items
        .iter()
        .map(|p| (p.key.clone(), json!({"restore_id": id, "preview_id": body.preview_id})))
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
        state,
        OperationType::RestoreExecute,
        super::QUEUE,
        units,
        super::DEADLINE_MS,
    );
    let ev = NewEvent::success("restore.confirm", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"preview_id": body.preview_id, "run_id": start.id, "items": preview.plan.items.len(), "source_environment_id": draft.source_environment_id}));
    let ws = scope.workspace();
    let also = vec![
        TxItem::Update {
            key: draft.key(),
            update: rec::confirmed(&start.id, &body.preview_id),
            cond: Some(rec::in_state(RestoreState::Previewed)),
        },
        TxItem::Put {
            item: audit::item(state, ws.workspace_id(), ws.actor(), ws.request_id(), ev),
            cond: Some(Cond::NotExists),
        },
    ];
    let start = start.also(also, "the restore was confirmed concurrently");
    let started = crate::runs::start_with(state, scope, start).await?;
    if !started.created {
        let run_id = &started.run.run_id;
        let why = format!("Another restore into this environment is running (run {run_id}): wait for it.");
        return Err(refuse(state, scope, id, why).await);
    }
    Ok(started.run)
}

/// Cancels an open draft; answers it as it is now.
pub async fn cancel(state: &AppState, scope: &EnvScope, id: &str) -> ServiceResult<RestoreDraftRecord> {
    let draft = load(state, scope, id).await?;
    open(&draft)?;
    let changes = vec![TxItem::Update {
        key: draft.key(),
        update: rec::cancelled(),
        cond: Some(rec::while_open()),
    }];
    let ev = NewEvent::success("restore.cancel", format!("restore/{id}"))
        .env(scope.environment_id())
        .meta(json!({"source_environment_id": draft.source_environment_id}));
    audit::commit(state, scope.workspace(), changes, ev)
        .await
        .map_err(changed_meanwhile(0, "the restore changed meanwhile"))?;
    load(state, scope, id).await
}
