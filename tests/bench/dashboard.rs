//! `atlas-bench dashboard --findings N [--requests R]`
//!
//! The dashboard API (spec 020) over a workspace with N findings written through the detection
//! path (so the counters and day rollups are kept as in production): two environments, one
//! family per day over the last 90 days on a moved clock, and every third day a second pass that
//! resolves half of the day before's. Then R sequential `GET …/dashboard?days=90` requests over
//! loopback, as the owner.
//!
//! The last line is
//! `dashboard findings=N environments=2 days=90 requests=R p50_ms=A p99_ms=B max_ms=C`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::findings::Detection;
use atlas_domain::findings::Severity;
use atlas_store::ManualClock;
use atlas_tests::app::{DEMO_WS, Mode, OWNER, spawn_app};
use atlas_tests::findings::drift_detection;
use serde_json::json;

use crate::backup::flag;

const DAYS: usize = 90;
const ENVS: [&str; 2] = ["env-contoso", "env-fabrikam"];

fn detection(env: &str, family: &str, i: usize) -> Detection {
    drift_detection(env, family, &format!("obj-{i}"), Severity::ALL[i % 4], json!(6))
}

async fn pass(state: &atlas_app::state::AppState, env: &str, family: &str, ds: Vec<Detection>) {
    atlas_tests::findings::detect(state, DEMO_WS, env, family, ds).await;
}

pub async fn run(args: &[String]) {
    let n: usize = flag(args, "--findings").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let requests: usize = flag(args, "--requests").and_then(|v| v.parse().ok()).unwrap_or(300);
    let app = spawn_app(Mode::Embedded).await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc() - time::Duration::days(DAYS as i64 - 1));
    let mut state = app.app().state.clone();
    state.clock = Arc::new(clock.clone());

    let seed = Instant::now();
    let per_day = n.div_ceil(DAYS * ENVS.len());
    let mut made = 0;
    let mut yesterday: Vec<(String, String, Vec<Detection>)> = Vec::new();
    for day in 0..DAYS {
        let mut today = Vec::new();
        for env in ENVS {
            let family = format!("family{day:02}");
            let count = per_day.min(n - made);
            let ds: Vec<Detection> = (made..made + count).map(|i| detection(env, &family, i)).collect();
            made += count;
            pass(&state, env, &family, ds.clone()).await;
            today.push((env.to_owned(), family, ds));
        }
        if day % 3 == 0 {
            for (env, family, ds) in &yesterday {
                pass(&state, env, family, ds[..ds.len() / 2].to_vec()).await;
            }
        }
        yesterday = today;
        clock.advance(Duration::from_secs(86_400));
    }
    eprintln!(
        "seeded {made} findings over {DAYS} days in {:.1} s",
        seed.elapsed().as_secs_f64()
    );

    let path = format!("{}?days=90", paths::dashboard(DEMO_WS));
    let first: api::Dashboard = app.get_as(OWNER, &path).await.json().await.expect("a dashboard");
    let open: i64 = first.environments.iter().map(|e| e.open.total()).sum();
    eprintln!(
        "open findings {open}, trend points {}, attention items {}",
        first.trend.len(),
        first.attention.len()
    );
    let mut took = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let res = app.get_as(OWNER, &path).await;
        assert_eq!(res.status(), 200);
        res.bytes().await.expect("the body");
        took.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    println!(
        "dashboard findings={made} environments={} days={DAYS} requests={requests} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        ENVS.len(),
        at(0.5),
        at(0.99),
        took.last().copied().unwrap_or(0.0)
    );
    app.stop().await;
}
