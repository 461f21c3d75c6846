//! Operation runs through `provider.verify`: dedupe, the canonical viewer and the hub, re-checks
//! at execution (Blocked), duplicate delivery, dead letters — on both backends.

use std::time::Duration;

use atlas_api_types as api;
use atlas_tests::app::{Mode, OPERATOR, OWNER, READONLY, TestApp, eventually, spawn_app, spawn_without_workers};
use serde_json::json;

const WS: &str = "/api/v1/workspaces/ws-demo";
const CONN: &str = "/api/v1/workspaces/ws-demo/environments/env-contoso/provider-connection";

/// A consented connection on env-contoso (whose tenant the simulator does not know, so the
/// verification itself fails: the runs' mechanics are what these tests look at). Its proof of
/// tenant administration is seeded, as local mode seeds its demo tenant.
async fn consented(app: &TestApp) {
    let body = json!({"tenant": "11111111-1111-4111-8111-111111111111"});
    assert_eq!(app.post_as(OWNER, CONN, body).await.status(), 201);
    app.seed_consent("ws-demo", "env-contoso").await;
}

/// Delivers every queued message of a step by hand, `times` times each.
fn step_of(queue: &str) -> atlas_app::steps::Step {
    atlas_app::steps::steps()
        .iter()
        .find(|s| s.queue == queue)
        .copied()
        .unwrap()
}

async fn deliver(app: &TestApp, queue: &str, times: usize) -> usize {
    let state = &app.app().state;
    let q = state.queues.get(queue).unwrap().clone();
    let step = step_of(queue);
    let got = q
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    for m in &got {
        for _ in 0..times {
            let failed = atlas_app::steps::handle_batch(state, &step, vec![(m.id.clone(), m.body.clone())]).await;
            assert!(failed.is_empty());
        }
        q.delete(&m.receipt).await.unwrap();
    }
    got.len()
}

async fn view(app: &TestApp, email: &str, id: &str, query: &str) -> reqwest::Response {
    app.get_as(email, &format!("{WS}/operations/{id}{query}")).await
}

async fn runs_dedupe_and_are_recorded_once(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    consented(&app).await;
    let res = app.post_as(OPERATOR, &format!("{CONN}/verify"), json!({})).await;
    assert_eq!(res.status(), 202);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let run: api::OperationRun = res.json().await.unwrap();
    assert_eq!(location, format!("{WS}/operations/{}", run.id));
    assert_eq!(
        (run.operation_type.as_str(), run.label.as_str(), run.status.as_str()),
        ("provider.verify", "Verify provider", "running")
    );
    // Starting again while it is active returns the same run.
    let again: api::OperationRun = app
        .post_as(OWNER, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again.id, run.id);

    // The message arrives twice: one unit recorded, counted once.
    assert_eq!(deliver(&app, "provider-verify", 2).await, 1);
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_eq!(v.run.state, "completed");
    assert_eq!((v.run.total, v.run.succeeded + v.run.failed), (1, 1));
    assert_eq!(v.items.len(), 1);
    assert!(v.run.duration_ms.is_some());
    // The unknown tenant cannot sign in: the unit failed, and the run says so, never success.
    assert_eq!(
        (v.run.outcome.as_deref(), v.run.status.as_str()),
        (Some("failed"), "failed")
    );
    // Once finished, a new start makes a new run.
    let third: api::OperationRun = app
        .post_as(OWNER, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(third.id, run.id);
    app.stop().await;
}

/// A unit that crashed after recording its result but before ending its run: the redelivered
/// message counts nothing again and ends the run.
async fn a_crash_between_recording_and_finishing_is_healed_by_redelivery(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    consented(&app).await;
    let run: api::OperationRun = app
        .post_as(OPERATOR, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let state = &app.app().state;
    let q = state.queues.get("provider-verify").unwrap().clone();
    let got = q
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    let item = body["item"].as_str().unwrap();
    // The first delivery got as far as recording, then the process died.
    let detail = json!({"reason": "recorded before the crash"});
    assert!(
        atlas_app::runs::record_unit(state, &run.id, item, atlas_app::runs::ItemResult::Skipped, detail)
            .await
            .unwrap()
    );
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_ne!(v.run.state, "completed", "the crash left the run open");

    // SQS delivers the message again (the first receive was never deleted).
    let step = step_of("provider-verify");
    let failed = atlas_app::steps::handle_batch(state, &step, vec![(got[0].id.clone(), got[0].body.clone())]).await;
    assert!(failed.is_empty());
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_eq!(v.run.state, "completed");
    assert_eq!(
        (v.run.total, v.run.succeeded, v.run.failed, v.run.skipped),
        (1, 0, 0, 1),
        "counted once, as first recorded"
    );
    assert_eq!(v.items.len(), 1);
    app.stop().await;
}

async fn authority_is_rechecked_when_the_work_executes(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    consented(&app).await;
    let run: api::OperationRun = app
        .post_as(OPERATOR, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    // Between queueing and execution the operator is demoted to readonly.
    let res = app
        .patch_as(OWNER, &format!("{WS}/members/u-operator"), json!({"role": "readonly"}))
        .await;
    assert_eq!(res.status(), 200);
    deliver(&app, "provider-verify", 1).await;
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_eq!(
        (v.run.outcome.as_deref(), v.run.status.as_str()),
        (Some("blocked"), "blocked")
    );
    assert!(
        v.run.reason.as_deref().unwrap().contains("provider.verify"),
        "{:?}",
        v.run.reason
    );
    assert!(v.items.is_empty(), "nothing was done");
    let audit: api::AuditPage = app
        .get_as(OWNER, &format!("{WS}/audit-events?action=run.finish&outcome=denied"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1, "the block is audited");
    app.stop().await;
}

async fn dead_letters_become_failed_items(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    consented(&app).await;
    let run: api::OperationRun = app
        .post_as(OWNER, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let q = app.app().state.queues.get("provider-verify").unwrap().clone();
    let m = q
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    // What the dead-letter consumer does with a message that exhausted its receives:
    atlas_app::runs::dead_letter(&app.app().state, &m.body).await.unwrap();
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_eq!((v.run.outcome.as_deref(), v.run.failed), (Some("failed"), 1));
    assert!(v.items[0].detail["reason"].as_str().unwrap().contains("dead-letter"));
    app.stop().await;
}

async fn viewer_and_hub(mode: Mode) {
    let app = spawn_app(mode).await;
    consented(&app).await;
    let run: api::OperationRun = app
        .post_as(OWNER, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let done = eventually("the worker to finish the run", Duration::from_secs(20), || async {
        let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
        (v.run.state == "completed").then_some(v)
    })
    .await;
    assert_eq!(done.run.failed, 1);
    // Legitimacy comes from the run: the selected environment only adds a banner flag.
    let v: api::OperationView = view(&app, READONLY, &run.id, "?selected_environment_id=env-fabrikam")
        .await
        .json()
        .await
        .unwrap();
    assert!(v.context_mismatch);
    let v: api::OperationView = view(&app, READONLY, &run.id, "?selected_environment_id=env-contoso")
        .await
        .json()
        .await
        .unwrap();
    assert!(!v.context_mismatch);
    assert_eq!(view(&app, "outsider@other.test", &run.id, "").await.status(), 404);
    assert_eq!(
        app.get_as(OWNER, &format!("{WS}/operations/01jnothere0000000000000000"))
            .await
            .status(),
        404
    );

    let hub = |q: &'static str| {
        let app = &app;
        async move { app.get_as(OWNER, &format!("{WS}/operations{q}")).await }
    };
    let page: api::OperationPage = hub("?operation_type=provider.verify&environment_id=env-contoso&status=failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [run.id.as_str()]
    );
    let page: api::OperationPage = hub("?environment_id=env-fabrikam").await.json().await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(hub("?operation_type=backup.everything").await.status(), 400);
    assert_eq!(hub("?tenant_id=x").await.status(), 400);
    let csv = app
        .get_as(
            OWNER,
            &format!("{WS}/operations/export.csv?operation_type=provider.verify"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("\"{}\",\"provider.verify\",\"Verify provider\"", run.id))
    );
    app.stop().await;
}

atlas_tests::on_both_backends!(
    runs_dedupe_and_are_recorded_once,
    a_crash_between_recording_and_finishing_is_healed_by_redelivery,
    authority_is_rechecked_when_the_work_executes,
    dead_letters_become_failed_items,
    viewer_and_hub,
);
