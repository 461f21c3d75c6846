//! Support requests as stored (spec 025), in their workspace's partition.
//!
//! Items: `WS#<ws> / SUPPORT#<id>` (the request, its redacted context and its delivery state)
//! and `WS#<ws> / SUPPORTFP#<fingerprint>` (the dedupe guard: the request a fingerprint last
//! made, and when).

use atlas_domain::WorkspaceId;
use atlas_store::Key;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::ws_pk;

pub const PREFIX: &str = "SUPPORT#";

pub fn request_sk(id: &str) -> String {
    format!("{PREFIX}{id}")
}

pub fn request_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(ws_pk(ws), request_sk(id))
}

pub fn fingerprint_key(ws: &WorkspaceId, fingerprint: &str) -> Key {
    Key::new(ws_pk(ws), format!("SUPPORTFP#{fingerprint}"))
}

/// `WS#<ws> / SUPPORT#<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportRecord {
    pub support_id: String,
    pub workspace_id: WorkspaceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    pub source_type: String,
    pub issue_kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub created_by: String,
    pub created_by_email: String,
    pub created_ms: i64,
    /// `received`, `delivered` or `delivery_failed`.
    pub state: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub fingerprint: String,
    /// The snapshot, redacted before it was stored.
    pub context: Value,
}

impl Record for SupportRecord {
    const ENTITY: &'static str = "support_request";
    fn key(&self) -> Key {
        request_key(&self.workspace_id, &self.support_id)
    }
}

/// `WS#<ws> / SUPPORTFP#<fingerprint>`: replaced only once its window has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportFingerprintRecord {
    pub workspace_id: WorkspaceId,
    pub fingerprint: String,
    pub support_id: String,
    pub created_ms: i64,
}

impl Record for SupportFingerprintRecord {
    const ENTITY: &'static str = "support_fingerprint";
    fn key(&self) -> Key {
        fingerprint_key(&self.workspace_id, &self.fingerprint)
    }
}
