//! Managed environments: one Entra tenant each.

use atlas_api_types as api;
use atlas_domain::{DisplayName, EnvironmentId, EnvironmentLifecycle, TenantId};
use atlas_store::{Cond, TxItem, Update};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody};
use crate::records::Record;
use crate::records::tenancy::{EnvironmentRecord, TenantLockRecord, env_sk};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;
use crate::tenancy;

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::EnvironmentList>> {
    let mut items = Vec::new();
    for e in tenancy::visible_environments(&state, &scope).await? {
        items.push(tenancy::environment_view(&state, &e).await?);
    }
    Ok(Json(api::EnvironmentList { items }))
}

pub async fn get(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::Environment>> {
    Ok(Json(
        tenancy::environment_view(&state, &tenancy::environment_record(&state, &scope).await?).await?,
    ))
}

fn domain(s: &str) -> Result<String, &'static str> {
    let d = s.trim().to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(d)
    } else {
        Err("must be a domain name like contoso.onmicrosoft.com")
    }
}

pub async fn create(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::EnvironmentCreate>,
) -> ApiResult<(StatusCode, Json<api::Environment>)> {
    let mut f = Fields::default();
    let id = f.check("slug", EnvironmentId::parse(&body.slug));
    let name = f.check("display_name", DisplayName::parse(&body.display_name));
    let tenant = f.check("tenant_id", TenantId::parse(&body.tenant_id));
    let primary = f.check("primary_domain", domain(&body.primary_domain));
    f.finish()?;
    let (id, name, tenant, primary) = (
        id.expect("ok"),
        name.expect("ok"),
        tenant.expect("ok"),
        primary.expect("ok"),
    );
    let env = EnvironmentRecord {
        workspace_id: scope.workspace_id().clone(),
        environment_id: id.clone(),
        display_name: name.as_str().to_owned(),
        tenant_id: tenant.as_str().to_owned(),
        primary_domain: primary,
        lifecycle: EnvironmentLifecycle::Active,
        created_ms: state.clock.now_millis(),
    };
    let tenant_lock = TenantLockRecord {
        workspace_id: Some(env.workspace_id.clone()),
        tenant_id: env.tenant_id.clone(),
        environment_id: id.clone(),
    };
    let changes = vec![env.create(), tenant_lock.create()];
    let ev = NewEvent::success("environment.create", format!("environment/{id}"))
        .env(&id)
        .meta(json!({"display_name": name.as_str(), "tenant_id": tenant.as_str()}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("an environment with this slug exists in the workspace".into()),
            Some(1) => ApiError::Conflict("an environment for this tenant exists in the workspace".into()),
            _ => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(api::Environment::from(&env))))
}

pub async fn patch(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::EnvironmentPatch>,
) -> ApiResult<Json<api::Environment>> {
    let mut f = Fields::default();
    let name = body
        .display_name
        .as_deref()
        .and_then(|n| f.check("display_name", DisplayName::parse(n)));
    if body.display_name.is_none() && body.lifecycle.is_none() {
        f.push("body", "changes nothing: give display_name or lifecycle");
    }
    f.finish()?;
    let mut update = Update::new();
    if let Some(n) = &name {
        update = update.set("display_name", n.as_str());
    }
    if let Some(l) = &body.lifecycle {
        update = update.set("lifecycle", l.as_str());
    }
    let records = scope.workspace().records(&state.table);
    let key = records.key(env_sk(scope.environment_id()));
    let changes = vec![TxItem::Update {
        key: key.clone(),
        update,
        cond: Some(Cond::Exists),
    }];
    let ev = NewEvent::success("environment.update", format!("environment/{}", scope.environment_id()))
        .env(scope.environment_id())
        .meta(json!({"display_name": body.display_name, "lifecycle": body.lifecycle}));
    audit::commit(&state, scope.workspace(), changes, ev)
        .await
        .map_err(ApiError::from)?;
    let env = tenancy::environment_record(&state, &scope).await?;
    Ok(Json(tenancy::environment_view(&state, &env).await?))
}
