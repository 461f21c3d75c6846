//! Provider connections: how an environment's Microsoft Graph is reached. One per environment,
//! in its partition. The stored credential is sealed (see `secrets`) and never leaves the
//! server; the status shown is in the canonical vocabulary, computed from lifecycle, consent
//! and the last verification with its freshness.

use atlas_api_types as api;
use atlas_domain::{AdminRole, ConnectionLifecycle, ConsentOutcome, Status};
use atlas_store::{Cond, Item, Key, TxItem, Update};
use serde_json::{Value, json};

use crate::audit::{self, NewEvent, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::scope::EnvScope;
use crate::state::AppState;
use crate::tenancy::{n, s};

/// A verification older than this makes a Ready connection Needs attention.
pub const FRESH_MS: i64 = 24 * 3_600_000;

pub fn key(scope: &EnvScope) -> Key {
    Key::new(scope.pk(), "PROVIDER")
}

pub fn credential_context(scope: &EnvScope) -> String {
    format!(
        "provider-credential/{}/{}",
        scope.workspace().workspace_id(),
        scope.environment_id()
    )
}

fn opt(i: &Item, k: &str) -> Option<String> {
    i.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// The canonical status and its reason.
pub fn status(conn: Option<&Item>, now_ms: i64) -> (Status, String) {
    let Some(c) = conn else {
        return (
            Status::NotConfigured,
            "No provider connection yet: create one, then grant admin consent.".into(),
        );
    };
    let consent_error = || {
        c.get("consent")
            .and_then(|x| x.get("error_description").or(x.get("error")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match s(c, "lifecycle").as_str() {
        "disabled" => return (Status::Blocked, "Disabled by an operator; Graph is not called.".into()),
        "created" | "consent_pending" => {
            return (
                Status::NotConfigured,
                "Waiting for a tenant administrator to grant admin consent.".into(),
            );
        }
        "consent_failed" => {
            let e = consent_error();
            let why = if e.is_empty() {
                "Admin consent was declined.".to_owned()
            } else {
                format!("Admin consent failed: {e}")
            };
            return (Status::NeedsAttention, why);
        }
        _ => {}
    }
    if proof(c).is_none() {
        // Consent recorded before ownership had to be proven (or never proven): the grant alone
        // does not make the tenant this workspace's.
        return (
            Status::NeedsAttention,
            "A tenant administrator must sign in again to prove this tenant is yours to manage.".into(),
        );
    }
    if let Some(st) = run_failure_status(c) {
        return st;
    }
    let Some(v) = c.get("verification").and_then(Value::as_object) else {
        return (Status::Unknown, "Consent granted; not verified yet.".into());
    };
    let at = v.get("at_ms").and_then(Value::as_i64).unwrap_or(0);
    if !v.get("token_ok").and_then(Value::as_bool).unwrap_or(false) {
        let err = v.get("error").and_then(Value::as_str).unwrap_or("no token");
        let expired = err.contains("expired") || err.contains("AADSTS7000222");
        return if expired {
            (Status::Expired, format!("The credential has expired: {err}"))
        } else {
            (Status::Blocked, format!("Could not sign in to the tenant: {err}"))
        };
    }
    let missing: Vec<String> = v
        .get("permissions")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter(|p| p.get("granted") == Some(&Value::Bool(false)))
                .filter_map(|p| p.get("permission").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !missing.is_empty() {
        return (
            Status::NeedsAttention,
            format!("Missing permissions: {}.", missing.join(", ")),
        );
    }
    let failed: Vec<String> = v
        .get("probes")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter(|p| p.get("ok") == Some(&Value::Bool(false)))
                .filter_map(|p| p.get("family").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !failed.is_empty() {
        return (
            Status::NeedsAttention,
            format!("Reads failed for: {}.", failed.join(", ")),
        );
    }
    if now_ms - at > FRESH_MS {
        return (
            Status::NeedsAttention,
            "Last verified more than 24 hours ago; verify again.".into(),
        );
    }
    (
        Status::Ready,
        "Verified: every required permission is granted and every family answered.".into(),
    )
}

pub fn to_api(conn: Option<&Item>, now_ms: i64) -> api::ProviderConnection {
    let (st, reason) = status(conn, now_ms);
    let Some(c) = conn else {
        return api::ProviderConnection {
            configured: false,
            status: st,
            status_reason: reason,
            tenant: None,
            tenant_id: None,
            app_mode: None,
            client_id: None,
            lifecycle: None,
            consent: None,
            credential: None,
            verification: None,
        };
    };
    api::ProviderConnection {
        configured: true,
        status: st,
        status_reason: reason,
        tenant: opt(c, "tenant"),
        tenant_id: opt(c, "tenant_id"),
        app_mode: opt(c, "app_mode"),
        client_id: opt(c, "client_id"),
        lifecycle: opt(c, "lifecycle").and_then(|l| ConnectionLifecycle::parse(&l)),
        consent: c.get("consent").and_then(Value::as_object).map(|x| api::ConsentResult {
            // Only `granted` is ever stored without an error; anything else is an error.
            outcome: x
                .get("outcome")
                .and_then(Value::as_str)
                .and_then(ConsentOutcome::parse)
                .unwrap_or(ConsentOutcome::Error),
            at_ms: x.get("at_ms").and_then(Value::as_i64).unwrap_or_default(),
            error: x.get("error").and_then(Value::as_str).map(str::to_owned),
            error_description: x.get("error_description").and_then(Value::as_str).map(str::to_owned),
            proven_by: x.get("proof").and_then(Value::as_object).map(|p| {
                let g = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                api::ConsentProof {
                    oid: g("oid"),
                    upn: g("upn"),
                    // Proofs are minted only for these roles; an unknown one reads as the broadest.
                    role: AdminRole::parse(&g("role")).unwrap_or(AdminRole::GlobalAdministrator),
                    at_ms: p.get("at_ms").and_then(Value::as_i64).unwrap_or_default(),
                }
            }),
        }),
        // Only the metadata: the sealed bytes stay in the table.
        credential: c
            .get("credential")
            .and_then(Value::as_object)
            .map(|x| api::CredentialInfo {
                kind: x.get("kind").and_then(Value::as_str).unwrap_or_default().into(),
                version: x.get("version").and_then(Value::as_u64).unwrap_or_default() as u32,
                set_ms: x.get("set_ms").and_then(Value::as_i64).unwrap_or_default(),
            }),
        verification: c
            .get("verification")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok()),
    }
}

/// The proof of tenant administration recorded with the consent, if any.
pub fn proof(c: &Item) -> Option<&serde_json::Map<String, Value>> {
    c.get("consent")?.get("proof")?.as_object()
}

/// The ownership record of one proven connection: `TENANTCLAIM#{tenant}` holds one per
/// workspace environment that proved it, and `OWNER` for the first.
pub fn claim_key(tenant_id: &str, ws: &str, env: &str) -> Key {
    Key::new(claim_pk(tenant_id), format!("WS#{ws}#ENV#{env}"))
}

pub fn claim_pk(tenant_id: &str) -> String {
    format!("TENANTCLAIM#{}", tenant_id.to_ascii_lowercase())
}

pub fn owner_key(tenant_id: &str) -> Key {
    Key::new(claim_pk(tenant_id), "OWNER")
}

/// The stored record's version, for optimistic writes.
pub fn version(c: &Item) -> i64 {
    n(c, "version")
}

/// What a verification found, stored on the connection and shown as its permission posture.
pub struct Found {
    pub verification: api::Verification,
    /// The token's tenant, when a token was had.
    pub tenant_id: Option<String>,
}

/// Signs in to the tenant with the connection's app, compares the granted roles with what every
/// family needs (graph-brief §5), and reads one object of each family it may read.
pub async fn verify_with(
    graph: &atlas_graph::GraphClient,
    tenant: &str,
    app: atlas_graph::AppIdentity,
    now_ms: i64,
) -> Found {
    use atlas_graph::families::FAMILIES;
    let client = graph.tenant(tenant, app);
    let token = match client.token().await {
        Ok(t) => t,
        Err(e) => {
            return Found {
                verification: api::Verification {
                    at_ms: now_ms,
                    token_ok: false,
                    error: Some(e.to_string()),
                    permissions: Vec::new(),
                    probes: Vec::new(),
                },
                tenant_id: None,
            };
        }
    };
    let mut areas: Vec<atlas_graph::families::PermissionArea> = Vec::new();
    for f in FAMILIES {
        if !areas.contains(&f.permission) {
            areas.push(f.permission);
        }
    }
    let permissions = areas
        .iter()
        .map(|a| api::PermissionPosture {
            permission: a.read().to_owned(),
            granted: a.can_read(&token.roles),
            blocks: FAMILIES
                .iter()
                .filter(|f| f.permission == *a)
                .map(|f| f.label.to_owned())
                .collect(),
        })
        .collect();
    let mut probes = Vec::new();
    // A cached token can outlive a revoked consent: a sign-in refusal on the reads means Blocked.
    let mut auth_error = None;
    for f in FAMILIES.iter().filter(|f| f.permission.can_read(&token.roles)) {
        let path = format!("{}?$top=1", f.list_path());
        let r = client.get(&path).await;
        if let Err(e) = &r {
            let text = e.to_string();
            let signed_out = matches!(e, atlas_graph::GraphError::Auth(_))
                || e.status() == Some(401)
                || text.contains("invalid_client");
            if signed_out {
                auth_error.get_or_insert(text);
            }
        }
        probes.push(api::FamilyProbe {
            family: f.code.to_owned(),
            ok: r.is_ok(),
            error: r.err().map(|e| e.to_string()),
        });
    }
    let token_ok = auth_error.is_none();
    Found {
        verification: api::Verification {
            at_ms: now_ms,
            token_ok,
            error: auth_error,
            permissions,
            probes,
        },
        tenant_id: token.tenant_id.clone(),
    }
}

/// A run's sign-in failure newer than the last verification: the connection cannot be used until
/// consent is granted again or the credential replaced, and a verification shows it works again.
fn run_failure_status(c: &Item) -> Option<(Status, String)> {
    let f = c.get("run_failure")?;
    let verified_at = c
        .get("verification")
        .and_then(|v| v.get("at_ms"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if f.get("at_ms").and_then(Value::as_i64).unwrap_or(0) <= verified_at {
        return None;
    }
    let why = f.get("reason").and_then(Value::as_str).unwrap_or_default();
    Some(match f.get("kind").and_then(Value::as_str).unwrap_or_default() {
        "consent_revoked" => (
            Status::Blocked,
            format!("A run found admin consent revoked in the tenant: {why}. Grant admin consent again, then verify."),
        ),
        "credential_expired" => (
            Status::Expired,
            format!("A run found the credential expired: {why}. Replace it, then verify."),
        ),
        _ => (
            Status::Blocked,
            format!("A run could not sign in with the credential: {why}. Replace it, then verify."),
        ),
    })
}

/// What a Graph error says about the connection itself: consent revoked (AADSTS7000229 the service
/// principal is gone, AADSTS65001 no consent, a token Graph still refuses with 401), the credential
/// expired (AADSTS7000222) or invalid (AADSTS7000215 wrong secret, any other `invalid_client`).
/// `None` for errors about one request (throttling, 5xx, a missing permission, a bad request).
pub fn auth_failure(e: &atlas_graph::GraphError) -> Option<&'static str> {
    use atlas_graph::GraphError;
    match e {
        GraphError::Auth(a) => {
            let has = |code: i64| a.error_codes.contains(&code);
            if has(7000229) || has(65001) || has(700016) || a.code == "unauthorized_client" {
                Some("consent_revoked")
            } else if has(7000222) {
                Some("credential_expired")
            } else if has(7000215) || a.code == "invalid_client" {
                Some("invalid_credentials")
            } else {
                None
            }
        }
        GraphError::Http(r) if r.status == 401 => Some("consent_revoked"),
        GraphError::Incomplete { source: Some(s), .. } => auth_failure(s),
        _ => None,
    }
}

/// Records on the connection that a run could not sign in (see [`auth_failure`]), so its status and
/// restore readiness say so; the next successful verification supersedes it. Other errors: nothing.
pub async fn record_run_failure(state: &crate::state::AppState, scope: &EnvScope, e: &atlas_graph::GraphError) {
    let Some(kind) = auth_failure(e) else {
        return;
    };
    let failure = serde_json::json!({"kind": kind, "reason": e.to_string(), "at_ms": state.clock.now_millis()});
    let update = atlas_store::Update::new().set("run_failure", failure);
    match state
        .table
        .update(&key(scope), &update, Some(atlas_store::Cond::Exists))
        .await
    {
        Ok(_) => tracing::warn!(kind, error = %e, "a run could not sign in; the provider connection is marked"),
        Err(err) => tracing::warn!(kind, error = %err, "could not mark the provider connection"),
    }
}

/// The environment's connection, if one was created.
pub async fn load(state: &AppState, scope: &EnvScope) -> ApiResult<Option<Item>> {
    Ok(state.table.get(&key(scope)).await?)
}

/// The app identity a connection signs in with; the dedicated secret is opened only here.
pub async fn app_identity(state: &AppState, scope: &EnvScope, conn: &Item) -> ApiResult<atlas_graph::AppIdentity> {
    app_identity_in(state, &credential_context(scope), conn).await
}

/// [`app_identity`] where the scope is only known from a signed consent state.
pub async fn app_identity_in(state: &AppState, context: &str, conn: &Item) -> ApiResult<atlas_graph::AppIdentity> {
    match s(conn, "app_mode").as_str() {
        "dedicated" => {
            let sealed: crate::secrets::Sealed = conn
                .get("credential")
                .and_then(|c| c.get("sealed"))
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| ApiError::Conflict("the connection has no credential".into()))?;
            let secret = state.secrets.open(context, &sealed).await.map_err(ApiError::internal)?;
            Ok(atlas_graph::AppIdentity::with_secret(
                s(conn, "client_id"),
                secret.expose_str().map_err(ApiError::internal)?,
            ))
        }
        _ => {
            let (id, secret) = state
                .provider
                .platform_app
                .clone()
                .ok_or_else(|| ApiError::Conflict("this installation has no platform app registration".into()))?;
            Ok(atlas_graph::AppIdentity::with_secret(id, secret))
        }
    }
}

/// The connection, when it can be verified: created, consented, not disabled, and proven to be
/// this workspace's tenant. Else a conflict saying what is missing.
pub async fn verifiable(state: &AppState, scope: &EnvScope) -> ApiResult<Item> {
    let conn = load(state, scope)
        .await?
        .ok_or_else(|| ApiError::Conflict("create the provider connection first".into()))?;
    match s(&conn, "lifecycle").as_str() {
        "disabled" => return Err(ApiError::Conflict("the connection is disabled".into())),
        "consented" => {}
        _ => return Err(ApiError::Conflict("admin consent has not been granted yet".into())),
    }
    require_proof(state, scope, &conn).await?;
    Ok(conn)
}

/// Verifies the connection now and records the permission posture (the `provider.verify` step,
/// and the demo seed).
pub async fn verify(state: &AppState, scope: &EnvScope) -> ApiResult<()> {
    let conn = verifiable(state, scope).await?;
    let app = app_identity(state, scope, &conn).await?;
    let tenant = s(&conn, "tenant_id");
    let mut found = verify_with(&state.graph, &tenant, app, state.clock.now_millis()).await;
    if let Some(tid) = &found.tenant_id
        && !tid.eq_ignore_ascii_case(&tenant)
    {
        found.verification.token_ok = false;
        found.verification.error = Some(format!("the token is for tenant {tid}, not this environment's"));
    }
    let v = serde_json::to_value(&found.verification).map_err(ApiError::internal)?;
    let mut with = conn.clone();
    with.insert("verification".into(), v.clone());
    let (st, reason) = status(Some(&with), state.clock.now_millis());
    let update = Update::new().set("verification", v).add("version", 1);
    let changes = vec![TxItem::Update {
        key: key(scope),
        update,
        cond: Some(Cond::eq("version", version(&conn))),
    }];
    let ev = NewEvent {
        action: "provider.verify".into(),
        target: "provider-connection".into(),
        environment_id: Some(scope.environment_id().clone()),
        outcome: if st == atlas_domain::Status::Ready {
            Outcome::Success
        } else {
            Outcome::Failed
        },
        reason: (st != atlas_domain::Status::Ready).then(|| reason.clone()),
        metadata: json!({"status": st.as_str()}),
    };
    audit::commit(state, scope.workspace(), changes, ev)
        .await
        .map_err(|e| match audit::failed_at(&e) {
            Some(0) => ApiError::Conflict("the connection changed meanwhile; verify again".into()),
            _ => e.into(),
        })
}

/// A connection is verified only with a recorded proof of tenant administration whose claim
/// record still stands: consent recorded without one (before proofs were required) needs a new
/// sign-in.
async fn require_proof(state: &AppState, scope: &EnvScope, conn: &Item) -> ApiResult<()> {
    let unproven = || {
        ApiError::Conflict(
            "ownership of the tenant has not been proven: a tenant administrator must sign in again".into(),
        )
    };
    let id = proof(conn)
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(unproven)?;
    let claim = state
        .table
        .get(&claim_key(
            &s(conn, "tenant_id"),
            scope.workspace().workspace_id().as_str(),
            scope.environment_id().as_str(),
        ))
        .await?
        .ok_or_else(unproven)?;
    if s(&claim, "proof_id") != id {
        return Err(unproven());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conn(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    fn verified(at_ms: i64, granted: bool, probe_ok: bool, token_ok: bool) -> Item {
        conn(
            json!({"lifecycle": "consented", "consent": {"proof": {"oid": "o"}}, "verification": {
                "at_ms": at_ms, "token_ok": token_ok, "error": if token_ok { Value::Null } else { json!("invalid_client") },
                "permissions": [{"permission": "DeviceManagementConfiguration.Read.All", "granted": granted, "blocks": []}],
                "probes": [{"family": "deviceConfigurations", "ok": probe_ok, "error": null}],
            }}),
        )
    }

    #[test]
    fn status_follows_lifecycle_consent_posture_and_freshness() {
        let now = 10 * FRESH_MS;
        assert_eq!(status(None, now).0, Status::NotConfigured);
        assert_eq!(
            status(Some(&conn(json!({"lifecycle": "consent_pending"}))), now).0,
            Status::NotConfigured
        );
        let declined = conn(json!({"lifecycle": "consent_failed", "consent": {"error_description": "AADSTS65004"}}));
        let (st, why) = status(Some(&declined), now);
        assert_eq!(st, Status::NeedsAttention);
        assert!(why.contains("AADSTS65004"));
        assert_eq!(
            status(Some(&conn(json!({"lifecycle": "consented"}))), now).0,
            Status::NeedsAttention,
            "consent without a proof of administration"
        );
        assert_eq!(
            status(
                Some(&conn(
                    json!({"lifecycle": "consented", "consent": {"proof": {"oid": "o"}}})
                )),
                now
            )
            .0,
            Status::Unknown
        );
        let mut unproven = verified(now - 1_000, true, true, true);
        unproven.insert("consent".into(), json!({"outcome": "granted"}));
        assert_eq!(
            status(Some(&unproven), now).0,
            Status::NeedsAttention,
            "a connection verified before proofs were required is not Ready"
        );
        assert_eq!(
            status(Some(&conn(json!({"lifecycle": "disabled"}))), now).0,
            Status::Blocked
        );
        assert_eq!(
            status(Some(&verified(now - 1_000, true, true, true)), now).0,
            Status::Ready
        );
        assert_eq!(
            status(Some(&verified(now - FRESH_MS - 1, true, true, true)), now).0,
            Status::NeedsAttention,
            "stale after 24 h"
        );
        assert_eq!(
            status(Some(&verified(now, false, true, true)), now).0,
            Status::NeedsAttention,
            "missing permission"
        );
        assert_eq!(
            status(Some(&verified(now, true, false, true)), now).0,
            Status::NeedsAttention,
            "a family unreadable"
        );
        assert_eq!(
            status(Some(&verified(now, true, true, false)), now).0,
            Status::Blocked,
            "sign-in refused"
        );
        let expired = conn(
            json!({"lifecycle": "consented", "consent": {"proof": {"oid": "o"}}, "verification": {"at_ms": now, "token_ok": false, "error": "AADSTS7000222: the client secret expired"}}),
        );
        assert_eq!(status(Some(&expired), now).0, Status::Expired);
    }
}
