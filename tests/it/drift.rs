//! Baselines, drift and findings against the simulator (spec 015): an unchanged tenant opens no
//! finding; a change made in the portal is found through the audit log with who made it; missing
//! and extra objects; dedupe, triage, auto-resolve and reopen; a stale transition writes nothing.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::drift::feed::{PollMessage, poll};
use atlas_domain::findings::FindingStatus;
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, spawn_app};
use serde_json::json;

const FAMILIES: [&str; 2] = ["deviceConfigurations", "deviceCompliancePolicies"];

async fn findings(app: &TestApp, query: &str) -> api::FindingPage {
    let res = app
        .get_as(OWNER, &format!("{}?{query}", paths::findings(DEMO_WS)))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `PUT path` with a JSON body as `user`; answers the status.
async fn put(app: &TestApp, user: &str, path: &str, body: serde_json::Value) -> u16 {
    app.req(reqwest::Method::PUT, path, Some(user))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn detail(app: &TestApp, id: &str) -> api::FindingDetail {
    let res = app.get_as(OWNER, &paths::finding(DEMO_WS, id)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn poll_env(app: &TestApp, env: &str) -> atlas_app::drift::feed::Polled {
    let msg = PollMessage::new(WorkspaceId::parse(DEMO_WS).unwrap(), EnvironmentId::parse(env).unwrap());
    poll(&app.app().state, &msg).await.expect("the poll works")
}

/// A backup of the families, a baseline from it, assigned to its own environment.
async fn baseline_of(app: &TestApp, env_path: &str, slug: &str, name: &str) -> api::Baseline {
    let v = app
        .run_to_completion(&format!("{env_path}/backups"), json!({"families": FAMILIES}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    let body = json!({"name": name, "source_environment_id": slug, "families": FAMILIES, "report_extra": true});
    let res = app.post_as(MANAGER, &paths::baselines(DEMO_WS), body.clone()).await;
    assert_eq!(res.status(), 201);
    let b: api::Baseline = res.json().await.unwrap();
    // Names are unique in the workspace, whatever their case.
    let mut again = body;
    again["name"] = json!(name.to_uppercase());
    assert_eq!(
        app.post_as(MANAGER, &paths::baselines(DEMO_WS), again).await.status(),
        409
    );
    // Not assignable before its first snapshot.
    let assign = paths::baseline_assignment(DEMO_WS, slug, &b.id);
    assert_eq!(put(app, MANAGER, &assign, json!({"priority": 10})).await, 409);
    let res = app
        .post_as(MANAGER, &paths::baseline_snapshots(DEMO_WS, &b.id), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let snap: api::BaselineSnapshot = res.json().await.unwrap();
    assert_eq!((snap.number, snap.from_backup_set_id.as_str()), (1, v.run.id.as_str()));
    assert_eq!(put(app, MANAGER, &assign, json!({"priority": 10})).await, 200);
    // The assignment started the first detection: a detect now joins it.
    let v = app
        .run_to_completion(&paths::drift_detect(DEMO_WS, slug), json!({}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{v:?}");
    // An operator may not manage baselines.
    assert_eq!(put(app, OPERATOR, &assign, json!({"priority": 1})).await, 403);
    b
}

async fn drift_lifecycle(mode: Mode) {
    let app = spawn_app(mode).await;
    let slug = atlas_tests::unique("env-dr");
    let (tenant, env) = app.connected_env_with(&slug, Some(3)).await;
    let sim = &atlas_tests::sim::shared().sim;
    let b = baseline_of(&app, &env, &slug, &format!("Gold {slug}")).await;

    // Unchanged: detect twice, and "edits" that change nothing an admin configured (new
    // timestamps and versions) — no finding.
    for _ in 0..2 {
        let v = app
            .run_to_completion(&paths::drift_detect(DEMO_WS, &slug), json!({}))
            .await;
        assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{v:?}");
    }
    // Ten cycles of portal edits that change nothing an admin configured: the same name again
    // (new timestamps and versions), scope tags listed in another order.
    for cycle in 0..10 {
        for o in sim.objects(&tenant, FAMILIES[0]) {
            let id = o["id"].as_str().unwrap();
            let mut tags: Vec<serde_json::Value> = o["roleScopeTagIds"].as_array().cloned().unwrap_or_default();
            tags.reverse();
            let same = json!({"displayName": o["displayName"], "roleScopeTagIds": tags});
            assert!(sim.patch_object(&tenant, FAMILIES[0], id, same));
        }
        let p = poll_env(&app, &slug).await;
        assert_eq!((p.refetched, p.opened), (3, 0), "cycle {cycle}: {p:?}");
    }
    assert_eq!(findings(&app, "state=open").await.total, 0);
    // A poll that finds nothing new writes nothing: the watch stays as it was (ADR 0041).
    let watch_key = atlas_app::records::drift::watch_key(
        &WorkspaceId::parse(DEMO_WS).unwrap(),
        &EnvironmentId::parse(&slug).unwrap(),
    );
    let table = &app.app().state.table;
    let before_quiet = table.get(&watch_key).await.unwrap();
    let meter = atlas_store::Meter::new();
    let mut metered = app.app().state.clone();
    metered.table = metered.table.metered(meter.clone());
    let msg = PollMessage::new(
        WorkspaceId::parse(DEMO_WS).unwrap(),
        EnvironmentId::parse(&slug).unwrap(),
    );
    let p = poll(&metered, &msg).await.unwrap();
    assert_eq!((p.changes, p.refetched), (0, 0), "{p:?}");
    assert_eq!(table.get(&watch_key).await.unwrap(), before_quiet);
    let used = meter.consumed();
    assert_eq!(used.write_milli, 0, "a quiet poll writes nothing");
    // The overlap lists the last events again; the watch knows them: only the watch and the
    // authority, environment and connection re-checks (½ unit each, eventually consistent:
    // ADR 0049, ADR 0050) are read, not a change record per event.
    assert!(
        p.events > 0 && used.read_milli <= 2_000,
        "{} events, {used:?}",
        p.events
    );
    // A batch re-checks each member's authority once, not once per environment it polls.
    let batch_meter = atlas_store::Meter::new();
    let mut batch_state = app.app().state.clone();
    batch_state.table = batch_state.table.metered(batch_meter.clone());
    let batch = atlas_app::drift::feed::PollBatch {
        polls: vec![msg.clone(), msg.clone()],
    };
    let done = atlas_app::drift::feed::poll_batch(&batch_state, &batch).await;
    assert!(done.iter().all(|(_, r)| r.as_ref().is_ok_and(|p| p.changes == 0)));
    let batch_used = batch_meter.consumed();
    assert!(
        batch_used.read_milli <= 2 * used.read_milli - 500,
        "two polls in a batch {batch_used:?}, one alone {used:?}"
    );
    // The tick's message carries the watch it read (ADR 0054): the poll reads it no more. A
    // carried watch of another environment is not used for this one.
    let watch: atlas_app::records::drift::DriftWatch =
        atlas_app::records::get(table, &watch_key).await.unwrap().unwrap();
    let carried = PollMessage {
        watch: Some(watch.clone()),
        ..msg.clone()
    };
    let carried_meter = atlas_store::Meter::new();
    let mut carried_state = app.app().state.clone();
    carried_state.table = carried_state.table.metered(carried_meter.clone());
    let p = poll(&carried_state, &carried).await.unwrap();
    assert_eq!((p.changes, p.refetched, p.skipped.as_deref()), (0, 0, None), "{p:?}");
    let carried_used = carried_meter.consumed();
    assert_eq!(carried_used.write_milli, 0);
    assert!(
        carried_used.read_milli + 500 <= used.read_milli,
        "carried {carried_used:?}, read {used:?}"
    );
    let mut elsewhere = watch;
    elsewhere.environment_id = EnvironmentId::parse("env-elsewhere").unwrap();
    let mismatched = PollMessage {
        watch: Some(elsewhere),
        ..msg.clone()
    };
    let mismatched_meter = atlas_store::Meter::new();
    let mut mismatched_state = app.app().state.clone();
    mismatched_state.table = mismatched_state.table.metered(mismatched_meter.clone());
    poll(&mismatched_state, &mismatched).await.unwrap();
    assert_eq!(
        mismatched_meter.consumed().read_milli,
        used.read_milli,
        "another environment's watch is ignored: this one's is read"
    );

    // A change in the portal: found through the audit log, with who made it.
    let objects = sim.objects(&tenant, FAMILIES[0]);
    let (changed, deleted) = (objects[0]["id"].as_str().unwrap(), objects[1]["id"].as_str().unwrap());
    let before = objects[0]["description"].clone();
    assert!(sim.patch_object(&tenant, FAMILIES[0], changed, json!({"description": "changed by hand"})));
    assert!(sim.delete_object(&tenant, FAMILIES[0], deleted));
    let extra = sim.add_object(
        &tenant,
        FAMILIES[0],
        json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Shadow IT profile"}),
    );
    let p = poll_env(&app, &slug).await;
    assert_eq!(p.opened, 3, "{p:?}");
    let open = findings(&app, &format!("state=open&environment_id={slug}")).await;
    assert_eq!(open.total, 3, "{:#?}", open.items);
    let by_kind = |k: &str| {
        open.items
            .iter()
            .find(|f| f.kind.map(|x| x.as_str()) == Some(k))
            .unwrap()
            .clone()
    };
    let ch = by_kind("changed");
    assert_eq!(ch.property, "/description");
    assert_eq!(
        (ch.desired.clone(), ch.current.clone()),
        (Some(before.clone()), Some(json!("changed by hand")))
    );
    assert!(ch.changed_by.as_deref().is_some_and(|a| a.contains('@')), "{ch:?}");
    assert_eq!(ch.object.as_ref().unwrap().id.as_deref(), Some(changed));
    assert_eq!(ch.baseline_id.as_deref(), Some(b.id.as_str()));
    assert_eq!(
        by_kind("missing").object.unwrap().baseline_object_id.as_deref(),
        Some(deleted)
    );
    assert_eq!(by_kind("extra").object.unwrap().id.as_deref(), Some(extra.as_str()));
    let changes: api::DriftChangeList = app
        .get_as(OWNER, &paths::drift_changes(DEMO_WS, &slug))
        .await
        .json()
        .await
        .unwrap();
    let c = changes
        .items
        .iter()
        .find(|c| c.object_id == changed)
        .expect("the change is recorded");
    assert_eq!(c.actor, ch.changed_by.clone().unwrap());

    // Findings stored before their environment references (ADR 0043): the next pass reads the
    // workspace's findings once, references them, and updates them as before.
    let refs = atlas_app::records::drift::finding_refs(
        &WorkspaceId::parse(DEMO_WS).unwrap(),
        &EnvironmentId::parse(&slug).unwrap(),
    );
    let table = &app.app().state.table;
    let stored = table.query_all(refs.clone()).await.unwrap();
    assert_eq!(stored.len(), 3 + 1, "a reference per finding and the complete mark");
    for r in &stored {
        let key = atlas_store::Key::new(r["PK"].as_str().unwrap(), r["SK"].as_str().unwrap());
        table.delete(&key, None).await.unwrap();
    }

    // Seen again by a full detection: the same findings, counted, never duplicated.
    app.run_to_completion(&paths::drift_detect(DEMO_WS, &slug), json!({}))
        .await;
    let again = findings(&app, &format!("state=open&environment_id={slug}")).await;
    assert_eq!(again.total, 3);
    let ch2 = again.items.iter().find(|f| f.id == ch.id).unwrap();
    assert_eq!(ch2.count, 2);
    assert_eq!(table.query_all(refs).await.unwrap().len(), 3 + 1, "referenced again");

    // Triage: the readonly member cannot, the operator can, one step at a time.
    let triage = paths::findings_triage(DEMO_WS);
    let body = json!({"ids": [ch.id], "state": "acknowledged"});
    assert_eq!(app.post_as(READONLY, &triage, body.clone()).await.status(), 403);
    let res = app.post_as(OPERATOR, &triage, body).await;
    assert_eq!(res.status(), 200);
    let t: api::TriageResult = res.json().await.unwrap();
    assert_eq!(t.items[0].http_status, 200);
    let skip = json!({"ids": [by_kind("missing").id, "nope-not-a-finding"], "state": "in_progress"});
    let t: api::TriageResult = app.post_as(OPERATOR, &triage, skip).await.json().await.unwrap();
    assert_eq!(t.items.iter().map(|i| i.http_status).collect::<Vec<_>>(), [409, 404]);
    let bad = json!({"ids": [ch.id], "state": "resolved"});
    assert_eq!(
        app.post_as(OPERATOR, &triage, bad).await.status(),
        400,
        "resolving needs a reason"
    );

    // The change undone in the portal: the next poll resolves the finding by itself, from the
    // changed object alone (ADR 0042): the missing and extra findings stay open, and the family's
    // baseline alignment counts the object aligned again.
    // On its own item, not the counters every finding rewrites (ADR 0052).
    let counter = atlas_app::records::dashboard::align_key(
        &WorkspaceId::parse(DEMO_WS).unwrap(),
        &EnvironmentId::parse(&slug).unwrap(),
    );
    let alignment = || async {
        let c = app.app().state.table.get(&counter).await.unwrap().unwrap();
        atlas_app::records::dashboard::alignment_of(&c, FAMILIES[0]).unwrap()
    };
    let (total, aligned) = alignment().await;
    assert!(sim.patch_object(&tenant, FAMILIES[0], changed, json!({"description": before})));
    let p = poll_env(&app, &slug).await;
    assert_eq!(
        (p.resolved, p.by_object.as_slice()),
        (1, [FAMILIES[0].to_owned()].as_slice()),
        "{p:?}"
    );
    let d = detail(&app, &ch.id).await;
    assert_eq!(d.finding.state, FindingStatus::Resolved);
    assert_eq!(
        findings(&app, &format!("state=open&environment_id={slug}")).await.total,
        2
    );
    assert_eq!(alignment().await, (total, aligned + 1));
    let counters = atlas_app::records::dashboard::counter_key(
        &WorkspaceId::parse(DEMO_WS).unwrap(),
        &EnvironmentId::parse(&slug).unwrap(),
    );
    let counters = app.app().state.table.get(&counters).await.unwrap().unwrap();
    assert!(
        counters
            .keys()
            .all(|k| !k.starts_with(atlas_app::records::dashboard::ALIGN)),
        "the counters every finding rewrites carry no alignment: {counters:?}"
    );
    // And done again: reopened, the same finding.
    assert!(sim.patch_object(&tenant, FAMILIES[0], changed, json!({"description": "again"})));
    poll_env(&app, &slug).await;
    let d = detail(&app, &ch.id).await;
    assert_eq!(d.finding.state, FindingStatus::Reopened);
    let moves: Vec<(Option<FindingStatus>, String)> = d
        .history
        .iter()
        .filter(|e| e.kind == "transition")
        .map(|e| (e.to, e.actor.clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (Some(FindingStatus::Acknowledged), OPERATOR.to_owned()),
            (Some(FindingStatus::Resolved), "system".to_owned()),
            (Some(FindingStatus::Reopened), "system".to_owned()),
        ]
    );

    // Others see nothing: an outsider gets 404 for the finding.
    assert_eq!(
        app.get_as(OUTSIDER, &paths::finding(DEMO_WS, &ch.id)).await.status(),
        404
    );
    let csv = app
        .get_as(
            OWNER,
            &format!("{}?environment_id={slug}", paths::findings_export(DEMO_WS)),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains("Z\""), "ISO 8601 times: {csv}");

    // Removing the baseline from the environment resolves what it found there.
    let assign = paths::baseline_assignment(DEMO_WS, &slug, &b.id);
    assert_eq!(app.delete_as(MANAGER, &assign).await.status(), 204);
    assert_eq!(
        findings(&app, &format!("state=open&environment_id={slug}")).await.total,
        0
    );
    assert_eq!(app.delete_as(MANAGER, &assign).await.status(), 404);

    // A fresh capture: a backup of the baseline's families whose set becomes snapshot 2.
    let captures = paths::baseline_captures(DEMO_WS, &b.id);
    assert_eq!(app.post_as(OPERATOR, &captures, json!({})).await.status(), 403);
    let v = app.run_to_completion(&captures, json!({})).await;
    assert_eq!(v.run.operation_type, "backup.capture");
    let snaps = paths::baseline_snapshots(DEMO_WS, &b.id);
    let s = atlas_tests::app::eventually("the fresh snapshot", app.run_deadline(), || async {
        let l: api::BaselineSnapshotList = app.get_as(OWNER, &snaps).await.json().await.ok()?;
        l.items.into_iter().find(|s| s.number == 2)
    })
    .await;
    assert_eq!(s.from_backup_set_id, v.run.id);
    app.stop().await;
}

/// A transition reads the finding's version and status; a write that read an older one (a stale
/// triage, a racing detection, a write that is not a transition) changes nothing, and no audit
/// event claims otherwise.
async fn a_stale_transition_is_refused_and_writes_nothing(mode: Mode) {
    use atlas_app::findings::{Coverage, Detection, observe, transition};
    use atlas_app::records::drift::{FindingRecord, finding_key};
    use atlas_domain::findings::{FindingSource, Severity};
    let app = spawn_app(mode).await;
    let state = &app.app().state;
    let ws = WorkspaceId::parse(DEMO_WS).unwrap();
    let env = EnvironmentId::parse("env-contoso").unwrap();
    let d = Detection {
        environment_id: env.clone(),
        source: FindingSource::Drift,
        object_key: "b/deviceConfigurations/x".into(),
        property: "/description".into(),
        severity: Severity::Medium,
        title: "x differs".into(),
        family: Some("deviceConfigurations".into()),
        object_id: Some("x".into()),
        baseline_object_id: Some("x".into()),
        object_name: "x".into(),
        kind: Some(atlas_domain::drift::DriftKind::Changed),
        desired: Some(json!("a")),
        current: Some(json!("b")),
        matched_by: None,
        baseline_id: Some("b".into()),
        changed_by: None,
    };
    let cover = Coverage {
        environment_id: &env,
        source: FindingSource::Drift,
        family: Some("deviceConfigurations"),
        baselines: None,
        objects: None,
    };
    let o = observe(state, &ws, vec![d.clone(), d.clone()], &cover).await.unwrap();
    assert_eq!(o.opened, 1, "one finding per fingerprint");
    let key = finding_key(&WorkspaceId::parse(DEMO_WS).unwrap(), &d.fingerprint());
    let read = || async {
        atlas_app::records::get::<FindingRecord>(&state.table, &key)
            .await
            .unwrap()
            .unwrap()
    };
    let stale = read().await;
    let audit_count = || async {
        let q = atlas_store::Query::partition(atlas_tests::app::demo_ws_pk())
            .begins_with(atlas_app::records::audit::AUDIT_PREFIX);
        state.table.query_all(q).await.unwrap().len()
    };
    let owner = atlas_app::identity::Actor {
        user_id: "u-owner".into(),
        email: OWNER.into(),
        name: "Owner".into(),
    };
    transition(state, &ws, &owner, None, &stale, FindingStatus::Acknowledged, None)
        .await
        .unwrap();
    let events = audit_count().await;
    // The same move from the stale read: refused, nothing written.
    let e = transition(
        state,
        &ws,
        &owner,
        None,
        &stale,
        FindingStatus::Resolved,
        Some("r".into()),
    )
    .await;
    assert!(matches!(e, Err(atlas_app::error::ServiceError::Conflict(_))), "{e:?}");
    assert_eq!(audit_count().await, events);
    assert_eq!(read().await.status, FindingStatus::Acknowledged);
    // A write that is not a transition, from the stale read: refused by the version condition.
    let mut direct = stale.clone();
    direct.status = FindingStatus::FalsePositive;
    let r = state.table.transact(vec![direct.replace(Some(stale.version))]).await;
    assert!(r.is_err(), "a direct status write must be refused");
    assert_eq!(read().await.status, FindingStatus::Acknowledged);
    // A move the table does not allow is refused before anything is written.
    let now = read().await;
    let e = transition(state, &ws, &owner, None, &now, FindingStatus::Reopened, None).await;
    assert!(matches!(e, Err(atlas_app::error::ServiceError::Conflict(_))));
    assert_eq!(audit_count().await, events);
    app.stop().await;
}

/// A baseline of one tenant compared with another: objects match by display name (ids differ),
/// a renamed one by similarity (shown as such), and one the other tenant lacks is missing.
async fn cross_tenant_matching_by_name_and_similarity(mode: Mode) {
    let app = spawn_app(mode).await;
    let sim = &atlas_tests::sim::shared().sim;
    let (a_slug, b_slug) = (atlas_tests::unique("env-xa"), atlas_tests::unique("env-xb"));
    let (tenant_a, env_a) = app.connected_env_with(&a_slug, Some(3)).await;
    let (tenant_b, _) = app.connected_env_with(&b_slug, Some(0)).await;
    let family = FAMILIES[0];
    let source = sim.objects(&tenant_a, family);
    assert_eq!(source.len(), 3);
    // Tenant B holds copies of the first two: one as is, one renamed and changed.
    let copy = |o: &serde_json::Value| {
        let mut p = o.clone();
        let m = p.as_object_mut().unwrap();
        for k in [
            "id",
            "assignments",
            "createdDateTime",
            "lastModifiedDateTime",
            "version",
            "roleScopeTagIds",
        ] {
            m.remove(k);
        }
        p
    };
    let same = sim.add_object(&tenant_b, family, copy(&source[0]));
    let mut renamed = copy(&source[1]);
    let name = source[1]["displayName"].as_str().unwrap().to_owned();
    renamed["displayName"] = json!(format!("{name} v2"));
    renamed["description"] = json!("drifted in tenant B");
    let renamed_id = sim.add_object(&tenant_b, family, renamed);

    let v = app
        .run_to_completion(&format!("{env_a}/backups"), json!({"families": [family]}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"));
    // Assignments name each tenant's own groups and tags: compared only within a tenant here.
    let body = json!({"name": format!("Cross {a_slug}"), "source_environment_id": a_slug, "families": [family],
        "ignored_properties": ["/assignments", "/roleScopeTagIds"]});
    let b: api::Baseline = app
        .post_as(MANAGER, &paths::baselines(DEMO_WS), body)
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_as(MANAGER, &paths::baseline_snapshots(DEMO_WS, &b.id), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let assign = paths::baseline_assignment(DEMO_WS, &b_slug, &b.id);
    assert_eq!(put(&app, MANAGER, &assign, json!({"priority": 1})).await, 200);
    let v = app
        .run_to_completion(&paths::drift_detect(DEMO_WS, &b_slug), json!({}))
        .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{v:?}");
    let open = findings(&app, &format!("state=open&environment_id={b_slug}")).await;
    let about = |id: &str| {
        open.items
            .iter()
            .filter(|f| f.object.as_ref().and_then(|o| o.id.as_deref()) == Some(id))
            .collect::<Vec<_>>()
    };
    assert!(
        about(&same).is_empty(),
        "the same policy by name is not drift: {:#?}",
        open.items
    );
    let r = about(&renamed_id);
    assert!(!r.is_empty(), "{:#?}", open.items);
    assert!(
        r.iter()
            .all(|f| f.matched_by == Some(atlas_domain::drift::MatchedBy::Similarity)),
        "{r:#?}"
    );
    assert!(r.iter().any(|f| f.property == "/description"), "{r:#?}");
    let missing: Vec<_> = open
        .items
        .iter()
        .filter(|f| f.kind.map(|k| k.as_str()) == Some("missing"))
        .collect();
    assert_eq!(missing.len(), 1, "{:#?}", open.items);
    assert_eq!(
        missing[0].object.as_ref().unwrap().baseline_object_id.as_deref(),
        source[2]["id"].as_str()
    );
    app.stop().await;
}

/// A restore that puts a drifted policy back resolves its finding by itself: the restore's end
/// starts a drift re-check of the families it wrote.
async fn a_restore_resolves_the_drift_it_undoes(mode: Mode) {
    let app = spawn_app(mode).await;
    let slug = atlas_tests::unique("env-drr");
    let (tenant, env) = app.connected_env_with(&slug, Some(2)).await;
    let sim = &atlas_tests::sim::shared().sim;
    baseline_of(&app, &env, &slug, &format!("Restore {slug}")).await;
    let sets: api::BackupSetList = app.get_as(OWNER, &format!("{env}/backups")).await.json().await.unwrap();
    let set = sets.items[0].id.clone();
    let id = sim.objects(&tenant, FAMILIES[0])[0]["id"].as_str().unwrap().to_owned();
    assert!(sim.patch_object(&tenant, FAMILIES[0], &id, json!({"description": "drifted"})));
    poll_env(&app, &slug).await;
    let open = findings(&app, &format!("state=open&environment_id={slug}")).await;
    assert_eq!(open.total, 1, "{:#?}", open.items);
    let finding = open.items[0].id.clone();

    let draft: api::Restore = app
        .post_as(
            OWNER,
            &format!("{env}/restores"),
            json!({"backup_set_id": set, "items": [format!("{}/{id}", FAMILIES[0])]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_as(OWNER, &format!("{env}/restores/{}/previews", draft.id), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let p: api::RestorePreview = res.json().await.unwrap();
    let body = json!({"preview_id": p.id, "fingerprint": p.fingerprint, "confirm": slug});
    let res = app
        .post_as(OWNER, &format!("{env}/restores/{}/confirm", draft.id), body)
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
    let path = paths::finding(DEMO_WS, &finding);
    atlas_tests::app::eventually(
        "the finding to resolve after the restore",
        app.run_deadline(),
        || async {
            let d: api::FindingDetail = app.get_as(OWNER, &path).await.json().await.ok()?;
            (d.finding.state == FindingStatus::Resolved).then_some(())
        },
    )
    .await;
    app.stop().await;
}

/// ADR 0041: a scheduler tick claims the poll slot once for every environment and sends the due
/// environments' polls in batches; a second tick in the same slot sends nothing; the next slot
/// polls them all again; a watch not yet due waits; a single poll sent before batches still reads.
async fn the_change_feed_polls_in_slots_and_batches(mode: Mode) {
    use atlas_app::drift::feed::{POLL_BATCH, POLL_QUEUE, PollBatch, send_due};
    use atlas_app::records::Record;
    use atlas_app::records::drift::DriftWatch;
    let app = atlas_tests::app::spawn_without_workers(mode).await;
    let mut state = app.app().state.clone();
    let every = state.drift_poll_seconds as i64 * 1000;
    // Ten seconds into a slot, a day ahead.
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).unix_timestamp() * 1000;
    let start_ms = tomorrow - tomorrow.rem_euclid(every) + 10_000;
    let start = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(start_ms) * 1_000_000).unwrap();
    let clock = std::sync::Arc::new(atlas_store::ManualClock::new(start));
    state.clock = clock.clone();
    let now = atlas_store::Clock::now_millis(clock.as_ref());
    let ws = WorkspaceId::parse(DEMO_WS).unwrap();
    let n = POLL_BATCH + 5;
    for i in 0..=n {
        let env = EnvironmentId::parse(&format!("env-feed{i}")).unwrap();
        let w = DriftWatch {
            workspace_id: ws.clone(),
            environment_id: env.clone(),
            user_id: "u".into(),
            user_email: "owner@demo.test".into(),
            poll_seconds: state.drift_poll_seconds,
            cursor_ms: now,
            // The last one was assigned a moment ago: its first poll is a slot away.
            next_due_ms: if i == n { now + every } else { now - 1 },
            polled_ms: None,
            next_sweep_ms: now + 86_400_000,
            seen: Vec::new(),
            gsi1pk: atlas_app::records::drift::WATCH_DUE.into(),
            gsi1sk: atlas_app::records::drift::watch_due_sk(DEMO_WS, env.as_str()),
        };
        state.table.put(w.to_item(), None).await.unwrap();
    }
    let queue = state.queues.get(POLL_QUEUE).unwrap().clone();
    let drain = || async {
        let mut envs = Vec::new();
        let mut messages = 0;
        loop {
            let got = queue
                .receive(10, std::time::Duration::from_secs(60), std::time::Duration::ZERO)
                .await
                .unwrap();
            if got.is_empty() {
                break;
            }
            for m in got {
                messages += 1;
                let b = PollBatch::parse(&m.body).unwrap();
                assert!(b.polls.len() <= POLL_BATCH);
                // Each poll carries its watch as the tick read it (ADR 0054).
                assert!(
                    b.polls
                        .iter()
                        .all(|p| p.watch.as_ref().is_some_and(|w| w.environment_id == p.environment_id)),
                    "{b:?}"
                );
                envs.extend(b.polls.into_iter().map(|p| p.environment_id.to_string()));
                queue.delete(&m.receipt).await.unwrap();
            }
        }
        envs.sort();
        (messages, envs)
    };
    let mine = |envs: &[String]| envs.iter().filter(|e| e.starts_with("env-feed")).count();
    assert_eq!(send_due(&state).await.unwrap(), n, "every due watch, in one tick");
    let (messages, envs) = drain().await;
    assert_eq!((messages, mine(&envs), envs.len()), (2, n, n), "{envs:?}");
    assert!(!envs.contains(&format!("env-feed{n}")), "not due yet");
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(send_due(&state).await.unwrap(), 0, "the slot was sent");
    assert_eq!(drain().await.0, 0);
    clock.advance(std::time::Duration::from_millis(every as u64));
    assert_eq!(
        send_due(&state).await.unwrap(),
        n + 1,
        "the next slot polls every watch"
    );
    assert_eq!(mine(&drain().await.1), n + 1);
    // A poll message from before batches.
    let old = PollBatch::parse(r#"{"workspace_id":"ws-demo","environment_id":"env-a"}"#).unwrap();
    assert_eq!(old.polls[0].environment_id.as_str(), "env-a");
    app.stop().await;
}

atlas_tests::on_both_backends!(
    the_change_feed_polls_in_slots_and_batches,
    drift_lifecycle,
    a_stale_transition_is_refused_and_writes_nothing,
    a_restore_resolves_the_drift_it_undoes,
);

mod embedded_only {
    #[tokio::test]
    async fn cross_tenant_matching_by_name_and_similarity() {
        super::cross_tenant_matching_by_name_and_similarity(atlas_tests::app::Mode::Embedded).await;
    }
}
