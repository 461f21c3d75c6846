//! The system console (spec 025): a platform operator searches runs across workspaces from the
//! day index (a run started through the API is in it), exports them as CSV and drills into a
//! failure with its secrets redacted; a workspace owner, an outsider and anyone else get 404; and
//! every access, allowed or not, is in the system audit log, in no workspace's.

use atlas_api_types::{self as api, paths};
use atlas_app::records::Record;
use atlas_app::records::runs::{Counts, OperationRun, RunItem};
use atlas_app::records::system::SystemRunEntry;
use atlas_domain::{ItemResult, OperationType, RunOutcome, RunState};
use atlas_tests::app::{Mode, OUTSIDER, OWNER, PLATFORM, TestApp, spawn_app};
use serde_json::{Value, json};

const SECRET: &str = "DefaultEndpointsProtocol=https;AccountKey=TopSecretKey987==";

/// A failed run in `ws` (ws-other has no connected tenant), indexed as a start indexes it.
async fn seeded_failed_run(app: &TestApp, ws: &str, env: &str) -> String {
    let state = &app.app().state;
    let id = state.ids.next_id();
    let now = state.clock.now_millis();
    let run = OperationRun {
        run_id: id.clone(),
        kind: OperationType::BackupCapture,
        workspace_id: ws.into(),
        environment_id: Some(env.into()),
        initiator_id: "u-outsider".into(),
        initiator_email: OUTSIDER.into(),
        scheduled: false,
        queue: None,
        status: RunState::Completed,
        created_ms: now,
        deadline_ms: now,
        counts: Counts {
            total: 1,
            succeeded: 0,
            failed: 1,
            skipped: 0,
        },
        count_succeeded: 0,
        count_failed: 1,
        count_skipped: 0,
        read_units_milli: 0,
        write_units_milli: 0,
        outcome: Some(RunOutcome::Failed),
        reason: Some("Every family failed".into()),
        started_ms: Some(now),
        ended_ms: Some(now),
        gsi1pk: format!("RUNS#{ws}"),
        gsi1sk: format!("RUN#{id}"),
        deadline_on_lock: false,
    };
    let item = RunItem {
        run_id: id.clone(),
        item: "deviceConfigurations".into(),
        result: ItemResult::Failed,
        detail: json!({"error": format!("the blob store said no: {SECRET}"), "password": "pa55word"}),
        at_ms: now,
        read_units_milli: 0,
        write_units_milli: 0,
        more: Vec::new(),
    };
    let entry = SystemRunEntry {
        run_id: id.clone(),
        workspace_id: ws.into(),
        environment_id: Some(env.into()),
        kind: OperationType::BackupCapture,
        created_ms: now,
    };
    for i in [run.to_item(), item.to_item(), entry.to_item()] {
        state.table.put(i, None).await.unwrap();
    }
    id
}

async fn console(mode: Mode) {
    let app = spawn_app(mode).await;
    // A run started through the API in ws-demo (indexed by its start), a failed one in ws-other.
    let (_, env) = app.connected_env("env-sys").await;
    let demo = app
        .run_to_completion(&format!("{env}/inventory/sync"), json!({}))
        .await
        .run;
    let other = seeded_failed_run(&app, "ws-other", "env-tailspin").await;

    let page: api::SystemRunPage = app.get_as(PLATFORM, &paths::system_runs()).await.json().await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
    assert!(
        ids.contains(&demo.id.as_str()) && ids.contains(&other.as_str()),
        "{ids:?}"
    );
    let workspaces: std::collections::BTreeSet<&str> = page.items.iter().map(|r| r.workspace_id.as_str()).collect();
    assert!(workspaces.contains("ws-demo") && workspaces.contains("ws-other"));
    // Newest first.
    assert_eq!(page.items[0].id, other);

    // Filters: status, type, workspace, time.
    let get = |q: &'static str| {
        let app = &app;
        async move {
            let res = app.get_as(PLATFORM, &format!("{}?{q}", paths::system_runs())).await;
            assert_eq!(res.status(), 200, "{q}");
            let p: api::SystemRunPage = res.json().await.unwrap();
            p.items.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(get("status=failed").await, vec![other.clone()]);
    let in_demo = get("workspace=ws-demo").await;
    assert!(in_demo.contains(&demo.id) && !in_demo.contains(&other), "{in_demo:?}");
    assert_eq!(get("type=inventory.sync").await, vec![demo.id.clone()]);
    assert!(get("until=1000").await.is_empty());
    // Paging: one at a time, the cursor continues exactly.
    let first: api::SystemRunPage = app
        .get_as(PLATFORM, &format!("{}?limit=1", paths::system_runs()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let next = first.next.expect("a next page");
    let second: api::SystemRunPage = app
        .get_as(PLATFORM, &format!("{}?limit=1&cursor={next}", paths::system_runs()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(first.items[0].id, other);
    assert_eq!(
        second.items[0].id, page.items[1].id,
        "the cursor continues where the page ended"
    );
    // Bad input: field-level problems.
    let res = app
        .get_as(
            PLATFORM,
            &format!("{}?status=sideways&since=5&until=1", paths::system_runs()),
        )
        .await;
    assert_eq!(res.status(), 400);
    let p: Value = res.json().await.unwrap();
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["query.status", "query.since"], "{p}");

    // CSV of run metadata.
    let res = app.get_as(PLATFORM, &paths::system_runs_export()).await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("id,workspace_id,"));
    assert!(csv.contains(&other) && csv.contains(&demo.id) && csv.contains("ws-other"));

    // The drill-down: errors and step results, secrets redacted.
    let res = app.get_as(PLATFORM, &paths::system_run(&other)).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let d: api::SystemRunDetail = serde_json::from_str(&text).unwrap();
    assert_eq!(d.run.workspace_id, "ws-other");
    assert_eq!(d.errors.len(), 2, "{text}");
    assert_eq!(d.errors[1].item, "deviceConfigurations");
    assert_eq!(d.items.len(), 1);
    assert!(
        !text.contains("TopSecretKey987") && !text.contains("pa55word"),
        "{text}"
    );
    assert!(text.contains("[redacted]"));
    assert_eq!(
        app.get_as(PLATFORM, &paths::system_run("01jnothere0000000000000000"))
            .await
            .status(),
        404
    );

    // Everyone else: 404 on every system route, the owner of both workspaces' runs included.
    for who in [OWNER, OUTSIDER, "readonly@demo.test"] {
        for path in [
            paths::system_runs(),
            paths::system_runs_export(),
            paths::system_run(&other),
            paths::system_audit(),
        ] {
            assert_eq!(app.get_as(who, &path).await.status(), 404, "{who} {path}");
        }
    }
    // Not even a 400 for a bad query: the route does not exist for them.
    let probe = format!("{}?nonsense=1", paths::system_runs());
    assert_eq!(app.get_as(OWNER, &probe).await.status(), 404);
    assert_eq!(app.get(&paths::system_runs()).await.status(), 401);
    // /me says who is a platform operator.
    let me: api::Me = app.get_as(PLATFORM, &paths::me()).await.json().await.unwrap();
    assert!(me.platform_operator && me.memberships.is_empty());
    let me: api::Me = app.get_as(OWNER, &paths::me()).await.json().await.unwrap();
    assert!(!me.platform_operator);

    // The system audit log: each call above, the searches included, and each refused attempt.
    let log: api::SystemAuditPage = app
        .get_as(PLATFORM, &format!("{}?limit=200", paths::system_audit()))
        .await
        .json()
        .await
        .unwrap();
    let by = |who: &str, outcome: &str| {
        log.items
            .iter()
            .filter(|e| e.email == who && e.outcome == outcome)
            .count()
    };
    // The first search, 4 filtered ones, 2 pages, a bad one, the CSV, 2 drill-downs, this read.
    assert_eq!(by(PLATFORM, "success"), 12, "{:#?}", log.items);
    assert_eq!(by(OWNER, "denied"), 5);
    assert_eq!(by(OUTSIDER, "denied"), 4);
    assert_eq!(log.items[0].action, "get-system-audit-events");
    assert!(log.items.iter().any(|e| e.target.contains("status=failed")));
    // In no workspace's audit log.
    let ws_log: Value = app
        .get_as(OWNER, &paths::audit_events("ws-demo"))
        .await
        .json()
        .await
        .unwrap();
    assert!(!ws_log.to_string().contains("get-system-runs"));
    app.stop().await;
}

#[tokio::test]
async fn system_console_embedded() {
    console(Mode::Embedded).await;
}

#[tokio::test]
async fn system_console_dynamodb() {
    console(Mode::Aws).await;
}
