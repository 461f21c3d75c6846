//! Mapping table rows and promotions (spec 022), in the workspace partition:
//! `MAP#<source env>#<target env>#<kind>#<source id>` and `PROMOTION#<id>`.

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Key, Query, TxItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::ws_pk;

pub const PROMOTIONS: &str = "PROMOTION#";

/// The rows of one ordered environment pair.
pub fn mappings_of(ws: &WorkspaceId, source: &EnvironmentId, target: &EnvironmentId) -> Query {
    Query::partition(ws_pk(ws)).begins_with(format!("MAP#{source}#{target}#"))
}

pub fn mapping_key(ws: &WorkspaceId, source: &EnvironmentId, target: &EnvironmentId, kind: &str, id: &str) -> Key {
    Key::new(ws_pk(ws), format!("MAP#{source}#{target}#{kind}#{id}"))
}

/// One mapping row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingRecord {
    pub workspace_id: WorkspaceId,
    pub source_environment_id: EnvironmentId,
    pub target_environment_id: EnvironmentId,
    pub kind: String,
    pub source_id: String,
    pub target_id: String,
    #[serde(default)]
    pub source_name: Option<String>,
    #[serde(default)]
    pub target_name: Option<String>,
    pub updated_by_email: String,
    pub updated_ms: i64,
}

impl Record for MappingRecord {
    const ENTITY: &'static str = "mapping";
    fn key(&self) -> Key {
        mapping_key(
            &self.workspace_id,
            &self.source_environment_id,
            &self.target_environment_id,
            &self.kind,
            &self.source_id,
        )
    }
}

pub fn promotion_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(ws_pk(ws), format!("{PROMOTIONS}{id}"))
}

/// A workspace's promotions, newest first (ids are ULIDs).
pub fn promotions_of(ws: &WorkspaceId) -> Query {
    Query::partition(ws_pk(ws)).begins_with(PROMOTIONS).backward()
}

/// A promotion: which restore draft carries it, and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub workspace_id: WorkspaceId,
    pub promotion_id: String,
    pub source_environment_id: EnvironmentId,
    pub target_environment_id: EnvironmentId,
    pub backup_set_id: String,
    pub items: Vec<String>,
    pub include_assignments: bool,
    /// The restore draft (in the target) that plans and writes it.
    pub restore_id: String,
    pub state: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub created_by: String,
    pub created_by_email: String,
    pub created_ms: i64,
    #[serde(default)]
    pub preview_id: Option<String>,
    #[serde(default)]
    pub plan_fingerprint: Option<String>,
    #[serde(default)]
    pub plan_expires_ms: Option<i64>,
    /// What the plan read of the target, per item: `key → [target id, live hash, action]`.
    #[serde(default)]
    pub plan_digest: Option<String>,
    #[serde(default)]
    pub dry_run: Option<Value>,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub approved_by_email: Option<String>,
    #[serde(default)]
    pub approved_ms: Option<i64>,
    #[serde(default)]
    pub pre_backup_run: Option<String>,
    #[serde(default)]
    pub cutover_run: Option<String>,
    #[serde(default)]
    pub verify: Option<Value>,
    #[serde(default)]
    pub rollback_restore_id: Option<String>,
    /// Bumped by every change: each write is conditional on the version read.
    pub version: u64,
}

impl Record for PromotionRecord {
    const ENTITY: &'static str = "promotion";
    fn key(&self) -> Key {
        promotion_key(&self.workspace_id, &self.promotion_id)
    }
}

impl PromotionRecord {
    /// This record over the stored one at version `seen` (the version goes up by one).
    pub fn write(&self, seen: u64) -> TxItem {
        let mut next = self.clone();
        next.version = seen + 1;
        super::versioned_put(next.to_item(), Some(seen))
    }
}
