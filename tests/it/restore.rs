//! Restore runs against the simulator (spec 006): deleted items recreated once, a second tenant
//! with group mapping, refused confirmations that write nothing, authority re-checked at
//! execution, write faults that make an honest Partial, double delivery without duplicates.

use std::collections::BTreeSet;
use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{MANAGER, Mode, OPERATOR, OWNER, TestApp, eventually, spawn_app, spawn_without_workers};
use serde_json::{Value, json};

const WS: &str = "/api/v1/workspaces/ws-demo";

fn sim() -> &'static atlas_graph_sim::Simulator {
    &atlas_tests::sim::shared().sim
}

fn names(tenant: &str, family: &str) -> Vec<String> {
    sim()
        .objects(tenant, family)
        .iter()
        .map(|o| {
            o["displayName"]
                .as_str()
                .or(o["name"].as_str())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

async fn get<T: serde::de::DeserializeOwned>(app: &TestApp, path: &str) -> T {
    let res = app.get_as(OWNER, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn backup(app: &TestApp, env: &str, families: &[&str]) -> api::BackupSetDetail {
    let v = app
        .run_to_completion(&format!("{env}/backups"), json!({"families": families}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    get(app, &format!("{env}/backups/{}", v.run.id)).await
}

async fn draft(app: &TestApp, env: &str, body: Value) -> api::Restore {
    let res = app.post_as(OWNER, &format!("{env}/restores"), body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn preview(app: &TestApp, env: &str, restore: &str, body: Value) -> api::RestorePreview {
    let res = app
        .post_as(OWNER, &format!("{env}/restores/{restore}/previews"), body)
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

fn confirm_body(p: &api::RestorePreview, name: &str) -> Value {
    json!({"preview_id": p.id, "fingerprint": p.fingerprint, "confirm": name})
}

async fn wait_run(app: &TestApp, run: &str) -> api::OperationView {
    let view = paths::operation(DEMO_WS, run);
    eventually("the restore run to complete", app.run_deadline(), || async {
        let v: api::OperationView = app.get_as(OWNER, &view).await.json().await.ok()?;
        (v.run.state == "completed").then_some(v)
    })
    .await
}

async fn confirm_and_wait(app: &TestApp, env: &str, restore: &str, body: Value) -> api::OperationView {
    let res = app
        .post_as(OWNER, &format!("{env}/restores/{restore}/confirm"), body)
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
    let run: api::OperationRun = res.json().await.unwrap();
    assert_eq!(run.operation_type, "restore.execute");
    wait_run(app, &run.id).await
}

async fn same_tenant_restore_recreates_deleted_items_once(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-rs1").await;
    let set = backup(
        &app,
        &env,
        &[
            "deviceConfigurations",
            "deviceCompliancePolicies",
            "configurationPolicies",
            "groupPolicyConfigurations",
            "intents",
        ],
    )
    .await;
    let pick = |family: &str, n: usize| -> api::BackupItem {
        set.items.iter().filter(|i| i.family == family).nth(n).unwrap().clone()
    };
    let deleted = [
        pick("deviceConfigurations", 0),
        pick("deviceCompliancePolicies", 0),
        pick("configurationPolicies", 0),
        pick("groupPolicyConfigurations", 0),
        pick("intents", 0),
    ];
    let edited = pick("deviceConfigurations", 1);
    let counts = |t: &str| {
        [
            "deviceConfigurations",
            "deviceCompliancePolicies",
            "configurationPolicies",
            "groupPolicyConfigurations",
            "intents",
        ]
        .map(|f| sim().objects(t, f).len())
    };
    let before = counts(&tenant);
    for d in &deleted {
        assert!(sim().delete_object(&tenant, &d.family, &d.id));
    }
    assert!(sim().patch_object(
        &tenant,
        "deviceConfigurations",
        &edited.id,
        json!({"description": "edited in the portal"})
    ));

    let mut keys: Vec<String> = deleted.iter().map(|d| format!("{}/{}", d.family, d.id)).collect();
    keys.push(format!("deviceConfigurations/{}", edited.id));
    let r = draft(&app, &env, json!({"backup_set_id": set.set.id, "items": keys})).await;
    assert_eq!(r.state, "draft");
    assert_ne!(r.readiness.status, "blocked", "{:?}", r.readiness.checks);
    assert_eq!(r.environment_name, "env-rs1");

    let p = preview(&app, &env, &r.id, json!({})).await;
    assert_eq!(
        (p.summary.create, p.summary.update, p.summary.conflict),
        (5, 1, 0),
        "{:?}",
        p.items
    );
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    let upd = p.items.iter().find(|i| i.action == "update").unwrap();
    assert_eq!(
        (upd.matched_by.as_str(), upd.target_id.as_deref()),
        ("id", Some(edited.id.as_str()))
    );
    assert!(
        upd.changes.iter().any(|c| c.path == "/description"),
        "{:?}",
        upd.changes
    );
    assert!(
        p.items
            .iter()
            .filter(|i| i.action == "create")
            .all(|i| i.matched_by == "none")
    );

    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs1")).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    let results: BTreeSet<&str> = v.items.iter().map(|i| i.detail["result"].as_str().unwrap()).collect();
    assert_eq!(results, BTreeSet::from(["created", "updated"]));
    for i in &v.items {
        assert_eq!(i.detail["verification"]["ok"], true, "{i:?}");
    }
    assert_eq!(counts(&tenant), before, "each deleted item created exactly once");
    for d in &deleted {
        assert!(names(&tenant, &d.family).contains(&d.name), "{} is back", d.name);
    }
    // Settings live apart from the object: they came back too, as many as were backed up.
    for (family, nav) in [
        ("configurationPolicies", "settings"),
        ("groupPolicyConfigurations", "definitionValues"),
        ("intents", "settings"),
    ] {
        let d = deleted.iter().find(|d| d.family == family).unwrap();
        let backed_up: Value = get(&app, &format!("{env}/backups/{}/items/{family}/{}", set.set.id, d.id)).await;
        let live = sim().objects(&tenant, family);
        let back = live
            .iter()
            .find(|o| o["displayName"].as_str().or(o["name"].as_str()) == Some(d.name.as_str()))
            .unwrap();
        let n = backed_up[nav].as_array().map(Vec::len).unwrap_or(0);
        assert!(n > 0, "{family}: the backup holds its {nav}: {backed_up}");
        assert_eq!(back[nav].as_array().map(Vec::len), Some(n), "{family}: {nav} restored");
    }
    let live = sim().objects(&tenant, "deviceConfigurations");
    let back = live.iter().find(|o| o["id"] == edited.id.as_str()).unwrap();
    assert_ne!(
        back["description"], "edited in the portal",
        "the update wrote the backup's state"
    );

    let after: api::Restore = get(&app, &format!("{env}/restores/{}", r.id)).await;
    assert_eq!(after.state, "confirmed");
    assert_eq!(after.run.as_ref().map(|r| r.id.as_str()), Some(v.run.id.as_str()));

    // The same restore again: the recreated objects are found through their restore mapping.
    let r2 = draft(&app, &env, json!({"backup_set_id": set.set.id, "items": keys})).await;
    let p2 = preview(&app, &env, &r2.id, json!({})).await;
    assert_eq!(p2.summary.create, 0, "{:?}", p2.items);
    assert!(
        p2.items
            .iter()
            .filter(|i| i.key != format!("deviceConfigurations/{}", edited.id))
            .all(|i| i.matched_by == "restore_mapping")
    );
    let v2 = confirm_and_wait(&app, &env, &r2.id, confirm_body(&p2, "env-rs1")).await;
    assert_eq!(v2.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v2.items);
    assert_eq!(counts(&tenant), before, "running it again creates nothing");

    let audit: api::AuditPage = get(
        &app,
        &format!("{WS}/audit-events?action=restore.confirm&outcome=success"),
    )
    .await;
    assert_eq!(audit.items.len(), 2);
    app.stop().await;
}

async fn restore_runs(app: &TestApp) -> usize {
    let page: api::OperationPage = get(app, &format!("{WS}/operations?operation_type=restore.execute")).await;
    page.items.len()
}

async fn refused_confirmations_write_nothing(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-rs2").await;
    let set = backup(&app, &env, &["deviceConfigurations"]).await;
    let (gone, kept) = (&set.items[0], &set.items[1]);
    assert!(sim().delete_object(&tenant, "deviceConfigurations", &gone.id));
    sim().patch_object(
        &tenant,
        "deviceConfigurations",
        &kept.id,
        json!({"description": "drifted"}),
    );
    let keys = [
        format!("deviceConfigurations/{}", gone.id),
        format!("deviceConfigurations/{}", kept.id),
    ];
    let r = draft(&app, &env, json!({"backup_set_id": set.set.id, "items": keys})).await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    let count = sim().objects(&tenant, "deviceConfigurations").len();
    let url = format!("{env}/restores/{}/confirm", r.id);
    let refused = |body: Value, why: &'static str| {
        let (app, url) = (&app, &url);
        async move {
            let res = app.post_as(OWNER, url, body).await;
            assert_eq!(res.status(), 409, "{why}");
            let problem: Value = res.json().await.unwrap();
            problem["detail"].as_str().unwrap_or_default().to_owned()
        }
    };

    let d = refused(confirm_body(&p, "env-rs2-typo"), "mistyped").await;
    assert!(d.contains("typed name"), "{d}");
    let mut wrong = confirm_body(&p, "env-rs2");
    wrong["fingerprint"] = json!("0".repeat(64));
    assert!(refused(wrong, "mismatched").await.contains("fingerprint"));
    // An operator may preview but not confirm.
    assert_eq!(
        app.post_as(OPERATOR, &url, confirm_body(&p, "env-rs2")).await.status(),
        403
    );

    // Live changed after the preview: stale.
    sim().patch_object(
        &tenant,
        "deviceConfigurations",
        &kept.id,
        json!({"description": "drifted again"}),
    );
    assert!(refused(confirm_body(&p, "env-rs2"), "stale").await.contains("Stale"));

    // A fresh preview, expired by the clock passing its deadline.
    let p2 = preview(&app, &env, &r.id, json!({})).await;
    let state = &app.app().state;
    let id = |raw: &str| atlas_domain::RunId::parse(raw).unwrap();
    let key = atlas_store::Key::new(
        atlas_tests::app::demo_env_pk("env-rs2"),
        atlas_app::records::restore::preview_sk(&id(&r.id), &id(&p2.id)),
    );
    let past = state.clock.now_millis() - 1;
    state
        .table
        .update(&key, &atlas_store::Update::new().set("expires_ms", past), None)
        .await
        .unwrap();
    assert!(
        refused(confirm_body(&p2, "env-rs2"), "expired")
            .await
            .contains("expired")
    );
    // The first preview is no longer the latest.
    assert!(
        refused(confirm_body(&p, "env-rs2"), "superseded")
            .await
            .contains("latest")
    );

    assert_eq!(restore_runs(&app).await, 0, "no run");
    assert_eq!(
        sim().objects(&tenant, "deviceConfigurations").len(),
        count,
        "nothing written"
    );
    let ok: api::AuditPage = get(
        &app,
        &format!("{WS}/audit-events?action=restore.confirm&outcome=success"),
    )
    .await;
    assert!(ok.items.is_empty(), "no success audit");
    let denied: api::AuditPage = get(
        &app,
        &format!("{WS}/audit-events?action=restore.confirm&outcome=denied"),
    )
    .await;
    assert_eq!(denied.items.len(), 5, "each refusal is audited as denied");

    // Cancel: the draft ends, nothing else is created.
    let c = app
        .post_as(OWNER, &format!("{env}/restores/{}/cancel", r.id), json!({}))
        .await;
    assert_eq!(c.status(), 200);
    let p3 = app
        .post_as(OWNER, &format!("{env}/restores/{}/previews", r.id), json!({}))
        .await;
    assert_eq!(p3.status(), 409, "a cancelled restore cannot be previewed");
    assert_eq!(restore_runs(&app).await, 0);
    app.stop().await;
}

async fn second_tenant_with_group_mapping(mode: Mode) {
    let app = spawn_app(mode).await;
    let (ta, env_a) = app.connected_env("env-rs3a").await;
    let (tb, env_b) = app.connected_env("env-rs3b").await;
    // Whatever the tenant's seed drew, one object is assigned to one of A's groups under a name
    // B does not have.
    let first = sim().objects(&ta, "deviceConfigurations")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group_a = sim().objects(&ta, "groups")[0]["id"].as_str().unwrap().to_owned();
    let assigned = json!({
        "displayName": "rs3-only-in-a",
        "assignments": [{"id": format!("{first}_{group_a}"), "target": {
            "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group_a,
            "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none"}}],
    });
    assert!(sim().patch_object(&ta, "deviceConfigurations", &first, assigned));
    let set = backup(&app, &env_a, &["deviceConfigurations"]).await;
    // Seeded names can repeat across tenants, and a name match is not a create: skip those.
    let names_in_b: BTreeSet<String> = sim()
        .objects(&tb, "deviceConfigurations")
        .iter()
        .filter_map(|o| o["displayName"].as_str().map(str::to_owned))
        .collect();
    // An item assigned to at least one group, whose name tenant B does not have.
    let (item, payload) = {
        let mut found = None;
        for i in &set.items {
            let p: Value = get(
                &app,
                &format!("{env_a}/backups/{}/items/{}/{}", set.set.id, i.family, i.id),
            )
            .await;
            if p["assignments"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["target"]["groupId"].is_string()))
                && !names_in_b.contains(p["displayName"].as_str().unwrap_or_default())
            {
                found = Some((i.clone(), p));
                break;
            }
        }
        found.expect("a backed-up item with group assignments")
    };
    let groups: BTreeSet<String> = payload["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["target"]["groupId"].as_str().map(str::to_owned))
        .collect();
    // Seeded tenants share group naming patterns: give A's groups names B cannot have.
    for (n, g) in groups.iter().enumerate() {
        assert!(sim().patch_object(&ta, "groups", g, json!({"displayName": format!("rs3-only-in-a-{n}")})));
    }
    let key = format!("deviceConfigurations/{}", item.id);
    let body = json!({"backup_set_id": set.set.id, "source_environment_id": "env-rs3a", "items": [key]});
    let r = draft(&app, &env_b, body).await;
    assert_eq!(r.source_environment_id, "env-rs3a");

    // No group of tenant A exists in tenant B: every one is unmapped and blocks confirmation.
    let p = preview(&app, &env_b, &r.id, json!({})).await;
    assert_eq!(p.summary.create, 1);
    assert!(p.groups.iter().all(|g| g.resolution == "unmapped"), "{:?}", p.groups);
    assert_eq!(p.groups.len(), groups.len());
    assert!(p.blockers.iter().any(|b| b.contains("no match in the target")));
    let res = app
        .post_as(
            OWNER,
            &format!("{env_b}/restores/{}/confirm", r.id),
            confirm_body(&p, "env-rs3b"),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(
        sim()
            .objects(&tb, "deviceConfigurations")
            .iter()
            .all(|o| o["displayName"] != item.name.as_str())
    );

    // The first group gets a same-named twin in B (matched by name); the rest are mapped to it
    // by the operator, except one dropped when there are several.
    let first = groups.iter().next().unwrap().clone();
    let a_groups = sim().objects(&ta, "groups");
    let first_name = a_groups.iter().find(|g| g["id"] == first.as_str()).unwrap()["displayName"]
        .as_str()
        .unwrap()
        .to_owned();
    let twin = sim().add_group(&tb, &first_name);
    // Assignment filters are tenant-local too: B gets one same-named twin of each one used
    // (renamed first: seeded tenants share filter names).
    let filters: BTreeSet<String> = payload["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["target"]["deviceAndAppManagementAssignmentFilterId"].as_str())
        .map(str::to_owned)
        .collect();
    let a_filters = sim().objects(&ta, "assignmentFilters");
    for (n, fid) in filters.iter().enumerate() {
        if let Some(f) = a_filters.iter().find(|f| f["id"] == fid.as_str()) {
            let name = format!("rs3-filter-{n}");
            assert!(sim().patch_object(&ta, "assignmentFilters", fid, json!({"displayName": name})));
            let twin = json!({"@odata.type": f["@odata.type"], "displayName": name, "platform": f["platform"], "rule": f["rule"]});
            sim().add_object(&tb, "assignmentFilters", twin);
        }
    }
    // Scope tags are matched by name across tenants: B gets a twin of each custom tag used.
    let custom_tags = payload["roleScopeTagIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .filter(|t| *t != "0");
    for (n, tid) in custom_tags.enumerate() {
        let name = format!("rs3-tag-{n}");
        assert!(sim().patch_object(&ta, "roleScopeTags", tid, json!({"displayName": name})));
        let twin = json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": name});
        sim().add_object(&tb, "roleScopeTags", twin);
    }
    let mut mapping = serde_json::Map::new();
    for (n, g) in groups.iter().skip(1).enumerate() {
        mapping.insert(g.clone(), if n == 0 { json!(twin) } else { Value::Null });
    }
    let bad = app
        .post_as(
            OWNER,
            &format!("{env_b}/restores/{}/previews", r.id),
            json!({"group_mapping": {first.clone(): "00000000-0000-4000-8000-000000000000"}}),
        )
        .await;
    assert_eq!(bad.status(), 400, "a target group that does not exist is a field error");
    let p2 = preview(&app, &env_b, &r.id, json!({"group_mapping": mapping})).await;
    assert!(p2.blockers.is_empty(), "{:?}", p2.blockers);
    let g1 = p2.groups.iter().find(|g| g.source_group_id == first).unwrap();
    assert_eq!(
        (g1.resolution.as_str(), g1.target_group_id.as_deref()),
        ("name", Some(twin.as_str()))
    );
    let v = confirm_and_wait(&app, &env_b, &r.id, confirm_body(&p2, "env-rs3b")).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    let created = sim()
        .objects(&tb, "deviceConfigurations")
        .into_iter()
        .find(|o| o["displayName"] == item.name.as_str())
        .expect("created in tenant B");
    let targets: Vec<&str> = created["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["target"]["groupId"].as_str())
        .collect();
    assert!(!targets.is_empty() && targets.iter().all(|g| *g == twin), "{targets:?}");
    let b_filters: Vec<Value> = sim()
        .objects(&tb, "assignmentFilters")
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    for a in created["assignments"].as_array().unwrap() {
        let f = &a["target"]["deviceAndAppManagementAssignmentFilterId"];
        assert!(
            f.is_null() || f == "" || b_filters.contains(f),
            "filter {f} mapped to tenant B's"
        );
    }
    app.stop().await;
}

async fn capability_removed_after_confirmation_blocks(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    let (tenant, env) = app.connected_env("env-rs4").await;
    let body = json!({"families": ["deviceConfigurations"]});
    let res = app.post_as(OWNER, &format!("{env}/backups"), body).await;
    let run: api::OperationRun = res.json().await.unwrap();
    app.deliver("backup-capture").await;
    let set: api::BackupSetDetail = get(&app, &format!("{env}/backups/{}", run.id)).await;
    let gone = &set.items[0];
    sim().delete_object(&tenant, "deviceConfigurations", &gone.id);
    let key = format!("deviceConfigurations/{}", gone.id);
    let res = app
        .post_as(
            MANAGER,
            &format!("{env}/restores"),
            json!({"backup_set_id": set.set.id, "items": [key]}),
        )
        .await;
    let r: api::Restore = res.json().await.unwrap();
    let p: api::RestorePreview = app
        .post_as(MANAGER, &format!("{env}/restores/{}/previews", r.id), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_as(
            MANAGER,
            &format!("{env}/restores/{}/confirm", r.id),
            confirm_body(&p, "env-rs4"),
        )
        .await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    let demote = app
        .patch_as(OWNER, &paths::member(DEMO_WS, "u-manager"), json!({"role": "operator"}))
        .await;
    assert_eq!(demote.status(), 200);
    assert_eq!(app.deliver("restore-execute").await, 1);
    let v: api::OperationView = get(&app, &paths::operation(DEMO_WS, &run.id)).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("blocked"));
    assert!(
        v.run.reason.as_deref().unwrap_or("").contains("restore.execute"),
        "{:?}",
        v.run.reason
    );
    assert!(
        !names(&tenant, "deviceConfigurations").contains(&gone.name),
        "nothing written"
    );
    let audit: api::AuditPage = get(&app, &format!("{WS}/audit-events?action=run.finish&outcome=denied")).await;
    assert!(audit.items.iter().any(|e| e.target == format!("run/{}", run.id)));
    app.stop().await;
}

/// Every family, nothing changed since the backup: every item matches by id and nothing differs
/// (no false diffs from read-only fields, expansions or assignment reads).
async fn an_untouched_tenant_previews_unchanged(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env("env-rs7").await;
    let all: Vec<&str> = atlas_graph::families::FAMILIES.iter().map(|f| f.code).collect();
    let set = backup(&app, &env, &all).await;
    let r = draft(&app, &env, json!({"backup_set_id": set.set.id})).await;
    assert_eq!(r.items.len(), set.items.len());
    let p = preview(&app, &env, &r.id, json!({})).await;
    let changed: Vec<_> = p.items.iter().filter(|i| i.action != "unchanged").collect();
    assert!(changed.is_empty(), "{changed:?}");
    assert!(p.items.iter().all(|i| i.matched_by == "id"));
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    app.stop().await;
}

const CLEAN_FAMILIES: [&str; 4] = [
    "deviceConfigurations",
    "deviceCompliancePolicies",
    "assignmentFilters",
    "windowsFeatureUpdateProfiles",
];

/// Deletes every object of the clean families and drafts their restore (creates only, one write each).
async fn everything_deleted(app: &TestApp, slug: &str) -> (String, String, api::Restore, usize) {
    everything_deleted_of(app, slug, None).await
}

/// [`everything_deleted`] in a tenant of `per_family` objects per family.
async fn everything_deleted_of(
    app: &TestApp,
    slug: &str,
    per_family: Option<usize>,
) -> (String, String, api::Restore, usize) {
    let (tenant, env) = app.connected_env_with(slug, per_family).await;
    let body = json!({"families": CLEAN_FAMILIES});
    let res = app.post_as(OWNER, &format!("{env}/backups"), body).await;
    let run: api::OperationRun = res.json().await.unwrap();
    if !app.config.run_workers {
        app.deliver("backup-capture").await;
    }
    let set: api::BackupSetDetail = eventually("the backup", app.run_deadline(), || async {
        let d: api::BackupSetDetail = app
            .get_as(OWNER, &format!("{env}/backups/{}", run.id))
            .await
            .json()
            .await
            .ok()?;
        (d.set.state == "complete").then_some(d)
    })
    .await;
    for i in &set.items {
        assert!(sim().delete_object(&tenant, &i.family, &i.id));
    }
    let body = json!({"backup_set_id": set.set.id, "include_assignments": false});
    let r = draft(app, &env, body).await;
    (tenant, env, r, set.items.len())
}

async fn write_faults_make_an_honest_partial(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env, r, n) = everything_deleted(&app, "env-rs5").await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    assert_eq!(p.summary.create as usize, n);
    sim().set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            server_errors: Some(atlas_graph_sim::ServerErrors {
                every_nth: Some(20),
                statuses: vec![500],
                writes_only: true,
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs5")).await;
    sim().clear_faults(&tenant);
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("partially_succeeded"),
        "{:?}",
        v.items
    );
    assert_eq!(v.run.status, "needs_attention", "never shown as complete");
    let failed: BTreeSet<String> = v
        .items
        .iter()
        .filter(|i| i.result == "failed")
        .map(|i| i.detail["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed.len(), n / 20, "5 % of {n} writes failed: {:?}", v.items);
    for i in v.items.iter().filter(|i| i.result == "failed") {
        assert_eq!(i.detail["status"], 500, "{i:?}");
        assert!(i.detail["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{i:?}");
    }
    let mut missing = BTreeSet::new();
    for f in CLEAN_FAMILIES {
        let live = names(&tenant, f);
        for i in p.items.iter().filter(|i| i.family == f) {
            if !live.contains(&i.name) {
                missing.insert(i.name.clone());
            }
        }
    }
    assert_eq!(failed, missing, "exactly the failed items are the ones not restored");
    let restore: api::Restore = get(&app, &format!("{env}/restores/{}", r.id)).await;
    assert_eq!(
        restore.run.unwrap().outcome.map(|o| o.as_str()),
        Some("partially_succeeded")
    );
    app.stop().await;
}

/// A write answered 429 with a `Retry-After` longer than a unit sleeps through re-queues its unit
/// with that delay (the worker goes on with other work) instead of failing the item: once Graph
/// lets up, every item is restored, and once.
async fn a_long_retry_after_requeues_the_write_instead_of_failing_it(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env, r, n) = everything_deleted(&app, "env-rs10").await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    sim().reset_stats(&tenant);
    let wait = atlas_app::steps::MAX_RETRY_WAIT.as_secs_f64() + 2.0;
    sim().set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            throttle: Some(atlas_graph_sim::Throttle {
                every_nth: Some(1),
                retry_after: Some(wait),
                writes_only: true,
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    // Graph lets up as soon as it has refused one write.
    let relent = {
        let tenant = tenant.clone();
        tokio::spawn(async move {
            eventually("a refused write", Duration::from_secs(60), || async {
                (sim().stats(&tenant).throttled > 0).then_some(())
            })
            .await;
            sim().clear_faults(&tenant);
        })
    };
    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs10")).await;
    relent.await.expect("the fault task");
    assert!(sim().stats(&tenant).throttled > 0, "a write was refused");
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    assert_eq!(v.run.succeeded as usize, n);
    let total: usize = CLEAN_FAMILIES.iter().map(|f| sim().objects(&tenant, f).len()).sum();
    assert_eq!(total, n, "every item created once");
    app.stop().await;
}

/// Previews and confirms restore `r` (202): the run whose units are queued.
async fn confirmed(app: &TestApp, env: &str, r: &api::Restore, slug: &str) -> api::OperationRun {
    let p = preview(app, env, &r.id, json!({})).await;
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/restores/{}/confirm", r.id),
            confirm_body(&p, slug),
        )
        .await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

/// The run succeeded with its `n` items, and the tenant holds each of them once.
async fn restored_once(app: &TestApp, run: &api::OperationRun, tenant: &str, n: usize) {
    let v: api::OperationView = get(app, &paths::operation(DEMO_WS, &run.id)).await;
    assert_eq!(
        (v.run.outcome.map(|o| o.as_str()), v.run.succeeded as usize),
        (Some("succeeded"), n),
        "{:?}",
        v.items
    );
    let total: usize = CLEAN_FAMILIES.iter().map(|f| sim().objects(tenant, f).len()).sum();
    assert_eq!(total, n, "every item created once");
}

async fn double_delivery_creates_no_duplicates(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    let (tenant, env, r, n) = everything_deleted(&app, "env-rs6").await;
    let run = confirmed(&app, &env, &r, "env-rs6").await;
    assert_eq!(app.deliver_each("restore-execute", 2).await, n);
    restored_once(&app, &run, &tenant, n).await;
    for f in CLEAN_FAMILIES {
        let mut live = names(&tenant, f);
        let len = live.len();
        live.sort();
        live.dedup();
        assert_eq!(live.len(), len, "no duplicate names in {f}");
    }
    app.stop().await;
}

/// Filters deleted with the items that use them come back in the same restore, and the restored
/// assignments point at the recreated filters (their new ids), never at the deleted ones.
async fn filters_recreated_by_the_same_restore_are_used_by_its_assignments(mode: Mode) {
    const FILTER: &str = "deviceAndAppManagementAssignmentFilterId";
    let app = spawn_app(mode).await;
    // 12 objects a family: the seed gives a third of assignments a filter, so some always have one.
    let (tenant, env) = app.connected_env_with("env-rs8", Some(12)).await;
    let set = backup(&app, &env, &CLEAN_FAMILIES).await;
    let filter_name = |id: &str| {
        sim()
            .objects(&tenant, "assignmentFilters")
            .iter()
            .find(|f| f["id"] == id)
            .and_then(|f| f["displayName"].as_str().map(str::to_owned))
    };
    let filtered = |t: &str| -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for f in CLEAN_FAMILIES {
            for o in sim().objects(t, f) {
                for a in o["assignments"].as_array().into_iter().flatten() {
                    if let Some(name) = a["target"][FILTER].as_str().and_then(&filter_name) {
                        out.insert((f.to_owned(), o["displayName"].as_str().unwrap_or("").to_owned(), name));
                    }
                }
            }
        }
        out
    };
    let before = filtered(&tenant);
    assert!(!before.is_empty(), "the seeded tenant assigns with filters");
    let old_filters: BTreeSet<String> = sim()
        .objects(&tenant, "assignmentFilters")
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    for i in &set.items {
        assert!(sim().delete_object(&tenant, &i.family, &i.id));
    }

    let r = draft(
        &app,
        &env,
        json!({"backup_set_id": set.set.id, "include_assignments": true}),
    )
    .await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    assert!(
        p.items
            .iter()
            .any(|i| i.warnings.iter().any(|w| w.contains("recreated by this restore"))),
        "the operator is told which assignments wait for a filter"
    );
    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs8")).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    assert_eq!(
        filtered(&tenant),
        before,
        "every filtered assignment is back, on its filter"
    );
    for f in CLEAN_FAMILIES {
        for o in sim().objects(&tenant, f) {
            for a in o["assignments"].as_array().into_iter().flatten() {
                if let Some(id) = a["target"][FILTER].as_str() {
                    assert!(!old_filters.contains(id), "{f}: assigned with a deleted filter id {id}");
                }
            }
        }
    }
    app.stop().await;
}

/// Across tenants a scope tag is matched by name, never by id (tenant B's tag "1" is another
/// tag); a tag with no match blocks confirmation rather than tagging with the wrong one.
async fn scope_tags_are_mapped_by_name_across_tenants(mode: Mode) {
    let app = spawn_app(mode).await;
    let (ta, env_a) = app.connected_env("env-rs9a").await;
    let (tb, env_b) = app.connected_env("env-rs9b").await;
    let objs = sim().objects(&ta, "deviceConfigurations");
    let (x, y) = (
        objs[0]["id"].as_str().unwrap().to_owned(),
        objs[1]["id"].as_str().unwrap().to_owned(),
    );
    assert!(sim().patch_object(&ta, "roleScopeTags", "1", json!({"displayName": "rs9-shared"})));
    assert!(sim().patch_object(&ta, "roleScopeTags", "2", json!({"displayName": "rs9-only-in-a"})));
    let tagged = |name: &str, tags: Value| json!({"displayName": name, "roleScopeTagIds": tags});
    assert!(sim().patch_object(&ta, "deviceConfigurations", &x, tagged("rs9-x", json!(["0", "1"]))));
    assert!(sim().patch_object(&ta, "deviceConfigurations", &y, tagged("rs9-y", json!(["2"]))));
    let twin = sim().add_object(
        &tb,
        "roleScopeTags",
        json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "rs9-shared", "isBuiltIn": false}),
    );
    let set = backup(&app, &env_a, &["deviceConfigurations"]).await;
    let restore = |id: &str| {
        json!({
            "backup_set_id": set.set.id, "source_environment_id": "env-rs9a", "include_assignments": false,
            "items": [format!("deviceConfigurations/{id}")],
        })
    };

    let r = draft(&app, &env_b, restore(&x)).await;
    let p = preview(&app, &env_b, &r.id, json!({})).await;
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    let v = confirm_and_wait(&app, &env_b, &r.id, confirm_body(&p, "env-rs9b")).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    let created = sim()
        .objects(&tb, "deviceConfigurations")
        .into_iter()
        .find(|o| o["displayName"] == "rs9-x")
        .expect("created in tenant B");
    assert_eq!(
        created["roleScopeTagIds"],
        json!(["0", twin]),
        "tagged with B's tag of that name"
    );

    let r = draft(&app, &env_b, restore(&y)).await;
    let p = preview(&app, &env_b, &r.id, json!({})).await;
    assert!(
        p.blockers.iter().any(|b| b.contains("Scope tag rs9-only-in-a")),
        "{:?}",
        p.blockers
    );
    let res = app
        .post_as(
            OWNER,
            &format!("{env_b}/restores/{}/confirm", r.id),
            confirm_body(&p, "env-rs9b"),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(
        sim()
            .objects(&tb, "deviceConfigurations")
            .iter()
            .all(|o| o["displayName"] != "rs9-y")
    );
    app.stop().await;
}

/// Multi Admin Approval is flagged from the tenant's access policies before any write, only for
/// the families a policy protects; a write it holds fails that item, and the family stays flagged.
async fn multi_admin_approval_is_flagged_before_any_write(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env, r, n) = everything_deleted(&app, "env-rs7").await;
    assert!(
        !r.readiness.checks.iter().any(|c| c.code == "approval"),
        "no MAA policy yet: {:?}",
        r.readiness.checks
    );
    sim().set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            approval_policies: vec!["compliancePolicy".into()],
            ..Default::default()
        },
    );
    let body = json!({"backup_set_id": r.backup_set_id, "include_assignments": false});
    let r = draft(&app, &env, body).await;
    let flagged: Vec<&api::ReadinessCheck> = r.readiness.checks.iter().filter(|c| c.code == "approval").collect();
    assert_eq!(flagged.len(), 1, "{:?}", r.readiness.checks);
    assert_eq!(flagged[0].family.as_deref(), Some("deviceCompliancePolicies"));
    assert_eq!(flagged[0].status, "needs_attention");
    assert!(
        flagged[0].message.contains("compliancePolicy"),
        "{}",
        flagged[0].message
    );
    assert_eq!(r.readiness.status, "needs_attention");

    // Confirming is allowed (needs attention, not blocked); the held writes fail their items only.
    let p = preview(&app, &env, &r.id, json!({})).await;
    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs7")).await;
    sim().clear_faults(&tenant);
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("partially_succeeded"),
        "{:?}",
        v.items
    );
    let compliance = p
        .items
        .iter()
        .filter(|i| i.family == "deviceCompliancePolicies")
        .count();
    let failed: Vec<&api::RunItem> = v.items.iter().filter(|i| i.result == "failed").collect();
    assert_eq!(failed.len(), compliance, "{:?}", v.items);
    assert!(
        failed.iter().all(|i| i.detail["family"] == "deviceCompliancePolicies"),
        "{failed:?}"
    );
    assert_eq!(v.run.succeeded as usize, n - compliance);
    app.stop().await;
}

/// An update writes back everything the backup holds, also what the family's main write leaves
/// out: an intent's scope tags (not carried by `updateSettings`) and an Autopilot profile's
/// assignment set (one POST per target, so a target the backup lacks must be deleted).
async fn updates_restore_intent_scope_tags_and_autopilot_target_sets(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-rs10").await;
    let set = backup(&app, &env, &["intents", "windowsAutopilotDeploymentProfiles"]).await;
    let intent = sim().objects(&tenant, "intents")[0].clone();
    let profile = sim().objects(&tenant, "windowsAutopilotDeploymentProfiles")[0].clone();
    let (iid, pid) = (intent["id"].as_str().unwrap(), profile["id"].as_str().unwrap());
    let group = sim().add_group(&tenant, "rs10-extra");
    let mut live = profile["assignments"].as_array().cloned().unwrap_or_default();
    let extra = json!({
        "id": format!("{pid}_{group}"),
        "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
                   "deviceAndAppManagementAssignmentFilterId": null,
                   "deviceAndAppManagementAssignmentFilterType": "none"},
    });
    live.push(extra);
    assert!(sim().patch_object(
        &tenant,
        "windowsAutopilotDeploymentProfiles",
        pid,
        json!({"assignments": live})
    ));
    assert!(sim().patch_object(&tenant, "intents", iid, json!({"roleScopeTagIds": ["0", "rs10"]})));

    let body = json!({
        "backup_set_id": set.set.id, "include_assignments": true,
        "items": [format!("intents/{iid}"), format!("windowsAutopilotDeploymentProfiles/{pid}")],
    });
    let r = draft(&app, &env, body).await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    let planned: Vec<(&str, &str)> = p.items.iter().map(|i| (i.family.as_str(), i.action.as_str())).collect();
    assert_eq!(planned.len(), 2, "{planned:?}");
    assert!(planned.iter().all(|(_, a)| *a == "update"), "{planned:?}");
    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs10")).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);

    let after = |family: &str, id: &str| {
        sim()
            .objects(&tenant, family)
            .into_iter()
            .find(|o| o["id"] == id)
            .expect("still there")
    };
    assert_eq!(after("intents", iid)["roleScopeTagIds"], intent["roleScopeTagIds"]);
    let targets = |o: &Value| -> BTreeSet<String> {
        o["assignments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["target"]["groupId"].as_str().unwrap_or("all").to_owned())
            .collect()
    };
    let restored = targets(&after("windowsAutopilotDeploymentProfiles", pid));
    assert_eq!(
        restored,
        targets(&profile),
        "the backup's target set, the extra one removed"
    );
    assert!(!restored.contains(&group));
    app.stop().await;
}

/// The families of issue 18 (item 6) round-trip: backed up, one of each deleted in the portal (a
/// driver update profile edited), restored from the backup with their own write paths (policy-set
/// items through `update`, role assignments bound to their role, terms assigned target by target),
/// each one verified. An app is restored as metadata (the preview says its package must be uploaded),
/// and a built-in Intune role that differs from the backup is a conflict, never written.
async fn new_families_round_trip(mode: Mode) {
    const NEW: [&str; 8] = [
        "mobileApps",
        "windowsQualityUpdateProfiles",
        "windowsDriverUpdateProfiles",
        "policySets",
        "roleDefinitions",
        "roleAssignments",
        "termsAndConditions",
        "deviceCategories",
    ];
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-rs-fam").await;
    let set = backup(&app, &env, &NEW).await;
    for f in NEW {
        let backed_up = set.items.iter().filter(|i| i.family == f).count();
        assert_eq!(
            backed_up,
            sim().objects(&tenant, f).len(),
            "{f}: every object backed up"
        );
    }
    let counts = |t: &str| NEW.map(|f| sim().objects(t, f).len());
    let before = counts(&tenant);
    let live = |f: &str| sim().objects(&tenant, f);
    // What is deleted: an app, and a policy set that does not bundle it (items name apps by id);
    // a custom role no assignment grants; one object of every other family.
    let lob_app = live("mobileApps")
        .into_iter()
        .find(|a| a["@odata.type"].as_str().unwrap().contains("LobApp"))
        .expect("a line-of-business app");
    let policy_set = live("policySets")
        .into_iter()
        .find(|ps| {
            ps["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["payloadId"] != lob_app["id"])
        })
        .expect("a policy set without that app");
    let granted: Vec<String> = live("roleAssignments")
        .iter()
        .map(|a| a["roleDefinition"]["id"].as_str().unwrap().to_owned())
        .collect();
    let custom_role = live("roleDefinitions")
        .into_iter()
        .find(|r| r["isBuiltIn"] == false && !granted.contains(&r["id"].as_str().unwrap().to_owned()))
        .expect("an ungranted custom role");
    let terms = live("termsAndConditions")
        .into_iter()
        .find(|t| !t["assignments"].as_array().unwrap().is_empty())
        .expect("assigned terms");
    let deleted: Vec<(&str, Value)> = vec![
        ("mobileApps", lob_app.clone()),
        (
            "windowsQualityUpdateProfiles",
            live("windowsQualityUpdateProfiles")[0].clone(),
        ),
        ("policySets", policy_set.clone()),
        ("roleDefinitions", custom_role),
        ("roleAssignments", live("roleAssignments")[0].clone()),
        ("termsAndConditions", terms.clone()),
        ("deviceCategories", live("deviceCategories")[0].clone()),
    ];
    for (f, o) in &deleted {
        assert!(sim().delete_object(&tenant, f, o["id"].as_str().unwrap()), "{f}");
    }
    let driver = live("windowsDriverUpdateProfiles")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sim().patch_object(
        &tenant,
        "windowsDriverUpdateProfiles",
        &driver,
        json!({"description": "edited"})
    ));

    let mut keys: Vec<String> = deleted
        .iter()
        .map(|(f, o)| format!("{f}/{}", o["id"].as_str().unwrap()))
        .collect();
    keys.push(format!("windowsDriverUpdateProfiles/{driver}"));
    let r = draft(&app, &env, json!({"backup_set_id": set.set.id, "items": keys})).await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    assert_eq!(
        (p.summary.create, p.summary.update, p.summary.conflict),
        (7, 1, 0),
        "{:?}",
        p.items
    );
    let app_item = p.items.iter().find(|i| i.family == "mobileApps").unwrap();
    assert!(
        app_item.warnings.iter().any(|w| w.contains("metadata")),
        "{:?}",
        app_item.warnings
    );
    let v = confirm_and_wait(&app, &env, &r.id, confirm_body(&p, "env-rs-fam")).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    for i in &v.items {
        assert_eq!(i.detail["verification"]["ok"], true, "{i:?}");
    }
    assert_eq!(counts(&tenant), before, "each deleted object created once");
    for (f, o) in &deleted {
        let name = o["displayName"].as_str().unwrap();
        assert!(names(&tenant, f).contains(&name.to_owned()), "{f} {name} is back");
    }
    let back = |f: &str, o: &Value| {
        live(f)
            .into_iter()
            .find(|x| x["displayName"] == o["displayName"])
            .unwrap()
    };
    let app_back = back("mobileApps", &lob_app);
    assert_eq!(app_back["publishingState"], "notPublished", "metadata only: no package");
    assert_eq!(
        app_back["assignments"].as_array().unwrap().len(),
        lob_app["assignments"].as_array().unwrap().len()
    );
    let payloads = |ps: &Value| {
        let mut ids: Vec<String> = ps["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["payloadId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        payloads(&back("policySets", &policy_set)),
        payloads(&policy_set),
        "the set bundles the same"
    );
    let role_assignment = &deleted[4].1;
    assert_eq!(
        back("roleAssignments", role_assignment)["roleDefinition"]["id"],
        role_assignment["roleDefinition"]["id"]
    );
    let targets = |t: &Value| {
        let mut g: Vec<String> = t["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["target"].to_string())
            .collect();
        g.sort();
        g
    };
    assert_eq!(targets(&back("termsAndConditions", &terms)), targets(&terms));
    let edited = live("windowsDriverUpdateProfiles")
        .into_iter()
        .find(|d| d["id"] == driver.as_str())
        .unwrap();
    assert_ne!(edited["description"], "edited", "the update wrote the backup's state");

    // A built-in role edited behind the backup's back: a conflict, and nothing is written to it.
    let builtin = live("roleDefinitions")
        .into_iter()
        .find(|r| r["isBuiltIn"] == true)
        .unwrap();
    let bid = builtin["id"].as_str().unwrap();
    assert!(sim().patch_object(&tenant, "roleDefinitions", bid, json!({"description": "changed"})));
    let r = draft(
        &app,
        &env,
        json!({"backup_set_id": set.set.id, "items": [format!("roleDefinitions/{bid}")]}),
    )
    .await;
    let p = preview(&app, &env, &r.id, json!({})).await;
    assert_eq!(p.summary.conflict, 1, "{:?}", p.items);
    assert!(p.items[0].conflict.as_deref().unwrap_or_default().contains("built-in"));
    app.stop().await;
}

/// A run of more units than its records are counted by (ADR 0049) also counts each on its tally
/// (ADR 0044). A crash between a unit's record and that count (the count refused, as a process
/// dying there would leave it) is healed by the redelivery: the unit writes nothing again, its
/// recorded result is counted once, and the run ends.
async fn a_crash_between_a_units_record_and_its_count_is_healed_by_redelivery(mode: Mode) {
    let app = spawn_without_workers(mode).await;
    let (tenant, env, r, n) = everything_deleted_of(&app, "env-rs12", Some(9)).await;
    assert!(
        n as u64 > atlas_app::records::runs::TALLY_UNITS,
        "{n} units are counted on a tally"
    );
    let run = confirmed(&app, &env, &r, "env-rs12").await;
    let state = &app.app().state;
    let q = state.queues.get("restore-execute").unwrap().clone();
    let got = q.receive(1, Duration::from_secs(30), Duration::ZERO).await.unwrap();
    let step = *atlas_app::steps::steps()
        .iter()
        .find(|s| s.queue == "restore-execute")
        .unwrap();
    let one = vec![(got[0].id.clone(), got[0].body.clone())];
    state.table.refuse_writes(Some("the process died here"), &["TALLY#"]);
    let failed = atlas_app::steps::handle_batch(state, &step, one.clone()).await;
    state.table.refuse_writes(None, &[]);
    assert_eq!(failed.len(), 1, "the unit's count was refused, so its message stays");
    let v: api::OperationView = get(&app, &paths::operation(DEMO_WS, &run.id)).await;
    assert_eq!(v.items.len(), 1, "the record was written");
    assert_eq!(v.run.succeeded + v.run.failed, 0, "but not counted");
    // The same message again, then every other one.
    assert!(atlas_app::steps::handle_batch(state, &step, one).await.is_empty());
    q.delete(&got[0].receipt).await.unwrap();
    assert_eq!(app.deliver_each("restore-execute", 1).await, n - 1);
    restored_once(&app, &run, &tenant, n).await;
    app.stop().await;
}

atlas_tests::on_both_backends!(
    a_crash_between_a_units_record_and_its_count_is_healed_by_redelivery,
    same_tenant_restore_recreates_deleted_items_once,
    new_families_round_trip,
    updates_restore_intent_scope_tags_and_autopilot_target_sets,
    filters_recreated_by_the_same_restore_are_used_by_its_assignments,
    double_delivery_creates_no_duplicates
);

/// Issue 19 item 2: the environment's groups by display name, searched by prefix (case-insensitive,
/// sorted) and named by id (unknown ids listed, not failed); bad lookups refused by field; an
/// unconnected environment and a throttled Graph answered honestly.
async fn groups_are_found_by_name_and_named_by_id(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-dir1").await;
    let groups = sim().objects(&tenant, "groups");
    let first = groups[0]["displayName"].as_str().unwrap().to_owned();
    let prefix = first[..first.find('-').unwrap() + 1].to_lowercase();
    let found: api::DirectoryGroupList = get(&app, &format!("{env}/directory/groups?search={prefix}")).await;
    let expected: BTreeSet<String> = groups
        .iter()
        .filter_map(|g| g["displayName"].as_str())
        .filter(|n| n.to_lowercase().starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    let names: Vec<String> = found.items.iter().map(|g| g.display_name.clone()).collect();
    assert!(names.contains(&first), "{first} among {names:?}");
    assert_eq!(
        names.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "exactly the prefix's groups"
    );
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "by name");
    let none: api::DirectoryGroupList = get(&app, &format!("{env}/directory/groups?search=zz-no-such")).await;
    assert!(none.items.is_empty());

    let (g0, g1) = (groups[0]["id"].as_str().unwrap(), groups[1]["id"].as_str().unwrap());
    let gone = "00000000-0000-0000-0000-00000000dead";
    let named: api::DirectoryGroupList = get(&app, &format!("{env}/directory/groups?ids={g0},{g1},{gone}")).await;
    let by_id: BTreeSet<(String, String)> = named
        .items
        .iter()
        .map(|g| (g.id.clone(), g.display_name.clone()))
        .collect();
    let want: BTreeSet<(String, String)> = groups[..2]
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                g["displayName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(by_id, want);
    assert_eq!(named.missing, vec![gone.to_owned()]);

    // Whoever sees the inventory sees the names (an operator, entitled to every environment).
    let res = app
        .get_as(atlas_tests::app::OPERATOR, &format!("{env}/directory/groups?ids={g0}"))
        .await;
    assert_eq!(res.status(), 200);

    for (query, field) in [
        ("", "query.search"),
        ("?search=", "query.search"),
        ("?search=a&ids=b", "query.ids"),
        ("?ids=a/../../me", "query.ids"),
        ("?ids=a?$top=999", "query.ids"),
    ] {
        let res = app.get_as(OWNER, &format!("{env}/directory/groups{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let body = res.text().await.unwrap();
        assert!(body.contains(&format!("\"{field}\"")), "{query}: {body}");
    }

    // Not connected: a conflict that says what to do, not a 500.
    let res = app
        .get_as(
            OWNER,
            &format!("{WS}/environments/env-fabrikam/directory/groups?search=a"),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("connect"));

    // Graph keeps refusing with a long Retry-After: the answer says when to come back.
    sim().set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            throttle: Some(atlas_graph_sim::Throttle {
                every_nth: Some(1),
                retry_after: Some(600.0),
                paths: vec!["groups".into()],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let res = app
        .get_as(OWNER, &format!("{env}/directory/groups?search={prefix}"))
        .await;
    sim().clear_faults(&tenant);
    assert!(matches!(res.status().as_u16(), 429 | 503), "{}", res.status());
    assert!(res.headers().contains_key("retry-after"));
    app.stop().await;
}

mod embedded_only {
    use super::*;

    #[tokio::test]
    async fn refused_confirmations_write_nothing() {
        super::refused_confirmations_write_nothing(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn second_tenant_with_group_mapping() {
        super::second_tenant_with_group_mapping(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn groups_are_found_by_name_and_named_by_id() {
        super::groups_are_found_by_name_and_named_by_id(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn capability_removed_after_confirmation_blocks() {
        super::capability_removed_after_confirmation_blocks(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn an_untouched_tenant_previews_unchanged() {
        super::an_untouched_tenant_previews_unchanged(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn scope_tags_are_mapped_by_name_across_tenants() {
        super::scope_tags_are_mapped_by_name_across_tenants(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn multi_admin_approval_is_flagged_before_any_write() {
        super::multi_admin_approval_is_flagged_before_any_write(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn write_faults_make_an_honest_partial() {
        super::write_faults_make_an_honest_partial(Mode::Embedded).await;
    }

    #[tokio::test]
    async fn a_long_retry_after_requeues_the_write_instead_of_failing_it() {
        super::a_long_retry_after_requeues_the_write_instead_of_failing_it(Mode::Embedded).await;
    }
}
