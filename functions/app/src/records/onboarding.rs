//! Onboarding drafts as stored: `WS#<ws> / ONBOARDING#<env>`, one per environment the wizard
//! added. The draft keeps only what the wizard did (the runs it started); where it stands is
//! derived from the environment, its connection and those runs each time it is read.

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::Key;
use serde::{Deserialize, Serialize};

use super::Record;
use super::keys::ws_pk;

pub const DRAFT_PREFIX: &str = "ONBOARDING#";

pub fn draft_sk(env: &EnvironmentId) -> String {
    format!("{DRAFT_PREFIX}{env}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardingRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    /// The tenant as the operator entered it (a verified domain or the GUID).
    pub tenant: String,
    pub created_by: String,
    pub created_by_email: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_run: Option<String>,
}

impl Record for OnboardingRecord {
    const ENTITY: &'static str = "onboarding_draft";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), draft_sk(&self.environment_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_draft_is_stored_under_its_environment_and_round_trips() {
        let d = OnboardingRecord {
            workspace_id: WorkspaceId::parse("ws-a").unwrap(),
            environment_id: EnvironmentId::parse("env-b").unwrap(),
            tenant: "b.test".into(),
            created_by: "u-1".into(),
            created_by_email: "o@x.test".into(),
            created_ms: 1,
            updated_ms: 2,
            verify_run: Some("r1".into()),
            inventory_run: None,
            backup_run: None,
        };
        let item = d.to_item();
        assert_eq!(
            Value::Object(item.clone()),
            json!({"PK": "WS#ws-a", "SK": "ONBOARDING#env-b", "entity": "onboarding_draft",
                   "workspace_id": "ws-a", "environment_id": "env-b", "tenant": "b.test",
                   "created_by": "u-1", "created_by_email": "o@x.test", "created_ms": 1,
                   "updated_ms": 2, "verify_run": "r1"})
        );
        assert_eq!(OnboardingRecord::from_item(item).unwrap(), d);
    }
}
