//! In-app notifications (spec 016): a run's initiator is told when it ends, if they opted in for
//! that ending. The notification is written in the transaction that ends the run, so it exists
//! if and only if the run ended; it is shown only while the user can still see the run.

use std::collections::BTreeMap;

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, RunOutcome, WorkspaceId};
use atlas_store::TxItem;

use crate::error::{ServiceError, ServiceResult};
use crate::identity::Actor;
use crate::records::notifications::{
    NotificationRecord, PrefsRecord, ReadState, notification_key, notifications_after, notifications_of, prefs_key,
    state_key,
};
use crate::records::runs::OperationRun;
use crate::records::tenancy::{MemberRecord, memberships_of};
use crate::records::{self, Record};
use crate::scope::Entitlement;
use crate::state::AppState;

/// Unread notifications are counted up to this many ("99+" in the bell).
const UNREAD_CAP: u32 = 100;
pub const MAX_PAGE: u32 = 100;

async fn prefs_of(state: &AppState, user: &str) -> ServiceResult<api::NotificationPrefs> {
    let stored: Option<PrefsRecord> = records::get(&state.table, &prefs_key(user)).await?;
    Ok(stored.map(|p| p.prefs).unwrap_or_default())
}

pub async fn prefs(state: &AppState, actor: &Actor) -> ServiceResult<api::NotificationPrefs> {
    prefs_of(state, &actor.user_id).await
}

pub async fn set_prefs(
    state: &AppState,
    actor: &Actor,
    body: &api::NotificationPrefs,
) -> ServiceResult<api::NotificationPrefs> {
    let rec = PrefsRecord {
        user_id: actor.user_id.clone(),
        prefs: *body,
    };
    state.table.put(rec.to_item(), None).await?;
    Ok(*body)
}

/// The kind of notification a run's ending makes, and whether these prefs ask for it.
fn kind_for(outcome: RunOutcome, p: &api::NotificationPrefs) -> Option<&'static str> {
    match outcome {
        RunOutcome::Succeeded if p.run_completed => Some("run.completed"),
        RunOutcome::PartiallySucceeded if p.run_failed => Some("run.partial"),
        RunOutcome::Failed if p.run_failed => Some("run.failed"),
        RunOutcome::Blocked if p.run_blocked => Some("run.blocked"),
        _ => None,
    }
}

/// The write that tells the run's initiator it ended, when they asked for this ending; add it to
/// the transaction that ends the run.
pub async fn run_ended_items(
    state: &AppState,
    ws: &WorkspaceId,
    run: &OperationRun,
    outcome: RunOutcome,
) -> ServiceResult<Vec<TxItem>> {
    let prefs = prefs_of(state, &run.initiator_id).await?;
    let Some(kind) = kind_for(outcome, &prefs) else {
        return Ok(Vec::new());
    };
    let what = run.kind.label();
    let title = match outcome {
        RunOutcome::Succeeded => format!("{what} completed"),
        RunOutcome::PartiallySucceeded => format!("{what} completed with failures"),
        RunOutcome::Blocked => format!("{what} was blocked"),
        _ => format!("{what} failed"),
    };
    let n = NotificationRecord {
        user_id: run.initiator_id.clone(),
        notification_id: state.ids.next_id(),
        workspace_id: ws.clone(),
        environment_id: run.environment(),
        kind: kind.into(),
        title,
        // The workspace's run viewer: it never depends on an environment being selected.
        link: format!("/workspaces/{ws}/operations/{}", run.run_id),
        at_ms: state.clock.now_millis(),
    };
    Ok(vec![n.create()])
}

/// Where the user may look now: workspace → entitled environments.
async fn visibility(state: &AppState, actor: &Actor) -> ServiceResult<BTreeMap<WorkspaceId, Entitlement>> {
    let ms: Vec<MemberRecord> = records::query_all(&state.table, memberships_of(&actor.user_id)).await?;
    Ok(ms.into_iter().map(|m| (m.workspace_id, m.environments)).collect())
}

fn visible(n: &NotificationRecord, seen: &BTreeMap<WorkspaceId, Entitlement>) -> bool {
    seen.get(&n.workspace_id).is_some_and(|e| {
        n.environment_id
            .as_ref()
            .is_none_or(|env: &EnvironmentId| e.allows(env))
    })
}

/// My notifications, newest first, with the unread count; those from a workspace I left or an
/// environment I no longer see are left out.
pub async fn page(
    state: &AppState,
    actor: &Actor,
    cursor: Option<String>,
    limit: u32,
) -> ServiceResult<api::NotificationPage> {
    let seen = visibility(state, actor).await?;
    let read: Option<ReadState> = records::get(&state.table, &state_key(&actor.user_id)).await?;
    let read_up_to = read.map(|r| r.read_up_to).unwrap_or_default();
    let q = notifications_of(&actor.user_id).backward().limit(limit).after(cursor);
    let got = records::query::<NotificationRecord>(&state.table, &q).await?;
    let items = got
        .items
        .iter()
        .filter(|n| visible(n, &seen))
        .map(|n| api::Notification {
            id: n.notification_id.clone(),
            workspace_id: n.workspace_id.to_string(),
            environment_id: n.environment_id.as_ref().map(ToString::to_string),
            kind: n.kind.clone(),
            title: n.title.clone(),
            link: n.link.clone(),
            at_ms: n.at_ms,
            read: n.notification_id <= read_up_to,
        })
        .collect();
    let newer = if read_up_to.is_empty() {
        notifications_of(&actor.user_id)
    } else {
        notifications_after(&actor.user_id, &read_up_to)
    };
    let unread = records::query::<NotificationRecord>(&state.table, &newer.limit(UNREAD_CAP))
        .await?
        .items
        .iter()
        .filter(|n| visible(n, &seen))
        .count() as u32;
    Ok(api::NotificationPage {
        items,
        unread,
        next: got.next,
    })
}

/// Marks my notifications read up to `up_to` (one of mine), or all of them; never moves back.
pub async fn mark_read(state: &AppState, actor: &Actor, body: &api::NotificationsRead) -> ServiceResult<()> {
    let up_to = match &body.up_to {
        Some(id) => {
            let key = notification_key(&actor.user_id, id);
            if state.table.get(&key).await?.is_none() {
                return Err(ServiceError::field("up_to", "is not one of your notifications"));
            }
            id.clone()
        }
        None => {
            let newest = notifications_of(&actor.user_id).backward().limit(1);
            match records::query::<NotificationRecord>(&state.table, &newest)
                .await?
                .items
                .first()
            {
                Some(n) => n.notification_id.clone(),
                None => return Ok(()),
            }
        }
    };
    let rec = ReadState {
        user_id: actor.user_id.clone(),
        read_up_to: up_to.clone(),
    };
    // Never backwards: a stale tab marking an older notification read changes nothing.
    let cond = atlas_store::Cond::Or(vec![
        atlas_store::Cond::NotExists,
        atlas_store::Cond::Lt("read_up_to".into(), up_to.into()),
    ]);
    match state.table.put(rec.to_item(), Some(cond)).await {
        Ok(()) | Err(atlas_store::TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
