//! `/api/v1/me`, the workspace chooser, workspace creation, detail and pins.

use std::collections::BTreeMap;

use atlas_api_types as api;
use atlas_domain::{DisplayName, Role, WorkspaceId};
use atlas_store::{Cond, TxItem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody, QueryMap, RequestId};
use crate::identity::Actor;
use crate::records::tenancy::{self as tenancy_records, MemberRecord, PinRecord, SlugRecord, WorkspaceRecord};
use crate::records::{self, Record};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;
use crate::tenancy;

/// The actor's memberships, from the user's index (GSI1), and their workspaces.
async fn memberships(state: &AppState, actor: &Actor) -> ApiResult<Vec<(MemberRecord, WorkspaceRecord)>> {
    let ms: Vec<MemberRecord> =
        records::query_all(&state.table, tenancy_records::memberships_of(&actor.user_id)).await?;
    let mut out = Vec::new();
    for m in ms {
        if let Some(w) = tenancy::workspace(state, &m.workspace_id).await? {
            out.push((m, w));
        }
    }
    Ok(out)
}

pub async fn me(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<api::Me>> {
    let mut memberships_out = Vec::new();
    for (m, w) in memberships(&state, &actor).await? {
        memberships_out.push(api::MyMembership {
            workspace_id: w.workspace_id.to_string(),
            workspace_name: w.name,
            role: m.role,
            environments: tenancy::environments_api(&m.environments),
            capabilities: tenancy::capability_codes(m.role),
        });
    }
    let platform_operator = state.platform.is_operator(&actor.user_id, &actor.email);
    Ok(Json(api::Me {
        platform_operator,
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
    let pins: Vec<WorkspaceId> =
        records::query_all::<PinRecord>(&state.table, tenancy_records::pins_of(&actor.user_id))
            .await?
            .into_iter()
            .map(|p| p.workspace_id)
            .collect();
    let mut items = Vec::new();
    for (m, w) in memberships(&state, &actor).await? {
        let WorkspaceRecord {
            workspace_id,
            name,
            slug,
            last_activity_ms,
            ..
        } = w;
        if let Some(needle) = &search
            && !name.to_lowercase().contains(needle)
            && !slug.contains(needle)
        {
            continue;
        }
        let envs = tenancy::workspace_environments(&state, &workspace_id).await?;
        let mut statuses = BTreeMap::new();
        let mut count = 0;
        for e in envs {
            if m.environments.allows(&e.environment_id) {
                count += 1;
                let st = tenancy::current_status(&state, &e).await?;
                *statuses.entry(st.as_str().to_owned()).or_insert(0) += 1;
            }
        }
        items.push(api::WorkspaceSummary {
            pinned: pins.contains(&workspace_id),
            id: workspace_id.into(),
            name,
            slug,
            role: m.role,
            environment_count: count,
            environment_statuses: statuses,
            last_activity_ms,
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

/// The workspace id minted for a new workspace: never derived from what the caller typed, so a
/// create cannot probe which ids exist.
fn mint_workspace_id(state: &AppState) -> ApiResult<WorkspaceId> {
    WorkspaceId::parse(&format!("ws-{}", state.ids.next_id().to_ascii_lowercase())).map_err(ApiError::internal)
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
    let workspace = WorkspaceRecord {
        workspace_id: ws.clone(),
        name: name.as_str().to_owned(),
        slug: slug.as_str().to_owned(),
        owner_count: 1,
        created_ms: now,
        last_activity_ms: Some(now),
        created_by: Some(actor.user_id.clone()),
    };
    let member = MemberRecord::new(ws.clone(), &actor, Role::Owner, Entitlement::All, now);
    let email = member.email_entry();
    let handle = SlugRecord {
        user_id: actor.user_id.clone(),
        slug: slug.clone(),
        workspace_id: ws.clone(),
    };
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
            key: tenancy_records::quota_key(&actor.user_id),
            update: atlas_store::Update::new()
                .add("created", 1)
                .set("entity", "workspace_quota"),
            cond: Some(Cond::Or(vec![
                Cond::AttrNotExists("created".into()),
                Cond::Lt("created".into(), json!(quota)),
            ])),
        },
        handle.create(),
        workspace.create(),
        member.create(),
        email.create(),
        TxItem::Put {
            item: event,
            cond: Some(Cond::NotExists),
        },
    ];
    audit::transact(&state, tx).await.map_err(|e| match e {
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
    Ok((StatusCode::CREATED, Json(api::Workspace::from(&workspace))))
}

pub async fn get(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::Workspace>> {
    let w = tenancy::workspace(&state, scope.workspace_id())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(api::Workspace::from(&w)))
}

pub async fn pin(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<StatusCode> {
    let pin = PinRecord {
        user_id: scope.actor().user_id.clone(),
        workspace_id: scope.workspace_id().clone(),
        pinned_ms: state.clock.now_millis(),
    };
    state.table.put(pin.to_item(), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpin(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<StatusCode> {
    let key = tenancy_records::pin_key(&scope.actor().user_id, scope.workspace_id());
    state.table.delete(&key, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
