//! `atlas-bench alerts --events N [--fail PCT]`
//!
//! Alert delivery through the local stack (embedded store and queue) to a receiver on loopback
//! that verifies every signature and answers 500 to the first attempt of PCT % of the events
//! (default 10): N `run.failed` events are reported as services report them (committed, then
//! dispatched), each matching one rule with one webhook destination. The receiver counts, per
//! event id, the accepted deliveries: more than one is a duplicate, none by the deadline is lost.
//!
//! The last line is `alerts events=N seconds=S delivered=D duplicates=U lost=L p99_delivery_ms=P`:
//! S from the first report to the last delivery, P the 99th percentile of report → accepted for
//! the events delivered at the first attempt (a retried one waits its backoff by design).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_app::alerts::{NewAlert, dispatch, event_item};
use atlas_domain::alerts::AlertEventType;
use atlas_domain::{EnvironmentId, Severity, WorkspaceId};
use atlas_tests::TempDir;
use atlas_tests::app::{DEMO_WS, Mode, OWNER, start_stack};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::backup::flag;

#[derive(Default)]
struct Seen {
    /// Requests per event id, and how many were accepted.
    requests: HashMap<String, (u32, u32)>,
    accepted_at: HashMap<String, Instant>,
    bad_signatures: u32,
}

fn verify(secret: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    header
        .split(',')
        .any(|v| v.trim().strip_prefix("v1=") == Some(want.as_str()))
}

fn fails_first(event_id: &str, pct: u64) -> bool {
    let h = event_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    h % 100 < pct
}

pub async fn run(args: &[String]) {
    let n: usize = flag(args, "--events").and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let pct: u64 = flag(args, "--fail").and_then(|v| v.parse().ok()).unwrap_or(10);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let secret: Arc<Mutex<String>> = Arc::default();
    let (s2, k2) = (seen.clone(), secret.clone());
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (seen, secret) = (s2.clone(), k2.clone());
            async move {
                let h = |k: &str| atlas_tests::header_text(&headers, k);
                let (id, ts, sig) = (h("atlas-event-id"), h("atlas-timestamp"), h("atlas-signature"));
                let key = secret.lock().unwrap().clone();
                let mut s = seen.lock().unwrap();
                if !verify(&key, &ts, &body, &sig) {
                    s.bad_signatures += 1;
                    return StatusCode::UNAUTHORIZED;
                }
                let e = s.requests.entry(id.clone()).or_default();
                e.0 += 1;
                if e.0 == 1 && fails_first(&id, pct) {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                e.1 += 1;
                s.accepted_at.entry(id).or_insert_with(Instant::now);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, receiver).await;
    });

    let dir = TempDir::new();
    let mut c = atlas_tests::app::config(Mode::Embedded, &dir);
    c.alerts.allow_http_loopback = true;
    c.alerts.retry_base = Duration::from_millis(500);
    let app = start_stack(c, dir).await;
    let res = app
        .post_as(
            OWNER,
            &atlas_api_types::paths::alert_destinations(DEMO_WS),
            json!({"name": "Bench receiver", "kind": "webhook", "url": url}),
        )
        .await;
    assert_eq!(res.status(), 201, "destination");
    let created: serde_json::Value = res.json().await.expect("destination");
    *secret.lock().unwrap() = created["secret"].as_str().expect("secret").to_owned();
    let dest = created["destination"]["id"].as_str().expect("id").to_owned();
    let res = app
        .post_as(
            OWNER,
            &atlas_api_types::paths::alert_rules(DEMO_WS),
            json!({"name": "Bench", "event_types": ["run.failed"], "destinations": [dest]}),
        )
        .await;
    assert_eq!(res.status(), 201, "rule");

    let state = app.app().state.clone();
    let ws = WorkspaceId::parse(DEMO_WS).expect("ws");
    let env = EnvironmentId::parse("env-contoso").expect("env");
    let reported: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let start = Instant::now();
    // Reporters side by side, as steps ending runs are.
    let mut tasks = tokio::task::JoinSet::new();
    let per = n.div_ceil(16);
    for w in 0..16 {
        let (state, ws, env, reported) = (state.clone(), ws.clone(), env.clone(), reported.clone());
        tasks.spawn(async move {
            for i in (w * per)..((w + 1) * per).min(n) {
                let alert = NewAlert {
                    kind: AlertEventType::RunFailed,
                    environment_id: Some(env.clone()),
                    severity: Some(Severity::High),
                    object: format!("run/bench-{i}"),
                    state: "failed".into(),
                    title: format!("Bench run {i} failed"),
                    link: format!("/workspaces/{DEMO_WS}/operations/bench-{i}"),
                    data: json!({"i": i}),
                };
                let item = event_item(&state, &ws, alert);
                let id = match &item {
                    atlas_store::TxItem::Put { item, .. } => item["event_id"].as_str().unwrap_or_default().to_owned(),
                    _ => String::new(),
                };
                state.table.transact(vec![item.clone()]).await.expect("commit");
                reported.lock().unwrap().insert(id, Instant::now());
                dispatch::after_commit(&state, &[item]).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let deadline = Instant::now() + Duration::from_secs(120 + n as u64 / 20);
    loop {
        let done = seen.lock().unwrap().accepted_at.len();
        if done >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = std::mem::take(&mut *seen.lock().unwrap());
    let reported = std::mem::take(&mut *reported.lock().unwrap());
    let last = s.accepted_at.values().max().copied().unwrap_or_else(Instant::now);
    let seconds = last.duration_since(start).as_secs_f64();
    let delivered = s.accepted_at.len();
    let duplicates: u32 = s.requests.values().map(|(_, ok)| ok.saturating_sub(1)).sum();
    let lost = reported.keys().filter(|id| !s.accepted_at.contains_key(*id)).count();
    let mut first_try: Vec<u128> = reported
        .iter()
        .filter(|(id, _)| !fails_first(id, pct))
        .filter_map(|(id, at)| s.accepted_at.get(id).map(|d| d.duration_since(*at).as_millis()))
        .collect();
    first_try.sort_unstable();
    let p99 = first_try
        .get(((first_try.len() as f64 - 1.0) * 0.99).round() as usize)
        .copied()
        .unwrap_or(0);
    let retried = reported.keys().filter(|id| fails_first(id, pct)).count();
    println!(
        "receiver: {} requests, {retried} events failed once on purpose, {} bad signatures",
        s.requests.values().map(|(r, _)| *r).sum::<u32>(),
        s.bad_signatures
    );
    println!(
        "alerts events={n} seconds={seconds:.1} delivered={delivered} duplicates={duplicates} lost={lost} p99_delivery_ms={p99}"
    );
    app.stop().await;
}
