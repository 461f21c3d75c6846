//! The provider connection of an environment, its admin consent, and the high-risk credential
//! actions. The consent callback is public: the signed `state` is its only authority.

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, TenantId, WorkspaceId};
use atlas_store::{Cond, Item, Key, TxItem, Update};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use crate::consent::{self, StateError};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody, QueryMap, RequestId};
use crate::identity::Actor;
use crate::provider::{self, credential_context};
use crate::scope::EnvScope;
use crate::state::AppState;
use crate::tenancy::{self, obj, s};

pub const CALLBACK_PATH: &str = "/api/v1/provider/consent-callback";
pub const CALLBACK_QUERY: &[&str] = &[
    "state",
    "tenant",
    "admin_consent",
    "scope",
    "error",
    "error_description",
    "error_uri",
];

async fn load(state: &AppState, scope: &EnvScope) -> ApiResult<Option<Item>> {
    Ok(state.table.get(&provider::key(scope)).await?)
}

fn view(state: &AppState, conn: Option<&Item>) -> Json<api::ProviderConnection> {
    Json(provider::to_api(conn, state.clock.now_millis()))
}

pub async fn get(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::ProviderConnection>> {
    let conn = load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

fn domain_or_guid(raw: &str) -> Result<String, &'static str> {
    if let Ok(t) = TenantId::parse(raw) {
        return Ok(t.as_str().to_owned());
    }
    let d = raw.trim().to_ascii_lowercase();
    let ok = d.contains('.')
        && d.len() <= 253
        && d.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(d)
    } else {
        Err("must be the tenant's GUID or one of its verified domains")
    }
}

pub async fn create(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::ProviderConnectionCreate>,
) -> ApiResult<(StatusCode, Json<api::ProviderConnection>)> {
    let env = tenancy::environment(&state, &scope).await?;
    let mut f = Fields::default();
    let tenant = f.check("tenant", domain_or_guid(&body.tenant));
    if let Some(t) = &tenant
        && TenantId::parse(t).is_ok()
        && *t != s(&env, "tenant_id")
    {
        f.push("tenant", "is not this environment's tenant");
    }
    let (mode, client_id, secret) = match &body.dedicated_app {
        Some(app) => {
            if TenantId::parse(&app.client_id).is_err() {
                f.push(
                    "dedicated_app.client_id",
                    "must be the app registration's client id (a GUID)",
                );
            }
            if app.client_secret.trim().len() < 8 || app.client_secret.len() > 1024 {
                f.push(
                    "dedicated_app.client_secret",
                    "must be the app registration's client secret",
                );
            }
            (
                "dedicated",
                app.client_id.to_ascii_lowercase(),
                Some(app.client_secret.clone()),
            )
        }
        None => match &state.provider.platform_app {
            Some((id, _)) => ("platform", id.clone(), None),
            None => {
                f.push(
                    "dedicated_app",
                    "is required: this installation has no platform app registration",
                );
                ("platform", String::new(), None)
            }
        },
    };
    f.finish()?;
    let now = state.clock.now_millis();
    let mut item = obj(json!({
        "PK": scope.pk(), "SK": "PROVIDER", "entity": "provider_connection",
        "workspace_id": scope.workspace().workspace_id().as_str(), "environment_id": scope.environment_id().as_str(),
        "tenant": tenant, "tenant_id": s(&env, "tenant_id"), "app_mode": mode, "client_id": client_id,
        "lifecycle": "created", "created_ms": now, "version": 1,
    }));
    if let Some(secret) = secret {
        let sealed = state
            .secrets
            .seal(&credential_context(&scope), secret.as_bytes())
            .await
            .map_err(ApiError::internal)?;
        item.insert(
            "credential".into(),
            json!({"kind": "secret", "version": 1, "set_ms": now, "sealed": sealed}),
        );
    }
    let ev = NewEvent::success("provider.create", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({"tenant": item.get("tenant"), "app_mode": mode, "client_id": client_id}));
    audit::commit(
        &state,
        scope.workspace(),
        vec![TxItem::Put {
            item: item.clone(),
            cond: Some(Cond::NotExists),
        }],
        ev,
    )
    .await
    .map_err(|e| match audit::failed_at(&e) {
        Some(0) => ApiError::Conflict("this environment already has a provider connection".into()),
        _ => e.into(),
    })?;
    Ok((StatusCode::CREATED, view(&state, Some(&item))))
}

/// Starts admin consent: a consent URL carrying a fresh single-use state.
pub async fn start_consent(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::ConsentStart>> {
    let conn = load(&state, &scope)
        .await?
        .ok_or_else(|| ApiError::Conflict("create the provider connection first".into()))?;
    if s(&conn, "lifecycle") == "disabled" {
        return Err(ApiError::Conflict("the connection is disabled".into()));
    }
    let ws = scope.workspace();
    let (token, expires_ms) = consent::issue(
        &state,
        &state.secrets,
        ws.workspace_id(),
        scope.environment_id(),
        &ws.actor().user_id,
    )
    .await?;
    let redirect = format!("{}{CALLBACK_PATH}", state.public_url);
    let tenant = s(&conn, "tenant");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &s(&conn, "client_id"))
        .append_pair("scope", "https://graph.microsoft.com/.default")
        .append_pair("redirect_uri", &redirect)
        .append_pair("state", &token)
        .finish();
    let url = format!(
        "{}/{tenant}/v2.0/adminconsent?{query}",
        state.provider.login_base.trim_end_matches('/')
    );
    let changes = vec![TxItem::Update {
        key: provider::key(&scope),
        update: Update::new()
            .set("lifecycle", consent_lifecycle(&conn))
            .add("version", 1),
        cond: Some(Cond::eq("version", provider::version(&conn))),
    }];
    let ev = NewEvent::success("provider.consent.start", "provider-connection").env(scope.environment_id());
    audit::commit(&state, ws, changes, ev).await.map_err(ApiError::from)?;
    Ok(Json(api::ConsentStart {
        consent_url: url,
        expires_ms,
    }))
}

/// A consented connection keeps its state while a new consent is pending.
fn consent_lifecycle(conn: &Item) -> &'static str {
    if s(conn, "lifecycle") == "consented" {
        "consented"
    } else {
        "consent_pending"
    }
}

fn redirect(to: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, to), (header::CACHE_CONTROL, "no-store".into())],
    )
        .into_response()
}

/// The consent callback webhook (its own Lambda). Authenticated by the signed state only.
pub async fn consent_callback(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    q: QueryMap,
) -> ApiResult<Response> {
    let token = q
        .get("state")
        .ok_or_else(|| ApiError::field("query.state", "is required"))?;
    let claims = match consent::verify(&state, &state.secrets, token).await? {
        Ok(c) => c,
        Err(StateError::Forged) => {
            tracing::warn!(request_id = ?rid, "consent callback with a forged state");
            return Err(ApiError::field("query.state", "is not a consent request we started"));
        }
        Err(e @ (StateError::Expired(_) | StateError::Replayed(_))) => return reject(&state, rid, e).await,
    };
    let (ws, env) = match (WorkspaceId::parse(&claims.ws), EnvironmentId::parse(&claims.env)) {
        (Ok(w), Ok(e)) => (w, e),
        _ => return Err(ApiError::field("query.state", "is not a consent request we started")),
    };
    let error = q.get("error").map(str::to_owned);
    let granted = error.is_none() && q.get("admin_consent").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let fingerprint = format!(
        "{}|{}|{}",
        q.get("admin_consent").unwrap_or(""),
        q.get("tenant").unwrap_or(""),
        error.as_deref().unwrap_or("")
    );
    let web = format!("{}/workspaces/{ws}/environments/{env}/provider", state.public_url);

    let key = Key::new(format!("WS#{ws}#ENV#{env}"), "PROVIDER");
    let conn = state.table.get(&key).await?.ok_or(ApiError::NotFound)?;
    // Microsoft's `tenant` can be forged; it must at least name this environment's tenant.
    let tenant_ok = q
        .get("tenant")
        .is_none_or(|t| t.eq_ignore_ascii_case(&s(&conn, "tenant_id")));
    if granted && !tenant_ok {
        let actor = initiator(&claims);
        let ev = NewEvent {
            action: "provider.consent.callback".into(),
            target: "provider-connection".into(),
            environment_id: Some(env.clone()),
            outcome: Outcome::Denied,
            reason: Some("the callback named another tenant".into()),
            metadata: json!({"tenant": q.get("tenant")}),
        };
        audit::record_denial(&state, &ws, &actor, rid.as_deref(), ev).await?;
        return Ok(redirect(format!("{web}?consent=rejected&reason=tenant_mismatch")));
    }
    match consent::consume(&state, &claims, &fingerprint).await? {
        Ok(true) => {}
        // The browser repeated the same callback: show the same result, change nothing.
        Ok(false) => {
            return Ok(redirect(format!(
                "{web}?consent={}",
                if granted { "granted" } else { "declined" }
            )));
        }
        Err(e) => return reject(&state, rid, e).await,
    }
    let now = state.clock.now_millis();
    let outcome = if granted {
        "granted"
    } else if error.is_some() {
        "error"
    } else {
        "declined"
    };
    let consent = json!({
        "outcome": outcome, "at_ms": now, "error": error,
        "error_description": q.get("error_description").map(|d| d.chars().take(500).collect::<String>()),
    });
    let update = Update::new()
        .set("lifecycle", if granted { "consented" } else { "consent_failed" })
        .set("consent", consent.clone())
        .remove("verification")
        .add("version", 1);
    let changes = vec![TxItem::Update {
        key,
        update,
        cond: Some(Cond::eq("version", provider::version(&conn))),
    }];
    let ev = NewEvent {
        action: "provider.consent.callback".into(),
        target: "provider-connection".into(),
        environment_id: Some(env.clone()),
        outcome: if granted { Outcome::Success } else { Outcome::Failed },
        reason: (!granted).then(|| format!("consent {outcome}")),
        metadata: consent,
    };
    let tx = audit::with_event(&state, &ws, &initiator(&claims), rid.as_deref(), changes, ev);
    state.table.transact(tx).await?;
    Ok(redirect(format!("{web}?consent={outcome}")))
}

/// The initiator named by the state, as the audit event's actor.
fn initiator(claims: &consent::StateClaims) -> Actor {
    Actor {
        user_id: claims.by.clone(),
        email: String::new(),
        name: String::new(),
    }
}

async fn reject(state: &AppState, rid: Option<String>, e: StateError) -> ApiResult<Response> {
    let (claims, reason) = match &e {
        StateError::Expired(c) => (c, "expired"),
        StateError::Replayed(c) => (c, "replayed"),
        StateError::Forged => return Err(ApiError::field("query.state", "is not a consent request we started")),
    };
    let (Ok(ws), Ok(env)) = (WorkspaceId::parse(&claims.ws), EnvironmentId::parse(&claims.env)) else {
        return Err(ApiError::field("query.state", "is not a consent request we started"));
    };
    let ev = NewEvent {
        action: "provider.consent.callback".into(),
        target: "provider-connection".into(),
        environment_id: Some(env.clone()),
        outcome: Outcome::Denied,
        reason: Some(format!("the consent state was {reason}")),
        metadata: json!({}),
    };
    audit::record_denial(state, &ws, &initiator(claims), rid.as_deref(), ev).await?;
    Ok(redirect(format!(
        "{}/workspaces/{ws}/environments/{env}/provider?consent=rejected&reason={reason}",
        state.public_url
    )))
}

/// High-risk actions are confirmed by typing the environment's display name.
async fn confirm(state: &AppState, scope: &EnvScope, typed: &str) -> ApiResult<()> {
    let env = tenancy::environment(state, scope).await?;
    if typed.trim() != s(&env, "display_name") {
        return Err(ApiError::Unprocessable(vec![atlas_api_types::FieldError {
            field: "confirm".into(),
            message: "type the environment's display name exactly to confirm".into(),
        }]));
    }
    Ok(())
}

pub async fn rotate_credential(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::CredentialRotate>,
) -> ApiResult<Json<api::ProviderConnection>> {
    if body.client_secret.trim().len() < 8 || body.client_secret.len() > 1024 {
        return Err(ApiError::field(
            "client_secret",
            "must be the app registration's new client secret",
        ));
    }
    confirm(&state, &scope, &body.confirm).await?;
    let conn = load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    if s(&conn, "app_mode") != "dedicated" {
        return Err(ApiError::Conflict(
            "the platform app's credential is managed by the installation, not here".into(),
        ));
    }
    let version = conn
        .get("credential")
        .and_then(|c| c.get("version"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
        + 1;
    let now = state.clock.now_millis();
    let sealed = state
        .secrets
        .seal(&credential_context(&scope), body.client_secret.as_bytes())
        .await
        .map_err(ApiError::internal)?;
    let update = Update::new()
        .set(
            "credential",
            json!({"kind": "secret", "version": version, "set_ms": now, "sealed": sealed}),
        )
        .remove("verification")
        .add("version", 1);
    let changes = vec![TxItem::Update {
        key: provider::key(&scope),
        update,
        cond: Some(Cond::eq("version", provider::version(&conn))),
    }];
    let ev = NewEvent::success("provider.credential.rotate", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({"credential_version": version}));
    audit::commit(&state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the connection changed meanwhile; reload and retry".into()),
            _ => e.into(),
        })?;
    let conn = load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

pub async fn disable(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::Confirm>,
) -> ApiResult<Json<api::ProviderConnection>> {
    confirm(&state, &scope, &body.confirm).await?;
    let conn = load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    if s(&conn, "lifecycle") == "disabled" {
        return Err(ApiError::Conflict("the connection is already disabled".into()));
    }
    let update = Update::new()
        .set("lifecycle", "disabled")
        .set("disabled_ms", state.clock.now_millis())
        .add("version", 1);
    let changes = vec![TxItem::Update {
        key: provider::key(&scope),
        update,
        cond: Some(Cond::eq("version", provider::version(&conn))),
    }];
    let ev = NewEvent::success("provider.disable", "provider-connection").env(scope.environment_id());
    audit::commit(&state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the connection changed meanwhile; reload and retry".into()),
            _ => e.into(),
        })?;
    let conn = load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

/// The app identity a connection signs in with; the dedicated secret is opened only here.
pub(crate) async fn app_identity(
    state: &AppState,
    scope: &EnvScope,
    conn: &Item,
) -> ApiResult<atlas_graph::AppIdentity> {
    match s(conn, "app_mode").as_str() {
        "dedicated" => {
            let sealed: crate::secrets::Sealed = conn
                .get("credential")
                .and_then(|c| c.get("sealed"))
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| ApiError::Conflict("the connection has no credential".into()))?;
            let secret = state
                .secrets
                .open(&credential_context(scope), &sealed)
                .await
                .map_err(ApiError::internal)?;
            Ok(atlas_graph::AppIdentity::with_secret(
                s(conn, "client_id"),
                secret.expose_str().map_err(ApiError::internal)?,
            ))
        }
        _ => {
            let (id, secret) = state
                .provider
                .platform_app
                .clone()
                .ok_or_else(|| ApiError::Conflict("this installation has no platform app registration".into()))?;
            Ok(atlas_graph::AppIdentity::with_secret(id, secret))
        }
    }
}

/// Verifies the connection now (synchronously; it becomes a `provider.verify` operation run
/// once the run backbone exists) and records the permission posture.
pub async fn verify(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::ProviderConnection>> {
    verify_in(&state, &scope).await?;
    let conn = load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

pub async fn verify_in(state: &AppState, scope: &EnvScope) -> ApiResult<()> {
    let conn = load(state, scope)
        .await?
        .ok_or_else(|| ApiError::Conflict("create the provider connection first".into()))?;
    match s(&conn, "lifecycle").as_str() {
        "disabled" => return Err(ApiError::Conflict("the connection is disabled".into())),
        "consented" => {}
        _ => return Err(ApiError::Conflict("admin consent has not been granted yet".into())),
    }
    let app = app_identity(state, scope, &conn).await?;
    let tenant = s(&conn, "tenant_id");
    let mut found = provider::verify_with(&state.graph, &tenant, app, state.clock.now_millis()).await;
    if let Some(tid) = &found.tenant_id
        && !tid.eq_ignore_ascii_case(&tenant)
    {
        found.verification.token_ok = false;
        found.verification.error = Some(format!("the token is for tenant {tid}, not this environment's"));
    }
    let v = serde_json::to_value(&found.verification).map_err(ApiError::internal)?;
    let mut with = conn.clone();
    with.insert("verification".into(), v.clone());
    let (st, reason) = provider::status(Some(&with), state.clock.now_millis());
    let update = Update::new().set("verification", v).add("version", 1);
    let changes = vec![TxItem::Update {
        key: provider::key(scope),
        update,
        cond: Some(Cond::eq("version", provider::version(&conn))),
    }];
    let ev = NewEvent {
        action: "provider.verify".into(),
        target: "provider-connection".into(),
        environment_id: Some(scope.environment_id().clone()),
        outcome: if st == atlas_domain::Status::Ready {
            Outcome::Success
        } else {
            Outcome::Failed
        },
        reason: (st != atlas_domain::Status::Ready).then(|| reason.clone()),
        metadata: json!({"status": st.as_str()}),
    };
    audit::commit(state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the connection changed meanwhile; verify again".into()),
            _ => e.into(),
        })
}

/// How long a verification run may take before the reconciler calls it stuck.
pub const VERIFY_DEADLINE_MS: i64 = 10 * 60 * 1000;

/// Starts a `provider.verify` run (or returns the active one) and answers 202 with it; the
/// canonical viewer shows its progress and result.
pub async fn start_verify(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Response> {
    let conn = load(&state, &scope)
        .await?
        .ok_or_else(|| ApiError::Conflict("create the provider connection first".into()))?;
    match s(&conn, "lifecycle").as_str() {
        "disabled" => return Err(ApiError::Conflict("the connection is disabled".into())),
        "consented" => {}
        _ => return Err(ApiError::Conflict("admin consent has not been granted yet".into())),
    }
    let started = crate::runs::start(
        &state,
        &scope,
        atlas_domain::OperationType::ProviderVerify,
        "provider-verify",
        vec![("verify".into(), json!({}))],
        VERIFY_DEADLINE_MS,
    )
    .await?;
    Ok(crate::routes::operations::accepted(&scope, &started.run))
}
