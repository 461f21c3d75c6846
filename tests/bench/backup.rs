//! `atlas-bench backup --policies N [--backend embedded|dynamodb] [--throttle] [--batch-faults PCT]
//! [--latency-ms L] [--graph-url URL [--login-url URL] [--tenant GUID --domain D --client-id ID --client-secret S]]`
//!
//! `--latency-ms L` makes the simulator answer every request L ms late (a `$batch` envelope once,
//! not per item): Graph's round trip, which on loopback is otherwise about zero.
//!
//! A full backup of one tenant through the local stack (embedded store or DynamoDB/SQS on
//! moto_server, queue workers, the real Graph client). By default the bundled simulator runs as its
//! own process (`graph-sim`), so the figures are the product's alone; `--graph-url` points at any
//! Graph-compatible endpoint instead. The last line is
//! `backup policies=N seconds=S graph_requests=R rss_mib=M items_lost=L in_flight_max=X
//! in_flight_mean=Y start_ms=A finish_ms=B`, where R counts the HTTP requests the Graph client sent
//! (a `$batch` is one, retries count), L counts objects missing or captured without their
//! assignments or script content, X and Y are the Graph requests in flight as the simulator saw
//! them (arrival to answer, latency included; mean over the first arrival to the last answer), A is
//! the time from sending `POST …/backups` to the first Graph request's arrival and B from the last
//! Graph answer to the run's end (`ended_ms`). S is from sending the POST to the run's `ended_ms`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_app::records::backups;
use atlas_domain::{EnvironmentId, RunId, WorkspaceId};
use atlas_graph::families::{AssignmentsRead, FAMILIES};
use atlas_graph_sim::{Delay, Faults, RateLimit, ServerErrors, Stats};
use atlas_store::Key;
use atlas_tests::TempDir;
use atlas_tests::app::{GraphTarget, Mode, OWNER, TestApp, config_with_graph, start_stack};
use serde_json::{Value, json};

pub(crate) const BENCH_TENANT: &str = "bbbbbbbb-0000-4000-8000-000000000001";
pub(crate) const BENCH_DOMAIN: &str = "bench.sim.test";
pub(crate) const CLIENT_ID: &str = "7a7a7a7a-1111-4222-8333-944444444444";
pub(crate) const CLIENT_SECRET: &str = "bench-platform-secret-value";

/// Peak resident memory of a process (`self` or a PID), in KiB.
pub fn peak_rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// The simulator's `/_sim` admin API, when the endpoint has one.
pub(crate) struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    async fn probe(graph_url: &str) -> Option<Admin> {
        let http = reqwest::Client::new();
        let base = format!("{}/_sim", graph_url.trim_end_matches('/'));
        let ok = http
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        ok.then_some(Admin { base, http })
    }

    pub(crate) async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("the simulator's admin API answers")
    }

    /// [`Admin::send`] as a named portal user (the audit log's actor).
    pub(crate) async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        actor: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("x-sim-actor", actor)
            .json(&body)
            .send()
            .await
            .expect("the simulator's admin API answers")
    }

    pub(crate) async fn stats(&self, tenant: &str) -> Stats {
        let r = self
            .send(reqwest::Method::GET, &format!("/tenants/{tenant}/stats"), None)
            .await;
        r.json().await.expect("stats")
    }

    /// Sets the tenant's faults and starts its stats afresh; returns the faults' path (DELETE
    /// it to clear them).
    pub(crate) async fn arm(&self, tenant: &str, faults: &atlas_graph_sim::Faults) -> String {
        let path = format!("/tenants/{tenant}/faults");
        let body = serde_json::to_value(faults).expect("faults serialize");
        let put = self.send(reqwest::Method::PUT, &path, Some(body)).await;
        assert!(put.status().is_success(), "set the simulator's faults");
        self.send(reqwest::Method::DELETE, &format!("/tenants/{tenant}/stats"), None)
            .await;
        path
    }

    pub(crate) async fn objects(&self, tenant: &str, family: &str) -> Vec<Value> {
        let r = self
            .send(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/objects/{family}"),
                None,
            )
            .await;
        r.json().await.expect("objects")
    }
}

/// Graph writes the simulator answered (token requests and `$batch` envelopes are not writes).
pub(crate) fn writes(stats: &Stats) -> u64 {
    stats
        .requests
        .iter()
        .filter(|(k, _)| !k.starts_with("GET ") && k.as_str() != "POST $batch")
        .map(|(_, n)| n)
        .sum()
}

/// The Graph endpoint of the run, and the simulator process this bench started, if any.
pub(crate) struct Endpoint {
    pub(crate) graph_url: String,
    pub(crate) login_url: String,
    pub(crate) admin: Option<Admin>,
    child: Option<Child>,
}

impl Endpoint {
    /// Starts `graph-sim` (built next to this binary) on a free loopback port.
    pub(crate) async fn spawn_simulator() -> Endpoint {
        let exe = std::env::current_exe()
            .expect("own path")
            .with_file_name(format!("graph-sim{}", std::env::consts::EXE_SUFFIX));
        assert!(
            exe.exists(),
            "{} is missing: `cargo xtask bench backup` builds it",
            exe.display()
        );
        let port = atlas_tests::moto::free_port();
        let child = Command::new(&exe)
            .args(["--port", &port.to_string(), "--tenants", "0"])
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        atlas_tests::moto::wait_for_port(port, Duration::from_secs(30));
        let url = format!("http://127.0.0.1:{port}");
        Endpoint {
            admin: Some(Admin::probe(&url).await.expect("the simulator serves /_sim")),
            graph_url: url.clone(),
            login_url: url,
            child: Some(child),
        }
    }

    /// Registers the bench's platform app and creates the bench tenant with about `policies`
    /// policies spread over the families (an existing tenant is kept).
    pub(crate) async fn bench_tenant(&self, policies: usize) -> &Admin {
        let admin = self.admin.as_ref().expect("the simulator serves /_sim");
        let app_spec = json!({"client_id": CLIENT_ID, "secret": CLIENT_SECRET});
        assert!(
            admin
                .send(reqwest::Method::POST, "/apps", Some(app_spec))
                .await
                .status()
                .is_success()
        );
        let per_family = policies.div_ceil(atlas_graph::families::FAMILIES.len());
        let spec = json!({"id": BENCH_TENANT, "domains": [BENCH_DOMAIN], "policies_per_family": per_family});
        let created = admin.send(reqwest::Method::POST, "/tenants", Some(spec)).await.status();
        assert!(created == 201 || created == 409, "create the bench tenant: {created}");
        admin
    }

    /// A stack's configuration for `mode` in `dir`, its Graph this endpoint.
    pub(crate) fn stack_config(&self, mode: Mode, dir: &TempDir) -> atlas_app::config::Config {
        let target = atlas_tests::app::GraphTarget {
            graph_base: self.graph_url.clone(),
            login_base: self.login_url.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        };
        atlas_tests::app::config_with_graph(mode, dir, target)
    }

    pub(crate) fn simulator_rss_mib(&self) -> Option<u64> {
        self.child.as_ref().map(|c| peak_rss_kib(&c.id().to_string()) / 1024)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The simulator families holding a catalog family's objects (app protection is a view over two).
pub(crate) fn sim_families(code: &str) -> Vec<&str> {
    match code {
        "managedAppPolicies" => vec!["iosManagedAppProtections", "androidManagedAppProtections"],
        other => vec![other],
    }
}

/// Objects of the set missing, or captured without the simulator's assignments or script content.
async fn lost_objects(app: &TestApp, admin: &Admin, tenant: &str, pk: &str, set: &RunId) -> usize {
    let table = &app.app().state.table;
    let mut lost = 0;
    for f in FAMILIES {
        let items = atlas_app::backup::items_in(table, pk, set, Some(f.code)).await.unwrap();
        let hashes: std::collections::HashMap<String, String> =
            items.into_iter().map(|i| (i.item_id, i.hash)).collect();
        for sf in sim_families(f.code) {
            for want in admin.objects(tenant, sf).await {
                let Some(hash) = want["id"].as_str().and_then(|id| hashes.get(id)) else {
                    lost += 1;
                    continue;
                };
                let blob = table.get(&Key::new(pk, backups::blob_sk(hash))).await.unwrap();
                let got = blob.as_ref().and_then(|b| b.get("payload"));
                let same = |key: &str| want.get(key).is_none_or(|w| got.and_then(|g| g.get(key)) == Some(w));
                let complete = got.is_some()
                    && (f.assignments == AssignmentsRead::None || same("assignments"))
                    && ["scriptContent", "detectionScriptContent", "remediationScriptContent"]
                        .iter()
                        .all(|k| same(k));
                if !complete {
                    lost += 1;
                }
            }
        }
    }
    lost
}

/// Without `/_sim`: objects a fresh listing of each family finds that the set does not hold.
async fn lost_by_listing(app: &TestApp, client: &atlas_graph::TenantClient, pk: &str, set: &RunId) -> usize {
    let table = &app.app().state.table;
    let mut lost = 0;
    for f in FAMILIES {
        let held: std::collections::HashSet<String> = atlas_app::backup::items_in(table, pk, set, Some(f.code))
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.item_id)
            .collect();
        match client.list_all(&f.full_list_query()).await {
            Ok(live) => {
                lost += live
                    .iter()
                    .filter(|o| !o["id"].as_str().is_some_and(|id| held.contains(id)))
                    .count()
            }
            Err(e) => println!("{}: cannot list to compare ({e})", f.code),
        }
    }
    lost
}

pub(crate) fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// `--backend embedded|dynamodb` (embedded by default).
pub(crate) fn backend(args: &[String]) -> Mode {
    match flag(args, "--backend").as_deref() {
        None | Some("embedded") => Mode::Embedded,
        Some("dynamodb") => Mode::Aws,
        Some(other) => panic!("--backend is embedded or dynamodb, not {other}"),
    }
}

pub async fn run(args: &[String]) {
    let policies: usize = flag(args, "--policies").and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let throttle = args.iter().any(|a| a == "--throttle");
    let batch_faults: f64 = flag(args, "--batch-faults").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let latency_ms: u64 = flag(args, "--latency-ms").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mode = backend(args);

    let endpoint = match flag(args, "--graph-url") {
        None => Endpoint::spawn_simulator().await,
        Some(url) => Endpoint {
            login_url: flag(args, "--login-url").unwrap_or_else(|| url.clone()),
            admin: Admin::probe(&url).await,
            graph_url: url,
            child: None,
        },
    };
    let tenant = flag(args, "--tenant").unwrap_or_else(|| BENCH_TENANT.into());
    let domain = flag(args, "--domain").unwrap_or_else(|| BENCH_DOMAIN.into());
    let client_id = flag(args, "--client-id").unwrap_or_else(|| CLIENT_ID.into());
    let client_secret = flag(args, "--client-secret").unwrap_or_else(|| CLIENT_SECRET.into());
    let limit = RateLimit::default();

    // Seed the tenant and its faults where the endpoint is a simulator; otherwise the tenant is
    // whatever it holds, and the app must already be registered there.
    let mut expected = None;
    if let Some(admin) = &endpoint.admin {
        use reqwest::Method;
        let app = json!({"client_id": client_id, "secret": client_secret});
        assert!(admin.send(Method::POST, "/apps", Some(app)).await.status().is_success());
        let per_family = policies.div_ceil(FAMILIES.len());
        let spec = json!({"id": tenant, "domains": [domain], "policies_per_family": per_family});
        let created = admin.send(Method::POST, "/tenants", Some(spec)).await.status();
        assert!(created == 201 || created == 409, "create the bench tenant: {created}");
        let faults = Faults {
            // Intune's published limits, enforced by the simulator.
            rate_limit: throttle.then(|| limit.clone()),
            batch_item_errors: (batch_faults > 0.0).then(|| ServerErrors {
                fraction: batch_faults / 100.0,
                statuses: vec![503, 500, 504],
                ..Default::default()
            }),
            // Graph's round trip: every answer (the token endpoint's too) comes L ms late.
            delay: (latency_ms > 0).then_some(Delay {
                ms: latency_ms,
                fraction: 1.0,
                token_endpoint: true,
            }),
            ..Default::default()
        };
        let faults = serde_json::to_value(faults).expect("faults");
        let path = format!("/tenants/{tenant}/faults");
        assert!(admin.send(Method::PUT, &path, Some(faults)).await.status().is_success());
        let objects = admin.stats(&tenant).await.objects;
        let count = |pick: &dyn Fn(&atlas_graph::families::Family) -> bool| -> usize {
            FAMILIES
                .iter()
                .filter(|f| pick(f))
                .flat_map(|f| sim_families(f.code))
                .map(|sf| objects.get(sf).copied().unwrap_or(0))
                .sum()
        };
        expected = Some((
            count(&|_| true),
            count(&|f| f.refetch_items || f.assignments == AssignmentsRead::Batch),
        ));
    } else {
        assert!(
            !throttle && batch_faults == 0.0 && latency_ms == 0,
            "--throttle, --batch-faults and --latency-ms need the simulator's /_sim API, which {} does not serve",
            endpoint.graph_url
        );
    }

    let dir = TempDir::new();
    let (target_id, target_secret) = (client_id.clone(), client_secret.clone());
    let target = GraphTarget {
        graph_base: endpoint.graph_url.clone(),
        login_base: endpoint.login_url.clone(),
        client_id,
        client_secret,
    };
    let app = start_stack(config_with_graph(mode, &dir, target), dir).await;
    let ws = "/api/v1/workspaces/ws-demo";
    connect(&app, &tenant, &domain).await;

    if let Some(admin) = &endpoint.admin {
        let path = format!("/tenants/{tenant}/stats");
        admin.send(reqwest::Method::DELETE, &path, None).await;
    }
    let graph = app.app().state.graph.clone();
    let lister = graph.tenant(
        &tenant,
        atlas_graph::AppIdentity::with_secret(target_id.clone(), target_secret.clone()),
    );
    let before = graph.counters();
    println!("rss_before_run_mib={}", peak_rss_kib("self") / 1024);
    let t = Instant::now();
    let posted_unix_ms = unix_ms();
    let res = app
        .post_as(OWNER, &format!("{ws}/environments/env-bench/backups"), json!({}))
        .await;
    let run: atlas_api_types::OperationRun = res.json().await.unwrap();
    let view = wait_run(&app, &run.id).await;
    // The run's own end, not when the poll saw it (polls are 100 ms apart).
    let seconds = view.run.ended_ms.map_or(t.elapsed().as_secs_f64(), |end| {
        (end - posted_unix_ms as i64) as f64 / 1000.0
    });
    let rss_mib = peak_rss_kib("self") / 1024;
    let after = graph.counters();
    let sent = after.sent - before.sent;
    let captured: u64 = view
        .items
        .iter()
        .filter_map(|i| i.detail.get("items").and_then(Value::as_u64))
        .sum();
    let pk = &atlas_app::records::keys::env_pk(
        &WorkspaceId::parse("ws-demo").expect("id"),
        &EnvironmentId::parse("env-bench").expect("id"),
    );
    let set = RunId::parse(&run.id).expect("a run id");
    let (stats, lost) = match &endpoint.admin {
        Some(admin) => (
            Some(admin.stats(&tenant).await),
            lost_objects(&app, admin, &tenant, pk, &set).await,
        ),
        None => (None, lost_by_listing(&app, &lister, pk, &set).await),
    };
    app.stop().await;

    let policies = expected.map_or(captured as usize, |(e, _)| e);
    println!(
        "outcome={} families={} failed_units={} captured={captured} of {}",
        view.run.outcome.map(|o| o.as_str()).unwrap_or_default(),
        view.run.total,
        view.run.failed,
        expected.map_or("(unknown: no /_sim)".to_owned(), |(e, b)| format!(
            "{e} ({b} through $batch)"
        )),
    );
    println!(
        "graph client: sent={sent} batch_items={} answered_429={} answered_5xx={} per_policy={:.3}",
        after.batch_items - before.batch_items,
        after.throttled - before.throttled,
        after.server_errors - before.server_errors,
        sent as f64 / policies.max(1) as f64
    );
    if let Some(stats) = &stats {
        print_simulator_figures(stats, &limit, throttle, seconds);
    }
    if let Some(mib) = endpoint.simulator_rss_mib() {
        println!("simulator process (not the product): peak_rss_mib={mib}");
    }
    if endpoint.admin.is_none() {
        println!("items_lost compares the set with a fresh listing (ids only): the endpoint has no /_sim");
    }
    // Concurrency and start-up as the simulator saw them (arrival to answer, latency included).
    let ms = |v: Option<i64>| v.map_or("n/a".to_owned(), |v| v.to_string());
    let (in_flight_max, in_flight_mean, start_ms, finish_ms) = match &stats {
        Some(s) => (
            s.in_flight_max.to_string(),
            s.in_flight_mean().map_or("n/a".to_owned(), |m| format!("{m:.1}")),
            ms(s.first_arrival_unix_ms.map(|a| a as i64 - posted_unix_ms as i64)),
            ms(view.run.ended_ms.zip(s.last_answer_unix_ms).map(|(e, l)| e - l as i64)),
        ),
        None => ("n/a".into(), "n/a".into(), "n/a".into(), "n/a".into()),
    };
    println!(
        "backup policies={policies} seconds={seconds:.2} graph_requests={sent} rss_mib={rss_mib} items_lost={lost} \
         in_flight_max={in_flight_max} in_flight_mean={in_flight_mean} start_ms={start_ms} finish_ms={finish_ms}"
    );
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How long a bench waits for its run before failing rather than hanging (the slowest measured run,
/// 10,000 policies against the throttled simulator, took minutes).
pub(crate) const WAIT_RUN_DEADLINE: Duration = Duration::from_secs(60 * 60);

/// Polls the run until it completes; panics after [`WAIT_RUN_DEADLINE`].
pub(crate) async fn wait_run(app: &TestApp, id: &str) -> atlas_api_types::OperationView {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < WAIT_RUN_DEADLINE,
            "run {id} did not complete within {WAIT_RUN_DEADLINE:?}"
        );
        let res = app
            .get_as(OWNER, &format!("/api/v1/workspaces/ws-demo/operations/{id}"))
            .await;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        // A failed poll is reported and polled again: the readers' errors are the figure's to count.
        match serde_json::from_str::<atlas_api_types::OperationView>(&body) {
            Ok(v) if v.run.state == "completed" => return v,
            Ok(_) => {}
            Err(_) => eprintln!("polling run {id}: {status} {body}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Connects env-bench and verifies the connection, waiting until it is Ready, so the run measures
/// the backup alone.
pub(crate) async fn connect(app: &TestApp, tenant: &str, domain: &str) {
    connect_as(app, "env-bench", tenant, domain).await
}

/// Connects environment `slug` to `tenant` and waits until its connection is verified Ready.
pub(crate) async fn connect_as(app: &TestApp, slug: &str, tenant: &str, domain: &str) {
    let env = app.connect(slug, tenant, domain).await;
    let conn = format!("{env}/provider-connection");
    let verify = app.post_as(OWNER, &format!("{conn}/verify"), json!({})).await;
    assert_eq!(verify.status(), 202, "start verification");
    let start = Instant::now();
    loop {
        let c: atlas_api_types::ProviderConnection = app.get_as(OWNER, &conn).await.json().await.unwrap();
        if c.status == "ready" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the connection is {} ({}), not ready",
            c.status,
            c.status_reason
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_simulator_figures(stats: &Stats, limit: &RateLimit, throttle: bool, seconds: f64) {
    let wire = stats.graph_requests - stats.batch_items;
    // The limiter counts every request and batch item, not the `$batch` envelope.
    let counted = stats.graph_requests - stats.batch_requests;
    println!(
        "simulator saw: http_requests={wire} batch_calls={} batch_items={} counted_by_throttle={counted} answered_429={} answered_5xx={}",
        stats.batch_requests, stats.batch_items, stats.throttled, stats.server_errors,
    );
    // Intune's ceiling is per service (the client's own budgets keep to each too). With the first
    // window free, R counted requests at a service allowing L cannot all be admitted before
    // floor((R-1)/L) windows have passed; the largest such bound over the services, over the time
    // that service's last request actually arrived, is the fraction of the ceiling the request
    // stream achieved (storing the last objects afterwards is not throttled).
    let window = limit.window_ms / 1000;
    let per_second: Vec<u64> = (0..=seconds as u64)
        .map(|s| stats.admitted_per_second.get(&s).copied().unwrap_or(0))
        .collect();
    // (name, lower bound, last arrival, share of one window used): the binding service is the
    // one with the largest bound, then the fullest.
    let mut binding: Option<(&str, f64, f64, f64)> = None;
    let mut fullest = 0.0f64;
    let mut services = Vec::new();
    for (name, s) in &stats.admitted_by_service {
        let allowance = u64::from(limit.max_requests) * u64::from(s.scale.max(1));
        let secs: Vec<u64> = (0..=seconds as u64)
            .map(|i| s.per_second.get(&i).copied().unwrap_or(0))
            .collect();
        let full = secs
            .windows(window as usize)
            .map(|w| w.iter().sum::<u64>())
            .max()
            .unwrap_or_else(|| secs.iter().sum());
        fullest = fullest.max(full as f64 / allowance as f64);
        let min = (s.total.saturating_sub(1) / allowance * window) as f64;
        let share = s.total as f64 / allowance as f64;
        if binding.is_none_or(|(_, m, _, sh)| (min, share) > (m, sh)) {
            binding = Some((name, min, s.last_ms as f64 / 1000.0, share));
        }
        services.push(format!("{name}={}/{allowance}", s.total));
    }
    let (bound_by, min_seconds, requests_seconds, _) = binding.unwrap_or(("none", 0.0, 0.0, 0.0));
    let fraction = if min_seconds > 0.0 {
        format!("{:.0}%", 100.0 * min_seconds / requests_seconds.max(min_seconds))
    } else {
        "n/a (no service had more requests than one window allows)".to_owned()
    };
    println!(
        "counted per service (admitted/allowance per {window}s): {}",
        services.join(" ")
    );
    println!(
        "throttle: enforced_by_simulator={} counted={counted} min_seconds={min_seconds:.0} bound_by=\"{bound_by}\" \
         last_request_at={requests_seconds:.1}s fullest_window={:.0}% ceiling_fraction={fraction}",
        if throttle { "yes" } else { "no" },
        100.0 * fullest,
    );
    println!("admitted_per_second={per_second:?}");
}
