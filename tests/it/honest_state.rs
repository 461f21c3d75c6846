//! Honest state and per-item granularity (issue 22, items 6 and 8), on both backends: one object that
//! stays throttled fails alone in a backup; a run that meets revoked consent marks the connection
//! Blocked and restore readiness blocks; a store that cannot write makes health degraded and the
//! failing run says why.

use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_graph_sim::{Faults, Throttle};
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OWNER, TestApp, eventually, spawn_app};
use serde_json::json;

fn sim() -> &'static atlas_graph_sim::Simulator {
    &atlas_tests::sim::shared().sim
}

async fn get<T: serde::de::DeserializeOwned>(app: &TestApp, path: &str) -> T {
    let res = app.get_as(OWNER, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn one_throttled_object_fails_alone_and_the_rest_is_captured(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-hs1").await;
    let scripts = sim().objects(&tenant, "deviceManagementScripts");
    assert!(scripts.len() >= 3);
    let hot = scripts[1]["id"].as_str().unwrap().to_owned();
    sim().set_faults(
        &tenant,
        Faults {
            throttle: Some(Throttle {
                fraction: 1.0,
                retry_after: Some(0.01),
                paths: vec![format!("deviceManagementScripts/{hot}")],
                ..Throttle::default()
            }),
            ..Faults::default()
        },
    );
    let v = app
        .run_to_completion(
            &format!("{env}/backups"),
            json!({"families": ["deviceManagementScripts", "assignmentFilters"]}),
        )
        .await;
    sim().clear_faults(&tenant);
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("partially_succeeded"),
        "{:?}",
        v.items
    );
    let unit = |code: &str| v.items.iter().find(|i| i.item == code).unwrap();
    assert_eq!(unit("assignmentFilters").result, "succeeded");
    let s = unit("deviceManagementScripts");
    assert_eq!(s.result, "failed");
    assert_eq!(s.detail["items"], scripts.len() - 1, "{}", s.detail);
    let failed = s.detail["failed_items"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{}", s.detail);
    assert_eq!(failed[0]["id"], hot.as_str());
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("429"), "{reason}");
    assert!(s.detail["reason"].as_str().unwrap().contains("1 of"), "{}", s.detail);

    // The set holds every other object of the family, and says it is partial.
    let d: api::BackupSetDetail = get(&app, &format!("{env}/backups/{}", v.run.id)).await;
    assert_eq!(d.set.state, "partial");
    let captured: Vec<&str> = d
        .items
        .iter()
        .filter(|i| i.family == "deviceManagementScripts")
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(captured.len(), scripts.len() - 1);
    assert!(!captured.contains(&hot.as_str()));
    app.stop().await;
}

async fn revoked_consent_blocks_the_connection_and_restore_readiness(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-hs2").await;
    let conn = format!("{env}/provider-connection");
    let v = app
        .run_to_completion(&format!("{env}/backups"), json!({"families": ["assignmentFilters"]}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let set: api::BackupSetDetail = get(&app, &format!("{env}/backups/{}", v.run.id)).await;
    let keys: Vec<String> = set.items.iter().map(|i| format!("{}/{}", i.family, i.id)).collect();
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/restores"),
            json!({"backup_set_id": set.set.id, "items": keys}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let draft: api::Restore = res.json().await.unwrap();
    assert_ne!(draft.readiness.status, "blocked", "{:?}", draft.readiness.checks);
    let before: api::ProviderConnection = get(&app, &conn).await;
    assert_ne!(before.status, "blocked");

    // The tenant revokes consent; the next run cannot sign in.
    sim().set_faults(
        &tenant,
        Faults {
            consent_revoked: true,
            ..Faults::default()
        },
    );
    let v = app
        .run_to_completion(&format!("{env}/backups"), json!({"families": ["assignmentFilters"]}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("failed"));
    let c: api::ProviderConnection = get(&app, &conn).await;
    assert_eq!(c.status, "blocked", "{}", c.status_reason);
    assert!(c.status_reason.contains("consent revoked"), "{}", c.status_reason);
    assert!(c.status_reason.contains("7000229"), "{}", c.status_reason);
    let r: api::Restore = get(&app, &format!("{env}/restores/{}", draft.id)).await;
    assert_eq!(r.readiness.status, "blocked");
    let provider = r.readiness.checks.iter().find(|c| c.code == "provider").unwrap();
    assert_eq!(provider.status, "blocked", "{}", provider.message);
    assert!(provider.message.contains("consent revoked"), "{}", provider.message);

    // Consent is back and a verification proves it: the connection is no longer blocked.
    sim().clear_faults(&tenant);
    let res = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    eventually("the verification to complete", Duration::from_secs(30), || async {
        let v: api::OperationView = get(&app, &paths::operation(DEMO_WS, &run.id)).await;
        (v.run.state == "completed").then_some(())
    })
    .await;
    let c: api::ProviderConnection = get(&app, &conn).await;
    assert_eq!(c.status, "ready", "{}", c.status_reason);
    app.stop().await;
}

async fn health(app: &TestApp) -> (u16, api::Health) {
    let res = app.get("/api/health").await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// A full disk, injected at the store port (the same on both backends; no root tricks): health turns
/// degraded with why within its probe's cache time, and back; a backup whose payload writes fail ends
/// failed, saying the store cannot write.
async fn a_store_that_cannot_write_is_degraded_and_the_failing_run_says_why(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env("env-hs3").await;
    let (status, h) = health(&app).await;
    assert_eq!((status, h.state.as_str(), h.problem), (200, "ok", None));

    let table = &app.app().state.table;
    table.refuse_writes(Some("No space left on device (os error 28)"), &[]);
    let h = eventually("health to turn degraded", Duration::from_secs(10), || async {
        let (status, h) = health(&app).await;
        (status == 503).then_some(h)
    })
    .await;
    table.refuse_writes(None, &[]);
    assert_eq!(h.state, "degraded");
    assert_eq!(
        h.problem.as_deref(),
        Some("the store cannot write: No space left on device (os error 28)")
    );
    eventually("health to recover", Duration::from_secs(10), || async {
        let (status, h) = health(&app).await;
        (status == 200 && h.problem.is_none()).then_some(())
    })
    .await;

    // The run's own records still fit; its payloads do not.
    table.refuse_writes(Some("No space left on device (os error 28)"), &["BLOB#"]);
    let v = app
        .run_to_completion(&format!("{env}/backups"), json!({"families": ["assignmentFilters"]}))
        .await;
    table.refuse_writes(None, &[]);
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("failed"));
    let reason = v.run.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("the store cannot write: No space left on device"),
        "{reason}"
    );
    let unit = &v.items[0];
    assert_eq!(unit.result, "failed");
    assert!(
        unit.detail["reason"]
            .as_str()
            .unwrap()
            .contains("the store cannot write")
    );
    app.stop().await;
}

/// The DynamoDB-mode stack's local key file lives in the test's directory and goes with it: no key
/// files pile up in the system temp directory.
#[tokio::test]
async fn a_protocol_server_stack_keeps_its_key_file_in_the_test_directory() {
    let app = spawn_app(Mode::Aws).await;
    let key = app.dir.0.join("master.key");
    assert!(key.exists(), "{}", key.display());
    let atlas_app::config::Storage::Aws { table, .. } = app.config.storage.clone() else {
        panic!("the Aws mode stack runs on DynamoDB");
    };
    let legacy = std::env::temp_dir().join(format!("atlas-{table}-master.key"));
    assert!(!legacy.exists(), "{}", legacy.display());
    let (_, dir) = app.stop().await;
    drop(dir);
    assert!(!key.exists(), "removed with the test's directory");
}

atlas_tests::on_both_backends!(
    one_throttled_object_fails_alone_and_the_rest_is_captured,
    revoked_consent_blocks_the_connection_and_restore_readiness,
    a_store_that_cannot_write_is_degraded_and_the_failing_run_says_why,
);
