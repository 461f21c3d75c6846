//! Workspaces, environments, memberships and invitations as items of the one table, and the
//! conversions to their API shapes. Every read here starts from a key a scope produced.

use std::collections::BTreeSet;

use atlas_api_types as api;
use atlas_domain::{Capability, EnvironmentId, EnvironmentLifecycle, Role, Status, UserId, WorkspaceId};
use atlas_store::{Item, Key, Query};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::error::Fields;
use crate::scope::{Entitlement, EnvScope, WorkspaceScope, ws_pk};
use crate::state::AppState;

pub const LIFECYCLES: &[&str] = &["active", "suspended", "archived"];

pub fn s(i: &Item, k: &str) -> String {
    i.get(k).and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub fn n(i: &Item, k: &str) -> i64 {
    i.get(k).and_then(Value::as_i64).unwrap_or_default()
}

pub fn obj(v: Value) -> Item {
    v.as_object().cloned().unwrap_or_default()
}

pub fn member_key(ws: &WorkspaceId, user: &str) -> Key {
    Key::new(ws_pk(ws), format!("MEMBER#{user}"))
}

pub fn workspace_key(ws: &WorkspaceId) -> Key {
    Key::new(ws_pk(ws), "WORKSPACE")
}

pub fn env_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(ws_pk(ws), format!("ENV#{env}"))
}

/// A stored membership, as the guard and the re-check of queued work need it.
pub struct Membership {
    pub role: Role,
    pub entitlement: Entitlement,
}

pub fn entitlement_of(item: &atlas_store::Item) -> Entitlement {
    match item.get("environments") {
        Some(Value::Array(ids)) => Entitlement::Only(
            ids.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| EnvironmentId::parse(s).ok())
                .collect::<BTreeSet<_>>(),
        ),
        _ => Entitlement::All,
    }
}

pub async fn membership(state: &AppState, ws: &WorkspaceId, user_id: &str) -> Result<Option<Membership>, ApiError> {
    let item = state.table.get(&member_key(ws, user_id)).await?;
    Ok(item.and_then(|m| {
        let role = Role::parse(m.get("role")?.as_str()?)?;
        Some(Membership {
            role,
            entitlement: entitlement_of(&m),
        })
    }))
}

/// The canonical status an environment shows before a provider connection exists.
pub fn environment_status(lifecycle: &str) -> Status {
    match lifecycle {
        "suspended" => Status::Blocked,
        "archived" => Status::Historical,
        _ => Status::NotConfigured,
    }
}

pub fn workspace_api(i: &Item) -> api::Workspace {
    api::Workspace {
        id: s(i, "workspace_id"),
        name: s(i, "name"),
        slug: s(i, "slug"),
        owner_count: n(i, "owner_count").max(0) as u32,
        created_ms: n(i, "created_ms"),
        last_activity_ms: i.get("last_activity_ms").and_then(Value::as_i64),
    }
}

/// An environment's canonical status: its lifecycle when it is not active, else its provider
/// connection's (not configured, ready, needs attention, blocked …).
pub async fn current_status(state: &AppState, env: &Item) -> Result<Status, ApiError> {
    let lifecycle = s(env, "lifecycle");
    if lifecycle != "active" {
        return Ok(environment_status(&lifecycle));
    }
    let conn = state
        .table
        .get(&Key::new(format!("{}#{}", s(env, "PK"), s(env, "SK")), "PROVIDER"))
        .await?;
    Ok(crate::provider::status(conn.as_ref(), state.clock.now_millis()).0)
}

/// [`environment_api`] with the provider connection's status.
pub async fn environment_view(state: &AppState, env: &Item) -> Result<api::Environment, ApiError> {
    let mut v = environment_api(env);
    v.status = current_status(state, env).await?;
    Ok(v)
}

pub fn environment_api(i: &Item) -> api::Environment {
    let lifecycle = s(i, "lifecycle");
    api::Environment {
        id: s(i, "environment_id"),
        workspace_id: s(i, "workspace_id"),
        display_name: s(i, "display_name"),
        tenant_id: s(i, "tenant_id"),
        primary_domain: s(i, "primary_domain"),
        status: environment_status(&lifecycle),
        // Written only from the three lifecycles; an unknown one shows as the most restrictive.
        lifecycle: EnvironmentLifecycle::parse(&lifecycle).unwrap_or(EnvironmentLifecycle::Archived),
        created_ms: n(i, "created_ms"),
    }
}

pub fn environments_api(e: &Entitlement) -> api::Environments {
    match e {
        Entitlement::All => api::Environments::All(api::AllEnvironments::All),
        Entitlement::Only(ids) => api::Environments::Only(ids.iter().map(|i| i.to_string()).collect()),
    }
}

pub fn environments_value(e: &Entitlement) -> Value {
    match e {
        Entitlement::All => json!("all"),
        Entitlement::Only(ids) => json!(ids.iter().map(|i| i.as_str()).collect::<Vec<_>>()),
    }
}

pub fn member_api(i: &Item) -> api::Member {
    api::Member {
        user_id: s(i, "user_id"),
        email: s(i, "email"),
        name: s(i, "name"),
        role: Role::parse(&s(i, "role")).unwrap_or(Role::Readonly),
        environments: environments_api(&entitlement_of(i)),
        joined_ms: n(i, "joined_ms"),
    }
}

/// The workspace's environments, whatever the caller's entitlement (for validation).
pub async fn all_environments(state: &AppState, scope: &WorkspaceScope) -> Result<Vec<Item>, ApiError> {
    Ok(state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("ENV#"))
        .await?)
}

/// The environments this member may see.
pub async fn visible_environments(state: &AppState, scope: &WorkspaceScope) -> Result<Vec<Item>, ApiError> {
    Ok(all_environments(state, scope)
        .await?
        .into_iter()
        .filter(|i| EnvironmentId::parse(&s(i, "environment_id")).is_ok_and(|e| scope.entitled_to(&e)))
        .collect())
}

pub async fn environment(state: &AppState, scope: &EnvScope) -> Result<Item, ApiError> {
    state
        .table
        .get(&env_key(scope.workspace().workspace_id(), scope.environment_id()))
        .await?
        .ok_or(ApiError::NotFound)
}

/// Validates a hub's `environment_id` filter: it must be an environment of this workspace the
/// caller is entitled to. Unknown and not-entitled get the same answer, so nothing leaks.
pub async fn hub_environment(
    state: &AppState,
    scope: &WorkspaceScope,
    raw: Option<&str>,
) -> Result<Option<EnvironmentId>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let refuse = || {
        ApiError::field(
            "query.environment_id",
            "is not an environment of this workspace you can see",
        )
    };
    let env = EnvironmentId::parse(raw).map_err(|_| refuse())?;
    if !scope.entitled_to(&env) || state.table.get(&env_key(scope.workspace_id(), &env)).await?.is_none() {
        return Err(refuse());
    }
    Ok(Some(env))
}

/// Parses a role and an environment list from a request, checking the environments exist.
pub async fn parse_grant(
    state: &AppState,
    scope: &WorkspaceScope,
    fields: &mut Fields,
    role: Option<&str>,
    envs: Option<&api::Environments>,
) -> Result<(Option<Role>, Option<Entitlement>), ApiError> {
    let role = role.and_then(|r| {
        fields.check(
            "role",
            Role::parse(r).ok_or("must be owner, manager, operator or readonly"),
        )
    });
    let entitlement = match envs {
        None => None,
        Some(api::Environments::All(_)) => {
            // "all" spans environments a partly entitled granter cannot see.
            if *scope.entitlement() != Entitlement::All {
                fields.push(
                    "environments",
                    "can be \"all\" only when you are entitled to all environments",
                );
            }
            Some(Entitlement::All)
        }
        Some(api::Environments::Only(ids)) => {
            // Only environments the granter can see: an unseen one gets the same answer as a
            // missing one, so this is no existence oracle.
            let existing: BTreeSet<String> = visible_environments(state, scope)
                .await?
                .iter()
                .map(|i| s(i, "environment_id"))
                .collect();
            let mut set = BTreeSet::new();
            for id in ids {
                match EnvironmentId::parse(id) {
                    Ok(e) if existing.contains(e.as_str()) => {
                        set.insert(e);
                    }
                    _ => fields.push(
                        "environments",
                        format!("{id:?} is not an environment of this workspace"),
                    ),
                }
            }
            if ids.is_empty() {
                fields.push("environments", "lists at least one environment, or is \"all\"");
            }
            Some(Entitlement::Only(set))
        }
    };
    Ok((role, entitlement))
}

/// Capability codes of a role, for `/me`.
pub fn capability_codes(role: Role) -> Vec<String> {
    role.capabilities()
        .iter()
        .map(|c: &Capability| c.as_str().to_owned())
        .collect()
}

pub fn user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::field("path.user", e.0))
}
