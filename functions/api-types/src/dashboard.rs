//! The dashboard (issue 16, spec 020): what needs attention first, each environment's numbers,
//! and the trends of the last 30 or 90 days — from aggregates kept on write.

use serde::{Deserialize, Serialize};

use crate::Status;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Dashboard {
    pub workspace_id: String,
    /// The one environment asked for (`environment_id`), or none: every entitled environment.
    pub environment_id: Option<String>,
    /// When it was computed (epoch ms).
    pub generated_ms: i64,
    /// Heaviest first.
    pub attention: Vec<AttentionItem>,
    pub environments: Vec<EnvironmentDashboard>,
    /// One point per UTC day, oldest first, the last being today.
    pub trend: Vec<TrendPoint>,
}

/// One thing to look at, with how much it weighs (100 = overdue critical findings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttentionItem {
    /// `overdue_findings`, `failed_run`, `missing_permissions`, `backup_missing`, `backup_stale`,
    /// `exception_expiring`, `posture_unverified`.
    pub kind: String,
    pub weight: u32,
    pub environment_id: String,
    pub environment_name: String,
    pub count: u64,
    pub title: String,
    /// The web app's page that answers it.
    pub link: String,
}

/// Open findings per severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SeverityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub info: i64,
}

impl SeverityCounts {
    pub fn total(&self) -> i64 {
        self.critical + self.high + self.medium + self.low + self.info
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnvironmentDashboard {
    pub environment_id: String,
    pub display_name: String,
    /// The environment's lifecycle as a canonical status.
    pub status: Status,
    pub open: SeverityCounts,
    /// Open findings past their due date (as of the scheduler's last tick).
    pub overdue: SeverityCounts,
    pub drift_open: i64,
    pub last_backup_ms: Option<i64>,
    /// The last backup run's outcome (`succeeded`, `partially_succeeded`, `failed`, …).
    pub last_backup_outcome: Option<String>,
    pub last_backup_run: Option<String>,
    /// The last backup that captured anything.
    pub last_good_backup_ms: Option<i64>,
    pub permissions_missing: Option<i64>,
    pub posture_verified_ms: Option<i64>,
    /// Baseline objects compared by the latest drift pass of each family.
    pub baseline_objects: i64,
    /// Of those, the ones matching the baseline exactly.
    pub baseline_aligned: i64,
    /// `aligned / objects` in percent; none before a drift pass compared anything.
    pub alignment_percent: Option<f64>,
}

/// One UTC day of the trends (values at the end of the day, or counts of the day).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TrendPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub open: SeverityCounts,
    pub drift_open: i64,
    /// Drift findings opened or reopened that day.
    pub drift_new: i64,
    pub backups_succeeded: i64,
    pub backups_partial: i64,
    pub backups_failed: i64,
    pub sla_breaches: i64,
}
