//! The HTTP admin API under `/_sim`, mirroring the `SimHandle` helpers. No authentication: local use only.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::audit::Actor;
use crate::config::{AppSpec, ConsentBehavior, TenantSpec};
use crate::families::FamilyDef;
use crate::faults::Faults;
use crate::state::Tenant;
use crate::{Sim, graph};

pub(crate) fn router() -> Router<Sim> {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/tenants", post(create_tenant).get(list_tenants))
        .route("/apps", post(create_app))
        .route(
            "/tenants/{tenant}/faults",
            get(get_faults).put(put_faults).delete(delete_faults),
        )
        .route("/tenants/{tenant}/consent", post(consent))
        .route("/tenants/{tenant}/users", get(users))
        .route("/tenants/{tenant}/stats", get(stats).delete(reset_stats))
        .route("/tenants/{tenant}/objects/{family}", get(objects).post(create_object))
        .route(
            "/tenants/{tenant}/objects/{family}/{id}",
            axum::routing::delete(delete_object).patch(patch_object),
        )
        .route("/tenants/{tenant}/audit", get(audit_events))
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn create_tenant(State(sim): State<Sim>, body: Bytes) -> Response {
    let spec: TenantSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    match sim.add_tenant(spec) {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => fail(StatusCode::CONFLICT, e),
    }
}

async fn list_tenants(State(sim): State<Sim>) -> Response {
    let infos: Vec<_> = sim.world().tenants.iter().map(|t| t.info.clone()).collect();
    Json(infos).into_response()
}

async fn create_app(State(sim): State<Sim>, body: Bytes) -> Response {
    let spec: AppSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    if spec.client_id.is_empty() {
        return fail(StatusCode::BAD_REQUEST, "client_id is required");
    }
    let id = spec.client_id.clone();
    sim.register_app(spec);
    (StatusCode::CREATED, Json(json!({"client_id": id}))).into_response()
}

async fn get_faults(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    match sim.with_tenant(&tenant, |t| t.faults.clone()) {
        Ok(f) => Json(f).into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

async fn put_faults(State(sim): State<Sim>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let faults: Faults = match parse(&body) {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    match sim.with_tenant(&tenant, |t| {
        t.faults = faults;
        t.fault_state.reset();
    }) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

async fn delete_faults(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    match sim.with_tenant(&tenant, |t| {
        t.faults = Faults::default();
        t.fault_state.reset();
    }) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

/// One endpoint for the consent switch and for grants:
/// `{"behavior":"grant"|"decline"|"error", …}` sets what `/adminconsent` does;
/// `{"client_id":…, "roles":[…]}` grants; `{"client_id":…, "revoke":true}` revokes.
async fn consent(State(sim): State<Sim>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let v: Value = match parse(&body) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    if v.get("behavior").is_some() {
        let behavior: ConsentBehavior = match serde_json::from_value(v.clone()) {
            Ok(b) => b,
            Err(e) => return fail(StatusCode::BAD_REQUEST, format!("invalid behavior: {e}")),
        };
        if let Err(e) = sim.with_tenant(&tenant, |t| t.consent = behavior) {
            return fail(StatusCode::NOT_FOUND, e);
        }
    }
    if let Some(client_id) = v.get("client_id").and_then(Value::as_str) {
        let result = if v.get("revoke").and_then(Value::as_bool) == Some(true) {
            sim.revoke(&tenant, client_id)
        } else {
            let roles: Vec<String> = v
                .get("roles")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_else(|| sim.config.default_roles.clone());
            sim.grant(&tenant, client_id, roles)
        };
        if let Err(e) = result {
            return fail(StatusCode::NOT_FOUND, e);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn users(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    match sim.with_tenant(&tenant, |t| t.users.clone()) {
        Ok(u) => Json(u).into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

async fn stats(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    match sim.with_tenant(&tenant, |t| t.snapshot_stats()) {
        Ok(s) => Json(s).into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

async fn reset_stats(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    match sim.with_tenant(&tenant, |t| t.reset_stats()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

async fn objects(State(sim): State<Sim>, Path((tenant, family)): Path<(String, String)>) -> Response {
    let shared = &*sim;
    match sim.with_tenant(&tenant, |t| graph::snapshot(shared, t, &family)) {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => fail(StatusCode::NOT_FOUND, format!("unknown family '{family}'")),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}

/// The admin behind a portal change, named by `X-Sim-Actor` (a user's key, id or UPN, or another
/// UPN); without it, the tenant's Global Administrator. It is the audit event's `actor`.
const ACTOR_HEADER: &str = "x-sim-actor";

/// Runs a portal write on the tenant as the admin `X-Sim-Actor` names; Err is the status and message.
fn portal_write<R>(
    sim: &Sim,
    tenant: &str,
    family: &str,
    headers: &HeaderMap,
    write: impl FnOnce(&mut Tenant, &'static FamilyDef, Actor, u64) -> R,
) -> Result<R, (StatusCode, String)> {
    let def = match crate::families::by_name(family) {
        Some(def) if def.stored => def,
        _ => return Err((StatusCode::NOT_FOUND, format!("unknown family '{family}'"))),
    };
    let key = match headers.get(ACTOR_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return Err((StatusCode::BAD_REQUEST, "X-Sim-Actor is not visible ASCII".into())),
    };
    let delay = sim.config.audit_delay_ms;
    sim.with_tenant(tenant, |t| {
        let actor = t.portal_actor(key).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        Ok(write(t, def, actor, delay))
    })
    .map_err(|e| (StatusCode::NOT_FOUND, e))?
}

/// An admin deleting an object in the portal (no Graph request is counted).
async fn delete_object(
    State(sim): State<Sim>,
    Path((tenant, family, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    match portal_write(&sim, &tenant, &family, &headers, |t, def, actor, delay| {
        t.portal_delete(def, &id, actor, delay)
    }) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => fail(StatusCode::NOT_FOUND, format!("no {family} object '{id}'")),
        Err((status, e)) => fail(status, e),
    }
}

/// An admin setting top-level properties in the portal: the body's properties replace the object's.
async fn patch_object(
    State(sim): State<Sim>,
    Path((tenant, family, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let props = match parse::<Map<String, Value>>(&body) {
        Ok(p) if p.keys().any(|k| k.eq_ignore_ascii_case("id")) => {
            return fail(StatusCode::BAD_REQUEST, "id cannot be changed");
        }
        Ok(p) => p,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    match portal_write(&sim, &tenant, &family, &headers, |t, def, actor, delay| {
        t.portal_patch(def, &id, props, actor, delay)
    }) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => fail(StatusCode::NOT_FOUND, format!("no {family} object '{id}'")),
        Err((status, e)) => fail(status, e),
    }
}

/// An admin creating an object in the portal from the body's properties; answers its id.
async fn create_object(
    State(sim): State<Sim>,
    Path((tenant, family)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let props = match parse::<Map<String, Value>>(&body) {
        Ok(p) => p,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    match portal_write(&sim, &tenant, &family, &headers, |t, def, actor, delay| {
        t.portal_create(def, props, actor, delay)
    }) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err((status, e)) => fail(status, e),
    }
}

/// The tenant's audit events visible now, newest first (what `deviceManagement/auditEvents` serves).
async fn audit_events(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    match sim.with_tenant(&tenant, |t| t.audit.visible()) {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, e),
    }
}
