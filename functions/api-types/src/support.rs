//! Support intake (spec 025): a request for help with the context the server gathered itself.

use atlas_domain::Status;
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What the operator asks about; the context is the server's to build, never the client's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SupportRequestCreate {
    /// `operation_run`, `provider_connection`, `access_denied` or `generic`.
    pub source_type: String,
    /// `technical_problem`, `access_problem`, `ux_feedback` or `other`.
    pub issue_kind: String,
    /// What went wrong, in the operator's words (1 to 4,000 characters).
    pub message: String,
    /// The environment it is about (a provider connection's; optional otherwise).
    #[serde(default)]
    pub environment_id: Option<String>,
    /// The failed run (`operation_run`).
    #[serde(default)]
    pub run_id: Option<String>,
    /// The request id of the answer that went wrong (shown on error pages), if any.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The page that was refused (`access_denied`).
    #[serde(default)]
    pub path: Option<String>,
}

/// A support request as saved, with the context that was (or will be) e-mailed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SupportRequest {
    pub id: String,
    pub workspace_id: String,
    pub environment_id: Option<String>,
    pub source_type: String,
    pub issue_kind: String,
    pub message: String,
    /// `run/<id>`, `provider-connection/<env>`, the refused path, or none.
    pub target: Option<String>,
    /// Who asked (their e-mail).
    pub created_by: String,
    pub created_ms: i64,
    /// `received` (saved, e-mail queued), `delivered` or `delivery_failed`.
    pub state: String,
    pub status: Status,
    pub delivered_ms: Option<i64>,
    pub reason: Option<String>,
    /// The snapshot sent to support: secrets redacted.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub context: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SupportRequestList {
    /// Newest first: mine, or every one of the workspace for an owner.
    pub items: Vec<SupportRequest>,
}
