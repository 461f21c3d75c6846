//! Permission posture reports (issue 16): one per verification, in the workspace's partition,
//! ordered by time within the environment.

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Key, Query};
use serde::{Deserialize, Serialize};

use super::Record;
use super::keys::ws_pk;

const POSTURE: &str = "POSTURE#";

fn prefix(env: &EnvironmentId) -> String {
    format!("{POSTURE}{env}#")
}

/// The environment's reports, oldest first (query backwards for newest first).
pub fn reports_of(ws: &WorkspaceId, env: &EnvironmentId) -> Query {
    Query::partition(ws_pk(ws)).begins_with(prefix(env))
}

/// `WS#<ws> / POSTURE#<env>#<report id>`: the id starts with the verification's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureReportRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub report_id: String,
    #[serde(flatten)]
    pub verification: atlas_api_types::Verification,
}

impl Record for PostureReportRecord {
    const ENTITY: &'static str = "posture_report";
    fn key(&self) -> Key {
        Key::new(
            ws_pk(&self.workspace_id),
            format!("{}{}", prefix(&self.environment_id), self.report_id),
        )
    }
}
