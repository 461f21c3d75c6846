//! The authorization matrix, generated from the route registry: every route × {anonymous,
//! outsider, member not entitled to the environment, member without the capability, permitted
//! member} → 401 / 404 / 404 / 403 / 2xx. A 404 must say nothing a missing record would not.

use std::collections::BTreeMap;

use atlas_app::registry::{Access, Route, TableAccess, routes};
use atlas_domain::Role;
use atlas_tests::app::{Mode, OUTSIDER, OWNER, PLATFORM, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const ROLES: [(Role, &str); 4] = [
    (Role::Readonly, "readonly@demo.test"),
    (Role::Operator, "operator@demo.test"),
    (Role::Manager, "manager@demo.test"),
    (Role::Owner, "owner@demo.test"),
];

/// Values for path parameters and body placeholders, made fresh for each route. Sub-resources
/// of the provider connection (and its consent callback) get a connection to act on.
async fn fixtures(app: &TestApp, env: &str, r: &Route) -> BTreeMap<&'static str, String> {
    let mut f = BTreeMap::from([
        ("ws", "ws-demo".to_owned()),
        ("env", env.to_owned()),
        ("user", "u-operator".to_owned()),
    ]);
    if atlas_tests::promotion::wants(r.path) {
        f.extend(atlas_tests::promotion::world(app, r.path).await);
    }
    // An invitation for the outsider: its id for routes that name one, its token for acceptance.
    let res = app
        .post_as(
            OWNER,
            "/api/v1/workspaces/ws-demo/invitations",
            json!({"email": OUTSIDER, "role": "readonly", "environments": "all"}),
        )
        .await;
    assert_eq!(res.status(), 201, "fixture invitation");
    let created: Value = res.json().await.unwrap();
    f.insert("invitation", created["invitation"]["id"].as_str().unwrap().to_owned());
    f.insert("invitation_token", created["accept_token"].as_str().unwrap().to_owned());
    f.insert("tenant_id", "11111111-1111-4111-8111-111111111111".to_owned());
    let needs_run = r.path.contains("{run}");
    let creates_connection = r.path.ends_with("/provider-connection") && r.method == "POST";
    // Everything about an environment acts on its connected provider, but creating the connection.
    let needs_connection = (r.path.contains("{env}") && !creates_connection)
        || r.path.contains("/provider/")
        || r.path.contains("/captures")
        || needs_run;
    if needs_connection {
        let conn = "/api/v1/workspaces/ws-demo/environments/env-contoso/provider-connection";
        let body = json!({"tenant": "contoso.demo.test", "dedicated_app": {"client_id": "55555555-5555-4555-8555-555555555555", "client_secret": "fixture-secret-value"}});
        assert_eq!(app.post_as(OWNER, conn, body).await.status(), 201, "fixture connection");
        let res = app.post_as(OWNER, &format!("{conn}/consent"), json!({})).await;
        assert_eq!(res.status(), 200, "fixture consent");
        let url: Value = res.json().await.unwrap();
        let url = url["consent_url"].as_str().unwrap().to_owned();
        let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
        f.insert("consent_state", percent_decode(state));
        if !r.path.contains("/provider/") {
            // Sub-resources act on a consented connection (its tenant's proof seeded).
            app.seed_consent("ws-demo", "env-contoso").await;
        }
        if r.path.ends_with("/provider-connection/enable") {
            // Enabling acts on a disabled connection.
            let res = app
                .post_as(OWNER, &format!("{conn}/disable"), json!({"confirm": "Contoso (demo)"}))
                .await;
            assert_eq!(res.status(), 200, "fixture disable");
        }
    }
    if r.path.contains("{pack}") || r.path.contains("evidence-download") {
        // A ready evidence pack of the workspace, and a download link's token.
        let to = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let body = json!({"from": to - 86_400_000, "to": to});
        let view = app.run_to_completion("/api/v1/workspaces/ws-demo/evidence", body).await;
        f.insert("pack", view.run.id.clone());
        let res = app
            .post_as(
                OWNER,
                &format!("/api/v1/workspaces/ws-demo/evidence/{}/link", view.run.id),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 201, "fixture evidence link");
        let link: Value = res.json().await.unwrap();
        let url = link["url"].as_str().unwrap();
        f.insert("evidence_token", url.split("token=").nth(1).unwrap().to_owned());
    }
    if r.path.contains("{schedule}") {
        let path = "/api/v1/workspaces/ws-demo/environments/env-contoso/backup-schedules";
        let res = app
            .post_as(
                OWNER,
                path,
                json!({"every_minutes": 60, "time_zone": "UTC", "first_due_ms": far_future_ms()}),
            )
            .await;
        assert_eq!(res.status(), 201, "fixture schedule");
        let sched: Value = res.json().await.unwrap();
        f.insert("schedule", sched["id"].as_str().unwrap().to_owned());
    }
    let restores = r.path.contains("/restores");
    let drift = r.path.contains("/baselines")
        || r.path.contains("/drift")
        || r.path.contains("/findings")
        || r.path.contains("/exceptions");
    if r.path.contains("{set}") || r.path.contains("{item}") || restores || drift {
        // A captured backup and a synced inventory item, written as the steps would.
        let (set, item) = ("01jfixture0000000000000000", "fixture-item");
        use atlas_app::records::{backups, inventory, keys, runs};
        let env = keys::env_pk(
            &atlas_domain::WorkspaceId::parse("ws-demo").unwrap(),
            &atlas_domain::EnvironmentId::parse("env-contoso").unwrap(),
        );
        let set_id = atlas_domain::RunId::parse(set).unwrap();
        let retry = r.path.ends_with("/retry");
        let outcome = if retry { "partially_succeeded" } else { "succeeded" };
        let rows = [
            json!({"PK": env, "SK": backups::set_sk(&set_id), "entity": "backup_set", "set_id": set, "families": ["deviceConfigurations"], "created_ms": 1}),
            json!({"PK": env, "SK": backups::item_sk(&set_id, "deviceConfigurations", item), "entity": "backup_item", "set_id": set, "family": "deviceConfigurations", "item_id": item, "name": "Fixture", "hash": "h1"}),
            json!({"PK": env, "SK": backups::blob_sk("h1"), "entity": "backup_blob", "hash": "h1", "payload": {"id": item, "displayName": "Fixture"}}),
            json!({"PK": env, "SK": backups::blob_ref_sk("h1"), "entity": "backup_blob_ref", "hash": "h1", "last_referenced_ms": 1}),
            json!({"PK": env, "SK": inventory::family_sk("deviceConfigurations"), "entity": "inventory_family", "family": "deviceConfigurations", "status": "ok", "at_ms": 1}),
            json!({"PK": runs::run_pk(set), "SK": "RUN", "entity": "operation_run", "run_id": set, "type": "backup.capture",
                "workspace_id": "ws-demo", "environment_id": "env-contoso", "status": "completed", "outcome": outcome,
                "counts": {"total": 1}}),
            json!({"PK": env, "SK": inventory::item_sk("deviceConfigurations", item), "entity": "inventory_item", "item_id": item, "family": "deviceConfigurations", "name": "Fixture", "status": "active", "payload": {"id": item}}),
        ];
        // A partial set for the route that retries failed items: its one family failed.
        let failed = json!({"PK": runs::run_pk(set), "SK": runs::item_sk("deviceConfigurations"), "entity": "run_item",
            "run_id": set, "item": "deviceConfigurations", "result": "failed", "detail": {}, "at_ms": 1});
        for row in rows.into_iter().chain(retry.then_some(failed)) {
            app.app()
                .state
                .table
                .put(row.as_object().cloned().unwrap(), None)
                .await
                .unwrap();
        }
        f.insert("set", set.to_owned());
        f.insert("family", "deviceConfigurations".to_owned());
        f.insert("item", item.to_owned());
    }
    if restores || r.path.contains("/directory/") {
        // Restores and the directory read live: the fixture connection signs in to a simulator
        // tenant instead.
        let (tenant, _) = atlas_tests::sim::new_tenant();
        atlas_tests::sim::shared()
            .sim
            .grant(&tenant, atlas_tests::sim::CLIENT_ID, atlas_graph_sim::ALL_ROLES);
        let key = atlas_store::Key::new("WS#ws-demo#ENV#env-contoso", "PROVIDER");
        let point = atlas_store::Update::new()
            .set("tenant_id", tenant)
            .set("app_mode", "platform");
        app.app().state.table.update(&key, &point, None).await.unwrap();
    }
    if drift {
        // A baseline of env-contoso with one snapshot, assigned to it, and a finding.
        let body = json!({"name": "Fixture baseline", "source_environment_id": "env-contoso", "families": ["deviceConfigurations"]});
        let res = app.post_as(OWNER, "/api/v1/workspaces/ws-demo/baselines", body).await;
        assert_eq!(res.status(), 201, "fixture baseline");
        let b: Value = res.json().await.unwrap();
        let id = b["id"].as_str().unwrap().to_owned();
        let res = app
            .post_as(
                OWNER,
                &format!("/api/v1/workspaces/ws-demo/baselines/{id}/snapshots"),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 201, "fixture snapshot");
        let assign = format!("/api/v1/workspaces/ws-demo/environments/env-contoso/baselines/{id}");
        let res = app
            .req(Method::PUT, &assign, Some(OWNER))
            .json(&json!({"priority": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "fixture assignment");
        // The assignment started a first detection: let it end, so it writes nothing during the
        // cases (a 403 must change nothing).
        let runs = "/api/v1/workspaces/ws-demo/operations?operation_type=drift.detect";
        atlas_tests::app::eventually("the first detection to end", app.run_deadline(), || async {
            let page: Value = app.get_as(OWNER, runs).await.json().await.ok()?;
            let items = page["items"].as_array()?;
            items.iter().all(|r| r["state"] == "completed").then_some(())
        })
        .await;
        let env = atlas_domain::EnvironmentId::parse("env-contoso").unwrap();
        let d = atlas_app::findings::Detection {
            environment_id: env.clone(),
            source: atlas_domain::findings::FindingSource::Drift,
            object_key: format!("{id}/deviceConfigurations/fixture-item"),
            property: "/description".into(),
            severity: atlas_domain::findings::Severity::Medium,
            title: "Fixture differs".into(),
            family: Some("deviceConfigurations".into()),
            object_id: Some("fixture-item".into()),
            baseline_object_id: Some("fixture-item".into()),
            object_name: "Fixture".into(),
            kind: Some(atlas_domain::drift::DriftKind::Changed),
            desired: Some(json!("a")),
            current: Some(json!("b")),
            matched_by: None,
            baseline_id: Some(id.clone()),
            changed_by: None,
        };
        let cover = atlas_tests::findings::drift_coverage(&env, "deviceConfigurations");
        let ws = atlas_domain::WorkspaceId::parse("ws-demo").unwrap();
        atlas_app::findings::observe(&app.app().state, &ws, vec![d.clone()], &cover)
            .await
            .unwrap();
        f.insert("finding", d.fingerprint());
        f.insert("finding_id", d.fingerprint());
        f.insert("baseline", id);
        if r.path.contains("{exception}") {
            // Requested by the operator: the manager may approve or reject it (not their own),
            // and the operator may withdraw it.
            let body = json!({"justification": "Fixture", "expires_ms": atlas_app::exceptions::days_from_now(30)});
            let path = format!("/api/v1/workspaces/ws-demo/findings/{}/exceptions", d.fingerprint());
            let res = app.post_as("operator@demo.test", &path, body).await;
            assert_eq!(res.status(), 201, "fixture exception");
            let e: Value = res.json().await.unwrap();
            f.insert("exception", e["id"].as_str().unwrap().to_owned());
        }
    }
    if r.path.contains("/alert-") {
        let w = app.alert_world().await;
        f.insert("destination", w.destination);
        f.insert("rule", w.rule);
        f.insert("delivery", w.delivery);
    }
    if r.path.contains("{restore}") {
        let base = "/api/v1/workspaces/ws-demo/environments/env-contoso/restores";
        let res = app.post_as(OWNER, base, json!({"backup_set_id": f["set"]})).await;
        assert_eq!(res.status(), 201, "fixture restore");
        let restore: Value = res.json().await.unwrap();
        let id = restore["id"].as_str().unwrap().to_owned();
        let res = app.post_as(OWNER, &format!("{base}/{id}/previews"), json!({})).await;
        assert_eq!(res.status(), 201, "fixture preview");
        let preview: Value = res.json().await.unwrap();
        f.insert("preview", preview["id"].as_str().unwrap().to_owned());
        f.insert("fingerprint", preview["fingerprint"].as_str().unwrap().to_owned());
        f.insert("restore", id);
    }
    if r.path.contains("{draft}") {
        // A draft the wizard started, its consent seeded: verifying is its next step.
        let body = json!({"display_name": "Litware", "tenant": "33333333-3333-4333-8333-333333333333"});
        let res = app.post_as(OWNER, "/api/v1/workspaces/ws-demo/onboarding", body).await;
        assert_eq!(res.status(), 201, "fixture draft");
        let d: Value = res.json().await.unwrap();
        let id = d["id"].as_str().unwrap().to_owned();
        app.seed_consent("ws-demo", &id).await;
        f.insert("draft", id);
    }
    if r.path.contains("{support}") {
        // The readonly member's own request: the first role holding the capability reads it.
        let body = json!({"source_type": "generic", "issue_kind": "other", "message": "Fixture"});
        let res = app
            .post_as(
                "readonly@demo.test",
                "/api/v1/workspaces/ws-demo/support-requests",
                body,
            )
            .await;
        assert_eq!(res.status(), 201, "fixture support request");
        let created: Value = res.json().await.unwrap();
        f.insert("support", created["id"].as_str().unwrap().to_owned());
    }
    if needs_run {
        let res = app
            .post_as(
                OWNER,
                "/api/v1/workspaces/ws-demo/environments/env-contoso/provider-connection/verify",
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 202, "fixture run");
        let run: Value = res.json().await.unwrap();
        f.insert("run", run["id"].as_str().unwrap().to_owned());
    }
    f
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn fill(path: &str, f: &BTreeMap<&str, String>) -> String {
    let mut p = path.to_owned();
    for (k, v) in f {
        p = p.replace(&format!("{{{k}}}"), v);
    }
    assert!(!p.contains('{'), "no fixture for a parameter of {path}");
    p
}

fn body(r: &Route, f: &BTreeMap<&str, String>) -> Option<Value> {
    let mut v = r.example.map(|e| e())?;
    if let Value::Object(m) = &mut v {
        // Placeholders as values and inside lists of values (`"destinations": ["{destination}"]`).
        let values = m.values_mut().flat_map(|val| match val {
            Value::Array(a) => a.iter_mut().collect::<Vec<_>>(),
            other => vec![other],
        });
        for val in values {
            if let Value::String(s) = val
                && let Some(k) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                && let Some(x) = f.get(k)
            {
                *s = x.clone();
            }
        }
    }
    Some(v)
}

async fn call(
    app: &TestApp,
    r: &Route,
    path: &str,
    as_user: Option<&str>,
    f: &BTreeMap<&str, String>,
) -> (u16, String) {
    let method = Method::from_bytes(r.method.as_str().as_bytes()).unwrap();
    let mut req = app.req(method, path, as_user);
    if let Some(b) = body(r, f) {
        if r.method == "GET" {
            let pairs: Vec<(String, String)> = b
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            req = req.query(&pairs);
        } else {
            req = req.json(&b);
        }
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Items without the audit chain's head (`audit_seq`, `audit_head` on the workspace item): the
/// denial's event moves it, in the same write.
fn unchained(mut items: Vec<atlas_store::Item>) -> Vec<atlas_store::Item> {
    for i in items.iter_mut() {
        i.remove("audit_seq");
        i.remove("audit_head");
    }
    items
}

/// A 404 body with the request id removed, for comparison.
fn normalized(body: &str) -> Value {
    let mut v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("request_id");
    }
    v
}

fn assert_leaks_nothing(body: &str, reference: &Value, case: &str) {
    assert_eq!(
        &normalized(body),
        reference,
        "{case}: a 404 looks like any missing record"
    );
    for secret in ["Demo MSP", "Contoso", "Fabrikam", "demo.test", "u-owner", "owner"] {
        assert!(
            !body.contains(secret),
            "{case}: the 404 body mentions {secret:?}: {body}"
        );
    }
}

async fn matrix(mode: Mode) {
    let mut cases = 0;
    // Authorization happens before any store is touched, so every route runs on the embedded
    // store; on DynamoDB (moto, tens of times slower) the routes that write, where a refusal must
    // leave the real protocol server unchanged.
    let all: Vec<Route> = routes()
        .into_iter()
        .filter(|r| mode == Mode::Embedded || r.table == TableAccess::Write)
        .collect();
    for r in &all {
        let app = spawn_app(mode).await;
        let f = fixtures(&app, "env-contoso", r).await;
        let path = fill(r.path, &f);
        let is_env = r.path.contains("{env}");
        let reference = if !matches!(r.access, Access::Capability(_)) {
            Value::Null
        } else {
            let (_, b) = call(
                &app,
                r,
                &fill(
                    r.path,
                    &BTreeMap::from([
                        ("ws", "ws-nothing".into()),
                        ("env", "env-nothing".into()),
                        ("user", "u-nobody".into()),
                        ("invitation", "inv-nothing".into()),
                        ("run", "01jnothere0000000000000000".into()),
                        ("set", "01jnothere0000000000000000".into()),
                        ("family", "deviceConfigurations".into()),
                        ("item", "nothing-here".into()),
                        ("schedule", "01jnothere0000000000000000".into()),
                        ("restore", "01jnothere0000000000000000".into()),
                        ("baseline", "01jnothere0000000000000000".into()),
                        ("finding", "nothing-here".into()),
                        ("exception", "01jnothere0000000000000000".into()),
                        ("rule", "01jnothere0000000000000000".into()),
                        ("destination", "01jnothere0000000000000000".into()),
                        ("delivery", "01jnothere0000000000000000".into()),
                        ("pack", "01jnothere0000000000000000".into()),
                        ("promotion", "01jnothere0000000000000000".into()),
                        ("draft", "env-nothing".into()),
                        ("support", "01jnothere0000000000000000".into()),
                    ]),
                ),
                Some(OWNER),
                &f,
            )
            .await;
            normalized(&b)
        };
        let name = format!("{} {}", r.method, r.path);
        match r.access {
            Access::Public => {
                let (s, b) = call(&app, r, &path, None, &f).await;
                assert_eq!(s, r.status, "{name} anonymous: {b}");
                cases += 1;
            }
            Access::SignedIn => {
                let (s, b) = call(&app, r, &path, None, &f).await;
                assert_eq!(s, 401, "{name} anonymous: {b}");
                let (s, b) = call(&app, r, &path, Some(OUTSIDER), &f).await;
                assert_eq!(s, r.status, "{name} signed in: {b}");
                cases += 2;
            }
            Access::Platform => {
                // Everyone but a platform operator: as if the route did not exist.
                let (s, b) = call(&app, r, &path, None, &f).await;
                assert_eq!(s, 401, "{name} anonymous: {b}");
                for who in [OUTSIDER, OWNER] {
                    let (s, b) = call(&app, r, &path, Some(who), &f).await;
                    assert_eq!(s, 404, "{name} as {who}: {b}");
                }
                let (s, b) = call(&app, r, &path, Some(PLATFORM), &f).await;
                assert_eq!(s, r.status, "{name} as the platform operator: {b}");
                cases += 4;
            }
            Access::Capability(cap) => {
                assert!(
                    r.path.contains("{ws}"),
                    "{name}: a capability route is scoped by its workspace"
                );
                let (s, b) = call(&app, r, &path, None, &f).await;
                assert_eq!(s, 401, "{name} anonymous: {b}");
                let (s, b) = call(&app, r, &path, Some(OUTSIDER), &f).await;
                assert_eq!(s, 404, "{name} outsider: {b}");
                assert_leaks_nothing(&b, &reference, &format!("{name} outsider"));
                cases += 2;
                if is_env {
                    let mut g = f.clone();
                    g.insert("env", "env-fabrikam".into());
                    let (s, b) = call(&app, r, &fill(r.path, &g), Some("readonly@demo.test"), &g).await;
                    assert_eq!(s, 404, "{name} not entitled: {b}");
                    assert_leaks_nothing(&b, &reference, &format!("{name} not entitled"));
                    cases += 1;
                }
                if let Some((role, email)) = ROLES.iter().find(|(role, _)| !role.can(cap)) {
                    let before = unchained(app.snapshot().await);
                    let (s, b) = call(&app, r, &path, Some(email), &f).await;
                    assert_eq!(s, 403, "{name} as {role} (lacks {cap}): {b}");
                    let after = unchained(app.snapshot().await);
                    let changed: Vec<_> = after.iter().filter(|i| !before.contains(i)).collect();
                    assert!(
                        changed
                            .iter()
                            .all(|i| i["entity"] == "audit_event" && i["outcome"] == "denied"),
                        "{name}: a 403 changes nothing but the denial's audit event: {changed:?}"
                    );
                    if r.method != "GET" {
                        assert_eq!(changed.len(), 1, "{name}: the denial is audited");
                    }
                    cases += 1;
                }
                let (role, email) = ROLES
                    .iter()
                    .find(|(role, _)| role.can(cap))
                    .expect("someone holds every capability");
                let (s, b) = call(&app, r, &path, Some(email), &f).await;
                assert_eq!(s, r.status, "{name} as {role} (holds {cap}): {b}");
                cases += 1;
            }
        }
        app.stop().await;
    }
    println!(
        "authorization matrix ({mode:?}): {} routes, {cases} cases, all as expected",
        all.len()
    );
}

#[tokio::test]
async fn authorization_matrix_embedded() {
    matrix(Mode::Embedded).await;
}

#[tokio::test]
async fn authorization_matrix_dynamodb() {
    matrix(Mode::Aws).await;
}

/// A due time that never comes during a test, within the schedules' bound (five years ahead).
fn far_future_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    now + 300 * 86_400_000
}
