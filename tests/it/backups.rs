//! Backups against the simulator, on both backends: every family captured, unchanged payloads
//! referenced not stored again, partial backups that say which family failed, item JSON.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::records::backups as backup_keys;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OWNER, spawn_app};
use serde_json::json;

async fn capture_is_complete_and_unchanged_payloads_are_not_stored_again(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-bk").await;
    let v = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let stored: u64 = v.items.iter().map(|i| i.detail["stored"].as_u64().unwrap()).sum();
    let sim = &atlas_tests::sim::shared().sim;
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.objects(&tenant, f.code).len())
        .sum();
    assert_eq!(stored as usize, expected, "the first backup stores every payload");
    // Consumed capacity (ADR 0038): each stored payload is at least one write unit, and the
    // run's units are in place when it completes.
    assert!(
        v.run.write_units_milli >= expected as u64 * 1000 && v.run.read_units_milli > 0,
        "the run records its units: {} read, {} write (milli) for {expected} payloads",
        v.run.read_units_milli,
        v.run.write_units_milli
    );
    assert_batch_families_complete(&app, "env-bk", &v.run.id, &tenant).await;

    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{}", v.run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((d.set.state.as_str(), d.items.len()), ("complete", expected));
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
    assert!(
        v2.run.write_units_milli < v.run.write_units_milli,
        "a backup that stores no payload writes less: {} vs {}",
        v2.run.write_units_milli,
        v.run.write_units_milli
    );
    // No row per object, nor per family: each unit's record names its family's manifest (ADR
    // 0040, ADR 0050), and the unchanged families of the second set name the first set's.
    let app_ref = &app;
    let rows = |set: &str| {
        let set = atlas_domain::RunId::parse(set).unwrap();
        let pk = atlas_tests::app::demo_env_pk("env-bk");
        async move {
            let table = &app_ref.app().state.table;
            let q = atlas_store::Query::partition(&pk).begins_with(backup_keys::contents_of(&set));
            table.query_all(q).await.unwrap().len()
        }
    };
    assert_eq!((rows(&v.run.id).await, rows(&v2.run.id).await), (0, 0));
    let manifests = |items: &[api::RunItem]| {
        items
            .iter()
            .map(|i| (i.item.clone(), i.detail["manifest"].as_str().unwrap().to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (first, second) = (manifests(&v.items), manifests(&v2.items));
    assert_eq!(first.len(), atlas_graph::families::FAMILIES.len());
    assert_eq!(first, second, "the unchanged families name the same manifests");
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
    let pk = atlas_tests::app::demo_env_pk(env_slug);
    let set = atlas_domain::RunId::parse(set).unwrap();
    let items = atlas_app::backup::items_in(table, &pk, &set, Some(family))
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in items {
        let blob = table
            .get(&atlas_store::Key::new(&pk, backup_keys::blob_sk(&i.hash)))
            .await
            .unwrap()
            .unwrap();
        out.insert(i.item_id, stored_payload(blob));
    }
    out
}

/// A stored payload item's payload, unpacked (ADR 0053).
fn stored_payload(item: atlas_store::Item) -> serde_json::Value {
    use atlas_app::records::Record;
    backup_keys::BlobRecord::from_item(item)
        .expect("a payload item")
        .into_payload()
        .expect("a readable payload")
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
    // The families read through `$batch`, and one read by list.
    let families = [
        "managedAppPolicies",
        "deviceManagementScripts",
        "deviceShellScripts",
        "deviceHealthScripts",
        "configurationPolicies",
    ];
    let v = app
        .run_to_completion(&format!("{env}/backups"), json!({"families": families}))
        .await;
    let stats = sim.stats(&tenant);
    sim.clear_faults(&tenant);
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    assert!(stats.batch_items > 100, "{stats:?}");
    assert!(stats.server_errors > 0, "the faults hit: {stats:?}");
    let expected: usize = families.iter().map(|f| sim.objects(&tenant, f).len()).sum();
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
        (v.run.outcome.map(|o| o.as_str()), v.run.status.as_str()),
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
    assert_eq!(d.set.state, "partial", "never shown as complete");
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

async fn schedules(app: &atlas_tests::app::TestApp, env: &str) -> api::BackupScheduleList {
    app.get_as(OWNER, &format!("{env}/backup-schedules"))
        .await
        .json()
        .await
        .unwrap()
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
    // Said to be the schedule's, not a request of its creator's.
    let run = sets.items[0].run.as_ref().expect("the set's run");
    assert!(run.scheduled, "{run:?}");
    assert_eq!(run.initiator, "owner@demo.test");
    let list = schedules(&app, &env).await;
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

    // An edit beside a tick claiming the schedule (a new interval schedule is due at once): the
    // edit lands either way, applied again to what the tick left, and no second backup starts.
    let body = json!({"every_minutes": 60, "time_zone": "UTC", "families": ["assignmentFilters"]});
    let res = app.post_as(OWNER, &format!("{env}/backup-schedules"), body).await;
    let due: api::BackupSchedule = res.json().await.unwrap();
    let edit = format!("{env}/backup-schedules/{}", due.id);
    let (ticked, edited) = tokio::join!(
        atlas_app::scheduler::tick(&state),
        app.patch_as(OWNER, &edit, json!({"cron": "30 2 * * *", "enabled": false}))
    );
    ticked.unwrap();
    assert_eq!(edited.status(), 200, "{}", edited.text().await.unwrap_or_default());
    let list = schedules(&app, &env).await;
    let after = list.items.iter().find(|s| s.id == due.id).expect("the edited schedule");
    assert_eq!(after.cron.as_deref(), Some("30 2 * * *"));
    assert!(!after.enabled, "paused");
    assert_eq!(
        atlas_app::scheduler::tick(&state).await.unwrap().enqueued,
        1,
        "a paused schedule starts nothing"
    );
    app.stop().await;
}

async fn retention_and_deletion(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env("env-bk4").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(manual_backup(&app, &env).await);
    }
    // A schedule due now keeping one set: the tick starts only the backup; its retention starts
    // once that backup has ended, and keeps the newest complete set, the new one.
    let body = json!({"every_minutes": 60, "time_zone": "UTC", "families": ["assignmentFilters"], "keep_last": 1});
    assert_eq!(
        app.post_as(OWNER, &format!("{env}/backup-schedules"), body)
            .await
            .status(),
        201
    );
    atlas_app::scheduler::tick(&app.app().state).await.unwrap();
    assert_eq!(app.deliver("backup-prune").await, 0, "no prune beside a running backup");
    assert_eq!(app.deliver("backup-capture").await, 1);
    assert_eq!(app.deliver("backup-prune").await, 1);
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    let kept: Vec<(&str, &str)> = sets.items.iter().map(|s| (s.id.as_str(), s.state.as_str())).collect();
    assert_eq!(kept.len(), 1, "only the scheduled one: {kept:?}");
    assert_eq!(kept[0].1, "complete");
    assert!(!ids.contains(&kept[0].0.to_owned()));

    // Deleting a set is confirmed by the environment's name.
    let del = format!("{env}/backups/{}", kept[0].0);
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
    assert!(sets.items.is_empty());
    // Payloads a backup referenced within the grace period stay; after it, the sweep takes every
    // payload no set references, with its mark.
    let pk = "WS#ws-demo#ENV#env-bk4";
    let table = &app.app().state.table;
    let count = |prefix: &'static str| async move {
        table
            .query_all(atlas_store::Query::partition(pk).begins_with(prefix))
            .await
            .unwrap()
            .len()
    };
    assert!(count("BLOB#").await > 0, "within the grace period");
    let later = later_state(&app, atlas_app::backup::PAYLOAD_GRACE_MS + 60_000);
    assert!(atlas_app::backup::sweep_payloads(&later, pk).await.unwrap() > 0);
    assert_eq!(
        (count("BLOB#").await, count("BLOBREF#").await),
        (0, 0),
        "no payload outlives its sets"
    );
    app.stop().await;
}

/// A manual backup of assignment filters, delivered by hand; returns the set id.
async fn manual_backup(app: &atlas_tests::app::TestApp, env: &str) -> String {
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/backups"),
            json!({"families": ["assignmentFilters"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    assert_eq!(app.deliver("backup-capture").await, 1);
    run.id
}

/// The app's state on a clock `ahead_ms` in the future.
fn later_state(app: &atlas_tests::app::TestApp, ahead_ms: i64) -> atlas_app::state::AppState {
    let now = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(ahead_ms);
    let mut state = app.app().state.clone();
    state.clock = std::sync::Arc::new(atlas_store::ManualClock::new(now));
    state
}

/// Issue 22: a revoked consent, one failed manual backup and a due schedule with `keep_last: 1`
/// deleted the only complete set. Failed sets never count; the newest complete set stays.
async fn retention_never_deletes_the_last_complete_set(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (tenant, env) = app.connected_env("env-bk7").await;
    let old = manual_backup(&app, &env).await;
    let good = manual_backup(&app, &env).await;
    let sim = &atlas_tests::sim::shared().sim;
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            consent_revoked: true,
            ..Default::default()
        },
    );
    let failed = manual_backup(&app, &env).await;
    let body = json!({"every_minutes": 60, "time_zone": "UTC", "families": ["assignmentFilters"], "keep_last": 1});
    assert_eq!(
        app.post_as(OWNER, &format!("{env}/backup-schedules"), body)
            .await
            .status(),
        201
    );
    atlas_app::scheduler::tick(&app.app().state).await.unwrap();
    assert_eq!(app.deliver("backup-capture").await, 1, "the scheduled backup");
    assert_eq!(app.deliver("backup-prune").await, 1, "retention ran after it ended");
    sim.clear_faults(&tenant);
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    let status = |id: &str| sets.items.iter().find(|s| s.id == id).map(|s| s.state.as_str());
    assert_eq!(
        status(&good),
        Some("complete"),
        "the last good backup survives: {sets:?}"
    );
    assert_eq!(status(&failed), Some("failed"), "newer than the kept set: kept");
    assert_eq!(status(&old), None, "an older complete set beyond keep_last goes");
    assert_eq!(sets.items.len(), 3);
    assert_eq!(sets.items[0].state, "failed", "the scheduled backup failed too");
    // Its payloads are still readable.
    for (id, blob) in captured(&app, "env-bk7", &good, "assignmentFilters").await {
        assert_eq!(blob["id"], id.as_str());
    }
    app.stop().await;
}

/// Issue 22: the sweep of unreferenced payloads raced a backup that skipped writing payloads it
/// found stored, leaving complete sets with unreadable items. Each round deletes the previous set,
/// then runs the sweep with a backup driven between its snapshot and its deletes (some families
/// before the snapshot, the rest inside), on a clock that makes every earlier payload stale.
async fn payload_sweep_racing_a_backup_loses_nothing(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (tenant, env) = app.connected_env_with("env-bk8", Some(3)).await;
    let pk = "WS#ws-demo#ENV#env-bk8";
    let families = ["assignmentFilters", "deviceCompliancePolicies", "configurationPolicies"];
    let step = atlas_app::steps::find("step-backup-capture").unwrap();
    let sim = &atlas_tests::sim::shared().sim;
    let mut previous: Option<String> = None;
    let mut swept = 0;
    const ROUNDS: usize = 24;
    for round in 0..ROUNDS {
        // Each round is a grace period and a minute later than the last.
        let state = later_state(
            &app,
            (round as i64 + 1) * (atlas_app::backup::PAYLOAD_GRACE_MS + 60_000),
        );
        // One object changes every round, so the sweep has real garbage to take.
        let changing = sim.objects(&tenant, "assignmentFilters")[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(sim.patch_object(
            &tenant,
            "assignmentFilters",
            &changing,
            json!({"description": format!("round {round}")})
        ));
        let res = app
            .post_as(OWNER, &format!("{env}/backups"), json!({"families": families}))
            .await;
        assert_eq!(res.status(), 202);
        let run: api::OperationRun = res.json().await.unwrap();
        if let Some(prev) = previous.take() {
            let res = app
                .req(reqwest::Method::DELETE, &format!("{env}/backups/{prev}"), Some(OWNER))
                .json(&json!({"confirm": "env-bk8"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 204);
        }
        // One family at a time, each alone in its message.
        let mut messages = app.take_units("backup-capture", families.len()).await;
        let before = round % (families.len() + 1);
        let deliver = |ms: Vec<(String, String)>| {
            let state = state.clone();
            async move {
                for m in ms {
                    let failed = atlas_app::steps::handle_batch(&state, &step, vec![m]).await;
                    assert!(failed.is_empty(), "the capture step failed");
                }
            }
        };
        let inside = messages.split_off(before);
        deliver(messages).await;
        swept += atlas_app::backup::sweep_payloads_with(&state, pk, || deliver(inside))
            .await
            .unwrap();

        let d: api::BackupSetDetail = app
            .get_as(OWNER, &format!("{env}/backups/{}", run.id))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(d.set.state, "complete", "round {round}: {:?}", d.set.unreadable);
        let table = &app.app().state.table;
        for i in &d.items {
            let blob = table
                .get(&atlas_store::Key::new(pk, backup_keys::blob_sk(&i.hash)))
                .await
                .unwrap();
            assert!(
                blob.is_some_and(|b| stored_payload(b)["id"] == i.id.as_str()),
                "round {round} (backup split {before}/{}): {}/{} has no payload",
                families.len(),
                i.family,
                i.id
            );
        }
        previous = Some(run.id);
    }
    assert!(swept >= ROUNDS - 2, "the changed payloads were swept: {swept}");
    app.stop().await;
}

/// A set is complete only when every item's payload is stored: a payload lost under a running
/// backup makes the family fail, naming the item, and restore readiness blocks on the set.
async fn a_lost_payload_makes_the_set_partial(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env("env-bk9").await;
    let pk = "WS#ws-demo#ENV#env-bk9";
    let first = manual_backup(&app, &env).await;
    let items = captured(&app, "env-bk9", &first, "assignmentFilters").await;
    let lost_id = items.keys().next().unwrap().clone();
    let table = &app.app().state.table;
    let set = atlas_domain::RunId::parse(&first).unwrap();
    let hash = atlas_app::backup::items_in(table, pk, &set, Some("assignmentFilters"))
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.item_id == lost_id)
        .unwrap()
        .hash;
    let hash = hash.as_str();
    // Lose the payload's mark but not the payload (as a store fault would): the next backup takes
    // the payload on its manifest's word (the sweep only deletes what has a mark), so it stays
    // complete and the payload readable.
    table
        .delete(&atlas_app::backup::blob_ref_key(pk, hash), None)
        .await
        .unwrap();
    let second = manual_backup(&app, &env).await;
    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{second}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d.set.state, "complete");
    assert_eq!(captured(&app, "env-bk9", &second, "assignmentFilters").await, items);
    // A payload lost between the backup's writes and its check (a store fault, injected by a
    // wrapper of the real table), a week later, when the manifest no longer vouches for its
    // payloads and every mark is read: the family fails, naming the item.
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/backups"),
            json!({"families": ["assignmentFilters", "deviceCompliancePolicies"]}),
        )
        .await;
    let run: api::OperationRun = res.json().await.unwrap();
    let got = app.take_units("backup-capture", 2).await;
    let mut state = later_state(&app, atlas_app::backup::TOUCH_AFTER_MS + 60_000);
    // The family's manifest is unchanged since the first set: its mark's touch comes after the
    // payloads were stored and before they are read back.
    let first_run: api::OperationView = app
        .get_as(OWNER, &paths::operation(DEMO_WS, &first))
        .await
        .json()
        .await
        .unwrap();
    let manifest = first_run
        .items
        .iter()
        .find(|i| i.item == "assignmentFilters")
        .and_then(|i| i.detail["manifest"].as_str())
        .unwrap()
        .to_owned();
    state.table = atlas_store::Table::new(std::sync::Arc::new(DropMarkAfterItems {
        inner: app.app().state.table.raw(),
        hash: hash.to_owned(),
        pk: pk.to_owned(),
        manifest_mark: atlas_app::backup::blob_ref_key(pk, &manifest),
    }));
    let step = atlas_app::steps::find("step-backup-capture").unwrap();
    for m in got {
        assert!(atlas_app::steps::handle_batch(&state, &step, vec![m]).await.is_empty());
    }
    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{}", run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d.set.state, "partial");
    assert_eq!(d.set.unreadable, [format!("assignmentFilters/{lost_id}")]);
    let v: api::OperationView = app
        .get_as(OWNER, &paths::operation(DEMO_WS, &run.id))
        .await
        .json()
        .await
        .unwrap();
    let failed = v.items.iter().find(|i| i.result == "failed").unwrap();
    assert_eq!(failed.item, "assignmentFilters");
    let reason = failed.detail["reason"].as_str().unwrap();
    assert!(
        reason.contains(&lost_id) && reason.contains("no stored payload"),
        "{reason}"
    );
    app.stop().await;
}

/// The real table, except that once a backup has touched the mark of the manifest of the family
/// `assignmentFilters` (after storing its payloads, before reading them back), the payload `hash`
/// and its mark are deleted.
struct DropMarkAfterItems {
    inner: std::sync::Arc<dyn atlas_store::RawTable>,
    hash: String,
    pk: String,
    manifest_mark: atlas_store::Key,
}

impl DropMarkAfterItems {
    async fn drop_payload(&self) -> Result<(), atlas_store::TableError> {
        for key in [
            atlas_app::backup::blob_ref_key(&self.pk, &self.hash),
            atlas_app::backup::blob_key(&self.pk, &self.hash),
        ] {
            self.inner.delete(&key, None).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl atlas_store::RawTable for DropMarkAfterItems {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn get(&self, key: &atlas_store::Key) -> Result<Option<atlas_store::Item>, atlas_store::TableError> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        item: atlas_store::Item,
        cond: Option<atlas_store::Cond>,
    ) -> Result<Option<atlas_store::Item>, atlas_store::TableError> {
        self.inner.put(item, cond).await
    }
    async fn update(
        &self,
        key: &atlas_store::Key,
        update: &atlas_store::Update,
        cond: Option<atlas_store::Cond>,
    ) -> Result<atlas_store::Item, atlas_store::TableError> {
        self.inner.update(key, update, cond).await
    }
    async fn delete(
        &self,
        key: &atlas_store::Key,
        cond: Option<atlas_store::Cond>,
    ) -> Result<Option<atlas_store::Item>, atlas_store::TableError> {
        self.inner.delete(key, cond).await
    }
    async fn query(&self, q: &atlas_store::Query) -> Result<atlas_store::Page, atlas_store::TableError> {
        self.inner.query(q).await
    }
    async fn transact(&self, items: Vec<atlas_store::TxItem>) -> Result<(), atlas_store::TableError> {
        self.inner.transact(items).await
    }
    async fn batch(
        &self,
        writes: Vec<atlas_store::TxItem>,
    ) -> Result<Vec<Result<Option<atlas_store::Item>, atlas_store::TableError>>, atlas_store::TableError> {
        let hit = writes.iter().any(|w| w.key().is_ok_and(|k| k == self.manifest_mark));
        let out = self.inner.batch(writes).await?;
        if hit {
            self.drop_payload().await?;
        }
        Ok(out)
    }
    async fn ping(&self) -> Result<(), atlas_store::TableError> {
        self.inner.ping().await
    }
    async fn dump(&self) -> Result<Vec<atlas_store::Item>, atlas_store::TableError> {
        self.inner.dump().await
    }
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

/// A backup reads its families side by side: with every answer held until 6 Graph requests of the
/// tenant are in flight at once (the simulator's gate; a client that sent one request at a time
/// would wait out the gate's 5 s with nothing overlapping), the recording shows the first requests
/// of two families in flight together, and every object is still captured once, complete.
async fn families_read_side_by_side_and_lose_nothing(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env_with("env-bk-par", Some(25)).await;
    let sim = &atlas_tests::sim::shared().sim;
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            hold_until_in_flight: Some(6),
            ..Default::default()
        },
    );
    sim.reset_stats(&tenant);
    let v = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    let stats = sim.stats(&tenant);
    sim.clear_faults(&tenant);
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);

    // The first request of each family (its list), as the simulator recorded it. The gate holds
    // the first answers until 6 requests are in flight, so the first arrivals overlap; which
    // families come first is the workers' choice.
    let mut first: Vec<&atlas_graph_sim::Recorded> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in &stats.recorded {
        let collection = r.path.split('?').next().unwrap_or_default();
        if r.method == "GET" && collection.split('/').count() == 2 && seen.insert(collection.to_owned()) {
            first.push(r);
        }
    }
    assert_eq!(
        first.len(),
        atlas_graph::families::FAMILIES.len(),
        "every family was listed"
    );
    let overlapping = first
        .iter()
        .enumerate()
        .flat_map(|(i, a)| first[i + 1..].iter().map(move |b| (a, b)))
        .filter(|(a, b)| a.overlaps(b))
        .count();
    assert!(
        overlapping >= 2,
        "families' first requests were in flight together: {:?}",
        first
    );
    assert!(
        stats.in_flight_max >= 6,
        "6 requests were in flight at once (the gate opened): {}",
        stats.in_flight_max
    );

    // Nothing lost or doubled: one item per object, each with its assignments and content.
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.objects(&tenant, f.code).len())
        .sum();
    let items: u64 = v.items.iter().map(|i| i.detail["items"].as_u64().unwrap()).sum();
    assert_eq!(items as usize, expected);
    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{}", v.run.id))
        .await
        .json()
        .await
        .unwrap();
    let mut keys: Vec<(String, String)> = d.items.iter().map(|i| (i.family.clone(), i.id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!((d.set.state.as_str(), keys.len()), ("complete", expected));
    assert_batch_families_complete(&app, "env-bk-par", &v.run.id, &tenant).await;
    app.stop().await;
}

/// Every unit of a backup delivered twice (SQS may redeliver; a crashed unit is redelivered):
/// with the pipelined reads each object is still captured exactly once and the run counts each
/// family once.
async fn redelivered_units_capture_each_object_once(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (tenant, env) = app.connected_env_with("env-bk-twice", Some(25)).await;
    let res = app.post_as(OWNER, &format!("{env}/backups"), json!({})).await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    let families = atlas_graph::families::FAMILIES.len();
    // 25 families go as 5 messages (ADR 0051).
    let messages = families.div_ceil(atlas_app::backup::FAMILIES_PER_MESSAGE);
    assert_eq!(app.deliver_each("backup-capture", 2).await, messages);
    let v: api::OperationView = app
        .get_as(OWNER, &paths::operation(DEMO_WS, &run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v.run.state, "completed");
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    assert_eq!((v.run.total, v.run.succeeded), (families as u64, families as u64));
    let sim = &atlas_tests::sim::shared().sim;
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.objects(&tenant, f.code).len())
        .sum();
    let d: api::BackupSetDetail = app
        .get_as(OWNER, &format!("{env}/backups/{}", run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((d.set.state.as_str(), d.items.len()), ("complete", expected));
    assert_batch_families_complete(&app, "env-bk-twice", &run.id, &tenant).await;
    app.stop().await;
}

/// Pieces of a family are stored while it is still being read; when its list then breaks, the
/// pieces already stored are taken out again: the set holds all of a family or none of it.
async fn a_list_that_breaks_midway_leaves_none_of_its_family(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env_with("env-bk12", Some(150)).await;
    let sim = &atlas_tests::sim::shared().sim;
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            paging: Some(atlas_graph_sim::PagingFault::DeadNextLink),
            paging_families: vec!["deviceConfigurations".into()],
            ..Default::default()
        },
    );
    let body = json!({"families": ["deviceConfigurations", "assignmentFilters"]});
    let v = app.run_to_completion(&format!("{env}/backups"), body).await;
    sim.clear_faults(&tenant);
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("partially_succeeded"),
        "{:?}",
        v.items
    );
    let failed: Vec<&str> = v
        .items
        .iter()
        .filter(|i| i.result == "failed")
        .map(|i| i.item.as_str())
        .collect();
    assert_eq!(failed, ["deviceConfigurations"]);
    assert!(
        captured(&app, "env-bk12", &v.run.id, "deviceConfigurations")
            .await
            .is_empty(),
        "no part of the family whose list broke"
    );
    assert_eq!(
        captured(&app, "env-bk12", &v.run.id, "assignmentFilters").await.len(),
        sim.objects(&tenant, "assignmentFilters").len()
    );
    app.stop().await;
}

/// ADR 0056: a backup of 25 families writes one unit record per message (5), every reader
/// expands them into the 25 families, and the next backup finds each family's previous manifest
/// in them, and in records written one per unit before, read alongside.
async fn grouped_unit_records_are_read_as_their_families(mode: Mode) {
    use atlas_app::records::Record;
    use atlas_app::records::runs::{RunItem, items_query};
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env_with("env-bk-grouped", Some(3)).await;
    let pk = atlas_tests::app::demo_env_pk("env-bk-grouped");
    let families = atlas_graph::families::FAMILIES.len();
    let messages = families.div_ceil(atlas_app::backup::FAMILIES_PER_MESSAGE);
    let res = app.post_as(OWNER, &format!("{env}/backups"), json!({})).await;
    let first: api::OperationRun = res.json().await.unwrap();
    assert_eq!(app.deliver("backup-capture").await, messages);
    let table = &app.app().state.table;
    let records: Vec<RunItem> = atlas_app::records::query_all(table, items_query(&first.id))
        .await
        .unwrap();
    assert_eq!(records.len(), messages, "one record per message");
    assert!(
        records
            .iter()
            .all(|r| r.items().count() == atlas_app::backup::FAMILIES_PER_MESSAGE)
    );
    let v = app.operation(&first.id).await;
    assert_eq!(
        (v.run.succeeded, v.items.len()),
        (families as u64, families),
        "{:?}",
        v.items
    );
    let detail = |set: String| {
        let app = &app;
        let env = env.clone();
        async move {
            let d: api::BackupSetDetail = app
                .get_as(OWNER, &format!("{env}/backups/{set}"))
                .await
                .json()
                .await
                .unwrap();
            (d.set.state, d.items.len())
        }
    };
    let before = detail(first.id.clone()).await;
    assert_eq!(before.0, "complete");
    // Two of the messages' records rewritten as records of one unit each, as written before.
    for grouped in records.iter().take(2) {
        for unit in grouped.clone().expand() {
            table.put(unit.to_item(), None).await.unwrap();
        }
    }
    let now: Vec<RunItem> = atlas_app::records::query_all(table, items_query(&first.id))
        .await
        .unwrap();
    assert_eq!(now.len(), messages + 2 * (atlas_app::backup::FAMILIES_PER_MESSAGE - 1));
    assert_eq!(
        detail(first.id.clone()).await,
        before,
        "records of both kinds read alike"
    );
    assert_eq!(app.operation(&first.id).await.items, v.items);
    // The next backup, a minute later: nothing changed in Intune, so each family's manifest is
    // its previous one, found in the first set's records, and its mark is left untouched.
    let marks = || async {
        let mut out = std::collections::BTreeMap::new();
        for i in &v.items {
            let hash = i.detail["manifest"].as_str().unwrap();
            let mark = table
                .get(&atlas_app::backup::blob_ref_key(&pk, hash))
                .await
                .unwrap()
                .expect("a manifest's mark");
            out.insert(i.item.clone(), mark["last_referenced_ms"].clone());
        }
        out
    };
    let touched = marks().await;
    let res = app.post_as(OWNER, &format!("{env}/backups"), json!({})).await;
    let second: api::OperationRun = res.json().await.unwrap();
    let state = later_state(&app, 60_000);
    assert_eq!(app.deliver_with(&state, "backup-capture", 1).await, messages);
    let v2 = app.operation(&second.id).await;
    assert_eq!(v2.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v2.items);
    let manifests = |items: &[api::RunItem]| {
        items
            .iter()
            .map(|i| (i.item.clone(), i.detail["manifest"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(manifests(&v2.items), manifests(&v.items));
    assert_eq!(marks().await, touched, "every family's previous manifest was found");
    app.stop().await;
}

/// A backup of three families on `env`, started with no workers running.
async fn start_three_families(app: &atlas_tests::app::TestApp, env: &str) -> api::OperationRun {
    let families = ["assignmentFilters", "deviceCompliancePolicies", "configurationPolicies"];
    let res = app
        .post_as(OWNER, &format!("{env}/backups"), json!({"families": families}))
        .await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

/// The capture queue and the one message it holds: three families travel in one (ADR 0051).
async fn the_one_message(
    app: &atlas_tests::app::TestApp,
) -> (std::sync::Arc<dyn atlas_store::Queue>, Vec<atlas_store::Received>) {
    let queue = app.app().state.queues.get("backup-capture").unwrap().clone();
    let got = queue
        .receive(10, std::time::Duration::from_secs(60), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "three families, one message");
    (queue, got)
}

/// ADR 0051: a message carries several families. One of them throttled for longer than a unit
/// sleeps through goes back to the queue (counting its deferral) without the families recorded
/// (those that finished before the tenant's back-off); delivered again once Graph lets up, it
/// completes the backup.
async fn a_throttled_family_waits_without_its_recorded_message_mates(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (tenant, env) = app.connected_env_with("env-bk-wait", Some(3)).await;
    let run = start_three_families(&app, &env).await;
    let sim = &atlas_tests::sim::shared().sim;
    // Longer than a unit sleeps through (10 s): the unit is re-queued after that long.
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            throttle: Some(atlas_graph_sim::Throttle {
                fraction: 1.0,
                retry_after: Some(11.0),
                paths: vec!["assignmentFilters".into()],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let state = app.app().state.clone();
    let step = atlas_app::steps::find("step-backup-capture").unwrap();
    let (queue, got) = the_one_message(&app).await;
    let sent: atlas_app::runs::WorkMessage = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(sent.units().len(), 3);
    let failed = atlas_app::steps::handle_batch(&state, &step, vec![(got[0].id.clone(), got[0].body.clone())]).await;
    assert!(failed.is_empty(), "a wait is not a failure");
    queue.delete(&got[0].receipt).await.unwrap();
    sim.clear_faults(&tenant);
    let v = app.operation(&run.id).await;
    assert_eq!((v.run.state.as_str(), v.run.failed), ("running", 0), "{:?}", v.items);
    let recorded: Vec<String> = v.items.iter().map(|i| i.item.clone()).collect();
    assert!(!recorded.iter().any(|i| i == "assignmentFilters"), "{recorded:?}");
    // The re-queued message carries the units not recorded (the throttled family, and any the
    // tenant's back-off held too), with the deferral counted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let again = loop {
        let got = queue
            .receive(
                10,
                std::time::Duration::from_secs(60),
                std::time::Duration::from_secs(1),
            )
            .await
            .unwrap();
        if let Some(m) = got.into_iter().next() {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the waiting family never came back"
        );
    };
    let body: serde_json::Value = serde_json::from_str(&again.body).unwrap();
    assert_eq!(body["deferred"], 1);
    let waiting: Vec<String> = serde_json::from_value::<atlas_app::runs::WorkMessage>(body.clone())
        .unwrap()
        .units()
        .into_iter()
        .map(|u| u.item)
        .collect();
    assert!(waiting.iter().any(|i| i == "assignmentFilters"), "{body}");
    assert!(
        waiting.iter().all(|i| !recorded.contains(i)),
        "{waiting:?} / {recorded:?}"
    );
    assert_eq!(waiting.len() + recorded.len(), 3, "{waiting:?} / {recorded:?}");
    assert!(
        atlas_app::steps::handle_batch(&state, &step, vec![(again.id.clone(), again.body.clone())])
            .await
            .is_empty()
    );
    queue.delete(&again.receipt).await.unwrap();
    let v = app.operation(&run.id).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    assert_eq!((v.run.total, v.run.succeeded), (3, 3));
    app.stop().await;
}

/// A message of several families that ends in the dead-letter queue fails each of its units
/// (ADR 0051), so the run ends instead of waiting for its deadline.
async fn a_dead_lettered_message_fails_every_family_it_carried(mode: Mode) {
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let (_, env) = app.connected_env_with("env-bk-dlq", Some(2)).await;
    let run = start_three_families(&app, &env).await;
    let (queue, got) = the_one_message(&app).await;
    atlas_app::runs::dead_letter(&app.app().state, &got[0].body)
        .await
        .unwrap();
    queue.delete(&got[0].receipt).await.unwrap();
    let v = app.operation(&run.id).await;
    assert_eq!(v.run.state, "completed");
    assert_eq!((v.run.total, v.run.failed), (3, 3), "{:?}", v.items);
    let mut failed: Vec<&str> = v.items.iter().map(|i| i.item.as_str()).collect();
    failed.sort();
    assert_eq!(
        failed,
        ["assignmentFilters", "configurationPolicies", "deviceCompliancePolicies"]
    );
    app.stop().await;
}

atlas_tests::on_both_backends!(
    grouped_unit_records_are_read_as_their_families,
    a_dead_lettered_message_fails_every_family_it_carried,
    a_throttled_family_waits_without_its_recorded_message_mates,
    families_read_side_by_side_and_lose_nothing,
    a_list_that_breaks_midway_leaves_none_of_its_family,
    redelivered_units_capture_each_object_once,
    batch_item_faults_lose_nothing,
    cron_schedules_run_in_their_time_zone,
    retention_and_deletion,
    overlapping_scheduler_ticks_start_one_backup,
    capture_is_complete_and_unchanged_payloads_are_not_stored_again,
    a_family_that_fails_makes_the_backup_partial,
    retention_never_deletes_the_last_complete_set,
    payload_sweep_racing_a_backup_loses_nothing,
    a_lost_payload_makes_the_set_partial,
);
