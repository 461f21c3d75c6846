//! The provider records: an environment's connection (in the environment's partition) and the
//! tenant claims that tie a proven tenant to the workspace environments that proved it.

use atlas_api_types::Verification;
use atlas_domain::{ConnectionLifecycle, ConsentOutcome, EnvironmentId, WorkspaceId};
use atlas_store::{Cond, Key, Query, Table, TableError, TxItem, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Record;
use super::keys::env_pk;
use crate::secrets::Sealed;

/// The connection's sort key in its environment's partition.
pub const CONNECTION_SK: &str = "PROVIDER";

pub fn connection_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(env_pk(ws, env), CONNECTION_SK)
}

/// How a connection signs in: TenantAtlas's multi-tenant app, or the customer's own app
/// registration with its sealed secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppMode {
    Platform,
    Dedicated,
}

impl AppMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AppMode::Platform => "platform",
            AppMode::Dedicated => "dedicated",
        }
    }
}

/// An environment's provider connection (`WS#…#ENV#…`, `PROVIDER`). Every change but the run
/// failure mark is conditioned on the `version` read and adds one to it ([`ConnectionRecord::change`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    /// The tenant as entered: a GUID or a verified domain.
    pub tenant: String,
    /// The environment's Entra tenant GUID.
    pub tenant_id: String,
    pub app_mode: AppMode,
    pub client_id: String,
    pub lifecycle: ConnectionLifecycle,
    pub created_ms: i64,
    pub version: i64,
    /// A dedicated app's secret, sealed; absent for the platform app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<StoredCredential>,
    /// The last consent callback's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConnectionConsent>,
    /// The last verification's permission posture; removed when consent or credential change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// A run's sign-in failure (see `provider::auth_failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_failure: Option<RunFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_ms: Option<i64>,
}

impl Record for ConnectionRecord {
    const ENTITY: &'static str = "provider_connection";
    fn key(&self) -> Key {
        connection_key(&self.workspace_id, &self.environment_id)
    }
}

/// A dedicated app's client secret: its metadata (shown) and the sealed bytes (never shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCredential {
    /// `secret`.
    pub kind: String,
    pub version: u32,
    pub set_ms: i64,
    pub sealed: Sealed,
}

impl StoredCredential {
    pub fn secret(version: u32, set_ms: i64, sealed: Sealed) -> Self {
        StoredCredential {
            kind: "secret".into(),
            version,
            set_ms,
            sealed,
        }
    }
}

/// How the last consent callback ended. A refused one stores Entra's `error` and
/// `error_description` (null when Entra sent none); a granted one its proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionConsent {
    pub outcome: ConsentOutcome,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<AdminProof>,
}

/// The sign-in of a tenant administrator that proved the tenant is this workspace's to manage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminProof {
    /// Matched by the tenant claim's `proof_id`.
    pub id: String,
    pub oid: String,
    pub upn: String,
    /// An `AdminRole`'s display name.
    pub role: String,
    /// Where the role was read: `wids`, `graph` (or `seed`).
    pub role_source: String,
    pub tenant_id: String,
    pub at_ms: i64,
    /// The user who started the consent.
    pub initiator: String,
}

/// What a run's sign-in failure says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunFailureKind {
    ConsentRevoked,
    CredentialExpired,
    InvalidCredentials,
}

impl RunFailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunFailureKind::ConsentRevoked => "consent_revoked",
            RunFailureKind::CredentialExpired => "credential_expired",
            RunFailureKind::InvalidCredentials => "invalid_credentials",
        }
    }
}

/// A run could not sign in; superseded by a later verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    pub kind: RunFailureKind,
    pub reason: String,
    pub at_ms: i64,
}

fn value<T: Serialize>(v: &T) -> Value {
    // The record's own types always serialize (no maps with non-string keys, no failing impls).
    serde_json::to_value(v).expect("a connection attribute serializes")
}

impl ConnectionRecord {
    /// The proof of tenant administration recorded with the consent, if any.
    pub fn proof(&self) -> Option<&AdminProof> {
        self.consent.as_ref()?.proof.as_ref()
    }

    /// A change of this connection as read: written only if nobody changed it meanwhile (its
    /// `version` is still the one read), adding one to the version.
    fn change(&self, update: Update) -> TxItem {
        TxItem::Update {
            key: self.key(),
            update: update.add("version", 1),
            cond: Some(Cond::eq("version", self.version)),
        }
    }

    /// A new lifecycle (consent started).
    pub fn set_lifecycle(&self, lifecycle: ConnectionLifecycle) -> TxItem {
        self.change(Update::new().set("lifecycle", lifecycle.as_str()))
    }

    /// Disabled by an operator at `at_ms`.
    pub fn disable(&self, at_ms: i64) -> TxItem {
        self.change(
            Update::new()
                .set("lifecycle", ConnectionLifecycle::Disabled.as_str())
                .set("disabled_ms", at_ms),
        )
    }

    /// Enabled again: consented when a proof of administration stands (verify again, the last
    /// verification no longer applies), else back to waiting for consent.
    pub fn enable(&self) -> TxItem {
        let lifecycle = if self.proof().is_some() {
            ConnectionLifecycle::Consented
        } else {
            ConnectionLifecycle::Created
        };
        self.change(
            Update::new()
                .set("lifecycle", lifecycle.as_str())
                .remove("disabled_ms")
                .remove("verification")
                .remove("run_failure"),
        )
    }

    /// An edited tenant or client id: consent, its proof and the verification no longer apply,
    /// so the connection waits for consent again (a disabled one stays disabled).
    pub fn edit(&self, tenant: &str, client_id: &str) -> TxItem {
        let mut update = Update::new()
            .set("tenant", tenant)
            .set("client_id", client_id)
            .remove("consent")
            .remove("verification")
            .remove("run_failure");
        if self.lifecycle != ConnectionLifecycle::Disabled {
            update = update.set("lifecycle", ConnectionLifecycle::Created.as_str());
        }
        self.change(update)
    }

    /// Removed with its sealed credential, if nobody changed it meanwhile.
    pub fn remove(&self) -> TxItem {
        TxItem::Delete {
            key: self.key(),
            cond: Some(Cond::eq("version", self.version)),
        }
    }

    /// A consent callback's result with the lifecycle it leads to; the last verification no
    /// longer applies.
    pub fn record_consent(&self, lifecycle: ConnectionLifecycle, consent: &ConnectionConsent) -> TxItem {
        self.change(
            Update::new()
                .set("lifecycle", lifecycle.as_str())
                .set("consent", value(consent))
                .remove("verification"),
        )
    }

    /// A replaced credential; the last verification no longer applies.
    pub fn replace_credential(&self, credential: &StoredCredential) -> TxItem {
        self.change(
            Update::new()
                .set("credential", value(credential))
                .remove("verification"),
        )
    }

    /// A verification's result.
    pub fn record_verification(&self, verification: &Verification) -> TxItem {
        self.change(Update::new().set("verification", value(verification)))
    }
}

/// Marks a run's sign-in failure on the connection at `key`, whatever its version (a run does
/// not hold the connection it read); nothing when there is no connection.
pub async fn mark_run_failure(table: &Table, key: &Key, failure: &RunFailure) -> Result<(), TableError> {
    let update = Update::new().set("run_failure", value(failure));
    table.update(key, &update, Some(Cond::Exists)).await.map(|_| ())
}

/// A tenant's claims partition: one item per workspace environment that proved administration,
/// and `OWNER` for the first. Tenant ids are compared lowercase.
pub fn claim_pk(tenant_id: &str) -> String {
    format!("TENANTCLAIM#{}", tenant_id.to_ascii_lowercase())
}

/// A claim's sort key: the environment's partition key.
pub fn claim_key(tenant_id: &str, ws: &str, env: &str) -> Key {
    Key::new(claim_pk(tenant_id), format!("WS#{ws}#ENV#{env}"))
}

pub fn owner_key(tenant_id: &str) -> Key {
    Key::new(claim_pk(tenant_id), "OWNER")
}

/// One workspace environment's proof that it administers a tenant (`TENANTCLAIM#…`, `WS#…#ENV#…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantClaimRecord {
    pub tenant_id: String,
    pub workspace_id: String,
    pub environment_id: String,
    pub proof_id: String,
    pub oid: String,
    pub upn: String,
    pub role: String,
    pub at_ms: i64,
}

impl Record for TenantClaimRecord {
    const ENTITY: &'static str = "tenant_claim";
    fn key(&self) -> Key {
        claim_key(&self.tenant_id, &self.workspace_id, &self.environment_id)
    }
}

/// The claims of other workspace environments on a tenant.
pub fn claims_of(tenant_id: &str) -> Query {
    Query::partition(claim_pk(tenant_id)).begins_with("WS#")
}

/// The first workspace environment that proved a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantOwnerRecord {
    pub tenant_id: String,
    pub workspace_id: String,
    pub environment_id: String,
    pub at_ms: i64,
}

impl Record for TenantOwnerRecord {
    const ENTITY: &'static str = "tenant_owner";
    fn key(&self) -> Key {
        owner_key(&self.tenant_id)
    }
}

/// A consent sign-in's state, kept until used (and a day after it expires, for DynamoDB's TTL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentStateRecord {
    /// The state's random part (its key).
    #[serde(skip)]
    pub n: String,
    pub workspace_id: String,
    pub environment_id: String,
    pub initiator: String,
    pub exp_ms: i64,
    pub used: bool,
    pub ttl: i64,
    /// Removed once the callback's result is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    pub nonce: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

pub fn consent_state_key(n: &str) -> Key {
    Key::new(format!("CONSENT#{n}"), "CONSENT")
}

impl Record for ConsentStateRecord {
    const ENTITY: &'static str = "consent_state";
    fn key(&self) -> Key {
        consent_state_key(&self.n)
    }
}

/// The consent states' HMAC key, sealed, shared by every function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub sealed: crate::secrets::Sealed,
}

impl Record for SigningKeyRecord {
    const ENTITY: &'static str = "signing_key";
    fn key(&self) -> Key {
        signing_key_key()
    }
}

pub fn signing_key_key() -> Key {
    Key::new("SYSTEM", "CONSENT_STATE_KEY")
}

/// A shared Graph budget's counter for one key and time slot (`GRAPHBUDGET#…`); written only by
/// conditional adds, expiring by TTL.
pub fn budget_key(key: &str, slot_index: i64) -> Key {
    Key::new(format!("GRAPHBUDGET#{key}"), format!("{slot_index:015}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn keys_are_those_stored_before() {
        let ws = WorkspaceId::parse("ws-a").unwrap();
        let env = EnvironmentId::parse("env-a").unwrap();
        assert_eq!(connection_key(&ws, &env), Key::new("WS#ws-a#ENV#env-a", "PROVIDER"));
        let t = "AbCd1111-1111-4111-8111-111111111111";
        assert_eq!(
            claim_key(t, "ws-a", "env-a"),
            Key::new("TENANTCLAIM#abcd1111-1111-4111-8111-111111111111", "WS#ws-a#ENV#env-a")
        );
        assert_eq!(owner_key(t).sk, "OWNER");
        assert_eq!(budget_key("t1", 42), Key::new("GRAPHBUDGET#t1", "000000000000042"));
    }

    fn obj(v: Value) -> atlas_store::Item {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn claims_and_owner_are_stored_as_before() {
        let t = "11111111-1111-4111-8111-111111111111";
        let claim = TenantClaimRecord {
            tenant_id: t.into(),
            workspace_id: "ws-a".into(),
            environment_id: "env-a".into(),
            proof_id: "p1".into(),
            oid: "o".into(),
            upn: "admin@a.test".into(),
            role: "Global Administrator".into(),
            at_ms: 4,
        };
        // routes/provider.rs `record_proof` before the records layer.
        let stored = json!({
            "PK": format!("TENANTCLAIM#{t}"), "SK": "WS#ws-a#ENV#env-a", "entity": "tenant_claim",
            "tenant_id": t, "workspace_id": "ws-a", "environment_id": "env-a",
            "proof_id": "p1", "oid": "o", "upn": "admin@a.test", "role": "Global Administrator", "at_ms": 4,
        });
        assert_eq!(Value::Object(claim.to_item()), stored);
        assert_eq!(TenantClaimRecord::from_item(obj(stored)).unwrap(), claim);
        let owner = TenantOwnerRecord {
            tenant_id: t.into(),
            workspace_id: "ws-a".into(),
            environment_id: "env-a".into(),
            at_ms: 4,
        };
        let stored = json!({
            "PK": format!("TENANTCLAIM#{t}"), "SK": "OWNER", "entity": "tenant_owner",
            "tenant_id": t, "workspace_id": "ws-a", "environment_id": "env-a", "at_ms": 4,
        });
        assert_eq!(Value::Object(owner.to_item()), stored);
        assert_eq!(TenantOwnerRecord::from_item(obj(stored)).unwrap(), owner);
    }

    #[test]
    fn a_consent_state_is_stored_as_before() {
        let st = ConsentStateRecord {
            n: "abc".into(),
            workspace_id: "ws-a".into(),
            environment_id: "env-a".into(),
            initiator: "u-1".into(),
            exp_ms: 10_000,
            used: false,
            ttl: 10 + 86_400,
            verifier: Some("v".into()),
            nonce: "nn".into(),
            fingerprint: None,
            used_ms: None,
            result: None,
        };
        // consent.rs `issue` before the records layer.
        let stored = json!({
            "PK": "CONSENT#abc", "SK": "CONSENT", "entity": "consent_state",
            "workspace_id": "ws-a", "environment_id": "env-a", "initiator": "u-1", "exp_ms": 10_000,
            "used": false, "ttl": 10 + 86_400, "verifier": "v", "nonce": "nn",
        });
        assert_eq!(Value::Object(st.to_item()), stored);
        let mut back = ConsentStateRecord::from_item(obj(stored)).unwrap();
        back.n = "abc".into();
        assert_eq!(back, st);
        // After the callback: used, its fingerprint and result, the verifier gone.
        let mut used = st.to_item();
        used.remove("verifier");
        used.insert("used".into(), json!(true));
        used.insert("fingerprint".into(), json!("code|x"));
        used.insert("used_ms".into(), json!(11));
        used.insert("result".into(), json!("granted"));
        let used = ConsentStateRecord::from_item(used).unwrap();
        assert_eq!((used.verifier, used.result.as_deref()), (None, Some("granted")));
    }

    fn sealed() -> Value {
        json!({"v": 1, "kid": "local", "wrapped_key": "d2s", "nonce": "bm9uY2U", "ciphertext": "Y3Q"})
    }

    /// A dedicated connection as `routes/provider.rs` `create` wrote it before the records layer,
    /// then consented with a proof (`record_proof`), verified (`provider::verify`), marked by a
    /// run (`record_run_failure`) and disabled.
    fn stored_connection() -> Value {
        let t = "11111111-1111-4111-8111-111111111111";
        json!({
            "PK": "WS#ws-a#ENV#env-a", "SK": "PROVIDER", "entity": "provider_connection",
            "workspace_id": "ws-a", "environment_id": "env-a", "tenant": "contoso.test", "tenant_id": t,
            "app_mode": "dedicated", "client_id": "22222222-2222-4222-8222-222222222222",
            "lifecycle": "disabled", "created_ms": 1, "version": 5,
            "credential": {"kind": "secret", "version": 2, "set_ms": 3, "sealed": sealed()},
            "consent": {"outcome": "granted", "at_ms": 4, "proof": {
                "id": "p1", "oid": "o", "upn": "admin@contoso.test", "role": "Global Administrator",
                "role_source": "wids", "tenant_id": t, "at_ms": 4, "initiator": "u-1"}},
            "verification": {"at_ms": 5, "token_ok": true, "error": null,
                "permissions": [{"permission": "DeviceManagementConfiguration.Read.All", "granted": true, "blocks": ["Device configurations"]}],
                "probes": [{"family": "deviceConfigurations", "ok": false, "error": "HTTP 500"}]},
            "run_failure": {"kind": "credential_expired", "reason": "AADSTS7000222", "at_ms": 6},
            "disabled_ms": 7,
        })
    }

    #[test]
    fn a_connection_is_stored_as_before() {
        let c = ConnectionRecord::from_item(obj(stored_connection())).unwrap();
        assert_eq!(c.app_mode, AppMode::Dedicated);
        assert_eq!(c.lifecycle, ConnectionLifecycle::Disabled);
        assert_eq!(
            c.credential.as_ref().map(|x| (x.version, x.sealed.kid.as_str())),
            Some((2, "local"))
        );
        assert_eq!(c.proof().map(|p| p.id.as_str()), Some("p1"));
        assert_eq!(
            c.run_failure.as_ref().map(|f| f.kind),
            Some(RunFailureKind::CredentialExpired)
        );
        assert_eq!(c.key(), Key::new("WS#ws-a#ENV#env-a", "PROVIDER"));
        assert_eq!(Value::Object(c.to_item()), stored_connection());

        // Just created through the platform app: nothing optional is written.
        let created = json!({
            "PK": "WS#ws-a#ENV#env-a", "SK": "PROVIDER", "entity": "provider_connection",
            "workspace_id": "ws-a", "environment_id": "env-a", "tenant": "contoso.test",
            "tenant_id": "11111111-1111-4111-8111-111111111111", "app_mode": "platform", "client_id": "c",
            "lifecycle": "created", "created_ms": 1, "version": 1,
        });
        let c = ConnectionRecord::from_item(obj(created.clone())).unwrap();
        assert_eq!(Value::Object(c.to_item()), created);
        // Attributes this code does not know are ignored when reading.
        let mut later = obj(created);
        later.insert("something_new".into(), json!({"a": 1}));
        assert_eq!(ConnectionRecord::from_item(later).unwrap(), c);
    }

    #[test]
    fn a_refused_consent_reads_with_or_without_its_null_description() {
        // `consent_error` stored Entra's missing description as null; absent reads the same.
        let mut item = obj(stored_connection());
        item.insert("lifecycle".into(), json!("consent_failed"));
        item.insert(
            "consent".into(),
            json!({"outcome": "declined", "at_ms": 4, "error": "access_denied", "error_description": null}),
        );
        let c = ConnectionRecord::from_item(item).unwrap();
        let consent = c.consent.clone().unwrap();
        assert_eq!(consent.outcome, ConsentOutcome::Declined);
        assert_eq!(
            (consent.error.as_deref(), consent.error_description),
            (Some("access_denied"), None)
        );
        assert!(c.proof().is_none());
        assert_eq!(
            c.to_item()["consent"],
            json!({"outcome": "declined", "at_ms": 4, "error": "access_denied"})
        );
    }

    #[test]
    fn a_wrong_lifecycle_or_app_mode_is_corrupt() {
        for (attr, bad) in [("lifecycle", "connected"), ("app_mode", "shared")] {
            let mut item = obj(stored_connection());
            item.insert(attr.into(), json!(bad));
            assert!(
                matches!(ConnectionRecord::from_item(item), Err(TableError::Corrupt(_))),
                "{attr}"
            );
        }
    }

    fn change(tx: TxItem) -> (Key, Vec<atlas_store::UpdateOp>, Option<Cond>) {
        match tx {
            TxItem::Update { key, update, cond } => (key, update.ops, cond),
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn changes_are_conditioned_on_the_version_read_and_add_one() {
        let c = ConnectionRecord::from_item(obj(stored_connection())).unwrap();
        let consent = c.consent.clone().unwrap();
        let (key, ops, cond) = change(c.record_consent(ConnectionLifecycle::Consented, &consent));
        assert_eq!(key, c.key());
        assert_eq!(cond, Some(Cond::eq("version", 5)));
        let expected = Update::new()
            .set("lifecycle", "consented")
            .set("consent", stored_connection()["consent"].clone())
            .remove("verification")
            .add("version", 1);
        assert_eq!(ops, expected.ops);
        let (_, ops, _) = change(c.disable(9));
        assert_eq!(
            ops,
            Update::new()
                .set("lifecycle", "disabled")
                .set("disabled_ms", 9)
                .add("version", 1)
                .ops
        );
        let (_, ops, _) = change(c.set_lifecycle(ConnectionLifecycle::ConsentPending));
        assert_eq!(
            ops,
            Update::new().set("lifecycle", "consent_pending").add("version", 1).ops
        );
        let cred = c.credential.clone().unwrap();
        let (_, ops, _) = change(c.replace_credential(&cred));
        assert_eq!(
            ops,
            Update::new()
                .set("credential", stored_connection()["credential"].clone())
                .remove("verification")
                .add("version", 1)
                .ops
        );
        let v = c.verification.clone().unwrap();
        let (_, ops, cond) = change(c.record_verification(&v));
        assert_eq!(
            ops,
            Update::new()
                .set("verification", stored_connection()["verification"].clone())
                .add("version", 1)
                .ops
        );
        assert_eq!(cond, Some(Cond::eq("version", 5)));
    }
}
