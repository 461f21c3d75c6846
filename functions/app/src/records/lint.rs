//! The workspace's lint settings: `<ws pk> / LINT_SETTINGS` (one item; absent: the defaults); the
//! groups an environment's assignments name, as the directory answered: `<env pk> / LINT_GROUPS`.

use std::collections::{BTreeMap, BTreeSet};

use atlas_domain::lint::{GroupInfo, LintSettings};
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::Key;
use serde::{Deserialize, Serialize};

use super::Record;
use super::keys::{env_pk, ws_pk};

const SETTINGS_SK: &str = "LINT_SETTINGS";

pub fn settings_key(ws: &WorkspaceId) -> Key {
    Key::new(ws_pk(ws), SETTINGS_SK)
}

/// The settings every lint of the workspace's environments and backup sets uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LintSettingsRecord {
    pub workspace_id: WorkspaceId,
    pub settings: LintSettings,
    pub updated_ms: i64,
    pub updated_by: String,
}

impl Record for LintSettingsRecord {
    const ENTITY: &'static str = "lint_settings";
    fn key(&self) -> Key {
        settings_key(&self.workspace_id)
    }
}

const GROUPS_SK: &str = "LINT_GROUPS";

pub fn groups_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(env_pk(ws, env), GROUPS_SK)
}

/// The groups the environment's inventory assignments named at its last complete sync, read
/// from the directory then: the lint's group rules run on this, never on a live call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LintGroupsRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub read_ms: i64,
    /// Found, by object id. `member_count` is exact below 20 (what one expanded read returns).
    pub found: BTreeMap<String, GroupInfo>,
    /// Answered 404: deleted from the directory.
    pub missing: BTreeSet<String>,
}

impl Record for LintGroupsRecord {
    const ENTITY: &'static str = "lint_groups";
    fn key(&self) -> Key {
        groups_key(&self.workspace_id, &self.environment_id)
    }
}
