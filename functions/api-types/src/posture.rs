//! The permission posture report (issue 16): what each verification found, kept and dated, per
//! environment and across the workspace.

use serde::{Deserialize, Serialize};

use crate::{FamilyProbe, PermissionPosture, Status};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One verification's findings, as stored when it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PostureReport {
    pub id: String,
    pub environment_id: String,
    /// When the verification ran (epoch ms).
    pub verified_ms: i64,
    /// Whether TenantAtlas could sign in to the tenant at all.
    pub token_ok: bool,
    pub error: Option<String>,
    /// Each required permission: granted or not, and what it blocks.
    pub permissions: Vec<PermissionPosture>,
    /// Families whose read probe failed though their permission was granted.
    pub failed_probes: Vec<FamilyProbe>,
}

/// An environment's posture: its canonical status from the latest report (never Ready when the
/// report is missing or stale), and the reports, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnvironmentPosture {
    pub environment_id: String,
    pub display_name: String,
    /// `ready`, `needs_attention`, `blocked` or `unknown` (never verified, or not for too long).
    pub status: Status,
    pub status_reason: String,
    /// Permissions the latest report found missing.
    pub missing: Vec<String>,
    pub latest: Option<PostureReport>,
    /// Older reports, newest first (at most 20; empty in the workspace view).
    pub history: Vec<PostureReport>,
}

/// `GET /workspaces/{ws}/posture`: every environment the reader is entitled to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspacePosture {
    pub items: Vec<EnvironmentPosture>,
}
