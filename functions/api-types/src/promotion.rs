//! Cross-environment compare, the reference mapping table, and promotion (issue 17, spec 022).
//! All are workspace routes: they span two environments, so none poses as one environment's.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::{OperationRun, RestorePreview, Status};

/// One side of a comparison, as `GET …/compare?a=…&b=…` names it: `environment:{env}` (its
/// current inventory), `backup:{env}:{set}` (a backup set) or `baseline:{baseline}[:{number}]`
/// (a snapshot; the latest when the number is left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompareSide {
    /// The side as given (`environment:…`, `backup:…`, `baseline:…`).
    pub reference: String,
    /// `environment`, `backup` or `baseline`.
    pub kind: String,
    /// The environment the objects come from (a baseline's source environment).
    pub environment_id: String,
    pub environment_name: String,
    /// What an operator reads: "Contoso PROD (current inventory)", "backup of … at …".
    pub label: String,
    pub objects: u64,
}

/// One property that differs, after drift's normalization (volatile fields dropped, lists
/// order-free, references by name or translated through the mapping table). Secrets masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompareDifference {
    /// A JSON pointer into the normalized documents.
    pub path: String,
    /// Any JSON value; `null` when side A lacks it.
    pub a: Option<serde_json::Value>,
    /// Any JSON value; `null` when side B lacks it.
    pub b: Option<serde_json::Value>,
}

/// One object of either side and how it compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompareObject {
    pub family: String,
    /// `only_a`, `only_b`, `different` or `same`.
    pub result: String,
    pub a_id: Option<String>,
    pub a_name: Option<String>,
    pub b_id: Option<String>,
    pub b_name: Option<String>,
    /// `id`, `name`, `similarity` or `override` (a mapping of kind `object`); `null` when unmatched.
    pub matched_by: Option<String>,
    /// The similarity score (0–1) when matched by similarity: review it.
    pub score: Option<f64>,
    pub differences: Vec<CompareDifference>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompareCounts {
    pub only_a: u64,
    pub only_b: u64,
    pub different: u64,
    pub same: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompareFamily {
    pub family: String,
    pub label: String,
    pub counts: CompareCounts,
}

/// `GET /workspaces/{ws}/compare`: A against B, per family and per object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Comparison {
    pub a: CompareSide,
    pub b: CompareSide,
    pub counts: CompareCounts,
    pub families: Vec<CompareFamily>,
    /// Every object, by family then name.
    pub objects: Vec<CompareObject>,
    /// Mapping table entries (A's environment → B's) used to translate references.
    pub mappings_applied: u64,
    pub compared_ms: i64,
}

/// One row of the mapping table of an environment pair: a tenant-local reference of the
/// source environment and what it is in the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Mapping {
    /// `group`, `filter`, `scope_tag`, `named_location`, `app`, `notification_template` or
    /// `object` (pins which target object a source policy is compared with and promoted onto).
    pub kind: String,
    pub source_id: String,
    pub target_id: String,
    pub source_name: Option<String>,
    pub target_name: Option<String>,
    pub updated_by_email: String,
    pub updated_ms: i64,
}

/// A reference used by the source environment's objects that the mapping table does not cover,
/// with what automatic resolution would pick (same id, then the same name in the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MappingSuggestion {
    pub kind: String,
    pub source_id: String,
    pub source_name: Option<String>,
    /// `id`, `name` or `unresolved` (a promotion using it is blocked until it is mapped).
    pub resolution: String,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    /// How many source objects reference it.
    pub used_by: u64,
}

/// `GET /workspaces/{ws}/mappings?source_environment_id=&target_environment_id=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MappingTable {
    pub source_environment_id: String,
    pub target_environment_id: String,
    pub items: Vec<Mapping>,
    /// References of the source's inventory the table does not map (from stored data: groups
    /// are resolved by the names the inventory knows).
    pub suggestions: Vec<MappingSuggestion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappingSet {
    pub kind: String,
    pub source_id: String,
    pub target_id: String,
    #[serde(default)]
    pub source_name: Option<String>,
    #[serde(default)]
    pub target_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappingRemove {
    pub kind: String,
    pub source_id: String,
}

/// `POST /workspaces/{ws}/mappings`: set and remove rows of one pair's table, in one audited
/// change (all or nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappingChange {
    pub source_environment_id: String,
    pub target_environment_id: String,
    #[serde(default)]
    pub set: Vec<MappingSet>,
    #[serde(default)]
    pub remove: Vec<MappingRemove>,
}

/// `POST /workspaces/{ws}/promotions`: plan promoting objects of a source environment's backup
/// set onto a target environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionCreate {
    pub source_environment_id: String,
    pub target_environment_id: String,
    /// The source's backup set; its newest complete one when left out.
    #[serde(default)]
    pub backup_set_id: Option<String>,
    /// `family/id` keys of the set's items; every item when left out.
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// Promote assignments too (default true), groups and filters mapped.
    #[serde(default)]
    pub include_assignments: Option<bool>,
}

/// One check of a dry-run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DryRunCheck {
    /// `references`, `permissions`, `multi_admin_approval`, `conflicts`, `changed_since_plan`,
    /// `readiness`.
    pub code: String,
    pub status: Status,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DryRun {
    pub ran_ms: i64,
    /// Ready (cutover may go ahead once approved), Needs attention or Blocked.
    pub status: Status,
    pub checks: Vec<DryRunCheck>,
    /// Always 0: a dry-run reads the target and writes nothing.
    pub writes: u64,
}

/// The verification after cutover: the promoted objects compared again, source against target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PromotionVerify {
    pub verified_ms: i64,
    pub compared: u64,
    pub differences: u64,
    /// The promoted objects that still differ or are missing in the target.
    pub objects: Vec<CompareObject>,
}

/// A promotion and where it stands: `planned` → `approved` → `backing_up` → `cutting_over` →
/// `verifying` → `verified` / `differences` / `failed`; `cancelled`, `expired`; `rolling_back`
/// → `rolled_back`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Promotion {
    pub id: String,
    pub source_environment_id: String,
    pub source_environment_name: String,
    pub target_environment_id: String,
    pub target_environment_name: String,
    pub backup_set_id: String,
    pub items: Vec<String>,
    pub include_assignments: bool,
    pub state: String,
    /// The canonical status of `state`.
    pub status: Status,
    pub reason: Option<String>,
    pub created_by_email: String,
    pub created_ms: i64,
    /// The plan: the restore engine's preview of the target (create or update per object, the
    /// mapping applied, blockers).
    pub plan: Option<RestorePreview>,
    pub plan_fingerprint: Option<String>,
    pub plan_expires_ms: Option<i64>,
    pub dry_run: Option<DryRun>,
    pub approved_by_email: Option<String>,
    pub approved_ms: Option<i64>,
    /// The target's backup taken before cutover (rollback restores it).
    pub pre_backup_run: Option<OperationRun>,
    pub pre_backup_set_id: Option<String>,
    pub cutover_run: Option<OperationRun>,
    /// The restore that writes the plan (its results per item).
    pub restore_id: String,
    pub verify: Option<PromotionVerify>,
    /// The restore draft that rolls the target back, once asked for.
    pub rollback_restore_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PromotionList {
    pub items: Vec<Promotion>,
}

/// `POST …/promotions/{p}/approve` and `…/cutover`: bound to the plan the actor saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionDecision {
    pub plan_fingerprint: String,
    /// Cutover and rollback only: the target environment's name, typed.
    #[serde(default)]
    pub confirm: Option<String>,
}
