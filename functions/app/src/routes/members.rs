//! Memberships: role changes and removal, with the last owner protected.

use atlas_api_types as api;
use atlas_domain::Role;
use atlas_store::{Cond, TxItem, Update};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody};
use crate::records::tenancy::{MEMBER_PREFIX, MemberRecord, member_sk};
use crate::records::{self, Record};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;
use crate::tenancy;

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

/// The member's API shape filtered for `reader` (see [`entitlement_for`]).
pub fn member_view(reader: &WorkspaceScope, m: &MemberRecord) -> api::Member {
    let mut v = api::Member::from(m);
    v.environments = tenancy::environments_api(&entitlement_for(reader, m.environments.clone()));
    v
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::MemberList>> {
    let ws = scope.records(&state.table);
    let items = records::query_all::<MemberRecord>(&state.table, ws.query(MEMBER_PREFIX))
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
    let entitlement = tenancy::parse_grant(&state, &scope, &mut f, body.environments.as_ref()).await?;
    if body.role.is_none() && body.environments.is_none() {
        f.push("body", "changes nothing: give role or environments");
    }
    f.finish()?;
    let ws = scope.records(&state.table);
    let sk = member_sk(user.as_str());
    let key = ws.key(sk.clone());
    let current: MemberRecord = ws.get(sk.clone()).await?.ok_or(ApiError::NotFound)?;
    let entitlement = match (scope.entitlement(), entitlement) {
        // A granter entitled to some environments changes only those: the member keeps the
        // environments the granter cannot see, and "all" (which spans them) is not narrowed.
        (Entitlement::Only(_), Some(Entitlement::Only(chosen))) => match current.environments {
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
    let old = current.role;
    let new = body.role.unwrap_or(old);
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
    let m: MemberRecord = ws.get(sk).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(member_view(&scope, &m)))
}

pub async fn delete(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let user = tenancy::user_id(&user)?;
    let ws = scope.records(&state.table);
    let sk = member_sk(user.as_str());
    let current: MemberRecord = ws.get(sk.clone()).await?.ok_or(ApiError::NotFound)?;
    let role = current.role;
    let mut changes = vec![
        TxItem::Delete {
            key: ws.key(sk),
            cond: Some(Cond::eq("role", role.as_str())),
        },
        TxItem::Delete {
            key: current.email_entry().key(),
            cond: None,
        },
    ];
    if role == Role::Owner {
        changes.push(owner_count_change(&scope, -1));
    }
    let ev = NewEvent::success("member.remove", format!("member/{user}"))
        .meta(json!({"role": role.as_str(), "email": current.email}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the membership changed meanwhile; reload and retry".into()),
            Some(2) => ApiError::Conflict(LAST_OWNER.into()),
            _ => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
