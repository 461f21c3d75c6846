//! `spawn_app`: the whole local stack on port 0 with a fresh store, driven over HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_api_types::paths;
use atlas_app::config::{Config, Storage};
use atlas_app::local::{self, LocalApp};

use crate::{TempDir, moto, unique};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Embedded,
    /// DynamoDB and SQS through the protocol server.
    Aws,
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub config: Config,
    app: Option<LocalApp>,
}

/// Where the stack's Graph client goes, and as which platform app.
pub struct GraphTarget {
    pub graph_base: String,
    pub login_base: String,
    pub client_id: String,
    pub client_secret: String,
}

pub fn config(mode: Mode, dir: &TempDir) -> Config {
    // Graph is the shared simulator; the platform app is registered there.
    let sim = crate::sim::shared();
    config_with_graph(
        mode,
        dir,
        GraphTarget {
            graph_base: sim.base_url.clone(),
            login_base: sim.base_url.clone(),
            client_id: crate::sim::CLIENT_ID.into(),
            client_secret: crate::sim::CLIENT_SECRET.into(),
        },
    )
}

/// [`config`] against any Graph endpoint (the benchmark's out-of-process simulator).
pub fn config_with_graph(mode: Mode, dir: &TempDir, graph: GraphTarget) -> Config {
    let mut c = Config::embedded(dir.0.join("data"));
    if mode == Mode::Aws {
        c.storage = Storage::Aws {
            table: unique("app"),
            endpoint: Some(moto::endpoint()),
            queue_urls: Default::default(),
            dlq_urls: Default::default(),
        };
        // In the test's own directory, removed with it (not one more file left in the system temp).
        c.key_file = Some(dir.0.join("master.key"));
    }
    c.web_dir = dir.0.join("web");
    c.provider.graph_base = graph.graph_base;
    c.provider.login_base = graph.login_base;
    c.provider.platform_app = Some((graph.client_id, graph.client_secret));
    // Tests tick the scheduler themselves.
    c.scheduler_every = Duration::from_secs(3_600);
    // The suite runs four stacks beside two moto servers on two cores: lowered workers would
    // wait behind moto and the other tests' clients. The read bench measures the default.
    c.worker_nice = 0;
    c
}

pub async fn spawn_app(mode: Mode) -> TestApp {
    let dir = TempDir::new();
    let c = config(mode, &dir);
    spawn_with(c, dir).await
}

/// Every log line written by this test process so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&atlas_app::telemetry::init_capturing().lock().expect("log buffer")).into_owned()
}

/// The last `n` WARN and ERROR lines of the process's log, for a timeout's message.
pub fn recent_warnings(n: usize) -> String {
    let all = logs();
    let bad: Vec<&str> = all
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    bad[bad.len().saturating_sub(n)..].join("\n")
}

pub async fn spawn_with(config: Config, dir: TempDir) -> TestApp {
    atlas_app::telemetry::init_capturing();
    start_stack(config, dir).await
}

/// [`spawn_with`] without the in-memory log capture (the benchmark measures memory).
pub async fn start_stack(config: Config, dir: TempDir) -> TestApp {
    start_stack_with_clock(config, dir, Arc::new(atlas_store::SystemClock)).await
}

/// [`start_stack`] on a given clock (the fleet bench's manual one).
pub async fn start_stack_with_clock(config: Config, dir: TempDir, clock: Arc<dyn atlas_store::Clock>) -> TestApp {
    let app = local::start_with_clock(config.clone(), clock)
        .await
        .expect("the local stack starts");
    TestApp {
        url: app.url(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        dir,
        config,
        app: Some(app),
    }
}

impl TestApp {
    pub fn app(&self) -> &LocalApp {
        self.app.as_ref().expect("running")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request")
    }

    pub fn web_dir(&self) -> PathBuf {
        self.config.web_dir.clone()
    }

    /// Stops gracefully and hands back the directory, so a restart can reuse the data.
    pub async fn stop(mut self) -> (Config, TempDir) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        (self.config, self.dir)
    }
}

/// Polls `check` until it returns `Some`, or panics at the deadline with `what`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() >= deadline {
            panic!(
                "timed out after {deadline:?} waiting for {what}; the process's last warnings:\n{}",
                recent_warnings(40)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestApp {
    /// A bearer token for a demo user, from the stack's own issuer.
    pub fn token(&self, email: &str) -> String {
        let issuer = self.app().state.issuer.as_ref().expect("local mode has an issuer");
        let user = atlas_app::identity::DEMO_USERS
            .iter()
            .find(|u| u.email == email)
            .expect("a demo user");
        issuer.issue(user, Duration::from_secs(600))
    }

    /// A request, signed in as `as_user` when given.
    pub fn req(&self, method: reqwest::Method, path: &str, as_user: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.url));
        match as_user {
            Some(email) => r.bearer_auth(self.token(email)),
            None => r,
        }
    }

    pub async fn get_as(&self, email: &str, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path, Some(email))
            .send()
            .await
            .expect("request")
    }

    pub async fn post_as(&self, email: &str, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, path, Some(email))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch_as(&self, email: &str, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.req(reqwest::Method::PATCH, path, Some(email))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete_as(&self, email: &str, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::DELETE, path, Some(email))
            .send()
            .await
            .expect("request")
    }

    /// Every item of the table, to prove a refused request changed nothing.
    pub async fn snapshot(&self) -> Vec<atlas_store::Item> {
        self.app().state.table.dump().await.expect("dump")
    }
}

/// The seeded demo workspace.
pub const DEMO_WS: &str = "ws-demo";

/// The partition of a demo workspace environment, from the records layer's key function.
/// The demo workspace's partition key.
pub fn demo_ws_pk() -> String {
    atlas_app::records::keys::ws_pk(&atlas_domain::WorkspaceId::parse(DEMO_WS).expect("the demo workspace id"))
}

pub fn demo_env_pk(env: &str) -> String {
    atlas_app::records::keys::env_pk(
        &atlas_domain::WorkspaceId::parse(DEMO_WS).expect("the demo workspace id"),
        &atlas_domain::EnvironmentId::parse(env).expect("an environment id"),
    )
}
pub const OWNER: &str = "owner@demo.test";
pub const MANAGER: &str = "manager@demo.test";
pub const OPERATOR: &str = "operator@demo.test";
pub const READONLY: &str = "readonly@demo.test";
pub const OUTSIDER: &str = "outsider@other.test";
/// Local mode's platform operator (no workspace's member): the system console's only user.
pub const PLATFORM: &str = "platform@demo.test";

impl TestApp {
    /// A new environment on a fresh simulator tenant, connected through the platform app with
    /// admin consent granted in the simulator. Returns the tenant id and the environment's path.
    pub async fn connected_env(&self, slug: &str) -> (String, String) {
        self.connected_env_with(slug, None).await
    }

    /// [`Self::connected_env`] on a tenant with `policies_per_family` objects in each family.
    pub async fn connected_env_with(&self, slug: &str, policies_per_family: Option<usize>) -> (String, String) {
        let (tenant, domain) = crate::sim::new_tenant_with(policies_per_family);
        let env = self.connect(slug, &tenant, &domain).await;
        (tenant, env)
    }

    /// Creates environment `slug` for `tenant` and connects the platform app: the tenant's Global
    /// Administrator signs in on the simulator's page (consenting), and the callback proves it.
    /// Returns its path.
    pub async fn connect(&self, slug: &str, tenant: &str, domain: &str) -> String {
        let ws = DEMO_WS;
        let env =
            serde_json::json!({"slug": slug, "display_name": slug, "tenant_id": tenant, "primary_domain": domain});
        assert_eq!(self.post_as(OWNER, &paths::environments(ws), env).await.status(), 201);
        let conn = paths::provider_connection(ws, slug);
        assert_eq!(
            self.post_as(OWNER, &conn, serde_json::json!({"tenant": tenant}))
                .await
                .status(),
            201
        );
        let start: serde_json::Value = self
            .post_as(OWNER, &paths::provider_consent(ws, slug), serde_json::json!({}))
            .await
            .json()
            .await
            .expect("consent");
        let url = start["consent_url"].as_str().expect("consent url");
        let back = self.sign_in(url, "global-admin").await;
        let res = self.client.get(&back).send().await.expect("callback");
        assert_eq!(res.status(), 303);
        let to = res.headers()["location"].to_str().expect("location");
        assert!(to.ends_with("consent=granted"), "{to}");
        paths::environment(ws, slug)
    }

    /// A user of the simulated tenant picks their account on the sign-in page that `consent_url`
    /// opens (the form's `user` button), as a browser would. Returns where Entra sends the browser
    /// back (the callback with `code` and `state`, or an error redirect).
    pub async fn sign_in(&self, consent_url: &str, user: &str) -> String {
        let url = reqwest::Url::parse(consent_url).expect("consent url");
        let page = self.client.get(url.clone()).send().await.expect("sign-in page");
        assert_eq!(page.status(), 200, "the sign-in page");
        let html = page.text().await.expect("page");
        assert!(
            html.contains(&format!("data-testid=\"sign-in-{user}\"")),
            "no button for {user}"
        );
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("user".into(), user.into()));
        let mut action = url.clone();
        action.set_query(None);
        let res = self.client.post(action).form(&form).send().await.expect("sign in");
        assert_eq!(res.status(), 302, "sign-in answered {}", res.status());
        res.headers()["location"].to_str().expect("location").to_owned()
    }

    /// A provider connection created through the API, marked consented with a seeded proof of
    /// tenant administration (for tests of what follows consent on tenants the simulator lacks).
    pub async fn seed_consent(&self, ws: &str, env: &str) {
        atlas_app::local::seed_proven_consent(&self.app().state, ws, env)
            .await
            .expect("seeded consent");
    }

    /// How long a test waits for a run: moto, one Python process shared by the tests running at
    /// once, answers the DynamoDB backend's requests tens of times slower than the embedded store.
    pub fn run_deadline(&self) -> Duration {
        match self.config.storage {
            atlas_app::config::Storage::Aws { .. } => Duration::from_secs(300),
            _ => Duration::from_secs(120),
        }
    }

    /// A run's page as its workspace's owner reads it.
    pub async fn operation(&self, run_id: &str) -> atlas_api_types::OperationView {
        let res = self.get_as(OWNER, &paths::operation(DEMO_WS, run_id)).await;
        assert_eq!(res.status(), 200, "run {run_id}");
        res.json().await.expect("a run view")
    }

    /// Starts a run with `POST path` and waits until it completes.
    pub async fn run_to_completion(&self, path: &str, body: serde_json::Value) -> atlas_api_types::OperationView {
        let res = self.post_as(OWNER, path, body).await;
        assert_eq!(res.status(), 202, "{path}");
        let run: atlas_api_types::OperationRun = res.json().await.expect("run");
        let view = paths::operation(DEMO_WS, &run.id);
        eventually("the run to complete", self.run_deadline(), || async {
            let v: atlas_api_types::OperationView = self.get_as(OWNER, &view).await.json().await.ok()?;
            (v.run.state.as_str() == "completed").then_some(v)
        })
        .await
    }
}

impl TestApp {
    /// Delivers every message waiting on a step's queue once, by hand (for stacks started with
    /// `run_workers = false`). Returns how many were delivered.
    pub async fn deliver(&self, queue: &str) -> usize {
        self.deliver_each(queue, 1).await
    }

    /// Like [`TestApp::deliver`], but hands every message to its step `times` times before
    /// deleting it: duplicate delivery, as SQS may do.
    /// Takes the messages of `queue` off it until they carry at least `units` units, and returns
    /// one message body per unit (a backup's message carries several families, ADR 0051; each
    /// unit alone is a message the step takes as well).
    pub async fn take_units(&self, queue: &str, units: usize) -> Vec<(String, String)> {
        let q = self.app().state.queues.get(queue).expect("queue").clone();
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while out.len() < units {
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {units} units queued",
                out.len()
            );
            for m in q
                .receive(10, Duration::from_secs(60), Duration::ZERO)
                .await
                .expect("receive")
            {
                let msg: atlas_app::runs::WorkMessage = serde_json::from_str(&m.body).expect("a unit message");
                for (n, unit) in msg.units().into_iter().enumerate() {
                    out.push((format!("{}-{n}", m.id), serde_json::to_string(&unit).expect("json")));
                }
                q.delete(&m.receipt).await.expect("delete");
            }
        }
        out
    }

    pub async fn deliver_each(&self, queue: &str, times: usize) -> usize {
        self.deliver_with(&self.app().state, queue, times).await
    }

    /// [`TestApp::deliver_each`] with the steps running on `state` (a later clock, a wrapped
    /// table).
    pub async fn deliver_with(&self, state: &atlas_app::state::AppState, queue: &str, times: usize) -> usize {
        let q = state.queues.get(queue).expect("queue").clone();
        let step = atlas_app::steps::steps()
            .iter()
            .find(|s| s.queue == queue)
            .copied()
            .expect("step");
        let mut n = 0;
        loop {
            let got = q
                .receive(10, Duration::from_secs(30), Duration::ZERO)
                .await
                .expect("receive");
            if got.is_empty() {
                return n;
            }
            for m in got {
                for _ in 0..times {
                    let failed =
                        atlas_app::steps::handle_batch(state, &step, vec![(m.id.clone(), m.body.clone())]).await;
                    assert!(failed.is_empty(), "the step failed");
                }
                q.delete(&m.receipt).await.expect("delete");
                n += 1;
            }
        }
    }
}

/// A stack whose step workers do not run: tests deliver the queued work by hand.
pub async fn spawn_without_workers(mode: Mode) -> TestApp {
    let dir = TempDir::new();
    let mut c = config(mode, &dir);
    c.run_workers = false;
    spawn_with(c, dir).await
}

/// The ids an alerts route acts on (spec 016).
pub struct AlertWorld {
    pub destination: String,
    pub rule: String,
    /// A suppressed delivery (its rule is snoozed): final, so redeliver may act on it, and
    /// nothing sends in the background meanwhile.
    pub delivery: String,
}

impl TestApp {
    /// A webhook destination, a snoozed rule for `run.failed` and one suppressed delivery of a
    /// reported event.
    pub async fn alert_world(&self) -> AlertWorld {
        let res = self
            .post_as(
                OWNER,
                &paths::alert_destinations(DEMO_WS),
                serde_json::json!({"name": "Fixture hook", "kind": "webhook", "url": "https://hooks.example.com/atlas"}),
            )
            .await;
        assert_eq!(res.status(), 201, "fixture destination");
        let dest: serde_json::Value = res.json().await.expect("destination");
        let destination = dest["destination"]["id"].as_str().expect("id").to_owned();
        let res = self
            .post_as(
                OWNER,
                &paths::alert_rules(DEMO_WS),
                serde_json::json!({"name": "Fixture rule", "event_types": ["run.failed"], "destinations": [destination]}),
            )
            .await;
        assert_eq!(res.status(), 201, "fixture rule");
        let rule: serde_json::Value = res.json().await.expect("rule");
        let rule = rule["id"].as_str().expect("id").to_owned();
        let res = self
            .req(
                reqwest::Method::PUT,
                &paths::alert_rule_snooze(DEMO_WS, &rule),
                Some(OWNER),
            )
            .json(&serde_json::json!({"reason": "Fixture", "hours": 24}))
            .send()
            .await
            .expect("snooze");
        assert_eq!(res.status(), 200, "fixture snooze");
        let state = &self.app().state;
        let ws = atlas_domain::WorkspaceId::parse(DEMO_WS).expect("ws");
        let alert = atlas_app::alerts::NewAlert {
            kind: atlas_domain::alerts::AlertEventType::RunFailed,
            environment_id: Some(atlas_domain::EnvironmentId::parse("env-contoso").expect("env")),
            severity: Some(atlas_domain::Severity::High),
            object: "run/fixture".into(),
            state: "failed".into(),
            title: "Fixture run failed".into(),
            link: format!("/workspaces/{DEMO_WS}/operations/fixture"),
            data: serde_json::json!({}),
        };
        let item = atlas_app::alerts::event_item(state, &ws, alert);
        state.table.transact(vec![item.clone()]).await.expect("event");
        atlas_app::alerts::dispatch::after_commit(state, &[item]).await;
        let page: serde_json::Value = self
            .get_as(OWNER, &paths::alert_deliveries(DEMO_WS))
            .await
            .json()
            .await
            .expect("deliveries");
        let delivery = page["items"][0]["id"].as_str().expect("a delivery").to_owned();
        AlertWorld {
            destination,
            rule,
            delivery,
        }
    }
}
