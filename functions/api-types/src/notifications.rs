//! In-app notifications (spec 016): a user's bell.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Notification {
    pub id: String,
    pub workspace_id: String,
    pub environment_id: Option<String>,
    /// `run.completed`, `run.partial`, `run.failed` or `run.blocked`.
    pub kind: String,
    pub title: String,
    /// The web app's path of what it is about: the canonical run viewer, under the workspace.
    pub link: String,
    pub at_ms: i64,
    pub read: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NotificationPage {
    /// Newest first; only from workspaces and environments I can still see.
    pub items: Vec<Notification>,
    /// Unread notifications (counted up to 100).
    pub unread: u32,
    pub next: Option<String>,
}

/// `POST /me/notifications/read`: everything up to this notification (all when absent) is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NotificationsRead {
    #[serde(default)]
    pub up_to: Option<String>,
}

/// Which of my runs' endings notify me (opt-in: all off until I turn them on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NotificationPrefs {
    #[serde(default)]
    pub run_completed: bool,
    /// Failed or partial.
    #[serde(default)]
    pub run_failed: bool,
    #[serde(default)]
    pub run_blocked: bool,
}
