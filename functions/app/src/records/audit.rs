//! The audit event record: in the workspace's partition, sorted by its ULID (time first), and in
//! an environment's GSI1 index when it concerns one environment.

use atlas_domain::{EnvironmentId, EventOutcome, WorkspaceId};
use atlas_store::{Item, Key, Query, SkCond};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::ws_pk;

pub const AUDIT_PREFIX: &str = "AUDIT#";
/// Sorts after every event id.
pub const AUDIT_END: &str = "AUDIT#~";

pub fn audit_sk(id: &str) -> String {
    format!("{AUDIT_PREFIX}{id}")
}

/// The environment's index partition (GSI1).
pub fn env_index_pk(ws: &WorkspaceId, env: &EnvironmentId) -> String {
    format!("AUDIT#{ws}#ENV#{env}")
}

/// Events between two sort keys, from the workspace's partition or one environment's index.
pub fn between(ws: &WorkspaceId, env: Option<&EnvironmentId>, lo: String, hi: String) -> Query {
    match env {
        Some(env) => Query::gsi1(env_index_pk(ws, env)),
        None => Query::partition(ws_pk(ws)),
    }
    .sk(SkCond::Between(lo, hi))
}

/// The cursor key of event `id`: what a page that stops right after it continues from.
pub fn cursor_key(ws: &WorkspaceId, env: Option<&EnvironmentId>, id: &str) -> Item {
    let mut key = Item::new();
    key.insert("PK".into(), Value::String(ws_pk(ws)));
    key.insert("SK".into(), Value::String(audit_sk(id)));
    if let Some(env) = env {
        key.insert("GSI1PK".into(), Value::String(env_index_pk(ws, env)));
        key.insert("GSI1SK".into(), Value::String(audit_sk(id)));
    }
    key
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEventRecord {
    pub id: String,
    pub at_ms: i64,
    pub workspace_id: WorkspaceId,
    pub actor_id: String,
    pub actor_email: String,
    pub action: String,
    pub target: String,
    pub outcome: EventOutcome,
    /// Stored as `null` when absent, as always.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
    pub metadata: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<EnvironmentId>,
    /// The event's place in its workspace's hash chain (1, 2, …); absent on events written before
    /// the chain existed. Set by `audit::transact` when the event commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The previous event's `hash` (64 zeros for seq 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// SHA-256 (hex) of the event's canonical form, see `audit::canonical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

impl AuditEventRecord {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        at_ms: i64,
        workspace_id: WorkspaceId,
        actor: &crate::identity::Actor,
        action: String,
        target: String,
        environment_id: Option<EnvironmentId>,
        outcome: EventOutcome,
        reason: Option<String>,
        request_id: Option<String>,
        metadata: Value,
    ) -> Self {
        let (gsi1pk, gsi1sk) = match &environment_id {
            Some(env) => (Some(env_index_pk(&workspace_id, env)), Some(audit_sk(&id))),
            None => (None, None),
        };
        Self {
            id,
            at_ms,
            workspace_id,
            actor_id: actor.user_id.clone(),
            actor_email: actor.email.clone(),
            action,
            target,
            outcome,
            reason,
            request_id,
            metadata,
            environment_id,
            seq: None,
            prev_hash: None,
            hash: None,
            gsi1pk,
            gsi1sk,
        }
    }
}

/// The workspace item's attributes holding the chain's head: the last `seq` and its `hash`.
pub const HEAD_SEQ: &str = "audit_seq";
pub const HEAD_HASH: &str = "audit_head";

/// Every event of the workspace, oldest id first (the chain is re-sorted by `seq` by the reader).
pub fn all_events(ws: &WorkspaceId) -> Query {
    Query::partition(ws_pk(ws)).sk(SkCond::Between(AUDIT_PREFIX.into(), AUDIT_END.into()))
}

impl Record for AuditEventRecord {
    const ENTITY: &'static str = "audit_event";
    fn key(&self) -> Key {
        Key::new(ws_pk(&self.workspace_id), audit_sk(&self.id))
    }
}

impl From<AuditEventRecord> for atlas_api_types::AuditEvent {
    fn from(r: AuditEventRecord) -> Self {
        atlas_api_types::AuditEvent {
            id: r.id,
            at_ms: r.at_ms,
            actor_id: r.actor_id,
            actor_email: r.actor_email,
            action: r.action,
            target: r.target,
            workspace_id: r.workspace_id.into(),
            environment_id: r.environment_id.map(String::from),
            outcome: r.outcome,
            reason: r.reason,
            request_id: r.request_id,
            metadata: r.metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actor() -> crate::identity::Actor {
        crate::identity::Actor {
            user_id: "u-1".into(),
            email: "one@example.test".into(),
            name: "One".into(),
        }
    }

    #[test]
    fn an_event_is_stored_as_before() {
        let ws = WorkspaceId::parse("ws-a").unwrap();
        let env = EnvironmentId::parse("env-a").unwrap();
        let ev = AuditEventRecord::new(
            "01jx".into(),
            5,
            ws.clone(),
            &actor(),
            "environment.create".into(),
            "environment/env-a".into(),
            Some(env),
            EventOutcome::Success,
            None,
            Some("req-1".into()),
            json!({"display_name": "A"}),
        );
        // audit.rs `item` before the records layer.
        let stored = json!({
            "PK": "WS#ws-a", "SK": "AUDIT#01jx", "entity": "audit_event", "id": "01jx", "at_ms": 5,
            "workspace_id": "ws-a", "actor_id": "u-1", "actor_email": "one@example.test",
            "action": "environment.create", "target": "environment/env-a", "outcome": "success",
            "reason": null, "request_id": "req-1", "metadata": {"display_name": "A"},
            "environment_id": "env-a", "GSI1PK": "AUDIT#ws-a#ENV#env-a", "GSI1SK": "AUDIT#01jx",
        });
        assert_eq!(Value::Object(ev.to_item()), stored);
        assert_eq!(
            AuditEventRecord::from_item(stored.as_object().cloned().unwrap()).unwrap(),
            ev
        );

        let plain = AuditEventRecord::new(
            "01jy".into(),
            6,
            ws,
            &actor(),
            "member.remove".into(),
            "member/u-2".into(),
            None,
            EventOutcome::Denied,
            Some("missing capability".into()),
            None,
            json!({}),
        );
        let stored = json!({
            "PK": "WS#ws-a", "SK": "AUDIT#01jy", "entity": "audit_event", "id": "01jy", "at_ms": 6,
            "workspace_id": "ws-a", "actor_id": "u-1", "actor_email": "one@example.test",
            "action": "member.remove", "target": "member/u-2", "outcome": "denied",
            "reason": "missing capability", "request_id": null, "metadata": {},
        });
        assert_eq!(Value::Object(plain.to_item()), stored);
        let back = AuditEventRecord::from_item(stored.as_object().cloned().unwrap()).unwrap();
        assert_eq!(back, plain);
        let api: atlas_api_types::AuditEvent = back.into();
        assert_eq!((api.environment_id, api.request_id), (None, None));
    }
}
