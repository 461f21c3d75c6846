//! The guard in front of every registered route. Before any handler body runs it proves, in
//! this order: a verified caller (else 401), well-formed path ids (else 400), membership of the
//! workspace (else 404), entitlement to the environment (else 404), the route's capability
//! (else 403, audited on mutating routes) and only declared query keys (else 400). It hands the
//! handler a [`WorkspaceScope`] or [`EnvScope`]; nothing else can make one.

use std::collections::BTreeSet;

use atlas_domain::{EnvironmentId, WorkspaceId};
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::audit::{self, NewEvent, Outcome};
use crate::error::ApiError;
use crate::identity::{Actor, AuthError};
use crate::registry::{Access, Route};
use crate::scope::{EnvScope, Proof, WorkspaceScope};
use crate::state::AppState;

/// What the guard of one route knows.
#[derive(Clone)]
pub struct Guard {
    pub state: AppState,
    pub access: Access,
    pub method: Method,
    pub function: &'static str,
    pub query: &'static [&'static str],
}

impl Guard {
    pub fn for_route(state: AppState, r: &Route) -> Self {
        Self {
            state,
            access: r.access,
            method: r.method.clone(),
            function: r.function,
            query: r.query,
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let h = parts.headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let v = h
        .to_str()
        .map_err(|_| AuthError::Invalid("authorization header is not text".into()))?;
    let (scheme, token) = v
        .split_once(' ')
        .ok_or_else(|| AuthError::Invalid("expected `Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid("expected `Bearer <token>`".into()));
    }
    Ok(token.trim())
}

pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Actor, ApiError> {
    let token = bearer(parts).map_err(|_| ApiError::Unauthorized)?;
    state.verifier.verify(token).await.map_err(|e| match e {
        AuthError::KeysUnavailable(detail) => ApiError::Internal(format!("token keys unavailable: {detail}")),
        other => {
            tracing::info!(reason = %other, "rejected a bearer token");
            ApiError::Unauthorized
        }
    })
}

// Routes still name `auth::entitlement_of`; the lookup itself is the tenancy service's.
pub use crate::tenancy::{Membership, entitlement_of, membership};

pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    match check(&g, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn check(g: &Guard, req: Request) -> Result<Request, ApiError> {
    let (mut parts, body) = req.into_parts();
    // Stored with a denial: only a validated id, never the raw header.
    let request_id = crate::extract::request_id(&parts.headers);

    // Who is calling comes first: an anonymous caller learns nothing else, not even a 400.
    let actor = match g.access {
        Access::Public => None,
        _ => {
            let a = authenticate(&g.state, &parts).await?;
            tracing::Span::current().record("user_id", a.user_id.as_str());
            Some(a)
        }
    };
    // Not a platform operator: the system console does not exist for them, before any 400 could
    // say otherwise (written to the system audit log all the same: a probe is worth knowing about).
    if g.access == Access::Platform
        && let Some(a) = &actor
        && !g.state.platform.is_operator(&a.user_id, &a.email)
    {
        let target = parts.uri.to_string();
        crate::system::record_denial(&g.state, a, request_id.as_deref(), g.function, &target).await;
        return Err(ApiError::NotFound);
    }
    // Path ids are parsed before anything is looked up.
    let params = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map_err(|_| ApiError::NotFound)?;
    let mut ws = None;
    let mut env = None;
    for (name, value) in params.iter() {
        let field = format!("path.{name}");
        // User ids are the identity provider's; Graph object ids are Graph's (`A_<guid>` exists).
        if name == "user" || name == "item" || name == "family" {
            atlas_domain::UserId::parse(value).map_err(|e| ApiError::field(&field, e.0))?;
            continue;
        }
        let id = WorkspaceId::parse(value).map_err(|e| ApiError::field(&field, e.0))?;
        match name {
            "ws" => ws = Some(id),
            "env" => env = Some(EnvironmentId::parse(value).map_err(|e| ApiError::field("path.env", e.0))?),
            _ => {}
        }
    }
    check_query(&parts, g.query)?;

    let Some(actor) = actor else {
        return Ok(Request::from_parts(parts, body));
    };
    if g.access == Access::Platform {
        parts
            .extensions
            .insert(crate::scope::PlatformScope::new(actor, request_id, Proof::checked()));
        return Ok(Request::from_parts(parts, body));
    }
    let Access::Capability(capability) = g.access else {
        parts.extensions.insert(actor);
        return Ok(Request::from_parts(parts, body));
    };
    let ws = ws.ok_or_else(|| ApiError::Internal(format!("{} needs a capability but has no {{ws}}", g.function)))?;
    let span = tracing::Span::current();
    span.record("workspace_id", ws.as_str());

    let Some(m) = membership(&g.state, &ws, &actor.user_id).await? else {
        return Err(ApiError::NotFound);
    };
    let mut lifecycle = None;
    if let Some(env) = &env {
        span.record("environment_id", env.as_str());
        if !m.entitlement.allows(env) {
            return Err(ApiError::NotFound);
        }
        let Some(item) = g.state.table.get(&crate::records::tenancy::env_key(&ws, env)).await? else {
            return Err(ApiError::NotFound);
        };
        lifecycle = item.get("lifecycle").and_then(|l| l.as_str()).map(str::to_owned);
    }
    if !m.role.can(capability) {
        if g.method != Method::GET && g.method != Method::HEAD {
            let ev = NewEvent {
                action: g.function.to_owned(),
                target: parts.uri.path().to_owned(),
                environment_id: env.clone(),
                outcome: Outcome::Denied,
                reason: Some(format!("missing capability {capability} (role {})", m.role)),
                metadata: serde_json::json!({"method": g.method.as_str()}),
            };
            if let Err(e) = audit::record_denial(&g.state, &ws, &actor, request_id.as_deref(), ev).await {
                tracing::error!(error = %ApiError::from(e), "could not audit a denial");
            }
        }
        return Err(ApiError::Forbidden);
    }
    // A suspended or archived environment is read-only (spec 024): every change but its own
    // lifecycle's is refused, before the handler runs.
    if let Some(l) = lifecycle.filter(|l| l != "active")
        && g.method != Method::GET
        && g.method != Method::HEAD
        && g.function != "patch-environment"
    {
        return Err(ApiError::Conflict(format!(
            "the environment is {l} and read-only: an owner or manager can reactivate it"
        )));
    }
    let scope = WorkspaceScope::new(actor, ws, m.role, m.entitlement, request_id, Proof::checked());
    if let Some(env) = env {
        parts
            .extensions
            .insert(EnvScope::new(scope.clone(), env, Proof::checked()));
    }
    parts.extensions.insert(scope);
    Ok(Request::from_parts(parts, body))
}

/// Routes accept only the query keys they declare.
fn check_query(parts: &Parts, allowed: &[&str]) -> Result<(), ApiError> {
    let Some(q) = parts.uri.query() else { return Ok(()) };
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, _) in form_urlencoded::parse(q.as_bytes()) {
        if !allowed.contains(&key.as_ref()) {
            let message = if allowed.is_empty() {
                "this route takes no query parameters".to_owned()
            } else {
                format!("is not a parameter of this route; allowed: {}", allowed.join(", "))
            };
            errors.push(atlas_api_types::FieldError {
                field: format!("query.{key}"),
                message,
            });
        } else if !seen.insert(key.to_string()) {
            errors.push(atlas_api_types::FieldError {
                field: format!("query.{key}"),
                message: "is given twice".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(errors))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WorkspaceScope {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<WorkspaceScope>().cloned().ok_or_else(|| {
            ApiError::Internal(format!(
                "{} was not given a workspace scope: its route must name a capability",
                parts.uri.path()
            ))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for crate::scope::PlatformScope {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<crate::scope::PlatformScope>()
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("{} is not a platform route", parts.uri.path())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for EnvScope {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<EnvScope>()
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("{} was not given an environment scope", parts.uri.path())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(a) = parts.extensions.get::<Actor>() {
            return Ok(a.clone());
        }
        if let Some(s) = parts.extensions.get::<WorkspaceScope>() {
            return Ok(s.actor().clone());
        }
        Err(ApiError::Internal(format!(
            "{} has no signed-in caller: its route is public",
            parts.uri.path()
        )))
    }
}
