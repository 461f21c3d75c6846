//! Exceptions (risk acceptance) and the governance policy (spec 016): what the routes take and answer.

pub use atlas_domain::findings::{ExceptionStatus, GovernancePolicy, SlaPolicy};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `POST /workspaces/{ws}/findings/{finding}/exceptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExceptionRequest {
    /// Why the risk is acceptable, 1–2000 characters.
    pub justification: String,
    /// The change or risk ticket (http or https), at most 500 characters.
    #[serde(default)]
    pub ticket_url: Option<String>,
    /// Required: when the acceptance ends (Unix ms), in the future and at most the workspace's
    /// `exception_max_days` away.
    pub expires_ms: i64,
}

/// `POST …/exceptions/{exception}/approve|reject|revoke`: the reason (required to reject or revoke).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExceptionDecision {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Exception {
    pub id: String,
    pub finding_id: String,
    pub environment_id: String,
    pub finding_title: String,
    pub state: ExceptionStatus,
    pub status: atlas_domain::Status,
    pub justification: String,
    pub ticket_url: Option<String>,
    pub expires_ms: i64,
    /// When the expiry warning goes (or went) out.
    pub warn_at_ms: i64,
    pub requested_by: String,
    pub requested_ms: i64,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
    pub decided_ms: Option<i64>,
    pub decision_reason: Option<String>,
    /// Who or what ended it (revoked, withdrawn, expired, voided), when and why.
    pub ended_by: Option<String>,
    pub ended_ms: Option<i64>,
    pub end_reason: Option<String>,
    /// The property accepted and its value then (secret-looking values redacted).
    pub property: String,
    pub pinned: Option<Value>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExceptionEvent {
    pub at_ms: i64,
    /// requested, approved, rejected, withdrawn, revoked, expiring, expired, voided.
    pub kind: String,
    pub actor: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExceptionDetail {
    pub exception: Exception,
    /// Oldest first.
    pub history: Vec<ExceptionEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExceptionList {
    /// Newest request first.
    pub items: Vec<Exception>,
}
