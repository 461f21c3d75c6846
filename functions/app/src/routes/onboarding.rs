//! The onboarding wizard's drafts (spec 024, ADR 0045): add an environment with its provider
//! connection, then admin consent, verification, the first inventory and the first backup. A
//! draft stores only which runs it started; where it stands is derived each time it is read from
//! the environment, its connection and those runs, so a step done elsewhere (consent granted in
//! another tab, a sync started from the inventory page) moves the draft on as well.

use atlas_api_types as api;
use atlas_api_types::OnboardingStep as Step;
use atlas_domain::{
    ConnectionLifecycle, DisplayName, EnvironmentId, EnvironmentLifecycle, OperationType, RunOutcome, Status, TenantId,
    WorkspaceId,
};
use atlas_store::{Cond, TxItem, Update};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody};
use crate::records::onboarding::{DRAFT_PREFIX, OnboardingRecord, draft_sk};
use crate::records::provider::{AppMode, ConnectionRecord, connection_key};
use crate::records::runs::OperationRun;
use crate::records::tenancy::{EnvironmentRecord, TenantLockRecord, env_sk, tenant_lock_sk};
use crate::records::{self, Record};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

/// The tenant as entered: its GUID, or a domain Entra's OpenID discovery names the tenant of
/// (`login.microsoftonline.com/{domain}/v2.0/.well-known/openid-configuration`, whose issuer
/// carries the tenant id). Returns the tenant id and the primary domain ("" for a GUID).
async fn resolve_tenant(state: &AppState, raw: &str) -> Result<(String, String), String> {
    let raw = raw.trim();
    if let Ok(t) = TenantId::parse(raw) {
        return Ok((t.as_str().to_owned(), String::new()));
    }
    let domain = raw.to_ascii_lowercase();
    let ok = domain.contains('.')
        && domain.len() <= 253
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !ok {
        return Err("must be the tenant's GUID or one of its verified domains, like contoso.onmicrosoft.com".into());
    }
    let url = format!(
        "{}/{domain}/v2.0/.well-known/openid-configuration",
        state.provider.login_base.trim_end_matches('/')
    );
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let unknown = || format!("no Microsoft Entra tenant answers to {domain}; enter its GUID instead");
    let res = http.get(url).send().await.map_err(|_| unknown())?;
    if !res.status().is_success() {
        return Err(unknown());
    }
    let doc: serde_json::Value = res.json().await.map_err(|_| unknown())?;
    let tid = doc["issuer"]
        .as_str()
        .and_then(|iss| iss.split('/').find_map(|s| TenantId::parse(s).ok()))
        .ok_or_else(unknown)?;
    Ok((tid.as_str().to_ascii_lowercase(), domain))
}

/// An environment id from the display name: `env-` and its letters and digits, with `-2`… when
/// the workspace has one by that id already.
async fn mint_environment_id(state: &AppState, scope: &WorkspaceScope, name: &str) -> ApiResult<EnvironmentId> {
    let mut base = String::from("env-");
    for c in name.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            base.push(c);
        } else if !base.ends_with('-') {
            base.push('-');
        }
    }
    let base: String = base.trim_end_matches('-').chars().take(56).collect();
    let base = if base == "env" { "env-new".to_owned() } else { base };
    let records = scope.records(&state.table);
    for n in 1..=20 {
        let candidate = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        let id = EnvironmentId::parse(candidate.trim_end_matches('-')).map_err(ApiError::internal)?;
        if records.get::<EnvironmentRecord>(env_sk(&id)).await?.is_none() {
            return Ok(id);
        }
    }
    Err(ApiError::Conflict(
        "many environments have this name; choose another name".into(),
    ))
}

fn ended_ok(run: Option<&OperationRun>) -> bool {
    run.is_some_and(|r| {
        !r.is_active() && matches!(r.outcome, Some(RunOutcome::Succeeded | RunOutcome::PartiallySucceeded))
    })
}

async fn run(state: &AppState, id: Option<&String>) -> ApiResult<Option<OperationRun>> {
    Ok(match id {
        Some(id) => crate::runs::get(state, id).await?,
        None => None,
    })
}

/// Where a step's run leaves the draft: running, failed with why, or waiting for the operator.
fn step_status(run: Option<&OperationRun>, waiting: &str) -> (Status, String) {
    match run {
        Some(r) if r.is_active() => (Status::Running, format!("{} is running.", r.kind.label())),
        Some(r) if !ended_ok(Some(r)) => (
            r.status(),
            format!(
                "{} ended {}: {}",
                r.kind.label(),
                r.outcome
                    .map(|o| o.as_str())
                    .unwrap_or("without an outcome")
                    .replace('_', " "),
                r.reason.as_deref().unwrap_or("see the run for each item")
            ),
        ),
        _ => (Status::NotConfigured, waiting.to_owned()),
    }
}

/// The draft as the API shows it, derived from the environment, its connection and the runs.
pub async fn view(state: &AppState, d: &OnboardingRecord) -> ApiResult<api::OnboardingDraft> {
    let env: Option<EnvironmentRecord> = records::get(
        &state.table,
        &crate::records::tenancy::env_key(&d.workspace_id, &d.environment_id),
    )
    .await?;
    let conn: Option<ConnectionRecord> =
        records::get(&state.table, &connection_key(&d.workspace_id, &d.environment_id)).await?;
    let (verify, inventory, backup) = (
        run(state, d.verify_run.as_ref()).await?,
        run(state, d.inventory_run.as_ref()).await?,
        run(state, d.backup_run.as_ref()).await?,
    );
    let consented = conn
        .as_ref()
        .is_some_and(|c| c.lifecycle == ConnectionLifecycle::Consented && c.proof().is_some());
    let verified = consented
        && conn
            .as_ref()
            .and_then(|c| c.verification.as_ref())
            .is_some_and(|v| v.token_ok);
    let now = state.clock.now_millis();
    let (step, (mut status, mut reason), current) = if !consented {
        let (st, why) = crate::provider::status(conn.as_ref(), now);
        let why = if st == Status::NotConfigured {
            "Waiting for a tenant administrator to grant admin consent.".to_owned()
        } else {
            why
        };
        (Step::Consent, (st, why), None)
    } else if !verified {
        let st = match &verify {
            // The run ended but the connection could not sign in: the provider's words say why.
            Some(r) if !r.is_active() => {
                let (st, why) = crate::provider::status(conn.as_ref(), now);
                (if st == Status::Unknown { r.status() } else { st }, why)
            }
            _ => step_status(verify.as_ref(), "Consent granted: verify the connection next."),
        };
        (Step::Verify, st, verify)
    } else if !ended_ok(inventory.as_ref()) {
        let st = step_status(inventory.as_ref(), "Verified: sync the inventory next.");
        (Step::Inventory, st, inventory)
    } else if !ended_ok(backup.as_ref()) {
        let st = step_status(backup.as_ref(), "The inventory is synced: run the first backup next.");
        (Step::Backup, st, backup)
    } else {
        let partial = backup
            .as_ref()
            .is_some_and(|r| r.outcome == Some(RunOutcome::PartiallySucceeded));
        let st = if partial {
            (
                Status::NeedsAttention,
                "Onboarded; the first backup is partial: open it to retry its failed items.".to_owned(),
            )
        } else {
            (Status::Ready, "Onboarded: the first backup is complete.".to_owned())
        };
        (Step::Done, st, backup)
    };
    match env.as_ref().map(|e| e.lifecycle) {
        Some(EnvironmentLifecycle::Active) => {}
        Some(l) => {
            status = Status::Blocked;
            reason = format!("The environment is {l}: reactivate it to go on.");
        }
        None => {
            status = Status::Unknown;
            reason = "The environment no longer exists.".into();
        }
    }
    Ok(api::OnboardingDraft {
        id: d.environment_id.to_string(),
        environment_id: d.environment_id.to_string(),
        display_name: env.as_ref().map(|e| e.display_name.clone()).unwrap_or_default(),
        tenant: d.tenant.clone(),
        tenant_id: env.as_ref().map(|e| e.tenant_id.clone()).unwrap_or_default(),
        state: step,
        status,
        reason,
        run: current.as_ref().map(crate::runs::to_api),
        verify_run_id: d.verify_run.clone(),
        inventory_run_id: d.inventory_run.clone(),
        backup_run_id: d.backup_run.clone(),
        created_by: d.created_by_email.clone(),
        created_ms: d.created_ms,
        updated_ms: d.updated_ms,
    })
}

/// The draft of an environment the caller is entitled to; anything else is not found.
async fn draft_of(state: &AppState, scope: &WorkspaceScope, raw: &str) -> ApiResult<(OnboardingRecord, EnvScope)> {
    let env = EnvironmentId::parse(raw).map_err(|_| ApiError::NotFound)?;
    let env_scope = scope.environment(&env).ok_or(ApiError::NotFound)?;
    let d = scope
        .records(&state.table)
        .get::<OnboardingRecord>(draft_sk(&env))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((d, env_scope))
}

/// Whether the wizard added this environment and is not done with it: the consent callback then
/// sends the browser back to the wizard instead of the provider page.
pub async fn resumes_at(state: &AppState, ws: &WorkspaceId, env: &EnvironmentId) -> Option<String> {
    let key = atlas_store::Key::new(crate::records::keys::ws_pk(ws), draft_sk(env));
    let d: OnboardingRecord = records::get(&state.table, &key).await.ok()??;
    (d.backup_run.is_none()).then(|| format!("/workspaces/{ws}/onboarding/{env}"))
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::OnboardingDraftList>> {
    let drafts: Vec<OnboardingRecord> =
        records::query_all(&state.table, scope.records(&state.table).query(DRAFT_PREFIX)).await?;
    let mut items = Vec::new();
    for d in drafts.iter().filter(|d| scope.entitled_to(&d.environment_id)) {
        items.push(view(&state, d).await?);
    }
    items.sort_by_key(|d| std::cmp::Reverse(d.updated_ms));
    Ok(Json(api::OnboardingDraftList { items }))
}

pub async fn get(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, draft)): Path<(String, String)>,
) -> ApiResult<Json<api::OnboardingDraft>> {
    let (d, _) = draft_of(&state, &scope, &draft).await?;
    Ok(Json(view(&state, &d).await?))
}

/// Adds the environment, its provider connection (the platform app) and the draft in one commit.
/// The same tenant again returns its draft (200): a repeated submit adds nothing.
pub async fn create(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::OnboardingCreate>,
) -> ApiResult<(StatusCode, Json<api::OnboardingDraft>)> {
    let mut f = Fields::default();
    let name = f.check("display_name", DisplayName::parse(&body.display_name));
    let platform = state.provider.platform_app.as_ref().map(|(id, _)| id.clone());
    if platform.is_none() {
        f.push(
            "tenant",
            "this installation has no platform app registration: add the environment and a dedicated app on its provider page",
        );
    }
    let resolved = if body.tenant.trim().is_empty() {
        f.push(
            "tenant",
            "is required: the tenant's GUID or one of its verified domains",
        );
        None
    } else {
        f.check("tenant", resolve_tenant(&state, &body.tenant).await)
    };
    f.finish()?;
    let (Some(name), Some((tenant_id, domain)), Some(client_id)) = (name, resolved, platform) else {
        return Err(ApiError::internal("checked onboarding fields are missing"));
    };
    let records = scope.records(&state.table);
    if let Some(lock) = records.get::<TenantLockRecord>(tenant_lock_sk(&tenant_id)).await? {
        // The tenant is in the workspace already: its draft when the wizard added it.
        return match records.get::<OnboardingRecord>(draft_sk(&lock.environment_id)).await? {
            Some(d) if scope.entitled_to(&d.environment_id) => Ok((StatusCode::OK, Json(view(&state, &d).await?))),
            _ => Err(ApiError::Conflict(
                "an environment for this tenant exists in the workspace already".into(),
            )),
        };
    }
    let id = mint_environment_id(&state, &scope, name.as_str()).await?;
    let now = state.clock.now_millis();
    let env = EnvironmentRecord {
        workspace_id: scope.workspace_id().clone(),
        environment_id: id.clone(),
        display_name: name.as_str().to_owned(),
        tenant_id: tenant_id.clone(),
        primary_domain: domain,
        lifecycle: EnvironmentLifecycle::Active,
        created_ms: now,
    };
    let lock = TenantLockRecord {
        workspace_id: Some(env.workspace_id.clone()),
        tenant_id: tenant_id.clone(),
        environment_id: id.clone(),
    };
    let tenant = body.tenant.trim().to_ascii_lowercase();
    let conn = ConnectionRecord {
        workspace_id: env.workspace_id.clone(),
        environment_id: id.clone(),
        tenant: tenant.clone(),
        tenant_id: tenant_id.clone(),
        app_mode: AppMode::Platform,
        client_id,
        lifecycle: ConnectionLifecycle::Created,
        created_ms: now,
        version: 1,
        credential: None,
        consent: None,
        verification: None,
        run_failure: None,
        disabled_ms: None,
    };
    let actor = scope.actor();
    let draft = OnboardingRecord {
        workspace_id: env.workspace_id.clone(),
        environment_id: id.clone(),
        tenant,
        created_by: actor.user_id.clone(),
        created_by_email: actor.email.clone(),
        created_ms: now,
        updated_ms: now,
        verify_run: None,
        inventory_run: None,
        backup_run: None,
    };
    // The order matters: a cancellation's reason is read by position.
    let changes = vec![env.create(), lock.create(), conn.create(), draft.create()];
    let ev = NewEvent::success("onboarding.create", format!("environment/{id}"))
        .env(&id)
        .meta(json!({"display_name": name.as_str(), "tenant_id": tenant_id, "tenant": draft.tenant}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(1) => ApiError::Conflict("an environment for this tenant exists in the workspace already".into()),
            Some(_) => ApiError::Conflict("the environment could not be added; nothing was written, try again".into()),
            None => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(view(&state, &draft).await?)))
}

/// Does the step asked for, once: a step done or running already is answered as it stands.
pub async fn advance(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, draft)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::OnboardingAdvance>,
) -> ApiResult<Json<api::OnboardingDraft>> {
    let (d, env_scope) = draft_of(&state, &scope, &draft).await?;
    if matches!(body.step, Step::Consent | Step::Done) {
        return Err(ApiError::field(
            "step",
            "must be verify, inventory or backup (consent is granted on the tenant's sign-in page)",
        ));
    }
    let current = view(&state, &d).await?;
    if current.status == Status::Blocked && current.reason.starts_with("The environment is") {
        return Err(ApiError::Conflict(current.reason));
    }
    if body.step < current.state || current.run.as_ref().is_some_and(|r| r.state.is_active()) {
        // Done already, or its run is still going: nothing new starts.
        return Ok(Json(current));
    }
    if body.step > current.state {
        return Err(ApiError::Conflict(format!(
            "the {} step comes first",
            current.state.as_str()
        )));
    }
    let started = match body.step {
        Step::Verify => {
            crate::provider::verifiable(&state, &env_scope).await?;
            crate::runs::start(
                &state,
                &env_scope,
                OperationType::ProviderVerify,
                "provider-verify",
                vec![("verify".into(), json!({}))],
                crate::routes::provider::VERIFY_DEADLINE_MS,
            )
            .await?
        }
        Step::Inventory => {
            let units = crate::inventory::families()
                .iter()
                .map(|f| (f.code.to_owned(), json!({})))
                .collect();
            crate::runs::start(
                &state,
                &env_scope,
                OperationType::InventorySync,
                "inventory-sync",
                units,
                crate::routes::inventory::SYNC_DEADLINE_MS,
            )
            .await?
        }
        Step::Backup => {
            let families: Vec<String> = atlas_graph::families::FAMILIES
                .iter()
                .map(|f| f.code.to_owned())
                .collect();
            let start = crate::backup::capture_start(&state, &env_scope, &families, None);
            crate::runs::start_with(&state, &env_scope, start).await?
        }
        Step::Consent | Step::Done => return Err(ApiError::internal("a step without a run was let through")),
    };
    let attr = match body.step {
        Step::Verify => "verify_run",
        Step::Inventory => "inventory_run",
        _ => "backup_run",
    };
    let update = Update::new()
        .set(attr, started.run.run_id.clone())
        .set("updated_ms", state.clock.now_millis());
    let changes = vec![TxItem::Update {
        key: d.key(),
        update,
        cond: Some(Cond::Exists),
    }];
    let ev = NewEvent::success("onboarding.advance", format!("environment/{}", d.environment_id))
        .env(&d.environment_id)
        .meta(json!({"step": body.step.as_str(), "run_id": started.run.run_id}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(ApiError::from)?;
    let d = scope
        .records(&state.table)
        .get::<OnboardingRecord>(draft_sk(&d.environment_id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view(&state, &d).await?))
}
