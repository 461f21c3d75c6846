//! `cargo xtask bench`: latency and throughput of the embedded store and queue, and of the HTTP
//! API through the whole local stack (token check, scope guard, table reads), on loopback.
//! Prints figures; asserts nothing. Counts are bounded so a run takes seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_store::embedded::EmbeddedStore;
use atlas_store::{Cond, Key, OutMessage, Query, QueueSpec, SystemClock, Table, TxItem};
use atlas_tests::TempDir;
use atlas_tests::app::{Mode, OWNER, spawn_app};
use serde_json::json;

fn summary(name: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let n = samples.len();
    println!(
        "| {name} | {n} | {:.0}/s | {:.3} ms | {:.3} ms | {:.3} ms |",
        n as f64 / total.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples[n - 1].as_secs_f64() * 1e3,
    );
}

async fn timed<F, Fut>(name: &str, n: usize, mut f: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        samples.push(t.elapsed());
    }
    summary(name, samples, start.elapsed());
}

fn item(i: usize) -> atlas_store::Item {
    json!({"PK": "WS#bench", "SK": format!("ITEM#{i:06}"), "entity": "bench", "n": i, "payload": "x".repeat(512)})
        .as_object()
        .cloned()
        .unwrap()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// The simulator families holding a catalog family's objects (app protection is a view over two).
fn sim_families(code: &str) -> Vec<&str> {
    match code {
        "managedAppPolicies" => vec!["iosManagedAppProtections", "androidManagedAppProtections"],
        other => vec![other],
    }
}

/// Objects of the set missing, or captured without the simulator's assignments or script content.
async fn lost_objects(
    app: &atlas_tests::app::TestApp,
    sim: &atlas_graph_sim::Simulator,
    tenant: &str,
    pk: &str,
    set: &str,
) -> usize {
    let table = &app.app().state.table;
    let mut lost = 0;
    for f in atlas_graph::families::FAMILIES {
        let items = table
            .query_all(Query::partition(pk).begins_with(format!("BACKUP#{set}#ITEM#{}#", f.code)))
            .await
            .unwrap();
        let hashes: std::collections::HashMap<String, String> = items
            .iter()
            .map(|i| {
                (
                    i["item_id"].as_str().unwrap().to_owned(),
                    i["hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for want in sim_families(f.code).into_iter().flat_map(|sf| sim.objects(tenant, sf)) {
            let Some(hash) = want["id"].as_str().and_then(|id| hashes.get(id)) else {
                lost += 1;
                continue;
            };
            let blob = table.get(&Key::new(pk, format!("BLOB#{hash}"))).await.unwrap();
            let got = blob.as_ref().and_then(|b| b.get("payload"));
            let same = |key: &str| want.get(key).is_none_or(|w| got.and_then(|g| g.get(key)) == Some(w));
            let complete = got.is_some()
                && (f.assignments == atlas_graph::families::AssignmentsRead::None || same("assignments"))
                && ["scriptContent", "detectionScriptContent", "remediationScriptContent"]
                    .iter()
                    .all(|k| same(k));
            if !complete {
                lost += 1;
            }
        }
    }
    lost
}

/// `atlas-bench backup --policies N [--backend embedded|dynamodb] [--throttle] [--batch-faults PCT]`:
/// a full backup of a simulated tenant with N policies through the local stack (embedded store or
/// DynamoDB/SQS on moto_server, queue workers, the real Graph client). The last line is
/// `backup policies=N seconds=S graph_requests=R rss_mib=M items_lost=L`, where R counts HTTP
/// requests to Graph (a `$batch` is one) and L counts objects missing or captured without their
/// assignments or script content.
async fn backup_bench(args: &[String]) {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let policies: usize = flag("--policies").and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let throttle = args.iter().any(|a| a == "--throttle");
    let batch_faults: f64 = flag("--batch-faults").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let mode = match flag("--backend").as_deref() {
        None | Some("embedded") => Mode::Embedded,
        Some("dynamodb") => Mode::Aws,
        Some(other) => panic!("--backend is embedded or dynamodb, not {other}"),
    };
    let families = atlas_graph::families::FAMILIES.len();
    let per_family = policies.div_ceil(families);
    let sim = atlas_tests::sim::shared();
    let tenant = "bbbbbbbb-0000-4000-8000-000000000001".to_owned();
    sim.sim.add_tenant(atlas_graph_sim::TenantSpec {
        id: Some(tenant.clone()),
        domains: vec!["bench.sim.test".into()],
        policies_per_family: Some(per_family),
        ..Default::default()
    });
    let limit = atlas_graph_sim::RateLimit::default();
    sim.sim.set_faults(
        &tenant,
        atlas_graph_sim::Faults {
            // Intune's published limits, enforced by the simulator.
            rate_limit: throttle.then(|| limit.clone()),
            batch_item_errors: (batch_faults > 0.0).then(|| atlas_graph_sim::ServerErrors {
                fraction: batch_faults / 100.0,
                statuses: vec![503, 500, 504],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let expected: usize = atlas_graph::families::FAMILIES
        .iter()
        .map(|f| sim.sim.objects(&tenant, f.code).len())
        .sum();
    let batched: usize = atlas_graph::families::FAMILIES
        .iter()
        .filter(|f| f.refetch_items || f.assignments == atlas_graph::families::AssignmentsRead::Batch)
        .map(|f| sim.sim.objects(&tenant, f.code).len())
        .sum();
    let app = spawn_app(mode).await;
    let env =
        json!({"slug": "env-bench", "display_name": "Bench", "tenant_id": tenant, "primary_domain": "bench.sim.test"});
    let ws = "/api/v1/workspaces/ws-demo";
    assert_eq!(
        app.post_as(OWNER, &format!("{ws}/environments"), env).await.status(),
        201
    );
    let conn = format!("{ws}/environments/env-bench/provider-connection");
    assert_eq!(app.post_as(OWNER, &conn, json!({"tenant": tenant})).await.status(), 201);
    let start: serde_json::Value = app
        .post_as(OWNER, &format!("{conn}/consent"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let back = app
        .client
        .get(start["consent_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.client.get(&back).send().await.unwrap().status(), 303);
    sim.sim.reset_stats(&tenant);
    // The simulator's tenant lives in this process: what it holds before the run starts is not
    // the product's, so it is printed apart.
    println!("rss_before_run_mib={}", rss_kib() / 1024);
    let t = Instant::now();
    let res = app
        .post_as(OWNER, &format!("{ws}/environments/env-bench/backups"), json!({}))
        .await;
    let run: atlas_api_types::OperationRun = res.json().await.unwrap();
    let view = loop {
        let v: atlas_api_types::OperationView = app
            .get_as(OWNER, &format!("{ws}/operations/{}", run.id))
            .await
            .json()
            .await
            .unwrap();
        if v.run.state == "completed" {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seconds = t.elapsed().as_secs_f64();
    let captured: u64 = view
        .items
        .iter()
        .filter_map(|i| i.detail.get("items").and_then(|n| n.as_u64()))
        .sum();
    let stats = sim.sim.stats(&tenant);
    let lost = lost_objects(&app, &sim.sim, &tenant, "WS#ws-demo#ENV#env-bench", &run.id).await;
    app.stop().await;
    let wire = stats.graph_requests - stats.batch_items;
    // The limiter counts every request and batch item, not the `$batch` envelope.
    let counted = stats.graph_requests - stats.batch_requests;
    println!(
        "outcome={} families={} failed_units={} captured={captured} of {expected} ({batched} through $batch)",
        view.run.outcome.unwrap_or_default(),
        view.run.total,
        view.run.failed
    );
    println!(
        "graph: http_requests={wire} batch_calls={} batch_items={} counted_by_throttle={} answered_429={} answered_5xx={} per_policy={:.3}",
        stats.batch_requests,
        stats.batch_items,
        counted,
        stats.throttled,
        stats.server_errors,
        wire as f64 / expected as f64
    );
    {
        // Intune's ceiling (the client's own budget keeps to it too). With the first window free,
        // R counted requests cannot all be admitted before floor((R-1)/L) windows have passed; that
        // bound over the time the last request actually arrived is the fraction of the ceiling the
        // request stream achieved (storing the last objects afterwards is not throttled).
        let window = limit.window_ms / 1000;
        let per_second: Vec<u64> = (0..=seconds as u64)
            .map(|s| stats.admitted_per_second.get(&s).copied().unwrap_or(0))
            .collect();
        let fullest = per_second
            .windows(window as usize)
            .map(|w| w.iter().sum::<u64>())
            .max()
            .unwrap_or_else(|| per_second.iter().sum());
        let min_seconds = (counted.saturating_sub(1) / u64::from(limit.max_requests) * window) as f64;
        let requests_seconds = stats.last_admitted_ms as f64 / 1000.0;
        let fraction = if min_seconds > 0.0 {
            format!("{:.0}%", 100.0 * min_seconds / requests_seconds.max(min_seconds))
        } else {
            "n/a (fewer requests than one window allows)".to_owned()
        };
        println!(
            "throttle: enforced_by_simulator={} ceiling={}/{window}s counted={counted} min_seconds={min_seconds:.0} \
             last_request_at={requests_seconds:.1}s fullest_window={:.0}% ceiling_fraction={fraction}",
            if throttle { "yes" } else { "no" },
            limit.max_requests,
            100.0 * fullest as f64 / f64::from(limit.max_requests),
        );
        println!("admitted_per_second={per_second:?}");
    }
    println!(
        "backup policies={expected} seconds={seconds:.1} graph_requests={wire} rss_mib={} items_lost={lost}",
        rss_kib() / 1024,
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("backup") {
        backup_bench(&args[1..]).await;
        return;
    }
    println!("| operation | count | throughput | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    let dir = TempDir::new();
    let store = EmbeddedStore::open(&dir.0.join("bench.db"), Arc::new(SystemClock)).unwrap();
    let t = Table::new(store.table());
    timed("embedded: conditional put (512 B)", 2_000, |i| {
        let t = t.clone();
        async move { t.put(item(i), Some(Cond::NotExists)).await.unwrap() }
    })
    .await;
    timed("embedded: get", 2_000, |i| {
        let t = t.clone();
        async move {
            t.get(&Key::new("WS#bench", format!("ITEM#{i:06}")))
                .await
                .unwrap()
                .unwrap();
        }
    })
    .await;
    timed("embedded: query page of 100", 200, |i| {
        let t = t.clone();
        async move {
            let q = Query::partition("WS#bench")
                .sk(atlas_store::SkCond::Ge(format!("ITEM#{:06}", (i * 7) % 1_900)))
                .limit(100);
            assert_eq!(t.query(&q).await.unwrap().items.len(), 100);
        }
    })
    .await;
    timed("embedded: transaction of 25 puts", 100, |i| {
        let t = t.clone();
        async move {
            let tx = (0..25)
                .map(|j| TxItem::Put {
                    item: item(100_000 + i * 25 + j),
                    cond: Some(Cond::NotExists),
                })
                .collect();
            t.transact(tx).await.unwrap();
        }
    })
    .await;
    let big = json!({"PK": "WS#bench", "SK": "BIG", "payload": "{\"omaSetting\":\"value\"}".repeat(50_000)})
        .as_object()
        .cloned()
        .unwrap();
    timed("embedded: put+get 1.1 MB item (packed)", 20, |_| {
        let (t, big) = (t.clone(), big.clone());
        async move {
            t.put(big, None).await.unwrap();
            t.get(&Key::new("WS#bench", "BIG")).await.unwrap().unwrap();
        }
    })
    .await;

    let (spec, _) = QueueSpec::with_dlq("bench", 5);
    let q = store.queue(&spec).unwrap();
    timed("embedded queue: send batch of 10", 100, |i| {
        let q = q.clone();
        async move {
            let msgs = (0..10)
                .map(|j| OutMessage::new(format!("{{\"n\":{}}}", i * 10 + j)))
                .collect();
            q.send_batch(msgs).await.unwrap();
        }
    })
    .await;
    timed("embedded queue: receive 10 + delete each", 100, |_| {
        let q = q.clone();
        async move {
            let got = q.receive(10, Duration::from_secs(30), Duration::ZERO).await.unwrap();
            for m in got {
                q.delete(&m.receipt).await.unwrap();
            }
        }
    })
    .await;

    let app = spawn_app(Mode::Embedded).await;
    let token = app.token(OWNER);
    let client = reqwest::Client::new();
    timed("http: GET /api/health", 1_000, |_| {
        let (c, url) = (client.clone(), format!("{}/api/health", app.url));
        async move {
            assert_eq!(c.get(url).send().await.unwrap().status(), 200);
        }
    })
    .await;
    timed("http: GET environments (JWT + scope + query)", 1_000, |_| {
        let (c, url, tok) = (
            client.clone(),
            format!("{}/api/v1/workspaces/ws-demo/environments", app.url),
            token.clone(),
        );
        async move {
            assert_eq!(c.get(url).bearer_auth(tok).send().await.unwrap().status(), 200);
        }
    })
    .await;
    timed("http: POST invitation (validate + 7-item transaction)", 300, |i| {
        let (c, url, tok) = (
            client.clone(),
            format!("{}/api/v1/workspaces/ws-demo/invitations", app.url),
            token.clone(),
        );
        async move {
            let body = json!({"email": format!("b{i}@bench.test"), "role": "readonly", "environments": "all"});
            assert_eq!(
                c.post(url).bearer_auth(tok).json(&body).send().await.unwrap().status(),
                201
            );
        }
    })
    .await;
    app.stop().await;
    println!();
    println!("peak RSS of the bench process: {} MiB", rss_kib() / 1024);
}
