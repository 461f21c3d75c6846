//! Workspaces, environments, memberships and invitations as items of the one table, and the
//! conversions to their API shapes. Every read here starts from a key a scope produced.

use std::collections::BTreeSet;

use atlas_api_types as api;
use atlas_domain::{Capability, EnvironmentId, EnvironmentLifecycle, Role, Status, UserId, WorkspaceId};
use atlas_store::{Item, Query};
use serde_json::Value;

use crate::error::{Fields, ServiceError, ServiceResult};
use crate::records::tenancy::{
    ENV_PREFIX, EnvironmentRecord, MemberRecord, WorkspaceRecord, env_sk, stored_entitlement,
};
use crate::records::{self, Record};
use crate::scope::{Entitlement, EnvScope, WorkspaceScope};
use crate::state::AppState;

pub use crate::records::tenancy::{env_key, member_key, workspace_key};

/// A stored membership, as the guard and the re-check of queued work need it.
#[derive(Clone)]
pub struct Membership {
    pub role: Role,
    pub entitlement: Entitlement,
}

pub fn entitlement_of(item: &atlas_store::Item) -> Entitlement {
    stored_entitlement::from_value(item.get("environments").unwrap_or(&Value::Null))
}

pub async fn member(state: &AppState, ws: &WorkspaceId, user_id: &str) -> ServiceResult<Option<MemberRecord>> {
    Ok(records::get(&state.table, &member_key(ws, user_id)).await?)
}

/// The membership a queued unit re-checks when it executes: eventually consistent (ADR 0049),
/// half the read units, blind at most to a change of the last second before the unit ran.
pub async fn membership_at_execution(
    state: &AppState,
    ws: &WorkspaceId,
    user_id: &str,
) -> ServiceResult<Option<Membership>> {
    let m: Option<MemberRecord> = records::get_eventually(&state.table, &member_key(ws, user_id)).await?;
    Ok(m.map(|m| Membership {
        role: m.role,
        entitlement: m.environments,
    }))
}

pub async fn membership(state: &AppState, ws: &WorkspaceId, user_id: &str) -> ServiceResult<Option<Membership>> {
    Ok(member(state, ws, user_id).await?.map(|m| Membership {
        role: m.role,
        entitlement: m.environments,
    }))
}

pub async fn workspace(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Option<WorkspaceRecord>> {
    Ok(records::get(&state.table, &workspace_key(ws)).await?)
}

/// The canonical status an environment shows before a provider connection exists.
pub fn environment_status(lifecycle: EnvironmentLifecycle) -> Status {
    match lifecycle {
        EnvironmentLifecycle::Suspended => Status::Blocked,
        EnvironmentLifecycle::Archived => Status::Historical,
        EnvironmentLifecycle::Active => Status::NotConfigured,
    }
}

impl From<&WorkspaceRecord> for api::Workspace {
    fn from(w: &WorkspaceRecord) -> Self {
        api::Workspace {
            id: w.workspace_id.to_string(),
            name: w.name.clone(),
            slug: w.slug.clone(),
            owner_count: w.owner_count.max(0) as u32,
            created_ms: w.created_ms,
            last_activity_ms: w.last_activity_ms,
        }
    }
}

/// An environment's canonical status: its lifecycle when it is not active, else its provider
/// connection's (not configured, ready, needs attention, blocked …).
pub async fn current_status(state: &AppState, env: &EnvironmentRecord) -> ServiceResult<Status> {
    if env.lifecycle != EnvironmentLifecycle::Active {
        return Ok(environment_status(env.lifecycle));
    }
    let connection: Option<crate::records::provider::ConnectionRecord> = records::get(
        &state.table,
        &crate::records::provider::connection_key(&env.workspace_id, &env.environment_id),
    )
    .await?;
    Ok(crate::provider::status(connection.as_ref(), state.clock.now_millis()).0)
}

/// The environment's API shape with the provider connection's status.
pub async fn environment_view(state: &AppState, env: &EnvironmentRecord) -> ServiceResult<api::Environment> {
    let mut v = api::Environment::from(env);
    v.status = current_status(state, env).await?;
    Ok(v)
}

impl From<&EnvironmentRecord> for api::Environment {
    fn from(e: &EnvironmentRecord) -> Self {
        api::Environment {
            id: e.environment_id.to_string(),
            workspace_id: e.workspace_id.to_string(),
            display_name: e.display_name.clone(),
            tenant_id: e.tenant_id.clone(),
            primary_domain: e.primary_domain.clone(),
            status: environment_status(e.lifecycle),
            lifecycle: e.lifecycle,
            created_ms: e.created_ms,
        }
    }
}

pub fn environments_api(e: &Entitlement) -> api::Environments {
    match e {
        Entitlement::All => api::Environments::All(api::AllEnvironments::All),
        Entitlement::Only(ids) => api::Environments::Only(ids.iter().map(|i| i.to_string()).collect()),
    }
}

pub fn environments_value(e: &Entitlement) -> Value {
    stored_entitlement::to_value(e)
}

impl From<&MemberRecord> for api::Member {
    fn from(m: &MemberRecord) -> Self {
        api::Member {
            user_id: m.user_id.clone(),
            email: m.email.clone(),
            name: m.name.clone(),
            role: m.role,
            environments: environments_api(&m.environments),
            joined_ms: m.joined_ms,
        }
    }
}

/// The workspace's environments, whatever the caller's entitlement (for validation).
pub async fn all_environments(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<Vec<EnvironmentRecord>> {
    workspace_environments(state, scope.workspace_id()).await
}

/// The environments of a workspace the caller is a member of (the chooser filters them).
pub async fn workspace_environments(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Vec<EnvironmentRecord>> {
    Ok(records::query_all(
        &state.table,
        Query::partition(crate::records::keys::ws_pk(ws)).begins_with(ENV_PREFIX),
    )
    .await?)
}

/// The environments this member may see.
pub async fn visible_environments(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<Vec<EnvironmentRecord>> {
    Ok(all_environments(state, scope)
        .await?
        .into_iter()
        .filter(|e| scope.entitled_to(&e.environment_id))
        .collect())
}

/// The scope's environment record.
pub async fn environment_record(state: &AppState, scope: &EnvScope) -> ServiceResult<EnvironmentRecord> {
    scope
        .workspace()
        .records(&state.table)
        .get(env_sk(scope.environment_id()))
        .await?
        .ok_or(ServiceError::NotFound)
}

/// [`environment_record`] as queued work re-checks it when it executes: eventually consistent
/// (ADR 0049).
pub async fn environment_at_execution(state: &AppState, scope: &EnvScope) -> ServiceResult<EnvironmentRecord> {
    let key = scope
        .workspace()
        .records(&state.table)
        .key(env_sk(scope.environment_id()));
    records::get_eventually(&state.table, &key)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// The scope's environment as its stored item, for the areas that still read it attribute by
/// attribute; [`environment_record`] is the typed read.
pub async fn environment(state: &AppState, scope: &EnvScope) -> ServiceResult<Item> {
    Ok(environment_record(state, scope).await?.to_item())
}

/// Validates a hub's `environment_id` filter: it must be an environment of this workspace the
/// caller is entitled to. Unknown and not-entitled get the same answer, so nothing leaks.
pub async fn hub_environment(
    state: &AppState,
    scope: &WorkspaceScope,
    raw: Option<&str>,
) -> ServiceResult<Option<EnvironmentId>> {
    let Some(raw) = raw else { return Ok(None) };
    let refuse = || {
        ServiceError::field(
            "query.environment_id",
            "is not an environment of this workspace you can see",
        )
    };
    let env = EnvironmentId::parse(raw).map_err(|_| refuse())?;
    if !scope.entitled_to(&env)
        || scope
            .records(&state.table)
            .get::<EnvironmentRecord>(env_sk(&env))
            .await?
            .is_none()
    {
        return Err(refuse());
    }
    Ok(Some(env))
}

/// Parses an environment list from a request, checking the environments exist.
pub async fn parse_grant(
    state: &AppState,
    scope: &WorkspaceScope,
    fields: &mut Fields,
    envs: Option<&api::Environments>,
) -> ServiceResult<Option<Entitlement>> {
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
            let existing: BTreeSet<EnvironmentId> = visible_environments(state, scope)
                .await?
                .into_iter()
                .map(|e| e.environment_id)
                .collect();
            let mut set = BTreeSet::new();
            for id in ids {
                match EnvironmentId::parse(id) {
                    Ok(e) if existing.contains(&e) => {
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
    Ok(entitlement)
}

/// Capability codes of a role, for `/me`.
pub fn capability_codes(role: Role) -> Vec<String> {
    role.capabilities()
        .iter()
        .map(|c: &Capability| c.as_str().to_owned())
        .collect()
}

pub fn user_id(raw: &str) -> ServiceResult<UserId> {
    UserId::parse(raw).map_err(|e| ServiceError::field("path.user", e.0))
}
