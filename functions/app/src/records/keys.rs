//! The table's partitions. Each record module builds its own sort keys; this module holds the
//! partition keys every one of them shares.

use atlas_domain::{EnvironmentId, WorkspaceId};

/// The partition of workspace-owned items (workspace, members, environments, audit, …).
pub fn ws_pk(ws: &WorkspaceId) -> String {
    format!("WS#{ws}")
}

/// The partition of environment-owned items (inventory, schedules, restores, …).
pub fn env_pk(ws: &WorkspaceId, env: &EnvironmentId) -> String {
    format!("WS#{ws}#ENV#{env}")
}
