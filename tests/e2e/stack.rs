//! What each browser test runs against: `atlas-local` (API, web app, workers, local OIDC issuer
//! and the Graph simulator) on free loopback ports with a fresh data directory, and chromedriver
//! driving headless Chromium. Both are child processes stopped by PID when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use atlas_tests::TempDir;
use atlas_tests::moto::free_port;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long a page may take to show what a test waits for. Generous: on a loaded two-core CI
/// machine the suite runs 2.5 times slower than alone, and a deadline only costs time on failure.
pub const DEADLINE: Duration = Duration::from_secs(60);

struct Process {
    name: &'static str,
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {} (pid {})", self.name, self.child.id());
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Polls with a deadline: the integration suite's helper, under the name the browser tests use.
pub use atlas_tests::app::eventually as poll;

pub struct Stack {
    pub url: String,
    /// The Graph simulator atlas-local runs (its admin API is under `/_sim`).
    pub sim: String,
    /// Where the browser saves downloads.
    pub downloads: PathBuf,
    pub browser: Client,
    /// chromedriver's address, for its Chromium-only commands (network conditions).
    driver_url: String,
    name: String,
    _driver: Process,
    _app: Process,
    _dir: TempDir,
}

impl Stack {
    /// Starts the app and a browser session; `name` names the test's screenshots.
    pub async fn start(name: &str) -> Stack {
        Self::start_with(name, &[]).await
    }

    /// [`Stack::start`] with more of atlas-local's environment (an SMTP relay, …).
    pub async fn start_with(name: &str, env: &[(&str, String)]) -> Stack {
        let dir = TempDir::new();
        let web = std::env::var_os("ATLAS_WEB_DIR").map_or_else(|| root().join("web/dist"), PathBuf::from);
        assert!(
            web.join("index.html").is_file(),
            "{} has no built web app: run `cargo xtask web` (cargo xtask test does)",
            web.display()
        );
        let bin =
            std::env::var_os("ATLAS_LOCAL_BIN").map_or_else(|| target_dir().join("debug/atlas-local"), PathBuf::from);
        assert!(
            bin.is_file(),
            "{} is missing: `cargo build -p atlas-local` first",
            bin.display()
        );
        // A port found free may be taken by another test's process before atlas-local binds it:
        // atlas-local then exits at once ("Address already in use"), and the stack starts again
        // on other ports.
        let mut attempt = 0;
        let (app, url, sim_port) = loop {
            attempt += 1;
            let (port, sim_port) = (free_port(), free_port());
            let child = Command::new(&bin)
                .env("ATLAS_HOST", "127.0.0.1")
                .env("ATLAS_PORT", port.to_string())
                .env("ATLAS_SIM_PORT", sim_port.to_string())
                .env("ATLAS_DATA_DIR", dir.0.join("data"))
                .env("ATLAS_WEB_DIR", &web)
                .env("RUST_LOG", "warn")
                // Two headless browsers driven flat out share the two cores with this stack; lowered
                // workers would wait behind them (an operator's browser is mostly idle).
                .env("ATLAS_WORKER_NICE", "0")
                // The change feed polls every 10 s on a 1 s scheduler tick: a drift test waits seconds.
                .env("ATLAS_DRIFT_POLL_SECONDS", "10")
                .env("ATLAS_SCHEDULER_SECS", "1")
                // The alerts test's receiver listens on loopback over plain http.
                .env("ATLAS_ALERT_ALLOW_HTTP_LOOPBACK", "1")
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
            let mut app = Process {
                name: "atlas-local",
                child,
            };
            let url = format!("http://127.0.0.1:{port}");
            let http = reqwest::Client::new();
            let started = std::time::Instant::now();
            let up = loop {
                let health = http.get(format!("{url}/api/health")).send().await;
                if health.is_ok_and(|r| r.status().is_success()) {
                    break true;
                }
                if matches!(app.child.try_wait(), Ok(Some(_))) {
                    break false;
                }
                assert!(
                    started.elapsed() < DEADLINE,
                    "timed out after {DEADLINE:?} waiting for atlas-local to answer /api/health"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            if up {
                break (app, url, sim_port);
            }
            assert!(
                attempt < 3,
                "atlas-local exited at start {attempt} times (its stderr says why)"
            );
        };
        let http = reqwest::Client::new();

        let driver_port = free_port();
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{chromedriver}: {e} (install the chromium-driver package)"));
        let driver = Process {
            name: "chromedriver",
            child: driver,
        };
        let driver_url = format!("http://127.0.0.1:{driver_port}");
        poll("chromedriver to be ready", DEADLINE, || {
            let req = http.get(format!("{driver_url}/status")).send();
            async move {
                let body: Value = req.await.ok()?.json().await.ok()?;
                (body["value"]["ready"] == true).then_some(())
            }
        })
        .await;

        let mut args = vec![
            "--headless=new",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,900",
        ];
        // Root (CI containers) cannot use Chromium's sandbox.
        if unsafe { libc::geteuid() } == 0 {
            args.push("--no-sandbox");
        }
        let downloads = dir.0.join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads dir");
        let mut options = json!({
            "args": args,
            "prefs": { "download.default_directory": downloads, "download.prompt_for_download": false },
        });
        if let Some(binary) = chromium_binary() {
            options["binary"] = json!(binary);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a Chromium session through chromedriver");
        let sim = format!("http://127.0.0.1:{sim_port}");
        Stack {
            url,
            sim,
            browser,
            downloads,
            driver_url,
            name: name.to_owned(),
            _driver: driver,
            _app: app,
            _dir: dir,
        }
    }

    pub async fn goto(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.url))
            .await
            .expect("navigate");
    }

    /// Emulates a slow link for this tab (Chromium's DevTools throttling through chromedriver's
    /// `network_conditions` command): `rtt_ms` added to every request, `kbit_s` each way.
    pub async fn throttle(&self, rtt_ms: u32, kbit_s: u32) {
        let bytes_s = kbit_s * 1000 / 8;
        let body = json!({"network_conditions": {
            "latency": rtt_ms, "download_throughput": bytes_s, "upload_throughput": bytes_s, "offline": false,
        }});
        let url = self.network_conditions_url().await;
        self.network_conditions(reqwest::Client::new().post(url).json(&body))
            .await;
    }

    /// Ends [`Stack::throttle`].
    pub async fn unthrottle(&self) {
        let url = self.network_conditions_url().await;
        self.network_conditions(reqwest::Client::new().delete(url)).await;
    }

    async fn network_conditions(&self, req: reqwest::RequestBuilder) {
        let res = req.send().await.expect("network_conditions");
        assert!(
            res.status().is_success(),
            "network_conditions answered {}",
            res.status()
        );
    }

    async fn network_conditions_url(&self) -> String {
        let session = self.browser.session_id().await.expect("session id").expect("a session");
        format!("{}/session/{session}/chromium/network_conditions", self.driver_url)
    }

    /// When the page first painted content (text or an image), in ms since navigation started:
    /// the Paint Timing entry, once the browser has recorded it.
    pub async fn first_contentful_paint_ms(&self) -> f64 {
        poll("the first contentful paint", DEADLINE, || async {
            let v = self
                .browser
                .execute(
                    "const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null;",
                    vec![],
                )
                .await
                .ok()?;
            v.as_f64()
        })
        .await
    }

    /// Opens `path` as a fresh page load, waits for `ready` and for the requests to settle, then
    /// asserts no URL was fetched twice (Resource Timing lists every request since the load:
    /// static files and API calls alike). Answers the URLs, for the caller's own checks.
    pub async fn assert_no_request_twice(&self, path: &str, ready: &str) -> Vec<String> {
        self.goto(path).await;
        self.find(ready).await;
        let read = || async {
            let v = self
                .browser
                .execute(
                    "return performance.getEntriesByType('resource').map(e => e.name);",
                    vec![],
                )
                .await
                .expect("resource timing");
            serde_json::from_value::<Vec<String>>(v).expect("a list of URLs")
        };
        // Settled: the same list twice, 300 ms apart (a request started by a late render shows
        // up within that), up to the deadline.
        let started = std::time::Instant::now();
        let mut urls = read().await;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = read().await;
            if now == urls {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the requests of {path} never settled: {now:#?}"
            );
            urls = now;
        }
        let mut seen = std::collections::BTreeSet::new();
        let twice: Vec<&String> = urls.iter().filter(|u| !seen.insert(u.as_str())).collect();
        assert!(
            twice.is_empty(),
            "{path} fetched {twice:?} more than once; every request: {urls:#?}"
        );
        urls
    }

    /// Waits until the page has loaded what it asks for: nothing says "Loading…", a lazily loaded
    /// page's bundle has mounted, and the requests are the same twice, 300 ms apart. Answers every
    /// request since the page load with its HTTP status (Resource Timing's `responseStatus`).
    pub async fn settled_requests(&self) -> Vec<(String, u16)> {
        let read = || async {
            let v = self
                .browser
                .execute(
                    r#"
                    const busy = document.querySelector('.loading')
                        || [...document.querySelectorAll('[data-testid=more-root]')].some(e => !e.firstElementChild)
                        || !document.querySelector('main h1, main [data-testid=not-found]');
                    return busy ? null : performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus]);
                    "#,
                    vec![],
                )
                .await
                .expect("resource timing");
            serde_json::from_value::<Option<Vec<(String, u16)>>>(v).expect("a list of requests")
        };
        // Polled with a deadline: settled once two reads 300 ms apart agree.
        let started = std::time::Instant::now();
        let mut last = read().await;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = read().await;
            if let (Some(now), true) = (&now, now == last) {
                return now.clone();
            }
            let path = self.current_path().await;
            assert!(started.elapsed() < DEADLINE, "{path} never settled: {now:#?}");
            last = now;
        }
    }

    /// Every raw internal code in the page's visible text (issue 19 item 5: operators read
    /// words, the codes stay in `data-` attributes).
    pub async fn raw_codes_on_screen(&self) -> Vec<&'static str> {
        const RAW: &[&str] = &[
            "partially_succeeded",
            "needs_attention",
            "not_configured",
            "consent_pending",
            "consent_failed",
            "in_progress",
            "risk_accepted",
            "false_positive",
            "undefined",
        ];
        let text = self
            .browser
            .execute("return document.body.innerText;", vec![])
            .await
            .expect("the page's text");
        let text = text.as_str().unwrap_or_default().to_owned();
        RAW.iter().copied().filter(|code| text.contains(code)).collect()
    }

    /// Sets the simulated tenant's faults (the simulator's `/_sim` admin API).
    pub async fn set_faults(&self, tenant: &str, faults: Value) {
        let res = reqwest::Client::new()
            .put(format!("{}/_sim/tenants/{tenant}/faults", self.sim))
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert!(res.status().is_success(), "faults answered {}", res.status());
    }

    /// Signs in through the app's button and the local issuer's user picker.
    pub async fn sign_in(&self, email: &str) {
        self.goto("/workspaces").await;
        self.click("[data-testid=sign-in]").await;
        self.click(&format!("button[value=\"{email}\"]")).await;
        self.wait_text("[data-testid=signed-in-as]", email).await;
    }

    /// Signs out with the header's button and waits for the sign-in page.
    pub async fn sign_out(&self) {
        self.click("button#sign-out").await;
        self.find("[data-testid=sign-in]").await;
    }

    /// The path the browser is on now.
    pub async fn current_path(&self) -> String {
        let url = self.browser.current_url().await.expect("the current URL");
        url.path().to_owned()
    }

    /// The element, once it is on the page.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.browser
            .wait()
            .at_most(DEADLINE)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within {DEADLINE:?}: {e}"))
    }

    /// Clicks the element once it is on the page. A render may replace it between finding and
    /// clicking (a stale element), so the pair is retried until the deadline.
    pub async fn click(&self, css: &str) {
        let mut last = String::new();
        let clicked = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.find(css).await.click().await {
                    Ok(_) => return,
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        if clicked.is_err() {
            panic!("click {css} within {DEADLINE:?}: {last}");
        }
    }

    /// Ticks the checkbox or radio whose label contains `text`.
    pub async fn check_label(&self, text: &str) {
        let xpath = format!("//label[contains(normalize-space(.), {})]/input", xpath_literal(text));
        let el = self
            .browser
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no control labelled {text:?}: {e}"));
        el.click().await.expect("check");
    }

    /// Replaces the field's text, then waits until the field holds exactly it (a render that
    /// put a stale value back would otherwise go unnoticed until a later step).
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
        self.wait_value(css, text).await;
    }

    /// Waits until the field's value is exactly `value`.
    async fn wait_value(&self, css: &str, value: &str) {
        poll(&format!("{css} to hold {value:?}"), DEADLINE, || async {
            let v = self
                .browser
                .find(Locator::Css(css))
                .await
                .ok()?
                .prop("value")
                .await
                .ok()??;
            (v == value).then_some(())
        })
        .await;
    }

    /// Waits until the element's text contains `text`; answers the whole text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        poll(&format!("{css} to contain {text:?}"), DEADLINE, || async {
            let el = self.browser.find(Locator::Css(css)).await.ok()?;
            let t = el.text().await.ok()?;
            t.contains(text).then_some(t)
        })
        .await
    }

    /// Waits until the element carries the attribute with this value.
    pub async fn wait_attr(&self, css: &str, attr: &str, value: &str) {
        poll(
            &format!("{css} to have {attr}={value:?}"),
            Duration::from_secs(90),
            || async {
                let el = self.browser.find(Locator::Css(css)).await.ok()?;
                (el.attr(attr).await.ok()??.as_str() == value).then_some(())
            },
        )
        .await
    }

    /// Whether any element matches, now.
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .browser
            .find_all(Locator::Css(css))
            .await
            .expect("query")
            .is_empty()
    }

    /// How many elements match, now.
    pub async fn count(&self, css: &str) -> usize {
        self.browser.find_all(Locator::Css(css)).await.expect("query").len()
    }

    /// Waits until exactly `n` elements match.
    pub async fn wait_count(&self, css: &str, n: usize) {
        poll(&format!("{n} of {css}"), DEADLINE, || async {
            (self.browser.find_all(Locator::Css(css)).await.ok()?.len() == n).then_some(())
        })
        .await
    }

    /// Presses a key (WebDriver code, e.g. `\u{E004}` for Tab) wherever the focus is.
    pub async fn press(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.browser.perform_actions(keys).await.expect("key press");
    }

    /// Presses Shift together with `key` (Shift-Tab).
    pub async fn press_shifted(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{E008}' })
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Up { value: '\u{E008}' });
        self.browser.perform_actions(keys).await.expect("key press");
    }

    /// An attribute of the element that has keyboard focus.
    pub async fn focused_attr(&self, attr: &str) -> Option<String> {
        let el = self.browser.active_element().await.expect("focus");
        el.attr(attr).await.expect("attr")
    }

    /// Whether the element is displayed now (not hidden by the stylesheet).
    pub async fn displayed(&self, css: &str) -> bool {
        self.find(css).await.is_displayed().await.expect("displayed")
    }

    /// Resizes the window and checks the page needs no sideways scrolling at that width (wide
    /// tables scroll inside their own box).
    pub async fn assert_fits(&self, width: u32, height: u32) {
        self.browser.set_window_size(width, height).await.expect("resize");
        poll(&format!("the page to fit {width} px"), DEADLINE, || async {
            let v = self
                .browser
                .execute(
                    "return [document.documentElement.scrollWidth, window.innerWidth];",
                    vec![],
                )
                .await
                .ok()?;
            (v[0].as_u64()? <= v[1].as_u64()?).then_some(())
        })
        .await;
    }

    /// The text of a finished download, once it is there.
    pub async fn downloaded(&self, file: &str) -> String {
        let path = self.downloads.join(file);
        poll(&format!("the download {file}"), DEADLINE, || {
            let path = path.clone();
            async move { std::fs::read_to_string(path).ok().filter(|t| !t.is_empty()) }
        })
        .await
    }

    /// The bytes of a finished download (Chromium renames it from `.crdownload` when done).
    pub async fn downloaded_bytes(&self, file: &str) -> Vec<u8> {
        let path = self.downloads.join(file);
        poll(&format!("the download {file}"), DEADLINE, || {
            let path = path.clone();
            async move { std::fs::read(path).ok().filter(|b| !b.is_empty()) }
        })
        .await
    }

    /// Saves a PNG under `target/e2e-screenshots/<test>-<label>.png`.
    pub async fn screenshot(&self, label: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        let dir = target_dir().join("e2e-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{}-{label}.png", self.name)), png).expect("write screenshot");
    }

    /// A request from inside the page with the signed-in tab's token, as a script could send it:
    /// answers the HTTP status.
    pub async fn fetch_status(&self, method: &str, path: &str) -> u16 {
        let script = r#"
            const [method, path, done] = arguments;
            const token = sessionStorage.getItem("atlas.token");
            fetch(path, { method, headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" }, body: method === "GET" ? undefined : "{}" })
              .then(r => done(r.status), e => done(String(e)));
        "#;
        let v = self
            .browser
            .execute_async(script, vec![json!(method), json!(path)])
            .await
            .expect("fetch");
        v.as_u64().unwrap_or_else(|| panic!("fetch {path} failed: {v}")) as u16
    }

    /// [`Stack::fetch_status`] of a POST with a JSON body.
    pub async fn post_status(&self, path: &str, body: Value) -> u16 {
        let script = r#"
            const [path, body, done] = arguments;
            const token = sessionStorage.getItem("atlas.token");
            fetch(path, { method: "POST", headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" }, body: JSON.stringify(body) })
              .then(r => done(r.status), e => done(String(e)));
        "#;
        let v = self
            .browser
            .execute_async(script, vec![json!(path), body])
            .await
            .expect("fetch");
        v.as_u64().unwrap_or_else(|| panic!("POST {path} failed: {v}")) as u16
    }

    /// Runs a backup of the environment at `env` (its path) from its backups page and waits
    /// until the run completed.
    pub async fn backup_now(&self, env: &str) {
        self.goto(&format!("{env}/backups")).await;
        self.click("[data-testid=run-backup]").await;
        self.wait_attr(
            "[data-testid=live-run] [data-testid=run-progress]",
            "data-state",
            "completed",
        )
        .await;
    }

    /// Chooses the option with this value in a `<select>`, then waits until the select holds it.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.select_by_value(value).await.expect("select");
        self.wait_value(css, value).await;
    }

    /// Opens `path` again and again until `css` is on the page (for what the server finds by
    /// itself, such as a finding from the change feed).
    pub async fn reload_until(&self, path: &str, css: &str, deadline: Duration) {
        poll(&format!("{css} on {path}"), deadline, || async {
            self.goto(path).await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            self.browser.find(Locator::Css(css)).await.ok().map(drop)
        })
        .await;
    }

    /// Deletes one object of `family` in the simulated tenant the way a tenant admin would, through
    /// Graph with an app of our own; answers its display name.
    pub async fn delete_in_tenant(&self, tenant: &str, family: &str) -> String {
        let (token, first) = self.tenant_admin(tenant, family).await;
        let id = first["id"].as_str().expect("id");
        let url = format!("{}/beta/deviceManagement/{family}/{id}", self.sim);
        let res = reqwest::Client::new()
            .delete(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("delete");
        assert!(res.status().is_success(), "delete answered {}", res.status());
        first["displayName"]
            .as_str()
            .or(first["name"].as_str())
            .unwrap_or(id)
            .to_owned()
    }

    /// Forgets the environment names the app remembered in this tab, as a fresh tab would start.
    pub async fn forget_environment_names(&self) {
        self.browser
            .execute(
                "Object.keys(sessionStorage).filter(k => k.startsWith('atlas.envname.')).forEach(k => sessionStorage.removeItem(k));",
                vec![],
            )
            .await
            .expect("clear names");
    }

    /// The simulated tenant's objects of `family`, as the simulator holds them (`/_sim`).
    pub async fn sim_objects(&self, tenant: &str, family: &str) -> Vec<Value> {
        let res = reqwest::Client::new()
            .get(format!("{}/_sim/tenants/{tenant}/objects/{family}", self.sim))
            .send()
            .await
            .expect("sim objects");
        assert!(res.status().is_success(), "sim objects answered {}", res.status());
        let v: Value = res.json().await.expect("objects json");
        v.as_array()
            .or_else(|| v["value"].as_array())
            .cloned()
            .expect("a list of objects")
    }

    /// Creates an object of `family` in the simulated tenant directly (`/_sim`); answers its id.
    pub async fn sim_create(&self, tenant: &str, family: &str, props: Value) -> String {
        let res = reqwest::Client::new()
            .post(format!("{}/_sim/tenants/{tenant}/objects/{family}", self.sim))
            .json(&props)
            .send()
            .await
            .expect("sim create");
        assert!(res.status().is_success(), "sim create answered {}", res.status());
        let v: Value = res.json().await.expect("created json");
        v["id"].as_str().expect("id").to_owned()
    }

    /// Sets properties (navigations included, such as `assignments`) on one object of the
    /// simulated tenant directly (`/_sim`), for a state a test needs.
    pub async fn sim_patch(&self, tenant: &str, family: &str, id: &str, props: Value) {
        let res = reqwest::Client::new()
            .patch(format!("{}/_sim/tenants/{tenant}/objects/{family}/{id}", self.sim))
            .json(&props)
            .send()
            .await
            .expect("sim patch");
        assert!(res.status().is_success(), "sim patch answered {}", res.status());
    }

    /// Changes one object of `family` in the simulated tenant through Graph, as an app of the
    /// tenant's admin would; answers the object's id.
    pub async fn patch_in_tenant(&self, tenant: &str, family: &str, props: Value) -> String {
        let (token, first) = self.tenant_admin(tenant, family).await;
        let id = first["id"].as_str().expect("id").to_owned();
        let url = format!("{}/beta/deviceManagement/{family}/{id}", self.sim);
        let res = reqwest::Client::new()
            .patch(url)
            .bearer_auth(token)
            .json(&props)
            .send()
            .await
            .expect("patch");
        assert!(res.status().is_success(), "patch answered {}", res.status());
        id
    }

    /// A Graph token of an app the tenant's admin consented to, and the first object of `family`.
    async fn tenant_admin(&self, tenant: &str, family: &str) -> (String, Value) {
        let http = reqwest::Client::new();
        let ok = |r: reqwest::Response| {
            assert!(r.status().is_success(), "{} answered {}", r.url(), r.status());
            r
        };
        let app = json!({"client_id": "e2e-tenant-admin", "secret": "e2e-secret"});
        ok(http
            .post(format!("{}/_sim/apps", self.sim))
            .json(&app)
            .send()
            .await
            .expect("sim apps"));
        let consent = json!({"client_id": "e2e-tenant-admin"});
        ok(http
            .post(format!("{}/_sim/tenants/{tenant}/consent", self.sim))
            .json(&consent)
            .send()
            .await
            .expect("consent"));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "e2e-tenant-admin"),
            ("client_secret", "e2e-secret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        let token: Value = ok(http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.sim))
            .form(&form)
            .send()
            .await
            .expect("token"))
        .json()
        .await
        .expect("token json");
        let token = token["access_token"].as_str().expect("access_token").to_owned();
        let objects: Value = ok(http
            .get(format!("{}/_sim/tenants/{tenant}/objects/{family}", self.sim))
            .send()
            .await
            .expect("objects"))
        .json()
        .await
        .expect("objects json");
        let list = objects
            .as_array()
            .or_else(|| objects["value"].as_array())
            .expect("a list of objects");
        let first = list.first().expect("the tenant has objects of this family");
        (token, first.clone())
    }

    pub async fn close(self) {
        let _ = self.browser.clone().close().await;
    }
}

impl Drop for Stack {
    /// A failing test leaves a picture of the page it failed on (`<test>-failure.png`).
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(5), self.screenshot("failure")).await;
                    // The page's text too, for a CI log that keeps no pictures.
                    let text = tokio::time::timeout(Duration::from_secs(5), async {
                        let body = self.browser.find(Locator::Css("body")).await.ok()?;
                        body.text().await.ok()
                    })
                    .await;
                    if let Ok(Some(text)) = text {
                        let url = self
                            .browser
                            .current_url()
                            .await
                            .map(|u| u.to_string())
                            .unwrap_or_default();
                        let text: String = text.chars().take(3000).collect();
                        eprintln!("--- {} failed on {url}; the page read:\n{text}\n---", self.name);
                    }
                })
            });
        }
    }
}

/// `text` as an XPath string literal (XPath 1 has no escapes: split on double quotes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('"') {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = text.split('"').map(|p| format!("\"{p}\"")).collect();
    format!("concat({})", parts.join(", '\"', "))
}

fn chromium_binary() -> Option<String> {
    if let Ok(b) = std::env::var("CHROMIUM") {
        return Some(b);
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
    .map(str::to_owned)
}

/// A webhook receiver on loopback: answers 200 and keeps each request's event type and headers.
pub struct Hook {
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Hook {
    pub async fn start() -> Hook {
        let got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
        let g = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let signature = atlas_tests::header_text(&headers, "atlas-signature");
                    let kind = body["type"].as_str().unwrap_or_default().to_owned();
                    g.lock().expect("hook log").push((kind, signature));
                    "thanks"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hook { url, got, _task: task }
    }

    /// (event type, `Atlas-Signature` header) of every request so far.
    pub fn got(&self) -> Vec<(String, String)> {
        self.got.lock().expect("hook log").clone()
    }
}
