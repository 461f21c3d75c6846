//! Restore runs: draft → readiness → preview (diff against live) → confirmation bound to the
//! preview → `restore.execute` run with per-item results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::{FieldChange, OperationRun, RestoreState, Status};

/// `POST …/environments/{env}/restores`: a draft restoring a backup set into `{env}` (the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestoreCreate {
    pub backup_set_id: String,
    /// The environment the set was captured from; the target itself when left out. Must be in the
    /// same workspace.
    #[serde(default)]
    pub source_environment_id: Option<String>,
    /// `family/id` keys of the set's items; every item when left out.
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// Restore assignments too (default true).
    #[serde(default)]
    pub include_assignments: Option<bool>,
    /// Go on although the set is partial (default false): the chosen items must all have been
    /// captured either way.
    #[serde(default)]
    pub accept_partial: Option<bool>,
}

/// A restore and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Restore {
    pub id: String,
    /// The target environment.
    pub environment_id: String,
    /// The target's display name: the operator types it to confirm.
    pub environment_name: String,
    pub source_environment_id: String,
    pub backup_set_id: String,
    /// Chosen `family/id` keys.
    pub items: Vec<String>,
    pub include_assignments: bool,
    pub accept_partial: bool,
    /// `draft`, `previewed`, `confirmed` (a run exists) or `cancelled`.
    pub state: RestoreState,
    /// Draft: not configured; previewed: ready; confirmed: its run's status; cancelled: historical.
    pub status: Status,
    pub readiness: Readiness,
    /// The latest preview.
    pub preview: Option<RestorePreview>,
    /// The `restore.execute` run once confirmed.
    pub run: Option<OperationRun>,
    pub created_by: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RestoreList {
    pub items: Vec<Restore>,
}

/// Readiness: `ready`, `needs_attention` or `blocked` (the worst of its checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Readiness {
    pub status: Status,
    pub checks: Vec<ReadinessCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReadinessCheck {
    /// `provider`, `permission`, `backup`, `family`, `approval` or `authority`.
    pub code: String,
    /// `ready`, `needs_attention` or `blocked`.
    pub status: Status,
    pub message: String,
    pub family: Option<String>,
}

/// `POST …/restores/{restore}/previews`: reads live and plans every item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestorePreviewRequest {
    /// Source group id → target group id, or `null` to drop that group's assignments. Groups not
    /// listed are matched by id, then by display name.
    #[serde(default)]
    pub group_mapping: BTreeMap<String, Option<String>>,
}

/// A plan read against live. Confirmation must carry its `id` and `fingerprint` before
/// `expires_ms`; `blockers` say why it cannot be confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RestorePreview {
    pub id: String,
    pub restore_id: String,
    pub fingerprint: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub summary: PreviewSummary,
    pub items: Vec<PreviewItem>,
    pub groups: Vec<GroupMapping>,
    pub blockers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PreviewSummary {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
    pub conflict: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PreviewItem {
    /// `family/source id`.
    pub key: String,
    pub family: String,
    pub source_id: String,
    pub name: String,
    /// `create`, `update`, `unchanged` or `conflict`.
    pub action: String,
    /// The live object written to (update / unchanged / conflict).
    pub target_id: Option<String>,
    /// `id`, `restore_mapping`, `name` or `none` (nothing live: create).
    pub matched_by: String,
    pub warnings: Vec<String>,
    pub conflict: Option<String>,
    /// Live → backup, field by field; secret-looking values redacted.
    pub changes: Vec<FieldChange>,
    pub assignments: AssignmentChanges,
}

/// Assignment targets, described (`include group <name>`, `all devices` …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AssignmentChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: u64,
    /// Targets left out because their group was dropped.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GroupMapping {
    pub source_group_id: String,
    pub source_name: Option<String>,
    pub target_group_id: Option<String>,
    pub target_name: Option<String>,
    /// `id` (the same group exists in the target), `name` (matched by display name), `chosen`
    /// (mapped by the operator), `dropped`, or `unmapped` (blocks confirmation).
    pub resolution: String,
}

/// `POST …/restores/{restore}/confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestoreConfirm {
    pub preview_id: String,
    pub fingerprint: String,
    /// The target environment's display name, typed by the operator.
    pub confirm: String,
}
