//! Baselines, drift and findings (spec 015): what the routes take and answer.

use std::collections::BTreeMap;

pub use atlas_domain::drift::{DriftKind, MatchedBy};
pub use atlas_domain::findings::{FindingSource, FindingStatus, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One object of an environment, by family and Graph id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ObjectRef {
    pub family: String,
    pub id: String,
}

/// `POST /workspaces/{ws}/baselines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BaselineCreate {
    /// Unique in the workspace (case-insensitive), 1–100 characters.
    pub name: String,
    /// The environment whose configuration is the golden state; the caller must be entitled to it.
    pub source_environment_id: String,
    /// Policy family codes the profile covers (at least one).
    pub families: Vec<String>,
    /// Only these objects of the families; every object when empty.
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
    /// JSON pointers into the normalized object (`/description`, `/assignments/*/intent`) never compared.
    #[serde(default)]
    pub ignored_properties: Vec<String>,
    /// Report objects found in an environment but not in the baseline.
    #[serde(default)]
    pub report_extra: bool,
}

/// A baseline profile (workspace-owned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Baseline {
    pub id: String,
    pub name: String,
    pub source_environment_id: String,
    pub families: Vec<String>,
    pub objects: Vec<ObjectRef>,
    pub ignored_properties: Vec<String>,
    pub report_extra: bool,
    pub created_ms: i64,
    pub created_by: String,
    /// The newest snapshot's number; `None` before the first capture.
    pub latest_snapshot: Option<u32>,
    pub assignments: Vec<BaselineAssignment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BaselineList {
    pub items: Vec<Baseline>,
}

/// `POST …/baselines/{baseline}/snapshots`: capture from a complete backup set of the source
/// environment (its newest complete set when left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SnapshotCreate {
    #[serde(default)]
    pub from_backup_set_id: Option<String>,
}

/// An immutable, numbered capture of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BaselineSnapshot {
    pub baseline_id: String,
    /// 1, 2, … per profile.
    pub number: u32,
    pub source_environment_id: String,
    pub from_backup_set_id: String,
    pub created_ms: i64,
    pub created_by: String,
    /// Objects captured, by family.
    pub counts: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BaselineSnapshotList {
    pub items: Vec<BaselineSnapshot>,
}

/// `PUT …/baselines/{baseline}/assignments/{env}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BaselineAssign {
    /// Lower wins when two profiles cover one object (0–1000).
    #[serde(default)]
    pub priority: u32,
    /// Pin a snapshot number; the newest snapshot when left out.
    #[serde(default)]
    pub snapshot: Option<u32>,
    /// Baseline object id → environment object id, where matching by name would pick wrongly.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
}

/// A profile assigned to an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BaselineAssignment {
    pub baseline_id: String,
    pub environment_id: String,
    pub priority: u32,
    pub snapshot: Option<u32>,
    pub overrides: BTreeMap<String, String>,
    pub assigned_ms: i64,
    pub assigned_by: String,
}

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FindingObject {
    pub family: String,
    /// The environment object's id; `None` for a missing object.
    pub id: Option<String>,
    /// The baseline object's id; `None` for an extra object.
    pub baseline_object_id: Option<String>,
    pub name: String,
}

/// One finding: a detection with its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Finding {
    /// The fingerprint: environment + source + object + property.
    pub id: String,
    pub environment_id: String,
    pub source: FindingSource,
    pub state: FindingStatus,
    pub status: atlas_domain::Status,
    pub severity: Severity,
    pub title: String,
    pub object: Option<FindingObject>,
    /// `missing`, `extra` or `changed` for drift.
    pub kind: Option<DriftKind>,
    /// The property (a JSON pointer into the normalized object); empty for an object-level finding.
    pub property: String,
    /// What the baseline wants (secret-looking values redacted).
    pub desired: Option<Value>,
    /// What the environment has (secret-looking values redacted).
    pub current: Option<Value>,
    pub matched_by: Option<MatchedBy>,
    pub baseline_id: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Detections so far.
    pub count: u64,
    pub owner: Option<String>,
    /// From severity by the workspace's SLA policy; `None` for info.
    pub due_ms: Option<i64>,
    pub overdue: bool,
    /// Who made the change, when the change feed knows it.
    pub changed_by: Option<String>,
    /// Bumped by every write; a triage names the version it saw.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FindingPage {
    pub items: Vec<Finding>,
    /// Findings matching the filters, on every page.
    pub total: u64,
    pub next: Option<String>,
}

/// One entry of a finding's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FindingEvent {
    pub at_ms: i64,
    /// `detected`, `redetected`, `transition` or `owner`.
    pub kind: String,
    pub from: Option<FindingStatus>,
    pub to: Option<FindingStatus>,
    /// A member's email, `system`, or the change's actor from the audit log.
    pub actor: String,
    pub reason: Option<String>,
    pub desired: Option<Value>,
    pub current: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FindingDetail {
    pub finding: Finding,
    /// Oldest first.
    pub history: Vec<FindingEvent>,
    /// Its risk acceptances, newest first (spec 016).
    #[serde(default)]
    pub exceptions: Vec<crate::Exception>,
}

/// `POST /workspaces/{ws}/findings/triage`: one action on many findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FindingsTriage {
    /// 1–200 finding ids.
    pub ids: Vec<String>,
    /// The state to move to: `acknowledged`, `in_progress`, `resolved` or `false_positive`.
    #[serde(default)]
    pub state: Option<FindingStatus>,
    /// Set the owner (a member's email), or clear it with an empty string.
    #[serde(default)]
    pub owner: Option<String>,
    /// Why; required for `resolved` and `false_positive`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome for one finding of a bulk triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TriageOutcome {
    pub id: String,
    /// 200 done, 404 not found (or not visible), 409 not allowed from its status or changed meanwhile.
    pub http_status: u16,
    pub finding: Option<Finding>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TriageResult {
    pub items: Vec<TriageOutcome>,
}

/// A change the change feed saw in an environment: who changed what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DriftChange {
    /// The Intune audit event's id.
    pub id: String,
    pub at_ms: i64,
    /// The user's UPN or the app's display name.
    pub actor: String,
    pub activity: String,
    /// `Create`, `Patch`, `Delete`, …
    pub operation: String,
    pub family: Option<String>,
    pub object_id: String,
    pub object_name: String,
    /// `[{name, old, new}]`, secret-looking values redacted.
    pub properties: Value,
    pub seen_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DriftChangeList {
    pub items: Vec<DriftChange>,
}

/// `GET …/environments/{env}/drift`: the environment's drift at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DriftSummary {
    pub environment_id: String,
    pub assignments: Vec<BaselineAssignment>,
    /// Open drift findings by kind.
    pub open: BTreeMap<String, u64>,
    /// When the change feed last recorded a poll, once it has: set by a poll that reads changes,
    /// and refreshed every `quiet_record_seconds` while polls find none (a quiet poll writes
    /// nothing, ADR 0041).
    pub polled_ms: Option<i64>,
    /// How often the change feed polls, in seconds.
    pub poll_seconds: u64,
    /// How stale `polled_ms` may be while polls find nothing, in seconds.
    #[serde(default)]
    pub quiet_record_seconds: u64,
}
