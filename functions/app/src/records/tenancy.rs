//! The tenancy records: workspaces (and their creator's slug, quota and pins), memberships and
//! their email index, environments and their tenant lock, invitations with their email lock and
//! token. Attribute names and values are those stored since the first release.

use std::collections::BTreeSet;

use atlas_domain::{EnvironmentId, EnvironmentLifecycle, InvitationStatus, Role, WorkspaceId};
use atlas_store::{Item, Key, Query};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::Record;
use super::keys::ws_pk;
use crate::scope::Entitlement;

// ---- keys -------------------------------------------------------------------------------------

/// The partition of a user's own items (slugs, quota, pins) and their memberships' index (GSI1).
pub fn user_pk(user: &str) -> String {
    format!("USER#{user}")
}

pub fn workspace_key(ws: &WorkspaceId) -> Key {
    Key::new(ws_pk(ws), WORKSPACE_SK)
}
pub const WORKSPACE_SK: &str = "WORKSPACE";

pub fn member_sk(user: &str) -> String {
    format!("MEMBER#{user}")
}
pub fn member_key(ws: &WorkspaceId, user: &str) -> Key {
    Key::new(ws_pk(ws), member_sk(user))
}
pub const MEMBER_PREFIX: &str = "MEMBER#";

pub fn member_email_sk(email: &str) -> String {
    format!("MEMBER_EMAIL#{email}")
}
pub fn member_email_key(ws: &WorkspaceId, email: &str) -> Key {
    Key::new(ws_pk(ws), member_email_sk(email))
}

/// A user's memberships, newest index first: the GSI1 query of [`MemberRecord`]s.
pub fn memberships_of(user: &str) -> Query {
    Query::gsi1(user_pk(user)).begins_with("WS#")
}

pub fn env_sk(env: &EnvironmentId) -> String {
    format!("ENV#{env}")
}
pub fn env_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(ws_pk(ws), env_sk(env))
}
pub const ENV_PREFIX: &str = "ENV#";

pub fn tenant_lock_sk(tenant: &str) -> String {
    format!("TENANT#{tenant}")
}

pub fn slug_key(user: &str, slug: &WorkspaceId) -> Key {
    Key::new(user_pk(user), format!("WS_SLUG#{slug}"))
}

/// How many workspaces a user created: an item only ever written by an update's `add`.
pub fn quota_key(user: &str) -> Key {
    Key::new(user_pk(user), "WS_QUOTA")
}

pub fn pin_key(user: &str, ws: &WorkspaceId) -> Key {
    Key::new(user_pk(user), format!("PIN#{ws}"))
}
pub fn pins_of(user: &str) -> Query {
    Query::partition(user_pk(user)).begins_with("PIN#")
}

pub fn invite_sk(id: &str) -> String {
    format!("INVITE#{id}")
}
pub fn invite_key(ws: &WorkspaceId, id: &str) -> Key {
    Key::new(ws_pk(ws), invite_sk(id))
}
pub const INVITE_PREFIX: &str = "INVITE#";

pub fn invite_email_key(ws: &WorkspaceId, email: &str) -> Key {
    Key::new(ws_pk(ws), format!("INVITE_EMAIL#{email}"))
}

pub fn token_key(hash: &str) -> Key {
    Key::new(format!("INVTOKEN#{hash}"), "INVTOKEN")
}

// ---- entitlement as stored: "all" or a list of environment ids -------------------------------

/// An entitlement as stored in `environments`: `"all"`, or a list of ids. Anything else (and a
/// missing attribute) reads as all, as it always has; ids that no longer parse are dropped.
pub mod stored_entitlement {
    use super::*;

    pub fn serialize<S: Serializer>(e: &Entitlement, s: S) -> Result<S::Ok, S::Error> {
        to_value(e).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Entitlement, D::Error> {
        Ok(from_value(&Value::deserialize(d)?))
    }

    pub fn to_value(e: &Entitlement) -> Value {
        match e {
            Entitlement::All => Value::String("all".into()),
            Entitlement::Only(ids) => Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect()),
        }
    }

    pub fn from_value(v: &Value) -> Entitlement {
        match v {
            Value::Array(ids) => Entitlement::Only(
                ids.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|s| EnvironmentId::parse(s).ok())
                    .collect::<BTreeSet<_>>(),
            ),
            _ => Entitlement::All,
        }
    }
}

fn all() -> Entitlement {
    Entitlement::All
}

// ---- records ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceRecord {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub owner_count: i64,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_ms: Option<i64>,
    /// The demo seed's workspaces have no creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

impl Record for WorkspaceRecord {
    const ENTITY: &'static str = "workspace";
    fn key(&self) -> Key {
        workspace_key(&self.workspace_id)
    }
}

/// The creator's own record of a slug (unique among the workspaces one user created).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlugRecord {
    #[serde(skip)]
    pub user_id: String,
    pub slug: WorkspaceId,
    pub workspace_id: WorkspaceId,
}

impl Record for SlugRecord {
    const ENTITY: &'static str = "workspace_slug";
    fn key(&self) -> Key {
        slug_key(&self.user_id, &self.slug)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinRecord {
    #[serde(skip)]
    pub user_id: String,
    pub workspace_id: WorkspaceId,
    pub pinned_ms: i64,
}

impl Record for PinRecord {
    const ENTITY: &'static str = "pin";
    fn key(&self) -> Key {
        pin_key(&self.user_id, &self.workspace_id)
    }
}

/// A membership: in the workspace's partition, and in the user's index (GSI1) for `/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub workspace_id: WorkspaceId,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[serde(with = "stored_entitlement", default = "all")]
    pub environments: Entitlement,
    pub joined_ms: i64,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
}

impl MemberRecord {
    pub fn new(
        workspace_id: WorkspaceId,
        actor: &crate::identity::Actor,
        role: Role,
        environments: Entitlement,
        joined_ms: i64,
    ) -> Self {
        Self {
            gsi1pk: user_pk(&actor.user_id),
            gsi1sk: ws_pk(&workspace_id),
            workspace_id,
            user_id: actor.user_id.clone(),
            email: actor.email.clone(),
            name: actor.name.clone(),
            role,
            environments,
            joined_ms,
        }
    }

    /// The member's email index entry, written and removed with the membership.
    pub fn email_entry(&self) -> MemberEmailRecord {
        MemberEmailRecord {
            workspace_id: Some(self.workspace_id.clone()),
            email: self.email.clone(),
            user_id: self.user_id.clone(),
        }
    }
}

impl Record for MemberRecord {
    const ENTITY: &'static str = "membership";
    fn key(&self) -> Key {
        member_key(&self.workspace_id, &self.user_id)
    }
}

/// One member per email in a workspace: the index an invitation checks. Stored without an
/// `entity` attribute (it never had one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberEmailRecord {
    #[serde(skip)]
    pub workspace_id: Option<WorkspaceId>,
    #[serde(skip)]
    pub email: String,
    pub user_id: String,
}

impl Record for MemberEmailRecord {
    const ENTITY: &'static str = "member_email";
    fn key(&self) -> Key {
        let ws = self
            .workspace_id
            .as_ref()
            .expect("an email entry is written with its workspace");
        member_email_key(ws, &self.email)
    }
    fn to_item(&self) -> Item {
        let key = self.key();
        let mut item = Item::new();
        item.insert("PK".into(), Value::String(key.pk));
        item.insert("SK".into(), Value::String(key.sk));
        item.insert("user_id".into(), Value::String(self.user_id.clone()));
        item
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    pub display_name: String,
    pub tenant_id: String,
    pub primary_domain: String,
    pub lifecycle: EnvironmentLifecycle,
    pub created_ms: i64,
}

impl Record for EnvironmentRecord {
    const ENTITY: &'static str = "environment";
    fn key(&self) -> Key {
        env_key(&self.workspace_id, &self.environment_id)
    }
}

/// One environment per Entra tenant in a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantLockRecord {
    #[serde(skip)]
    pub workspace_id: Option<WorkspaceId>,
    #[serde(skip)]
    pub tenant_id: String,
    pub environment_id: EnvironmentId,
}

impl Record for TenantLockRecord {
    const ENTITY: &'static str = "tenant_lock";
    fn key(&self) -> Key {
        let ws = self
            .workspace_id
            .as_ref()
            .expect("a tenant lock is written with its workspace");
        Key::new(ws_pk(ws), tenant_lock_sk(&self.tenant_id))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationRecord {
    pub workspace_id: WorkspaceId,
    pub invitation_id: String,
    pub email: String,
    pub role: Role,
    #[serde(with = "stored_entitlement", default = "all")]
    pub environments: Entitlement,
    /// As stored: `pending`, `accepted` or `revoked` (`expired` is derived, see [`Self::status`]).
    pub status: InvitationStatus,
    pub invited_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub token_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
}

impl InvitationRecord {
    /// The status shown: a pending invitation past its expiry is expired.
    pub fn status(&self, now: i64) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if self.expires_ms <= now => InvitationStatus::Expired,
            st => st,
        }
    }

    /// The email's lock: at most one pending invitation per email.
    pub fn lock(&self) -> InvitationLockRecord {
        InvitationLockRecord {
            workspace_id: Some(self.workspace_id.clone()),
            email: self.email.clone(),
            invitation_id: self.invitation_id.clone(),
            expires_ms: self.expires_ms,
        }
    }

    /// The token's entry, found by the hash of the token the invitee holds.
    pub fn token(&self) -> InvitationTokenRecord {
        InvitationTokenRecord {
            token_hash: self.token_hash.clone(),
            workspace_id: self.workspace_id.clone(),
            invitation_id: self.invitation_id.clone(),
            // DynamoDB's TTL removes it eventually; acceptance checks the expiry itself.
            ttl: self.expires_ms / 1000 + 86_400,
        }
    }
}

impl Record for InvitationRecord {
    const ENTITY: &'static str = "invitation";
    fn key(&self) -> Key {
        invite_key(&self.workspace_id, &self.invitation_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationLockRecord {
    #[serde(skip)]
    pub workspace_id: Option<WorkspaceId>,
    #[serde(skip)]
    pub email: String,
    pub invitation_id: String,
    pub expires_ms: i64,
}

impl Record for InvitationLockRecord {
    const ENTITY: &'static str = "invitation_lock";
    fn key(&self) -> Key {
        let ws = self
            .workspace_id
            .as_ref()
            .expect("a lock is written with its workspace");
        invite_email_key(ws, &self.email)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationTokenRecord {
    #[serde(skip)]
    pub token_hash: String,
    pub workspace_id: WorkspaceId,
    pub invitation_id: String,
    pub ttl: i64,
}

impl Record for InvitationTokenRecord {
    const ENTITY: &'static str = "invitation_token";
    fn key(&self) -> Key {
        token_key(&self.token_hash)
    }
}

/// The local issuer's signing key (PKCS#8, base64), made once so tokens outlive restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuerKeyRecord {
    pub pkcs8: String,
}

impl Record for IssuerKeyRecord {
    const ENTITY: &'static str = "issuer_key";
    fn key(&self) -> Key {
        issuer_key_key()
    }
}

pub fn issuer_key_key() -> Key {
    Key::new("SYSTEM", "ISSUER_KEY")
}

/// The demo data's mark: written in the seed's own transaction, so a seed happens once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedMarkRecord {
    pub version: u32,
}

impl Record for SeedMarkRecord {
    const ENTITY: &'static str = "seed";
    fn key(&self) -> Key {
        Key::new("SYSTEM", "SEED#demo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    fn ws() -> WorkspaceId {
        WorkspaceId::parse("ws-a").unwrap()
    }

    fn env() -> EnvironmentId {
        EnvironmentId::parse("env-a").unwrap()
    }

    fn actor() -> crate::identity::Actor {
        crate::identity::Actor {
            user_id: "u-1".into(),
            email: "one@example.test".into(),
            name: "One".into(),
        }
    }

    /// Both ways: the record writes exactly `stored`, and `stored` reads back as the record.
    fn same<R: Record + PartialEq + std::fmt::Debug>(r: &R, stored: Value) {
        assert_eq!(Value::Object(r.to_item()), stored);
        assert_eq!(&R::from_item(obj(stored)).unwrap(), r);
    }

    #[test]
    fn a_workspace_is_stored_as_before() {
        let w = WorkspaceRecord {
            workspace_id: ws(),
            name: "A".into(),
            slug: "a".into(),
            owner_count: 1,
            created_ms: 5,
            last_activity_ms: Some(5),
            created_by: Some("u-1".into()),
        };
        // routes/workspaces.rs `create` before the records layer.
        same(
            &w,
            json!({
                "PK": "WS#ws-a", "SK": "WORKSPACE", "entity": "workspace", "workspace_id": "ws-a",
                "name": "A", "slug": "a", "owner_count": 1, "created_ms": 5, "last_activity_ms": 5,
                "created_by": "u-1",
            }),
        );
        // The demo seed's shape: no creator.
        let seeded = WorkspaceRecord::from_item(obj(json!({
            "PK": "WS#ws-a", "SK": "WORKSPACE", "entity": "workspace", "workspace_id": "ws-a",
            "name": "A", "slug": "ws-a", "owner_count": 1, "created_ms": 5, "last_activity_ms": 5,
        })))
        .unwrap();
        assert_eq!(seeded.created_by, None);
    }

    #[test]
    fn slug_and_pin_are_stored_as_before() {
        let slug = SlugRecord {
            user_id: "u-1".into(),
            slug: WorkspaceId::parse("acme").unwrap(),
            workspace_id: ws(),
        };
        assert_eq!(
            Value::Object(slug.to_item()),
            json!({"PK": "USER#u-1", "SK": "WS_SLUG#acme", "entity": "workspace_slug", "slug": "acme", "workspace_id": "ws-a"})
        );
        let pin = PinRecord {
            user_id: "u-1".into(),
            workspace_id: ws(),
            pinned_ms: 9,
        };
        let stored =
            json!({"PK": "USER#u-1", "SK": "PIN#ws-a", "entity": "pin", "workspace_id": "ws-a", "pinned_ms": 9});
        assert_eq!(Value::Object(pin.to_item()), stored);
        assert_eq!(PinRecord::from_item(obj(stored)).unwrap().workspace_id, ws());
        assert_eq!(quota_key("u-1"), Key::new("USER#u-1", "WS_QUOTA"));
    }

    #[test]
    fn a_membership_and_its_email_entry_are_stored_as_before() {
        let m = MemberRecord::new(ws(), &actor(), Role::Owner, Entitlement::All, 7);
        same(
            &m,
            json!({
                "PK": "WS#ws-a", "SK": "MEMBER#u-1", "entity": "membership",
                "workspace_id": "ws-a", "user_id": "u-1", "email": "one@example.test", "name": "One",
                "role": "owner", "environments": "all", "joined_ms": 7,
                "GSI1PK": "USER#u-1", "GSI1SK": "WS#ws-a",
            }),
        );
        let only = MemberRecord::new(ws(), &actor(), Role::Readonly, Entitlement::Only([env()].into()), 7);
        assert_eq!(only.to_item()["environments"], json!(["env-a"]));
        assert_eq!(
            MemberRecord::from_item(only.to_item()).unwrap().environments,
            Entitlement::Only([env()].into())
        );
        assert_eq!(
            Value::Object(m.email_entry().to_item()),
            json!({"PK": "WS#ws-a", "SK": "MEMBER_EMAIL#one@example.test", "user_id": "u-1"})
        );
    }

    #[test]
    fn an_environment_and_its_tenant_lock_are_stored_as_before() {
        let e = EnvironmentRecord {
            workspace_id: ws(),
            environment_id: env(),
            display_name: "Env A".into(),
            tenant_id: "11111111-1111-4111-8111-111111111111".into(),
            primary_domain: "a.test".into(),
            lifecycle: EnvironmentLifecycle::Active,
            created_ms: 3,
        };
        same(
            &e,
            json!({
                "PK": "WS#ws-a", "SK": "ENV#env-a", "entity": "environment", "workspace_id": "ws-a",
                "environment_id": "env-a", "display_name": "Env A", "tenant_id": "11111111-1111-4111-8111-111111111111",
                "primary_domain": "a.test", "lifecycle": "active", "created_ms": 3,
            }),
        );
        let lock = TenantLockRecord {
            workspace_id: Some(ws()),
            tenant_id: e.tenant_id.clone(),
            environment_id: env(),
        };
        assert_eq!(
            Value::Object(lock.to_item()),
            json!({"PK": "WS#ws-a", "SK": "TENANT#11111111-1111-4111-8111-111111111111", "entity": "tenant_lock", "environment_id": "env-a"})
        );
    }

    #[test]
    fn an_invitation_its_lock_and_token_are_stored_as_before() {
        let i = InvitationRecord {
            workspace_id: ws(),
            invitation_id: "inv1".into(),
            email: "two@example.test".into(),
            role: Role::Operator,
            environments: Entitlement::Only([env()].into()),
            status: InvitationStatus::Pending,
            invited_by: "one@example.test".into(),
            created_ms: 1,
            expires_ms: 2_000_000,
            token_hash: "abc".into(),
            accepted_by: None,
        };
        same(
            &i,
            json!({
                "PK": "WS#ws-a", "SK": "INVITE#inv1", "entity": "invitation", "workspace_id": "ws-a",
                "invitation_id": "inv1", "email": "two@example.test", "role": "operator",
                "environments": ["env-a"], "status": "pending",
                "invited_by": "one@example.test", "created_ms": 1, "expires_ms": 2_000_000, "token_hash": "abc",
            }),
        );
        assert_eq!(
            Value::Object(i.lock().to_item()),
            json!({"PK": "WS#ws-a", "SK": "INVITE_EMAIL#two@example.test", "entity": "invitation_lock", "invitation_id": "inv1", "expires_ms": 2_000_000})
        );
        assert_eq!(
            Value::Object(i.token().to_item()),
            json!({"PK": "INVTOKEN#abc", "SK": "INVTOKEN", "entity": "invitation_token", "workspace_id": "ws-a", "invitation_id": "inv1", "ttl": 2_000 + 86_400})
        );
        assert_eq!(i.status(1), InvitationStatus::Pending);
        assert_eq!(i.status(2_000_000), InvitationStatus::Expired);
        // An accepted one (the accept updates `status` and adds `accepted_by`).
        let mut accepted = i.to_item();
        accepted.insert("status".into(), json!("accepted"));
        accepted.insert("accepted_by".into(), json!("u-2"));
        let a = InvitationRecord::from_item(accepted).unwrap();
        assert_eq!(
            (a.status, a.accepted_by.as_deref()),
            (InvitationStatus::Accepted, Some("u-2"))
        );
    }

    #[test]
    fn the_issuer_key_is_stored_as_before() {
        let k = IssuerKeyRecord { pkcs8: "AAAA".into() };
        let stored = json!({"PK": "SYSTEM", "SK": "ISSUER_KEY", "entity": "issuer_key", "pkcs8": "AAAA"});
        assert_eq!(Value::Object(k.to_item()), stored);
        assert_eq!(IssuerKeyRecord::from_item(obj(stored)).unwrap(), k);
    }

    #[test]
    fn a_missing_environments_attribute_reads_as_all() {
        let mut item = MemberRecord::new(ws(), &actor(), Role::Owner, Entitlement::All, 7).to_item();
        item.remove("environments");
        assert_eq!(MemberRecord::from_item(item).unwrap().environments, Entitlement::All);
    }
}
