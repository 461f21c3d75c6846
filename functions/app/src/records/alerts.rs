//! Alerts (spec 016): the workspace's alert outbox. Rules, destinations, incidents and
//! deliveries are added by the alerts service as it grows.

use atlas_domain::alerts::AlertEventType;
use atlas_domain::{EnvironmentId, Severity, WorkspaceId};
use atlas_store::{Key, Query, SkCond};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::ws_pk;

pub const EVENTS: &str = "ALERTEVT#";
/// The GSI1 partition of every alert event not yet dispatched, by the time it happened.
pub const EVENTS_PENDING: &str = "ALERTEVT#PENDING";

pub fn event_sk(event_id: &str) -> String {
    format!("{EVENTS}{event_id}")
}

pub fn pending_sk(at_ms: i64, ws: &str, event_id: &str) -> String {
    format!("{at_ms:015}#{ws}#{event_id}")
}

/// Events still to dispatch that happened before `before_ms`, oldest first.
pub fn pending_before(before_ms: i64) -> Query {
    Query::gsi1(EVENTS_PENDING).sk(SkCond::Lt(format!("{before_ms:015}")))
}

/// One alert event: `<ws pk> / ALERTEVT#<event id>`, written in the same transaction as the
/// change it reports. While `GSI1PK` is set it waits for the dispatcher; dispatching removes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEventRecord {
    pub workspace_id: WorkspaceId,
    /// Stable across retries and redeliveries: receivers dedupe on it.
    pub event_id: String,
    pub kind: AlertEventType,
    #[serde(default)]
    pub environment_id: Option<EnvironmentId>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// What the event is about (`finding/<id>`, `run/<id>`, `exception/<id>`, …).
    pub object: String,
    /// The object's state this event reports: with the rule, environment and object it makes the
    /// dedupe key, so one incident alerts once.
    pub state: String,
    pub title: String,
    /// The web app's path that shows the object (a deep link, scope-safe).
    pub link: String,
    #[serde(default)]
    pub data: Value,
    pub at_ms: i64,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

impl Record for AlertEventRecord {
    const ENTITY: &'static str = "alert_event";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), event_sk(&self.event_id))
    }
}
