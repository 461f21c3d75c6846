//! Alert rules, destinations and deliveries (spec 016): what the routes take and answer.
//! Secrets (a webhook's signing secret, a Teams URL) appear only in the answer that creates or
//! rotates them ([`DestinationCreated`]); every other answer shows that one is set, never its value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `POST /workspaces/{ws}/alert-rules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertRuleCreate {
    /// 1–100 characters.
    pub name: String,
    /// Event type codes (`finding.created`, `run.failed`, …), at least one.
    pub event_types: Vec<String>,
    /// For finding events: only this severity or a higher one alerts (`critical` … `info`).
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Environment ids the rule watches; absent or empty: every environment.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    /// Destination ids of this workspace, at least one.
    pub destinations: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `PATCH /workspaces/{ws}/alert-rules/{rule}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertRulePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `""` removes the minimum.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// `[]` watches every environment.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PUT /workspaces/{ws}/alert-rules/{rule}/snooze`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertRuleSnooze {
    /// Why (required, 1–500 characters): it is audited and shown on the rule.
    pub reason: String,
    /// When the snooze ends (epoch ms): in the future and at most 30 days ahead. Give this or `hours`.
    #[serde(default)]
    pub until_ms: Option<i64>,
    /// How long the snooze lasts from now, in hours (1–720). Give this or `until_ms`.
    #[serde(default)]
    pub hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertSnooze {
    pub until_ms: i64,
    pub reason: String,
    pub by: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub event_types: Vec<String>,
    pub min_severity: Option<String>,
    /// `None`: every environment.
    pub environments: Option<Vec<String>>,
    pub destinations: Vec<String>,
    pub enabled: bool,
    /// Set while the rule is snoozed (its matches are recorded as suppressed).
    pub snooze: Option<AlertSnooze>,
    pub created_ms: i64,
    pub created_by: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertRuleList {
    pub items: Vec<AlertRule>,
}

/// `POST /workspaces/{ws}/alert-destinations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDestinationCreate {
    /// 1–100 characters.
    pub name: String,
    /// `webhook`, `teams` or `email`.
    pub kind: String,
    /// A webhook's endpoint or a Teams Workflows URL: https (plain http only on loopback, when the
    /// deployment allows it for development).
    #[serde(default)]
    pub url: Option<String>,
    /// An email destination's recipients (1–20 addresses).
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// `PATCH /workspaces/{ws}/alert-destinations/{destination}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDestinationPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub recipients: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `POST /workspaces/{ws}/alert-destinations/{destination}/rotate-secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertSecretRotate {
    /// How long the previous secret keeps signing, in hours (0–168; default 24).
    #[serde(default)]
    pub grace_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDestination {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// A webhook's URL; a Teams URL is a secret and shows masked (scheme and host).
    pub url: Option<String>,
    pub recipients: Vec<String>,
    pub enabled: bool,
    /// Whether a signing secret is set (webhooks), and which version.
    pub secret_set: bool,
    pub secret_version: u32,
    /// Until when the previous secret still signs (after a rotation).
    pub previous_secret_until_ms: Option<i64>,
    pub created_ms: i64,
    pub created_by: String,
    pub updated_ms: i64,
}

/// The answer to creating or rotating: the destination and, once, its new signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DestinationCreated {
    pub destination: AlertDestination,
    /// `whsec_…`: shown only in this answer. Webhooks only.
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDestinationList {
    pub items: Vec<AlertDestination>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub title: String,
    pub rule_id: String,
    pub destination_id: String,
    pub environment_id: Option<String>,
    pub severity: Option<String>,
    /// `pending`, `delivered`, `failed`, `suppressed` or `cancelled`.
    pub state: String,
    pub status: atlas_domain::Status,
    pub reason: Option<String>,
    pub attempts: u32,
    pub series: u32,
    pub next_attempt_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub delivered_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertAttempt {
    pub n: u32,
    pub series: u32,
    pub at_ms: i64,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    /// The first 512 bytes of the answer (a webhook's body, an SMTP server's reply).
    pub response: String,
    pub ok: bool,
    /// What the attempt came to in a word: `http 200`, `smtp 250`, `outbox` (written to the
    /// local outbox, no SMTP configured), or the SMTP code of a refusal; absent when nothing answered.
    #[serde(default)]
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDeliveryDetail {
    pub delivery: AlertDelivery,
    /// Oldest first.
    pub attempts: Vec<AlertAttempt>,
    /// The body sent (the same for every attempt; no secret in it).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDeliveryPage {
    /// Newest first.
    pub items: Vec<AlertDelivery>,
    pub next_cursor: Option<String>,
}

/// One email alert in the local outbox (`GET /workspaces/{ws}/alerts/outbox`): written as
/// `<data dir>/outbox/<delivery id>.eml` because no SMTP URL is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertOutboxMessage {
    pub delivery_id: String,
    pub event_id: String,
    pub destination_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// `<…>`: derived from the event id, the same for every redelivery.
    pub message_id: String,
    /// The plain-text body.
    pub body: String,
    /// When it was written (epoch ms).
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertOutboxList {
    /// Newest first.
    pub items: Vec<AlertOutboxMessage>,
}
