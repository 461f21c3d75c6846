//! The provider connection of an environment, its consent, and the high-risk credential actions.
//! The consent callback is public: the signed `state` names the connection, and only a tenant
//! administrator's authorization code, redeemed and checked here, activates it (ADR 0016).

use atlas_api_types as api;
use atlas_domain::{ConnectionLifecycle, ConsentOutcome, EnvironmentId, TenantId, WorkspaceId};
use atlas_store::{Cond, TxItem};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::consent::{self, Consumed, StateError, proof};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody, QueryMap, RequestId};
use crate::identity::Actor;
use crate::provider::{self, credential_context};
use crate::records::provider::{
    AdminProof, AppMode, ConnectionConsent, ConnectionRecord, StoredCredential, TenantClaimRecord, TenantOwnerRecord,
    claims_of, connection_key,
};
use crate::records::tenancy::EnvironmentRecord;
use crate::records::{self, Record};
use crate::scope::EnvScope;
use crate::state::AppState;
use crate::tenancy;

pub const CALLBACK_PATH: &str = "/api/v1/provider/consent-callback";
pub const CALLBACK_QUERY: &[&str] = &[
    "state",
    "code",
    "session_state",
    "tenant",
    "admin_consent",
    "scope",
    "error",
    "error_description",
    "error_subcode",
    "error_uri",
];

fn view(state: &AppState, conn: Option<&ConnectionRecord>) -> Json<api::ProviderConnection> {
    Json(provider::to_api(conn, state.clock.now_millis()))
}

pub async fn get(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::ProviderConnection>> {
    let conn = provider::load(&state, &scope).await?;
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

/// Whether a tenant as entered (checked by [`domain_or_guid`]) names the environment's tenant:
/// its GUID, or its primary domain (any domain when the environment records none).
fn is_env_tenant(tenant: &str, env: &EnvironmentRecord) -> bool {
    if TenantId::parse(tenant).is_ok() {
        tenant.eq_ignore_ascii_case(&env.tenant_id)
    } else {
        let domain = env.primary_domain.trim();
        domain.is_empty() || tenant.eq_ignore_ascii_case(domain)
    }
}

fn wrong_tenant(env: &EnvironmentRecord) -> String {
    let domain = env.primary_domain.trim();
    if domain.is_empty() {
        format!("is not this environment's tenant: enter {}", env.tenant_id)
    } else {
        format!("is not this environment's tenant: enter {domain} or {}", env.tenant_id)
    }
}

/// The tenant field as entered: a GUID or a domain, and the environment's.
fn checked_tenant(f: &mut Fields, raw: &str, env: &EnvironmentRecord) -> Option<String> {
    let tenant = f.check("tenant", domain_or_guid(raw))?;
    if !is_env_tenant(&tenant, env) {
        f.push("tenant", wrong_tenant(env));
        return None;
    }
    Some(tenant)
}

pub async fn create(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::ProviderConnectionCreate>,
) -> ApiResult<(StatusCode, Json<api::ProviderConnection>)> {
    let env = tenancy::environment_record(&state, &scope).await?;
    let mut f = Fields::default();
    let tenant = checked_tenant(&mut f, &body.tenant, &env);
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
                AppMode::Dedicated,
                app.client_id.to_ascii_lowercase(),
                Some(app.client_secret.clone()),
            )
        }
        None => match &state.provider.platform_app {
            Some((id, _)) => (AppMode::Platform, id.clone(), None),
            None => {
                f.push(
                    "dedicated_app",
                    "is required: this installation has no platform app registration",
                );
                (AppMode::Platform, String::new(), None)
            }
        },
    };
    f.finish()?;
    let Some(tenant) = tenant else {
        return Err(ApiError::internal("a checked tenant is missing"));
    };
    let now = state.clock.now_millis();
    let credential = match secret {
        Some(secret) => {
            let sealed = state
                .secrets
                .seal(&credential_context(&scope), secret.as_bytes())
                .await
                .map_err(ApiError::internal)?;
            Some(StoredCredential::secret(1, now, sealed))
        }
        None => None,
    };
    let conn = ConnectionRecord {
        workspace_id: scope.workspace().workspace_id().clone(),
        environment_id: scope.environment_id().clone(),
        tenant,
        tenant_id: env.tenant_id,
        app_mode: mode,
        client_id,
        lifecycle: ConnectionLifecycle::Created,
        created_ms: now,
        version: 1,
        credential,
        consent: None,
        verification: None,
        run_failure: None,
        disabled_ms: None,
    };
    let ev = NewEvent::success("provider.create", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({"tenant": conn.tenant, "app_mode": mode.as_str(), "client_id": conn.client_id}));
    audit::commit(&state, scope.workspace(), vec![conn.create()], ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("this environment already has a provider connection".into()),
            _ => e.into(),
        })?;
    Ok((StatusCode::CREATED, view(&state, Some(&conn))))
}

/// Starts consent: an OpenID Connect authorization-code sign-in of a tenant administrator
/// against the environment's tenant (PKCE S256, nonce), asking for `.default` so that an admin
/// who has not consented yet is offered admin consent on the same page.
pub async fn start_consent(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::ConsentStart>> {
    let conn = provider::load(&state, &scope)
        .await?
        .ok_or_else(|| ApiError::Conflict("create the provider connection first".into()))?;
    if conn.lifecycle == ConnectionLifecycle::Disabled {
        return Err(ApiError::Conflict("the connection is disabled: enable it first".into()));
    }
    let env = tenancy::environment_record(&state, &scope).await?;
    if !is_env_tenant(&conn.tenant, &env) {
        return Err(ApiError::field(
            "tenant",
            format!(
                "{}; edit the connection's tenant, then start consent again",
                wrong_tenant(&env)
            ),
        ));
    }
    let ws = scope.workspace();
    let issued = consent::issue(
        &state,
        &state.secrets,
        ws.workspace_id(),
        scope.environment_id(),
        &ws.actor().user_id,
    )
    .await?;
    let redirect = format!("{}{CALLBACK_PATH}", state.public_url);
    let tenant = &conn.tenant_id;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &conn.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect)
        .append_pair("response_mode", "query")
        .append_pair("scope", CONSENT_SCOPE)
        .append_pair("state", &issued.token)
        .append_pair("nonce", &issued.nonce)
        .append_pair("code_challenge", &issued.code_challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let url = format!(
        "{}/{tenant}/oauth2/v2.0/authorize?{query}",
        state.provider.login_base.trim_end_matches('/')
    );
    let changes = vec![conn.set_lifecycle(consent_lifecycle(&conn))];
    let ev = NewEvent::success("provider.consent.start", "provider-connection").env(scope.environment_id());
    audit::commit(&state, ws, changes, ev).await.map_err(ApiError::from)?;
    Ok(Json(api::ConsentStart {
        consent_url: url,
        expires_ms: issued.expires_ms,
    }))
}

/// OpenID Connect sign-in plus every permission statically configured for the app.
pub const CONSENT_SCOPE: &str = "openid profile https://graph.microsoft.com/.default";

/// A consented connection keeps its state while a new consent is pending.
fn consent_lifecycle(conn: &ConnectionRecord) -> ConnectionLifecycle {
    if conn.lifecycle == ConnectionLifecycle::Consented {
        ConnectionLifecycle::Consented
    } else {
        ConnectionLifecycle::ConsentPending
    }
}

fn redirect(to: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, to), (header::CACHE_CONTROL, "no-store".into())],
    )
        .into_response()
}

/// The consent callback webhook (its own Lambda). The signed state names the connection; only
/// the authorization code, redeemed here and checked (`consent::proof`), proves anything.
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
    let web = format!("{}/workspaces/{ws}/environments/{env}/provider", state.public_url);
    let key = connection_key(&ws, &env);
    let conn: ConnectionRecord = records::get(&state.table, &key).await?.ok_or(ApiError::NotFound)?;

    if let Some(error) = q.get("error").map(str::to_owned) {
        return consent_error(&state, rid, &claims, (&ws, &env), &conn, &q, error, &web).await;
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        // `admin_consent=True` (or anything else) without a code: nothing was proven. The state
        // stays usable for the real sign-in.
        let why = proof::Rejection::NoCode;
        deny(
            &state,
            rid.as_deref(),
            &claims,
            (&ws, &env),
            &why,
            json!({"admin_consent": q.get("admin_consent")}),
        )
        .await?;
        return Ok(redirect(format!("{web}?consent=rejected&reason={}", why.code())));
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes());
    let fingerprint = format!("code|{}", B64.encode(&digest.as_ref()[..18]));
    let (verifier, nonce) = match consent::consume(&state, &claims, &fingerprint).await? {
        Ok(Consumed::First { verifier, nonce }) => (verifier, nonce),
        // The browser repeated the same callback: show the same result, change nothing.
        Ok(Consumed::Repeat { result }) => {
            return Ok(redirect(format!(
                "{web}?consent={}",
                result.as_deref().unwrap_or("rejected&reason=replayed")
            )));
        }
        Err(e) => return reject(&state, rid, e).await,
    };
    let tenant_id = &conn.tenant_id;
    let ctx = format!("provider-credential/{ws}/{env}");
    let app = provider::app_identity_in(&state, &ctx, &conn).await?;
    let secret = match &app.credential {
        atlas_graph::Credential::Secret(s) => s.expose().to_owned(),
        atlas_graph::Credential::Certificate(_) => {
            let why = proof::Rejection::Credential("only a client secret is supported here".into());
            deny(&state, rid.as_deref(), &claims, (&ws, &env), &why, json!({})).await?;
            return Ok(redirect(format!("{web}?consent=rejected&reason={}", why.code())));
        }
    };
    let redirect_uri = format!("{}{CALLBACK_PATH}", state.public_url);
    let proven = proof::prove(&proof::Redemption {
        login_base: &state.provider.login_base,
        graph_base: &state.provider.graph_base,
        tenant_id,
        client_id: &app.client_id,
        client_secret: &secret,
        code,
        verifier: &verifier,
        nonce: &nonce,
        redirect_uri: &redirect_uri,
    })
    .await;
    let proven = match proven {
        Ok(p) => p,
        Err(why) => {
            let result = format!("rejected&reason={}", why.code());
            consent::record_result(&state, &claims, &result).await?;
            deny(&state, rid.as_deref(), &claims, (&ws, &env), &why, json!({})).await?;
            return Ok(redirect(format!("{web}?consent={result}")));
        }
    };
    record_proof(&state, rid.as_deref(), &claims, (&ws, &env), &conn, &proven).await?;
    // An environment the onboarding wizard is adding goes back to the wizard, at its next step.
    if let Some(wizard) = crate::routes::onboarding::resumes_at(&state, &ws, &env).await {
        return Ok(redirect(format!("{}{wizard}?consent=granted", state.public_url)));
    }
    Ok(redirect(format!("{web}?consent=granted")))
}

/// The administrator declined, or Entra refused: recorded on the connection (it needs
/// attention), nothing granted.
#[allow(clippy::too_many_arguments)]
async fn consent_error(
    state: &AppState,
    rid: Option<String>,
    claims: &consent::StateClaims,
    (ws, env): (&WorkspaceId, &EnvironmentId),
    conn: &ConnectionRecord,
    q: &QueryMap,
    error: String,
    web: &str,
) -> ApiResult<Response> {
    let description = q
        .get("error_description")
        .map(|d| d.chars().take(500).collect::<String>());
    let fingerprint = format!("error|{error}|{}", description.as_deref().unwrap_or(""));
    match consent::consume(state, claims, &fingerprint).await? {
        Ok(Consumed::First { .. }) => {}
        Ok(Consumed::Repeat { result }) => {
            return Ok(redirect(format!(
                "{web}?consent={}",
                result.as_deref().unwrap_or("error")
            )));
        }
        Err(e) => return reject(state, rid, e).await,
    }
    let outcome = if error == "access_denied" {
        ConsentOutcome::Declined
    } else {
        ConsentOutcome::Error
    };
    let at_ms = state.clock.now_millis();
    let metadata = json!({
        "outcome": outcome.as_str(), "at_ms": at_ms, "error": error, "error_description": description,
    });
    let mut changes = Vec::new();
    // A connection already proven keeps its proof: a later refused sign-in does not undo it.
    if conn.proof().is_none() {
        let consent = ConnectionConsent {
            outcome,
            at_ms,
            error: Some(error),
            error_description: description,
            proof: None,
        };
        changes.push(conn.record_consent(ConnectionLifecycle::ConsentFailed, &consent));
    }
    let outcome = outcome.as_str();
    changes.push(consent::result_update(claims, outcome));
    let ev = NewEvent {
        action: "provider.consent.callback".into(),
        target: "provider-connection".into(),
        environment_id: Some(env.clone()),
        outcome: Outcome::Failed,
        reason: Some(format!("consent {outcome}")),
        metadata,
    };
    let tx = audit::with_event(state, ws, &initiator(claims), rid.as_deref(), changes, ev);
    audit::transact(state, tx).await?;
    Ok(redirect(format!("{web}?consent={outcome}")))
}

/// A callback that proved nothing: audited with its reason; the connection is unchanged.
async fn deny(
    state: &AppState,
    rid: Option<&str>,
    claims: &consent::StateClaims,
    (ws, env): (&WorkspaceId, &EnvironmentId),
    why: &proof::Rejection,
    extra: Value,
) -> ApiResult<()> {
    tracing::warn!(request_id = ?rid, reason = why.code(), "consent callback proved nothing");
    let mut metadata = json!({"reason": why.code()});
    if let (Some(m), Value::Object(e)) = (metadata.as_object_mut(), extra) {
        m.extend(e);
    }
    let ev = NewEvent {
        action: "provider.consent.callback".into(),
        target: "provider-connection".into(),
        environment_id: Some(env.clone()),
        outcome: Outcome::Denied,
        reason: Some(why.to_string()),
        metadata,
    };
    Ok(audit::record_denial(state, ws, &initiator(claims), rid, ev).await?)
}

/// Most workspaces told at once that another proved the same tenant (a transaction's budget).
const MAX_NOTIFIED: usize = 20;

/// Activates the connection with its proof, and records the tenant claim in the same
/// transaction: the first workspace to prove a tenant owns it (`OWNER`, written only if absent);
/// a later one, having proven it too, is allowed alongside, and every other workspace holding a
/// claim on the tenant is told through an audit event of its own.
async fn record_proof(
    state: &AppState,
    rid: Option<&str>,
    claims: &consent::StateClaims,
    (ws, env): (&WorkspaceId, &EnvironmentId),
    conn: &ConnectionRecord,
    p: &proof::Proof,
) -> ApiResult<()> {
    let tenant = conn.tenant_id.clone();
    let now = state.clock.now_millis();
    let proof_id = state.ids.next_id();
    let consent = ConnectionConsent {
        outcome: ConsentOutcome::Granted,
        at_ms: now,
        error: None,
        error_description: None,
        proof: Some(AdminProof {
            id: proof_id.clone(),
            oid: p.oid.clone(),
            upn: p.upn.clone(),
            role: p.role.clone(),
            role_source: p.role_source.to_owned(),
            tenant_id: p.tenant_id.clone(),
            at_ms: now,
            initiator: claims.by.clone(),
        }),
    };
    // Two attempts: a concurrent first claim of the same tenant makes the `OWNER` write fail once.
    for attempt in 0..2 {
        let owner: Option<TenantOwnerRecord> = records::get(&state.table, &provider::owner_key(&tenant)).await?;
        let others: Vec<TenantClaimRecord> = records::query_all(&state.table, claims_of(&tenant))
            .await?
            .into_iter()
            .filter(|c: &TenantClaimRecord| c.workspace_id != ws.as_str())
            .collect();
        let mut changes = vec![
            conn.record_consent(ConnectionLifecycle::Consented, &consent),
            TenantClaimRecord {
                tenant_id: tenant.clone(),
                workspace_id: ws.to_string(),
                environment_id: env.to_string(),
                proof_id: proof_id.clone(),
                oid: p.oid.clone(),
                upn: p.upn.clone(),
                role: p.role.clone(),
                at_ms: now,
            }
            .put(),
            consent::result_update(claims, "granted"),
        ];
        let owner_ws = owner.as_ref().map(|o| o.workspace_id.clone());
        if owner.is_none() {
            let first = TenantOwnerRecord {
                tenant_id: tenant.clone(),
                workspace_id: ws.to_string(),
                environment_id: env.to_string(),
                at_ms: now,
            };
            changes.push(first.create());
        }
        let mut told: Vec<String> = Vec::new();
        for other in others.iter() {
            let other_ws = other.workspace_id.clone();
            if told.contains(&other_ws) || told.len() >= MAX_NOTIFIED {
                continue;
            }
            let (Ok(ows), Ok(oenv)) = (
                WorkspaceId::parse(&other_ws),
                EnvironmentId::parse(&other.environment_id),
            ) else {
                continue;
            };
            // Told in their own workspace, naming the proving administrator, never the other workspace.
            let ev = NewEvent {
                action: "provider.tenant.claimed_elsewhere".into(),
                target: "provider-connection".into(),
                environment_id: Some(oenv),
                outcome: Outcome::Success,
                reason: Some(format!(
                    "{} ({}) proved administration of this tenant to connect it to another workspace",
                    p.upn, p.role
                )),
                metadata: json!({"tenant_id": tenant, "proven_by": {"upn": p.upn, "role": p.role}, "at_ms": now}),
            };
            changes.push(TxItem::Put {
                item: audit::item(state, &ows, &system_actor(), None, ev),
                cond: Some(Cond::NotExists),
            });
            told.push(other_ws);
        }
        let ev = NewEvent {
            action: "provider.consent.callback".into(),
            target: "provider-connection".into(),
            environment_id: Some(env.clone()),
            outcome: Outcome::Success,
            reason: None,
            metadata: json!({
                "outcome": "granted", "tenant_id": tenant,
                "proven_by": {"oid": p.oid, "upn": p.upn, "role": p.role, "role_source": p.role_source},
                "tenant_owner": if owner_ws.as_deref().is_none_or(|o| o == ws.as_str()) { "this_workspace" } else { "another_workspace" },
                "workspaces_told": told.len(),
            }),
        };
        let tx = audit::with_event(state, ws, &initiator(claims), rid, changes, ev);
        match audit::transact(state, tx).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt == 0 && owner.is_none() && audit::failed_at(&e) == Some(3) => continue,
            Err(e) => {
                return Err(match audit::failed_at(&e) {
                    Some(0) => ApiError::Conflict("the connection changed meanwhile; start consent again".into()),
                    _ => e.into(),
                });
            }
        }
    }
    Err(ApiError::Conflict(
        "the tenant's claim changed meanwhile; start consent again".into(),
    ))
}

/// The product itself, as the actor of events it writes on its own.
fn system_actor() -> Actor {
    Actor {
        user_id: "system".into(),
        email: "system@tenantatlas".into(),
        name: "System".into(),
    }
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
        metadata: json!({"reason": reason}),
    };
    audit::record_denial(state, &ws, &initiator(claims), rid.as_deref(), ev).await?;
    Ok(redirect(format!(
        "{}/workspaces/{ws}/environments/{env}/provider?consent=rejected&reason={reason}",
        state.public_url
    )))
}

/// High-risk actions are confirmed by typing the environment's display name.
async fn confirm(state: &AppState, scope: &EnvScope, typed: &str) -> ApiResult<()> {
    let env = tenancy::environment_record(state, scope).await?;
    if typed.trim() != env.display_name {
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
    let conn = provider::load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    if conn.app_mode != AppMode::Dedicated {
        return Err(ApiError::Conflict(
            "the platform app's credential is managed by the installation, not here".into(),
        ));
    }
    let version = conn.credential.as_ref().map_or(0, |c| c.version) + 1;
    let now = state.clock.now_millis();
    let sealed = state
        .secrets
        .seal(&credential_context(&scope), body.client_secret.as_bytes())
        .await
        .map_err(ApiError::internal)?;
    let changes = vec![conn.replace_credential(&StoredCredential::secret(version, now, sealed))];
    let ev = NewEvent::success("provider.credential.rotate", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({"credential_version": version}));
    commit_change(&state, &scope, changes, ev).await?;
    let conn = provider::load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

/// Writes a change to the connection with its audit event; a connection changed since it was
/// read (the first write's condition) is a 409 to reload and retry.
async fn commit_change(
    state: &AppState,
    scope: &EnvScope,
    changes: Vec<atlas_store::TxItem>,
    ev: NewEvent,
) -> ApiResult<()> {
    audit::commit(state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the connection changed meanwhile; reload and retry".into()),
            _ => e.into(),
        })?;
    Ok(())
}

pub async fn disable(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::Confirm>,
) -> ApiResult<Json<api::ProviderConnection>> {
    confirm(&state, &scope, &body.confirm).await?;
    let conn = provider::load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    if conn.lifecycle == ConnectionLifecycle::Disabled {
        return Err(ApiError::Conflict("the connection is already disabled".into()));
    }
    let changes = vec![conn.disable(state.clock.now_millis())];
    let ev = NewEvent::success("provider.disable", "provider-connection").env(scope.environment_id());
    commit_change(&state, &scope, changes, ev).await?;
    let conn = provider::load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

/// Enables a disabled connection again ([`ConnectionRecord::enable`]); 409 when it is not disabled.
pub async fn enable(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::ProviderConnection>> {
    let conn = provider::load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    if conn.lifecycle != ConnectionLifecycle::Disabled {
        return Err(ApiError::Conflict(
            "the connection is not disabled: there is nothing to enable".into(),
        ));
    }
    let ev = NewEvent::success("provider.enable", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({"proven": conn.proof().is_some()}));
    commit_change(&state, &scope, vec![conn.enable()], ev).await?;
    let conn = provider::load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

/// Edits the tenant (checked against the environment's) or the dedicated app's client id. A
/// change resets consent; an edit that changes nothing changes nothing.
pub async fn update(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::ProviderConnectionUpdate>,
) -> ApiResult<Json<api::ProviderConnection>> {
    let env = tenancy::environment_record(&state, &scope).await?;
    let conn = provider::load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    let mut f = Fields::default();
    if body.tenant.is_none() && body.client_id.is_none() {
        f.push(
            "tenant",
            "is required unless client_id is given: there is nothing to change",
        );
    }
    let tenant = match &body.tenant {
        Some(raw) => checked_tenant(&mut f, raw, &env),
        None => Some(conn.tenant.clone()),
    };
    let client_id = match &body.client_id {
        Some(_) if conn.app_mode != AppMode::Dedicated => {
            f.push("client_id", "belongs to the platform app and cannot be changed here");
            None
        }
        Some(raw) => match TenantId::parse(raw.trim()) {
            Ok(id) => Some(id.as_str().to_owned()),
            Err(_) => {
                f.push("client_id", "must be the app registration's client id (a GUID)");
                None
            }
        },
        None => Some(conn.client_id.clone()),
    };
    f.finish()?;
    let (Some(tenant), Some(client_id)) = (tenant, client_id) else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    if tenant == conn.tenant && client_id == conn.client_id {
        return Ok(view(&state, Some(&conn)));
    }
    let ev = NewEvent::success("provider.update", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({
            "tenant": {"from": conn.tenant, "to": tenant},
            "client_id": {"from": conn.client_id, "to": client_id},
            "consent_reset": true,
        }));
    commit_change(&state, &scope, vec![conn.edit(&tenant, &client_id)], ev).await?;
    let conn = provider::load(&state, &scope).await?;
    Ok(view(&state, conn.as_ref()))
}

/// Removes the connection with its sealed credential (high risk: confirmed with the environment's
/// name); the environment can be connected again from the start.
pub async fn remove(
    State(state): State<AppState>,
    scope: EnvScope,
    JsonBody(body): JsonBody<api::Confirm>,
) -> ApiResult<Json<api::ProviderConnection>> {
    confirm(&state, &scope, &body.confirm).await?;
    let conn = provider::load(&state, &scope).await?.ok_or(ApiError::NotFound)?;
    let ev = NewEvent::success("provider.delete", "provider-connection")
        .env(scope.environment_id())
        .meta(json!({"tenant": conn.tenant, "app_mode": conn.app_mode.as_str(), "lifecycle": conn.lifecycle.as_str()}));
    commit_change(&state, &scope, vec![conn.remove()], ev).await?;
    Ok(view(&state, None))
}

/// How long a verification run may take before the reconciler calls it stuck.
pub const VERIFY_DEADLINE_MS: i64 = 10 * 60 * 1000;

/// Starts a `provider.verify` run (or returns the active one) and answers 202 with it; the
/// canonical viewer shows its progress and result.
pub async fn start_verify(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Response> {
    provider::verifiable(&state, &scope).await?;
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
