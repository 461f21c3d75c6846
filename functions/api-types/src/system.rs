//! The system console (spec 025): platform operators only.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::{OperationRun, RunItem};

/// Runs of every workspace, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SystemRunPage {
    pub items: Vec<OperationRun>,
    pub next: Option<String>,
}

/// One error of a run: the run's own reason, or a failed unit's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SystemRunError {
    /// The unit (`run` for the run's own reason).
    pub item: String,
    pub message: String,
}

/// A run's failure drill-down: errors first, then every step result (secrets redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SystemRunDetail {
    pub run: OperationRun,
    pub errors: Vec<SystemRunError>,
    pub items: Vec<RunItem>,
}

/// One access to the system console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SystemAuditEvent {
    pub id: String,
    pub at_ms: i64,
    pub user_id: String,
    pub email: String,
    /// The route's function, e.g. `get-system-runs`.
    pub action: String,
    /// The path and query asked for.
    pub target: String,
    /// `success` or `denied` (not a platform operator).
    pub outcome: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SystemAuditPage {
    pub items: Vec<SystemAuditEvent>,
    pub next: Option<String>,
}
