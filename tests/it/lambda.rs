//! Each kind of Lambda handler called directly with the sample events in `events/`.

use std::path::PathBuf;

use atlas_app::{lambda, registry, router, steps};
use atlas_tests::TempDir;
use atlas_tests::app::{Mode, config};
use aws_lambda_events::event::sqs::SqsEvent;
use tower::ServiceExt as _;

fn event(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events").join(name)).unwrap()
}

async fn state(dir: &TempDir) -> atlas_app::AppState {
    atlas_app::AppState::connect(&config(Mode::Embedded, dir), "http://127.0.0.1")
        .await
        .unwrap()
        .state
}

#[tokio::test]
async fn http_route_lambda_serves_its_api_gateway_event() {
    let dir = TempDir::new();
    // Exactly what the get-health binary builds: a router holding that one route.
    let app = router::api(state(&dir).await, &[registry::find("get-health").unwrap()]);
    let req = lambda_http::request::from_str(&event("http-get-health.json")).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let h: atlas_api_types::Health = serde_json::from_slice(&body).unwrap();
    assert_eq!((h.state.as_str(), h.storage.as_str()), ("ok", "embedded"));

    // A route this function does not hold is a 404 problem, not another function's handler.
    let req = lambda_http::request::from_str(&event("http-unknown-route.json")).unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn step_lambda_reports_only_the_bad_message_as_failed() {
    let dir = TempDir::new();
    let state = state(&dir).await;
    let ev: SqsEvent = serde_json::from_str(&event("sqs-run-reconcile.json")).unwrap();
    let step = steps::find("step-run-reconcile").unwrap();
    let resp = lambda::sqs_batch(&state, &step, ev).await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["0a7d3b9c-5e2f-4c1a-8b6d-4f9e2a1c7b02"],
        "the malformed message, and only it"
    );
}

#[tokio::test]
async fn scheduler_tick_enqueues_reconciliation() {
    let dir = TempDir::new();
    let state = state(&dir).await;
    let _: serde_json::Value = serde_json::from_str(&event("scheduler-tick.json")).unwrap();
    let report = atlas_app::scheduler::tick(&state).await.unwrap();
    assert_eq!(report.enqueued, 1);
    let q = state.queues.get("run-reconcile").unwrap();
    let got = q
        .receive(10, std::time::Duration::from_secs(30), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let body: steps::ReconcileRequest = serde_json::from_str(&got[0].body).unwrap();
    assert!(body.requested_at_ms > 0);
}

#[tokio::test]
async fn consent_callback_lambda_refuses_a_state_it_did_not_issue() {
    let dir = TempDir::new();
    let state = state(&dir).await;
    let before = state.table.dump().await.unwrap();
    let app = router::api(
        state.clone(),
        &[registry::find("get-provider-consent-callback").unwrap()],
    );
    let req = lambda_http::request::from_str(&event("http-consent-callback.json")).unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.headers().get("location").is_none(),
        "no redirect for a forged state"
    );
    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let p: atlas_api_types::Problem = serde_json::from_slice(&body).unwrap();
    assert!(p.errors.iter().any(|e| e.field == "query.state"));
    let after = state.table.dump().await.unwrap();
    let changed: Vec<_> = after.iter().filter(|i| !before.contains(i)).collect();
    assert!(
        changed.iter().all(|i| i["SK"] == "CONSENT_STATE_KEY"),
        "nothing but the signing key was written: {changed:?}"
    );
}
