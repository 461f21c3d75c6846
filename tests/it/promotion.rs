//! Compare, the mapping table and promotion between two simulator tenants (spec 022): matching by
//! name across tenants, references translated by the mapping table, an unresolved group that
//! blocks, a dry-run that writes nothing, self-approval refused, cutover with the target's backup
//! first and 0 differences after, rollback, and who may see and do what.

use std::collections::BTreeSet;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OUTSIDER, OWNER, READONLY, TestApp, eventually, spawn_app};
use serde_json::{Value, json};

fn sim() -> &'static atlas_graph_sim::Simulator {
    &atlas_tests::sim::shared().sim
}

async fn get<T: serde::de::DeserializeOwned>(app: &TestApp, path: &str) -> T {
    let res = app.get_as(OWNER, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn sync(app: &TestApp, env: &str) {
    let v = app.run_to_completion(&format!("{env}/inventory/sync"), json!({})).await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
}

/// Graph writes the tenant received since its stats were reset (token requests are not Graph).
fn writes(tenant: &str) -> u64 {
    sim()
        .stats(tenant)
        .requests
        .iter()
        .filter(|(k, _)| !k.starts_with("GET ") && k.as_str() != "POST $batch")
        .map(|(_, n)| n)
        .sum()
}

fn name_of(o: &Value) -> String {
    o["displayName"].as_str().unwrap_or_default().to_owned()
}

/// A twin of `o` (another tenant's copy, made in the portal): no id, no assignments.
fn twin(o: &Value) -> Value {
    let mut t = o.clone();
    let m = t.as_object_mut().unwrap();
    for k in [
        "id",
        "assignments",
        "createdDateTime",
        "lastModifiedDateTime",
        "version",
    ] {
        m.remove(k);
    }
    t
}

async fn compare(app: &TestApp, a: &str, b: &str, family: &str) -> api::Comparison {
    let q = format!("{}?a={a}&b={b}&family={family}", paths::compare(DEMO_WS));
    get(app, &q).await
}

async fn map(app: &TestApp, src: &str, tgt: &str, set: Value) -> reqwest::Response {
    let body = json!({"source_environment_id": src, "target_environment_id": tgt, "set": set});
    app.post_as(OWNER, &paths::mappings(DEMO_WS), body).await
}

#[tokio::test]
async fn compare_matches_by_name_across_tenants_and_translates_references() {
    let app = spawn_app(Mode::Embedded).await;
    let (ta, env_a) = app.connected_env_with("env-cmpa", Some(2)).await;
    let (tb, env_b) = app.connected_env_with("env-cmpb", Some(2)).await;
    // A custom scope tag in A and its counterpart in B under another name and id.
    let tag_a = sim().add_object(
        &ta,
        "roleScopeTags",
        json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "cmp-berlin"}),
    );
    let tag_b = sim().add_object(
        &tb,
        "roleScopeTags",
        json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "cmp-berlin-b"}),
    );
    let base = json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "description": "same", "passwordMinimumLength": 12, "passwordRequired": true});
    let mut pa = base.clone();
    pa["displayName"] = json!("cmp-shared-policy");
    pa["roleScopeTagIds"] = json!(["0", tag_a]);
    let mut pb = pa.clone();
    pb["roleScopeTagIds"] = json!(["0", tag_b]);
    let id_a = sim().add_object(&ta, "deviceConfigurations", pa.clone());
    let id_b = sim().add_object(&tb, "deviceConfigurations", pb);
    let mut only_a = base.clone();
    only_a["displayName"] = json!("cmp-only-in-a");
    sim().add_object(&ta, "deviceConfigurations", only_a);
    sync(&app, &env_a).await;
    sync(&app, &env_b).await;

    let sa = "environment:env-cmpa";
    let sb = "environment:env-cmpb";
    let c = compare(&app, sa, sb, "deviceConfigurations").await;
    let shared = c
        .objects
        .iter()
        .find(|o| o.a_name.as_deref() == Some("cmp-shared-policy"))
        .expect("the shared policy is compared");
    // Ids differ across tenants: matched by name, and the tag differs until it is mapped.
    assert_eq!(shared.matched_by.as_deref(), Some("name"));
    assert_eq!(
        (shared.a_id.as_deref(), shared.b_id.as_deref()),
        (Some(id_a.as_str()), Some(id_b.as_str()))
    );
    assert_eq!(shared.result, "different", "{:?}", shared.differences);
    assert!(
        shared
            .differences
            .iter()
            .all(|d| d.path.starts_with("/roleScopeTagIds")),
        "{:?}",
        shared.differences
    );
    let only = c
        .objects
        .iter()
        .find(|o| o.a_name.as_deref() == Some("cmp-only-in-a"))
        .unwrap();
    assert_eq!(only.result, "only_a");
    assert_eq!(
        c.counts.only_a,
        c.objects.iter().filter(|o| o.result == "only_a").count() as u64
    );

    // The mapping table: a bad kind and a target tag B does not have are field errors, nothing stored.
    let bad = map(
        &app,
        "env-cmpa",
        "env-cmpb",
        json!([{"kind": "colour", "source_id": "x", "target_id": "y"}]),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let bad = map(
        &app,
        "env-cmpa",
        "env-cmpb",
        json!([{"kind": "scope_tag", "source_id": tag_a, "target_id": "999"}]),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body.to_string().contains("set[0].target_id"), "{body}");
    let table: api::MappingTable = get(
        &app,
        &format!(
            "{}?source_environment_id=env-cmpa&target_environment_id=env-cmpb",
            paths::mappings(DEMO_WS)
        ),
    )
    .await;
    assert!(table.items.is_empty());
    let sug = table
        .suggestions
        .iter()
        .find(|s| s.kind == "scope_tag" && s.source_id == tag_a)
        .expect("the tag is suggested");
    assert_eq!(sug.resolution, "unresolved", "names differ, so nothing resolves it");
    // Mapped: the scope tag now translates, and the policy compares the same.
    let ok = map(
        &app,
        "env-cmpa",
        "env-cmpb",
        json!([{"kind": "scope_tag", "source_id": tag_a, "target_id": tag_b}]),
    )
    .await;
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap_or_default());
    let c = compare(&app, sa, sb, "deviceConfigurations").await;
    let shared = c
        .objects
        .iter()
        .find(|o| o.a_name.as_deref() == Some("cmp-shared-policy"))
        .unwrap();
    assert_eq!(shared.result, "same", "{:?}", shared.differences);
    assert_eq!(c.mappings_applied, 1);
    // A property change is one difference, with both values.
    assert!(sim().patch_object(&tb, "deviceConfigurations", &id_b, json!({"passwordMinimumLength": 8})));
    sync(&app, &env_b).await;
    let c = compare(&app, sa, sb, "deviceConfigurations").await;
    let shared = c
        .objects
        .iter()
        .find(|o| o.a_name.as_deref() == Some("cmp-shared-policy"))
        .unwrap();
    let d: Vec<(&str, Option<&Value>, Option<&Value>)> = shared
        .differences
        .iter()
        .map(|d| (d.path.as_str(), d.a.as_ref(), d.b.as_ref()))
        .collect();
    assert_eq!(d, vec![("/passwordMinimumLength", Some(&json!(12)), Some(&json!(8)))]);
    // CSV: one row per difference, formula-looking cells guarded.
    let csv = app
        .get_as(
            OWNER,
            &format!(
                "{}?a={sa}&b={sb}&family=deviceConfigurations",
                paths::compare_export(DEMO_WS)
            ),
        )
        .await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("cmp-shared-policy") && l.contains("/passwordMinimumLength")),
        "{text}"
    );

    // A backup set compares as well as the inventory; a bad side is a field error.
    let v = app
        .run_to_completion(
            &format!("{env_a}/backups"),
            json!({"families": ["deviceConfigurations"]}),
        )
        .await;
    let c = compare(
        &app,
        &format!("backup:env-cmpa:{}", v.run.id),
        sa,
        "deviceConfigurations",
    )
    .await;
    assert!(
        c.objects
            .iter()
            .all(|o| o.result == "same" && o.matched_by.as_deref() == Some("id")),
        "{:?}",
        c.counts
    );
    let res = app
        .get_as(OWNER, &format!("{}?a=nonsense&b={sb}", paths::compare(DEMO_WS)))
        .await;
    assert_eq!(res.status(), 400);
    // Who may see it: an outsider gets 404; so does a side naming an environment of nobody.
    let res = app
        .get_as(OUTSIDER, &format!("{}?a={sa}&b={sb}", paths::compare(DEMO_WS)))
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .get_as(
            OWNER,
            &format!("{}?a={sa}&b=environment:env-nope", paths::compare(DEMO_WS)),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_as(
            READONLY,
            &paths::mappings(DEMO_WS),
            json!({"source_environment_id": "env-cmpa", "target_environment_id": "env-cmpb", "set": []}),
        )
        .await;
    assert_eq!(res.status(), 403);
    app.stop().await;
}

struct World {
    a: &'static str,
    b: &'static str,
    ta: String,
    tb: String,
    env_a: String,
    env_b: String,
    /// A's policy B lacks (created), its group mapped explicitly to `group_b`.
    new_name: String,
    /// A's policy B has a twin of (updated).
    upd_name: String,
    upd_b_id: String,
    group_a: String,
    group_b: String,
}

/// Two tenants: A's policy `new` (assigned to a group only A has) and `upd` (B has a twin with an
/// older description). A's groups, filters and tags get names B can resolve, except `group_a`,
/// which only the mapping table can.
async fn world(app: &TestApp, a: &'static str, b: &'static str) -> World {
    let (ta, env_a) = app.connected_env_with(a, Some(10)).await;
    let (tb, env_b) = app.connected_env(b).await;
    let v = app
        .run_to_completion(&format!("{env_b}/provider-connection/verify"), json!({}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let assigned = |o: &&Value| {
        o["@odata.type"] != "#microsoft.graph.windows10CustomConfiguration"
            && o["assignments"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["target"]["groupId"].is_string()))
    };
    let new = sim()
        .objects(&ta, "deviceConfigurations")
        .iter()
        .find(assigned)
        .expect("a policy with group assignments")
        .clone();
    // Seeded tenants share names: B must not have this one (it is to be created there).
    for o in sim().objects(&tb, "deviceConfigurations") {
        if name_of(&o) == name_of(&new) {
            assert!(sim().delete_object(&tb, "deviceConfigurations", o["id"].as_str().unwrap()));
        }
    }
    // Seeded tenants share most names: the policy to update is made in A's portal.
    let upd_props = json!({
        "@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": format!("{a}-upd"),
        "description": "the new description", "passwordRequired": true, "passwordMinimumLength": 14,
    });
    let upd_id = sim().add_object(&ta, "deviceConfigurations", upd_props);
    let upd = sim()
        .objects(&ta, "deviceConfigurations")
        .into_iter()
        .find(|o| o["id"] == upd_id.as_str())
        .unwrap();
    let mut groups = BTreeSet::new();
    let mut filters = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for o in [&new, &upd] {
        for asg in o["assignments"].as_array().into_iter().flatten() {
            if let Some(g) = asg["target"]["groupId"].as_str() {
                groups.insert(g.to_owned());
            }
            if let Some(f) = asg["target"]["deviceAndAppManagementAssignmentFilterId"].as_str()
                && !f.is_empty()
                && f != "00000000-0000-0000-0000-000000000000"
            {
                filters.insert(f.to_owned());
            }
        }
        for t in o["roleScopeTagIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if t != "0" {
                tags.insert(t.to_owned());
            }
        }
    }
    // The first group only the mapping table resolves; the others get same-named twins in B.
    let group_a = groups.iter().next().unwrap().clone();
    let mut group_b = String::new();
    for (n, g) in groups.iter().enumerate() {
        let name = format!("{a}-group-{n}");
        assert!(sim().patch_object(&ta, "groups", g, json!({"displayName": name})));
        let twin_name = if *g == group_a { format!("{b}-other-name") } else { name };
        let id = app_group(&tb, &twin_name);
        if *g == group_a {
            group_b = id;
        }
    }
    let a_filters = sim().objects(&ta, "assignmentFilters");
    for (n, fid) in filters.iter().enumerate() {
        let f = a_filters
            .iter()
            .find(|f| f["id"] == fid.as_str())
            .expect("a filter of A");
        let name = format!("{a}-filter-{n}");
        assert!(sim().patch_object(&ta, "assignmentFilters", fid, json!({"displayName": name})));
        sim().add_object(
            &tb,
            "assignmentFilters",
            json!({"@odata.type": f["@odata.type"], "displayName": name, "platform": f["platform"], "rule": f["rule"]}),
        );
    }
    for (n, tid) in tags.iter().enumerate() {
        let name = format!("{a}-tag-{n}");
        assert!(sim().patch_object(&ta, "roleScopeTags", tid, json!({"displayName": name})));
        sim().add_object(
            &tb,
            "roleScopeTags",
            json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": name}),
        );
    }
    // B's twin of `upd`: the same policy before its last change, with B's tags.
    let mut old = twin(&upd);
    old["description"] = json!("the old description");
    let b_tags: Vec<Value> = upd["roleScopeTagIds"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let tid = t.as_str().unwrap_or("0");
            if tid == "0" {
                return json!("0");
            }
            let n = tags.iter().position(|x| x == tid).unwrap();
            let name = format!("{a}-tag-{n}");
            sim()
                .objects(&tb, "roleScopeTags")
                .iter()
                .find(|x| x["displayName"] == name.as_str())
                .unwrap()["id"]
                .clone()
        })
        .collect();
    if upd.get("roleScopeTagIds").is_some() {
        old["roleScopeTagIds"] = json!(b_tags);
    }
    let upd_b_id = sim().add_object(&tb, "deviceConfigurations", old);
    World {
        a,
        b,
        ta,
        tb,
        env_a,
        env_b,
        new_name: name_of(&new),
        upd_name: name_of(&upd),
        upd_b_id,
        group_a,
        group_b,
    }
}

/// The mapping table sends A's group to B's differently named one.
async fn map_group(app: &TestApp, w: &World) {
    let set = json!([{"kind": "group", "source_id": w.group_a, "target_id": w.group_b}]);
    assert_eq!(map(app, w.a, w.b, set).await.status(), 200);
}

/// A backup of A's device configurations, and its items.
async fn backup_a(app: &TestApp, w: &World) -> api::BackupSetDetail {
    let body = json!({"families": ["deviceConfigurations"]});
    let set = app.run_to_completion(&format!("{}/backups", w.env_a), body).await;
    assert_eq!(set.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    get(app, &format!("{}/backups/{}", w.env_a, set.run.id)).await
}

fn app_group(tenant: &str, name: &str) -> String {
    sim().add_group(tenant, name)
}

async fn promotion(app: &TestApp, id: &str) -> api::Promotion {
    get(app, &paths::promotion(DEMO_WS, id)).await
}

async fn act(app: &TestApp, who: &str, path: String, body: Value) -> reqwest::Response {
    app.post_as(who, &path, body).await
}

async fn promotion_is_planned_approved_cut_over_verified_and_rolled_back(mode: Mode) {
    let app = spawn_app(mode).await;
    let w = world(&app, "env-pra", "env-prb").await;
    let detail = backup_a(&app, &w).await;
    let items: Vec<String> = detail
        .items
        .iter()
        .filter(|i| i.name == w.new_name || i.name == w.upd_name)
        .map(|i| format!("{}/{}", i.family, i.id))
        .collect();
    assert_eq!(items.len(), 2);

    // Planned without a mapping for group A: an unresolved reference blocks, never dropped.
    let body = json!({"source_environment_id": "env-pra", "target_environment_id": "env-prb", "items": items});
    let res = act(&app, OWNER, paths::promotions(DEMO_WS), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let p: api::Promotion = res.json().await.unwrap();
    let plan = p.plan.as_ref().expect("a plan");
    assert_eq!((plan.summary.create, plan.summary.update), (1, 1), "{:?}", plan.items);
    assert!(
        plan.blockers.iter().any(|b| b.contains("no match in the target")),
        "{:?}",
        plan.blockers
    );
    assert_eq!(p.status, api::Status::Blocked);

    // The mapping table resolves it; plan again.
    let res = map(
        &app,
        "env-pra",
        "env-prb",
        json!([{"kind": "group", "source_id": w.group_a, "target_id": w.group_b}]),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = act(&app, OWNER, paths::promotion_plan(DEMO_WS, &p.id), json!({})).await;
    assert_eq!(res.status(), 200);
    let p: api::Promotion = res.json().await.unwrap();
    let plan = p.plan.as_ref().unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let g = plan.groups.iter().find(|g| g.source_group_id == w.group_a).unwrap();
    assert_eq!(
        (g.resolution.as_str(), g.target_group_id.as_deref()),
        ("chosen", Some(w.group_b.as_str()))
    );
    let fp = p.plan_fingerprint.clone().unwrap();

    // Approval needs a dry-run first; the dry-run writes nothing to the target.
    let res = act(
        &app,
        MANAGER,
        paths::promotion_approve(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp}),
    )
    .await;
    assert_eq!(res.status(), 409);
    sim().reset_stats(&w.tb);
    let res = act(&app, OWNER, paths::promotion_dry_run(DEMO_WS, &p.id), json!({})).await;
    assert_eq!(res.status(), 200);
    let p: api::Promotion = res.json().await.unwrap();
    let dry = p.dry_run.clone().unwrap();
    assert_eq!(dry.status, api::Status::Ready, "{:?}", dry.checks);
    assert_eq!((dry.writes, writes(&w.tb)), (0, 0));

    // The planner cannot approve; a second member can, bound to the plan's fingerprint.
    let res = act(
        &app,
        OWNER,
        paths::promotion_approve(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp}),
    )
    .await;
    assert_eq!(res.status(), 403, "self-approval");
    let res = act(
        &app,
        MANAGER,
        paths::promotion_approve(DEMO_WS, &p.id),
        json!({"plan_fingerprint": "0"}),
    )
    .await;
    assert_eq!(res.status(), 409, "another plan's fingerprint");
    let res = act(
        &app,
        MANAGER,
        paths::promotion_approve(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());

    // Cutover: typed name checked, then the target's backup, the restore, the verification.
    let res = act(
        &app,
        OWNER,
        paths::promotion_cutover(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp, "confirm": "wrong"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    let res = act(
        &app,
        OWNER,
        paths::promotion_cutover(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp, "confirm": "env-prb"}),
    )
    .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
    let done = eventually("the promotion to be verified", app.run_deadline(), || async {
        let p = promotion(&app, &p.id).await;
        (!matches!(p.state.as_str(), "backing_up" | "cutting_over")).then_some(p)
    })
    .await;
    assert_eq!(done.state, "verified", "{:?} {:?}", done.reason, done.verify);
    let v = done.verify.clone().unwrap();
    assert_eq!((v.compared, v.differences), (2, 0), "{:?}", v.objects);
    assert_eq!(
        done.pre_backup_run.as_ref().and_then(|r| r.outcome).map(|o| o.as_str()),
        Some("succeeded")
    );
    // In B: the new policy exists once, assigned to the mapped group; the twin was updated.
    let b = sim().objects(&w.tb, "deviceConfigurations");
    let created: Vec<&Value> = b.iter().filter(|o| name_of(o) == w.new_name).collect();
    assert_eq!(created.len(), 1);
    let targets: Vec<&str> = created[0]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["target"]["groupId"].as_str())
        .collect();
    assert!(targets.contains(&w.group_b.as_str()), "{targets:?}");
    let updated = b.iter().find(|o| o["id"] == w.upd_b_id.as_str()).unwrap();
    assert_ne!(updated["description"], "the old description");

    // Rollback: a restore of the pre-cutover backup brings the twin back.
    let res = act(
        &app,
        OWNER,
        paths::promotion_rollback(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let p: api::Promotion = res.json().await.unwrap();
    let r = p.rollback_restore_id.clone().unwrap();
    let res = act(&app, OWNER, format!("{}/restores/{r}/previews", w.env_b), json!({})).await;
    assert_eq!(res.status(), 201);
    let pv: api::RestorePreview = res.json().await.unwrap();
    assert!(pv.blockers.is_empty(), "{:?}", pv.blockers);
    let v = app
        .run_to_completion(
            &format!("{}/restores/{r}/confirm", w.env_b),
            json!({"preview_id": pv.id, "fingerprint": pv.fingerprint, "confirm": "env-prb"}),
        )
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    let back = sim()
        .objects(&w.tb, "deviceConfigurations")
        .into_iter()
        .find(|o| o["id"] == w.upd_b_id.as_str())
        .unwrap();
    assert_eq!(back["description"], "the old description");
    let _ = &w.ta;
    app.stop().await;
}

#[tokio::test]
async fn a_dry_run_catches_a_mapped_group_deleted_in_the_target_and_writes_nothing() {
    let app = spawn_app(Mode::Embedded).await;
    let w = world(&app, "env-prda", "env-prdb").await;
    let detail = backup_a(&app, &w).await;
    let item = detail.items.iter().find(|i| i.name == w.new_name).unwrap();
    map_group(&app, &w).await;
    let body = json!({"source_environment_id": "env-prda", "target_environment_id": "env-prdb", "items": [format!("{}/{}", item.family, item.id)]});
    let res = act(&app, OWNER, paths::promotions(DEMO_WS), body).await;
    assert_eq!(res.status(), 201);
    let p: api::Promotion = res.json().await.unwrap();
    assert!(p.plan.as_ref().unwrap().blockers.is_empty());
    // Readonly and outsiders: 403 to act, 404 to see.
    let res = act(&app, READONLY, paths::promotion_dry_run(DEMO_WS, &p.id), json!({})).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get_as(OUTSIDER, &paths::promotion(DEMO_WS, &p.id)).await.status(),
        404
    );

    assert!(sim().delete_object(&w.tb, "groups", &w.group_b));
    sim().reset_stats(&w.tb);
    let res = act(&app, OWNER, paths::promotion_dry_run(DEMO_WS, &p.id), json!({})).await;
    assert_eq!(res.status(), 200);
    let p: api::Promotion = res.json().await.unwrap();
    let dry = p.dry_run.unwrap();
    assert_eq!(dry.status, api::Status::Blocked, "{:?}", dry.checks);
    assert!(
        dry.checks
            .iter()
            .any(|c| c.code == "references" && c.status == api::Status::Blocked),
        "{:?}",
        dry.checks
    );
    assert_eq!(writes(&w.tb), 0, "a dry-run writes nothing");
    assert!(
        sim()
            .objects(&w.tb, "deviceConfigurations")
            .iter()
            .all(|o| name_of(o) != w.new_name)
    );
    // A Blocked dry-run cannot be approved.
    let fp = p.plan_fingerprint.unwrap();
    let res = act(
        &app,
        MANAGER,
        paths::promotion_approve(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp}),
    )
    .await;
    assert_eq!(res.status(), 409);
    app.stop().await;
}

atlas_tests::on_both_backends!(promotion_is_planned_approved_cut_over_verified_and_rolled_back);
