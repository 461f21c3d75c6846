//! Invitations by email: created with a one-time token (stored only as its hash), expiring,
//! accepted by a signed-in user whose verified email matches, or revoked.

use atlas_api_types as api;
use atlas_domain::{Email, InvitationId, InvitationStatus, Role, WorkspaceId};
use atlas_store::{Cond, Item, Key, Query, TxItem, Update};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::audit::{self, NewEvent};
use crate::auth::entitlement_of;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody, RequestId};
use crate::identity::Actor;
use crate::scope::{Entitlement, WorkspaceScope, ws_pk};
use crate::state::AppState;
use crate::tenancy::{self, n, obj, s};

/// How long an invitation stays valid.
pub const VALID_MS: i64 = 7 * 24 * 3_600_000;

fn token_hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::internal("no randomness"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn token_key(hash: &str) -> Key {
    Key::new(format!("INVTOKEN#{hash}"), "INVTOKEN")
}

fn status(i: &Item, now: i64) -> InvitationStatus {
    match InvitationStatus::parse(&s(i, "status")).unwrap_or(InvitationStatus::Revoked) {
        InvitationStatus::Pending if n(i, "expires_ms") <= now => InvitationStatus::Expired,
        st => st,
    }
}

fn invitation_api(i: &Item, now: i64) -> api::Invitation {
    api::Invitation {
        id: s(i, "invitation_id"),
        email: s(i, "email"),
        role: Role::parse(&s(i, "role")).unwrap_or(Role::Readonly),
        environments: tenancy::environments_api(&entitlement_of(i)),
        status: status(i, now),
        invited_by: s(i, "invited_by"),
        created_ms: n(i, "created_ms"),
        expires_ms: n(i, "expires_ms"),
    }
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::InvitationList>> {
    let now = state.clock.now_millis();
    let items = state
        .table
        .query_all(Query::partition(scope.pk()).begins_with("INVITE#"))
        .await?
        .iter()
        .map(|i| {
            let mut v = invitation_api(i, now);
            let visible = crate::routes::members::entitlement_for(&scope, entitlement_of(i));
            v.environments = tenancy::environments_api(&visible);
            v
        })
        .collect();
    Ok(Json(api::InvitationList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::InvitationCreate>,
) -> ApiResult<(StatusCode, Json<api::InvitationCreated>)> {
    let mut f = Fields::default();
    let email = f.check("email", Email::parse(&body.email));
    let (role, entitlement) =
        tenancy::parse_grant(&state, &scope, &mut f, Some(&body.role), Some(&body.environments)).await?;
    f.finish()?;
    let (email, role, entitlement) = (
        email.expect("ok"),
        role.expect("ok"),
        entitlement.unwrap_or(Entitlement::All),
    );
    let now = state.clock.now_millis();
    let id = state.ids.next_id();
    let token = new_token()?;
    let hash = token_hash(&token);
    let expires = now + VALID_MS;
    let invite = obj(json!({
        "PK": scope.pk(), "SK": format!("INVITE#{id}"), "entity": "invitation", "workspace_id": scope.workspace_id().as_str(),
        "invitation_id": id, "email": email.as_str(), "role": role.as_str(),
        "environments": tenancy::environments_value(&entitlement), "status": "pending",
        "invited_by": scope.actor().email, "created_ms": now, "expires_ms": expires, "token_hash": hash,
    }));
    let lock = obj(json!({
        "PK": scope.pk(), "SK": format!("INVITE_EMAIL#{}", email.as_str()), "entity": "invitation_lock",
        "invitation_id": id, "expires_ms": expires,
    }));
    let token_item = obj(json!({
        "PK": format!("INVTOKEN#{hash}"), "SK": "INVTOKEN", "entity": "invitation_token",
        "workspace_id": scope.workspace_id().as_str(), "invitation_id": id,
        // DynamoDB's TTL removes it eventually; acceptance checks the expiry itself.
        "ttl": expires / 1000 + 86_400,
    }));
    let changes = vec![
        TxItem::Check {
            key: Key::new(scope.pk(), format!("MEMBER_EMAIL#{}", email.as_str())),
            cond: Cond::NotExists,
        },
        // A pending invitation for this email blocks another, unless it expired.
        TxItem::Put {
            item: lock,
            cond: Some(Cond::Or(vec![
                Cond::NotExists,
                Cond::Lt("expires_ms".into(), json!(now)),
            ])),
        },
        TxItem::Put {
            item: invite.clone(),
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: token_item,
            cond: Some(Cond::NotExists),
        },
    ];
    let ev = NewEvent::success("invitation.create", format!("invitation/{id}"))
        .meta(json!({"email": email.as_str(), "role": role.as_str()}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("this email already belongs to a member".into()),
            Some(1) => ApiError::Conflict("a pending invitation for this email exists".into()),
            _ => e.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(api::InvitationCreated {
            invitation: invitation_api(&invite, now),
            accept_token: token,
        }),
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, invitation)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = InvitationId::parse(&invitation).map_err(|e| ApiError::field("path.invitation", e.0))?;
    let key = Key::new(scope.pk(), format!("INVITE#{id}"));
    let invite = state.table.get(&key).await?.ok_or(ApiError::NotFound)?;
    if s(&invite, "status") != "pending" {
        return Err(ApiError::Conflict(format!(
            "the invitation is already {}",
            s(&invite, "status")
        )));
    }
    let lock_key = Key::new(scope.pk(), format!("INVITE_EMAIL#{}", s(&invite, "email")));
    let mut changes = vec![
        TxItem::Update {
            key,
            update: Update::new().set("status", "revoked"),
            cond: Some(Cond::eq("status", "pending")),
        },
        TxItem::Delete {
            key: token_key(&s(&invite, "token_hash")),
            cond: None,
        },
    ];
    // The email's lock may already belong to a newer invitation (this one expired): leave it.
    let lock = state.table.get(&lock_key).await?;
    if lock.as_ref().is_some_and(|l| s(l, "invitation_id") == id.as_str()) {
        changes.push(TxItem::Delete {
            key: lock_key,
            cond: Some(Cond::eq("invitation_id", id.as_str())),
        });
    }
    let ev =
        NewEvent::success("invitation.revoke", format!("invitation/{id}")).meta(json!({"email": s(&invite, "email")}));
    audit::commit(&state, &scope, changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(_) => ApiError::Conflict("the invitation changed meanwhile".into()),
            None => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts with the token. A wrong token, or one meant for another email, is a plain 404.
pub async fn accept(
    State(state): State<AppState>,
    actor: Actor,
    RequestId(request_id): RequestId,
    JsonBody(body): JsonBody<api::InvitationAccept>,
) -> ApiResult<Json<api::MyMembership>> {
    if body.token.len() < 20 || body.token.len() > 100 {
        return Err(ApiError::field("token", "is not an invitation token"));
    }
    let hash = token_hash(&body.token);
    let t = state.table.get(&token_key(&hash)).await?.ok_or(ApiError::NotFound)?;
    let ws = WorkspaceId::parse(&s(&t, "workspace_id")).map_err(ApiError::internal)?;
    let id = s(&t, "invitation_id");
    let key = Key::new(ws_pk(&ws), format!("INVITE#{id}"));
    let invite = state.table.get(&key).await?.ok_or(ApiError::NotFound)?;
    if s(&invite, "email") != actor.email || s(&invite, "token_hash") != hash {
        return Err(ApiError::NotFound);
    }
    let now = state.clock.now_millis();
    match status(&invite, now).as_str() {
        "pending" => {}
        other => return Err(ApiError::Conflict(format!("the invitation is {other}"))),
    }
    let role = Role::parse(&s(&invite, "role")).ok_or_else(|| ApiError::internal("stored role is unknown"))?;
    let environments = invite
        .get("environments")
        .cloned()
        .unwrap_or(Value::String("all".into()));
    let member = obj(json!({
        "PK": ws_pk(&ws), "SK": format!("MEMBER#{}", actor.user_id), "entity": "membership",
        "workspace_id": ws.as_str(), "user_id": actor.user_id, "email": actor.email, "name": actor.name,
        "role": role.as_str(), "environments": environments, "joined_ms": now,
        "GSI1PK": format!("USER#{}", actor.user_id), "GSI1SK": format!("WS#{ws}"),
    }));
    let mut changes = vec![
        TxItem::Put {
            item: member.clone(),
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: obj(
                json!({"PK": ws_pk(&ws), "SK": format!("MEMBER_EMAIL#{}", actor.email), "user_id": actor.user_id}),
            ),
            cond: Some(Cond::NotExists),
        },
        TxItem::Update {
            key,
            update: Update::new()
                .set("status", "accepted")
                .set("accepted_by", actor.user_id.clone()),
            cond: Some(Cond::And(vec![
                Cond::eq("status", "pending"),
                Cond::Gt("expires_ms".into(), json!(now)),
            ])),
        },
        TxItem::Delete {
            key: Key::new(ws_pk(&ws), format!("INVITE_EMAIL#{}", actor.email)),
            cond: Some(Cond::eq("invitation_id", id.as_str())),
        },
        TxItem::Delete {
            key: token_key(&hash),
            cond: None,
        },
    ];
    if role == Role::Owner {
        changes.push(TxItem::Update {
            key: tenancy::workspace_key(&ws),
            update: Update::new().add("owner_count", 1),
            cond: Some(Cond::Exists),
        });
    }
    let ev = NewEvent::success("invitation.accept", format!("invitation/{id}")).meta(json!({"role": role.as_str()}));
    let tx = audit::with_event(&state, &ws, &actor, request_id.as_deref(), changes, ev);
    state.table.transact(tx).await.map_err(|e| match audit::failed_at(&e) {
        Some(0 | 1) => ApiError::Conflict("you are already a member of this workspace".into()),
        Some(_) => ApiError::Conflict("the invitation changed meanwhile".into()),
        None => e.into(),
    })?;
    let entitlement = entitlement_of(&member);
    let w = state
        .table
        .get(&tenancy::workspace_key(&ws))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(api::MyMembership {
        workspace_id: ws.to_string(),
        workspace_name: s(&w, "name"),
        role,
        environments: tenancy::environments_api(&entitlement),
        capabilities: tenancy::capability_codes(role),
    }))
}
