//! Provider connections: consent as a tenant administrator's authorization-code sign-in that the
//! product redeems and checks (ADR 0016) — the self-completed callback, non-admins, admins of
//! another tenant, forged signatures, reused codes, the Graph fallback for roles, a second
//! workspace's claim —, declined and failed consent, rejected states, the high-risk credential
//! actions, and secrets that never come back out; on both backends.

use std::sync::Arc;
use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OWNER, TestApp, logs, spawn_app};
use reqwest::Method;
use serde_json::json;

const CONN: &str = "/api/v1/workspaces/ws-demo/environments/env-contoso/provider-connection";
const SECRET: &str = "SUPER-SECRET-MARKER-8c1f2d";
const TENANT: &str = "11111111-1111-4111-8111-111111111111";

/// The items new or changed since `snap`, but for the audit chain's head on the workspace item
/// (`audit_seq`, `audit_head`), which every audited write moves with its event.
async fn changed_since(app: &TestApp, snap: &[atlas_store::Item]) -> Vec<atlas_store::Item> {
    let strip = |mut i: atlas_store::Item| {
        i.remove("audit_seq");
        i.remove("audit_head");
        i
    };
    let before: Vec<_> = snap.iter().cloned().map(strip).collect();
    app.snapshot()
        .await
        .into_iter()
        .map(strip)
        .filter(|i| !before.contains(i))
        .collect()
}

async fn create(app: &TestApp) -> api::ProviderConnection {
    let body = json!({"tenant": "contoso.demo.test", "dedicated_app": {"client_id": "55555555-5555-4555-8555-555555555555", "client_secret": SECRET}});
    let res = app.post_as(OWNER, CONN, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Starts consent and returns the state from the consent URL.
async fn start(app: &TestApp) -> (String, String) {
    let res = app.post_as(OWNER, &format!("{CONN}/consent"), json!({})).await;
    assert_eq!(res.status(), 200);
    let c: api::ConsentStart = res.json().await.unwrap();
    let url = reqwest::Url::parse(&c.consent_url).unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    (c.consent_url, state)
}

async fn callback(app: &TestApp, query: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/provider/consent-callback", app.url))
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn connection(app: &TestApp) -> api::ProviderConnection {
    app.get_as(OWNER, CONN).await.json().await.unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

async fn consent_url_is_a_pkce_code_sign_in_against_the_tenant(mode: Mode) {
    let app = spawn_app(mode).await;
    let before: api::ProviderConnection = connection(&app).await;
    assert_eq!((before.configured, before.status.as_str()), (false, "not_configured"));
    let created = create(&app).await;
    assert_eq!(created.status, "not_configured");
    assert_eq!(created.credential.as_ref().map(|c| c.version), Some(1));

    let (url, state) = start(&app).await;
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), format!("/{TENANT}/oauth2/v2.0/authorize"), "{url}");
    let q: std::collections::BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "55555555-5555-4555-8555-555555555555");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["response_mode"], "query");
    assert_eq!(q["scope"], "openid profile https://graph.microsoft.com/.default");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "base64url of a SHA-256");
    assert!(q["nonce"].len() >= 16);
    assert_eq!(
        q["redirect_uri"],
        format!("{}/api/v1/provider/consent-callback", app.url)
    );
    assert_eq!(q["state"], state);
    assert!(!q.contains_key("code_verifier"), "the verifier never leaves the server");
    // Nor does the stored state record surface anywhere a caller could read it.
    let view = app.get_as(OWNER, CONN).await.text().await.unwrap();
    assert!(!view.contains(&q["nonce"]));

    // Microsoft's admin-consent callback, self-completed: nothing is proven, nothing changes.
    let snap = app.snapshot().await;
    let res = callback(
        &app,
        &[("state", state.as_str()), ("admin_consent", "True"), ("tenant", TENANT)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        location(&res)
            .ends_with("/workspaces/ws-demo/environments/env-contoso/provider?consent=rejected&reason=no_code"),
        "{}",
        location(&res)
    );
    let new = changed_since(&app, &snap).await;
    assert_eq!(new.len(), 1, "only the denial's audit event: {new:?}");
    assert_eq!(new[0]["outcome"], "denied");
    assert_eq!(new[0]["metadata"]["reason"], "no_code");
    let c = connection(&app).await;
    assert_eq!(
        (c.lifecycle.map(|l| l.as_str()), c.status.as_str()),
        (Some("consent_pending"), "not_configured")
    );
    assert_eq!(
        app.post_as(OWNER, &format!("{CONN}/verify"), json!({})).await.status(),
        409,
        "nothing to verify"
    );
    app.stop().await;
}

async fn declined_and_failed_consent_need_attention(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let (_, state) = start(&app).await;
    let q = [
        ("state", state.as_str()),
        ("error", "access_denied"),
        (
            "error_description",
            "AADSTS65004: User declined to consent to access the app.",
        ),
    ];
    let res = callback(&app, &q).await;
    assert!(location(&res).ends_with("consent=declined"));
    let c = connection(&app).await;
    assert_eq!(
        (c.status.as_str(), c.lifecycle.map(|l| l.as_str())),
        ("needs_attention", Some("consent_failed"))
    );
    // The browser repeats it: the same page, nothing changes.
    let snap = app.snapshot().await;
    assert!(location(&callback(&app, &q).await).ends_with("consent=declined"));
    assert_eq!(app.snapshot().await, snap);

    let (_, state) = start(&app).await;
    let q = [
        ("state", state.as_str()),
        ("error", "consent_required"),
        ("error_description", "AADSTS90094: Admin consent is required"),
    ];
    let res = callback(&app, &q).await;
    assert!(location(&res).ends_with("consent=error"));
    let c = connection(&app).await;
    assert_eq!(c.status, "needs_attention");
    assert!(c.status_reason.contains("AADSTS90094"), "{}", c.status_reason);
    let events: api::AuditPage = app
        .get_as(
            OWNER,
            "/api/v1/workspaces/ws-demo/audit-events?action=provider.consent.callback",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events.items.iter().filter(|e| e.outcome == "failed").count(), 2);
    app.stop().await;
}

async fn forged_expired_and_replayed_states_are_rejected(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let (_, state) = start(&app).await;
    let snap = app.snapshot().await;

    // Forged: a tampered signature, or a state we never issued.
    let mut forged = state.clone();
    forged.pop();
    forged.push(if state.ends_with('A') { 'B' } else { 'A' });
    for bad in [forged.as_str(), "eyJuIjoieCJ9.c2lnbmF0dXJl", "nonsense"] {
        let res = callback(&app, &[("state", bad), ("code", "1.abc")]).await;
        assert_eq!(res.status(), 400, "{bad}");
        assert!(res.headers().get("location").is_none());
    }
    assert_eq!(app.snapshot().await, snap, "a forged state changes nothing");

    // Replayed: the state was used by a callback saying something else.
    let first = [("state", state.as_str()), ("error", "access_denied")];
    assert!(location(&callback(&app, &first).await).ends_with("consent=declined"));
    let res = callback(&app, &[("state", state.as_str()), ("code", "1.another")]).await;
    assert!(location(&res).ends_with("consent=rejected&reason=replayed"));

    // Expired: issued by a clock 16 minutes behind.
    let mut past = app.app().state.clone();
    let clock = atlas_store::ManualClock::new(time::OffsetDateTime::now_utc() - Duration::from_secs(16 * 60));
    past.clock = Arc::new(clock);
    let ws = atlas_domain::WorkspaceId::parse("ws-demo").unwrap();
    let env = atlas_domain::EnvironmentId::parse("env-contoso").unwrap();
    let old = atlas_app::consent::issue(&past, &past.secrets, &ws, &env, "u-owner")
        .await
        .unwrap();
    let snap = app.snapshot().await;
    let res = callback(&app, &[("state", old.token.as_str()), ("code", "1.abc")]).await;
    assert!(location(&res).ends_with("consent=rejected&reason=expired"));
    let new = changed_since(&app, &snap).await;
    assert_eq!(new.len(), 1, "only the audit event of the rejection");
    assert_eq!(new[0]["outcome"], "denied");
    app.stop().await;
}

async fn credential_actions_are_confirmed_and_secrets_never_leave(mode: Mode) {
    let app = spawn_app(mode).await;
    let created = create(&app).await;
    assert!(!serde_json::to_string(&created).unwrap().contains(SECRET));
    let rotate = format!("{CONN}/credential");

    let snap = app.snapshot().await;
    let res = app
        .req(Method::PUT, &rotate, Some(OWNER))
        .json(&json!({"client_secret": "new-secret-value-2", "confirm": "Contoso"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a mistyped confirmation");
    let res = app
        .post_as(
            "operator@demo.test",
            &format!("{CONN}/disable"),
            json!({"confirm": "Contoso (demo)"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let changed = changed_since(&app, &snap).await;
    assert!(
        changed.iter().all(|i| i["outcome"] == "denied"),
        "only the denial was recorded: {changed:?}"
    );

    let res = app
        .req(Method::PUT, &rotate, Some(OWNER))
        .json(&json!({"client_secret": format!("{SECRET}-v2"), "confirm": "Contoso (demo)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains(SECRET));
    let c: api::ProviderConnection = serde_json::from_str(&text).unwrap();
    assert_eq!(c.credential.map(|c| c.version), Some(2));

    let res = app
        .post_as(OWNER, &format!("{CONN}/disable"), json!({"confirm": "Contoso (demo)"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<api::ProviderConnection>().await.unwrap().status, "blocked");
    assert_eq!(
        app.post_as(OWNER, &format!("{CONN}/consent"), json!({})).await.status(),
        409
    );

    // Nowhere: not in any response, the audit log, the stored items, or the logs.
    let audit = app
        .get_as(OWNER, "/api/v1/workspaces/ws-demo/audit-events/export.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("provider.credential.rotate"));
    assert!(!audit.contains(SECRET));
    let stored = serde_json::to_string(&app.snapshot().await).unwrap();
    assert!(!stored.contains(SECRET), "sealed at rest");
    assert!(!logs().contains(SECRET), "never logged");
    assert!(connection(&app).await.credential.is_some());
    app.stop().await;
}

const WS: &str = "/api/v1/workspaces/ws-demo";

fn sim() -> &'static atlas_graph_sim::Simulator {
    &atlas_tests::sim::shared().sim
}

/// An environment `slug` of `ws` on `tenant` with a platform-app connection; returns the
/// connection's path.
async fn platform_connection(app: &TestApp, as_user: &str, ws: &str, slug: &str, tenant: &str, domain: &str) -> String {
    let env = json!({"slug": slug, "display_name": slug, "tenant_id": tenant, "primary_domain": domain});
    let res = app.post_as(as_user, &format!("{ws}/environments"), env).await;
    assert_eq!(res.status(), 201);
    let conn = format!("{ws}/environments/{slug}/provider-connection");
    let res = app.post_as(as_user, &conn, json!({"tenant": domain})).await;
    assert_eq!(res.status(), 201);
    let c: api::ProviderConnection = res.json().await.unwrap();
    assert_eq!(c.app_mode.as_deref(), Some("platform"));
    conn
}

async fn consent_url(app: &TestApp, as_user: &str, conn: &str) -> String {
    let res = app.post_as(as_user, &format!("{conn}/consent"), json!({})).await;
    assert_eq!(res.status(), 200);
    res.json::<api::ConsentStart>().await.unwrap().consent_url
}

/// Follows Entra's redirect to our callback; returns where the callback sends the browser.
async fn follow(app: &TestApp, back: &str) -> String {
    assert!(
        back.starts_with(&format!("{}/api/v1/provider/consent-callback?", app.url)),
        "{back}"
    );
    let res = app.client.get(back).send().await.unwrap();
    assert_eq!(res.status(), 303);
    location(&res)
}

async fn events(app: &TestApp, as_user: &str, ws: &str, action: &str) -> Vec<api::AuditEvent> {
    let page: api::AuditPage = app
        .get_as(as_user, &format!("{ws}/audit-events?action={action}"))
        .await
        .json()
        .await
        .unwrap();
    page.items
}

/// Start → the tenant's Global Administrator signs in (consenting) → the callback redeems and
/// checks → verify → Ready, with the platform app; the browser's reload changes nothing; the
/// roles come from Graph because the platform app's ID tokens carry no `wids`.
async fn consent_flow_end_to_end_against_the_simulator(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let conn = platform_connection(&app, OWNER, WS, "env-sim", &tenant, &domain).await;
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    assert!(back.contains("code="), "{back}");
    let before_roles = sim().stats(&tenant).count("GET", "transitiveMemberOf");
    let to = follow(&app, &back).await;
    assert!(to.ends_with("/environments/env-sim/provider?consent=granted"), "{to}");
    assert_eq!(
        sim().stats(&tenant).count("GET", "transitiveMemberOf"),
        before_roles + 1,
        "no wids in the ID token: the roles were read from Graph"
    );
    let c = connection_at(&app, &conn).await;
    assert_eq!(
        (c.lifecycle.map(|l| l.as_str()), c.status.as_str()),
        (Some("consented"), "unknown")
    );
    let admin = sim()
        .users(&tenant)
        .into_iter()
        .find(|u| u.key == "global-admin")
        .unwrap();
    let proven = c.consent.as_ref().and_then(|c| c.proven_by.clone()).expect("the proof");
    assert_eq!(
        (proven.oid.as_str(), proven.upn.as_str(), proven.role.as_str()),
        (
            admin.id.as_str(),
            admin.user_principal_name.as_str(),
            "Global Administrator"
        )
    );
    let ev = events(&app, OWNER, WS, "provider.consent.callback").await;
    let ok = ev
        .iter()
        .find(|e| e.outcome == "success")
        .expect("the callback's event");
    assert_eq!(ok.metadata["proven_by"]["upn"], admin.user_principal_name.as_str());
    assert_eq!(ok.metadata["proven_by"]["role_source"], "graph");
    let stored = serde_json::to_string(&app.snapshot().await).unwrap();
    assert!(!stored.contains("eyJ"), "no token is kept anywhere");

    // The browser reloads the callback: the same answer, nothing changes (the code is not redeemed again).
    let snap = app.snapshot().await;
    let res = app.client.get(&back).send().await.unwrap();
    assert!(location(&res).ends_with("consent=granted"));
    assert_eq!(app.snapshot().await, snap);

    let res = app
        .post_as("operator@demo.test", &format!("{conn}/verify"), json!({}))
        .await;
    assert_eq!(res.status(), 202, "operators hold provider.verify");
    let c = verified(&app, &conn, res).await;
    let v = c.verification.as_ref().unwrap();
    assert!(v.token_ok);
    assert!(v.permissions.iter().all(|p| p.granted), "{:?}", v.permissions);
    assert_eq!(c.status, "ready", "{}", c.status_reason);

    // Revoked consent: the next verification says Blocked, with Graph's reason.
    sim().revoke(&tenant, atlas_tests::sim::CLIENT_ID);
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    let c = verified(&app, &conn, res).await;
    assert_eq!(
        c.status,
        "blocked",
        "{} {:?}",
        c.status_reason,
        c.verification.as_ref().map(|v| v.probes.first().cloned())
    );
    app.stop().await;
}

/// Who may not prove it: a plain user of a tenant that already consented to the platform app
/// (the attack: the grant exists, so Entra asks nothing and issues a code), a plain user where
/// consent is still needed (Entra refuses), an administrator of another tenant, a token signed
/// with a key the tenant does not publish, and a code already redeemed. None activates.
async fn only_an_administrator_of_the_tenant_proves_it(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    // Another workspace's consent made the multi-tenant app's grant exist already.
    sim().grant(&tenant, atlas_tests::sim::CLIENT_ID, atlas_graph_sim::ALL_ROLES);
    let conn = platform_connection(&app, OWNER, WS, "env-sim", &tenant, &domain).await;
    let not_ready =
        |c: &api::ProviderConnection| c.lifecycle.map(|l| l.as_str()) != Some("consented") && c.status != "ready";

    // A plain user: Entra issues a code (nothing to consent to), the product refuses.
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "user").await;
    assert!(back.contains("code="), "{back}");
    let to = follow(&app, &back).await;
    assert!(to.ends_with("consent=rejected&reason=not_admin"), "{to}");
    assert!(not_ready(&connection_at(&app, &conn).await));
    assert_eq!(
        app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await.status(),
        409
    );

    // An administrator of another tenant signs in there with our request: the code is that tenant's.
    let (other, _) = atlas_tests::sim::new_tenant();
    let url = consent_url(&app, OWNER, &conn).await;
    let foreign = url.replacen(&format!("/{tenant}/"), &format!("/{other}/"), 1);
    let back = app.sign_in(&foreign, "global-admin").await;
    let to = follow(&app, &back).await;
    assert!(to.ends_with("consent=rejected&reason=code_rejected"), "{to}");
    assert!(not_ready(&connection_at(&app, &conn).await));

    // A forged ID token: signed with a key the tenant does not publish.
    sim().set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            unpublished_signing_key: true,
            ..Default::default()
        },
    );
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    let to = follow(&app, &back).await;
    sim().clear_faults(&tenant);
    assert!(to.ends_with("consent=rejected&reason=bad_signature"), "{to}");
    assert!(not_ready(&connection_at(&app, &conn).await));

    // A code redeemed before (by whoever intercepted it): Entra refuses the second redemption.
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    let code = reqwest::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let stolen = app
        .client
        .post(sim().token_url(&tenant))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", atlas_tests::sim::CLIENT_ID),
            ("client_secret", atlas_tests::sim::CLIENT_SECRET),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{}/api/v1/provider/consent-callback", app.url)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 400, "no PKCE verifier: refused, and the code is spent");
    let to = follow(&app, &back).await;
    assert!(to.ends_with("consent=rejected&reason=code_rejected"), "{to}");
    // The same code under a fresh state: still spent.
    let url = consent_url(&app, OWNER, &conn).await;
    let state = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let res = callback(&app, &[("state", state.as_str()), ("code", code.as_str())]).await;
    assert!(location(&res).ends_with("consent=rejected&reason=code_rejected"));
    assert!(not_ready(&connection_at(&app, &conn).await));

    // Where consent is still needed, a plain user cannot give it: Entra's error comes back.
    let (fresh, fresh_domain) = atlas_tests::sim::new_tenant();
    let conn2 = platform_connection(&app, OWNER, WS, "env-fresh", &fresh, &fresh_domain).await;
    let url = consent_url(&app, OWNER, &conn2).await;
    let back = app.sign_in(&url, "user").await;
    assert!(back.contains("error=consent_required"), "{back}");
    assert!(back.contains("AADSTS90094"), "{back}");
    let to = follow(&app, &back).await;
    assert!(to.ends_with("consent=error"), "{to}");
    assert_eq!(connection_at(&app, &conn2).await.status, "needs_attention");

    // Every refusal is audited with its reason; then an Intune Administrator (who cannot consent,
    // but needs not: the grant exists) proves it.
    let denied: Vec<String> = events(&app, OWNER, WS, "provider.consent.callback")
        .await
        .into_iter()
        .filter(|e| e.outcome == "denied")
        .map(|e| e.metadata["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    for reason in ["not_admin", "code_rejected", "bad_signature"] {
        assert!(denied.iter().any(|r| r == reason), "{reason} in {denied:?}");
    }
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "intune-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    let c = connection_at(&app, &conn).await;
    assert_eq!(
        c.consent.and_then(|c| c.proven_by).map(|p| p.role.as_str()),
        Some("Intune Administrator")
    );
    app.stop().await;
}

/// With an app whose ID tokens carry `wids` (groupMembershipClaims: DirectoryRole) the roles are
/// read from the token, and Graph is not asked.
async fn roles_come_from_wids_when_the_token_has_them(mode: Mode) {
    const WIDS_APP: &str = "7b7b7b7b-1111-4222-8333-955555555555";
    let s = atlas_tests::sim::shared();
    s.sim.register_app_spec(atlas_graph_sim::AppSpec {
        client_id: WIDS_APP.into(),
        secret: Some("wids-app-secret-value".into()),
        group_membership_claims: Some("DirectoryRole".into()),
        ..Default::default()
    });
    let dir = atlas_tests::TempDir::new();
    let config = atlas_tests::app::config_with_graph(
        mode,
        &dir,
        atlas_tests::app::GraphTarget {
            graph_base: s.base_url.clone(),
            login_base: s.base_url.clone(),
            client_id: WIDS_APP.into(),
            client_secret: "wids-app-secret-value".into(),
        },
    );
    let app = atlas_tests::app::spawn_with(config, dir).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let conn = platform_connection(&app, OWNER, WS, "env-wids", &tenant, &domain).await;
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "privileged-role-admin").await;
    let before = sim().stats(&tenant).count("GET", "transitiveMemberOf");
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    assert_eq!(sim().stats(&tenant).count("GET", "transitiveMemberOf"), before);
    let ev = events(&app, OWNER, WS, "provider.consent.callback").await;
    let ok = ev.iter().find(|e| e.outcome == "success").unwrap();
    assert_eq!(ok.metadata["proven_by"]["role_source"], "wids");
    assert_eq!(ok.metadata["proven_by"]["role"], "Privileged Role Administrator");

    // A plain user's `wids` hold only the default user role.
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "user").await;
    assert!(follow(&app, &back).await.ends_with("consent=rejected&reason=not_admin"));
    app.stop().await;
}

/// A tenant connected by one workspace: another workspace's environment on the same tenant
/// cannot become Ready by the self-completed callback; with an administrator's sign-in it can,
/// and the first workspace is told (naming the administrator, not the other workspace).
async fn a_second_workspace_needs_the_same_proof_and_the_first_is_told(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let ours = app.connect("env-first", &tenant, &domain).await;
    let res = app
        .post_as(OWNER, &format!("{ours}/provider-connection/verify"), json!({}))
        .await;
    assert_eq!(
        verified(&app, &format!("{ours}/provider-connection"), res).await.status,
        "ready"
    );

    const OTHER: &str = "outsider@other.test";
    let theirs = platform_connection(
        &app,
        OTHER,
        "/api/v1/workspaces/ws-other",
        "env-claim",
        &tenant,
        &domain,
    )
    .await;
    let url = consent_url(&app, OTHER, &theirs).await;
    let state = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let res = callback(
        &app,
        &[
            ("state", state.as_str()),
            ("admin_consent", "True"),
            ("tenant", tenant.as_str()),
        ],
    )
    .await;
    assert!(location(&res).ends_with("consent=rejected&reason=no_code"));
    let c: api::ProviderConnection = app.get_as(OTHER, &theirs).await.json().await.unwrap();
    assert_ne!(c.lifecycle.map(|l| l.as_str()), Some("consented"));
    assert_eq!(
        app.post_as(OTHER, &format!("{theirs}/verify"), json!({}))
            .await
            .status(),
        409
    );
    assert!(
        events(&app, OWNER, WS, "provider.tenant.claimed_elsewhere")
            .await
            .is_empty()
    );

    // With the proof: allowed alongside, and the first workspace's owners are told.
    let back = app.sign_in(&url, "global-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    let res = app.post_as(OTHER, &format!("{theirs}/verify"), json!({})).await;
    let run: api::OperationRun = res.json().await.unwrap();
    let path = format!("/api/v1/workspaces/ws-other/operations/{}", run.id);
    atlas_tests::app::eventually("the verification", Duration::from_secs(20), || async {
        let v: api::OperationView = app.get_as(OTHER, &path).await.json().await.unwrap();
        (v.run.state == "completed").then_some(())
    })
    .await;
    let c: api::ProviderConnection = app.get_as(OTHER, &theirs).await.json().await.unwrap();
    assert_eq!(c.status, "ready", "{}", c.status_reason);
    let told = events(&app, OWNER, WS, "provider.tenant.claimed_elsewhere").await;
    assert_eq!(told.len(), 1, "{told:?}");
    let admin = sim()
        .users(&tenant)
        .into_iter()
        .find(|u| u.key == "global-admin")
        .unwrap();
    assert_eq!(told[0].environment_id.as_deref(), Some("env-first"));
    assert!(
        told[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&admin.user_principal_name)
    );
    let text = serde_json::to_string(&told[0]).unwrap();
    assert!(!text.contains("ws-other") && !text.contains("env-claim"), "{text}");
    // One callback chained events in two workspaces: each chain holds, seq by seq.
    for (who, ws) in [(OWNER, DEMO_WS), (OTHER, "ws-other")] {
        let v: api::AuditVerification = app.get_as(who, &paths::audit_verify(ws)).await.json().await.unwrap();
        assert_eq!(v.first_broken, None, "{ws}: {v:?}");
        assert!(v.head_seq > 0 && v.verified_events == v.head_seq, "{ws}: {v:?}");
    }
    // The claimant's own log says the tenant belonged to another workspace first.
    let mine = events(&app, OTHER, "/api/v1/workspaces/ws-other", "provider.consent.callback").await;
    let ok = mine.iter().find(|e| e.outcome == "success").unwrap();
    assert_eq!(ok.metadata["tenant_owner"], "another_workspace");
    app.stop().await;
}

/// A connection consented and verified before proofs existed is not Ready, and cannot be
/// verified until an administrator signs in.
async fn connections_consented_without_proof_need_a_new_sign_in(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    sim().grant(&tenant, atlas_tests::sim::CLIENT_ID, atlas_graph_sim::ALL_ROLES);
    let conn = platform_connection(&app, OWNER, WS, "env-old", &tenant, &domain).await;
    // Yesterday's data: consented (the callback alone said so) and verified.
    let key = atlas_store::Key::new("WS#ws-demo#ENV#env-old", "PROVIDER");
    let now = app.app().state.clock.now_millis();
    let update = atlas_store::Update::new()
        .set("lifecycle", "consented")
        .set("consent", json!({"outcome": "granted", "at_ms": now}))
        .set(
            "verification",
            json!({"at_ms": now, "token_ok": true, "error": null, "permissions": [], "probes": []}),
        );
    app.app().state.table.update(&key, &update, None).await.unwrap();
    let c = connection_at(&app, &conn).await;
    assert_eq!(c.status, "needs_attention");
    assert!(c.status_reason.contains("sign in again"), "{}", c.status_reason);
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(res.status(), 409);
    let env: api::Environment = app
        .get_as(OWNER, &paths::environment(DEMO_WS, "env-old"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(env.status, "ready");
    // Re-consent with proof restores it.
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(verified(&app, &conn, res).await.status, "ready");
    app.stop().await;
}

/// Each verification is kept as a dated posture report; a permission the tenant does not grant
/// is a finding (source `permission`) and makes the environment Needs attention, here and in the
/// workspace view; granting it again resolves the finding and the next report is Ready. Reports
/// are the workspace's: an outsider gets 404.
async fn posture_reports_each_verification_and_a_missing_permission_is_a_finding(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let conn = platform_connection(&app, OWNER, WS, "env-post", &tenant, &domain).await;
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    let posture = paths::environment_posture(DEMO_WS, "env-post");
    let p: api::EnvironmentPosture = app.get_as(OWNER, &posture).await.json().await.unwrap();
    assert_eq!(
        (p.status.as_str(), p.latest.is_none()),
        ("unknown", true),
        "never verified is not Ready"
    );

    // The tenant's admin takes the apps permission away: the next verification sees it.
    let fewer: Vec<&str> = atlas_graph_sim::ALL_ROLES
        .iter()
        .copied()
        .filter(|r| !r.starts_with("DeviceManagementApps."))
        .collect();
    sim().grant(&tenant, atlas_tests::sim::CLIENT_ID, &fewer);
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    verified(&app, &conn, res).await;
    let p: api::EnvironmentPosture = app.get_as(OWNER, &posture).await.json().await.unwrap();
    assert_eq!(p.status.as_str(), "needs_attention", "{}", p.status_reason);
    assert_eq!(p.missing, vec!["DeviceManagementApps.Read.All".to_owned()]);
    let latest = p.latest.expect("the report");
    assert!(latest.token_ok && latest.verified_ms > 0);
    let apps = latest.permissions.iter().find(|x| !x.granted).expect("the missing one");
    assert!(!apps.blocks.is_empty(), "it says what it blocks");
    let findings = format!("{}?environment_id=env-post&source=permission", paths::findings(DEMO_WS));
    let page: api::FindingPage = app.get_as(OWNER, &findings).await.json().await.unwrap();
    assert_eq!(page.items.len(), 1, "{:?}", page.items);
    assert_eq!(page.items[0].state.as_str(), "new");
    assert!(page.items[0].title.contains("DeviceManagementApps.Read.All"));
    let all: api::WorkspacePosture = app
        .get_as(OWNER, &paths::workspace_posture(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    let mine = all
        .items
        .iter()
        .find(|e| e.environment_id == "env-post")
        .expect("listed");
    assert_eq!(mine.status.as_str(), "needs_attention");
    assert!(mine.history.is_empty(), "the workspace view has the latest report only");

    // Granted again: Ready, two reports, the finding resolved by the verification itself.
    sim().grant(&tenant, atlas_tests::sim::CLIENT_ID, atlas_graph_sim::ALL_ROLES);
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    verified(&app, &conn, res).await;
    let p: api::EnvironmentPosture = app.get_as(OWNER, &posture).await.json().await.unwrap();
    assert_eq!(p.status.as_str(), "ready", "{}", p.status_reason);
    assert_eq!(p.history.len(), 1, "the earlier report is kept");
    assert!(!p.history[0].permissions.iter().all(|x| x.granted));
    let page: api::FindingPage = app.get_as(OWNER, &findings).await.json().await.unwrap();
    assert_eq!(page.items[0].state.as_str(), "resolved");

    // Another workspace's member: not found, whichever view.
    assert_eq!(app.get_as("outsider@other.test", &posture).await.status(), 404);
    assert_eq!(
        app.get_as("outsider@other.test", &paths::workspace_posture(DEMO_WS))
            .await
            .status(),
        404
    );
    app.stop().await;
}

/// A 400 in `application/problem+json` whose errors name `field`; its message.
async fn field_error(res: reqwest::Response, field: &str) -> String {
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = res.json().await.unwrap();
    let errors = p["errors"].as_array().cloned().unwrap_or_default();
    let e = errors
        .iter()
        .find(|e| e["field"] == field)
        .unwrap_or_else(|| panic!("no error on {field}: {p}"));
    e["message"].as_str().unwrap().to_owned()
}

fn delete_req(app: &TestApp, as_user: &str, conn: &str, confirm: &str) -> reqwest::RequestBuilder {
    app.req(Method::DELETE, conn, Some(as_user))
        .json(&json!({"confirm": confirm}))
}

/// A tenant that is not the environment's (another domain, another GUID) is refused at creation
/// with a field error, and nothing is stored.
async fn a_wrong_tenant_is_refused_when_the_connection_is_created(mode: Mode) {
    let app = spawn_app(mode).await;
    let snap = app.snapshot().await;
    for wrong in [
        "fabrikam.demo.test",
        "22222222-2222-4222-8222-222222222222",
        "not a domain",
    ] {
        let res = app.post_as(OWNER, CONN, json!({"tenant": wrong})).await;
        let msg = field_error(res, "tenant").await;
        assert!(!msg.is_empty(), "{wrong}");
    }
    let res = app.post_as(OWNER, CONN, json!({"tenant": "fabrikam.demo.test"})).await;
    let msg = field_error(res, "tenant").await;
    assert!(msg.contains("contoso.demo.test") && msg.contains(TENANT), "{msg}");
    assert_eq!(app.snapshot().await, snap, "nothing stored");
    // The environment's GUID and its domain (any case) are accepted.
    let res = app.post_as(OWNER, CONN, json!({"tenant": "Contoso.Demo.Test"})).await;
    assert_eq!(res.status(), 201);
    app.stop().await;
}

/// Disable → enable → verify works again; enabling a connection that is not disabled is a 409;
/// delete (confirmed), then create again.
async fn disabled_connections_enable_again_and_removed_ones_start_over(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let conn = platform_connection(&app, OWNER, WS, "env-sim", &tenant, &domain).await;
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(verified(&app, &conn, res).await.status, "ready");

    let res = app.post_as(OWNER, &format!("{conn}/enable"), json!({})).await;
    assert_eq!(res.status(), 409, "not disabled");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.text().await.unwrap().contains("not disabled"));

    let res = app
        .post_as(OWNER, &format!("{conn}/disable"), json!({"confirm": "env-sim"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await.status(),
        409
    );
    let res = app.post_as(OWNER, &format!("{conn}/enable"), json!({})).await;
    assert_eq!(res.status(), 200);
    let c: api::ProviderConnection = res.json().await.unwrap();
    assert_eq!(
        (c.lifecycle.map(|l| l.as_str()), c.status.as_str()),
        (Some("consented"), "unknown"),
        "{}",
        c.status_reason
    );
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(res.status(), 202);
    assert_eq!(verified(&app, &conn, res).await.status, "ready");
    assert_eq!(events(&app, OWNER, WS, "provider.enable").await.len(), 1);

    // Removed (a mistyped confirmation first: nothing changes), then connected again.
    let snap = app.snapshot().await;
    let res = delete_req(&app, OWNER, &conn, "env").send().await.unwrap();
    assert_eq!(res.status(), 422);
    let changed = changed_since(&app, &snap).await;
    assert!(changed.is_empty(), "{changed:?}");
    let res = delete_req(&app, OWNER, &conn, "env-sim").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let c: api::ProviderConnection = res.json().await.unwrap();
    assert!(!c.configured);
    assert!(!connection_at(&app, &conn).await.configured);
    assert_eq!(
        delete_req(&app, OWNER, &conn, "env-sim").send().await.unwrap().status(),
        404,
        "nothing left to remove"
    );
    assert_eq!(events(&app, OWNER, WS, "provider.delete").await.len(), 1);
    let res = app.post_as(OWNER, &conn, json!({"tenant": domain})).await;
    assert_eq!(res.status(), 201, "created again");
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    app.stop().await;
}

/// The dedicated app's sealed secret goes with the connection.
async fn a_removed_connection_takes_its_secret_along(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let sealed = |items: &[atlas_store::Item]| {
        items
            .iter()
            .filter(|i| i.get("entity").is_some_and(|e| e == "provider_connection") && i.contains_key("credential"))
            .count()
    };
    assert_eq!(sealed(&app.snapshot().await), 1);
    let res = delete_req(&app, OWNER, CONN, "Contoso (demo)").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains(SECRET));
    assert_eq!(sealed(&app.snapshot().await), 0, "no sealed secret left");
    create(&app).await;
    app.stop().await;
}

/// A connection whose stored tenant is not the environment's (entered before it was checked):
/// consent is refused with a field error before any redirect; the edit fixes it, and consent
/// succeeds. An administrator signing in to another tenant is rejected first; the retry succeeds.
async fn a_tenant_mismatch_is_fixed_by_editing_the_tenant(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let conn = platform_connection(&app, OWNER, WS, "env-sim", &tenant, &domain).await;
    // Signed in to another tenant: rejected as such, nothing activated.
    let url = consent_url(&app, OWNER, &conn).await;
    let (other, _) = atlas_tests::sim::new_tenant();
    let foreign = url.replacen(&format!("/{tenant}/"), &format!("/{other}/"), 1);
    let back = app.sign_in(&foreign, "global-admin").await;
    let to = follow(&app, &back).await;
    assert!(to.ends_with("consent=rejected&reason=code_rejected"), "{to}");
    assert_ne!(
        connection_at(&app, &conn).await.lifecycle.map(|l| l.as_str()),
        Some("consented")
    );

    // A wrong tenant stored before tenants were checked.
    let key = atlas_store::Key::new(
        atlas_tests::app::demo_env_pk("env-sim"),
        atlas_app::records::provider::CONNECTION_SK,
    );
    let wrong = atlas_store::Update::new().set("tenant", "someone-else.example.test");
    app.app().state.table.update(&key, &wrong, None).await.unwrap();
    let snap = app.snapshot().await;
    let res = app.post_as(OWNER, &format!("{conn}/consent"), json!({})).await;
    let msg = field_error(res, "tenant").await;
    assert!(msg.contains("edit"), "{msg}");
    assert_eq!(app.snapshot().await, snap, "no state issued, nothing changed");

    let res = app
        .patch_as(OWNER, &conn, json!({"tenant": "someone-else.example.test"}))
        .await;
    field_error(res, "tenant").await;
    let res = app.patch_as(OWNER, &conn, json!({"tenant": domain})).await;
    assert_eq!(res.status(), 200);
    let c: api::ProviderConnection = res.json().await.unwrap();
    assert_eq!(
        (c.tenant.as_deref(), c.lifecycle.map(|l| l.as_str())),
        (Some(domain.as_str()), Some("created"))
    );
    let url = consent_url(&app, OWNER, &conn).await;
    let back = app.sign_in(&url, "global-admin").await;
    assert!(follow(&app, &back).await.ends_with("consent=granted"));
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(verified(&app, &conn, res).await.status, "ready");
    assert_eq!(events(&app, OWNER, WS, "provider.update").await.len(), 1);
    app.stop().await;
}

/// Bad edits get a field-level 400 and change nothing; a good one resets consent.
async fn bad_edits_are_refused_field_by_field(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let snap = app.snapshot().await;
    for (body, field) in [
        (json!({}), "tenant"),
        (json!({"tenant": "not a domain"}), "tenant"),
        (json!({"tenant": "fabrikam.demo.test"}), "tenant"),
        (json!({"tenant": "22222222-2222-4222-8222-222222222222"}), "tenant"),
        (json!({"client_id": "not-a-guid"}), "client_id"),
        (json!({"tenant": "contoso.demo.test", "client_id": "x"}), "client_id"),
    ] {
        let res = app.patch_as(OWNER, CONN, body.clone()).await;
        let msg = field_error(res, field).await;
        assert!(!msg.is_empty(), "{body}");
    }
    for body in [json!({"tenant": 5}), json!({"secret": "x"})] {
        let res = app.patch_as(OWNER, CONN, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(
        changed_since(&app, &snap).await,
        Vec::<atlas_store::Item>::new(),
        "nothing changed"
    );

    start(&app).await;
    let res = app
        .patch_as(
            OWNER,
            CONN,
            json!({"client_id": "66666666-6666-4666-8666-666666666666"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let c: api::ProviderConnection = res.json().await.unwrap();
    assert_eq!(c.client_id.as_deref(), Some("66666666-6666-4666-8666-666666666666"));
    assert_eq!(c.lifecycle.map(|l| l.as_str()), Some("created"), "consent reset");
    assert!(c.credential.is_some(), "the secret stays");
    app.stop().await;
}

/// An outsider gets 404 and a readonly member 403 on enable, edit and remove; nothing changes
/// but the denials' audit events.
async fn new_connection_routes_hide_from_outsiders_and_refuse_readonly(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let res = app
        .post_as(OWNER, &format!("{CONN}/disable"), json!({"confirm": "Contoso (demo)"}))
        .await;
    assert_eq!(res.status(), 200);
    let snap = app.snapshot().await;
    for (who, status) in [("outsider@other.test", 404), ("readonly@demo.test", 403)] {
        let res = app.post_as(who, &format!("{CONN}/enable"), json!({})).await;
        assert_eq!(res.status(), status, "enable as {who}");
        let res = app.patch_as(who, CONN, json!({"tenant": "contoso.demo.test"})).await;
        assert_eq!(res.status(), status, "edit as {who}");
        let res = delete_req(&app, who, CONN, "Contoso (demo)").send().await.unwrap();
        assert_eq!(res.status(), status, "remove as {who}");
    }
    let changed = changed_since(&app, &snap).await;
    assert!(
        changed
            .iter()
            .all(|i| i["entity"] == "audit_event" && i["outcome"] == "denied"),
        "{changed:?}"
    );
    assert_eq!(connection(&app).await.lifecycle.map(|l| l.as_str()), Some("disabled"));
    app.stop().await;
}

atlas_tests::on_both_backends!(
    consent_url_is_a_pkce_code_sign_in_against_the_tenant,
    a_wrong_tenant_is_refused_when_the_connection_is_created,
    disabled_connections_enable_again_and_removed_ones_start_over,
    a_removed_connection_takes_its_secret_along,
    a_tenant_mismatch_is_fixed_by_editing_the_tenant,
    bad_edits_are_refused_field_by_field,
    new_connection_routes_hide_from_outsiders_and_refuse_readonly,
    declined_and_failed_consent_need_attention,
    forged_expired_and_replayed_states_are_rejected,
    credential_actions_are_confirmed_and_secrets_never_leave,
    consent_flow_end_to_end_against_the_simulator,
    only_an_administrator_of_the_tenant_proves_it,
    roles_come_from_wids_when_the_token_has_them,
    a_second_workspace_needs_the_same_proof_and_the_first_is_told,
    connections_consented_without_proof_need_a_new_sign_in,
    posture_reports_each_verification_and_a_missing_permission_is_a_finding,
);

/// Waits for the verification run to complete, then reads the connection.
async fn verified(app: &TestApp, conn: &str, started: reqwest::Response) -> api::ProviderConnection {
    let run: api::OperationRun = started.json().await.unwrap();
    let path = paths::operation(DEMO_WS, &run.id);
    atlas_tests::app::eventually("the verification run to complete", Duration::from_secs(20), || async {
        let v: api::OperationView = app.get_as(OWNER, &path).await.json().await.unwrap();
        (v.run.state == "completed").then_some(())
    })
    .await;
    connection_at(app, conn).await
}

async fn connection_at(app: &TestApp, conn: &str) -> api::ProviderConnection {
    app.get_as(OWNER, conn).await.json().await.unwrap()
}
