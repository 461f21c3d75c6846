//! `atlas-bench drift --policies N [--changed PCT] [--unchanged-cycles C] [--poll-seconds S]`
//!
//! Drift through the local stack against the simulator (its own process): back up a tenant of N
//! policies, capture a baseline of every family from that backup, assign it, then
//! 1. time a full `drift.detect` run (every family read from Graph and compared), then one that
//!    compares the stored inventory without reading Graph (`?refresh=false`: the last line's S);
//! 2. run C unchanged change-feed cycles, each with no-op portal edits of 1 % of the objects (new
//!    timestamps and versions, nothing an admin configured): every finding is a false one, and the
//!    Graph requests per policy per cycle are the incremental path's cost;
//! 3. change PCT % of the objects in the portal (through the simulator's admin API, audited) and
//!    let the scheduler's change feed, polling every S seconds, find them: the time from each change
//!    to its finding, and whatever it missed.
//!
//! The last line is `drift policies=N seconds=S changed=K found=F false=X missed=M
//! graph_requests=R detect_p95_s=D`: S the comparison's seconds, R the incremental path's Graph
//! requests per policy per cycle, D the 95th percentile of change-to-finding seconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use atlas_graph::families::FAMILIES;
use atlas_tests::TempDir;
use atlas_tests::app::{OWNER, TestApp, start_stack};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backup::{BENCH_DOMAIN, BENCH_TENANT, Endpoint, backend, connect, flag, sim_families, wait_run};

const WS: &str = "ws-demo";
const ENV: &str = "env-bench";
const ACTOR: &str = "bench.admin@bench.sim.test";

/// Assigns baseline `id` to environment `env` of the demo workspace.
pub(crate) async fn assign_baseline(app: &TestApp, env: &str, id: &str) {
    let res = app
        .req(
            Method::PUT,
            &atlas_api_types::paths::baseline_assignment(WS, env, id),
            Some(OWNER),
        )
        .json(&json!({"priority": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "assign the baseline");
}

pub(crate) async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let res = app.post_as(OWNER, path, body).await;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert!(status.is_success(), "POST {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn open_findings(app: &TestApp) -> Vec<atlas_api_types::Finding> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!(
            "{}?status=open&environment_id={ENV}&limit=500{}",
            atlas_api_types::paths::findings(WS),
            if cursor.is_empty() {
                String::new()
            } else {
                format!("&cursor={cursor}")
            }
        );
        let page: atlas_api_types::FindingPage = app.get_as(OWNER, &path).await.json().await.expect("findings");
        out.extend(page.items);
        match page.next {
            Some(n) => cursor = n,
            None => return out,
        }
    }
}

async fn poll_now(app: &TestApp) -> atlas_app::drift::feed::Polled {
    let msg = atlas_app::drift::feed::PollMessage::new(
        atlas_domain::WorkspaceId::parse(WS).unwrap(),
        atlas_domain::EnvironmentId::parse(ENV).unwrap(),
    );
    atlas_app::drift::feed::poll(&app.app().state, &msg)
        .await
        .expect("a poll")
}

/// Every object of the tenant with a `description`, as (simulator family, id, description).
async fn editable(admin: &crate::backup::Admin) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for f in FAMILIES {
        for sf in sim_families(f.code) {
            for o in admin.objects(BENCH_TENANT, sf).await {
                if let (Some(id), Some(d)) = (o["id"].as_str(), o.get("description")) {
                    out.push((sf.to_owned(), id.to_owned(), d.clone()));
                }
            }
        }
    }
    out
}

async fn portal_patch(admin: &crate::backup::Admin, family: &str, id: &str, props: Value) {
    let path = format!("/tenants/{BENCH_TENANT}/objects/{family}/{id}");
    let res = admin.send_as(Method::PATCH, &path, ACTOR, props).await;
    assert_eq!(res.status(), 204, "PATCH {path}");
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub async fn run(args: &[String]) {
    let policies: usize = flag(args, "--policies").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let changed_pct: f64 = flag(args, "--changed").and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let cycles: usize = flag(args, "--unchanged-cycles")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let poll_seconds: u64 = flag(args, "--poll-seconds").and_then(|v| v.parse().ok()).unwrap_or(10);
    let mode = backend(args);
    let endpoint = Endpoint::spawn_simulator().await;
    let admin = endpoint.bench_tenant(policies).await;
    let dir = TempDir::new();
    let mut config = endpoint.stack_config(mode, &dir);
    config.drift_poll_seconds = poll_seconds.max(10);
    config.scheduler_every = Duration::from_secs(1);
    let app = start_stack(config, dir).await;
    connect(&app, BENCH_TENANT, BENCH_DOMAIN).await;
    let env_path = atlas_api_types::paths::environment(WS, ENV);

    let backup = post(&app, &format!("{env_path}/backups"), json!({})).await;
    let backup = wait_run(&app, backup["id"].as_str().unwrap()).await;
    assert_eq!(
        backup.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{:?}",
        backup.items
    );
    let families: Vec<&str> = FAMILIES.iter().map(|f| f.code).collect();
    let b = post(
        &app,
        &atlas_api_types::paths::baselines(WS),
        json!({"name": "Bench gold", "source_environment_id": ENV, "families": families, "report_extra": true}),
    )
    .await;
    let id = b["id"].as_str().unwrap().to_owned();
    let snap = post(&app, &atlas_api_types::paths::baseline_snapshots(WS, &id), json!({})).await;
    let compared: u64 = snap["counts"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assign_baseline(&app, ENV, &id).await;

    // 1. A full detection (every family read from Graph, then compared), then a comparison of
    //    the stored inventory alone: the figure of the last line.
    let detect_path = atlas_api_types::paths::drift_detect(WS, ENV);
    let t = Instant::now();
    let run = post(&app, &detect_path, json!({})).await;
    let detect = wait_run(&app, run["id"].as_str().unwrap()).await;
    let full = t.elapsed().as_secs_f64();
    assert_eq!(
        detect.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{:?}",
        detect.items
    );
    let t = Instant::now();
    let run = post(&app, &format!("{detect_path}?refresh=false"), json!({})).await;
    let compare = wait_run(&app, run["id"].as_str().unwrap()).await;
    let seconds = t.elapsed().as_secs_f64();
    assert_eq!(
        compare.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{:?}",
        compare.items
    );
    let mut false_findings = open_findings(&app).await.len();
    println!(
        "full detection (Graph reads included): {full:.1} s; comparison of {compared} objects from stored payloads: {seconds:.1} s; {false_findings} findings"
    );

    // 2. Unchanged cycles: no-op edits of 1 % of the objects each.
    let objects = editable(admin).await;
    assert!(!objects.is_empty(), "the tenant has objects with a description");
    let touch = (objects.len() / 100).max(1);
    let before = admin.stats(BENCH_TENANT).await.graph_requests;
    for c in 0..cycles {
        for (family, oid, description) in objects.iter().cycle().skip(c * touch).take(touch) {
            portal_patch(admin, family, oid, json!({"description": description})).await;
        }
        let p = poll_now(&app).await;
        assert_eq!(p.skipped, None, "{p:?}");
    }
    let incremental = admin.stats(BENCH_TENANT).await.graph_requests - before;
    false_findings += open_findings(&app).await.len();
    let per_policy = incremental as f64 / (compared.max(1) as f64 * cycles.max(1) as f64);
    println!(
        "{cycles} unchanged cycles: {incremental} Graph requests ({per_policy:.4} per policy per cycle), {false_findings} false findings"
    );

    // 3. Real changes, found by the scheduler's change feed.
    let k = ((objects.len() as f64 * changed_pct / 100.0).round() as usize).clamp(1, objects.len());
    let step = (objects.len() / k).max(1);
    let mut changed_at: BTreeMap<String, i64> = BTreeMap::new();
    for (family, oid, _) in objects.iter().step_by(step).take(k) {
        let now = now_ms();
        portal_patch(
            admin,
            family,
            oid,
            json!({"description": format!("edited by the bench at {now}")}),
        )
        .await;
        changed_at.insert(oid.clone(), now);
    }
    let deadline = Instant::now() + Duration::from_secs(poll_seconds * 3 + 120);
    let mut found: BTreeMap<String, i64> = BTreeMap::new();
    let mut others = 0;
    while Instant::now() < deadline && found.len() < changed_at.len() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        found.clear();
        others = 0;
        for f in open_findings(&app).await {
            let oid = f.object.as_ref().and_then(|o| o.id.clone()).unwrap_or_default();
            match changed_at.get(&oid) {
                Some(at) if f.property == "/description" => {
                    found.insert(oid, f.first_seen_ms - at);
                }
                _ => others += 1,
            }
        }
    }
    false_findings += others;
    let missed = changed_at.len() - found.len();
    let mut lat: Vec<i64> = found.values().copied().collect();
    lat.sort_unstable();
    let p95 = lat
        .get(((lat.len() as f64 - 1.0) * 0.95).round() as usize)
        .map_or(f64::NAN, |ms| *ms as f64 / 1000.0);
    println!(
        "drift policies={compared} seconds={seconds:.1} changed={} found={} false={false_findings} missed={missed} graph_requests={per_policy:.4} detect_p95_s={p95:.1}",
        changed_at.len(),
        found.len()
    );
    drop(app);
}
