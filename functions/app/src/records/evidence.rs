//! Evidence packs: `<ws pk> / EVIDENCE#<id>` (the pack: period, state, the ZIP's size and hash),
//! and the reads a pack is built from, by partition and sort-key prefix.

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Item, Key, Query, SkCond, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{env_pk, ws_pk};
use super::{Record, base_item};

pub const PACKS: &str = "EVIDENCE#";
/// The index partition of packs by retention date (GSI1): the sweep's work list.
pub const PACKS_DUE: &str = "EVIDENCE_DUE";
const SETTINGS_SK: &str = "EVIDENCE_SETTINGS";

/// Packs whose retention ended at or before `now_ms`, oldest first.
pub fn packs_due_by(now_ms: i64) -> Query {
    Query::gsi1(PACKS_DUE).sk(SkCond::Lt(format!("{now_ms:015}~")))
}

fn due_sk(at_ms: i64, ws: &str, id: &str) -> String {
    format!("{at_ms:015}#{ws}#{id}")
}

pub fn settings_key(ws: &WorkspaceId) -> Key {
    Key::new(ws_pk(ws), SETTINGS_SK)
}

/// The workspace's evidence settings: `<ws pk> / EVIDENCE_SETTINGS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSettingsRecord {
    pub workspace_id: WorkspaceId,
    pub retention_days: u32,
    pub include_emails: bool,
    pub updated_ms: i64,
    pub updated_by: String,
}

impl Record for EvidenceSettingsRecord {
    const ENTITY: &'static str = "evidence_settings";
    fn key(&self) -> Key {
        settings_key(&self.workspace_id)
    }
}

/// The deployment's download-link and pseudonym secret in AWS, sealed by the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkKeyRecord {
    pub sealed: crate::secrets::Sealed,
}

impl Record for LinkKeyRecord {
    const ENTITY: &'static str = "evidence_link_key";
    fn key(&self) -> Key {
        link_key_key()
    }
}

pub fn link_key_key() -> Key {
    Key::new("SYSTEM", "EVIDENCE_LINK_KEY")
}

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
    /// `building`, `ready`, `failed` or `expired` (past its retention: the ZIP is deleted).
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
    /// Kept until then (the workspace's retention when the pack was started); then swept.
    #[serde(default)]
    pub retain_until_ms: Option<i64>,
    /// The S3 object's version (the bucket is versioned under Object Lock).
    #[serde(default)]
    pub object_version: Option<String>,
    #[serde(default)]
    pub expired_ms: Option<i64>,
}

impl Record for EvidencePackRecord {
    const ENTITY: &'static str = "evidence_pack";
    fn key(&self) -> Key {
        pack_key(&self.workspace_id, &self.pack_id)
    }

    /// Stored with its retention-index entry until it is swept, so the tick finds it.
    fn to_item(&self) -> Item {
        let mut item = base_item(self);
        if let (Some(at), true) = (self.retain_until_ms, self.status != "expired") {
            item.insert("GSI1PK".into(), PACKS_DUE.into());
            item.insert(
                "GSI1SK".into(),
                due_sk(at, self.workspace_id.as_str(), &self.pack_id).into(),
            );
        }
        item
    }
}

/// Past its retention: the ZIP is gone, the record stays (without its index entry).
pub fn expired(now_ms: i64) -> Update {
    Update::new()
        .set("status", "expired")
        .set("expired_ms", now_ms)
        .remove("GSI1PK")
        .remove("GSI1SK")
}

/// The pack built: its ZIP's size, hash and file count, and the stored object's version.
pub fn built(size: u64, sha256: &str, files: u32, object_version: Option<&str>) -> Update {
    let u = Update::new()
        .set("status", "ready")
        .set("size", size)
        .set("sha256", sha256)
        .set("files", files);
    match object_version {
        Some(v) => u.set("object_version", v),
        None => u,
    }
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
