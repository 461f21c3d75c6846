//! Alerts (spec 016): the workspace's alert outbox, its rules and destinations, the incidents
//! that dedupe them and the deliveries with every attempt. All in the workspace's partition:
//! `ALERTEVT#<event>`, `ALERTRULE#<rule>`, `ALERTDEST#<destination>`,
//! `ALERTINC#<rule>#<hash of environment, object, state>`, `ALERTDLV#<delivery>` (the delivery id
//! begins with the event id, so the sort key orders deliveries by event time) and
//! `ALERTATT#<delivery>#<n>` (one per attempt) and `ALERTOUTBOX#<delivery>` (an email written to
//! the local outbox instead of sent: the workspace's index of its outbox files).

use atlas_domain::alerts::{AlertEventType, DeliveryStatus, DestinationKind};
use atlas_domain::{EnvironmentId, Severity, WorkspaceId};
use atlas_store::{Key, Query, SkCond};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::ws_pk;
use crate::secrets::Sealed;

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

/// Reads one event of the workspace (the step and the redeliver action rebuild the payload from it).
pub fn event_key(ws: &WorkspaceId, event_id: &str) -> Key {
    Key::new(ws_pk(ws), event_sk(event_id))
}

/// The event's move out of the pending index: dispatched.
pub fn dispatched() -> atlas_store::Update {
    atlas_store::Update::new().remove("GSI1PK").remove("GSI1SK")
}

pub const RULES: &str = "ALERTRULE#";
pub const DESTINATIONS: &str = "ALERTDEST#";
pub const INCIDENTS: &str = "ALERTINC#";
pub const DELIVERIES: &str = "ALERTDLV#";
pub const ATTEMPTS: &str = "ALERTATT#";
pub const OUTBOX: &str = "ALERTOUTBOX#";

pub fn outbox_sk(delivery_id: &str) -> String {
    format!("{OUTBOX}{delivery_id}")
}

/// Every rule of a workspace (the dispatcher has no member's scope: it reads as the system).
pub fn rules_query(ws: &WorkspaceId) -> Query {
    Query::partition(ws_pk(ws)).begins_with(RULES)
}

pub fn destination_key(ws: &WorkspaceId, destination_id: &str) -> Key {
    Key::new(ws_pk(ws), destination_sk(destination_id))
}

pub fn rule_key(ws: &WorkspaceId, rule_id: &str) -> Key {
    Key::new(ws_pk(ws), rule_sk(rule_id))
}

pub fn rule_sk(rule_id: &str) -> String {
    format!("{RULES}{rule_id}")
}

pub fn destination_sk(destination_id: &str) -> String {
    format!("{DESTINATIONS}{destination_id}")
}

pub fn delivery_sk(delivery_id: &str) -> String {
    format!("{DELIVERIES}{delivery_id}")
}

pub fn delivery_key(ws: &WorkspaceId, delivery_id: &str) -> Key {
    Key::new(ws_pk(ws), delivery_sk(delivery_id))
}

/// A delivery's id from what it delivers: the same event, rule and destination always make the
/// same id, so a re-dispatch after a crash finds the delivery it already wrote. The event id
/// first (ids sort by time), then a hash of the rule and destination: a path id of at most 64
/// lowercase characters.
pub fn delivery_id(event_id: &str, rule_id: &str, destination_id: &str) -> String {
    let material = format!("{rule_id}\n{destination_id}");
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material.as_bytes());
    let hex: String = d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", event_id.to_ascii_lowercase())
}

/// Whether `id` could be a delivery id (so a path segment never shapes a key it should not).
pub fn is_delivery_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Whether `id` could be a rule's or destination's id (the ids this service mints).
pub fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The rule id of a test event's delivery: a test goes to one destination, past every rule.
pub const TEST_RULE: &str = "test";

pub fn attempts_prefix(delivery_id: &str) -> String {
    format!("{ATTEMPTS}{delivery_id}#")
}

pub fn attempt_sk(delivery_id: &str, n: u32) -> String {
    format!("{ATTEMPTS}{delivery_id}#{n:05}")
}

/// One incident per rule, environment, object and state: the hash keeps the sort key short
/// whatever the object's id looks like.
pub fn incident_sk(rule_id: &str, environment_id: Option<&EnvironmentId>, object: &str, state: &str) -> String {
    let env = environment_id.map(|e| e.as_str()).unwrap_or("");
    let material = format!("{env}\n{object}\n{state}");
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material.as_bytes());
    let hex: String = d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{INCIDENTS}{rule_id}#{hex}")
}

/// A rule's snooze: while `until_ms` is ahead, its matches are recorded as suppressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snooze {
    pub until_ms: i64,
    pub reason: String,
    pub by: String,
    pub at_ms: i64,
}

/// `<ws pk> / ALERTRULE#<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRuleRecord {
    pub workspace_id: WorkspaceId,
    pub rule_id: String,
    pub name: String,
    pub event_types: Vec<AlertEventType>,
    /// For finding events: the lowest severity that alerts.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// `None`: every environment.
    #[serde(default)]
    pub environments: Option<Vec<EnvironmentId>>,
    pub destinations: Vec<String>,
    pub enabled: bool,
    #[serde(default)]
    pub snooze: Option<Snooze>,
    pub created_ms: i64,
    pub created_by: String,
    pub updated_ms: i64,
    pub version: u64,
}

impl Record for AlertRuleRecord {
    const ENTITY: &'static str = "alert_rule";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), rule_sk(&self.rule_id))
    }
}

/// `<ws pk> / ALERTDEST#<id>`. Secrets (a webhook's signing secret, a Teams URL) are sealed
/// with the provider credentials' envelope and never leave the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDestinationRecord {
    pub workspace_id: WorkspaceId,
    pub destination_id: String,
    pub name: String,
    pub kind: DestinationKind,
    /// A webhook's URL (not a secret; the signature is).
    #[serde(default)]
    pub url: Option<String>,
    /// A Teams Workflows URL: whoever has it can post, so it is sealed.
    #[serde(default)]
    pub sealed_url: Option<Sealed>,
    /// What the API shows of a sealed URL: its scheme and host.
    #[serde(default)]
    pub url_hint: Option<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    /// The webhook's signing secret.
    #[serde(default)]
    pub secret: Option<Sealed>,
    #[serde(default)]
    pub secret_version: u32,
    /// The secret before the last rotation, still signing until `previous_until_ms`.
    #[serde(default)]
    pub previous_secret: Option<Sealed>,
    #[serde(default)]
    pub previous_until_ms: Option<i64>,
    pub enabled: bool,
    pub created_ms: i64,
    pub created_by: String,
    pub updated_ms: i64,
    pub version: u64,
}

impl Record for AlertDestinationRecord {
    const ENTITY: &'static str = "alert_destination";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), destination_sk(&self.destination_id))
    }
}

/// `<ws pk> / ALERTINC#…`: the first event of an incident for a rule; later events of the same
/// incident find it and alert nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertIncidentRecord {
    pub workspace_id: WorkspaceId,
    pub rule_id: String,
    #[serde(default)]
    pub environment_id: Option<EnvironmentId>,
    pub object: String,
    pub state: String,
    pub event_id: String,
    pub at_ms: i64,
    /// After this the same incident alerts again (a condition that came back a day later is news).
    pub until_ms: i64,
}

impl Record for AlertIncidentRecord {
    const ENTITY: &'static str = "alert_incident";
    fn key(&self) -> Key {
        Key::new(
            ws_pk(&self.workspace_id),
            incident_sk(&self.rule_id, self.environment_id.as_ref(), &self.object, &self.state),
        )
    }
}

/// `<ws pk> / ALERTDLV#<event>.<rule>.<destination>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDeliveryRecord {
    pub workspace_id: WorkspaceId,
    pub delivery_id: String,
    pub event_id: String,
    pub rule_id: String,
    pub destination_id: String,
    pub kind: AlertEventType,
    pub title: String,
    #[serde(default)]
    pub environment_id: Option<EnvironmentId>,
    #[serde(default)]
    pub severity: Option<Severity>,
    pub status: DeliveryStatus,
    #[serde(default)]
    pub reason: Option<String>,
    /// Attempts made, over every series: the next attempt's number.
    pub attempts: u32,
    /// Redeliveries start a new series (0 first).
    pub series: u32,
    /// The retry window of the current series counts from here.
    pub series_started_ms: i64,
    /// The number of the current series' first attempt (its backoff counts from it).
    #[serde(default)]
    pub series_first_attempt: u32,
    #[serde(default)]
    pub next_attempt_ms: Option<i64>,
    /// A step sending attempt `attempts` holds this lease; another copy of the message waits.
    /// Absent when free (the step's condition tests for its absence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default)]
    pub delivered_ms: Option<i64>,
}

impl Record for AlertDeliveryRecord {
    const ENTITY: &'static str = "alert_delivery";
    fn key(&self) -> Key {
        delivery_key(&self.workspace_id, &self.delivery_id)
    }
}

/// `<ws pk> / ALERTATT#<delivery>#<n>`: one send, whatever came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertAttemptRecord {
    pub workspace_id: WorkspaceId,
    pub delivery_id: String,
    pub n: u32,
    pub series: u32,
    pub at_ms: i64,
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub error: Option<String>,
    pub latency_ms: u64,
    /// The first 512 bytes of the answer.
    #[serde(default)]
    pub response: String,
    pub ok: bool,
    /// What the attempt came to in a word: `http 200`, `smtp 250`, `outbox`, or the SMTP code of
    /// a refusal (`smtp 550`); absent when nothing answered.
    #[serde(default)]
    pub status: Option<String>,
}

impl Record for AlertAttemptRecord {
    const ENTITY: &'static str = "alert_attempt";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), attempt_sk(&self.delivery_id, self.n))
    }
}

/// `<ws pk> / ALERTOUTBOX#<delivery>`: an email alert written to the outbox (no SMTP URL is
/// configured). The message itself is `<outbox dir>/<delivery id>.eml`; this is what the
/// workspace's outbox route lists, so no route ever lists the directory across workspaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertOutboxRecord {
    pub workspace_id: WorkspaceId,
    pub delivery_id: String,
    pub event_id: String,
    pub destination_id: String,
    #[serde(default)]
    pub environment_id: Option<EnvironmentId>,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub message_id: String,
    /// The plain-text body, as in the file.
    pub body: String,
    /// The file's name in the outbox directory.
    pub file: String,
    pub at_ms: i64,
}

impl Record for AlertOutboxRecord {
    const ENTITY: &'static str = "alert_outbox";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), outbox_sk(&self.delivery_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_deterministic_and_keys_sort_by_event() {
        let id = delivery_id("01ja", "r", "d");
        assert_eq!(id, delivery_id("01ja", "r", "d"));
        assert_ne!(id, delivery_id("01ja", "r", "e"));
        assert!(id.starts_with("01ja-") && id.len() == 21, "{id}");
        assert!(delivery_sk(&delivery_id("01ja", "r", "d")) < delivery_sk(&delivery_id("01jb", "r", "d")));
        assert!(is_delivery_id(&id) && !is_delivery_id("a#b") && !is_delivery_id(""));
        assert_eq!(attempt_sk("x", 3), "ALERTATT#x#00003");
    }

    #[test]
    fn one_incident_per_rule_environment_object_and_state() {
        let env = EnvironmentId::parse("env-a").unwrap();
        let a = incident_sk("r1", Some(&env), "finding/1", "open");
        assert_eq!(a, incident_sk("r1", Some(&env), "finding/1", "open"));
        assert_ne!(a, incident_sk("r1", Some(&env), "finding/1", "reopened"));
        assert_ne!(a, incident_sk("r2", Some(&env), "finding/1", "open"));
        assert_ne!(a, incident_sk("r1", None, "finding/1", "open"));
    }
}
