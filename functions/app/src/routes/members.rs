//! Memberships: role changes and removal, with the last owner protected.

use atlas_api_types as api;
use atlas_domain::Role;
use atlas_store::{Cond, Item, Key, TxItem, Update};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::auth::entitlement_of;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;
use crate::tenancy::{self, s};

/// A member's (or invitation's) environments as `reader` may see them. A list keeps only the
/// environments the reader is entitled to (it may end up empty); `"all"` stays `"all"`, which
/// names no environment.
pub fn entitlement_for(reader: &WorkspaceScope, e: Entitlement) -> Entitlement {
    match (reader.entitlement(), e) {
        (_, Entitlement::All) => Entitlement::All,
        (Entitlement::All, only) => only,
        (Entitlement::Only(_), Entitlement::Only(ids)) => {
            Entitlement::Only(ids.into_iter().filter(|e| reader.entitled_to(e)).collect())
        }
    }
}

/// [`tenancy::member_api`] filtered for `reader` (see [`entitlement_for`]).
pub fn member_view(reader: &WorkspaceScope, item: &Item) -> api::Member {
    let mut m = tenancy::member_api(item);
    m.environments = tenancy::environments_api(&entitlement_for(reader, entitlement_of(item)));
    m
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::MemberList>> {
    let items = state
        .table
        .query_all(atlas_store::Query::partition(scope.pk()).begins_with("MEMBER#"))
        .await?
        .iter()
        .map(|m| member_view(&scope, m))
        .collect();
    Ok(Json(api::MemberList { items }))
}

const LAST_OWNER: &str = "the workspace must keep at least one owner";

fn owner_count_change(scope: &WorkspaceScope, by: i64) -> TxItem {
    let cond = if by < 0 {
        Some(Cond::Gt("owner_count".into(), json!(-by)))
    } else {
        Some(Cond::Exists)
    };
    TxItem::Update {
        key: tenancy::workspace_key(scope.workspace_id()),
        update: Update::new().add("owner_count", by),
        cond,
    }
}

pub async fn patch(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, user)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::MemberPatch>,
) -> ApiResult<Json<api::Member>> {
    let user = tenancy::user_id(&user)?;
    let mut f = Fields::default();
    let (role, entitlement) =
        tenancy::parse_grant(&state, &scope, &mut f, body.role.as_deref(), body.environments.as_ref()).await?;
    if body.role.is_none() && body.environments.is_none() {
        f.push("body", "changes nothing: give role or environments");
    }
    f.finish()?;
    let key = tenancy::member_key(scope.workspace_id(), user.as_str());
    let current = state.table.get(&key).await?.ok_or(ApiError::NotFound)?;
    let entitlement = match (scope.entitlement(), entitlement) {
        // A granter entitled to some environments changes only those: the member keeps the
        // environments the granter cannot see, and "all" (which spans them) is not narrowed.
        (Entitlement::Only(_), Some(Entitlement::Only(chosen))) => match entitlement_of(&current) {
            Entitlement::All => {
                return Err(ApiError::field(
                    "environments",
                    "this member is entitled to all environments; only a member entitled to all can narrow that",
                ));
            }
            Entitlement::Only(had) => Some(Entitlement::Only(
                had.into_iter()
                    .filter(|e| !scope.entitled_to(e))
                    .chain(chosen)
                    .collect(),
            )),
        },
        (_, e) => e,
    };
    let old = Role::parse(&s(&current, "role")).ok_or_else(|| ApiError::internal("stored role is unknown"))?;
    let new = role.unwrap_or(old);
    let mut update = Update::new().set("role", new.as_str());
    if let Some(e) = &entitlement {
        update = update.set("environments", tenancy::environments_value(e));
    }
    let mut changes = vec![TxItem::Update {
        key: key.clone(),
        update,
        cond: Some(Cond::eq("role", old.as_str())),
    }];
    match (old == Role::Owner, new == Role::Owner) {
        (true, false) => changes.push(owner_count_change(&scope, -1)),
        (false, true) => changes.push(owner_count_change(&scope, 1)),
        _ => {}
    }
    let ev = NewEvent::success("member.update", format!("member/{user}"))
        .meta(json!({"from_role": old.as_str(), "to_role": new.as_str(), "environments": body.environments}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the membership changed meanwhile; reload and retry".into()),
            Some(1) => ApiError::Conflict(LAST_OWNER.into()),
            _ => e.into(),
        })?;
    let item = state.table.get(&key).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(member_view(&scope, &item)))
}

pub async fn delete(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let user = tenancy::user_id(&user)?;
    let key = tenancy::member_key(scope.workspace_id(), user.as_str());
    let current = state.table.get(&key).await?.ok_or(ApiError::NotFound)?;
    let role = s(&current, "role");
    let mut changes = vec![
        TxItem::Delete {
            key,
            cond: Some(Cond::eq("role", role.as_str())),
        },
        TxItem::Delete {
            key: Key::new(scope.pk(), format!("MEMBER_EMAIL#{}", s(&current, "email"))),
            cond: None,
        },
    ];
    if role == Role::Owner.as_str() {
        changes.push(owner_count_change(&scope, -1));
    }
    let ev = NewEvent::success("member.remove", format!("member/{user}"))
        .meta(json!({"role": role, "email": s(&current, "email")}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the membership changed meanwhile; reload and retry".into()),
            Some(2) => ApiError::Conflict(LAST_OWNER.into()),
            _ => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
