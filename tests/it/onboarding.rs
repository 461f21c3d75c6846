//! Issue 18 items 1–2 over HTTP, on both backends: the onboarding wizard's draft (idempotent
//! steps, state derived from the real objects, consent back to the wizard), schedule edits,
//! retrying a backup's failed items, and suspended or archived environments (read-only; their
//! queued work ends Blocked).

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, eventually};
use atlas_tests::app::{spawn_app, spawn_without_workers};
use serde_json::{Value, json};

async fn problem(res: reqwest::Response, status: u16) -> api::Problem {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

fn field<'a>(p: &'a api::Problem, name: &str) -> &'a str {
    &p.errors
        .iter()
        .find(|e| e.field == name)
        .unwrap_or_else(|| panic!("no error for {name}: {p:?}"))
        .message
}

async fn draft(app: &TestApp, id: &str) -> api::OnboardingDraft {
    let res = app.get_as(OWNER, &paths::onboarding_draft(DEMO_WS, id)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn advance(app: &TestApp, id: &str, step: &str) -> api::OnboardingDraft {
    let res = app
        .patch_as(OWNER, &paths::onboarding_draft(DEMO_WS, id), json!({"step": step}))
        .await;
    assert_eq!(res.status(), 200, "{step}");
    res.json().await.unwrap()
}

/// Waits until the draft stands at `state`.
async fn at(app: &TestApp, id: &str, state: &str) -> api::OnboardingDraft {
    eventually(&format!("the draft to reach {state}"), app.run_deadline(), || async {
        let d = draft(app, id).await;
        (d.state.as_str() == state).then_some(d)
    })
    .await
}

/// The table without audit events and the chain's position attributes: what a refusal must leave
/// as it was (a denial is audited).
async fn unaudited(app: &TestApp) -> Vec<atlas_store::Item> {
    let mut items = app.snapshot().await;
    items.retain(|i| i.get("entity") != Some(&json!("audit_event")));
    for i in items.iter_mut() {
        i.remove("audit_seq");
        i.remove("audit_head");
    }
    items
}

async fn environments(app: &TestApp) -> usize {
    let list: api::EnvironmentList = app
        .get_as(OWNER, &paths::environments(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    list.items.len()
}

async fn actions(app: &TestApp, env: &str) -> Vec<String> {
    let page: api::AuditPage = app
        .get_as(OWNER, &format!("{}?environment_id={env}", paths::audit_events(DEMO_WS)))
        .await
        .json()
        .await
        .unwrap();
    page.items.into_iter().map(|e| e.action).collect()
}

async fn the_wizard_walks_an_environment_to_its_first_backup(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, domain) = atlas_tests::sim::new_tenant();
    let before = environments(&app).await;
    let body = json!({"display_name": "Litware Prod", "tenant": domain});
    let res = app.post_as(MANAGER, &paths::onboarding(DEMO_WS), body.clone()).await;
    assert_eq!(res.status(), 201);
    let d: api::OnboardingDraft = res.json().await.unwrap();
    // The domain was resolved to its tenant by Entra's discovery; the id comes from the name.
    assert_eq!(
        (d.id.as_str(), d.tenant_id.as_str(), d.state.as_str(), d.status.as_str()),
        ("env-litware-prod", tenant.as_str(), "consent", "not_configured")
    );
    // Submitting again (a double click, another device) adds nothing and answers the draft.
    let res = app.post_as(OWNER, &paths::onboarding(DEMO_WS), body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<api::OnboardingDraft>().await.unwrap().id, d.id);
    assert_eq!(environments(&app).await, before + 1);
    let list: api::OnboardingDraftList = app
        .get_as(OWNER, &paths::onboarding(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.items.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [d.id.as_str()]
    );
    // A step out of order is refused by name; consent is not a step the draft starts.
    let res = app
        .patch_as(
            OWNER,
            &paths::onboarding_draft(DEMO_WS, &d.id),
            json!({"step": "backup"}),
        )
        .await;
    assert!(problem(res, 409).await.detail.unwrap().contains("consent"));
    let res = app
        .patch_as(
            OWNER,
            &paths::onboarding_draft(DEMO_WS, &d.id),
            json!({"step": "consent"}),
        )
        .await;
    assert!(field(&problem(res, 400).await, "step").contains("verify"));

    // Consent through the connection the wizard made: the callback sends the browser back to
    // the wizard, and the draft, derived from the connection, stands at verify.
    let start: Value = app
        .post_as(OWNER, &paths::provider_consent(DEMO_WS, &d.id), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let back = app
        .sign_in(start["consent_url"].as_str().unwrap(), "global-admin")
        .await;
    let res = app.client.get(&back).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.ends_with(&format!("/workspaces/{DEMO_WS}/onboarding/{}?consent=granted", d.id)),
        "{to}"
    );
    assert_eq!(draft(&app, &d.id).await.state.as_str(), "verify");

    // Each step once: asking again while its run runs (or after) starts nothing new.
    let v = advance(&app, &d.id, "verify").await;
    let again = advance(&app, &d.id, "verify").await;
    assert!(v.verify_run_id.is_some());
    assert_eq!(again.verify_run_id, v.verify_run_id);
    at(&app, &d.id, "inventory").await;
    let i = advance(&app, &d.id, "inventory").await;
    assert_eq!(
        i.run.as_ref().map(|r| r.operation_type.as_str()),
        Some("inventory.sync")
    );
    at(&app, &d.id, "backup").await;
    let b = advance(&app, &d.id, "backup").await;
    let done = at(&app, &d.id, "done").await;
    assert_eq!(done.status.as_str(), "ready", "{}", done.reason);
    assert_eq!(done.backup_run_id, b.backup_run_id);
    let res = app
        .patch_as(
            OWNER,
            &paths::onboarding_draft(DEMO_WS, &d.id),
            json!({"step": "backup"}),
        )
        .await;
    assert_eq!(res.status(), 200, "a step done already is answered as it stands");
    assert_eq!(
        res.json::<api::OnboardingDraft>().await.unwrap().backup_run_id,
        b.backup_run_id
    );
    let sets: api::BackupSetList = app
        .get_as(OWNER, &paths::backups(DEMO_WS, &d.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sets.items.len(), 1, "one first backup");
    let acts = actions(&app, &d.id).await;
    assert_eq!(acts.iter().filter(|a| *a == "onboarding.create").count(), 1);
    assert_eq!(
        acts.iter().filter(|a| *a == "onboarding.advance").count(),
        3,
        "{acts:?}"
    );
    app.stop().await;
}

async fn the_wizard_refuses_bad_input_strangers_and_missing_capabilities(mode: Mode) {
    let app = spawn_app(mode).await;
    let before = unaudited(&app).await;
    let res = app
        .post_as(
            OWNER,
            &paths::onboarding(DEMO_WS),
            json!({"display_name": "", "tenant": "not a tenant"}),
        )
        .await;
    let p = problem(res, 400).await;
    assert!(!field(&p, "display_name").is_empty());
    assert!(field(&p, "tenant").contains("GUID"));
    let res = app
        .post_as(
            OWNER,
            &paths::onboarding(DEMO_WS),
            json!({"display_name": "Nobody", "tenant": "nobody-here.sim.test"}),
        )
        .await;
    assert!(field(&problem(res, 400).await, "tenant").contains("nobody-here.sim.test"));
    let res = app
        .post_as(
            OWNER,
            &paths::onboarding(DEMO_WS),
            json!({"display_name": "X", "tenant": "a.test", "colour": 1}),
        )
        .await;
    assert_eq!(res.status(), 400);
    // An operator lacks environments.manage; an outsider is not a member.
    let body = json!({"display_name": "Litware", "tenant": "33333333-3333-4333-8333-333333333333"});
    assert_eq!(
        app.post_as(OPERATOR, &paths::onboarding(DEMO_WS), body.clone())
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_as(OUTSIDER, &paths::onboarding(DEMO_WS), body.clone())
            .await
            .status(),
        404
    );
    assert_eq!(
        unaudited(&app).await,
        before,
        "nothing but denials' audit events on a 4xx"
    );

    // A tenant already in the workspace without a draft is refused, not adopted.
    let res = app
        .post_as(
            OWNER,
            &paths::onboarding(DEMO_WS),
            json!({"display_name": "Again", "tenant": "11111111-1111-4111-8111-111111111111"}),
        )
        .await;
    assert!(problem(res, 409).await.detail.unwrap().contains("tenant"));

    // A draft by GUID: the outsider gets 404 on it as on a missing one, the operator 403.
    let res = app.post_as(OWNER, &paths::onboarding(DEMO_WS), body).await;
    assert_eq!(res.status(), 201);
    let d: api::OnboardingDraft = res.json().await.unwrap();
    assert_eq!(d.id, "env-litware");
    let path = paths::onboarding_draft(DEMO_WS, &d.id);
    assert_eq!(app.get_as(OUTSIDER, &path).await.status(), 404);
    assert_eq!(
        app.patch_as(OUTSIDER, &path, json!({"step": "verify"})).await.status(),
        404
    );
    assert_eq!(app.get_as(OPERATOR, &path).await.status(), 403);
    assert_eq!(
        app.get_as(OWNER, &paths::onboarding_draft(DEMO_WS, "env-nothing"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get_as(OUTSIDER, &paths::onboarding_draft("ws-other", &d.id))
            .await
            .status(),
        404,
        "another workspace's member does not reach this workspace's drafts through their own"
    );
    // The step field is a closed vocabulary.
    let res = app.patch_as(OWNER, &path, json!({"step": "celebrate"})).await;
    assert_eq!(res.status(), 400);
    // A suspended environment's draft says so and starts nothing.
    let env = paths::environment(DEMO_WS, &d.id);
    assert_eq!(
        app.patch_as(OWNER, &env, json!({"lifecycle": "suspended"}))
            .await
            .status(),
        200
    );
    let blocked = draft(&app, &d.id).await;
    assert_eq!(blocked.status.as_str(), "blocked");
    assert!(blocked.reason.contains("suspended"), "{}", blocked.reason);
    app.seed_consent(DEMO_WS, &d.id).await;
    let p = problem(app.patch_as(OWNER, &path, json!({"step": "verify"})).await, 409).await;
    assert!(p.detail.unwrap().contains("suspended"));
    assert_eq!(draft(&app, &d.id).await.verify_run_id, None);
    app.stop().await;
}

async fn a_schedule_is_edited_paused_and_resumed(mode: Mode) {
    let app = spawn_app(mode).await;
    let env = paths::environment(DEMO_WS, "env-contoso");
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/backup-schedules"),
            json!({"every_minutes": 60, "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let s: api::BackupSchedule = res.json().await.unwrap();
    assert!(s.enabled);
    let path = paths::backup_schedule(DEMO_WS, "env-contoso", &s.id);
    let before = unaudited(&app).await;
    // The bad field is named, in words, and nothing changes.
    let p = problem(app.patch_as(OWNER, &path, json!({"cron": "61 * * * *"})).await, 400).await;
    assert!(field(&p, "cron").contains("minute"), "{p:?}");
    let p = problem(app.patch_as(OWNER, &path, json!({})).await, 400).await;
    assert!(field(&p, "body").contains("changes nothing"));
    let p = problem(
        app.patch_as(
            OWNER,
            &path,
            json!({"families": ["everything"], "time_zone": "Mars/Base"}),
        )
        .await,
        400,
    )
    .await;
    assert!(field(&p, "families").contains("everything") && field(&p, "time_zone").contains("IANA"));
    assert_eq!(
        app.patch_as(OPERATOR, &path, json!({"enabled": false})).await.status(),
        403
    );
    assert_eq!(
        app.patch_as(OUTSIDER, &path, json!({"enabled": false})).await.status(),
        404
    );
    let missing = paths::backup_schedule(DEMO_WS, "env-contoso", "01jnothere0000000000000000");
    assert_eq!(
        app.patch_as(OWNER, &missing, json!({"enabled": false})).await.status(),
        404
    );
    assert_eq!(unaudited(&app).await, before, "refused, nothing changed");

    // A cron in a time zone, some families: the next runs follow it.
    let res = app
        .patch_as(
            OWNER,
            &path,
            json!({"cron": "30 2 * * *", "time_zone": "Europe/Berlin", "families": ["deviceConfigurations"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let s2: api::BackupSchedule = res.json().await.unwrap();
    assert_eq!(
        (s2.cron.as_deref(), s2.every_minutes, s2.time_zone.as_str()),
        (Some("30 2 * * *"), None, "Europe/Berlin")
    );
    assert_eq!(s2.families.as_deref(), Some(&["deviceConfigurations".to_owned()][..]));
    assert!(s2.upcoming_ms.windows(2).all(|w| w[1] - w[0] >= 23 * 3_600_000));
    // Paused: nothing is due, even when its time has come; resumed: due again.
    let s3: api::BackupSchedule = app
        .patch_as(OWNER, &path, json!({"enabled": false}))
        .await
        .json()
        .await
        .unwrap();
    assert!(!s3.enabled);
    let state = &app.app().state;
    let due: Vec<atlas_app::schedules::BackupSchedule> = atlas_app::records::query_all(
        &state.table,
        atlas_app::records::schedules::due_by(s3.next_due_ms + 86_400_000),
    )
    .await
    .unwrap();
    assert!(
        due.iter().all(|d| d.schedule_id != s.id),
        "a paused schedule is never due"
    );
    let s4: api::BackupSchedule = app
        .patch_as(OWNER, &path, json!({"enabled": true}))
        .await
        .json()
        .await
        .unwrap();
    assert!(s4.enabled);
    let due: Vec<atlas_app::schedules::BackupSchedule> =
        atlas_app::records::query_all(&state.table, atlas_app::records::schedules::due_by(s4.next_due_ms))
            .await
            .unwrap();
    assert!(due.iter().any(|d| d.schedule_id == s.id), "resumed, it is due again");
    let acts = actions(&app, "env-contoso").await;
    assert_eq!(acts.iter().filter(|a| *a == "backup.schedule.update").count(), 3);
    app.stop().await;
}

async fn a_partial_backups_failed_items_are_retried_once(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-retry").await;
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
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("partially_succeeded"));
    let retry = paths::backup_retry(DEMO_WS, "env-retry", &v.run.id);
    assert_eq!(
        app.post_as(READONLY, &retry, json!({})).await.status(),
        404,
        "not entitled"
    );
    assert_eq!(app.post_as(OUTSIDER, &retry, json!({})).await.status(), 404);
    let missing = paths::backup_retry(DEMO_WS, "env-retry", "01jnothere0000000000000000");
    assert_eq!(app.post_as(OWNER, &missing, json!({})).await.status(), 404);
    let res = app.post_as(OPERATOR, &retry, json!({})).await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    assert_eq!(run.total, 1, "only the failed family");
    // Asked again (while it runs, and after): the same run.
    let res = app.post_as(OWNER, &retry, json!({})).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<api::OperationRun>().await.unwrap().id, run.id);
    let view = paths::operation(DEMO_WS, &run.id);
    let done = eventually("the retry to complete", app.run_deadline(), || async {
        let v: api::OperationView = app.get_as(OWNER, &view).await.json().await.ok()?;
        (v.run.state == "completed").then_some(v)
    })
    .await;
    assert_eq!(done.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    assert_eq!(
        done.items.iter().map(|i| i.item.as_str()).collect::<Vec<_>>(),
        ["deviceCompliancePolicies"]
    );
    let res = app.post_as(OWNER, &retry, json!({})).await;
    assert_eq!(res.json::<api::OperationRun>().await.unwrap().id, run.id);
    // A complete set has nothing to retry.
    let complete = paths::backup_retry(DEMO_WS, "env-retry", &run.id);
    assert!(
        problem(app.post_as(OWNER, &complete, json!({})).await, 409)
            .await
            .detail
            .unwrap()
            .contains("nothing to retry")
    );
    let acts = actions(&app, "env-retry").await;
    assert_eq!(acts.iter().filter(|a| *a == "backup.retry").count(), 1);
    app.stop().await;
}

async fn a_suspended_or_archived_environment_is_read_only(mode: Mode) {
    let app = spawn_app(mode).await;
    let env = paths::environment(DEMO_WS, "env-contoso");
    for lifecycle in ["suspended", "archived"] {
        let res = app.patch_as(MANAGER, &env, json!({"lifecycle": lifecycle})).await;
        assert_eq!(res.status(), 200);
        let before = app.snapshot().await;
        let p = problem(app.post_as(OWNER, &format!("{env}/backups"), json!({})).await, 409).await;
        assert!(p.detail.unwrap().contains(lifecycle));
        let res = app
            .post_as(
                OWNER,
                &format!("{env}/backup-schedules"),
                json!({"every_minutes": 60, "time_zone": "UTC"}),
            )
            .await;
        assert_eq!(res.status(), 409);
        assert_eq!(app.snapshot().await, before, "refused, nothing written");
        // Reading goes on; its own lifecycle can still change.
        assert_eq!(app.get_as(OWNER, &format!("{env}/backups")).await.status(), 200);
        // Capabilities and entitlement come first: the operator still gets 403, the outsider 404.
        assert_eq!(
            app.patch_as(OPERATOR, &env, json!({"lifecycle": "active"}))
                .await
                .status(),
            403
        );
        assert_eq!(
            app.post_as(OUTSIDER, &format!("{env}/backups"), json!({}))
                .await
                .status(),
            404
        );
    }
    let res = app.patch_as(MANAGER, &env, json!({"lifecycle": "active"})).await;
    assert_eq!(
        res.json::<api::Environment>().await.unwrap().lifecycle.as_str(),
        "active"
    );
    app.stop().await;
}

/// Work queued before the environment was suspended ends Blocked when it executes, with the
/// reason, audited; nothing of it was done.
async fn queued_work_for_a_suspended_environment_ends_blocked(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    let (_, env) = app.connected_env("env-queued").await;
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/backups"),
            json!({"families": ["deviceConfigurations"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    let res = app.patch_as(OWNER, &env, json!({"lifecycle": "suspended"})).await;
    assert_eq!(res.status(), 200);
    assert!(app.deliver("backup-capture").await >= 1);
    let v: api::OperationView = app
        .get_as(OWNER, &paths::operation(DEMO_WS, &run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v.run.outcome.map(|o| o.as_str()), v.run.status.as_str()),
        (Some("blocked"), "blocked")
    );
    assert!(
        v.run.reason.as_deref().unwrap().contains("suspended"),
        "{:?}",
        v.run.reason
    );
    assert!(v.items.is_empty(), "nothing was done");
    let page: api::AuditPage = app
        .get_as(
            OWNER,
            &format!(
                "{}?action=run.finish&outcome=denied&environment_id=env-queued",
                paths::audit_events(DEMO_WS)
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "the block is audited");
    app.stop().await;
}

atlas_tests::on_both_backends!(
    the_wizard_walks_an_environment_to_its_first_backup,
    the_wizard_refuses_bad_input_strangers_and_missing_capabilities,
    a_schedule_is_edited_paused_and_resumed,
    a_partial_backups_failed_items_are_retried_once,
    a_suspended_or_archived_environment_is_read_only,
    queued_work_for_a_suspended_environment_ends_blocked,
);
