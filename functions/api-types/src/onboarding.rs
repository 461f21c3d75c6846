//! The onboarding wizard (issue 18 item 1): add an environment → admin consent → verify → first
//! inventory → first backup, as a draft kept on the server so any device can resume it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::{OperationRun, Status};

/// `POST /workspaces/{ws}/onboarding`: the environment to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnboardingCreate {
    /// The environment's name, as operators will see it.
    pub display_name: String,
    /// The tenant's GUID or one of its verified domains (`contoso.onmicrosoft.com`).
    pub tenant: String,
}

/// The wizard's steps, in order; a draft's `state` is the first one not done yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnboardingStep {
    Consent,
    Verify,
    Inventory,
    Backup,
    Done,
}

impl OnboardingStep {
    pub fn as_str(self) -> &'static str {
        match self {
            OnboardingStep::Consent => "consent",
            OnboardingStep::Verify => "verify",
            OnboardingStep::Inventory => "inventory",
            OnboardingStep::Backup => "backup",
            OnboardingStep::Done => "done",
        }
    }
}

/// `PATCH /workspaces/{ws}/onboarding/{draft}`: do this step (idempotent: a step started or done
/// already is not started again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnboardingAdvance {
    /// `verify`, `inventory` or `backup` (consent goes through the provider connection's consent).
    pub step: OnboardingStep,
}

/// A draft and where it stands, derived from the real objects each time it is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OnboardingDraft {
    /// The environment's id: one draft per environment.
    pub id: String,
    pub environment_id: String,
    pub display_name: String,
    pub tenant: String,
    pub tenant_id: String,
    /// The next step to do (`done` once the first backup ended).
    pub state: OnboardingStep,
    /// The canonical status: Running while the step's run runs, Failed when it failed, Blocked
    /// when the environment is suspended or archived, Ready when done.
    pub status: Status,
    /// Why, in words.
    pub reason: String,
    /// The run of the current step (or the last one, once done), to follow live.
    pub run: Option<OperationRun>,
    pub verify_run_id: Option<String>,
    pub inventory_run_id: Option<String>,
    pub backup_run_id: Option<String>,
    pub created_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OnboardingDraftList {
    pub items: Vec<OnboardingDraft>,
}

/// `PATCH …/backup-schedules/{schedule}`: what to change; a cadence change recomputes the next runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackupScheduleUpdate {
    /// A five-field cron expression (replaces an interval).
    #[serde(default)]
    pub cron: Option<String>,
    /// An interval in minutes (replaces a cron expression).
    #[serde(default)]
    pub every_minutes: Option<u32>,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Family codes; an empty list is refused.
    #[serde(default)]
    pub families: Option<Vec<String>>,
    /// A paused schedule starts nothing until enabled again.
    #[serde(default)]
    pub enabled: Option<bool>,
}
