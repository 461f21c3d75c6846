//! `/api/v1/me`, the workspace chooser, workspace creation, detail and pins.

use std::collections::BTreeMap;

use atlas_api_types as api;
use atlas_domain::{DisplayName, Role, WorkspaceId};
use atlas_store::{Cond, Key, Query, TxItem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::auth::entitlement_of;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody, QueryMap, RequestId};
use crate::identity::Actor;
use crate::scope::{WorkspaceScope, ws_pk};
use crate::state::AppState;
use crate::tenancy::{self, obj, s};

/// The actor's memberships, from the user's index (GSI1), and their workspaces.
async fn memberships(state: &AppState, actor: &Actor) -> ApiResult<Vec<(atlas_store::Item, atlas_store::Item)>> {
    let ms = state
        .table
        .query_all(Query::gsi1(format!("USER#{}", actor.user_id)).begins_with("WS#"))
        .await?;
    let mut out = Vec::new();
    for m in ms {
        let Ok(ws) = WorkspaceId::parse(&s(&m, "workspace_id")) else {
            continue;
        };
        if let Some(w) = state.table.get(&tenancy::workspace_key(&ws)).await? {
            out.push((m, w));
        }
    }
    Ok(out)
}

pub async fn me(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<api::Me>> {
    let mut memberships_out = Vec::new();
    for (m, w) in memberships(&state, &actor).await? {
        let Some(role) = Role::parse(&s(&m, "role")) else {
            continue;
        };
        memberships_out.push(api::MyMembership {
            workspace_id: s(&w, "workspace_id"),
            workspace_name: s(&w, "name"),
            role,
            environments: tenancy::environments_api(&entitlement_of(&m)),
            capabilities: tenancy::capability_codes(role),
        });
    }
    Ok(Json(api::Me {
        user_id: actor.user_id,
        email: actor.email,
        name: actor.name,
        memberships: memberships_out,
    }))
}

/// The chooser: search by name or slug, sort by `name` or `last_activity`, pinned first.
pub async fn list(State(state): State<AppState>, actor: Actor, q: QueryMap) -> ApiResult<Json<api::WorkspaceList>> {
    let sort = q.get("sort").unwrap_or("name");
    if !["name", "last_activity"].contains(&sort) {
        return Err(ApiError::field("query.sort", "must be name or last_activity"));
    }
    let search = q.get("search").map(str::to_lowercase);
    let pins: Vec<String> = state
        .table
        .query_all(Query::partition(format!("USER#{}", actor.user_id)).begins_with("PIN#"))
        .await?
        .iter()
        .map(|p| s(p, "workspace_id"))
        .collect();
    let mut items = Vec::new();
    for (m, w) in memberships(&state, &actor).await? {
        let name = s(&w, "name");
        let slug = s(&w, "slug");
        if let Some(needle) = &search
            && !name.to_lowercase().contains(needle)
            && !slug.contains(needle)
        {
            continue;
        }
        let entitlement = entitlement_of(&m);
        let envs = state
            .table
            .query_all(Query::partition(ws_pk_str(&w)).begins_with("ENV#"))
            .await?;
        let mut statuses = BTreeMap::new();
        let mut count = 0;
        for e in envs {
            let visible =
                atlas_domain::EnvironmentId::parse(&s(&e, "environment_id")).is_ok_and(|id| entitlement.allows(&id));
            if visible {
                count += 1;
                let st = tenancy::current_status(&state, &e).await?;
                *statuses.entry(st.as_str().to_owned()).or_insert(0) += 1;
            }
        }
        let id = s(&w, "workspace_id");
        items.push(api::WorkspaceSummary {
            pinned: pins.contains(&id),
            id,
            name,
            slug,
            role: Role::parse(&s(&m, "role")).unwrap_or(Role::Readonly),
            environment_count: count,
            environment_statuses: statuses,
            last_activity_ms: w.get("last_activity_ms").and_then(serde_json::Value::as_i64),
        });
    }
    items.sort_by(|a, b| {
        b.pinned.cmp(&a.pinned).then_with(|| match sort {
            "last_activity" => b
                .last_activity_ms
                .cmp(&a.last_activity_ms)
                .then_with(|| a.name.cmp(&b.name)),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        })
    });
    Ok(Json(api::WorkspaceList { items }))
}

fn ws_pk_str(w: &atlas_store::Item) -> String {
    format!("WS#{}", s(w, "workspace_id"))
}

/// The workspace id minted for a new workspace: never derived from what the caller typed, so a
/// create cannot probe which ids exist.
fn mint_workspace_id(state: &AppState) -> ApiResult<WorkspaceId> {
    WorkspaceId::parse(&format!("ws-{}", state.ids.next_id().to_ascii_lowercase())).map_err(ApiError::internal)
}

/// The creator's own record of a slug: a slug is a handle unique among the workspaces one user
/// created, and says nothing about anyone else's.
fn slug_key(actor: &Actor, slug: &WorkspaceId) -> Key {
    Key::new(format!("USER#{}", actor.user_id), format!("WS_SLUG#{slug}"))
}

/// How many workspaces the user has created, for the quota.
fn quota_key(actor: &Actor) -> Key {
    Key::new(format!("USER#{}", actor.user_id), "WS_QUOTA")
}

/// Creates a workspace; the creator becomes its first owner. The id is minted; the slug must be
/// unique among the creator's own workspaces; a user creates at most the configured quota.
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    RequestId(request_id): RequestId,
    JsonBody(body): JsonBody<api::WorkspaceCreate>,
) -> ApiResult<(StatusCode, Json<api::Workspace>)> {
    let mut f = Fields::default();
    let name = f.check("name", DisplayName::parse(&body.name));
    let slug = f.check("slug", WorkspaceId::parse(&body.slug));
    f.finish()?;
    let (name, slug) = (name.expect("checked"), slug.expect("checked"));
    let ws = mint_workspace_id(&state)?;
    let now = state.clock.now_millis();
    let workspace = obj(json!({
        "PK": ws_pk(&ws), "SK": "WORKSPACE", "entity": "workspace", "workspace_id": ws.as_str(),
        "name": name.as_str(), "slug": slug.as_str(), "owner_count": 1, "created_ms": now, "last_activity_ms": now,
        "created_by": actor.user_id,
    }));
    let member = obj(json!({
        "PK": ws_pk(&ws), "SK": format!("MEMBER#{}", actor.user_id), "entity": "membership",
        "workspace_id": ws.as_str(), "user_id": actor.user_id, "email": actor.email, "name": actor.name,
        "role": "owner", "environments": "all", "joined_ms": now,
        "GSI1PK": format!("USER#{}", actor.user_id), "GSI1SK": format!("WS#{ws}"),
    }));
    let email = obj(json!({"PK": ws_pk(&ws), "SK": format!("MEMBER_EMAIL#{}", actor.email), "user_id": actor.user_id}));
    let handle = slug_key(&actor, &slug);
    let handle = obj(json!({
        "PK": handle.pk, "SK": handle.sk, "entity": "workspace_slug", "slug": slug.as_str(), "workspace_id": ws.as_str(),
    }));
    let event = audit::item(
        &state,
        &ws,
        &actor,
        request_id.as_deref(),
        NewEvent::success("workspace.create", format!("workspace/{ws}"))
            .meta(json!({"name": name.as_str(), "slug": slug.as_str()})),
    );
    let quota = i64::from(state.workspace_quota);
    // The order matters: a cancellation's reasons are read by position below.
    let tx = vec![
        TxItem::Update {
            key: quota_key(&actor),
            update: atlas_store::Update::new()
                .add("created", 1)
                .set("entity", "workspace_quota"),
            cond: Some(Cond::Or(vec![
                Cond::AttrNotExists("created".into()),
                Cond::Lt("created".into(), json!(quota)),
            ])),
        },
        TxItem::Put {
            item: handle,
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: workspace.clone(),
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: member,
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: email,
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: event,
            cond: Some(Cond::NotExists),
        },
    ];
    state.table.transact(tx).await.map_err(|e| match e {
        atlas_store::TableError::TransactionCanceled { reasons } => {
            let failed = |i: usize| reasons.get(i).is_some_and(Option::is_some);
            if failed(0) {
                ApiError::Quota(format!(
                    "You have created {quota} workspaces, the most one user may create. Ask an owner of an \
                     existing workspace to invite you, or ask your administrator to raise the limit."
                ))
            } else if failed(1) {
                ApiError::Conflict("you already have a workspace with this slug; choose another".into())
            } else {
                // A minted id collided or the store raced: nothing was written; trying again works.
                ApiError::Conflict("the workspace could not be created; nothing was written, try again".into())
            }
        }
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(tenancy::workspace_api(&workspace))))
}

pub async fn get(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::Workspace>> {
    let w = state
        .table
        .get(&tenancy::workspace_key(scope.workspace_id()))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(tenancy::workspace_api(&w)))
}

fn pin_key(scope: &WorkspaceScope) -> Key {
    Key::new(
        format!("USER#{}", scope.actor().user_id),
        format!("PIN#{}", scope.workspace_id()),
    )
}

pub async fn pin(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<StatusCode> {
    let item = obj(json!({
        "PK": format!("USER#{}", scope.actor().user_id), "SK": format!("PIN#{}", scope.workspace_id()),
        "entity": "pin", "workspace_id": scope.workspace_id().as_str(), "pinned_ms": state.clock.now_millis(),
    }));
    state.table.put(item, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpin(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<StatusCode> {
    state.table.delete(&pin_key(&scope), None).await?;
    Ok(StatusCode::NO_CONTENT)
}
