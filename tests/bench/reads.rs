//! `atlas-bench reads-during-backup --policies N [--rate R] [--backend embedded|dynamodb]`
//!
//! Read-route latency while a full backup of N policies runs through the local stack (simulator in
//! its own process): an open-loop client sends R requests per second (default 200), each on its
//! own task so a slow answer never lowers the rate, rotating over three read routes (environments,
//! backup sets, the run's view). Measured first for a few seconds with nothing running, then for
//! the whole backup. The last line is `reads_during_backup policies=N rate=R requests=Q p50_ms=..
//! p99_ms=.. max_ms=.. errors=E backup_seconds=S`. Target (docs/benchmarks.md): p99 < 25 ms.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_graph_sim::Faults;
use atlas_tests::TempDir;
use atlas_tests::app::{OWNER, TestApp, start_stack};
use reqwest::Method;
use serde_json::json;

use crate::backup::{BENCH_DOMAIN, BENCH_TENANT, Endpoint, backend, connect, flag};

const WS: &str = "/api/v1/workspaces/ws-demo";
/// A backup that has not ended by then is a failure of the bench, not a figure.
const RUN_DEADLINE: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
struct Samples {
    ok: Vec<Duration>,
    /// The same latencies per route, so a slow route is named.
    by_route: std::collections::BTreeMap<&'static str, Vec<Duration>>,
    errors: usize,
    /// The first failed answer (status and body), so a figure with errors says what they were.
    first_error: Option<String>,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// Sends `rate` reads per second until `stop` says so; returns every latency.
async fn load(app: Arc<TestApp>, rate: u32, run_id: Option<String>, stop: impl Fn() -> bool) -> Samples {
    let samples = Arc::new(Mutex::new(Samples::default()));
    let mut paths = vec![
        ("environments", format!("{WS}/environments")),
        ("backup sets", format!("{WS}/environments/env-bench/backups")),
    ];
    if let Some(id) = run_id {
        paths.push(("run view", format!("{WS}/operations/{id}")));
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0usize;
    while !stop() {
        tick.tick().await;
        let (app, samples) = (app.clone(), samples.clone());
        let (route, path) = paths[i % paths.len()].clone();
        i += 1;
        tasks.spawn(async move {
            // A fresh token per request (they last 10 minutes), minted before the clock starts.
            let token = app.token(OWNER);
            let t = Instant::now();
            let res = app.req(Method::GET, &path, None).bearer_auth(token).send().await;
            let failed = match res {
                Ok(r) => {
                    let status = r.status();
                    match r.bytes().await {
                        Ok(_) if status.is_success() => None,
                        Ok(body) => Some(format!("{status} {}", String::from_utf8_lossy(&body))),
                        Err(e) => Some(format!("{status}, body unreadable: {e}")),
                    }
                }
                Err(e) => Some(e.to_string()),
            };
            let took = t.elapsed();
            let mut s = samples.lock().expect("samples");
            match failed {
                None => {
                    s.ok.push(took);
                    s.by_route.entry(route).or_default().push(took);
                }
                Some(why) => {
                    s.errors += 1;
                    s.first_error.get_or_insert(why);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Arc::try_unwrap(samples)
        .ok()
        .map(|m| m.into_inner().expect("samples"))
        .unwrap_or_default()
}

fn report(name: &str, rate: u32, mut s: Samples, seconds: f64) -> (f64, f64, f64, usize) {
    s.ok.sort();
    let (p50, p99, max) = (pct(&s.ok, 0.50), pct(&s.ok, 0.99), pct(&s.ok, 1.0));
    println!(
        "{name}: requests={} achieved={:.0}/s (asked {rate}/s) p50={p50:.3} ms p99={p99:.3} ms max={max:.3} ms errors={}",
        s.ok.len() + s.errors,
        (s.ok.len() + s.errors) as f64 / seconds.max(0.001),
        s.errors
    );
    for (route, lat) in &mut s.by_route {
        lat.sort();
        println!(
            "{name}:   {route}: requests={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
            lat.len(),
            pct(lat, 0.50),
            pct(lat, 0.99),
            pct(lat, 1.0)
        );
    }
    if let Some(why) = &s.first_error {
        println!("{name}: first error: {why}");
    }
    (p50, p99, max, s.ok.len() + s.errors)
}

pub async fn run(args: &[String]) {
    let policies: usize = flag(args, "--policies").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let rate: u32 = flag(args, "--rate").and_then(|v| v.parse().ok()).unwrap_or(200).max(1);
    let mode = backend(args);
    let endpoint = Endpoint::spawn_simulator().await;
    let admin = endpoint.bench_tenant(policies).await;
    let faults = serde_json::to_value(Faults::default()).expect("faults");
    let path = format!("/tenants/{BENCH_TENANT}/faults");
    assert!(admin.send(Method::PUT, &path, Some(faults)).await.status().is_success());
    let objects: usize = admin.stats(BENCH_TENANT).await.objects.values().sum();

    let dir = TempDir::new();
    // The product's default worker priority, which the test harness turns off.
    let mut config = endpoint.stack_config(mode, &dir);
    config.worker_nice = atlas_app::config::DEFAULT_WORKER_NICE;
    let app = Arc::new(start_stack(config, dir).await);
    connect(&app, BENCH_TENANT, BENCH_DOMAIN).await;

    // Idle: the same load with nothing running, for comparison.
    let t = Instant::now();
    let idle = load(app.clone(), rate, None, move || t.elapsed() >= Duration::from_secs(5)).await;
    report("idle", rate, idle, t.elapsed().as_secs_f64());

    let res = app
        .post_as(OWNER, &format!("{WS}/environments/env-bench/backups"), json!({}))
        .await;
    assert_eq!(res.status(), 202, "start the backup");
    let run: atlas_api_types::OperationRun = res.json().await.expect("run");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (app, done, id) = (app.clone(), done.clone(), run.id.clone());
        tokio::spawn(async move {
            let v = crate::backup::wait_run(&app, &id).await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            v
        })
    };
    let t = Instant::now();
    let flag_done = done.clone();
    let during = load(app.clone(), rate, Some(run.id.clone()), move || {
        flag_done.load(std::sync::atomic::Ordering::SeqCst) || t.elapsed() > RUN_DEADLINE
    })
    .await;
    let seconds = t.elapsed().as_secs_f64();
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst),
        "the backup did not end within {RUN_DEADLINE:?}"
    );
    let view = watcher.await.expect("run watcher");
    let errors = during.errors;
    let (p50, p99, max, requests) = report("during backup", rate, during, seconds);
    println!(
        "backup: outcome={} objects={objects} seconds={seconds:.1}",
        view.run.outcome.map(|o| o.as_str()).unwrap_or_default()
    );
    match Arc::try_unwrap(app) {
        Ok(app) => {
            app.stop().await;
        }
        Err(_) => println!("(stack left to the process exit)"),
    }
    println!(
        "reads_during_backup policies={objects} rate={rate} requests={requests} p50_ms={p50:.3} p99_ms={p99:.3} \
         max_ms={max:.3} errors={errors} backup_seconds={seconds:.1}"
    );
}
