//! Exceptions (risk acceptance) and the workspace's governance policy (spec 016).

use atlas_domain::findings::{ExceptionStatus, GovernancePolicy};
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Item, Key, Query, SkCond, TxItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::ws_pk;
use super::{Record, base_item};

pub const EXCEPTIONS: &str = "EXCEPTION#";
/// The GSI1 partition of every requested or active exception, by its next check (warning or expiry).
pub const EXCEPTIONS_DUE: &str = "EXCEPTION#DUE";
const POLICY_SK: &str = "POLICY#GOVERNANCE";

pub fn exception_sk(id: &str) -> String {
    format!("{EXCEPTIONS}{id}")
}

pub fn exception_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(ws_pk(ws), exception_sk(id))
}

pub fn exception_events(id: &str) -> String {
    format!("EXCEPTIONEV#{id}#")
}

fn due_sk(at_ms: i64, ws: &str, id: &str) -> String {
    format!("{at_ms:015}#{ws}#{id}")
}

/// Exceptions whose next check is at or before `now_ms`.
pub fn exceptions_due_by(now_ms: i64) -> Query {
    Query::gsi1(EXCEPTIONS_DUE).sk(SkCond::Lt(format!("{now_ms:015}~")))
}

pub fn policy_key(ws: &WorkspaceId) -> Key {
    Key::new(ws_pk(ws), POLICY_SK)
}

/// One risk acceptance: `<ws pk> / EXCEPTION#<id>`. Every write is conditional on `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionRecord {
    pub workspace_id: WorkspaceId,
    pub exception_id: String,
    pub finding_id: String,
    pub environment_id: EnvironmentId,
    pub finding_title: String,
    pub status: ExceptionStatus,
    pub justification: String,
    #[serde(default)]
    pub ticket_url: Option<String>,
    pub expires_ms: i64,
    /// When the expiry warning is due (fixed at request time from the policy then in force).
    pub warn_at_ms: i64,
    #[serde(default)]
    pub warned_ms: Option<i64>,
    pub requested_by: String,
    pub requested_by_user: String,
    pub requested_ms: i64,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided_ms: Option<i64>,
    #[serde(default)]
    pub decision_reason: Option<String>,
    #[serde(default)]
    pub ended_by: Option<String>,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    #[serde(default)]
    pub end_reason: Option<String>,
    /// The finding's property and its value when the risk was accepted: a different value later
    /// reopens the finding.
    #[serde(default)]
    pub property: String,
    #[serde(default)]
    pub pinned: Option<Value>,
    pub version: u64,
}

impl ExceptionRecord {
    /// The next time the tick must look at it: the warning (active, not yet warned), else the
    /// expiry; none once it has ended.
    pub fn next_check_ms(&self) -> Option<i64> {
        match self.status {
            ExceptionStatus::Active if self.warned_ms.is_none() && self.warn_at_ms < self.expires_ms => {
                Some(self.warn_at_ms)
            }
            s if s.is_current() => Some(self.expires_ms),
            _ => None,
        }
    }

    /// This record over the stored one only if that is still at `seen_version` (new: only if
    /// none exists).
    pub fn replace(&self, seen_version: Option<u64>) -> TxItem {
        super::versioned_put(self.to_item(), seen_version)
    }
}

impl Record for ExceptionRecord {
    const ENTITY: &'static str = "finding_exception";
    fn key(&self) -> Key {
        exception_key(&self.workspace_id, &self.exception_id)
    }

    /// Stored with its due-index entry while it is current, so the tick finds it.
    fn to_item(&self) -> Item {
        let mut item = base_item(self);
        if let Some(at) = self.next_check_ms() {
            item.insert("GSI1PK".into(), EXCEPTIONS_DUE.into());
            item.insert(
                "GSI1SK".into(),
                due_sk(at, self.workspace_id.as_str(), &self.exception_id).into(),
            );
        }
        item
    }
}

/// One entry of an exception's history: `<ws pk> / EXCEPTIONEV#<exception>#<ulid>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionEventRecord {
    pub workspace_id: WorkspaceId,
    pub exception_id: String,
    pub event_id: String,
    pub at_ms: i64,
    /// requested, approved, rejected, withdrawn, revoked, expiring, expired, voided.
    pub kind: String,
    pub actor: String,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Record for ExceptionEventRecord {
    const ENTITY: &'static str = "finding_exception_event";
    fn key(&self) -> Key {
        Key::new(
            ws_pk(&self.workspace_id),
            format!("{}{}", exception_events(&self.exception_id), self.event_id),
        )
    }
}

/// The workspace's governance policy: `<ws pk> / POLICY#GOVERNANCE` (defaults until first set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub workspace_id: WorkspaceId,
    #[serde(flatten)]
    pub policy: GovernancePolicy,
    pub updated_ms: i64,
    pub updated_by: String,
}

impl Record for PolicyRecord {
    const ENTITY: &'static str = "governance_policy";
    fn key(&self) -> Key {
        policy_key(&self.workspace_id)
    }
}
