//! The workspace's lint settings: `<ws pk> / LINT_SETTINGS` (one item; absent: the defaults).

use atlas_domain::WorkspaceId;
use atlas_domain::lint::LintSettings;
use atlas_store::Key;
use serde::{Deserialize, Serialize};

use super::Record;
use super::keys::ws_pk;

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
