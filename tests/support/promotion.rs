//! A promotion world for the route-walking tests (the OpenAPI check and the authorization
//! matrix): two connected simulator environments, a backup of the source, and — as far as the
//! route needs — a promotion planned by the operator, dry-run, approved by the manager, cut
//! over. The planner is the operator so that the owner and the manager may both approve.

use std::collections::BTreeMap;

use atlas_api_types::paths;
use serde_json::{Value, json};

use crate::app::{DEMO_WS, MANAGER, OPERATOR, OWNER, TestApp, eventually};

pub const SOURCE: &str = "env-promo-src";
pub const TARGET: &str = "env-promo-tgt";

/// Whether `path` is a compare, mapping or promotion route.
pub fn wants(path: &str) -> bool {
    ["/compare", "/mappings", "/promotions"]
        .iter()
        .any(|p| path.contains(p))
}

async fn post(app: &TestApp, who: &str, path: &str, body: Value) -> Value {
    let res = app.post_as(who, path, body).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    assert!(
        (200..300).contains(&status),
        "promotion world: POST {path}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Placeholders for the route at `path`: `source_env`, `target_env`, `side`, and for routes
/// naming a promotion `promotion`, `plan_fingerprint` and `target_name`.
pub async fn world(app: &TestApp, path: &str) -> BTreeMap<&'static str, String> {
    let mut f = BTreeMap::new();
    // Every member sees every environment here: the routes span two new ones.
    for user in ["u-manager", "u-operator", "u-readonly"] {
        let res = app
            .patch_as(OWNER, &paths::member(DEMO_WS, user), json!({"environments": "all"}))
            .await;
        assert_eq!(res.status(), 200, "promotion world: entitle {user}");
    }
    let (src_tenant, src) = app.connected_env_with(SOURCE, Some(1)).await;
    let (tgt_tenant, _) = app.connected_env_with(TARGET, Some(1)).await;
    f.insert("source_env", SOURCE.to_owned());
    f.insert("target_env", TARGET.to_owned());
    f.insert("target_name", TARGET.to_owned());
    f.insert("side", format!("environment:{SOURCE}"));
    if !path.contains("/promotions") {
        return f;
    }
    // One portal-made policy in the source, and its older twin in the target (an update).
    let sim = &crate::sim::shared().sim;
    let policy = json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "promo-fixture", "description": "new"});
    let id = sim.add_object(&src_tenant, "deviceConfigurations", policy.clone());
    let mut old = policy;
    old["description"] = json!("old");
    sim.add_object(&tgt_tenant, "deviceConfigurations", old);
    let v = app
        .run_to_completion(&format!("{src}/backups"), json!({"families": ["deviceConfigurations"]}))
        .await;
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "promotion world: backup"
    );
    if !path.contains("{promotion}") {
        return f;
    }
    let body = json!({"source_environment_id": SOURCE, "target_environment_id": TARGET, "items": [format!("deviceConfigurations/{id}")], "include_assignments": false});
    let p = post(app, OPERATOR, &paths::promotions(DEMO_WS), body).await;
    let pid = p["id"].as_str().expect("a promotion").to_owned();
    let fp = p["plan_fingerprint"].as_str().expect("a plan").to_owned();
    f.insert("promotion", pid.clone());
    f.insert("plan_fingerprint", fp.clone());
    let approve = path.ends_with("/approve");
    let cutover = path.ends_with("/cutover");
    let rollback = path.ends_with("/rollback");
    if approve || cutover || rollback {
        post(app, OPERATOR, &paths::promotion_dry_run(DEMO_WS, &pid), json!({})).await;
    }
    if cutover || rollback {
        post(
            app,
            MANAGER,
            &paths::promotion_approve(DEMO_WS, &pid),
            json!({"plan_fingerprint": fp}),
        )
        .await;
    }
    if rollback {
        let body = json!({"plan_fingerprint": fp, "confirm": TARGET});
        post(app, MANAGER, &paths::promotion_cutover(DEMO_WS, &pid), body).await;
        let view = paths::promotion(DEMO_WS, &pid);
        eventually("the fixture promotion's cutover", app.run_deadline(), || async {
            let p: Value = app.get_as(OWNER, &view).await.json().await.ok()?;
            (!matches!(p["state"].as_str(), Some("backing_up" | "cutting_over"))).then_some(())
        })
        .await;
    }
    f
}
