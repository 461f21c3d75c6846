//! The offline policy lint over an environment's inventory (spec 021): every rule in the
//! catalogue, hits on a synced simulator tenant with no Graph request made by the lint, the group
//! rules honestly not evaluated (groups are not in the inventory), and entitlement.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, Mode, OUTSIDER, OWNER, READONLY, spawn_app};
use serde_json::json;

#[tokio::test]
async fn an_environment_is_linted_from_its_inventory_without_graph() {
    let app = spawn_app(Mode::Embedded).await;
    let (tenant, env) = app.connected_env_with("env-lint", Some(3)).await;
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));

    let rules: api::LintRuleList = app
        .get_as(OWNER, &paths::lint_rules(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert!(rules.items.len() >= 25, "{} rules", rules.items.len());
    assert!(
        rules
            .items
            .iter()
            .all(|r| !r.rationale.is_empty() && !r.fix_hint.is_empty())
    );

    let sim = &atlas_tests::sim::shared().sim;
    sim.reset_stats(&tenant);
    let res = app.get_as(OWNER, &paths::environment_lint(DEMO_WS, "env-lint")).await;
    assert_eq!(res.status(), 200);
    let report: api::LintReport = res.json().await.unwrap();
    assert_eq!(
        sim.stats(&tenant).graph_requests,
        0,
        "the lint reads only what is stored"
    );
    assert!(report.objects >= 17 * 3, "{} objects", report.objects);
    assert!(!report.hits.is_empty(), "the simulator's untidy tenant has findings");
    assert!(
        report
            .hits
            .iter()
            .all(|h| rules.items.iter().any(|r| r.id == h.rule_id))
    );
    let unread = report.not_evaluated.iter().find(|n| n.rule_id == "LINT002");
    assert!(
        unread.is_some_and(|n| n.reason.contains("group")),
        "{:?}",
        report.not_evaluated
    );
    // Stable fingerprints: a second lint of the same inventory names the same hits.
    let again: api::LintReport = app
        .get_as(OWNER, &paths::environment_lint(DEMO_WS, "env-lint"))
        .await
        .json()
        .await
        .unwrap();
    let ids = |r: &api::LintReport| r.hits.iter().map(|h| h.fingerprint.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&report), ids(&again));

    // readonly is entitled to Contoso only; an outsider learns nothing.
    let path = paths::environment_lint(DEMO_WS, "env-lint");
    assert_eq!(app.get_as(READONLY, &path).await.status(), 404);
    assert_eq!(app.get_as(OUTSIDER, &path).await.status(), 404);
    assert_eq!(app.get_as(OUTSIDER, &paths::lint_rules(DEMO_WS)).await.status(), 404);
    app.stop().await;
}
