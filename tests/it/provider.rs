//! Provider connections: admin consent through the signed state and the callback webhook,
//! declined and failed consent, rejected states (forged, replayed, expired, other tenant), the
//! high-risk credential actions, and secrets that never come back out — on both backends.

use std::sync::Arc;
use std::time::Duration;

use atlas_api_types as api;
use atlas_tests::app::{Mode, OWNER, TestApp, logs, spawn_app};
use reqwest::Method;
use serde_json::json;

const CONN: &str = "/api/v1/workspaces/ws-demo/environments/env-contoso/provider-connection";
const SECRET: &str = "SUPER-SECRET-MARKER-8c1f2d";
const TENANT: &str = "11111111-1111-4111-8111-111111111111";

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

async fn consent_granted_through_the_callback(mode: Mode) {
    let app = spawn_app(mode).await;
    let before: api::ProviderConnection = connection(&app).await;
    assert_eq!((before.configured, before.status.as_str()), (false, "not_configured"));
    let created = create(&app).await;
    assert_eq!(created.status, "not_configured");
    assert_eq!(created.credential.as_ref().map(|c| c.version), Some(1));

    let (url, state) = start(&app).await;
    assert!(url.contains("/contoso.demo.test/v2.0/adminconsent?"), "{url}");
    assert!(url.contains("client_id=55555555-5555-4555-8555-555555555555"));
    assert!(url.contains(&format!(
        "redirect_uri={}",
        urlencode(&format!("{}/api/v1/provider/consent-callback", app.url))
    )));

    let q = [("state", state.as_str()), ("admin_consent", "True"), ("tenant", TENANT)];
    let res = callback(&app, &q).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("/workspaces/ws-demo/environments/env-contoso/provider?consent=granted"));
    let c = connection(&app).await;
    assert_eq!(c.lifecycle.as_deref(), Some("consented"));
    assert_eq!(c.status, "unknown", "consented but not verified yet");
    // The environment and the chooser show the connection's status, not just the lifecycle.
    let env: api::Environment = app
        .get_as(OWNER, "/api/v1/workspaces/ws-demo/environments/env-contoso")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(env.status, "unknown");
    let list: api::WorkspaceList = app.get_as(OWNER, "/api/v1/workspaces").await.json().await.unwrap();
    let demo = list.items.iter().find(|w| w.id == "ws-demo").unwrap();
    assert_eq!(demo.environment_statuses.get("unknown"), Some(&1));

    // The browser repeats the callback: the same answer, nothing changes.
    let snap = app.snapshot().await;
    let res = callback(&app, &q).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("consent=granted"));
    assert_eq!(app.snapshot().await, snap);

    // A replay saying something else is rejected, audited, and changes nothing else.
    let res = callback(&app, &[("state", state.as_str()), ("error", "access_denied")]).await;
    assert!(location(&res).ends_with("consent=rejected&reason=replayed"));
    let after = app.snapshot().await;
    let new: Vec<_> = after.iter().filter(|i| !snap.contains(i)).collect();
    assert_eq!(new.len(), 1);
    assert_eq!(
        (new[0]["outcome"].as_str(), new[0]["reason"].as_str()),
        (Some("denied"), Some("the consent state was replayed"))
    );
    assert_eq!(connection(&app).await.lifecycle.as_deref(), Some("consented"));
    app.stop().await;
}

async fn declined_and_failed_consent_need_attention(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let (_, state) = start(&app).await;
    let res = callback(
        &app,
        &[
            ("state", state.as_str()),
            ("admin_consent", "False"),
            ("tenant", TENANT),
        ],
    )
    .await;
    assert!(location(&res).ends_with("consent=declined"));
    let c = connection(&app).await;
    assert_eq!(
        (c.status.as_str(), c.lifecycle.as_deref()),
        ("needs_attention", Some("consent_failed"))
    );

    let (_, state) = start(&app).await;
    let q = [
        ("state", state.as_str()),
        ("error", "access_denied"),
        ("error_description", "AADSTS65004: User declined to consent"),
    ];
    let res = callback(&app, &q).await;
    assert!(location(&res).ends_with("consent=error"));
    let c = connection(&app).await;
    assert_eq!(c.status, "needs_attention");
    assert!(c.status_reason.contains("AADSTS65004"), "{}", c.status_reason);
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

async fn forged_expired_and_foreign_states_are_rejected(mode: Mode) {
    let app = spawn_app(mode).await;
    create(&app).await;
    let (_, state) = start(&app).await;
    let snap = app.snapshot().await;

    // Forged: a tampered signature, or a state we never issued.
    let mut forged = state.clone();
    forged.pop();
    forged.push(if state.ends_with('A') { 'B' } else { 'A' });
    for bad in [forged.as_str(), "eyJuIjoieCJ9.c2lnbmF0dXJl", "nonsense"] {
        let res = callback(&app, &[("state", bad), ("admin_consent", "True"), ("tenant", TENANT)]).await;
        assert_eq!(res.status(), 400, "{bad}");
        assert!(res.headers().get("location").is_none());
    }
    assert_eq!(app.snapshot().await, snap, "a forged state changes nothing");

    // Another tenant named in the callback: rejected and audited; the state stays usable.
    let res = callback(
        &app,
        &[
            ("state", state.as_str()),
            ("admin_consent", "True"),
            ("tenant", "99999999-9999-4999-8999-999999999999"),
        ],
    )
    .await;
    assert!(location(&res).ends_with("reason=tenant_mismatch"));
    assert_eq!(connection(&app).await.lifecycle.as_deref(), Some("consent_pending"));

    // Expired: issued by a clock 16 minutes behind.
    let mut past = app.app().state.clone();
    let clock = atlas_store::ManualClock::new(time::OffsetDateTime::now_utc() - Duration::from_secs(16 * 60));
    past.clock = Arc::new(clock);
    let ws = atlas_domain::WorkspaceId::parse("ws-demo").unwrap();
    let env = atlas_domain::EnvironmentId::parse("env-contoso").unwrap();
    let (old, _) = atlas_app::consent::issue(&past, &past.secrets, &ws, &env, "u-owner")
        .await
        .unwrap();
    let snap = app.snapshot().await;
    let res = callback(
        &app,
        &[("state", old.as_str()), ("admin_consent", "True"), ("tenant", TENANT)],
    )
    .await;
    assert!(location(&res).ends_with("consent=rejected&reason=expired"));
    let new: Vec<_> = app.snapshot().await.into_iter().filter(|i| !snap.contains(i)).collect();
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
    let changed: Vec<_> = app.snapshot().await.into_iter().filter(|i| !snap.contains(i)).collect();
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

fn urlencode(s: &str) -> String {
    form_urlencoded_byte(s)
}

fn form_urlencoded_byte(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

atlas_tests::on_both_backends!(
    consent_granted_through_the_callback,
    declined_and_failed_consent_need_attention,
    forged_expired_and_foreign_states_are_rejected,
    credential_actions_are_confirmed_and_secrets_never_leave,
);

/// Start → the simulator's admin consent → callback → verify → Ready, with the platform app.
async fn consent_flow_end_to_end_against_the_simulator(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let env = json!({"slug": "env-sim", "display_name": "Simulated", "tenant_id": tenant, "primary_domain": domain});
    assert_eq!(
        app.post_as(OWNER, "/api/v1/workspaces/ws-demo/environments", env)
            .await
            .status(),
        201
    );
    let conn = "/api/v1/workspaces/ws-demo/environments/env-sim/provider-connection";
    let res = app.post_as(OWNER, conn, json!({"tenant": domain})).await;
    assert_eq!(res.status(), 201);
    let c: api::ProviderConnection = res.json().await.unwrap();
    assert_eq!(c.app_mode.as_deref(), Some("platform"));

    let res = app.post_as(OWNER, &format!("{conn}/consent"), json!({})).await;
    let start: api::ConsentStart = res.json().await.unwrap();
    // The tenant administrator's browser: the simulator consents and redirects to our callback.
    let res = app.client.get(&start.consent_url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let back = location(&res);
    assert!(
        back.starts_with(&format!("{}/api/v1/provider/consent-callback?", app.url)),
        "{back}"
    );
    let res = app.client.get(&back).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("/environments/env-sim/provider?consent=granted"));

    let res = app
        .post_as("operator@demo.test", &format!("{conn}/verify"), json!({}))
        .await;
    assert_eq!(res.status(), 202, "operators hold provider.verify");
    let c = verified(&app, conn, res).await;
    let v = c.verification.as_ref().unwrap();
    assert!(v.token_ok);
    assert!(v.permissions.iter().all(|p| p.granted), "{:?}", v.permissions);
    assert_eq!(c.status, "ready", "{}", c.status_reason);

    // Revoked consent: the next verification says Blocked, with Graph's reason.
    atlas_tests::sim::shared()
        .sim
        .revoke(&tenant, atlas_tests::sim::CLIENT_ID);
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    let c = verified(&app, conn, res).await;
    assert_eq!(
        c.status,
        "blocked",
        "{} {:?}",
        c.status_reason,
        c.verification.as_ref().map(|v| v.probes.first().cloned())
    );
    app.stop().await;
}

/// Waits for the verification run to complete, then reads the connection.
async fn verified(app: &TestApp, conn: &str, started: reqwest::Response) -> api::ProviderConnection {
    let run: api::OperationRun = started.json().await.unwrap();
    let path = format!("/api/v1/workspaces/ws-demo/operations/{}", run.id);
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

mod end_to_end {
    #[tokio::test]
    async fn embedded() {
        super::consent_flow_end_to_end_against_the_simulator(atlas_tests::app::Mode::Embedded).await;
    }
    #[tokio::test]
    async fn dynamodb() {
        super::consent_flow_end_to_end_against_the_simulator(atlas_tests::app::Mode::Aws).await;
    }
}
