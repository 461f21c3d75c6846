//! `atlas-bench promote --policies N [--backend embedded|dynamodb] [--throttle]`
//!
//! Promotion between two simulated tenants through the local stack (spec 022): the source holds
//! about N policies over every family; the target is seeded with the same generator (so its
//! groups, filters and scope tags have the source's names, and policies of the same name exist
//! to be updated) and then loses a third of its policies in the "portal" (so they are created).
//! Back up the source; plan, dry-run, approve (a second member), cut over; the cutover backs up
//! the target, writes through the restore engine within Intune's write ceiling (200 per 20 s,
//! enforced by the simulator with `--throttle`), and verifies every promoted object by reading
//! it back. The last line is `promote policies=N seconds=S writes=W lost=L duplicates=D
//! diff_after=X`: S is the cutover (backup, writes, verification), L counts promoted objects
//! absent from the target afterwards and not reported failed, D names present twice, X the
//! verification's differences.

use std::collections::BTreeMap;
use std::time::Instant;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_graph_sim::{Faults, RateLimit};
use atlas_tests::TempDir;
use atlas_tests::app::{DEMO_WS, MANAGER, OWNER, TestApp, start_stack};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backup::{BENCH_DOMAIN, BENCH_TENANT, Endpoint, backend, connect_as, flag, sim_families, wait_run};

const TARGET_TENANT: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const TARGET_DOMAIN: &str = "bench-target.sim.test";

async fn post(app: &TestApp, who: &str, path: &str, body: Value) -> api::Promotion {
    let res = app.post_as(who, path, body).await;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert!(status.is_success(), "POST {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
}

fn name_of(o: &Value) -> String {
    o["displayName"]
        .as_str()
        .or(o["name"].as_str())
        .unwrap_or("")
        .to_owned()
}

pub async fn run(args: &[String]) {
    let policies: usize = flag(args, "--policies").and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let throttle = args.iter().any(|a| a == "--throttle");
    let mode = backend(args);
    let endpoint = Endpoint::spawn_simulator().await;
    let admin = endpoint.bench_tenant(policies).await;
    let per_family = policies.div_ceil(atlas_graph::families::FAMILIES.len());
    let spec = json!({"id": TARGET_TENANT, "domains": [TARGET_DOMAIN], "policies_per_family": per_family});
    let created = admin.send(Method::POST, "/tenants", Some(spec)).await.status();
    assert!(created == 201 || created == 409, "create the target tenant: {created}");
    let dir = TempDir::new();
    let app = start_stack(endpoint.stack_config(mode, &dir), dir).await;
    connect_as(&app, "env-bench", BENCH_TENANT, BENCH_DOMAIN).await;
    connect_as(&app, "env-bench-target", TARGET_TENANT, TARGET_DOMAIN).await;
    let source = paths::environment(DEMO_WS, "env-bench");

    // Every family is promoted: filters and scope tags the target lacks are created with the
    // policies that use them (the restore engine orders them first).
    let families: Vec<&str> = atlas_graph::families::FAMILIES.iter().map(|f| f.code).collect();
    // A third of the target's policies are deleted: the promotion creates them.
    let mut deleted = 0;
    for f in families
        .iter()
        .filter(|f| **f != "roleScopeTags" && **f != "assignmentFilters")
    {
        for sf in sim_families(f) {
            for (i, o) in admin.objects(TARGET_TENANT, sf).await.iter().enumerate() {
                if i % 3 == 0 {
                    let path = format!(
                        "/tenants/{TARGET_TENANT}/objects/{sf}/{}",
                        o["id"].as_str().unwrap_or("")
                    );
                    deleted += usize::from(admin.send(Method::DELETE, &path, None).await.status() == 204);
                }
            }
        }
    }
    let res = app
        .post_as(OWNER, &format!("{source}/backups"), json!({"families": families}))
        .await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();
    let backup = wait_run(&app, &run.id).await;
    assert_eq!(
        backup.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{:?}",
        backup.items
    );

    let t_plan = Instant::now();
    let body = json!({"source_environment_id": "env-bench", "target_environment_id": "env-bench-target", "backup_set_id": run.id});
    let p = post(&app, OWNER, &paths::promotions(DEMO_WS), body).await;
    let plan = p.plan.clone().expect("a plan");
    let plan_seconds = t_plan.elapsed().as_secs_f64();
    let promoted = plan.items.len();
    println!(
        "plan: {promoted} objects (create {}, update {}, unchanged {}, conflict {}) in {plan_seconds:.1} s; {deleted} deleted in the target first",
        plan.summary.create, plan.summary.update, plan.summary.unchanged, plan.summary.conflict
    );
    // Groups the target lacks by name: the operator creates a counterpart of each there (under
    // another name) and maps it in the mapping table, then plans again.
    let unmapped: Vec<&api::GroupMapping> = plan.groups.iter().filter(|g| g.resolution == "unmapped").collect();
    let mut set = Vec::new();
    for g in &unmapped {
        let name = format!("{} (target)", g.source_name.as_deref().unwrap_or(&g.source_group_id));
        let nick: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let group = json!({"@odata.type": "#microsoft.graph.group", "displayName": name, "mailEnabled": false,
            "mailNickname": nick, "securityEnabled": true, "groupTypes": []});
        let res = admin
            .send(
                Method::POST,
                &format!("/tenants/{TARGET_TENANT}/objects/groups"),
                Some(group),
            )
            .await;
        assert!(res.status().is_success(), "create a target group: {}", res.status());
        let created: Value = res.json().await.unwrap();
        set.push(json!({"kind": "group", "source_id": g.source_group_id, "target_id": created["id"]}));
    }
    for chunk in set.chunks(90) {
        let body =
            json!({"source_environment_id": "env-bench", "target_environment_id": "env-bench-target", "set": chunk});
        let res = app.post_as(OWNER, &paths::mappings(DEMO_WS), body).await;
        assert_eq!(
            res.status(),
            200,
            "map groups: {}",
            res.text().await.unwrap_or_default()
        );
    }
    let p = if unmapped.is_empty() {
        p
    } else {
        post(&app, OWNER, &paths::promotion_plan(DEMO_WS, &p.id), json!({})).await
    };
    let plan = p.plan.clone().expect("a plan");
    println!(
        "mapping table: {} groups mapped; plan again: {} blockers",
        unmapped.len(),
        plan.blockers.len()
    );
    for b in plan.blockers.iter().take(5) {
        println!("  blocker: {b}");
    }
    assert!(plan.blockers.is_empty(), "{} blockers", plan.blockers.len());
    let t_dry = Instant::now();
    let p = post(&app, OWNER, &paths::promotion_dry_run(DEMO_WS, &p.id), json!({})).await;
    let dry = p.dry_run.clone().expect("a dry-run");
    println!(
        "dry-run: {} in {:.1} s, writes={}",
        dry.status,
        t_dry.elapsed().as_secs_f64(),
        dry.writes
    );
    let fp = p.plan_fingerprint.clone().unwrap();
    post(
        &app,
        MANAGER,
        &paths::promotion_approve(DEMO_WS, &p.id),
        json!({"plan_fingerprint": fp}),
    )
    .await;

    let faults = Faults {
        rate_limit: throttle.then(RateLimit::default),
        ..Default::default()
    };
    let faults_path = admin.arm(TARGET_TENANT, &faults).await;

    let t = Instant::now();
    let body = json!({"plan_fingerprint": fp, "confirm": "env-bench-target"});
    let p = post(&app, OWNER, &paths::promotion_cutover(DEMO_WS, &p.id), body).await;
    let done = loop {
        let res = app.get_as(OWNER, &paths::promotion(DEMO_WS, &p.id)).await;
        let p: api::Promotion = res.json().await.unwrap();
        if !matches!(p.state.as_str(), "backing_up" | "cutting_over") {
            break p;
        }
        assert!(t.elapsed().as_secs() < 3_600, "the cutover takes over an hour");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let seconds = t.elapsed().as_secs_f64();
    let stats = admin.stats(TARGET_TENANT).await;
    admin.send(Method::DELETE, &faults_path, None).await;
    let writes = crate::backup::writes(&stats);
    let cutover = match &done.cutover_run {
        Some(r) => Some(wait_run(&app, &r.id).await),
        None => None,
    };
    let failed: Vec<String> = cutover
        .iter()
        .flat_map(|v| v.items.iter())
        .filter(|i| i.detail["result"] == "failed")
        .map(|i| i.detail["name"].as_str().unwrap_or("").to_owned())
        .collect();
    // What the target holds now, by family and name.
    let mut live: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &families {
        for sf in sim_families(f) {
            live.entry((*f).to_owned())
                .or_default()
                .extend(admin.objects(TARGET_TENANT, sf).await.iter().map(name_of));
        }
    }
    let (mut lost, mut duplicates) = (0, 0);
    for i in &plan.items {
        let n = live
            .get(&i.family)
            .map(|v| v.iter().filter(|x| **x == i.name).count())
            .unwrap_or(0);
        if n == 0 && !failed.contains(&i.name) {
            lost += 1;
        }
        if n > 1 {
            duplicates += 1;
        }
    }
    let diff_after = done.verify.as_ref().map(|v| v.differences).unwrap_or(u64::MAX);
    app.stop().await;
    println!(
        "state={} reason={:?} pre_backup={} cutover={} failed_items={}",
        done.state,
        done.reason,
        done.pre_backup_run
            .as_ref()
            .and_then(|r| r.outcome)
            .map(|o| o.as_str())
            .unwrap_or("-"),
        cutover
            .as_ref()
            .and_then(|v| v.run.outcome)
            .map(|o| o.as_str())
            .unwrap_or("-"),
        failed.len()
    );
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for i in cutover
        .iter()
        .flat_map(|v| v.items.iter())
        .filter(|i| i.detail["result"] == "failed")
    {
        let why: String = i.detail["reason"].as_str().unwrap_or("").chars().take(200).collect();
        *reasons
            .entry(format!("{}: {why}", i.detail["family"].as_str().unwrap_or("")))
            .or_default() += 1;
    }
    for (why, n) in reasons.iter().take(8) {
        println!("  failed ×{n}: {why}");
    }
    // What still differs, by family and property (with one example).
    let mut kinds: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for o in done.verify.iter().flat_map(|v| v.objects.iter()) {
        let mut seen = std::collections::BTreeSet::new();
        for d in &o.differences {
            let path: String = d.path.split('/').take(2).collect::<Vec<_>>().join("/");
            if seen.insert(path.clone()) {
                let e = kinds.entry((o.family.clone(), path)).or_default();
                e.0 += 1;
                e.1 = format!("{:?} → {:?}", d.a, d.b).chars().take(160).collect();
            }
        }
        if o.differences.is_empty() {
            kinds.entry((o.family.clone(), o.result.clone())).or_default().0 += 1;
        }
    }
    for ((family, path), (n, example)) in &kinds {
        println!("  differs ×{n}: {family} {path} e.g. {example}");
    }
    println!(
        "simulator saw on the target: http_requests={} writes={writes} answered_429={} (write ceiling {} per app per Intune service per {} s)",
        stats.graph_requests - stats.batch_items,
        stats.throttled,
        RateLimit::default().max_writes,
        RateLimit::default().window_ms / 1000,
    );
    println!(
        "promote policies={promoted} seconds={seconds:.1} writes={writes} lost={lost} duplicates={duplicates} diff_after={diff_after}"
    );
}
