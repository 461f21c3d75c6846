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
pub mod rules;

use atlas_domain::alerts::AlertEventType;
use atlas_domain::{EnvironmentId, Severity, WorkspaceId};
use atlas_store::TxItem;
use serde_json::Value;

use crate::records::Record;
use crate::records::alerts::{AlertEventRecord, EVENTS_PENDING, pending_sk};
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
