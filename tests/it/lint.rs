//! The offline policy lint over an environment's inventory (spec 021): every rule in the
//! catalogue, hits on a synced simulator tenant with no Graph request made by the lint, the group
//! rules on the groups the sync read (deleted and empty groups), and entitlement.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, eventually, spawn_app};
use serde_json::json;

#[tokio::test]
async fn an_environment_is_linted_from_its_inventory_without_graph() {
    let app = spawn_app(Mode::Embedded).await;
    let (tenant, env) = app.connected_env_with("env-lint", Some(3)).await;
    let sim = &atlas_tests::sim::shared().sim;
    // Before any sync the group rules say why they did not run.
    let report: api::LintReport = app
        .get_as(OWNER, &paths::environment_lint(DEMO_WS, "env-lint"))
        .await
        .json()
        .await
        .unwrap();
    let unread = report.not_evaluated.iter().find(|n| n.rule_id == "LINT002");
    assert!(
        unread.is_some_and(|n| n.reason.contains("group")),
        "{:?}",
        report.not_evaluated
    );
    // One policy targets a group without members, another a group deleted afterwards.
    let empty = sim.add_group(&tenant, "lint-empty");
    let gone = sim.add_group(&tenant, "lint-gone");
    let configs = sim.objects(&tenant, "deviceConfigurations");
    let target = |g: &str| {
        json!([{"id": format!("a_{g}"), "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g,
                 "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none"}}])
    };
    let (to_empty, to_gone) = (configs[0]["id"].as_str().unwrap(), configs[1]["id"].as_str().unwrap());
    assert!(sim.patch_object(
        &tenant,
        "deviceConfigurations",
        to_empty,
        json!({"assignments": target(&empty)})
    ));
    assert!(sim.patch_object(
        &tenant,
        "deviceConfigurations",
        to_gone,
        json!({"assignments": target(&gone)})
    ));
    assert!(sim.delete_object(&tenant, "groups", &gone));
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    // The groups are read once the run has ended (its last unit's follow-up).
    eventually(
        "the groups the inventory names to be read",
        app.run_deadline(),
        || async {
            let r: api::LintReport = app
                .get_as(OWNER, &paths::environment_lint(DEMO_WS, "env-lint"))
                .await
                .json()
                .await
                .ok()?;
            (!r.not_evaluated.iter().any(|n| n.rule_id == "LINT002")).then_some(())
        },
    )
    .await;

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
    assert!(
        !report
            .not_evaluated
            .iter()
            .any(|n| n.rule_id == "LINT002" || n.rule_id == "LINT003"),
        "the sync read the groups: {:?}",
        report.not_evaluated
    );
    let hit = |rule: &str, object: &str| {
        report
            .hits
            .iter()
            .find(|h| h.rule_id == rule && h.object_id == object)
            .map(|h| h.message.clone())
    };
    let deleted = hit("LINT002", to_gone).expect("the deleted group is reported");
    assert!(deleted.contains(&gone), "{deleted}");
    let emptied = hit("LINT003", to_empty).expect("the empty group is reported");
    assert!(emptied.contains("lint-empty"), "{emptied}");
    assert!(hit("LINT002", to_empty).is_none() && hit("LINT003", to_gone).is_none());
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

/// A PowerShell script that runs as SYSTEM without a signature check: exactly LINT015.
fn probe_script() -> serde_json::Value {
    json!({
        "@odata.type": "#microsoft.graph.deviceManagementScript",
        "displayName": "Lint probe", "description": "A script the lint flags",
        "scriptContent": "V3JpdGUtSG9zdCBoaQ==", "fileName": "probe.ps1",
        "runAsAccount": "system", "enforceSignatureCheck": false, "runAs32Bit": false,
        "roleScopeTagIds": ["0"],
    })
}

async fn put_settings(app: &atlas_tests::app::TestApp, who: &str, body: serde_json::Value) -> reqwest::Response {
    app.req(reqwest::Method::PUT, &paths::lint_settings(DEMO_WS), Some(who))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn lint_findings(app: &atlas_tests::app::TestApp, env: &str) -> Vec<api::Finding> {
    let path = format!(
        "{}?source=lint&environment_id={env}&limit=500",
        paths::findings(DEMO_WS)
    );
    let page: api::FindingPage = app.get_as(OWNER, &path).await.json().await.unwrap();
    page.items
}

/// Settings: defaults until set; bad input is a 400 naming the fields and stores nothing; only
/// `baseline.manage` may set them (readonly: 403), an outsider learns nothing (404); the change
/// is audited with the fields it changed; a disabled rule produces no hit.
async fn lint_settings_are_validated_audited_and_used(mode: Mode) {
    let app = spawn_app(mode).await;
    let path = paths::lint_settings(DEMO_WS);
    let s: api::LintSettings = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!(s, api::LintSettings::default());
    assert_eq!(app.get_as(READONLY, &path).await.status(), 200);
    assert_eq!(app.get_as(OUTSIDER, &path).await.status(), 404);

    let before = app.snapshot().await;
    let res = put_settings(
        &app,
        OWNER,
        json!({"stale_days": 0, "rules": {"LINT999": {"enabled": false}}}),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = res.json().await.unwrap();
    assert!(p.to_string().contains("stale_days"), "{p}");
    assert!(p.to_string().contains("rules.LINT999"), "{p}");
    let res = put_settings(&app, OWNER, json!({"naming_patterns": ["{WIN|MAC"]})).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("naming_patterns[0]"));
    let res = put_settings(&app, OWNER, json!({"stale_day": 30})).await;
    assert_eq!(res.status(), 400, "a misspelt field is refused, not ignored");
    assert_eq!(app.snapshot().await.len(), before.len(), "nothing was written");
    // Refused access (audited as such) changes no setting.
    let denied = json!({"stale_days": 30});
    assert_eq!(put_settings(&app, READONLY, denied.clone()).await.status(), 403);
    assert_eq!(put_settings(&app, OUTSIDER, denied).await.status(), 404);
    let s: api::LintSettings = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!(s, api::LintSettings::default());

    let (tenant, env) = app.connected_env_with("env-lint-set", Some(2)).await;
    let sim = &atlas_tests::sim::shared().sim;
    let probe = sim.add_object(&tenant, "deviceManagementScripts", probe_script());
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let lint = paths::environment_lint(DEMO_WS, "env-lint-set");
    assert!(
        lint_findings(&app, "env-lint-set").await.is_empty(),
        "a sync records lint findings only when the settings ask for it"
    );
    let report: api::LintReport = app.get_as(OWNER, &lint).await.json().await.unwrap();
    assert!(
        report
            .hits
            .iter()
            .any(|h| h.rule_id == "LINT015" && h.object_id == probe),
        "{:?}",
        report.hits
    );

    let res = put_settings(
        &app,
        MANAGER,
        json!({"rules": {"LINT015": {"enabled": false}, "LINT008": {"severity": "high"}}, "stale_days": 90}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let s: api::LintSettings = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!(s.stale_days, 90);
    assert_eq!(s.rules["LINT015"].enabled, Some(false));
    assert_eq!(
        s.password_min_length, 14,
        "what the document left out keeps its default"
    );
    let report: api::LintReport = app.get_as(OWNER, &lint).await.json().await.unwrap();
    assert!(
        report.hits.iter().all(|h| h.rule_id != "LINT015"),
        "a disabled rule finds nothing"
    );
    assert!(!report.rules_run.iter().any(|r| r == "LINT015"));
    assert!(!report.not_evaluated.iter().any(|n| n.rule_id == "LINT015"));
    assert!(
        report
            .hits
            .iter()
            .filter(|h| h.rule_id == "LINT008")
            .all(|h| h.severity == api::Severity::High)
    );

    let audit: api::AuditPage = app
        .get_as(OWNER, &paths::audit_events(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    let ev = audit
        .items
        .iter()
        .find(|e| e.action == "lint.settings.update")
        .expect("the change is audited");
    assert_eq!(
        ev.metadata["changed"],
        json!(["rules.LINT008", "rules.LINT015", "stale_days"]),
        "{}",
        ev.metadata
    );
    app.stop().await;
}

/// Findings of source `lint`: the sync records them; a POST records the same hits again and
/// opens none; a severity override keeps the same findings; fixing the object resolves its
/// finding. A backup set's lint finds what the inventory's finds; an unknown set is 404.
async fn lint_hits_become_findings_and_backup_sets_lint_alike(mode: Mode) {
    let app = spawn_app(mode).await;
    let res = put_settings(&app, OWNER, json!({"record_after_sync": true})).await;
    assert_eq!(res.status(), 200);
    let (tenant, env) = app.connected_env_with("env-lint-rec", Some(2)).await;
    let sim = &atlas_tests::sim::shared().sim;
    let probe = sim.add_object(&tenant, "deviceManagementScripts", probe_script());
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let lint = paths::environment_lint(DEMO_WS, "env-lint-rec");
    let report: api::LintReport = app.get_as(OWNER, &lint).await.json().await.unwrap();
    let hits = report.hits.len();
    assert!(hits > 0);

    // The completed sync recorded them.
    let found = atlas_tests::app::eventually("the sync's lint findings", app.run_deadline(), || async {
        let f = lint_findings(&app, "env-lint-rec").await;
        (f.len() == hits).then_some(f)
    })
    .await;
    let h15 = report
        .hits
        .iter()
        .find(|h| h.rule_id == "LINT015" && h.object_id == probe)
        .expect("the probe runs as SYSTEM unsigned");
    let probe_finding = found
        .iter()
        .find(|f| f.object.as_ref().and_then(|o| o.id.as_deref()) == Some(probe.as_str()) && f.title == h15.message)
        .expect("the probe's finding")
        .clone();
    assert_eq!(probe_finding.property, h15.property.clone().unwrap_or_default());
    assert_eq!(probe_finding.source, api::FindingSource::Lint);

    // A POST records the same hits: no new finding.
    assert_eq!(app.post_as(READONLY, &lint, json!({})).await.status(), 404);
    assert_eq!(app.post_as(OUTSIDER, &lint, json!({})).await.status(), 404);
    let res = app.post_as(OPERATOR, &lint, json!({})).await;
    assert_eq!(res.status(), 200);
    let r: api::LintRecorded = res.json().await.unwrap();
    assert_eq!(
        (r.opened, r.updated, r.resolved, r.skipped.clone()),
        (0, hits as u64, 0, None),
        "{r:?}"
    );
    let r: api::LintRecorded = app.post_as(OWNER, &lint, json!({})).await.json().await.unwrap();
    assert_eq!(r.opened, 0);
    assert_eq!(lint_findings(&app, "env-lint-rec").await.len(), hits);

    // A severity override changes the hit, not its finding.
    let res = put_settings(
        &app,
        OWNER,
        json!({"record_after_sync": true, "rules": {"LINT015": {"severity": "critical"}}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let r: api::LintRecorded = app.post_as(OWNER, &lint, json!({})).await.json().await.unwrap();
    assert_eq!((r.opened, r.resolved), (0, 0), "{r:?}");
    assert!(
        r.report
            .hits
            .iter()
            .any(|h| h.rule_id == "LINT015" && h.severity == api::Severity::Critical)
    );
    let again = lint_findings(&app, "env-lint-rec").await;
    assert_eq!(again.len(), hits);
    assert!(again.iter().any(|f| f.id == probe_finding.id));

    // A backup set's lint: the same hits as the inventory's, for the same objects.
    let b = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    assert_eq!(b.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let from_set = paths::backup_lint(DEMO_WS, "env-lint-rec", &b.run.id);
    let res = app.get_as(READONLY, &from_set).await;
    assert_eq!(res.status(), 404, "not entitled to the environment");
    let set: api::LintReport = app.get_as(OWNER, &from_set).await.json().await.unwrap();
    let inv: api::LintReport = app.get_as(OWNER, &lint).await.json().await.unwrap();
    assert_eq!(set.backup_set_id.as_deref(), Some(b.run.id.as_str()));
    assert_eq!(set.objects, inv.objects);
    let ids = |r: &api::LintReport| r.hits.iter().map(|h| h.fingerprint.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&set), ids(&inv));
    let unknown = paths::backup_lint(DEMO_WS, "env-lint-rec", &v.run.id);
    assert_eq!(
        app.get_as(OWNER, &unknown).await.status(),
        404,
        "a run that is not a set"
    );
    let junk = paths::backup_lint(DEMO_WS, "env-lint-rec", "not-a-set");
    assert_eq!(app.get_as(OWNER, &junk).await.status(), 404);

    // Fixed in the tenant: the next sync resolves the finding, and a POST resolves nothing more.
    assert!(sim.patch_object(
        &tenant,
        "deviceManagementScripts",
        &probe,
        json!({"enforceSignatureCheck": true})
    ));
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let fixed = atlas_tests::app::eventually("the fixed object's finding resolved", app.run_deadline(), || async {
        let f = lint_findings(&app, "env-lint-rec").await;
        f.into_iter()
            .find(|f| f.id == probe_finding.id && f.state == api::FindingStatus::Resolved)
    })
    .await;
    assert_eq!(fixed.id, probe_finding.id);
    let r: api::LintRecorded = app.post_as(OWNER, &lint, json!({})).await.json().await.unwrap();
    assert_eq!((r.opened, r.resolved), (0, 0), "{r:?}");
    assert!(
        !r.report
            .hits
            .iter()
            .any(|h| h.object_id == probe && h.rule_id == "LINT015")
    );

    // A family read incompletely: nothing is recorded, nothing resolved, and the answer says why.
    let open_before = lint_findings(&app, "env-lint-rec").await;
    sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            forbidden_families: vec!["deviceManagementScripts".into()],
            ..Default::default()
        },
    );
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    sim.clear_faults(&tenant);
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("partially_succeeded"));
    let r: api::LintRecorded = app.post_as(OWNER, &lint, json!({})).await.json().await.unwrap();
    let why = r.skipped.clone().expect("skipped on a partial inventory");
    assert!(why.contains("deviceManagementScripts"), "{why}");
    assert_eq!((r.opened, r.updated, r.resolved), (0, 0, 0));
    let open_after = lint_findings(&app, "env-lint-rec").await;
    let status = |f: &[api::Finding]| f.iter().map(|f| (f.id.clone(), f.status)).collect::<Vec<_>>();
    assert_eq!(status(&open_after), status(&open_before));
    app.stop().await;
}

atlas_tests::on_both_backends!(
    lint_settings_are_validated_audited_and_used,
    lint_hits_become_findings_and_backup_sets_lint_alike,
);
