//! Restore: draft → readiness → preview (plan read against live, fingerprinted, expiring) →
//! confirmation bound to the preview → `restore.execute` run, one unit per item (spec 006).
//!
//! Items (target environment partition): `RESTORE#<r>` (the draft), `RESTORE#<r>#PREVIEW#<p>`
//! (a plan), `RESTOREMAP#<source env>#<family>#<source id>` (where an earlier restore wrote an
//! object), `MAA#<family>` (a write there needed Multi Admin Approval). Run partition:
//! `RUN#<run>/UNIT#<key>` (a unit's progress: the created id before anything else).

pub mod execute;
pub mod graph_ops;
pub mod plan;

use std::collections::BTreeSet;

use atlas_api_types as api;
use atlas_domain::{Capability, EnvironmentId, RestoreState, Status};
use atlas_graph::families::Family;
use atlas_store::{Item, Key, Query};
use serde_json::Value;

use crate::error::ApiError;
use crate::scope::{EnvScope, env_pk};
use crate::state::AppState;
use crate::tenancy::{n, s};

pub const PREVIEW_TTL_MS: i64 = 15 * 60_000;
pub const DEADLINE_MS: i64 = 2 * 60 * 60_000;
pub const QUEUE: &str = "restore-execute";

pub fn draft_key(scope: &EnvScope, id: &str) -> Key {
    Key::new(scope.pk(), format!("RESTORE#{id}"))
}

pub fn preview_key(scope: &EnvScope, restore: &str, preview: &str) -> Key {
    Key::new(scope.pk(), format!("RESTORE#{restore}#PREVIEW#{preview}"))
}

pub fn mapping_key(target_pk: &str, source_env: &str, family: &str, source_id: &str) -> Key {
    Key::new(
        target_pk.to_owned(),
        format!("RESTOREMAP#{source_env}#{family}#{source_id}"),
    )
}

pub fn maa_key(target_pk: &str, family: &str) -> Key {
    Key::new(target_pk.to_owned(), format!("MAA#{family}"))
}

/// The draft's source partition.
pub fn source_pk(scope: &EnvScope, draft: &Item) -> String {
    match EnvironmentId::parse(&s(draft, "source_environment_id")) {
        Ok(src) => env_pk(scope.workspace().workspace_id(), &src),
        Err(_) => scope.pk(),
    }
}

/// Whether the actor is entitled to the draft's source environment as well as the target (the
/// scope's). A restore reads the source's backup, so one whose source the actor cannot see is
/// treated as absent everywhere it is loaded, and blocks its run at execution.
pub fn source_entitled(scope: &EnvScope, draft: &Item) -> bool {
    EnvironmentId::parse(&s(draft, "source_environment_id")).is_ok_and(|src| scope.workspace().entitled_to(&src))
}

/// The chosen items' `(family, source id, name, blob hash)`, from the backup set.
pub async fn chosen_items(
    state: &AppState,
    source_pk: &str,
    draft: &Item,
) -> Result<Vec<(String, String, String, String)>, ApiError> {
    let set = s(draft, "backup_set_id");
    let chosen: Vec<String> = strings(draft, "items");
    let mut out = Vec::new();
    for key in chosen {
        let Some((family, id)) = key.split_once('/') else {
            continue;
        };
        let rec = state
            .table
            .get(&Key::new(
                source_pk.to_owned(),
                format!("BACKUP#{set}#ITEM#{family}#{id}"),
            ))
            .await?
            .ok_or_else(|| ApiError::Conflict(format!("{key} is no longer in the backup set")))?;
        out.push((family.to_owned(), id.to_owned(), s(&rec, "name"), s(&rec, "hash")));
    }
    Ok(out)
}

pub async fn payload(state: &AppState, source_pk: &str, hash: &str) -> Result<Value, ApiError> {
    let blob = state
        .table
        .get(&Key::new(source_pk.to_owned(), format!("BLOB#{hash}")))
        .await?
        .ok_or_else(|| ApiError::Conflict("the backup's payload is gone (the set was deleted)".into()))?;
    Ok(blob.get("payload").cloned().unwrap_or(Value::Null))
}

pub fn strings(i: &Item, k: &str) -> Vec<String> {
    i.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn check(code: &str, status: Status, message: impl Into<String>, family: Option<&str>) -> api::ReadinessCheck {
    api::ReadinessCheck {
        code: code.to_owned(),
        status,
        message: message.into(),
        family: family.map(str::to_owned),
    }
}

/// Readiness of a draft: provider, write permissions, backup completeness, families, Multi
/// Admin Approval, and whether this actor may confirm.
pub async fn readiness(state: &AppState, scope: &EnvScope, draft: &Item) -> Result<api::Readiness, ApiError> {
    let mut checks = Vec::new();
    let families: Vec<&'static Family> = {
        let mut f: Vec<&'static Family> = strings(draft, "items")
            .iter()
            .filter_map(|k| k.split_once('/').and_then(|(f, _)| Family::by_code(f)))
            .collect();
        f.sort_by_key(|f| f.code);
        f.dedup_by_key(|f| f.code);
        f
    };

    let conn = state.table.get(&crate::provider::key(scope)).await?;
    let (st, why) = crate::provider::status(conn.as_ref(), state.clock.now_millis());
    let provider_status = match st {
        Status::Ready => Status::Ready,
        Status::Unknown | Status::NeedsAttention => Status::NeedsAttention,
        _ => Status::Blocked,
    };
    checks.push(check("provider", provider_status, why, None));

    // MAA access policies of the tenant by `policyType`, or why they could not be read.
    let mut approval: Option<Result<BTreeSet<String>, String>> = None;
    if provider_status != Status::Blocked {
        match plan::target_client(state, scope).await {
            Ok(client) => match client.token().await {
                Ok(token) => {
                    approval = Some(approval_policy_types(&client).await);
                    for f in &families {
                        if f.permission.can_write(&token.roles) {
                            continue;
                        }
                        let msg = format!(
                            "{} is not granted: {} cannot be written.",
                            f.write_permission(),
                            f.label
                        );
                        checks.push(check("permission", Status::Blocked, msg, Some(f.code)));
                    }
                }
                Err(e) => checks.push(check(
                    "permission",
                    Status::Blocked,
                    format!("Could not sign in to the tenant: {e}"),
                    None,
                )),
            },
            Err(e) => checks.push(check("permission", Status::Blocked, api_message(&e), None)),
        }
    }

    let src_pk = source_pk(scope, draft);
    let set_id = s(draft, "backup_set_id");
    let set = state
        .table
        .get(&Key::new(src_pk.clone(), format!("BACKUPSET#{set_id}")))
        .await?;
    match set {
        None => checks.push(check(
            "backup",
            Status::Blocked,
            "The backup set no longer exists.",
            None,
        )),
        Some(set) => {
            let run = state.table.get(&crate::runs::run_key(&set_id)).await?;
            let view = crate::backup::set_api(&set, run.as_ref());
            let accept = draft.get("accept_partial").and_then(Value::as_bool).unwrap_or(false);
            let c = match view.status.as_str() {
                "complete" => check("backup", Status::Ready, "The backup set is complete.", None),
                "partial" if accept => check(
                    "backup",
                    Status::NeedsAttention,
                    "The backup set is partial; restoring from it was explicitly accepted.",
                    None,
                ),
                "partial" => check(
                    "backup",
                    Status::Blocked,
                    "The backup set is partial: accept it explicitly to restore from it.",
                    None,
                ),
                other => check("backup", Status::Blocked, format!("The backup set is {other}."), None),
            };
            checks.push(c);
        }
    }

    let maa = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("MAA#"))
        .await?;
    for f in &families {
        let policy = f
            .approval_policy_type()
            .filter(|t| matches!(&approval, Some(Ok(types)) if types.contains(*t)));
        let msg = if let Some(t) = policy {
            format!(
                "{}: a Multi Admin Approval policy ({t}) protects it in this tenant; each write waits for a second administrator's approval.",
                f.label
            )
        } else if maa.iter().any(|m| s(m, "family") == f.code) {
            format!(
                "{}: a write needed Multi Admin Approval; writes wait for an approver.",
                f.label
            )
        } else {
            continue;
        };
        checks.push(check("approval", Status::NeedsAttention, msg, Some(f.code)));
    }
    if let Some(Err(why)) = &approval {
        let msg = format!(
            "Multi Admin Approval policies could not be read ({why}); a write that needs approval is reported when it happens."
        );
        checks.push(check("approval", Status::Ready, msg, None));
    }
    checks.push(check(
        "family",
        Status::Ready,
        format!("{} family(ies) chosen, each writable.", families.len()),
        None,
    ));

    if !scope.workspace().can(Capability::RestoreExecute) {
        checks.push(check(
            "authority",
            Status::NeedsAttention,
            "You can preview; confirming needs restore.execute (a Manager or Owner).",
            None,
        ));
    }
    let worst = if checks.iter().any(|c| c.status == Status::Blocked) {
        Status::Blocked
    } else if checks.iter().any(|c| c.status == Status::NeedsAttention) {
        Status::NeedsAttention
    } else {
        Status::Ready
    };
    Ok(api::Readiness { status: worst, checks })
}

/// The `policyType`s of the tenant's Multi Admin Approval access policies.
async fn approval_policy_types(client: &atlas_graph::TenantClient) -> Result<BTreeSet<String>, String> {
    let policies = client
        .list_all("/beta/deviceManagement/operationApprovalPolicies")
        .await
        .map_err(|e| e.to_string())?;
    Ok(policies
        .iter()
        .filter_map(|p| p.get("policyType").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// Graph asked the tenant to wait longer than a unit sleeps ([`crate::steps::MAX_RETRY_WAIT`]):
/// the unit re-queues itself with that delay rather than failing its item (its phase record makes
/// the retry resume where it stopped; a 429 means the write was not applied), and a preview
/// answers 503.
pub(crate) fn wait_if_throttled(e: &atlas_graph::GraphError) -> Result<(), ApiError> {
    match e.must_wait() {
        Some(wait) => Err(ApiError::Wait(wait)),
        None => Ok(()),
    }
}

pub fn api_message(e: &ApiError) -> String {
    match e {
        ApiError::Conflict(m) => m.clone(),
        e => e.to_string(),
    }
}

/// The API view of a draft.
pub async fn to_api(state: &AppState, scope: &EnvScope, draft: &Item) -> Result<api::Restore, ApiError> {
    let env = crate::tenancy::environment(state, scope).await?;
    let preview = match draft.get("preview_id").and_then(Value::as_str) {
        Some(p) => state
            .table
            .get(&preview_key(scope, &s(draft, "restore_id"), p))
            .await?
            .and_then(|i| plan::preview_api(&i, state.clock.now_millis())),
        None => None,
    };
    let run = match draft.get("run_id").and_then(Value::as_str) {
        Some(r) => state
            .table
            .get(&crate::runs::run_key(r))
            .await?
            .map(|r| crate::runs::to_api(&r)),
        None => None,
    };
    let readiness = if matches!(s(draft, "state").as_str(), "draft" | "previewed") {
        readiness(state, scope, draft).await?
    } else {
        api::Readiness {
            status: Status::Historical,
            checks: Vec::new(),
        }
    };
    Ok(api::Restore {
        id: s(draft, "restore_id"),
        environment_id: scope.environment_id().to_string(),
        environment_name: s(&env, "display_name"),
        source_environment_id: s(draft, "source_environment_id"),
        backup_set_id: s(draft, "backup_set_id"),
        items: strings(draft, "items"),
        include_assignments: draft
            .get("include_assignments")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        accept_partial: draft.get("accept_partial").and_then(Value::as_bool).unwrap_or(false),
        state: RestoreState::parse(&s(draft, "state")).unwrap_or(RestoreState::Cancelled),
        readiness,
        preview,
        run,
        created_by: s(draft, "created_by_email"),
        created_ms: n(draft, "created_ms"),
    })
}
