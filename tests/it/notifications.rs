//! In-app notifications (spec 016): opt-in per user; a run's ending notifies its initiator with a
//! link to the workspace's run viewer; unread counts and marking read; a notification about an
//! environment the user no longer sees is not shown.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OUTSIDER, OWNER, TestApp, eventually, spawn_app};
use serde_json::json;

async fn bell(app: &TestApp, user: &str) -> api::NotificationPage {
    let res = app.get_as(user, &paths::my_notifications()).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn prefs(app: &TestApp, user: &str, body: serde_json::Value) {
    let res = app
        .req(reqwest::Method::PUT, &paths::my_notification_prefs(), Some(user))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Starts a verification of `env` as `user` and waits for the run to end; its id.
async fn verify(app: &TestApp, user: &str, env: &str) -> String {
    let res = app
        .post_as(user, &format!("{env}/provider-connection/verify"), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    let view = paths::operation(DEMO_WS, &run.id);
    eventually("the run to end", app.run_deadline(), || async {
        let v: api::OperationView = app.get_as(OWNER, &view).await.json().await.ok()?;
        (v.run.state == "completed").then_some(())
    })
    .await;
    run.id
}

async fn opt_in_notify_and_read(mode: Mode) {
    let app = spawn_app(mode).await;
    let slug = atlas_tests::unique("env-nt");
    let (_, env) = app.connected_env(&slug).await;
    // Opt-in: nothing until asked for.
    let p: api::NotificationPrefs = app
        .get_as(MANAGER, &paths::my_notification_prefs())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p, api::NotificationPrefs::default());
    verify(&app, MANAGER, &env).await;
    assert!(
        bell(&app, MANAGER).await.items.is_empty(),
        "not opted in: no notification"
    );

    prefs(&app, MANAGER, json!({"run_completed": true, "run_failed": true})).await;
    let run = verify(&app, MANAGER, &env).await;
    let page = bell(&app, MANAGER).await;
    assert_eq!(page.items.len(), 1, "{page:?}");
    assert_eq!(page.unread, 1);
    let n = &page.items[0];
    assert_eq!(n.kind, "run.completed");
    assert_eq!(
        n.link,
        format!("/workspaces/{DEMO_WS}/operations/{run}"),
        "the workspace's run viewer"
    );
    assert_eq!(n.environment_id.as_deref(), Some(slug.as_str()));
    assert!(!n.read);
    // Someone else's runs and bells are their own.
    assert!(bell(&app, OWNER).await.items.is_empty());
    assert!(bell(&app, OUTSIDER).await.items.is_empty());

    // A second one; marking the first read leaves the second unread; all read, then none.
    verify(&app, MANAGER, &env).await;
    let page = bell(&app, MANAGER).await;
    assert_eq!((page.items.len(), page.unread), (2, 2));
    let (newest, oldest) = (page.items[0].id.clone(), page.items[1].id.clone());
    let read = |up_to: Option<String>| {
        let app = &app;
        async move {
            app.post_as(MANAGER, &paths::my_notifications_read(), json!({"up_to": up_to}))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(read(Some(oldest.clone())).await, 204);
    let page = bell(&app, MANAGER).await;
    assert_eq!(page.unread, 1);
    assert!(page.items[1].read && !page.items[0].read);
    assert_eq!(read(None).await, 204);
    assert_eq!(bell(&app, MANAGER).await.unread, 0);
    // Never backwards; someone else's or an unknown id is refused.
    assert_eq!(read(Some(oldest)).await, 204);
    assert_eq!(bell(&app, MANAGER).await.unread, 0);
    assert_eq!(read(Some("01jnothere0000000000000000".into())).await, 400);
    let res = app
        .post_as(OWNER, &paths::my_notifications_read(), json!({"up_to": newest}))
        .await;
    assert_eq!(res.status(), 400, "not one of the owner's");

    // Out of the manager's sight, out of their bell.
    let res = app
        .patch_as(
            OWNER,
            &paths::member(DEMO_WS, "u-manager"),
            json!({"environments": ["env-contoso"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        bell(&app, MANAGER).await.items.is_empty(),
        "hidden with the environment"
    );

    // Opting out stops them.
    prefs(&app, OWNER, json!({})).await;
    verify(&app, OWNER, &env).await;
    assert!(bell(&app, OWNER).await.items.is_empty());
    app.stop().await;
}

atlas_tests::on_both_backends!(opt_in_notify_and_read);
