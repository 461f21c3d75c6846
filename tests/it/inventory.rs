//! Inventory sync against the simulator, on both backends: every family read, items normalized,
//! ghosts kept and restored, a family that failed to read left Unknown with nothing ghosted.

use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OWNER, TestApp, eventually, spawn_app};
use serde_json::json;

async fn sync(app: &TestApp, env: &str) -> api::OperationView {
    let res = app.post_as(OWNER, &format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    // A DynamoDB-mode sync of every family on a shared, busy machine can take minutes.
    eventually("the sync run to complete", Duration::from_secs(300), || async {
        let v: api::OperationView = app
            .get_as(OWNER, &paths::operation(DEMO_WS, &run.id))
            .await
            .json()
            .await
            .unwrap();
        (v.run.state == "completed").then_some(v)
    })
    .await
}

async fn items(app: &TestApp, env: &str, query: &str) -> Vec<api::InventoryItem> {
    let page: api::InventoryPage = app
        .get_as(OWNER, &format!("{env}/inventory{query}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(page.next.is_none());
    page.items
}

async fn sync_reads_every_family_and_keeps_ghosts(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-inv").await;
    let v = sync(&app, &env).await;
    let families = atlas_graph::families::FAMILIES.len() as u64;
    assert_eq!(
        (v.run.outcome.map(|o| o.as_str()), v.run.total, v.run.succeeded),
        (Some("succeeded"), families, families)
    );

    let sim = &atlas_tests::sim::shared().sim;
    let all = items(&app, &env, "?limit=500").await;
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.objects(&tenant, f.code).len())
        .sum();
    assert_eq!(all.len(), expected, "every object of every family");
    // Assignments are read for every assignable family, by list `$expand` or `$batch`.
    for i in &all {
        let assignable = atlas_graph::families::Family::by_code(&i.family).unwrap().assignments
            != atlas_graph::families::AssignmentsRead::None;
        assert_eq!(i.assignment_summary != "unknown", assignable, "{} {}", i.family, i.id);
    }
    let configs = items(&app, &env, "?family=deviceConfigurations").await;
    assert_eq!(configs.len(), sim.objects(&tenant, "deviceConfigurations").len());
    assert!(
        configs
            .iter()
            .all(|i| i.state == "active" && i.payload.is_none() && !i.payload_hash.is_empty())
    );

    // Detail: the payload, with secret-looking values redacted.
    let one = &configs[0];
    let d: api::InventoryItem = app
        .get_as(OWNER, &format!("{env}/inventory/deviceConfigurations/{}", one.id))
        .await
        .json()
        .await
        .unwrap();
    let payload = d.payload.expect("payload on the item's own address");
    assert_eq!(payload["id"], one.id.as_str());
    // The simulator seeds secret-looking values (pre-shared keys, passwords): none reaches a client.
    let mut redacted = 0;
    for i in &configs {
        let d: api::InventoryItem = app
            .get_as(OWNER, &format!("{env}/inventory/deviceConfigurations/{}", i.id))
            .await
            .json()
            .await
            .unwrap();
        let text = serde_json::to_string(&d.payload).unwrap();
        redacted += text.matches("[redacted]").count();
    }
    assert!(redacted > 0, "some seeded secret was redacted");
    assert_eq!(
        app.get_as(OWNER, &format!("{env}/inventory/deviceConfigurations/nope-0000"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get_as(OWNER, &format!("{env}/inventory?family=everything"))
            .await
            .status(),
        400
    );

    // An object deleted in Intune becomes a ghost on the next complete read, once.
    let gone = sim.objects(&tenant, "deviceConfigurations")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let graph = atlas_graph::GraphClient::new(atlas_graph::GraphConfig::for_base_url(
        &atlas_tests::sim::shared().base_url,
    ))
    .unwrap();
    let client = graph.tenant(
        &tenant,
        atlas_graph::AppIdentity::with_secret(atlas_tests::sim::CLIENT_ID, atlas_tests::sim::CLIENT_SECRET),
    );
    client
        .delete(&format!("/beta/deviceManagement/deviceConfigurations/{gone}"))
        .await
        .unwrap();
    sync(&app, &env).await;
    let ghosts = items(&app, &env, "?state=deleted").await;
    assert_eq!(
        ghosts.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [gone.as_str()]
    );
    assert!(ghosts[0].deleted_ms.is_some());
    assert_eq!(
        items(&app, &env, "?limit=500").await.len(),
        expected,
        "the ghost is kept"
    );
    app.stop().await;
}

async fn a_family_that_fails_is_unknown_and_nothing_is_ghosted(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-inv2").await;
    sync(&app, &env).await;
    let before = items(&app, &env, "?family=deviceConfigurations").await;
    let sim = &atlas_tests::sim::shared().sim;
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            forbidden_families: vec!["deviceConfigurations".into()],
            ..Default::default()
        },
    );
    let v = sync(&app, &env).await;
    sim.clear_faults(&tenant);
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("partially_succeeded"),
        "never shown as success"
    );
    assert_eq!(v.run.failed, 1);
    let failed = v.items.iter().find(|i| i.result == "failed").unwrap();
    assert_eq!(failed.item, "deviceConfigurations");
    let after = items(&app, &env, "?family=deviceConfigurations").await;
    assert_eq!(after.len(), before.len());
    assert!(
        after.iter().all(|i| i.state == "active"),
        "an unreadable family ghosts nothing"
    );
    app.stop().await;
}

async fn a_ghost_that_reappears_is_restored_with_history(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env("env-inv3").await;
    sync(&app, &env).await;
    let one = items(&app, &env, "?family=assignmentFilters").await.remove(0);
    // As if an earlier sync had not found it.
    let table = &app.app().state.table;
    let (ws, env_id) = (
        WorkspaceId::parse("ws-demo").unwrap(),
        EnvironmentId::parse("env-inv3").unwrap(),
    );
    let key = atlas_store::Key::new(
        atlas_app::records::keys::env_pk(&ws, &env_id),
        atlas_app::records::inventory::item_sk("assignmentFilters", &one.id),
    );
    table
        .update(
            &key,
            &atlas_store::Update::new().set("status", "deleted").set("deleted_ms", 1),
            None,
        )
        .await
        .unwrap();
    sync(&app, &env).await;
    let d: api::InventoryItem = app
        .get_as(OWNER, &format!("{env}/inventory/assignmentFilters/{}", one.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d.state, "active");
    let events: Vec<&str> = d.history.iter().map(|h| h.event.as_str()).collect();
    assert_eq!(events.last(), Some(&"restored"));
    app.stop().await;
}

async fn page(app: &TestApp, env: &str, query: &str) -> api::InventoryPage {
    app.get_as(OWNER, &format!("{env}/inventory{query}"))
        .await
        .json()
        .await
        .unwrap()
}

/// The deviceConfigurations family's last sync as the inventory shows it.
async fn configs_state(app: &TestApp, env: &str) -> api::InventoryFamily {
    let p = page(app, env, "?family=deviceConfigurations&limit=500").await;
    assert_eq!(p.families.len(), 1, "{:?}", p.families);
    p.families.into_iter().next().unwrap()
}

/// Syncs under `faults` and checks the family went Unknown with a reason naming `why`, and that all
/// `live` objects are still there, active: a list that ended early deleted nothing.
async fn sync_under(app: &TestApp, tenant: &str, env: &str, faults: atlas_graph_sim::Faults, why: &str, live: usize) {
    let sim = &atlas_tests::sim::shared().sim;
    sim.set_faults(tenant, faults);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let v = sync(app, env).await;
    sim.clear_faults(tenant);
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("partially_succeeded"), "{why}");
    let failed: Vec<&str> = v
        .items
        .iter()
        .filter(|i| i.result == "failed")
        .map(|i| i.item.as_str())
        .collect();
    assert_eq!(failed, ["deviceConfigurations"], "{why}");
    let state = configs_state(app, env).await;
    assert_eq!(state.state, "unknown", "{why}");
    assert!(state.at_ms >= started, "{why}: when");
    let reason = state.reason.unwrap_or_default();
    assert!(reason.contains(why), "{reason}");
    let configs = page(app, env, "?family=deviceConfigurations&limit=500").await.items;
    assert_eq!(configs.len(), live, "{why}");
    assert!(configs.iter().all(|i| i.state == "active"), "{why}: nothing ghosted");
}

/// More objects than one page (Intune's deviceConfigurations pages by 100): a missing nextLink, a
/// short page, and a list that ends early without `@odata.count` each leave the family Unknown, with
/// when and why, and ghost nothing; afterwards a real deletion is ghosted on the GET's 404.
async fn a_truncated_list_is_unknown_and_never_a_deletion(mode: Mode) {
    use atlas_graph_sim::{Faults, PagingFault};
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-inv4").await;
    // 105 device configurations (two pages); the other families stay small.
    let sim = &atlas_tests::sim::shared().sim;
    let existing = sim.objects(&tenant, "deviceConfigurations");
    let odata_type = existing[0]["@odata.type"].clone();
    for i in existing.len()..105 {
        sim.add_object(
            &tenant,
            "deviceConfigurations",
            json!({"@odata.type": odata_type, "displayName": format!("Bulk profile {i}"), "roleScopeTagIds": ["0"]}),
        );
    }
    assert_eq!(sim.objects(&tenant, "deviceConfigurations").len(), 105);
    let v = sync(&app, &env).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let ok = configs_state(&app, &env).await;
    assert_eq!((ok.state.as_str(), ok.count, ok.reason), ("ok", Some(105), None));
    let only_configs = vec!["deviceConfigurations".to_owned()];

    let missing_link = Faults {
        paging: Some(PagingFault::MissingNextLink),
        paging_families: only_configs.clone(),
        ..Faults::default()
    };
    sync_under(
        &app,
        &tenant,
        &env,
        missing_link,
        "@odata.count is 105 but the pages held 100",
        105,
    )
    .await;
    let short_page = Faults {
        paging: Some(PagingFault::ShortPage),
        paging_families: only_configs.clone(),
        ..Faults::default()
    };
    sync_under(
        &app,
        &tenant,
        &env,
        short_page,
        "@odata.count is 105 but the pages held 55",
        105,
    )
    .await;
    // Nothing on the wire says the list is short: the 5 left-out objects' own GETs find them.
    let uncounted = Faults {
        paging: Some(PagingFault::MissingNextLink),
        paging_families: only_configs.clone(),
        no_count: true,
        ..Faults::default()
    };
    sync_under(
        &app,
        &tenant,
        &env,
        uncounted,
        "left out 5 object(s) that still exist",
        105,
    )
    .await;

    // Healthy again, and a deletion in Intune is a ghost once its GET answers 404, even with no count.
    let gone = sim.objects(&tenant, "deviceConfigurations")[104]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sim.delete_object(&tenant, "deviceConfigurations", &gone));
    sim.set_faults(
        &tenant,
        Faults {
            no_count: true,
            ..Faults::default()
        },
    );
    let v = sync(&app, &env).await;
    sim.clear_faults(&tenant);
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let unit = v.items.iter().find(|i| i.item == "deviceConfigurations").unwrap();
    assert_eq!(unit.detail["ghosted"], 1);
    let state = configs_state(&app, &env).await;
    assert_eq!((state.state.as_str(), state.count), ("ok", Some(104)));
    let ghosts = page(&app, &env, "?family=deviceConfigurations&state=deleted")
        .await
        .items;
    assert_eq!(
        ghosts.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [gone.as_str()]
    );
    app.stop().await;
}

atlas_tests::on_both_backends!(
    sync_reads_every_family_and_keeps_ghosts,
    a_family_that_fails_is_unknown_and_nothing_is_ghosted,
    a_ghost_that_reappears_is_restored_with_history,
    a_truncated_list_is_unknown_and_never_a_deletion,
);
