//! Local mode as one process: workers, the scheduler, seeding, and stopping without loss.

use std::time::Duration;

use atlas_app::steps::{ACTIVE_RUNS, ReconcileRequest, active_run_sk};
use atlas_store::{Item, Key, OutMessage};
use atlas_tests::app::{Mode, eventually, spawn_app, spawn_with};
use serde_json::json;

fn stuck_run(id: &str, deadline_ms: i64) -> Item {
    json!({
        "PK": "WS#ws-demo#ENV#env-contoso", "SK": format!("RUN#{id}"), "entity": "operation_run",
        "run_id": id, "status": "running",
        "GSI1PK": ACTIVE_RUNS, "GSI1SK": active_run_sk(deadline_ms, id),
    })
    .as_object()
    .cloned()
    .unwrap()
}

async fn stuck_runs_are_reconciled_by_the_worker(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let now = state.clock.now_millis();
    state.table.put(stuck_run("r-late", now - 1_000), None).await.unwrap();
    state
        .table
        .put(stuck_run("r-fine", now + 3_600_000), None)
        .await
        .unwrap();
    atlas_app::scheduler::tick(&state).await.unwrap();
    let key = Key::new("WS#ws-demo#ENV#env-contoso", "RUN#r-late");
    let run = eventually("the late run to be failed", Duration::from_secs(20), || async {
        state.table.get(&key).await.unwrap().filter(|r| r["status"] == "failed")
    })
    .await;
    assert!(run["reason"].as_str().unwrap().contains("deadline"));
    assert!(run.get("GSI1PK").is_none(), "no longer listed as active");
    let fine = state
        .table
        .get(&Key::new("WS#ws-demo#ENV#env-contoso", "RUN#r-fine"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fine["status"], "running", "a run within its deadline is left alone");
    app.stop().await;
}

#[tokio::test]
async fn reconcile_embedded() {
    stuck_runs_are_reconciled_by_the_worker(Mode::Embedded).await;
}

#[tokio::test]
async fn reconcile_dynamodb_sqs() {
    stuck_runs_are_reconciled_by_the_worker(Mode::Aws).await;
}

#[tokio::test]
async fn queued_work_survives_a_stop_and_is_done_after_restart() {
    let app = spawn_app(Mode::Embedded).await;
    let (config, dir) = app.stop().await;

    // While the process is down, work is queued and a run goes past its deadline.
    {
        let started = atlas_app::AppState::connect(&config, "http://127.0.0.1").await.unwrap();
        let s = started.state;
        s.table
            .put(stuck_run("r-offline", s.clock.now_millis() - 5), None)
            .await
            .unwrap();
        let body = serde_json::to_string(&ReconcileRequest { requested_at_ms: 1 }).unwrap();
        s.queues
            .get("run-reconcile")
            .unwrap()
            .send(OutMessage::new(body))
            .await
            .unwrap();
    }

    let app = spawn_with(config, dir).await;
    let state = app.app().state.clone();
    let key = Key::new("WS#ws-demo#ENV#env-contoso", "RUN#r-offline");
    eventually(
        "the restarted worker to process the queued message",
        Duration::from_secs(20),
        || async { state.table.get(&key).await.unwrap().filter(|r| r["status"] == "failed") },
    )
    .await;
    let q = state.queues.get("run-reconcile").unwrap();
    eventually(
        "the processed message to be deleted",
        Duration::from_secs(10),
        || async { (q.depth().await.unwrap() == 0).then_some(()) },
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn demo_data_is_seeded_once() {
    let app = spawn_app(Mode::Embedded).await;
    let state = app.app().state.clone();
    let ws = state
        .table
        .get(&Key::new("WS#ws-demo", "WORKSPACE"))
        .await
        .unwrap()
        .expect("seeded");
    assert_eq!(ws["name"], "Demo MSP");
    let envs = state
        .table
        .query_all(atlas_store::Query::partition("WS#ws-demo").begins_with("ENV#"))
        .await
        .unwrap();
    assert_eq!(envs.len(), 2);
    assert!(
        !atlas_app::local::seed_demo(&state).await.unwrap(),
        "a second seed writes nothing"
    );
    let (config, dir) = app.stop().await;
    let app = spawn_with(config, dir).await;
    let envs = app
        .app()
        .state
        .table
        .query_all(atlas_store::Query::partition("WS#ws-demo").begins_with("ENV#"))
        .await
        .unwrap();
    assert_eq!(envs.len(), 2, "a restart keeps the data and does not duplicate it");
    app.stop().await;
}
