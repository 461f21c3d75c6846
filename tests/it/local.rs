//! Local mode as one process: workers, the scheduler, seeding, and stopping without loss.

use std::time::Duration;

use atlas_app::records::runs::{run_pk, workspace_runs_gsi};
use atlas_app::steps::{ACTIVE_RUNS, ReconcileRequest, active_run_sk};
use atlas_domain::WorkspaceId;
use atlas_store::{Item, Key, OutMessage};
use atlas_tests::app::{Mode, eventually, spawn_app, spawn_with};
use serde_json::json;

/// A running run and its active marker, as `runs::start` wrote them before ADR 0055.
async fn stuck_run(table: &atlas_store::Table, id: &str, deadline_ms: i64) {
    let run = json!({
        "PK": run_pk(id), "SK": "RUN", "entity": "operation_run", "run_id": id, "type": "provider.verify",
        "workspace_id": "ws-demo", "environment_id": "env-contoso", "initiator_id": "u-owner",
        "initiator_email": "owner@demo.test", "status": "running", "created_ms": 1, "deadline_ms": deadline_ms,
        "counts": {"total": 1, "succeeded": 0, "failed": 0, "skipped": 0},
        "GSI1PK": workspace_runs_gsi(&WorkspaceId::parse("ws-demo").unwrap()), "GSI1SK": run_pk(id),
    });
    let marker = json!({
        "PK": run_pk(id), "SK": "ACTIVE", "entity": "run_marker", "run_id": id,
        "GSI1PK": ACTIVE_RUNS, "GSI1SK": active_run_sk(deadline_ms, id),
    });
    let lock = json!({"PK": "WS#ws-demo#ENV#env-contoso", "SK": "ACTIVE#provider.verify", "run_id": id});
    for v in [run, marker, lock] {
        let item: Item = v.as_object().cloned().unwrap();
        table.put(item, None).await.unwrap();
    }
}

fn run_key(id: &str) -> Key {
    atlas_app::records::runs::run_key(id)
}

async fn stuck_runs_are_reconciled_by_the_worker(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let now = state.clock.now_millis();
    stuck_run(&state.table, "r-late", now - 1_000).await;
    stuck_run(&state.table, "r-fine", now + 3_600_000).await;
    atlas_app::scheduler::tick(&state).await.unwrap();
    let run = eventually("the late run to be failed", Duration::from_secs(20), || async {
        state
            .table
            .get(&run_key("r-late"))
            .await
            .unwrap()
            .filter(|r| r.get("outcome") == Some(&json!("failed")))
    })
    .await;
    assert_eq!(run["status"], "completed");
    assert!(run["reason"].as_str().unwrap().contains("deadline"));
    assert!(
        state
            .table
            .get(&Key::new("RUN#r-late", "ACTIVE"))
            .await
            .unwrap()
            .is_none(),
        "no longer listed as active"
    );
    let fine = state.table.get(&run_key("r-fine")).await.unwrap().unwrap();
    assert_eq!(fine["status"], "running", "a run within its deadline is left alone");
    app.stop().await;
}

/// Since ADR 0055 a run's deadline entry is its dedupe lock: a run started now writes no marker,
/// and past its deadline the reconciler fails it and frees the lock, so the next run of its type
/// starts.
async fn a_run_past_its_deadline_is_failed_and_its_lock_freed(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env("env-deadline").await;
    let start = || async {
        let res = app
            .post_as(
                atlas_tests::app::OWNER,
                &format!("{env}/backups"),
                json!({"families": ["assignmentFilters"]}),
            )
            .await;
        assert_eq!(res.status(), 202);
        res.json::<atlas_api_types::OperationRun>().await.unwrap().id
    };
    let first = start().await;
    let state = app.app().state.clone();
    assert!(
        state
            .table
            .get(&Key::new(run_pk(&first), "ACTIVE"))
            .await
            .unwrap()
            .is_none(),
        "no marker"
    );
    assert_eq!(start().await, first, "the lock holds: the same run is answered");
    let run = state.table.get(&run_key(&first)).await.unwrap().unwrap();
    let mut late = state.clone();
    let after = time::OffsetDateTime::now_utc()
        + time::Duration::milliseconds(run["deadline_ms"].as_i64().unwrap() - state.clock.now_millis() + 60_000);
    late.clock = std::sync::Arc::new(atlas_store::ManualClock::new(after));
    let step = atlas_app::steps::find("step-run-reconcile").unwrap();
    let body = serde_json::to_string(&ReconcileRequest { requested_at_ms: 1 }).unwrap();
    (step.handler)(late, body).await.unwrap();
    let run = state.table.get(&run_key(&first)).await.unwrap().unwrap();
    assert_eq!(
        (run["status"].as_str(), run["outcome"].as_str()),
        (Some("completed"), Some("failed"))
    );
    assert!(run["reason"].as_str().unwrap().contains("deadline"));
    let second = start().await;
    assert_ne!(second, first, "the lock was freed: a new run starts");
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
        stuck_run(&s.table, "r-offline", s.clock.now_millis() - 5).await;
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
    eventually(
        "the restarted worker to process the queued message",
        Duration::from_secs(20),
        || async {
            state
                .table
                .get(&run_key("r-offline"))
                .await
                .unwrap()
                .filter(|r| r.get("outcome") == Some(&json!("failed")))
        },
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

/// Issue 22 item 5: stopping (what SIGTERM and Ctrl-C do) completes within 10 s while a unit is
/// in flight, sleeping through a tenant's 429s; its message goes back to the queue, so a restarted
/// process finishes the backup.
async fn a_stop_completes_within_ten_seconds_with_a_throttled_unit_in_flight(mode: Mode) {
    use atlas_tests::app::OWNER;
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-stop").await;
    let sim = &atlas_tests::sim::shared().sim;
    // Under the bound, so the unit sleeps through each Retry-After instead of re-queueing.
    let throttle = atlas_graph_sim::Throttle {
        fraction: 1.0,
        retry_after: Some(8.0),
        ..Default::default()
    };
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            throttle: Some(throttle),
            ..Default::default()
        },
    );
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/backups"),
            json!({"families": ["deviceConfigurations"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let run: atlas_api_types::OperationRun = res.json().await.unwrap();
    let state = app.app().state.clone();
    eventually("the unit to be in flight", Duration::from_secs(20), || async {
        let r = state.table.get(&run_key(&run.id)).await.unwrap()?;
        (r["status"] == "running").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = std::time::Instant::now();
    let (config, dir) = app.stop().await;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(10), "the stop took {took:?}");
    drop(state);

    sim.clear_faults(&tenant);
    let app = spawn_with(config, dir).await;
    let state = app.app().state.clone();
    let done = eventually(
        "the restarted process to finish the backup",
        Duration::from_secs(60),
        || async {
            state
                .table
                .get(&run_key(&run.id))
                .await
                .unwrap()
                .filter(|r| r["status"] == "completed")
        },
    )
    .await;
    assert_eq!(done["outcome"], "succeeded", "{done:?}");
    app.stop().await;
}

atlas_tests::on_both_backends!(
    a_stop_completes_within_ten_seconds_with_a_throttled_unit_in_flight,
    a_run_past_its_deadline_is_failed_and_its_lock_freed,
);
