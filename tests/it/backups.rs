//! Backups against the simulator, on both backends: every family captured, unchanged payloads
//! referenced not stored again, partial backups that say which family failed, item JSON.

use atlas_api_types as api;
use atlas_tests::app::{Mode, OWNER, spawn_app};
use serde_json::json;

async fn capture_is_complete_and_unchanged_payloads_are_not_stored_again(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-bk").await;
    let v = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    assert_eq!(v.run.outcome.as_deref(), Some("succeeded"));
    let stored: u64 = v.items.iter().map(|i| i.detail["stored"].as_u64().unwrap()).sum();
    let sim = &atlas_tests::sim::shared().sim;
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.objects(&tenant, f.code).len())
        .sum();
    assert_eq!(stored as usize, expected, "the first backup stores every payload");
    assert_batch_families_complete(&app, "env-bk", &v.run.id, &tenant).await;

    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{}", v.run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((d.set.status.as_str(), d.items.len()), ("complete", expected));
    let one = d.items.iter().find(|i| i.family == "configurationPolicies").unwrap();
    let res = app
        .get_as(
            OWNER,
            &format!("{env}/backups/{}/items/configurationPolicies/{}", v.run.id, one.id),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains(".json"));
    let payload: serde_json::Value = res.json().await.unwrap();
    assert_eq!(payload["id"], one.id.as_str());

    // Nothing changed in Intune: the second backup references every payload, stores none.
    let v2 = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    let stored2: u64 = v2.items.iter().map(|i| i.detail["stored"].as_u64().unwrap()).sum();
    let items2: u64 = v2.items.iter().map(|i| i.detail["items"].as_u64().unwrap()).sum();
    assert_eq!((stored2, items2 as usize), (0, expected));
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    assert_eq!(
        sets.items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [v2.run.id.as_str(), v.run.id.as_str()]
    );
    app.stop().await;
}

/// The payloads a backup set stored for `family`, by object id.
async fn captured(
    app: &atlas_tests::app::TestApp,
    env_slug: &str,
    set: &str,
    family: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let table = &app.app().state.table;
    let pk = format!("WS#ws-demo#ENV#{env_slug}");
    let items = table
        .query_all(atlas_store::Query::partition(&pk).begins_with(format!("BACKUP#{set}#ITEM#{family}#")))
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in items {
        let hash = i["hash"].as_str().unwrap();
        let blob = table
            .get(&atlas_store::Key::new(&pk, format!("BLOB#{hash}")))
            .await
            .unwrap()
            .unwrap();
        out.insert(i["item_id"].as_str().unwrap().to_owned(), blob["payload"].clone());
    }
    out
}

/// Every object of the families read through `$batch` was captured with the simulator's
/// assignments, and scripts with their content.
async fn assert_batch_families_complete(app: &atlas_tests::app::TestApp, env_slug: &str, set: &str, tenant: &str) {
    let sim = &atlas_tests::sim::shared().sim;
    let mut checked = 0;
    for (family, sim_families) in [
        (
            "managedAppPolicies",
            &["iosManagedAppProtections", "androidManagedAppProtections"][..],
        ),
        ("deviceManagementScripts", &["deviceManagementScripts"][..]),
        ("deviceShellScripts", &["deviceShellScripts"][..]),
        ("deviceHealthScripts", &["deviceHealthScripts"][..]),
        ("configurationPolicies", &["configurationPolicies"][..]),
    ] {
        let got = captured(app, env_slug, set, family).await;
        let want: Vec<serde_json::Value> = sim_families.iter().flat_map(|f| sim.objects(tenant, f)).collect();
        assert_eq!(got.len(), want.len(), "{family}");
        for w in &want {
            let id = w["id"].as_str().unwrap();
            let g = &got[id];
            assert!(w["assignments"].is_array(), "{family}: the simulator assigns");
            assert_eq!(g["assignments"], w["assignments"], "{family} {id}");
            for key in ["scriptContent", "detectionScriptContent"] {
                if let Some(content) = w.get(key).filter(|c| c.is_string()) {
                    assert_eq!(&g[key], content, "{family} {id} {key}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

async fn batch_item_faults_lose_nothing(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env_with("env-bk6", Some(30)).await;
    let sim = &atlas_tests::sim::shared().sim;
    // 5 % of `$batch` items answer 5xx; retries get a fresh draw.
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            batch_item_errors: Some(atlas_graph_sim::ServerErrors {
                fraction: 0.05,
                statuses: vec![500, 503, 504],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    sim.reset_stats(&tenant);
    let v = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    let stats = sim.stats(&tenant);
    sim.clear_faults(&tenant);
    assert_eq!(v.run.outcome.as_deref(), Some("succeeded"), "{:?}", v.items);
    assert!(stats.batch_items > 100, "{stats:?}");
    assert!(stats.server_errors > 0, "the faults hit: {stats:?}");
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.objects(&tenant, f.code).len())
        .sum();
    let items: u64 = v.items.iter().map(|i| i.detail["items"].as_u64().unwrap()).sum();
    assert_eq!(items as usize, expected, "no object lost");
    assert_batch_families_complete(&app, "env-bk6", &v.run.id, &tenant).await;
    app.stop().await;
}

async fn a_family_that_fails_makes_the_backup_partial(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-bk2").await;
    let sim = &atlas_tests::sim::shared().sim;
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            forbidden_families: vec!["deviceCompliancePolicies".into()],
            ..Default::default()
        },
    );
    let body = json!({"families": ["deviceCompliancePolicies", "assignmentFilters"]});
    let v = app.run_to_completion(&format!("{env}/backups"), body).await;
    sim.clear_faults(&tenant);
    assert_eq!(
        (v.run.outcome.as_deref(), v.run.status.as_str()),
        (Some("partially_succeeded"), "needs_attention")
    );
    let failed = v.items.iter().find(|i| i.result == "failed").unwrap();
    assert_eq!(failed.item, "deviceCompliancePolicies");
    assert!(failed.detail["reason"].as_str().unwrap().contains("Compliance"));
    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{}", v.run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d.set.status, "partial", "never shown as complete");
    assert_eq!(
        app.post_as(OWNER, &format!("{env}/backups"), json!({"families": ["everything"]}))
            .await
            .status(),
        400
    );
    assert_eq!(
        app.post_as("readonly@demo.test", &format!("{env}/backups"), json!({}))
            .await
            .status(),
        404,
        "not entitled"
    );
    app.stop().await;
}

async fn overlapping_scheduler_ticks_start_one_backup(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env("env-bk3").await;
    let body = json!({"every_minutes": 60, "time_zone": "Europe/Berlin", "families": ["assignmentFilters"]});
    let res = app.post_as(OWNER, &format!("{env}/backup-schedules"), body).await;
    assert_eq!(res.status(), 201);
    let sched: api::BackupSchedule = res.json().await.unwrap();
    assert_eq!(sched.upcoming_ms[1] - sched.upcoming_ms[0], 3_600_000);
    let bad = json!({"every_minutes": 5, "time_zone": "Mars/Olympus Mons"});
    assert_eq!(
        app.post_as(OWNER, &format!("{env}/backup-schedules"), bad)
            .await
            .status(),
        400
    );
    assert_eq!(
        app.post_as(
            "operator@demo.test",
            &format!("{env}/backup-schedules"),
            json!({"every_minutes": 60, "time_zone": "UTC"})
        )
        .await
        .status(),
        403
    );

    // Two ticks at once: the due time is claimed once.
    let state = app.app().state.clone();
    let (a, b) = tokio::join!(atlas_app::scheduler::tick(&state), atlas_app::scheduler::tick(&state));
    assert_eq!(
        a.unwrap().enqueued + b.unwrap().enqueued,
        2 + 1,
        "two reconcile ticks, one backup"
    );
    // A later tick in the same hour starts nothing more.
    assert_eq!(atlas_app::scheduler::tick(&state).await.unwrap().enqueued, 1);
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    assert_eq!(sets.items.len(), 1);
    assert_eq!(sets.items[0].families, ["assignmentFilters"]);
    let list: api::BackupScheduleList = app
        .get_as(OWNER, &format!("{env}/backup-schedules"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.items[0].next_due_ms,
        sched.next_due_ms + 3_600_000,
        "the next due time moved one interval"
    );
    assert_eq!(
        app.delete_as(OWNER, &format!("{env}/backup-schedules/{}", sched.id))
            .await
            .status(),
        204
    );
    app.stop().await;
}

async fn retention_and_deletion(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env("env-bk4").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let res = app
            .post_as(
                OWNER,
                &format!("{env}/backups"),
                json!({"families": ["assignmentFilters"]}),
            )
            .await;
        let run: api::OperationRun = res.json().await.unwrap();
        app.deliver("backup-capture").await;
        ids.push(run.id);
    }
    // A schedule due now keeping one set: the tick starts a backup and a prune; the prune runs first.
    let body = json!({"every_minutes": 60, "time_zone": "UTC", "families": ["assignmentFilters"], "keep_last": 1});
    assert_eq!(
        app.post_as(OWNER, &format!("{env}/backup-schedules"), body)
            .await
            .status(),
        201
    );
    atlas_app::scheduler::tick(&app.app().state).await.unwrap();
    assert_eq!(app.deliver("backup-prune").await, 1);
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    let kept: Vec<(&str, &str)> = sets.items.iter().map(|s| (s.id.as_str(), s.status.as_str())).collect();
    assert_eq!(kept.len(), 2, "the running one and the newest complete one: {kept:?}");
    assert_eq!(kept[0].1, "running");
    assert_eq!(kept[1], (ids[2].as_str(), "complete"));
    app.deliver("backup-capture").await;

    // Deleting a set is confirmed by the environment's name, and takes unreferenced payloads along.
    let del = format!("{env}/backups/{}", ids[2]);
    let res = app
        .req(reqwest::Method::DELETE, &del, Some(OWNER))
        .json(&json!({"confirm": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .req(reqwest::Method::DELETE, &del, Some(OWNER))
        .json(&json!({"confirm": "env-bk4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    for s in &sets.items {
        let res = app
            .req(reqwest::Method::DELETE, &format!("{env}/backups/{}", s.id), Some(OWNER))
            .json(&json!({"confirm": "env-bk4"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    let left = app
        .app()
        .state
        .table
        .query_all(atlas_store::Query::partition("WS#ws-demo#ENV#env-bk4").begins_with("BLOB#"))
        .await
        .unwrap();
    assert!(left.is_empty(), "no payload outlives every set that referenced it");
    app.stop().await;
}

fn utc_ms(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp() * 1000
}

async fn cron_schedules_run_in_their_time_zone(mode: Mode) {
    use time::macros::datetime;
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env("env-bk5").await;
    let path = format!("{env}/backup-schedules");
    // Every night at 02:30 Berlin time, from the Saturday before the 2030 spring-forward.
    let start = utc_ms(datetime!(2030-03-30 00:00 UTC));
    let body = json!({"cron": "30 2 * * *", "time_zone": "Europe/Berlin", "families": ["assignmentFilters"], "first_due_ms": start});
    let res = app.post_as(OWNER, &path, body).await;
    assert_eq!(res.status(), 201);
    let sched: api::BackupSchedule = res.json().await.unwrap();
    assert_eq!((sched.cron.as_deref(), sched.every_minutes), (Some("30 2 * * *"), None));
    let expected = [
        datetime!(2030-03-30 01:30 UTC), // 02:30 CET
        datetime!(2030-03-31 01:00 UTC), // 02:30 does not exist: 03:00 CEST, once
        datetime!(2030-04-01 00:30 UTC), // 02:30 CEST
        datetime!(2030-04-02 00:30 UTC),
        datetime!(2030-04-03 00:30 UTC),
    ]
    .map(utc_ms);
    assert_eq!(sched.upcoming_ms, expected);
    assert_eq!(sched.next_due_ms, expected[0]);

    // Each mistake is a 400 problem naming its field, and nothing is written.
    for (body, field) in [
        (json!({"cron": "30 2 * *", "time_zone": "Europe/Berlin"}), "cron"),
        (json!({"cron": "*/5 * * * *", "time_zone": "UTC"}), "cron"),
        (json!({"cron": "0 0 30 2 *", "time_zone": "UTC"}), "cron"),
        (
            json!({"cron": "30 2 * * *", "time_zone": "Europe/Atlantis"}),
            "time_zone",
        ),
        (
            json!({"cron": "30 2 * * *", "every_minutes": 60, "time_zone": "UTC"}),
            "cron",
        ),
        (json!({"time_zone": "UTC"}), "every_minutes"),
    ] {
        let res = app.post_as(OWNER, &path, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let p: api::Problem = res.json().await.unwrap();
        assert!(p.errors.iter().any(|e| e.field == field), "{body}: {:?}", p.errors);
    }
    let list: api::BackupScheduleList = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!(list.items.len(), 1);

    // The scheduler on a clock we move: nothing before the due time, one backup at it.
    let clock = atlas_store::ManualClock::new(datetime!(2030-03-30 01:29:59 UTC));
    let mut state = app.app().state.clone();
    state.clock = std::sync::Arc::new(clock.clone());
    let tick = || atlas_app::scheduler::tick(&state);
    assert_eq!(tick().await.unwrap().enqueued, 1, "only the reconciler");
    clock.set(datetime!(2030-03-30 01:30 UTC));
    let (a, b) = tokio::join!(tick(), tick());
    assert_eq!(
        a.unwrap().enqueued + b.unwrap().enqueued,
        2 + 1,
        "one backup for the due time"
    );
    assert_eq!(tick().await.unwrap().enqueued, 1);
    assert_eq!(app.deliver("backup-capture").await, 1);
    let list: api::BackupScheduleList = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!(list.items[0].next_due_ms, expected[1], "the next run is after the gap");
    clock.set(datetime!(2030-03-31 01:00 UTC));
    assert_eq!(tick().await.unwrap().enqueued, 2);
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    assert_eq!(sets.items.len(), 2);
    app.stop().await;
}

atlas_tests::on_both_backends!(
    batch_item_faults_lose_nothing,
    cron_schedules_run_in_their_time_zone,
    retention_and_deletion,
    overlapping_scheduler_ticks_start_one_backup,
    capture_is_complete_and_unchanged_payloads_are_not_stored_again,
    a_family_that_fails_makes_the_backup_partial,
);
