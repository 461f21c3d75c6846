//! Restore: draft → readiness → preview (plan read against live, fingerprinted, expiring) →
//! confirmation bound to the preview → `restore.execute` run, one unit per item (spec 006).
//!
//! Items (target environment partition): `RESTORE#<r>` (the draft), `RESTORE#<r>#PREVIEW#<p>`
//! (a plan), `RESTOREMAP#<source env>#<family>#<source id>` (where an earlier restore wrote an
//! object), `MAA#<family>` (a write there needed Multi Admin Approval). Run partition:
//! `RUN#<run>/UNIT#<key>` (a unit's progress: the created id before anything else).

pub mod execute;
pub mod flow;
pub mod graph_ops;
pub mod plan;

use std::collections::BTreeSet;

use atlas_api_types as api;
use atlas_domain::{Capability, EnvironmentId, RunId, Status};
use atlas_graph::families::Family;
use serde_json::Value;

use crate::error::{ServiceError, ServiceResult};
use crate::records;
use crate::records::backups::{self as backup_rec, BackupItemRecord, BackupSetRecord, BlobRecord};
use crate::records::restore::{self as rec, MaaFlagRecord, RestoreDraftRecord, RestorePreviewRecord};
use crate::scope::EnvScope;
use crate::state::AppState;

pub const PREVIEW_TTL_MS: i64 = 15 * 60_000;
pub const DEADLINE_MS: i64 = 2 * 60 * 60_000;
pub const QUEUE: &str = "restore-execute";

/// A restore id as the path names it: one that cannot be a restore's is as absent as a missing one.
pub fn restore_id(raw: &str) -> ServiceResult<RunId> {
    RunId::parse(raw).map_err(|_| ServiceError::NotFound)
}

/// A draft of the scope's environment, whatever its source.
pub async fn draft(state: &AppState, scope: &EnvScope, id: &RunId) -> ServiceResult<Option<RestoreDraftRecord>> {
    Ok(scope.records(&state.table).get(rec::draft_sk(id)).await?)
}

/// A preview of a draft of the scope's environment.
pub async fn preview(
    state: &AppState,
    scope: &EnvScope,
    restore: &str,
    preview: &str,
) -> ServiceResult<Option<RestorePreviewRecord>> {
    let (Ok(restore), Ok(preview)) = (RunId::parse(restore), RunId::parse(preview)) else {
        return Ok(None);
    };
    Ok(scope
        .records(&state.table)
        .get(rec::preview_sk(&restore, &preview))
        .await?)
}

/// The draft's source environment, `None` when it names none.
fn source_env(draft: &RestoreDraftRecord) -> Option<EnvironmentId> {
    EnvironmentId::parse(&draft.source_environment_id).ok()
}

/// The scope of the draft's source environment, for reading its backup (the entitlement to it
/// is checked by [`source_entitled`] wherever a draft is loaded).
pub fn source_scope(scope: &EnvScope, draft: &RestoreDraftRecord) -> EnvScope {
    match source_env(draft) {
        Some(src) => scope.sibling(src),
        None => scope.clone(),
    }
}

/// Whether the actor is entitled to the draft's source environment as well as the target (the
/// scope's). A restore reads the source's backup, so one whose source the actor cannot see is
/// treated as absent everywhere it is loaded, and blocks its run at execution.
pub fn source_entitled(scope: &EnvScope, draft: &RestoreDraftRecord) -> bool {
    source_env(draft).is_some_and(|src| scope.workspace().entitled_to(&src))
}

/// The chosen items' `(family, source id, name, blob hash)`, from the backup set.
pub async fn chosen_items(
    state: &AppState,
    source: &EnvScope,
    draft: &RestoreDraftRecord,
) -> ServiceResult<Vec<(String, String, String, String)>> {
    let gone = |key: &str| ServiceError::Conflict(format!("{key} is no longer in the backup set"));
    let set = RunId::parse(&draft.backup_set_id).ok();
    // The set's items read once (its family manifests), then picked by key.
    let mut in_set: std::collections::BTreeMap<(String, String), BackupItemRecord> = std::collections::BTreeMap::new();
    if let Some(set) = &set {
        for i in crate::backup::items_in(&state.table, &source.pk(), set, None).await? {
            in_set.insert((i.family.clone(), i.item_id.clone()), i);
        }
    }
    let mut out = Vec::new();
    for key in &draft.items {
        let Some((family, id)) = key.split_once('/') else {
            continue;
        };
        let rec = in_set
            .get(&(family.to_owned(), id.to_owned()))
            .ok_or_else(|| gone(key))?;
        out.push((family.to_owned(), id.to_owned(), rec.name.clone(), rec.hash.clone()));
    }
    Ok(out)
}

pub async fn payload(state: &AppState, source: &EnvScope, hash: &str) -> ServiceResult<Value> {
    let blob = source
        .records(&state.table)
        .get::<BlobRecord>(backup_rec::blob_sk(hash))
        .await?
        .ok_or_else(|| ServiceError::Conflict("the backup's payload is gone (the set was deleted)".into()))?;
    Ok(blob.into_payload()?)
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
pub async fn readiness(
    state: &AppState,
    scope: &EnvScope,
    draft: &RestoreDraftRecord,
) -> ServiceResult<api::Readiness> {
    let mut checks = Vec::new();
    let families: Vec<&'static Family> = {
        let mut f: Vec<&'static Family> = draft
            .items
            .iter()
            .filter_map(|k| k.split_once('/').and_then(|(f, _)| Family::by_code(f)))
            .collect();
        f.sort_by_key(|f| f.code);
        f.dedup_by_key(|f| f.code);
        f
    };

    let connection = crate::provider::load(state, scope).await?;
    let (st, why) = crate::provider::status(connection.as_ref(), state.clock.now_millis());
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
            Err(e) => checks.push(check("permission", Status::Blocked, message(e), None)),
        }
    }

    let source = source_scope(scope, draft);
    let set_id = RunId::parse(&draft.backup_set_id).ok();
    let set = match &set_id {
        Some(id) => {
            source
                .records(&state.table)
                .get::<BackupSetRecord>(backup_rec::set_sk(id))
                .await?
        }
        None => None,
    };
    match set {
        None => checks.push(check(
            "backup",
            Status::Blocked,
            "The backup set no longer exists.",
            None,
        )),
        Some(set) => {
            let run = crate::runs::get(state, set.set_id.as_str()).await?;
            let view = crate::backup::set_api(&set, run.as_ref());
            let accept = draft.accept_partial;
            let c = match view.state.as_str() {
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

    let records = scope.records(&state.table);
    let maa: Vec<MaaFlagRecord> = records::query_all(&state.table, records.query(rec::MAA)).await?;
    for f in &families {
        let policy = f
            .approval_policy_type()
            .filter(|t| matches!(&approval, Some(Ok(types)) if types.contains(*t)));
        let msg = if let Some(t) = policy {
            format!(
                "{}: a Multi Admin Approval policy ({t}) protects it in this tenant; each write waits for a second administrator's approval.",
                f.label
            )
        } else if maa.iter().any(|m| m.family == f.code) {
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
pub(crate) fn wait_if_throttled(e: &atlas_graph::GraphError) -> ServiceResult<()> {
    match e.must_wait() {
        Some(wait) => Err(ServiceError::Wait(wait)),
        None => Ok(()),
    }
}

/// What a refusal or a failed item says: a conflict's reason as it is, else the error as the API
/// names it.
pub fn message(e: ServiceError) -> String {
    match e {
        ServiceError::Conflict(m) => m,
        e => crate::error::ApiError::from(e).to_string(),
    }
}

/// The API view of a draft.
pub async fn to_api(state: &AppState, scope: &EnvScope, draft: &RestoreDraftRecord) -> ServiceResult<api::Restore> {
    let env = crate::tenancy::environment_record(state, scope).await?;
    let preview = match &draft.preview_id {
        Some(p) => preview(state, scope, &draft.restore_id, p)
            .await?
            .map(|p| api::RestorePreview::from(&p)),
        None => None,
    };
    let run = match &draft.run_id {
        Some(r) => crate::runs::get(state, r).await?.map(|r| r.to_api()),
        None => None,
    };
    let readiness = if draft.is_open() {
        readiness(state, scope, draft).await?
    } else {
        api::Readiness {
            status: Status::Historical,
            checks: Vec::new(),
        }
    };
    Ok(api::Restore {
        id: draft.restore_id.clone(),
        environment_id: scope.environment_id().to_string(),
        environment_name: env.display_name,
        source_environment_id: draft.source_environment_id.clone(),
        backup_set_id: draft.backup_set_id.clone(),
        items: draft.items.clone(),
        include_assignments: draft.include_assignments,
        accept_partial: draft.accept_partial,
        state: draft.state,
        status: draft.state.canonical(run.as_ref().map(|r| r.status)),
        readiness,
        preview,
        run,
        created_by: draft.created_by_email.clone(),
        created_ms: draft.created_ms,
    })
}
