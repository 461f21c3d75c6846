//! `atlas-bench fleet --environments E --policies P --days D [--change-rate PCT] [--latency-ms L]`
//!
//! What a fleet costs per environment-month (issue 21). E environments of P policies each run D
//! days on a manual clock, in 5-minute ticks: each tick the scheduler runs (4 scheduled backups a
//! day per environment, the change-feed poll every 5 minutes, the nightly full drift sweep it
//! starts, drift detection of what changed) and the stack drains its queues; PCT % of each
//! environment's policies change in the portal per day, spread over the ticks; a workspace
//! evidence pack is built once a week (on day 0). Setup (environments, consent, first backup,
//! baselines) is not counted.
//!
//! Counted: the table's request units (metered by the store, DynamoDB's rules), every step unit as
//! one Lambda invocation with its billed milliseconds at 256 MB, one scheduler invocation per
//! simulated minute, SQS requests as billed, evidence S3 requests, and the table's stored bytes at
//! the end. Priced from docs/cost.md. The last line:
//! `fleet environments=E policies=P days=D wru=W rru=R storage_gb=G lambda_gb_s=L invocations=I
//! sqs_requests=Q s3_requests=S usd_per_environment_month=C`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_graph::families::FAMILIES;
use atlas_graph_sim::{Delay, Faults};
use atlas_store::{Clock, ManualClock};
use atlas_tests::TempDir;
use atlas_tests::app::{TestApp, start_stack_with_clock};
use reqwest::Method;
use serde_json::json;

use crate::backup::{Admin, CLIENT_ID, CLIENT_SECRET, Endpoint, connect_as, flag, sim_families, wait_run};
use crate::drift::{assign_baseline, post};

const WS: &str = "ws-demo";
const TICK: Duration = Duration::from_secs(300);
const DAY: Duration = Duration::from_secs(86_400);

fn tenant(i: usize) -> String {
    format!("f1ee7000-0000-4000-8000-{i:012}")
}

fn slug(i: usize) -> String {
    format!("fleet-{i:04}")
}

/// Prices by key from the table under `## Prices` in docs/cost.md.
fn prices() -> BTreeMap<String, f64> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cost.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            inside = line.trim() == "## Prices";
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if inside
            && cells.len() > 3
            && let Ok(v) = cells[2].parse::<f64>()
        {
            out.insert(cells[1].to_owned(), v);
        }
    }
    out
}

/// Waits until every queue is empty (each message deleted after its unit succeeded), up to
/// `limit`; false if work is still pending then (a delayed message waits for the clock).
async fn drained(app: &TestApp, clock: &ManualClock, limit: Duration) -> bool {
    let state = &app.app().state;
    let names: Vec<&str> = atlas_app::steps::steps().iter().map(|s| s.queue).collect();
    let deadline = Instant::now() + limit;
    // (pending, since): a queue that has not moved for a while holds only delayed messages (a
    // unit re-queued to wait out Graph's `Retry-After`), which the manual clock must reach.
    let mut still = (u64::MAX, Instant::now());
    loop {
        let mut pending = 0;
        let mut waiting = Vec::new();
        for n in &names {
            if let Ok(q) = state.queues.get(n) {
                let depth = q.depth().await.unwrap_or(1);
                if depth > 0 {
                    waiting.push(format!("{n}={depth}"));
                }
                pending += depth;
            }
        }
        if pending == 0 {
            return true;
        }
        if pending != still.0 {
            still = (pending, Instant::now());
        } else if still.1.elapsed() > Duration::from_millis(500) {
            clock.advance(Duration::from_secs(1));
            still.1 = Instant::now();
        }
        if Instant::now() > deadline {
            // Name what is still queued: a stalled tick is a finding, not noise.
            eprintln!("still queued after {} s: {}", limit.as_secs(), waiting.join(", "));
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Objects with a description, per tenant: what the portal edits change.
async fn editable(admin: &Admin, tenant: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in FAMILIES {
        for sf in sim_families(f.code) {
            for o in admin.objects(tenant, sf).await {
                if let (Some(id), Some(_)) = (o["id"].as_str(), o.get("description")) {
                    out.push((sf.to_owned(), id.to_owned()));
                }
            }
        }
    }
    out
}

pub async fn run(args: &[String]) {
    let num = |name: &str, default: f64| flag(args, name).and_then(|v| v.parse::<f64>().ok()).unwrap_or(default);
    let envs = num("--environments", 100.0) as usize;
    let policies = num("--policies", 1000.0) as usize;
    let days = num("--days", 1.0).max(1.0 / 288.0);
    let change_pct = num("--change-rate", 1.0);
    let latency_ms = num("--latency-ms", 20.0) as u64;
    let setup = Instant::now();

    let endpoint = Endpoint::spawn_simulator().await;
    let admin = endpoint.admin.as_ref().expect("the simulator serves /_sim");
    let app_spec = json!({"client_id": CLIENT_ID, "secret": CLIENT_SECRET});
    assert!(
        admin
            .send(Method::POST, "/apps", Some(app_spec))
            .await
            .status()
            .is_success()
    );
    let per_family = policies.div_ceil(FAMILIES.len());
    for i in 0..envs {
        let spec =
            json!({"id": tenant(i), "domains": [format!("fleet{i}.sim.test")], "policies_per_family": per_family});
        let created = admin.send(Method::POST, "/tenants", Some(spec)).await.status();
        assert!(created == 201 || created == 409, "create tenant {i}: {created}");
        let faults = Faults {
            // Graph's round trip: every answer comes L ms late.
            delay: (latency_ms > 0).then_some(Delay {
                ms: latency_ms,
                fraction: 1.0,
                token_endpoint: true,
            }),
            ..Default::default()
        };
        let path = format!("/tenants/{}/faults", tenant(i));
        let put = admin
            .send(Method::PUT, &path, Some(serde_json::to_value(faults).unwrap()))
            .await;
        assert!(put.status().is_success());
    }

    // The clock starts now (sign-in tokens carry the stack's time and are checked against the
    // system's): a simulated day from any hour holds the four 6-hourly backups all the same.
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let dir = TempDir::new();
    let mut config = endpoint.stack_config(atlas_tests::app::Mode::Embedded, &dir);
    config.drift_poll_seconds = TICK.as_secs();
    config.scheduler_every = Duration::from_secs(365 * 86_400);
    config.workspace_quota = config.workspace_quota.max(1);
    let app = start_stack_with_clock(config, dir, Arc::new(clock.clone())).await;

    let families: Vec<&str> = FAMILIES.iter().map(|f| f.code).collect();
    let mut objects = Vec::with_capacity(envs);
    for i in 0..envs {
        connect_as(&app, &slug(i), &tenant(i), &format!("fleet{i}.sim.test")).await;
        let env_path = atlas_api_types::paths::environment(WS, &slug(i));
        let b = post(&app, &format!("{env_path}/backups"), json!({})).await;
        let b = wait_run(&app, b["id"].as_str().unwrap()).await;
        assert_eq!(b.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", b.items);
        let baseline = post(
            &app,
            &atlas_api_types::paths::baselines(WS),
            json!({"name": format!("Gold {i}"), "source_environment_id": slug(i), "families": families}),
        )
        .await;
        let id = baseline["id"].as_str().unwrap().to_owned();
        post(&app, &atlas_api_types::paths::baseline_snapshots(WS, &id), json!({})).await;
        assign_baseline(&app, &slug(i), &id).await;
        post(
            &app,
            &atlas_api_types::paths::backup_schedules(WS, &slug(i)),
            json!({"cron": "0 0,6,12,18 * * *", "time_zone": "UTC", "first_due_ms": clock.now_millis()}),
        )
        .await;
        objects.push(editable(admin, &tenant(i)).await);
    }
    // Whatever setup left queued runs before the day starts.
    drained(&app, &clock, Duration::from_secs(600)).await;
    eprintln!(
        "setup: {envs} environments of {policies} policies in {:.0} s",
        setup.elapsed().as_secs_f64()
    );

    // The measured period starts here.
    let root = app.app().state.table.meter().expect("the process meter");
    let before = root.consumed();
    atlas_app::metering::global().reset();
    atlas_store::capacity::trace::reset();
    let ticks = (days * DAY.as_secs_f64() / TICK.as_secs_f64()).round() as usize;
    let changes_total = (envs as f64 * policies as f64 * change_pct / 100.0 * days).round() as usize;
    let mut changed = 0usize;
    let mut scheduler_ms = 0u64;
    let mut stalled = 0usize;
    let run_start = Instant::now();
    let mut last = before;
    // (write units, tick, seconds the tick's work took on this machine)
    let mut peak = (0u64, 0usize, 0.0f64);
    // A weekly evidence pack for the workspace: the measured days include its first.
    let evidence_start = clock.now_millis();
    for t in 0..ticks {
        if t > 0 {
            clock.advance(TICK);
        }
        // The portal edits of this tick, spread over the environments.
        let due = changes_total * (t + 1) / ticks.max(1);
        while changed < due {
            let i = changed % envs;
            let list = &objects[i];
            if !list.is_empty() {
                let (family, id) = &list[(changed / envs * 7919) % list.len()];
                let path = format!("/tenants/{}/objects/{family}/{id}", tenant(i));
                let res = admin
                    .send_as(
                        Method::PATCH,
                        &path,
                        "fleet.admin@bench.sim.test",
                        json!({"description": format!("edit {changed}")}),
                    )
                    .await;
                assert_eq!(res.status(), 204, "PATCH {path}");
            }
            changed += 1;
        }
        // EventBridge ticks every minute: the four ticks between these ones only find nothing due.
        let tick = Instant::now();
        atlas_store::capacity::trace::within("scheduler", atlas_app::scheduler::tick(&app.app().state))
            .await
            .expect("a scheduler tick");
        scheduler_ms += tick.elapsed().as_millis() as u64 + 1;
        if t == 0 {
            post(
                &app,
                &atlas_api_types::paths::evidence(WS),
                json!({"from": evidence_start - 7 * DAY.as_millis() as i64, "to": evidence_start}),
            )
            .await;
        }
        let tick_start = Instant::now();
        if !drained(&app, &clock, Duration::from_secs(300)).await {
            stalled += 1;
        }
        // The busiest tick: what one 5-minute slot asks of the table (docs/scale.md).
        let so_far = root.consumed();
        let tick_wru = (so_far.write_milli - last.write_milli) / 1000;
        if tick_wru > peak.0 {
            peak = (tick_wru, t, tick_start.elapsed().as_secs_f64());
        }
        last = so_far;
        if t % 24 == 23 {
            eprintln!("tick {}/{ticks}: {:.0} s", t + 1, run_start.elapsed().as_secs_f64());
        }
    }
    let wall = run_start.elapsed().as_secs_f64();
    let used = root.consumed();
    let wru = (used.write_milli - before.write_milli) as f64 / 1000.0;
    let rru = (used.read_milli - before.read_milli) as f64 / 1000.0;
    let m = atlas_app::metering::global();
    // One scheduler invocation a minute (its cost measured per 5-minute tick, counted five times).
    let minutes = (days * 1440.0).round() as u64;
    let scheduler_gb_s = scheduler_ms as f64 / ticks.max(1) as f64 * minutes as f64 / 1000.0 * 0.25;
    let invocations = m.invocations() + minutes;
    let lambda_gb_s = m.gb_seconds() + scheduler_gb_s;
    let sqs = m.sqs_requests();
    let (s3_put, s3_get) = m.s3_requests();

    // Stored bytes: every item and GSI entry by DynamoDB's size rule plus 100 bytes of overhead.
    let items = app.app().state.table.dump().await.expect("dump");
    let mut bytes = 0usize;
    for i in &items {
        let size = atlas_store::capacity::item_size(i) + 100;
        bytes += size;
        if i.contains_key("GSI1PK") && i.contains_key("GSI1SK") {
            bytes += size;
        }
    }
    let storage_gb = bytes as f64 / (1u64 << 30) as f64;

    let p = prices();
    let price = |k: &str| *p.get(k).unwrap_or_else(|| panic!("docs/cost.md has no price {k}"));
    let month = 30.0 / days;
    let per_env = |x: f64| x * month / envs as f64;
    let lines = [
        (
            "dynamodb writes",
            per_env(wru) / 1e6 * price("dynamodb_wru_per_million"),
        ),
        ("dynamodb reads", per_env(rru) / 1e6 * price("dynamodb_rru_per_million")),
        (
            "dynamodb storage",
            storage_gb / envs as f64 * price("dynamodb_storage_gb_month"),
        ),
        (
            "lambda duration",
            per_env(lambda_gb_s) * price("lambda_gb_second_arm64"),
        ),
        (
            "lambda requests",
            per_env(invocations as f64) / 1e6 * price("lambda_requests_per_million"),
        ),
        (
            "sqs requests",
            per_env(sqs as f64) / 1e6 * price("sqs_requests_per_million"),
        ),
        (
            "s3 requests",
            per_env(s3_put as f64) / 1e3 * price("s3_put_per_thousand")
                + per_env(s3_get as f64) / 1e3 * price("s3_get_per_thousand"),
        ),
        (
            "scheduler",
            minutes as f64 * month / 1e6 * price("scheduler_invocations_per_million") / envs as f64,
        ),
    ];
    let total: f64 = lines.iter().map(|(_, c)| c).sum();
    println!("| line item | usd per environment-month | share |");
    println!("|---|---|---|");
    for (name, c) in &lines {
        println!("| {name} | {c:.5} | {:.0} % |", c / total * 100.0);
    }
    let functions = m.functions();
    let mut top: Vec<_> = functions.iter().collect();
    top.sort_by_key(|(_, f)| std::cmp::Reverse(f.billed_ms));
    for (name, f) in top.iter() {
        println!(
            "function {name}: invocations={} billed_s={:.1} wru={:.0} rru={:.0}",
            f.invocations,
            f.billed_ms as f64 / 1000.0,
            f.used.write_units(),
            f.used.read_units()
        );
    }
    // The rest of the table's units: the scheduler ticks (and the stack's own housekeeping).
    let steps = functions
        .values()
        .fold(atlas_store::Consumed::default(), |a, f| a + f.used);
    println!(
        "scheduler ticks ({ticks}) and housekeeping: wru={:.0} rru={:.0} billed_s={:.1}",
        wru - steps.write_units(),
        rru - steps.read_units(),
        scheduler_ms as f64 / 1000.0
    );
    println!(
        "busiest tick: #{} ({} min into the day) wrote {} units; its work took {:.1} s here",
        peak.1,
        peak.1 * 5,
        peak.0,
        peak.2
    );
    println!(
        "simulated {ticks} ticks in {wall:.0} s; {changed} portal edits; {stalled} ticks left work pending past 300 s; {} items stored",
        items.len()
    );
    let trace = atlas_store::capacity::trace::report();
    if !trace.is_empty() {
        println!("request shapes (ATLAS_METER_TRACE): count wru rru shape\n{trace}");
    }
    println!(
        "fleet environments={envs} policies={policies} days={days} wru={wru:.0} rru={rru:.0} storage_gb={storage_gb:.4} lambda_gb_s={lambda_gb_s:.1} invocations={invocations} sqs_requests={sqs} s3_requests={} usd_per_environment_month={total:.4}",
        s3_put + s3_get
    );
    drop(app);
}
