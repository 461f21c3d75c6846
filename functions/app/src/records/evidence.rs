//! Evidence packs: `<ws pk> / EVIDENCE#<id>` (the pack: period, state, the ZIP's size and hash),
//! and the reads a pack is built from, by partition and sort-key prefix.

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Item, Key, Query, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::{env_pk, ws_pk};

pub const PACKS: &str = "EVIDENCE#";

pub fn pack_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(ws_pk(ws), format!("{PACKS}{id}"))
}

/// A workspace's packs, newest first (ids are ULIDs).
pub fn packs_of(ws: &WorkspaceId) -> Query {
    Query::partition(ws_pk(ws)).begins_with(PACKS).backward()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidencePackRecord {
    pub workspace_id: WorkspaceId,
    pub pack_id: String,
    #[serde(default)]
    pub environment_id: Option<EnvironmentId>,
    /// `building`, `ready` or `failed`.
    pub status: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub created_ms: i64,
    pub created_by: String,
    pub run_id: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub files: Option<u32>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Record for EvidencePackRecord {
    const ENTITY: &'static str = "evidence_pack";
    fn key(&self) -> Key {
        pack_key(&self.workspace_id, &self.pack_id)
    }
}

/// The pack built: its ZIP's size, hash and file count.
pub fn built(size: u64, sha256: &str, files: u32) -> Update {
    Update::new()
        .set("status", "ready")
        .set("size", size)
        .set("sha256", sha256)
        .set("files", files)
}

pub fn failed(reason: &str) -> Update {
    Update::new().set("status", "failed").set("reason", reason)
}

/// Which workspace-partition records a pack reads, by sort-key prefix.
pub mod ws_parts {
    pub const ENVIRONMENTS: &str = super::super::tenancy::ENV_PREFIX;
    pub const BASELINES: &str = super::super::drift::PROFILES;
    pub const SNAPSHOTS: &str = "BASESNAP#";
    pub const FINDINGS: &str = super::super::drift::FINDINGS;
    pub const FINDING_EVENTS: &str = "FINDINGEV#";
    pub const EXCEPTIONS: &str = super::super::exceptions::EXCEPTIONS;
    pub const EXCEPTION_EVENTS: &str = "EXCEPTIONEV#";
}

/// Which environment-partition records a pack reads, by sort-key prefix.
pub mod env_parts {
    pub const CONNECTION: &str = super::super::provider::CONNECTION_SK;
    pub const BACKUP_SETS: &str = super::super::backups::SETS;
    pub const RESTORES: &str = super::super::restore::DRAFTS;
    pub const CHANGES: &str = super::super::drift::CHANGES;
}

/// The workspace partition's items under `prefix`.
pub fn in_workspace(ws: &WorkspaceId, prefix: &str) -> Query {
    Query::partition(ws_pk(ws)).begins_with(prefix)
}

/// An environment partition's items under `prefix`.
pub fn in_environment(ws: &WorkspaceId, env: &EnvironmentId, prefix: &str) -> Query {
    Query::partition(env_pk(ws, env)).begins_with(prefix)
}

/// The workspace setting that puts members' e-mail addresses in packs (else pseudonyms).
pub fn include_emails(workspace_item: Option<&Item>) -> bool {
    workspace_item
        .and_then(|i| i.get("evidence_include_emails"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// An item as a pack shows it: without the table's keys and internal attributes.
pub fn plain(mut item: Item) -> Item {
    for k in ["PK", "SK", "GSI1PK", "GSI1SK"] {
        item.remove(k);
    }
    item.retain(|k, _| !k.starts_with(atlas_store::codec::RESERVED_PREFIX));
    item
}
