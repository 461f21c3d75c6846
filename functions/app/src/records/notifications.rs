//! In-app notifications (spec 016): in the user's partition, newest last by id.

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Key, Query, SkCond};
use serde::{Deserialize, Serialize};

use super::Record;
use super::tenancy::user_pk;

const NOTIFICATIONS: &str = "NOTIFY#";
const PREFS_SK: &str = "NOTIFYPREF";
const STATE_SK: &str = "NOTIFYSTATE";

/// The user's notifications, oldest first (query backwards for newest first).
pub fn notifications_of(user: &str) -> Query {
    Query::partition(user_pk(user)).begins_with(NOTIFICATIONS)
}

/// The user's notifications newer than `id`.
pub fn notifications_after(user: &str, id: &str) -> Query {
    Query::partition(user_pk(user)).sk(SkCond::Between(
        format!("{NOTIFICATIONS}{id}\u{0}"),
        format!("{NOTIFICATIONS}~"),
    ))
}

pub fn notification_key(user: &str, id: &str) -> Key {
    Key::new(user_pk(user), format!("{NOTIFICATIONS}{id}"))
}

pub fn prefs_key(user: &str) -> Key {
    Key::new(user_pk(user), PREFS_SK)
}

pub fn state_key(user: &str) -> Key {
    Key::new(user_pk(user), STATE_SK)
}

/// One notification: `USER#<user> / NOTIFY#<ulid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub user_id: String,
    pub notification_id: String,
    pub workspace_id: WorkspaceId,
    #[serde(default)]
    pub environment_id: Option<EnvironmentId>,
    pub kind: String,
    pub title: String,
    pub link: String,
    pub at_ms: i64,
}

impl Record for NotificationRecord {
    const ENTITY: &'static str = "notification";
    fn key(&self) -> Key {
        notification_key(&self.user_id, &self.notification_id)
    }
}

/// What the user opted in to, as stored: `USER#<user> / NOTIFYPREF`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefsRecord {
    pub user_id: String,
    #[serde(flatten)]
    pub prefs: atlas_api_types::NotificationPrefs,
}

impl Record for PrefsRecord {
    const ENTITY: &'static str = "notification_prefs";
    fn key(&self) -> Key {
        prefs_key(&self.user_id)
    }
}

/// How far the user has read: `USER#<user> / NOTIFYSTATE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub user_id: String,
    pub read_up_to: String,
}

impl Record for ReadState {
    const ENTITY: &'static str = "notification_read";
    fn key(&self) -> Key {
        state_key(&self.user_id)
    }
}
