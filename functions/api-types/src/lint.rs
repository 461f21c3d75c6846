//! The offline policy lint (issue 17, spec 021): the rule catalogue, an environment's or a backup
//! set's report, the workspace's settings and the lint recorded as findings.

use serde::{Deserialize, Serialize};

use crate::Severity;

/// The workspace's lint settings, as the engine takes them (`rules.{id}.enabled` / `.severity`,
/// and the rules' parameters); what a document leaves out keeps its default.
pub use atlas_domain::lint::{LintSettings, RuleSetting};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One lint rule: what it checks and why, and how to fix what it finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LintRule {
    /// `LINT001` …
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// Why it matters, naming the Graph properties the rule reads.
    pub rationale: String,
    pub fix_hint: String,
    /// The families it looks at; empty: every family.
    pub families: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LintRuleList {
    pub items: Vec<LintRule>,
}

/// One thing a rule found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LintHit {
    /// Stable across runs (rule, family, object, property).
    pub fingerprint: String,
    pub rule_id: String,
    pub severity: Severity,
    pub family: String,
    pub object_id: String,
    pub object_name: String,
    /// A JSON pointer into the object, or `setting:{settingDefinitionId}`.
    pub property: Option<String>,
    pub message: String,
    /// Other objects involved (duplicates, conflicts), at most 10.
    pub related: Vec<String>,
}

/// A rule that could not run, and why (e.g. the tenant's groups are not read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LintNotEvaluated {
    pub rule_id: String,
    pub reason: String,
}

/// The lint of an environment's current inventory, or of one of its backup sets: no Graph call
/// is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LintReport {
    pub environment_id: String,
    /// The backup set linted; absent: the current inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_set_id: Option<String>,
    /// Objects linted (the inventory's active objects, or the set's items).
    pub objects: u64,
    pub evaluated_ms: i64,
    /// Sorted by rule, family, object, property.
    pub hits: Vec<LintHit>,
    pub not_evaluated: Vec<LintNotEvaluated>,
    pub rules_run: Vec<String>,
}

/// `POST …/environments/{env}/lint`: the inventory's lint recorded as findings of source `lint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LintRecorded {
    pub report: LintReport,
    /// Findings opened for hits not seen before (or seen again after they were resolved).
    pub opened: u64,
    /// Findings of hits already open, seen again.
    pub updated: u64,
    /// Open lint findings whose hit went away.
    pub resolved: u64,
    /// Why nothing was recorded (a family's last read was incomplete); findings are untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}
