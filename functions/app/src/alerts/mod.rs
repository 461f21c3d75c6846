//! Alerts (spec 016): events in, rules matched, deliveries out.
//!
//! A service that reports something (a finding opened, an exception expiring, a run failed)
//! adds [`event_item`] to the transaction that makes the change, so the event exists if and only
//! if the change does. The dispatcher then turns pending events into deliveries.
//!
//! `rules` and `destinations` are the workspace's configuration; `dispatch` matches events to
//! rules; `deliver` is the `alert-deliver` step (sign, send, record, retry); `deliveries` is the
//! history, redeliver and the test event.

pub mod deliver;
pub mod deliveries;
pub mod destinations;
pub mod dispatch;
pub mod email;
pub mod rules;
pub mod targets;

use atlas_domain::alerts::AlertEventType;
use atlas_domain::{EnvironmentId, Severity, WorkspaceId};
use atlas_store::TxItem;
use serde_json::Value;

use crate::error::{ServiceError, ServiceResult};
use crate::records::Record;
use crate::records::alerts::{AlertEventRecord, EVENTS_PENDING, pending_sk};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

/// An event a service reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub kind: AlertEventType,
    pub environment_id: Option<EnvironmentId>,
    pub severity: Option<Severity>,
    /// `finding/<id>`, `run/<id>`, `exception/<id>`, …
    pub object: String,
    /// The state reported (dedupe: one alert per rule, environment, object and state).
    pub state: String,
    pub title: String,
    pub link: String,
    pub data: Value,
}

/// The outbox write for `alert`: add it to the transaction that makes the change it reports.
pub fn event_item(state: &AppState, ws: &WorkspaceId, alert: NewAlert) -> TxItem {
    let event_id = state.ids.next_id();
    let at_ms = state.clock.now_millis();
    AlertEventRecord {
        workspace_id: ws.clone(),
        gsi1pk: Some(EVENTS_PENDING.into()),
        gsi1sk: Some(pending_sk(at_ms, ws.as_str(), &event_id)),
        event_id,
        kind: alert.kind,
        environment_id: alert.environment_id,
        severity: alert.severity,
        object: alert.object,
        state: alert.state,
        title: alert.title,
        link: alert.link,
        data: alert.data,
        at_ms,
    }
    .create()
}

/// Commits one change of a record read at `version` (a rule, a destination: `write` is
/// conditional on it) with its audit event; a concurrent change is a 409 naming `what`.
async fn commit_versioned(
    state: &AppState,
    scope: &WorkspaceScope,
    write: TxItem,
    ev: crate::audit::NewEvent,
    what: &str,
) -> ServiceResult<()> {
    match crate::audit::commit(state, scope, vec![write], ev).await {
        Ok(()) => Ok(()),
        Err(e) if crate::audit::failed_at(&e) == Some(0) => Err(ServiceError::Conflict(format!(
            "the {what} changed meanwhile; read it again and retry"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The write that replaces a record read at `version`.
fn replace_at(item: atlas_store::Item, version: u64) -> TxItem {
    TxItem::Put {
        item,
        cond: Some(atlas_store::Cond::eq("version", version)),
    }
}

/// The write that deletes a record read at `version`.
fn delete_at(key: atlas_store::Key, version: u64) -> TxItem {
    TxItem::Delete {
        key,
        cond: Some(atlas_store::Cond::eq("version", version)),
    }
}
