//! Provider connections: how an environment's Microsoft Graph is reached. One per environment,
//! in its partition. The stored credential is sealed (see `secrets`) and never leaves the
//! server; the status shown is in the canonical vocabulary, computed from lifecycle, consent
//! and the last verification with its freshness.

use atlas_api_types as api;
use atlas_domain::{AdminRole, ConnectionLifecycle, Status};
use atlas_store::Key;
use serde_json::json;

use crate::audit::{self, NewEvent, Outcome};
use crate::error::{ServiceError, ServiceResult};
use crate::records;
use crate::records::provider::{AppMode, ConnectionRecord, RunFailure, RunFailureKind, TenantClaimRecord};
use crate::scope::EnvScope;
use crate::state::AppState;

/// A verification older than this makes a Ready connection Needs attention.
pub const FRESH_MS: i64 = 24 * 3_600_000;

pub fn key(scope: &EnvScope) -> Key {
    crate::records::provider::connection_key(scope.workspace().workspace_id(), scope.environment_id())
}

pub fn credential_context(scope: &EnvScope) -> String {
    format!(
        "provider-credential/{}/{}",
        scope.workspace().workspace_id(),
        scope.environment_id()
    )
}

/// The canonical status and its reason.
pub fn status(connection: Option<&ConnectionRecord>, now_ms: i64) -> (Status, String) {
    let Some(c) = connection else {
        return (
            Status::NotConfigured,
            "No provider connection yet: create one, then grant admin consent.".into(),
        );
    };
    match c.lifecycle {
        ConnectionLifecycle::Disabled => {
            return (Status::Blocked, "Disabled by an operator; Graph is not called.".into());
        }
        ConnectionLifecycle::Created | ConnectionLifecycle::ConsentPending => {
            return (
                Status::NotConfigured,
                "Waiting for a tenant administrator to grant admin consent.".into(),
            );
        }
        ConnectionLifecycle::ConsentFailed => {
            // A refused consent always stores Entra's description, null when it sent none.
            let e = c
                .consent
                .as_ref()
                .and_then(|x| x.error_description.as_deref())
                .unwrap_or("");
            let why = if e.is_empty() {
                "Admin consent was declined.".to_owned()
            } else {
                format!("Admin consent failed: {e}")
            };
            return (Status::NeedsAttention, why);
        }
        ConnectionLifecycle::Consented => {}
    }
    if c.proof().is_none() {
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
    let Some(v) = &c.verification else {
        return (Status::Unknown, "Consent granted; not verified yet.".into());
    };
    if !v.token_ok {
        let err = v.error.as_deref().unwrap_or("no token");
        let expired = err.contains("expired") || err.contains("AADSTS7000222");
        return if expired {
            (Status::Expired, format!("The credential has expired: {err}"))
        } else {
            (Status::Blocked, format!("Could not sign in to the tenant: {err}"))
        };
    }
    let missing = missing_permissions(&v.permissions);
    if !missing.is_empty() {
        return (
            Status::NeedsAttention,
            format!("Missing permissions: {}.", missing.join(", ")),
        );
    }
    let failed: Vec<&str> = v.probes.iter().filter(|p| !p.ok).map(|p| p.family.as_str()).collect();
    if !failed.is_empty() {
        return (
            Status::NeedsAttention,
            format!("Reads failed for: {}.", failed.join(", ")),
        );
    }
    if now_ms - v.at_ms > FRESH_MS {
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

pub fn to_api(connection: Option<&ConnectionRecord>, now_ms: i64) -> api::ProviderConnection {
    let (st, reason) = status(connection, now_ms);
    let Some(c) = connection else {
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
            requested_permissions: requested_permissions(),
        };
    };
    api::ProviderConnection {
        configured: true,
        status: st,
        status_reason: reason,
        tenant: Some(c.tenant.clone()),
        tenant_id: Some(c.tenant_id.clone()),
        app_mode: Some(c.app_mode.as_str().to_owned()),
        client_id: Some(c.client_id.clone()),
        lifecycle: Some(c.lifecycle),
        consent: c.consent.as_ref().map(|x| api::ConsentResult {
            outcome: x.outcome,
            at_ms: x.at_ms,
            error: x.error.clone(),
            error_description: x.error_description.clone(),
            proven_by: x.proof.as_ref().map(|p| api::ConsentProof {
                oid: p.oid.clone(),
                upn: p.upn.clone(),
                // Proofs are minted only for these roles; an unknown one reads as the broadest.
                role: AdminRole::parse(&p.role).unwrap_or(AdminRole::GlobalAdministrator),
                at_ms: p.at_ms,
            }),
        }),
        // Only the metadata: the sealed bytes stay in the table.
        credential: c.credential.as_ref().map(|x| api::CredentialInfo {
            kind: x.kind.clone(),
            version: x.version,
            set_ms: x.set_ms,
        }),
        verification: c.verification.clone(),
        requested_permissions: requested_permissions(),
    }
}

/// What consent asks the tenant for (`.default`: the app's statically configured permissions,
/// graph-brief §5), each with why: the read-write role of every family's permission area (reads
/// for inventory, backups and drift; writes for restores and promotions) and Group.Read.All.
pub fn requested_permissions() -> Vec<api::RequestedPermission> {
    use atlas_graph::families::FAMILIES;
    let mut areas = Vec::new();
    for f in FAMILIES {
        if !areas.contains(&f.permission) {
            areas.push(f.permission);
        }
    }
    let mut out: Vec<api::RequestedPermission> = areas
        .iter()
        .map(|a| {
            let families: Vec<&str> = FAMILIES
                .iter()
                .filter(|f| f.permission == *a)
                .map(|f| f.label)
                .collect();
            api::RequestedPermission {
                permission: a.write().to_owned(),
                read_write: true,
                why: format!(
                    "Reads {} for inventory, backups and drift detection; writes them back only when a member restores or promotes them.",
                    families.join(", ")
                ),
            }
        })
        .collect();
    out.push(api::RequestedPermission {
        permission: "Group.Read.All".to_owned(),
        read_write: false,
        why: "Shows the groups policies are assigned to by name, and maps them between tenants when a restore or promotion carries assignments.".to_owned(),
    });
    out
}

pub use crate::records::provider::{claim_key, claim_pk, owner_key};

/// The permissions a verification found not granted.
pub fn missing_permissions(permissions: &[api::PermissionPosture]) -> Vec<&str> {
    permissions
        .iter()
        .filter(|p| !p.granted)
        .map(|p| p.permission.as_str())
        .collect()
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
    // Not the cached token: a verification reports the roles the tenant grants now.
    let token = match client.fresh_token().await {
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
fn run_failure_status(c: &ConnectionRecord) -> Option<(Status, String)> {
    let f = c.run_failure.as_ref()?;
    let verified_at = c.verification.as_ref().map_or(0, |v| v.at_ms);
    if f.at_ms <= verified_at {
        return None;
    }
    let why = &f.reason;
    Some(match f.kind {
        RunFailureKind::ConsentRevoked => (
            Status::Blocked,
            format!("A run found admin consent revoked in the tenant: {why}. Grant admin consent again, then verify."),
        ),
        RunFailureKind::CredentialExpired => (
            Status::Expired,
            format!("A run found the credential expired: {why}. Replace it, then verify."),
        ),
        RunFailureKind::InvalidCredentials => (
            Status::Blocked,
            format!("A run could not sign in with the credential: {why}. Replace it, then verify."),
        ),
    })
}

/// What a Graph error says about the connection itself: consent revoked (AADSTS7000229 the service
/// principal is gone, AADSTS65001 no consent, a token Graph still refuses with 401), the credential
/// expired (AADSTS7000222) or invalid (AADSTS7000215 wrong secret, any other `invalid_client`).
/// `None` for errors about one request (throttling, 5xx, a missing permission, a bad request).
pub fn auth_failure(e: &atlas_graph::GraphError) -> Option<RunFailureKind> {
    use atlas_graph::GraphError;
    match e {
        GraphError::Auth(a) => {
            let has = |code: i64| a.error_codes.contains(&code);
            if has(7000229) || has(65001) || has(700016) || a.code == "unauthorized_client" {
                Some(RunFailureKind::ConsentRevoked)
            } else if has(7000222) {
                Some(RunFailureKind::CredentialExpired)
            } else if has(7000215) || a.code == "invalid_client" {
                Some(RunFailureKind::InvalidCredentials)
            } else {
                None
            }
        }
        GraphError::Http(r) if r.status == 401 => Some(RunFailureKind::ConsentRevoked),
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
    let failure = RunFailure {
        kind,
        reason: e.to_string(),
        at_ms: state.clock.now_millis(),
    };
    let kind = kind.as_str();
    match records::provider::mark_run_failure(&state.table, &key(scope), &failure).await {
        Ok(()) => tracing::warn!(kind, error = %e, "a run could not sign in; the provider connection is marked"),
        Err(err) => tracing::warn!(kind, error = %err, "could not mark the provider connection"),
    }
}

/// The environment's connection, if one was created.
pub async fn load(state: &AppState, scope: &EnvScope) -> ServiceResult<Option<ConnectionRecord>> {
    Ok(records::get(&state.table, &key(scope)).await?)
}

/// [`load`] as queued work re-checks the connection when it executes: eventually consistent
/// (ADR 0049).
pub async fn load_at_execution(state: &AppState, scope: &EnvScope) -> ServiceResult<Option<ConnectionRecord>> {
    Ok(records::get_eventually(&state.table, &key(scope)).await?)
}

/// The environment's connection when it is consented (Graph may be called with it), else `None`.
pub async fn consented(state: &AppState, scope: &EnvScope) -> ServiceResult<Option<ConnectionRecord>> {
    Ok(load(state, scope)
        .await?
        .filter(|c| c.lifecycle == ConnectionLifecycle::Consented))
}

/// A Graph client signed in to the environment's tenant, when its connection is consented.
pub async fn tenant_client(state: &AppState, scope: &EnvScope) -> ServiceResult<Option<atlas_graph::TenantClient>> {
    let conn = consented(state, scope).await?;
    client_of(state, scope, conn).await
}

/// [`tenant_client`] for queued work re-checking the connection when it executes (ADR 0049).
pub async fn tenant_client_at_execution(
    state: &AppState,
    scope: &EnvScope,
) -> ServiceResult<Option<atlas_graph::TenantClient>> {
    let conn = load_at_execution(state, scope).await?;
    client_of(
        state,
        scope,
        conn.filter(|c| c.lifecycle == ConnectionLifecycle::Consented),
    )
    .await
}

async fn client_of(
    state: &AppState,
    scope: &EnvScope,
    conn: Option<ConnectionRecord>,
) -> ServiceResult<Option<atlas_graph::TenantClient>> {
    let Some(conn) = conn else {
        return Ok(None);
    };
    let app = app_identity(state, scope, &conn).await?;
    Ok(Some(state.graph.tenant(&conn.tenant_id, app)))
}

/// The app identity a connection signs in with; the dedicated secret is opened only here.
pub async fn app_identity(
    state: &AppState,
    scope: &EnvScope,
    conn: &ConnectionRecord,
) -> ServiceResult<atlas_graph::AppIdentity> {
    app_identity_in(state, &credential_context(scope), conn).await
}

/// [`app_identity`] where the scope is only known from a signed consent state.
pub async fn app_identity_in(
    state: &AppState,
    context: &str,
    conn: &ConnectionRecord,
) -> ServiceResult<atlas_graph::AppIdentity> {
    match conn.app_mode {
        AppMode::Dedicated => {
            let credential = conn
                .credential
                .as_ref()
                .ok_or_else(|| ServiceError::Conflict("the connection has no credential".into()))?;
            // Retried as any failure underneath is: the master key may be back.
            let secret = state
                .secrets
                .open(context, &credential.sealed)
                .await
                .map_err(|e| ServiceError::Transient(Box::new(e)))?;
            Ok(atlas_graph::AppIdentity::with_secret(
                conn.client_id.clone(),
                secret.expose_str().map_err(|e| ServiceError::Transient(Box::new(e)))?,
            ))
        }
        AppMode::Platform => {
            let (id, secret) =
                state.provider.platform_app.clone().ok_or_else(|| {
                    ServiceError::Conflict("this installation has no platform app registration".into())
                })?;
            Ok(atlas_graph::AppIdentity::with_secret(id, secret))
        }
    }
}

/// The connection, when it can be verified: created, consented, not disabled, and proven to be
/// this workspace's tenant. Else a conflict saying what is missing.
pub async fn verifiable(state: &AppState, scope: &EnvScope) -> ServiceResult<ConnectionRecord> {
    let conn = load(state, scope)
        .await?
        .ok_or_else(|| ServiceError::Conflict("create the provider connection first".into()))?;
    match conn.lifecycle {
        ConnectionLifecycle::Disabled => return Err(ServiceError::Conflict("the connection is disabled".into())),
        ConnectionLifecycle::Consented => {}
        _ => return Err(ServiceError::Conflict("admin consent has not been granted yet".into())),
    }
    require_proof(state, scope, &conn).await?;
    Ok(conn)
}

/// Verifies the connection now and records the permission posture (the `provider.verify` step,
/// and the demo seed).
pub async fn verify(state: &AppState, scope: &EnvScope) -> ServiceResult<()> {
    let conn = verifiable(state, scope).await?;
    let app = app_identity(state, scope, &conn).await?;
    let tenant = &conn.tenant_id;
    let mut found = verify_with(&state.graph, tenant, app, state.clock.now_millis()).await;
    if let Some(tid) = &found.tenant_id
        && !tid.eq_ignore_ascii_case(tenant)
    {
        found.verification.token_ok = false;
        found.verification.error = Some(format!("the token is for tenant {tid}, not this environment's"));
    }
    let mut with = conn.clone();
    with.verification = Some(found.verification.clone());
    let now = state.clock.now_millis();
    let (st, reason) = status(Some(&with), now);
    let (before, _) = status(Some(&conn), now);
    let mut changes = vec![conn.record_verification(&found.verification)];
    let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
    changes.extend(crate::posture::report_items(state, ws, env, &found.verification));
    // A verification that leaves the connection worse than it found it is news (spec 016).
    let degraded = (st != atlas_domain::Status::Ready && st != before).then(|| {
        let env = scope.environment_id();
        let ws = scope.workspace().workspace_id();
        crate::alerts::event_item(
            state,
            ws,
            crate::alerts::NewAlert {
                kind: atlas_domain::alerts::AlertEventType::ConnectionDegraded,
                environment_id: Some(env.clone()),
                severity: Some(atlas_domain::Severity::High),
                object: format!("provider-connection/{env}"),
                state: st.as_str().to_owned(),
                title: format!("The provider connection of {env} is {}: {reason}", st.label()),
                link: format!("/workspaces/{ws}/environments/{env}/provider"),
                data: json!({"status": st.as_str(), "was": before.as_str(), "reason": reason}),
            },
        )
    });
    changes.extend(degraded.clone());
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
            Some(0) => ServiceError::Conflict("the connection changed meanwhile; verify again".into()),
            _ => e.into(),
        })?;
    if let Some(a) = degraded {
        crate::alerts::dispatch::after_commit(state, &[a]).await;
    }
    // The report is stored; its findings follow (a failure here is caught up by the next
    // verification, which sees the same permissions).
    if let Err(e) = crate::posture::observe(state, ws, env, &found.verification).await {
        tracing::warn!(error = %e, environment_id = %env, "permission findings not updated");
    }
    Ok(())
}

/// A connection is verified only with a recorded proof of tenant administration whose claim
/// record still stands: consent recorded without one (before proofs were required) needs a new
/// sign-in.
async fn require_proof(state: &AppState, scope: &EnvScope, conn: &ConnectionRecord) -> ServiceResult<()> {
    let unproven = || {
        ServiceError::Conflict(
            "ownership of the tenant has not been proven: a tenant administrator must sign in again".into(),
        )
    };
    let id = &conn.proof().ok_or_else(unproven)?.id;
    let claim: TenantClaimRecord = records::get(
        &state.table,
        &claim_key(
            &conn.tenant_id,
            scope.workspace().workspace_id().as_str(),
            scope.environment_id().as_str(),
        ),
    )
    .await?
    .ok_or_else(unproven)?;
    if &claim.proof_id != id {
        return Err(unproven());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Record;
    use serde_json::{Value, json};

    /// A connection as stored, with `extra` attributes over a created one.
    fn conn(extra: Value) -> ConnectionRecord {
        let mut item = json!({
            "PK": "WS#ws-a#ENV#env-a", "SK": "PROVIDER", "entity": "provider_connection",
            "workspace_id": "ws-a", "environment_id": "env-a", "tenant": "a.test",
            "tenant_id": "11111111-1111-4111-8111-111111111111", "app_mode": "platform",
            "client_id": "c", "lifecycle": "created", "created_ms": 1, "version": 1,
        })
        .as_object()
        .cloned()
        .unwrap();
        item.extend(extra.as_object().cloned().unwrap());
        ConnectionRecord::from_item(item).unwrap()
    }

    fn proof() -> Value {
        json!({"id": "p1", "oid": "o", "upn": "admin@a.test", "role": "Global Administrator", "role_source": "wids",
            "tenant_id": "11111111-1111-4111-8111-111111111111", "at_ms": 1, "initiator": "u-1"})
    }

    fn verified(at_ms: i64, granted: bool, probe_ok: bool, token_ok: bool) -> ConnectionRecord {
        conn(
            json!({"lifecycle": "consented", "consent": {"outcome": "granted", "at_ms": 1, "proof": proof()}, "verification": {
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
        let declined = conn(json!({"lifecycle": "consent_failed", "consent": {
            "outcome": "error", "at_ms": 1, "error": "consent_required", "error_description": "AADSTS65004"}}));
        let (st, why) = status(Some(&declined), now);
        assert_eq!(st, Status::NeedsAttention);
        assert!(why.contains("AADSTS65004"));
        // Entra sent no description: stored as null, read as declined.
        let bare = conn(json!({"lifecycle": "consent_failed", "consent": {
            "outcome": "declined", "at_ms": 1, "error": "access_denied", "error_description": null}}));
        assert_eq!(status(Some(&bare), now).1, "Admin consent was declined.");
        assert_eq!(
            status(Some(&conn(json!({"lifecycle": "consented"}))), now).0,
            Status::NeedsAttention,
            "consent without a proof of administration"
        );
        assert_eq!(
            status(
                Some(&conn(
                    json!({"lifecycle": "consented", "consent": {"outcome": "granted", "at_ms": 1, "proof": proof()}})
                )),
                now
            )
            .0,
            Status::Unknown
        );
        let mut unproven = verified(now - 1_000, true, true, true);
        unproven.consent = Some(serde_json::from_value(json!({"outcome": "granted", "at_ms": 1})).unwrap());
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
        let mut expired = verified(now, true, true, false);
        if let Some(v) = expired.verification.as_mut() {
            v.error = Some("AADSTS7000222: the client secret expired".into());
        }
        assert_eq!(status(Some(&expired), now).0, Status::Expired);
    }

    #[test]
    fn a_run_failure_newer_than_the_verification_decides_the_status() {
        let now = 10 * FRESH_MS;
        let mut c = verified(now - 1_000, true, true, true);
        c.run_failure = Some(RunFailure {
            kind: RunFailureKind::CredentialExpired,
            reason: "AADSTS7000222".into(),
            at_ms: now - 500,
        });
        let (st, why) = status(Some(&c), now);
        assert_eq!(st, Status::Expired);
        assert!(why.contains("AADSTS7000222"), "{why}");
        c.run_failure.as_mut().unwrap().at_ms = now - 2_000;
        assert_eq!(status(Some(&c), now).0, Status::Ready, "superseded by the verification");
    }

    #[test]
    fn the_api_shape_shows_metadata_never_the_sealed_secret() {
        let c = conn(json!({"app_mode": "dedicated", "lifecycle": "consented",
            "consent": {"outcome": "granted", "at_ms": 2, "proof": proof()},
            "credential": {"kind": "secret", "version": 3, "set_ms": 4,
                "sealed": {"v": 1, "kid": "k", "wrapped_key": "w", "nonce": "n", "ciphertext": "x"}}}));
        let a = to_api(Some(&c), 10);
        assert_eq!(a.app_mode.as_deref(), Some("dedicated"));
        assert_eq!(a.lifecycle, Some(ConnectionLifecycle::Consented));
        let proven = a.consent.as_ref().and_then(|x| x.proven_by.as_ref()).unwrap();
        assert_eq!(
            (proven.role, proven.upn.as_str()),
            (AdminRole::GlobalAdministrator, "admin@a.test")
        );
        let cred = a.credential.unwrap();
        assert_eq!((cred.kind.as_str(), cred.version, cred.set_ms), ("secret", 3, 4));
        let text = serde_json::to_string(&to_api(Some(&c), 10)).unwrap();
        assert!(!text.contains("ciphertext") && !text.contains("wrapped_key"), "{text}");
    }
}
