//! `cargo xtask bench`: latency and throughput of the embedded store and queue, and of the HTTP
//! API through the whole local stack (token check, scope guard, table reads), on loopback.
//! Prints figures; asserts nothing. Counts are bounded so a run takes seconds.

mod alerts;
mod backup;
mod dashboard;
mod drift;
mod evidence;
mod fleet;
mod lint;
mod promote;
mod reads;
mod restore;

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

/// The store bench's own partition: synthetic rows measured at the store port, below the app's
/// records (no app entity lives here).
const BENCH_PK: &str = "bench";

fn row_sk(i: usize) -> String {
    format!("row-{i:06}")
}

fn item(i: usize) -> atlas_store::Item {
    json!({"PK": BENCH_PK, "SK": row_sk(i), "entity": "bench", "n": i, "payload": "x".repeat(512)})
        .as_object()
        .cloned()
        .unwrap()
}

const USAGE: &str = "usage: atlas-bench [alerts|backup|restore|drift|dashboard|evidence|fleet|lint|promote|reads-during-backup] [options]
  (no command)          store, queue and API latency on loopback
  alerts --events N [--fail PCT]
  backup --policies N [--backend embedded|dynamodb] [--throttle] [--batch-faults PCT] [--latency-ms L] [--graph-url URL ...]
  restore --policies N [--backend embedded|dynamodb] [--throttle] [--write-faults PCT]
  drift --policies N [--changed PCT] [--unchanged-cycles C] [--poll-seconds S]
  dashboard --findings N [--requests R]
  evidence --objects N --days D
  fleet --environments E --policies P --days D [--change-rate PCT] [--latency-ms L]
  lint --policies N
  promote --policies N [--backend embedded|dynamodb] [--throttle]
  reads-during-backup [--policies N] [--rate R] [--backend embedded|dynamodb]
Run through `cargo xtask bench ...`; docs/benchmarks.md has every option and figure.";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return std::process::ExitCode::SUCCESS;
    }
    // The stack's own log (a 500's cause, say) only when asked: it would drown the figures.
    if std::env::var_os("RUST_LOG").is_some() {
        atlas_app::telemetry::init();
    }
    match args.first().map(String::as_str) {
        Some("alerts") => alerts::run(&args[1..]).await,
        Some("backup") => backup::run(&args[1..]).await,
        Some("dashboard") => dashboard::run(&args[1..]).await,
        Some("drift") => drift::run(&args[1..]).await,
        Some("evidence") => evidence::run(&args[1..]).await,
        Some("fleet") => fleet::run(&args[1..]).await,
        Some("lint") => lint::run(&args[1..]).await,
        Some("promote") => promote::run(&args[1..]).await,
        Some("restore") => restore::run(&args[1..]).await,
        Some("reads-during-backup") => reads::run(&args[1..]).await,
        None => micro().await,
        Some(other) => {
            eprintln!("atlas-bench: unknown command `{other}`\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Store, queue and API latency on loopback (the bench with no command).
async fn micro() {
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
            t.get(&Key::new(BENCH_PK, row_sk(i))).await.unwrap().unwrap();
        }
    })
    .await;
    timed("embedded: query page of 100", 200, |i| {
        let t = t.clone();
        async move {
            let q = Query::partition(BENCH_PK)
                .sk(atlas_store::SkCond::Ge(row_sk((i * 7) % 1_900)))
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
    let big = json!({"PK": BENCH_PK, "SK": "big", "payload": "{\"omaSetting\":\"value\"}".repeat(50_000)})
        .as_object()
        .cloned()
        .unwrap();
    timed("embedded: put+get 1.1 MB item (packed)", 20, |_| {
        let (t, big) = (t.clone(), big.clone());
        async move {
            t.put(big, None).await.unwrap();
            t.get(&Key::new(BENCH_PK, "big")).await.unwrap().unwrap();
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
    println!(
        "peak RSS of the bench process: {} MiB",
        backup::peak_rss_kib("self") / 1024
    );
}
