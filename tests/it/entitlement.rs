//! Nothing of an environment a member is not entitled to leaks (spec 008): a restore sourced from
//! one is absent on every load and blocks its run at execution; member and invitation lists and
//! the audit log (JSON and CSV) show only the environments the reader is entitled to.

use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{
    MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, eventually, spawn_app, spawn_without_workers,
};
use serde_json::{Value, json};

const WS: &str = "/api/v1/workspaces/ws-demo";

fn sim() -> &'static atlas_graph_sim::Simulator {
    &atlas_tests::sim::shared().sim
}

/// Limits `user` to `envs` (an array of environment ids, or "all"), as the owner.
async fn entitle(app: &TestApp, user: &str, envs: Value) {
    let res = app
        .patch_as(OWNER, &paths::member(DEMO_WS, user), json!({"environments": envs}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
}

/// Every event of the audit log `as_user` may read, through every page.
async fn audit_all(app: &TestApp, as_user: &str, query: &str) -> Vec<api::AuditEvent> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if query.is_empty() { "?" } else { "&" };
        let path = match &cursor {
            Some(c) => format!("{WS}/audit-events{query}{sep}limit=200&cursor={c}"),
            None => format!("{WS}/audit-events{query}{sep}limit=200"),
        };
        let res = app.get_as(as_user, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        let page: api::AuditPage = res.json().await.unwrap();
        out.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return out,
        }
    }
}

async fn csv(app: &TestApp, as_user: &str) -> String {
    let res = app.get_as(as_user, &paths::audit_events_export(DEMO_WS)).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// Two connected environments; a backup of `a` holding one device configuration renamed to
/// `name` (tenant B has no object of that name, so a restore into B creates it). Returns
/// `(env a path, env b path, tenant b, backup set id, item key)`.
async fn two_envs_and_a_backup(
    app: &TestApp,
    a: &str,
    b: &str,
    name: &str,
    deliver: bool,
) -> (String, String, String, String, String) {
    let (ta, env_a) = app.connected_env(a).await;
    let (tb, env_b) = app.connected_env(b).await;
    let x = sim().objects(&ta, "deviceConfigurations")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only the built-in scope tag: a tenant's custom tags are seeded from its own random draw,
    // and a tag the target lacks is a preview blocker these tests are not about.
    assert!(sim().patch_object(
        &ta,
        "deviceConfigurations",
        &x,
        json!({"displayName": name, "roleScopeTagIds": ["0"]})
    ));
    let body = json!({"families": ["deviceConfigurations"]});
    let set = if deliver {
        let res = app.post_as(OWNER, &format!("{env_a}/backups"), body).await;
        assert_eq!(res.status(), 202);
        let run: api::OperationRun = res.json().await.unwrap();
        app.deliver("backup-capture").await;
        run.id
    } else {
        let v = app.run_to_completion(&format!("{env_a}/backups"), body).await;
        assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
        v.run.id
    };
    (env_a, env_b, tb, set, format!("deviceConfigurations/{x}"))
}

fn restore_body(set: &str, source: &str, key: &str) -> Value {
    json!({"backup_set_id": set, "source_environment_id": source, "include_assignments": false, "items": [key]})
}

async fn draft_as(app: &TestApp, user: &str, env: &str, body: Value) -> api::Restore {
    let res = app.post_as(user, &format!("{env}/restores"), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

async fn preview_as(app: &TestApp, user: &str, env: &str, restore: &str) -> api::RestorePreview {
    let res = app
        .post_as(user, &format!("{env}/restores/{restore}/previews"), json!({}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

fn confirm_body(p: &api::RestorePreview, name: &str) -> Value {
    json!({"preview_id": p.id, "fingerprint": p.fingerprint, "confirm": name})
}

async fn restore_ids(app: &TestApp, user: &str, env: &str) -> Vec<String> {
    let res = app.get_as(user, &format!("{env}/restores")).await;
    assert_eq!(res.status(), 200);
    let list: api::RestoreList = res.json().await.unwrap();
    list.items.into_iter().map(|r| r.id).collect()
}

/// Every load route of a restore, as `user`: each status (bodies checked by the caller).
async fn load_statuses(app: &TestApp, user: &str, env: &str, id: &str, confirm: &Value) -> Vec<(String, u16)> {
    let base = format!("{env}/restores/{id}");
    let mut out = vec![("get".to_owned(), app.get_as(user, &base).await.status().as_u16())];
    for (what, path, body) in [
        ("preview", format!("{base}/previews"), json!({})),
        ("confirm", format!("{base}/confirm"), confirm.clone()),
        ("cancel", format!("{base}/cancel"), json!({})),
    ] {
        out.push((what.to_owned(), app.post_as(user, &path, body).await.status().as_u16()));
    }
    out
}

/// A member entitled only to the target sees a restore sourced from another environment
/// exactly as a missing one: 404 on get (readiness), preview, confirm and cancel, omitted from
/// the list, and its draft event omitted from the audit log. Outsiders and a readonly member
/// entitled elsewhere get 404 too. Nothing is written by any of these.
async fn a_restore_from_an_unseen_source_is_absent(mode: Mode) {
    let app = spawn_app(mode).await;
    let (env_a, env_b, _tb, set, key) =
        two_envs_and_a_backup(&app, "env-en1a", "env-en1b", "en1-only-in-a", false).await;
    // Also a restore within B, which stays visible: the list is filtered, not emptied.
    let set_b = app
        .run_to_completion(
            &format!("{env_b}/backups"),
            json!({"families": ["deviceConfigurations"]}),
        )
        .await;
    let b_key = {
        let d: api::BackupSetDetail = app
            .get_as(OWNER, &format!("{env_b}/backups/{}", set_b.run.id))
            .await
            .json()
            .await
            .unwrap();
        format!("deviceConfigurations/{}", d.items[0].id)
    };
    let within_b = draft_as(&app, MANAGER, &env_b, restore_body(&set_b.run.id, "env-en1b", &b_key)).await;
    let r = draft_as(&app, MANAGER, &env_b, restore_body(&set, "env-en1a", &key)).await;
    assert_eq!(r.source_environment_id, "env-en1a");
    let p = preview_as(&app, MANAGER, &env_b, &r.id).await;
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    let confirm = confirm_body(&p, "env-en1b");
    assert_eq!(
        restore_ids(&app, MANAGER, &env_b).await,
        vec![r.id.clone(), within_b.id.clone()]
    );

    // Entitlement to the source is removed between preview and confirm.
    entitle(&app, "u-manager", json!(["env-en1b"])).await;
    let before = app.snapshot().await;
    let missing = "01jzzzzzzzzzzzzzzzzzzzzzzz";
    let absent = load_statuses(&app, MANAGER, &env_b, missing, &confirm).await;
    assert!(absent.iter().all(|(_, s)| *s == 404), "{absent:?}");
    assert_eq!(load_statuses(&app, MANAGER, &env_b, &r.id, &confirm).await, absent);
    // The same problem body as a restore that does not exist.
    let body = |id: String| {
        let (app, env_b) = (&app, &env_b);
        async move {
            let res = app.get_as(MANAGER, &format!("{env_b}/restores/{id}")).await;
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let mut v: Value = res.json().await.unwrap();
            v.as_object_mut().unwrap().remove("instance");
            v.as_object_mut().unwrap().remove("request_id");
            v
        }
    };
    assert_eq!(body(r.id.clone()).await, body(missing.to_owned()).await);
    assert_eq!(restore_ids(&app, MANAGER, &env_b).await, vec![within_b.id.clone()]);
    // Creating one from the unseen source: 404, as for a source that does not exist.
    let res = app
        .post_as(
            MANAGER,
            &format!("{env_b}/restores"),
            restore_body(&set, "env-en1a", &key),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_as(
            MANAGER,
            &format!("{env_b}/restores"),
            restore_body(&set, "env-nowhere", &key),
        )
        .await;
    assert_eq!(res.status(), 404);
    for user in [OUTSIDER, READONLY] {
        assert_eq!(
            app.get_as(user, &format!("{env_b}/restores/{}", r.id)).await.status(),
            404
        );
        assert_eq!(app.get_as(user, &format!("{env_b}/restores")).await.status(), 404);
        assert_eq!(app.get_as(user, &format!("{env_a}/restores")).await.status(), 404);
    }
    assert_eq!(app.snapshot().await, before, "refused loads write nothing");

    // The audit log names the source to the owner, and to the manager not at all.
    let owner_events = audit_all(&app, OWNER, "").await;
    assert!(owner_events.iter().any(|e| e.action == "restore.draft"
        && e.target == format!("restore/{}", r.id)
        && e.metadata["source_environment_id"] == "env-en1a"));
    let seen = audit_all(&app, MANAGER, "").await;
    assert!(!seen.is_empty());
    assert!(
        !serde_json::to_string(&seen).unwrap().contains("env-en1a"),
        "no event names the unseen source"
    );
    assert!(!seen.iter().any(|e| e.target == format!("restore/{}", r.id)));
    assert!(seen.iter().any(|e| e.target == format!("restore/{}", within_b.id)));
    let scoped = audit_all(&app, MANAGER, "?environment_id=env-en1b").await;
    assert!(!scoped.iter().any(|e| e.target == format!("restore/{}", r.id)));
    assert!(scoped.iter().any(|e| e.target == format!("restore/{}", within_b.id)));
    let text = csv(&app, MANAGER).await;
    assert!(!text.contains("env-en1a") && !text.contains(&r.id));
    assert!(text.contains(&within_b.id));
    assert!(csv(&app, OWNER).await.contains(&r.id));

    // The owner sees it all along; entitled again, the manager does too.
    assert_eq!(
        app.get_as(OWNER, &format!("{env_b}/restores/{}", r.id)).await.status(),
        200
    );
    entitle(&app, "u-manager", json!(["env-en1a", "env-en1b"])).await;
    let res = app.get_as(MANAGER, &format!("{env_b}/restores/{}", r.id)).await;
    assert_eq!(res.status(), 200);
    let back: api::Restore = res.json().await.unwrap();
    assert_eq!(
        (back.state.as_str(), back.readiness.status.as_str() != "blocked"),
        ("previewed", true)
    );
    app.stop().await;
}

/// Entitlement to the source removed between confirmation and execution: the queued run ends
/// Blocked with the reason, audited, and nothing is written to the target tenant.
async fn execution_blocks_when_the_source_is_no_longer_entitled(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    let name = "en2-only-in-a";
    let (_env_a, env_b, tb, set, key) = two_envs_and_a_backup(&app, "env-en2a", "env-en2b", name, true).await;
    let r = draft_as(&app, MANAGER, &env_b, restore_body(&set, "env-en2a", &key)).await;
    let p = preview_as(&app, MANAGER, &env_b, &r.id).await;
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    let res = app
        .post_as(
            MANAGER,
            &format!("{env_b}/restores/{}/confirm", r.id),
            confirm_body(&p, "env-en2b"),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
    let run: api::OperationRun = res.json().await.unwrap();

    // Still entitled to the target (the run's own environment), no longer to the source.
    entitle(&app, "u-manager", json!(["env-en2b"])).await;
    // Delivered twice, as SQS may: the second delivery finds the run ended.
    assert_eq!(app.deliver_each("restore-execute", 2).await, 1);
    let view = paths::operation(DEMO_WS, &run.id);
    let v: api::OperationView = eventually("the run to end", Duration::from_secs(30), || async {
        let v: api::OperationView = app.get_as(OWNER, &view).await.json().await.ok()?;
        (v.run.state == "completed").then_some(v)
    })
    .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("blocked"));
    assert!(
        v.run.reason.as_deref().unwrap_or("").contains("source environment"),
        "{:?}",
        v.run.reason
    );
    assert_eq!(v.run.succeeded, 0);
    assert!(
        !sim()
            .objects(&tb, "deviceConfigurations")
            .iter()
            .any(|o| o["displayName"] == name),
        "nothing written to the target tenant"
    );
    let denied = audit_all(&app, OWNER, "?action=run.finish&outcome=denied").await;
    let ev = denied
        .iter()
        .find(|e| e.target == format!("run/{}", run.id))
        .expect("the blocked run is audited");
    assert!(ev.reason.as_deref().unwrap_or("").contains("source environment"));
    assert_eq!(
        denied.iter().filter(|e| e.target == format!("run/{}", run.id)).count(),
        1,
        "ended once"
    );
    app.stop().await;
}

/// A member entitled to some environments sees other members' and invitations' entitlements
/// cut to those environments (`"all"` stays `"all"`), and an owner entitled to some grants
/// only what they can see.
async fn members_and_invitations_show_only_entitled_environments(mode: Mode) {
    let app = spawn_app(mode).await;
    entitle(&app, "u-operator", json!(["env-contoso", "env-fabrikam"])).await;
    let invite = |email: &str, envs: Value| json!({"email": email, "role": "readonly", "environments": envs});
    for (email, envs) in [
        ("both@demo.test", json!(["env-contoso", "env-fabrikam"])),
        ("fab@demo.test", json!(["env-fabrikam"])),
    ] {
        let res = app
            .post_as(OWNER, &paths::invitations(DEMO_WS), invite(email, envs))
            .await;
        assert_eq!(res.status(), 201);
    }
    // Members are managed by owners: the manager becomes an owner entitled to Contoso only.
    let res = app
        .patch_as(
            OWNER,
            &paths::member(DEMO_WS, "u-manager"),
            json!({"role": "owner", "environments": ["env-contoso"]}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let members = |user: &'static str| {
        let app = &app;
        async move {
            let res = app.get_as(user, &paths::members(DEMO_WS)).await;
            assert_eq!(res.status(), 200);
            let text = res.text().await.unwrap();
            let list: api::MemberList = serde_json::from_str(&text).unwrap();
            (text, list)
        }
    };
    let envs_of = |l: &api::MemberList, email: &str| {
        l.items
            .iter()
            .find(|m| m.email == email)
            .map(|m| m.environments.clone())
            .unwrap()
    };
    let only = |ids: &[&str]| api::Environments::Only(ids.iter().map(|s| s.to_string()).collect());
    let all = api::Environments::All(api::AllEnvironments::All);
    for reader in [MANAGER, READONLY] {
        let (text, list) = members(reader).await;
        assert!(!text.contains("env-fabrikam"), "{reader}: {text}");
        assert_eq!(envs_of(&list, OPERATOR), only(&["env-contoso"]));
        assert_eq!(envs_of(&list, OWNER), all);
        assert_eq!(envs_of(&list, READONLY), only(&["env-contoso"]));
    }
    let (text, list) = members(OWNER).await;
    assert!(text.contains("env-fabrikam"));
    assert_eq!(envs_of(&list, OPERATOR), only(&["env-contoso", "env-fabrikam"]));

    let invitations = |user: &'static str| {
        let app = &app;
        async move {
            let res = app.get_as(user, &paths::invitations(DEMO_WS)).await;
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let text = invitations(MANAGER).await;
    assert!(!text.contains("env-fabrikam"), "{text}");
    let list: api::InvitationList = serde_json::from_str(&text).unwrap();
    let inv = |email: &str| {
        list.items
            .iter()
            .find(|i| i.email == email)
            .unwrap()
            .environments
            .clone()
    };
    assert_eq!(inv("both@demo.test"), only(&["env-contoso"]));
    assert_eq!(inv("fab@demo.test"), only(&[]));
    assert!(invitations(OWNER).await.contains("env-fabrikam"));

    // Granting: an unseen environment is refused exactly like a missing one; "all" is refused;
    // narrowing keeps what the manager cannot see; a member with "all" is not narrowed.
    let before = app.snapshot().await;
    let refused = |body: Value, path: String| {
        let app = &app;
        async move {
            let res = if path.contains("members") {
                app.patch_as(MANAGER, &path, body).await
            } else {
                app.post_as(MANAGER, &path, body).await
            };
            assert_eq!(res.status(), 400);
            let mut v: Value = res.json().await.unwrap();
            let errors = v["errors"].take();
            errors.to_string().replace("env-nope", "env-fabrikam")
        }
    };
    let op = paths::member(DEMO_WS, "u-operator");
    assert_eq!(
        refused(json!({"environments": ["env-fabrikam"]}), op.clone()).await,
        refused(json!({"environments": ["env-nope"]}), op.clone()).await
    );
    let invitations_path = paths::invitations(DEMO_WS);
    assert_eq!(
        refused(invite("n@demo.test", json!(["env-fabrikam"])), invitations_path.clone()).await,
        refused(invite("n@demo.test", json!(["env-nope"])), invitations_path.clone()).await
    );
    refused(invite("n@demo.test", json!("all")), invitations_path).await;
    refused(json!({"environments": "all"}), op.clone()).await;
    refused(
        json!({"environments": ["env-contoso"]}),
        paths::member(DEMO_WS, "u-owner"),
    )
    .await;
    assert_eq!(app.snapshot().await, before, "refused grants write nothing");

    let res = app
        .patch_as(
            MANAGER,
            &op,
            json!({"role": "readonly", "environments": ["env-contoso"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let shown: api::Member = res.json().await.unwrap();
    assert_eq!(shown.environments, only(&["env-contoso"]));
    let (_, list) = members(OWNER).await;
    assert_eq!(
        envs_of(&list, OPERATOR),
        only(&["env-contoso", "env-fabrikam"]),
        "the environment the manager cannot see is kept"
    );
    app.stop().await;
}

/// The workspace audit log (JSON, every page, and CSV) omits events of environments the reader
/// is not entitled to, and cuts environment lists in metadata; the `environment_id` filter
/// answers an unseen environment exactly as a missing one.
async fn audit_log_shows_only_entitled_environments(mode: Mode) {
    let app = spawn_app(mode).await;
    entitle(&app, "u-operator", json!(["env-contoso", "env-fabrikam"])).await;
    let res = app
        .patch_as(
            OWNER,
            &paths::environment(DEMO_WS, "env-fabrikam"),
            json!({"display_name": "Fabrikam EU"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .patch_as(
            OWNER,
            &paths::environment(DEMO_WS, "env-contoso"),
            json!({"display_name": "Contoso EU"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    entitle(&app, "u-manager", json!(["env-contoso"])).await;

    let owner = audit_all(&app, OWNER, "").await;
    assert!(
        owner
            .iter()
            .any(|e| e.environment_id.as_deref() == Some("env-fabrikam"))
    );
    let seen = audit_all(&app, MANAGER, "").await;
    let text = serde_json::to_string(&seen).unwrap();
    assert!(!text.contains("env-fabrikam"), "{text}");
    assert!(
        seen.iter()
            .any(|e| e.action == "environment.update" && e.environment_id.as_deref() == Some("env-contoso"))
    );
    // The grant naming both stays, with the list cut to what the manager can see.
    let grant = seen
        .iter()
        .find(|e| e.action == "member.update" && e.target == "member/u-operator")
        .expect("the operator's grant is shown");
    assert_eq!(grant.metadata["environments"], json!(["env-contoso"]));
    assert!(owner.iter().any(|e| e.action == "member.update"
        && e.target == "member/u-operator"
        && e.metadata["environments"] == json!(["env-contoso", "env-fabrikam"])));
    // Workspace-level events (no environment) stay visible.
    assert_eq!(
        seen.iter().filter(|e| e.action == "member.update").count(),
        owner.iter().filter(|e| e.action == "member.update").count()
    );

    let text = csv(&app, MANAGER).await;
    assert!(!text.contains("env-fabrikam"), "{text}");
    assert!(text.contains("env-contoso"));
    assert!(csv(&app, OWNER).await.contains("env-fabrikam"));

    // The filter: an unseen environment, a missing one and a malformed one get one answer.
    let answer = |env: &'static str| {
        let app = &app;
        async move {
            let res = app
                .get_as(MANAGER, &format!("{WS}/audit-events?environment_id={env}"))
                .await;
            let status = res.status().as_u16();
            let mut v: Value = res.json().await.unwrap();
            (status, v["errors"].take())
        }
    };
    let unseen = answer("env-fabrikam").await;
    assert_eq!(unseen.0, 400);
    assert_eq!(unseen, answer("env-nope").await);
    assert_eq!(unseen, answer("Not%20An%20Id").await);
    let res = app
        .get_as(
            MANAGER,
            &format!("{WS}/audit-events/export.csv?environment_id=env-fabrikam"),
        )
        .await;
    assert_eq!(res.status(), 400);
    let scoped = audit_all(&app, OWNER, "?environment_id=env-fabrikam").await;
    assert!(!scoped.is_empty());
    assert!(
        scoped
            .iter()
            .all(|e| e.environment_id.as_deref() == Some("env-fabrikam"))
    );
    app.stop().await;
}

atlas_tests::on_both_backends!(
    a_restore_from_an_unseen_source_is_absent,
    execution_blocks_when_the_source_is_no_longer_entitled,
    members_and_invitations_show_only_entitled_environments,
    audit_log_shows_only_entitled_environments
);
