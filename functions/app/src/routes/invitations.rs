//! Invitations by email: created with a one-time token (stored only as its hash), expiring,
//! accepted by a signed-in user whose verified email matches, or revoked.

use atlas_api_types as api;
use atlas_domain::{Email, InvitationId, InvitationStatus, Role};
use atlas_store::{Cond, TxItem, Update};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Fields, JsonBody, RequestId};
use crate::identity::Actor;
use crate::records::tenancy::{
    INVITE_PREFIX, InvitationLockRecord, InvitationRecord, InvitationTokenRecord, MemberRecord, invite_email_key,
    invite_key, invite_sk, member_email_key, token_key,
};
use crate::records::{self, Record};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;
use crate::tenancy;

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

fn invitation_api(i: &InvitationRecord, now: i64) -> api::Invitation {
    api::Invitation {
        id: i.invitation_id.clone(),
        email: i.email.clone(),
        role: i.role,
        environments: tenancy::environments_api(&i.environments),
        state: i.status(now),
        status: i.status(now).canonical(),
        invited_by: i.invited_by.clone(),
        created_ms: i.created_ms,
        expires_ms: i.expires_ms,
    }
}

pub async fn list(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::InvitationList>> {
    let now = state.clock.now_millis();
    let q = scope.records(&state.table).query(INVITE_PREFIX);
    let items = records::query_all::<InvitationRecord>(&state.table, q)
        .await?
        .iter()
        .map(|i| {
            let mut v = invitation_api(i, now);
            let visible = crate::routes::members::entitlement_for(&scope, i.environments.clone());
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
    let entitlement = tenancy::parse_grant(&state, &scope, &mut f, Some(&body.environments)).await?;
    f.finish()?;
    let (email, role, entitlement) = (email.expect("ok"), body.role, entitlement.unwrap_or(Entitlement::All));
    let now = state.clock.now_millis();
    let id = state.ids.next_id();
    let token = new_token()?;
    let invite = InvitationRecord {
        workspace_id: scope.workspace_id().clone(),
        invitation_id: id.clone(),
        email: email.as_str().to_owned(),
        role,
        environments: entitlement,
        status: InvitationStatus::Pending,
        invited_by: scope.actor().email.clone(),
        created_ms: now,
        expires_ms: now + VALID_MS,
        token_hash: token_hash(&token),
        accepted_by: None,
    };
    let changes = vec![
        TxItem::Check {
            key: member_email_key(scope.workspace_id(), email.as_str()),
            cond: Cond::NotExists,
        },
        // A pending invitation for this email blocks another, unless it expired.
        TxItem::Put {
            item: invite.lock().to_item(),
            cond: Some(Cond::Or(vec![
                Cond::NotExists,
                Cond::Lt("expires_ms".into(), json!(now)),
            ])),
        },
        invite.create(),
        invite.token().create(),
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
    let ws = scope.records(&state.table);
    let invite: InvitationRecord = ws.get(invite_sk(id.as_str())).await?.ok_or(ApiError::NotFound)?;
    if invite.status != InvitationStatus::Pending {
        return Err(ApiError::Conflict(format!(
            "the invitation is already {}",
            invite.status
        )));
    }
    let lock_key = invite.lock().key();
    let mut changes = vec![
        TxItem::Update {
            key: invite.key(),
            update: Update::new().set("status", "revoked"),
            cond: Some(Cond::eq("status", "pending")),
        },
        TxItem::Delete {
            key: token_key(&invite.token_hash),
            cond: None,
        },
    ];
    // The email's lock may already belong to a newer invitation (this one expired): leave it.
    let lock: Option<InvitationLockRecord> = records::get(&state.table, &lock_key).await?;
    if lock.as_ref().is_some_and(|l| l.invitation_id == id.as_str()) {
        changes.push(TxItem::Delete {
            key: lock_key,
            cond: Some(Cond::eq("invitation_id", id.as_str())),
        });
    }
    let ev = NewEvent::success("invitation.revoke", format!("invitation/{id}")).meta(json!({"email": invite.email}));
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
    let t: InvitationTokenRecord = records::get(&state.table, &token_key(&hash))
        .await?
        .ok_or(ApiError::NotFound)?;
    let ws = t.workspace_id;
    let id = t.invitation_id;
    let invite: InvitationRecord = records::get(&state.table, &invite_key(&ws, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    if invite.email != actor.email || invite.token_hash != hash {
        return Err(ApiError::NotFound);
    }
    let now = state.clock.now_millis();
    match invite.status(now) {
        InvitationStatus::Pending => {}
        other => return Err(ApiError::Conflict(format!("the invitation is {other}"))),
    }
    let role = invite.role;
    let member = MemberRecord::new(ws.clone(), &actor, role, invite.environments.clone(), now);
    let mut changes = vec![
        member.create(),
        member.email_entry().create(),
        TxItem::Update {
            key: invite.key(),
            update: Update::new()
                .set("status", "accepted")
                .set("accepted_by", actor.user_id.clone()),
            cond: Some(Cond::And(vec![
                Cond::eq("status", "pending"),
                Cond::Gt("expires_ms".into(), json!(now)),
            ])),
        },
        TxItem::Delete {
            key: invite_email_key(&ws, &actor.email),
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
    audit::transact(&state, tx)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0 | 1) => ApiError::Conflict("you are already a member of this workspace".into()),
            Some(_) => ApiError::Conflict("the invitation changed meanwhile".into()),
            None => e.into(),
        })?;
    let w = tenancy::workspace(&state, &ws).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(api::MyMembership {
        workspace_id: ws.to_string(),
        workspace_name: w.name,
        role,
        environments: tenancy::environments_api(&member.environments),
        capabilities: tenancy::capability_codes(role),
    }))
}
