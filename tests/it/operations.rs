//! Operation runs through `provider.verify`: dedupe, the canonical viewer and the hub, re-checks
//! at execution (Blocked), duplicate delivery, dead letters — on both backends.

use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::DEMO_WS;
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

/// The operator starts a `provider.verify` run on the consented connection.
async fn verify_started(app: &TestApp) -> api::OperationRun {
    app.post_as(OPERATOR, &format!("{CONN}/verify"), json!({}))
        .await
        .json()
        .await
        .unwrap()
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
    assert_eq!(location, paths::operation(DEMO_WS, &run.id));
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
        (v.run.outcome.map(|o| o.as_str()), v.run.status.as_str()),
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

/// A verification run started on a consented connection, its one message received (and not
/// deleted, so SQS would deliver it again), and that unit's item.
async fn one_unit_received(app: &TestApp) -> (api::OperationRun, Vec<atlas_store::Received>, String) {
    consented(app).await;
    let run = verify_started(app).await;
    let q = app.app().state.queues.get("provider-verify").unwrap().clone();
    let got = q
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    let item = body["item"].as_str().unwrap().to_owned();
    (run, got, item)
}

/// Delivers `message` `times` more times; then the run is complete with its one unit counted
/// once, skipped, as first recorded.
async fn redelivered_and_counted_once(
    app: &TestApp,
    run: &api::OperationRun,
    message: &atlas_store::Received,
    times: usize,
) {
    let step = step_of("provider-verify");
    for _ in 0..times {
        let batch = vec![(message.id.clone(), message.body.clone())];
        assert!(
            atlas_app::steps::handle_batch(&app.app().state, &step, batch)
                .await
                .is_empty()
        );
    }
    let v: api::OperationView = view(app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_eq!(v.run.state, "completed");
    assert_eq!(
        (v.run.total, v.run.succeeded, v.run.failed, v.run.skipped),
        (1, 0, 0, 1),
        "counted once, as first recorded"
    );
    assert_eq!(v.items.len(), 1);
    assert_eq!(v.items[0].result, "skipped");
}

/// A unit that crashed after recording its result but before ending its run: the redelivered
/// message counts nothing again and ends the run.
async fn a_crash_between_recording_and_finishing_is_healed_by_redelivery(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    let (run, got, item) = one_unit_received(&app).await;
    let (state, item) = (&app.app().state, item.as_str());
    // The first delivery got as far as recording, then the process died.
    let detail = json!({"reason": "recorded before the crash"});
    assert!(
        atlas_app::runs::record_unit(state, &run.id, item, atlas_app::runs::ItemResult::Skipped, detail)
            .await
            .unwrap()
    );
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_ne!(v.run.state, "completed", "the crash left the run open");
    assert!(!v.run.scheduled, "a member's request");

    // SQS delivers the message again (the first receive was never deleted).
    redelivered_and_counted_once(&app, &run, &got[0], 1).await;
    app.stop().await;
}

async fn authority_is_rechecked_when_the_work_executes(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    consented(&app).await;
    let run = verify_started(&app).await;
    // Between queueing and execution the operator is demoted to readonly.
    let res = app
        .patch_as(
            OWNER,
            &paths::member(DEMO_WS, "u-operator"),
            json!({"role": "readonly"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    deliver(&app, "provider-verify", 1).await;
    let v: api::OperationView = view(&app, OWNER, &run.id, "").await.json().await.unwrap();
    assert_eq!(
        (v.run.outcome.map(|o| o.as_str()), v.run.status.as_str()),
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
    assert_eq!((v.run.outcome.map(|o| o.as_str()), v.run.failed), (Some("failed"), 1));
    assert!(v.items[0].detail["reason"].as_str().unwrap().contains("dead-letter"));
    app.stop().await;
}

/// A running backup-type run of `total` units on env-contoso, written as a start would.
async fn running_run(app: &TestApp, total: u64) -> String {
    use atlas_app::records::runs::{Counts, OperationRun};
    let id = app.app().state.ids.next_id();
    let run: OperationRun = serde_json::from_value(json!({
        "run_id": id, "type": "backup.capture", "workspace_id": DEMO_WS, "environment_id": "env-contoso",
        "initiator_id": "u-owner", "initiator_email": OWNER, "status": "running", "created_ms": 1,
        "deadline_ms": i64::MAX / 2, "counts": Counts { total, succeeded: 0, failed: 0, skipped: 0 },
    }))
    .unwrap();
    use atlas_app::records::Record;
    app.app().state.table.put(run.to_item(), None).await.unwrap();
    id
}

/// ADR 0056: a message's units are recorded in one record, counted once each however their
/// messages were grouped, redelivered or dead-lettered, on a small run (counted by its records)
/// and a big one (counted on its tally), and the run view lists each unit once.
async fn grouped_units_are_recorded_together_and_counted_once(mode: Mode) {
    use atlas_app::runs::{ItemResult, record_all};
    let app = spawn_without_workers(mode).await;
    let state = &app.app().state;
    let units = |names: &[&str], result: ItemResult| {
        names
            .iter()
            .map(|n| ((*n).to_owned(), result, json!({"unit": n, "result": result.as_str()})))
            .collect::<Vec<_>>()
    };
    let ok = ItemResult::Succeeded;
    let failed = ItemResult::Failed;
    // 14 and 40 units: 13 are recorded below, so the run stays open.
    for total in [14, 40] {
        let run = running_run(&app, total).await;
        let record = |names: &[&str], result| record_all(state, &run, None, units(names, result));
        let first = ["u00", "u01", "u02", "u03", "u04"];
        assert_eq!(
            record(&first, ok).await.unwrap(),
            (vec![true; 5], false),
            "total {total}"
        );
        // The same message delivered again records nothing.
        assert_eq!(record(&first, ok).await.unwrap().0, vec![false; 5], "total {total}");
        // A message of three: one unit recorded, two deferred and recorded by the deferred
        // message; then the first message redelivered whole (it crashed before its delete).
        assert_eq!(record(&["u05"], ok).await.unwrap().0, [true], "total {total}");
        assert_eq!(
            record(&["u06", "u07"], ok).await.unwrap().0,
            [true, true],
            "total {total}"
        );
        assert_eq!(
            record(&["u05", "u06", "u07"], failed).await.unwrap().0,
            [false; 3],
            "total {total}"
        );
        // A message dead-lettered after its first unit was recorded: only the other fails.
        assert_eq!(record(&["u08"], ok).await.unwrap().0, [true], "total {total}");
        assert_eq!(
            record(&["u08", "u09"], failed).await.unwrap(),
            (vec![false, true], false),
            "total {total}"
        );
        // Two deliveries of one message at once: each unit is recorded by exactly one of them.
        let both = ["u10", "u11", "u12"];
        let (a, b) = tokio::join!(record(&both, ok), record(&both, ok));
        let (a, b) = (a.unwrap().0, b.unwrap().0);
        assert!(a.iter().zip(&b).all(|(x, y)| x != y), "total {total}: {a:?} / {b:?}");
        let v: api::OperationView = view(&app, OWNER, &run, "").await.json().await.unwrap();
        assert_eq!(
            (v.run.succeeded, v.run.failed, v.run.skipped),
            (12, 1, 0),
            "total {total}: {:?}",
            v.items
        );
        let listed: Vec<(&str, &str)> = v.items.iter().map(|i| (i.item.as_str(), i.result.as_str())).collect();
        let mut expected: Vec<(String, &str)> = (0..13).map(|i| (format!("u{i:02}"), "succeeded")).collect();
        expected[9].1 = "failed";
        let expected: Vec<(&str, &str)> = expected.iter().map(|(u, r)| (u.as_str(), *r)).collect();
        assert_eq!(listed, expected, "total {total}");
        assert!(
            v.items.iter().all(|i| i.detail["unit"] == json!(i.item)),
            "each unit its own detail"
        );
        let records = state
            .table
            .query(&atlas_app::records::runs::items_query(&run))
            .await
            .unwrap()
            .items;
        let keys: Vec<&str> = records.iter().filter_map(|r| r["SK"].as_str()).collect();
        assert_eq!(
            keys,
            ["ITEM#u00", "ITEM#u05", "ITEM#u06", "ITEM#u08", "ITEM#u09", "ITEM#u10"],
            "total {total}"
        );
    }
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
        app.get_as(OWNER, &paths::operation(DEMO_WS, "01jnothere0000000000000000"))
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

/// Every log line of a unit is written inside one span naming its run, workspace, environment and
/// operation type, so an operator can find all of a run's lines by any of them.
async fn a_step_log_line_carries_the_run_and_its_scope(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    consented(&app).await;
    let run = verify_started(&app).await;
    assert_eq!(deliver(&app, "provider-verify", 1).await, 1);
    let logs = atlas_tests::app::logs();
    let run_field = format!("run_id={}", run.id);
    let line = logs
        .lines()
        .find(|l| l.contains("unit recorded") && l.contains(&run_field))
        .unwrap_or_else(|| panic!("no `unit recorded` line names {run_field}"));
    for field in [
        "workspace_id=ws-demo",
        "environment_id=env-contoso",
        "operation_type=provider.verify",
    ] {
        assert!(line.contains(field), "{field} is missing from: {line}");
    }
    app.stop().await;
}

atlas_tests::on_both_backends!(
    runs_dedupe_and_are_recorded_once,
    a_crash_between_recording_and_finishing_is_healed_by_redelivery,
    authority_is_rechecked_when_the_work_executes,
    dead_letters_become_failed_items,
    grouped_units_are_recorded_together_and_counted_once,
    viewer_and_hub,
    a_crash_at_any_write_of_a_backup_start_leaves_nothing_or_a_run_that_completes,
    a_crash_at_any_write_of_a_restore_confirm_leaves_a_consistent_draft,
    a_throttled_tenant_does_not_delay_another_tenants_backup,
    a_step_log_line_carries_the_run_and_its_scope,
);

/// Failure injection at the ports: the process "dies" at its `at`-th write (a table write or a
/// queue send): that write and every operation after it fail, as if the process had been killed.
mod crash {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use atlas_store::{
        Cond, Item, Key, OutMessage, Page, Query, Queue, QueueError, RawTable, Received, TableError, TxItem, Update,
    };

    pub struct Crash {
        at: usize,
        writes: AtomicUsize,
        dead: AtomicBool,
    }

    impl Crash {
        pub fn at(at: usize) -> Arc<Self> {
            Arc::new(Self {
                at,
                writes: AtomicUsize::new(0),
                dead: AtomicBool::new(false),
            })
        }
        pub fn died(&self) -> bool {
            self.dead.load(Ordering::SeqCst)
        }
        fn alive(&self) -> Result<(), ()> {
            if self.died() { Err(()) } else { Ok(()) }
        }
        fn write(&self) -> Result<(), ()> {
            self.alive()?;
            if self.writes.fetch_add(1, Ordering::SeqCst) + 1 >= self.at {
                self.dead.store(true, Ordering::SeqCst);
                return Err(());
            }
            Ok(())
        }
    }

    fn gone() -> TableError {
        TableError::Unavailable("the process was killed".into())
    }

    pub struct CrashTable(pub Arc<dyn RawTable>, pub Arc<Crash>);

    #[async_trait]
    impl RawTable for CrashTable {
        fn kind(&self) -> &'static str {
            self.0.kind()
        }
        async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
            self.1.alive().map_err(|_| gone())?;
            self.0.get(key).await
        }
        async fn put(&self, item: Item, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
            self.1.write().map_err(|_| gone())?;
            self.0.put(item, cond).await
        }
        async fn update(&self, key: &Key, update: &Update, cond: Option<Cond>) -> Result<Item, TableError> {
            self.1.write().map_err(|_| gone())?;
            self.0.update(key, update, cond).await
        }
        async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
            self.1.write().map_err(|_| gone())?;
            self.0.delete(key, cond).await
        }
        async fn query(&self, q: &Query) -> Result<Page, TableError> {
            self.1.alive().map_err(|_| gone())?;
            self.0.query(q).await
        }
        async fn transact(&self, items: Vec<TxItem>) -> Result<(), TableError> {
            self.1.write().map_err(|_| gone())?;
            self.0.transact(items).await
        }
        async fn ping(&self) -> Result<(), TableError> {
            self.0.ping().await
        }
        async fn dump(&self) -> Result<Vec<Item>, TableError> {
            self.0.dump().await
        }
    }

    pub struct CrashQueue(pub Arc<dyn Queue>, pub Arc<Crash>);

    fn q_gone() -> QueueError {
        QueueError::Unavailable("the process was killed".into())
    }

    #[async_trait]
    impl Queue for CrashQueue {
        fn kind(&self) -> &'static str {
            self.0.kind()
        }
        fn name(&self) -> &str {
            self.0.name()
        }
        async fn send_batch(&self, messages: Vec<OutMessage>) -> Result<Vec<String>, QueueError> {
            self.1.write().map_err(|_| q_gone())?;
            self.0.send_batch(messages).await
        }
        async fn receive(&self, max: u32, visibility: Duration, wait: Duration) -> Result<Vec<Received>, QueueError> {
            self.1.alive().map_err(|_| q_gone())?;
            self.0.receive(max, visibility, wait).await
        }
        async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
            self.1.write().map_err(|_| q_gone())?;
            self.0.delete(receipt).await
        }
        async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
            self.1.write().map_err(|_| q_gone())?;
            self.0.change_visibility(receipt, visibility).await
        }
        async fn depth(&self) -> Result<u64, QueueError> {
            self.0.depth().await
        }
    }

    /// The app's state with both ports behind `crash`.
    pub fn state(state: &atlas_app::AppState, crash: &Arc<Crash>) -> atlas_app::AppState {
        let mut s = state.clone();
        s.table = atlas_store::Table::new(Arc::new(CrashTable(state.table.raw(), crash.clone())));
        let c = crash.clone();
        s.queues = Arc::new(state.queues.wrapped(move |q| Arc::new(CrashQueue(q, c.clone()))));
        s
    }

    /// What a restarted process does first: its outbox sweep, at a time past the grace period.
    pub async fn restart_sweep(state: &atlas_app::AppState) -> usize {
        struct Later(i64);
        impl atlas_store::Clock for Later {
            fn now(&self) -> time::OffsetDateTime {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).unwrap()
            }
        }
        let mut later = state.clone();
        later.clock = Arc::new(Later(state.clock.now_millis() + 60_000));
        atlas_app::runs::sweep_outbox(&later).await.expect("sweep")
    }
}

/// `POST path` through a process that dies at its `crash`-th write.
async fn post_crashing(
    app: &TestApp,
    crash: &std::sync::Arc<crash::Crash>,
    path: &str,
    body: serde_json::Value,
) -> u16 {
    use tower::ServiceExt;
    let state = crash::state(&app.app().state, crash);
    let router = atlas_app::router::api(state, &atlas_app::registry::routes());
    let req = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {}", app.token(OWNER)))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    router.oneshot(req).await.unwrap().status().as_u16()
}

/// The runs indexed under an environment.
async fn env_runs(app: &TestApp, slug: &str) -> std::collections::BTreeSet<String> {
    app.app()
        .state
        .table
        .query_all(
            atlas_store::Query::partition(atlas_tests::app::demo_env_pk(slug))
                .begins_with(atlas_app::records::runs::run_ref_sk("")),
        )
        .await
        .unwrap()
        .iter()
        .map(|i| i["run_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_completed(app: &TestApp, run: &str) -> api::OperationView {
    eventually("the run to complete", Duration::from_secs(60), || async {
        let v: api::OperationView = app
            .get_as(OWNER, &paths::operation(DEMO_WS, run))
            .await
            .json()
            .await
            .ok()?;
        (v.run.state == "completed").then_some(v)
    })
    .await
}

/// Issue 22 item 4: a process killed at any write of `POST …/backups` leaves either nothing (no
/// run, no lock, no set) or a run that, once a restarted process swept the outbox, completes
/// and is listed — never a queued run without its messages.
async fn a_crash_at_any_write_of_a_backup_start_leaves_nothing_or_a_run_that_completes(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env("env-crash").await;
    let state = app.app().state.clone();
    let path = format!("{env}/backups");
    let body = json!({"families": ["deviceConfigurations"]});
    let (mut nothing, mut recovered) = (0, 0);
    for at in 1.. {
        let before = env_runs(&app, "env-crash").await;
        let c = crash::Crash::at(at);
        let status = post_crashing(&app, &c, &path, body.clone()).await;
        if !c.died() {
            assert_eq!(status, 202, "the start succeeds once no write fails");
            let new: Vec<_> = env_runs(&app, "env-crash").await.difference(&before).cloned().collect();
            assert_eq!(new.len(), 1);
            assert_eq!(
                wait_completed(&app, &new[0]).await.run.outcome.map(|o| o.as_str()),
                Some("succeeded")
            );
            break;
        }
        crash::restart_sweep(&state).await;
        let new: Vec<_> = env_runs(&app, "env-crash").await.difference(&before).cloned().collect();
        let sets: api::BackupSetList = app.get_as(OWNER, &path).await.json().await.unwrap();
        match new.as_slice() {
            [] => {
                nothing += 1;
                let lock = state
                    .table
                    .get(&atlas_store::Key::new(
                        "WS#ws-demo#ENV#env-crash",
                        "ACTIVE#backup.capture",
                    ))
                    .await
                    .unwrap();
                assert!(lock.is_none(), "crash at write {at}: no run, so no lock");
            }
            [run] => {
                recovered += 1;
                let v = wait_completed(&app, run).await;
                assert_eq!(
                    v.run.outcome.map(|o| o.as_str()),
                    Some("succeeded"),
                    "crash at write {at}"
                );
                let listed: api::BackupSetList = app.get_as(OWNER, &path).await.json().await.unwrap();
                let set = listed.items.iter().find(|s| &s.id == run);
                assert!(set.is_some(), "crash at write {at}: the completed backup is listed");
                assert_eq!(set.unwrap().state, "complete");
            }
            more => panic!("crash at write {at}: {} runs started", more.len()),
        }
        // Whatever happened, no set exists without its run.
        let runs = env_runs(&app, "env-crash").await;
        assert!(sets.items.iter().all(|s| runs.contains(&s.id)), "crash at write {at}");
        let outbox = state
            .table
            .query_all(atlas_store::Query::gsi1(atlas_app::runs::OUTBOX))
            .await
            .unwrap();
        assert!(
            outbox.iter().all(|o| !runs.contains(o["run_id"].as_str().unwrap())),
            "crash at write {at}: the sweep left nothing owed"
        );
        assert!(at < 40, "the start never got through");
    }
    assert!(nothing > 0, "some crash came before the commit");
    assert!(recovered > 0, "some crash came after the commit, before the send");
    app.stop().await;
}

/// The same for a restore's confirmation: killed at any write, the draft is still previewed
/// with no run, or it is confirmed and its run completes — never a restore writing to the tenant
/// while its draft says previewed.
async fn a_crash_at_any_write_of_a_restore_confirm_leaves_a_consistent_draft(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env("env-crashrs").await;
    let backup = app
        .run_to_completion(&format!("{env}/backups"), json!({"families": ["assignmentFilters"]}))
        .await;
    let (mut nothing, mut recovered) = (0, 0);
    for at in 1.. {
        let draft: api::Restore = app
            .post_as(
                OWNER,
                &format!("{env}/restores"),
                json!({"backup_set_id": backup.run.id}),
            )
            .await
            .json()
            .await
            .unwrap();
        let preview: api::RestorePreview = app
            .post_as(OWNER, &format!("{env}/restores/{}/previews", draft.id), json!({}))
            .await
            .json()
            .await
            .unwrap();
        let before = env_runs(&app, "env-crashrs").await;
        let c = crash::Crash::at(at);
        let body = json!({"preview_id": preview.id, "fingerprint": preview.fingerprint, "confirm": "env-crashrs"});
        let status = post_crashing(&app, &c, &format!("{env}/restores/{}/confirm", draft.id), body).await;
        if !c.died() {
            assert_eq!(status, 202);
        } else {
            crash::restart_sweep(&app.app().state).await;
        }
        let new: Vec<_> = env_runs(&app, "env-crashrs")
            .await
            .difference(&before)
            .cloned()
            .collect();
        let after: api::Restore = app
            .get_as(OWNER, &format!("{env}/restores/{}", draft.id))
            .await
            .json()
            .await
            .unwrap();
        match new.as_slice() {
            [] => {
                nothing += 1;
                assert_eq!(after.state, "previewed", "crash at write {at}: no run, draft untouched");
            }
            [run] => {
                assert_eq!(
                    after.state, "confirmed",
                    "crash at write {at}: the run and the draft move together"
                );
                assert_eq!(
                    wait_completed(&app, run).await.run.outcome.map(|o| o.as_str()),
                    Some("succeeded")
                );
                if !c.died() {
                    break;
                }
                recovered += 1;
            }
            more => panic!("crash at write {at}: {} runs started", more.len()),
        }
        assert!(at < 40, "the confirmation never got through");
    }
    assert!(
        nothing > 0 && recovered > 0,
        "crashes before ({nothing}) and after ({recovered}) the commit"
    );
    app.stop().await;
}

/// Issue 22 item 5: a tenant answering every request with 429 `Retry-After: 120` does not hold
/// back another tenant's backup: its units give their slots back and wait in the queue.
async fn a_throttled_tenant_does_not_delay_another_tenants_backup(mode: Mode) {
    let app = spawn_app(mode).await;
    let (slow_tenant, slow) = app.connected_env("env-slow").await;
    let (_, fast) = app.connected_env("env-fast").await;
    let all = json!({});
    // How long the fast tenant's backup takes alone.
    let t = std::time::Instant::now();
    app.run_to_completion(&format!("{fast}/backups"), all.clone()).await;
    let alone = t.elapsed();

    atlas_tests::sim::shared().sim.set_faults(
        &slow_tenant,
        atlas_graph_sim::Faults {
            throttle: Some(atlas_graph_sim::Throttle {
                fraction: 1.0,
                retry_after: Some(120.0),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let res = app.post_as(OWNER, &format!("{slow}/backups"), all.clone()).await;
    assert_eq!(res.status(), 202);
    let slow_run: api::OperationRun = res.json().await.unwrap();
    // Let the throttled units take the workers first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = std::time::Instant::now();
    let v = app.run_to_completion(&format!("{fast}/backups"), all).await;
    let beside = t.elapsed();
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    // The throttled tenant answers `Retry-After: 120`: a worker held by it would delay the fast
    // backup by minutes. The margin absorbs a shared CI machine (other tests load the same
    // protocol server), not a stall.
    assert!(
        beside < alone + Duration::from_secs(30),
        "the fast tenant's backup took {beside:?} beside the throttled one, {alone:?} alone"
    );
    // The throttled backup waits; nothing of it failed for being throttled.
    let s: api::OperationView = app
        .get_as(OWNER, &paths::operation(DEMO_WS, &slow_run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s.run.state, "running");
    assert_eq!(s.run.failed, 0, "{:?}", s.items);
    assert!(
        atlas_tests::app::logs().contains("unit re-queued to wait"),
        "the throttled units were re-queued"
    );
    atlas_tests::sim::shared().sim.clear_faults(&slow_tenant);
    app.stop().await;
}
