//! Tenancy and the audit log over HTTP, on both backends: invitations, roles, the last owner,
//! environments, the chooser, `/me`, bad input that changes nothing, and the audit hub.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const WS: &str = "/api/v1/workspaces/ws-demo";

async fn problem(res: reqwest::Response) -> api::Problem {
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

async fn audit(app: &TestApp, query: &str) -> Vec<api::AuditEvent> {
    let res = app.get_as(OWNER, &format!("{WS}/audit-events{query}")).await;
    assert_eq!(res.status(), 200);
    res.json::<api::AuditPage>().await.unwrap().items
}

async fn readonly_denial_is_audited_and_exported(mode: Mode) {
    let app = spawn_app(mode).await;
    assert_eq!(app.get_as(OUTSIDER, &paths::audit_events(DEMO_WS)).await.status(), 404);
    assert_eq!(app.get_as(OWNER, &paths::audit_events(DEMO_WS)).await.status(), 200);

    let before = app.snapshot().await;
    let res = app
        .post_as(
            READONLY,
            &paths::invitations(DEMO_WS),
            json!({"email": "x@demo.test", "role": "readonly", "environments": "all"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let after = app.snapshot().await;
    assert_eq!(
        after.len(),
        before.len() + 1,
        "only the denial's audit event was written"
    );

    let events = audit(&app, "?outcome=denied").await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.action.as_str(), e.actor_email.as_str(), e.outcome.as_str()),
        ("post-invitations", READONLY, "denied")
    );
    assert!(e.reason.as_deref().unwrap().contains("members.manage"));
    assert!(e.request_id.is_some());

    let csv = app.get_as(OWNER, &paths::audit_events_export(DEMO_WS)).await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("id,time_ms,actor_id"));
    assert!(
        text.lines()
            .any(|l| l.contains("\"post-invitations\"") && l.contains("\"denied\"") && l.contains(READONLY))
    );
    app.stop().await;
}

async fn invitation_lifecycle(mode: Mode) {
    let app = spawn_app(mode).await;
    let invite = json!({"email": "Outsider@Other.test", "role": "operator", "environments": ["env-contoso"]});
    let res = app.post_as(OWNER, &paths::invitations(DEMO_WS), invite.clone()).await;
    assert_eq!(res.status(), 201);
    let created: api::InvitationCreated = res.json().await.unwrap();
    assert_eq!(created.invitation.email, OUTSIDER, "emails are normalized");
    assert_eq!(created.invitation.state, "pending");

    // A second pending invitation for the same email, or one for an existing member: 409.
    let before = app.snapshot().await;
    assert_eq!(
        app.post_as(OWNER, &paths::invitations(DEMO_WS), invite.clone())
            .await
            .status(),
        409
    );
    let member = json!({"email": MANAGER, "role": "operator", "environments": "all"});
    assert_eq!(
        app.post_as(OWNER, &paths::invitations(DEMO_WS), member).await.status(),
        409
    );
    assert_eq!(app.snapshot().await, before, "conflicts change nothing");

    // The token is useless to anyone but the invitee, and says nothing to them.
    let accept = json!({"token": created.accept_token});
    let res = app.post_as(MANAGER, "/api/v1/invitations/accept", accept.clone()).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.snapshot().await, before);

    let res = app
        .post_as(OUTSIDER, "/api/v1/invitations/accept", accept.clone())
        .await;
    assert_eq!(res.status(), 200);
    let m: api::MyMembership = res.json().await.unwrap();
    assert_eq!((m.workspace_id.as_str(), m.role.as_str()), ("ws-demo", "operator"));
    assert!(m.capabilities.contains(&"backup.run".to_owned()));
    // Now a member entitled to one environment.
    assert_eq!(
        app.get_as(OUTSIDER, &paths::environment(DEMO_WS, "env-contoso"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_as(OUTSIDER, &paths::environment(DEMO_WS, "env-fabrikam"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_as(OUTSIDER, "/api/v1/invitations/accept", accept)
            .await
            .status(),
        404,
        "single use"
    );

    let list: api::InvitationList = app
        .get_as(OWNER, &paths::invitations(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.items[0].state, "accepted");
    let actions: Vec<String> = audit(&app, "").await.into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"invitation.create".to_owned()) && actions.contains(&"invitation.accept".to_owned()));

    // Revoking: only pending invitations; a revoked token no longer works.
    let created: api::InvitationCreated = app
        .post_as(
            OWNER,
            &paths::invitations(DEMO_WS),
            json!({"email": "late@demo.test", "role": "readonly", "environments": "all"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = paths::invitation(DEMO_WS, &created.invitation.id);
    assert_eq!(app.delete_as(OWNER, &path).await.status(), 204);
    assert_eq!(app.delete_as(OWNER, &path).await.status(), 409);
    app.stop().await;
}

async fn last_owner_is_protected(mode: Mode) {
    let app = spawn_app(mode).await;
    let me = paths::member(DEMO_WS, "u-owner");
    let before = app.snapshot().await;
    let res = app.patch_as(OWNER, &me, json!({"role": "manager"})).await;
    assert_eq!(res.status(), 409);
    assert!(problem(res).await.detail.unwrap().contains("owner"));
    assert_eq!(app.delete_as(OWNER, &me).await.status(), 409);
    assert_eq!(app.snapshot().await, before, "nothing changed");

    // With a second owner, the first may step down.
    assert_eq!(
        app.patch_as(OWNER, &paths::member(DEMO_WS, "u-manager"), json!({"role": "owner"}))
            .await
            .status(),
        200
    );
    let res = app.patch_as(OWNER, &me, json!({"role": "manager"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<api::Member>().await.unwrap().role, "manager");
    let ws: api::Workspace = app.get_as(MANAGER, WS).await.json().await.unwrap();
    assert_eq!(ws.owner_count, 1);
    // The new sole owner cannot leave either; removing another member works.
    assert_eq!(
        app.delete_as(MANAGER, &paths::member(DEMO_WS, "u-manager"))
            .await
            .status(),
        409
    );
    assert_eq!(
        app.delete_as(MANAGER, &paths::member(DEMO_WS, "u-operator"))
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get_as(OPERATOR, WS).await.status(),
        404,
        "a removed member is an outsider"
    );
    app.stop().await;
}

async fn environments_and_entitlements(mode: Mode) {
    let app = spawn_app(mode).await;
    let new = json!({"slug": "env-litware", "display_name": "Litware", "tenant_id": "33333333-3333-4333-8333-333333333333", "primary_domain": "Litware.onmicrosoft.com"});
    let res = app.post_as(MANAGER, &paths::environments(DEMO_WS), new.clone()).await;
    assert_eq!(res.status(), 201);
    let env: api::Environment = res.json().await.unwrap();
    assert_eq!(
        (env.primary_domain.as_str(), env.status.as_str()),
        ("litware.onmicrosoft.com", "not_configured")
    );

    let before = app.snapshot().await;
    let res = app.post_as(MANAGER, &paths::environments(DEMO_WS), new.clone()).await;
    assert_eq!(res.status(), 409);
    let mut same_tenant = new.clone();
    same_tenant["slug"] = json!("env-litware-2");
    let res = app.post_as(MANAGER, &paths::environments(DEMO_WS), same_tenant).await;
    assert_eq!(res.status(), 409);
    assert!(problem(res).await.detail.unwrap().contains("tenant"));
    assert_eq!(app.snapshot().await, before);

    let list: api::EnvironmentList = app
        .get_as(READONLY, &paths::environments(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.items.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["env-contoso"],
        "only entitled ones"
    );
    let list: api::EnvironmentList = app
        .get_as(OPERATOR, &paths::environments(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.items.len(), 3);

    let res = app
        .patch_as(
            MANAGER,
            &paths::environment(DEMO_WS, "env-litware"),
            json!({"lifecycle": "suspended"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<api::Environment>().await.unwrap().status, "blocked");
    let events = audit(&app, "?environment_id=env-litware").await;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["environment.update", "environment.create"]
    );
    app.stop().await;
}

async fn bad_input_is_refused_by_name_and_changes_nothing(mode: Mode) {
    let app = spawn_app(mode).await;
    let before = app.snapshot().await;
    let cases: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (Method::GET, "/api/v1/workspaces/WS_DEMO".into(), None, 400, "path.ws"),
        (Method::GET, format!("{WS}/environments/env%20x"), None, 400, "path.env"),
        (
            Method::POST,
            paths::environments(DEMO_WS),
            Some(
                json!({"slug": "env-a", "display_name": "A", "tenant_id": "33333333-3333-4333-8333-333333333333", "primary_domain": "a.test", "colour": "red"}),
            ),
            400,
            "colour",
        ),
        (
            Method::POST,
            paths::environments(DEMO_WS),
            Some(json!({"slug": "env-a", "display_name": "A", "tenant_id": "not-a-guid", "primary_domain": "a.test"})),
            400,
            "tenant_id",
        ),
        (
            Method::POST,
            paths::invitations(DEMO_WS),
            Some(json!({"email": "nope", "role": "owner", "environments": ["env-zzz"]})),
            400,
            "email",
        ),
        // The role is a closed vocabulary: refused by name before anything else is read.
        (
            Method::POST,
            paths::invitations(DEMO_WS),
            Some(json!({"email": "new@example.test", "role": "king", "environments": "all"})),
            400,
            "role",
        ),
        (
            Method::PATCH,
            paths::environment(DEMO_WS, "env-contoso"),
            Some(json!({"lifecycle": "paused"})),
            400,
            "lifecycle",
        ),
        (
            Method::PATCH,
            paths::member(DEMO_WS, "u-operator"),
            Some(json!({"role": 7})),
            400,
            "role",
        ),
        (
            Method::GET,
            format!("{WS}/audit-events?tenant=env-contoso"),
            None,
            400,
            "query.tenant",
        ),
        (
            Method::GET,
            format!("{WS}/audit-events?environment_id=env-fabrikam&limit=5"),
            None,
            200,
            "",
        ),
        (
            Method::GET,
            format!("{WS}/audit-events?limit=0"),
            None,
            400,
            "query.limit",
        ),
        (
            Method::GET,
            format!("{WS}/environments?environment_id=env-contoso"),
            None,
            400,
            "query.environment_id",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let mut req = app.req(method.clone(), &path, Some(OWNER));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{method} {path}");
        if status == 400 {
            let p = problem(res).await;
            assert!(
                p.errors.iter().any(|e| e.field == field),
                "{method} {path}: expected field {field} in {:?}",
                p.errors
            );
        }
    }
    // A closed vocabulary's message names the values it allows.
    for (path, body, field) in [
        (paths::member(DEMO_WS, "u-operator"), json!({"role": "king"}), "role"),
        (
            paths::environment(DEMO_WS, "env-contoso"),
            json!({"lifecycle": "paused"}),
            "lifecycle",
        ),
    ] {
        let p = problem(app.patch_as(OWNER, &path, body).await).await;
        let e = p.errors.iter().find(|e| e.field == field).expect(field);
        assert!(
            e.message.contains("paused") || e.message.contains("king"),
            "{field}: {}",
            e.message
        );
        for allowed in if field == "role" {
            &["owner", "manager", "operator", "readonly"][..]
        } else {
            &["active", "suspended", "archived"][..]
        } {
            assert!(e.message.contains(allowed), "{field}: {} lacks {allowed}", e.message);
        }
    }
    // The readonly member filtering by an environment they are not entitled to: refused like an unknown one.
    let res = app
        .get_as(READONLY, &format!("{WS}/audit-events?environment_id=env-fabrikam"))
        .await;
    assert_eq!(res.status(), 403, "readonly lacks audit.view altogether");
    let res = app
        .get_as(OWNER, &format!("{WS}/audit-events?environment_id=env-nothing"))
        .await;
    assert_eq!(res.status(), 400);

    // Too large, and not JSON.
    let big = json!({"name": "x".repeat(70 * 1024), "slug": "big"});
    let res = app.post_as(OWNER, "/api/v1/workspaces", big).await;
    assert_eq!(res.status(), 413);
    assert_eq!(problem(res).await.status, 413);
    let res = app
        .req(Method::POST, "/api/v1/workspaces", Some(OWNER))
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(app.snapshot().await, before, "nothing changed on any 4xx");
    app.stop().await;
}

async fn tokens_are_checked(mode: Mode) {
    let app = spawn_app(mode).await;
    let res = app.client.get(format!("{}/api/v1/me", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let forged = app
        .client
        .get(format!("{}/api/v1/me", app.url))
        .bearer_auth("eyJhbGciOiJub25lIn0.e30.")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // Signed by another key under the same issuer URL.
    let other = atlas_app::identity::issuer::LocalIssuer::new(
        format!("{}/oidc", app.url),
        atlas_app::config::DEFAULT_AUDIENCE.into(),
        atlas_app::identity::issuer::LocalIssuer::generate_key(),
        std::sync::Arc::new(atlas_store::SystemClock),
    )
    .unwrap();
    let token = other.issue(&atlas_app::identity::DEMO_USERS[0], std::time::Duration::from_secs(60));
    let res = app
        .client
        .get(format!("{}/api/v1/me", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let me: api::Me = app.get_as(READONLY, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me.memberships.len(), 1);
    assert_eq!(
        me.memberships[0].environments,
        api::Environments::Only(vec!["env-contoso".into()])
    );
    assert!(me.memberships[0].capabilities.contains(&"workspace.view".to_owned()));
    assert!(!me.memberships[0].capabilities.contains(&"backup.run".to_owned()));
    app.stop().await;
}

async fn workspace_chooser(mode: Mode) {
    let app = spawn_app(mode).await;
    let res = app
        .post_as(
            OWNER,
            "/api/v1/workspaces",
            json!({"name": "Alpha Corp", "slug": "alpha"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        app.post_as(OWNER, "/api/v1/workspaces", json!({"name": "Again", "slug": "alpha"}))
            .await
            .status(),
        409
    );
    let names = |l: api::WorkspaceList| l.items.iter().map(|w| w.name.clone()).collect::<Vec<_>>();
    let l: api::WorkspaceList = app.get_as(OWNER, "/api/v1/workspaces").await.json().await.unwrap();
    assert_eq!(names(l.clone()), ["Alpha Corp", "Demo MSP"]);
    let demo = l.items.iter().find(|w| w.id == "ws-demo").unwrap();
    assert_eq!((demo.environment_count, demo.role.as_str()), (2, "owner"));
    assert_eq!(demo.environment_statuses.get("not_configured"), Some(&2));

    assert_eq!(
        app.req(Method::PUT, &paths::workspace_pin(DEMO_WS), Some(OWNER))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let l: api::WorkspaceList = app.get_as(OWNER, "/api/v1/workspaces").await.json().await.unwrap();
    assert_eq!(names(l.clone()), ["Demo MSP", "Alpha Corp"], "pinned first");
    assert!(l.items[0].pinned);
    let l: api::WorkspaceList = app
        .get_as(OWNER, "/api/v1/workspaces?search=alp")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(l), ["Alpha Corp"]);
    assert_eq!(app.get_as(OWNER, "/api/v1/workspaces?sort=size").await.status(), 400);
    assert_eq!(app.delete_as(OWNER, &paths::workspace_pin(DEMO_WS)).await.status(), 204);
    let l: api::WorkspaceList = app
        .get_as(OWNER, "/api/v1/workspaces?sort=last_activity")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(l), ["Alpha Corp", "Demo MSP"], "most recently active first");

    let l: api::WorkspaceList = app.get_as(READONLY, "/api/v1/workspaces").await.json().await.unwrap();
    assert_eq!(l.items.len(), 1);
    assert_eq!(l.items[0].environment_count, 1, "counts only entitled environments");
    let l: api::WorkspaceList = app.get_as(OUTSIDER, "/api/v1/workspaces").await.json().await.unwrap();
    assert_eq!(names(l), ["Other Corp"]);
    app.stop().await;
}

async fn audit_hub_pages_and_filters(mode: Mode) {
    let app = spawn_app(mode).await;
    for i in 0..7 {
        let body = json!({"email": format!("p{i}@demo.test"), "role": "readonly", "environments": "all"});
        assert_eq!(
            app.post_as(OWNER, &paths::invitations(DEMO_WS), body).await.status(),
            201
        );
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q = match &next {
            Some(c) => format!("?action=invitation.create&limit=3&cursor={c}"),
            None => "?action=invitation.create&limit=3".into(),
        };
        let page: api::AuditPage = app
            .get_as(OWNER, &format!("{WS}/audit-events{q}"))
            .await
            .json()
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|e| e.id));
        match page.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "every event once");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");
    let by_actor = audit(&app, &format!("?actor={OWNER}&outcome=success")).await;
    assert_eq!(by_actor.len(), 7);
    let none = audit(&app, "?from=1&to=2").await;
    assert!(none.is_empty(), "time range bounds the events");
    app.stop().await;
}

atlas_tests::on_both_backends!(
    readonly_denial_is_audited_and_exported,
    invitation_lifecycle,
    last_owner_is_protected,
    environments_and_entitlements,
    bad_input_is_refused_by_name_and_changes_nothing,
    tokens_are_checked,
    workspace_chooser,
    audit_hub_pages_and_filters,
);
