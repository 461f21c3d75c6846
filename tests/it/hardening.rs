//! Hardening (issue 12, items 4, 5, 6, 8, 9; spec 010): bounded problems and 414, clean audit
//! input, name and schedule rules, no workspace-existence oracle and a creation quota, browser
//! headers locally, in the Lambda adapter and in the template, and local mode's safety.

use std::path::PathBuf;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::{local, registry, router};
use atlas_tests::TempDir;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OUTSIDER, OWNER, READONLY, TestApp, config, spawn_app, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const WS: &str = "/api/v1/workspaces/ws-demo";

/// A problem answer: the media type, a 4xx status, a small body, and the request id stamped.
async fn problem(res: reqwest::Response, status: u16) -> api::Problem {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.bytes().await.unwrap();
    assert!(
        body.len() < 8 * 1024,
        "a bounded problem body, got {} bytes",
        body.len()
    );
    let p: api::Problem = serde_json::from_slice(&body).unwrap();
    assert_eq!(p.status, status);
    assert_eq!(
        p.request_id.as_deref(),
        Some(id.as_str()),
        "stamped with the request id"
    );
    p
}

fn fields(p: &api::Problem) -> Vec<&str> {
    p.errors.iter().map(|e| e.field.as_str()).collect()
}

async fn audit(app: &TestApp, query: &str) -> Vec<api::AuditEvent> {
    let res = app.get_as(OWNER, &format!("{WS}/audit-events{query}")).await;
    assert_eq!(res.status(), 200);
    res.json::<api::AuditPage>().await.unwrap().items
}

// ---- item 4: no caller-controlled 5xx -------------------------------------------------------

async fn long_uris_and_huge_inputs_get_bounded_4xx(mode: Mode) {
    let app = spawn_app(mode).await;
    let before = app.snapshot().await;

    // A 45 KB query string, on a public route and on a guarded one: 414 before any handler runs.
    let long = format!("?q={}", "a".repeat(45 * 1024));
    let p = problem(app.get(&format!("/api/health{long}")).await, 414).await;
    assert_eq!(p.kind, "urn:tenantatlas:problem:uri-too-long");
    assert!(p.detail.unwrap().contains("8192"));
    problem(app.get_as(OWNER, &format!("{WS}/audit-events{long}")).await, 414).await;
    // An over-long path too, and on the web app's side.
    problem(app.get(&format!("/{}", "p".repeat(9 * 1024))).await, 414).await;
    // Just under the bound is routed as usual (the undeclared key is refused by name).
    let near = format!("?{}", "a".repeat(8 * 1024 - "/api/health?".len()));
    let p = problem(app.get(&format!("/api/health{near}")).await, 400).await;
    assert_eq!(p.errors.len(), 1);

    // 1,000 undeclared query keys: at most 20 echoed, then a count of the rest.
    let keys: Vec<String> = (0..1_000).map(|i| format!("k{i}")).collect();
    let res = app
        .get_as(OWNER, &format!("{WS}/audit-events?{}", keys.join("&")))
        .await;
    let p = problem(res, 400).await;
    assert_eq!(p.errors.len(), 21);
    assert_eq!(p.errors[0].field, "query.k0");
    assert_eq!(p.errors[20].message, "and 980 more");

    // A body with 10,000 unknown keys: refused with a 4xx, never a 5xx.
    let many: serde_json::Map<String, Value> = (0..10_000).map(|i| (format!("k{i}"), json!(0))).collect();
    let res = app.post_as(OWNER, "/api/v1/workspaces", Value::Object(many)).await;
    let status = res.status().as_u16();
    assert!((400..500).contains(&status), "got {status}");
    problem(res, status).await;
    // One unknown key almost as long as the body limit, made of characters JSON escapes: the
    // echoed name is cut, so the problem stays small (it used to outgrow the stamper: a 500).
    let key = "\"".repeat(30_000);
    let mut body = serde_json::Map::new();
    body.insert(key, json!(1));
    let res = app.post_as(OWNER, "/api/v1/workspaces", Value::Object(body)).await;
    let p = problem(res, 400).await;
    assert_eq!(p.errors.len(), 1);
    assert!(p.errors[0].field.chars().count() <= 101, "{}", p.errors[0].field.len());
    assert!(p.errors[0].field.ends_with('…'));

    assert_eq!(app.snapshot().await, before, "nothing changed on any of these");
    app.stop().await;
}

#[tokio::test]
async fn the_lambda_adapter_answers_414_and_sends_the_headers() {
    let dir = TempDir::new();
    let state = atlas_app::AppState::connect(&config(Mode::Embedded, &dir), "http://127.0.0.1")
        .await
        .unwrap()
        .state;
    // Exactly what the get-health binary builds, fed an API Gateway event with a 45 KB query.
    let app = router::api(state, &[registry::find("get-health").unwrap()]);
    let text = std::fs::read_to_string(repo("events/http-get-health.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["rawQueryString"] = json!(format!("q={}", "a".repeat(45 * 1024)));
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 414);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_browser_headers(res.headers());
    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let p: api::Problem = serde_json::from_slice(&body).unwrap();
    assert!(p.request_id.is_some_and(|id| id.len() >= 20), "a minted request id");

    let req = lambda_http::request::from_str(&text).unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_browser_headers(res.headers());
}

// ---- item 5: caller input never reaches the audit log raw --------------------------------

async fn denials_store_only_a_validated_request_id(mode: Mode) {
    let app = spawn_app(mode).await;
    let invite = json!({"email": "x@demo.test", "role": "readonly", "environments": "all"});
    let send = |rid: String| {
        app.req(Method::POST, &paths::invitations(DEMO_WS), Some(READONLY))
            .header("x-request-id", rid)
            .json(&invite)
            .send()
    };
    // Forged log lines, markup and sheer length are replaced by a minted id…
    let mut answered = Vec::new();
    for bad in [
        "abc def".to_owned(),
        "x".repeat(65),
        "line\\nbreak\" ,\"outcome\":\"success".to_owned(),
        "<script>alert(1)</script>".to_owned(),
    ] {
        let res = send(bad.clone()).await.unwrap();
        let p = problem(res, 403).await;
        let id = p.request_id.unwrap();
        assert_ne!(id, bad);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        answered.push(id);
    }
    // …and a plain token is kept, so a caller can correlate.
    let res = send("client-trace_1.2".into()).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-trace_1.2");
    answered.push("client-trace_1.2".into());

    let mut stored: Vec<String> = audit(&app, "?outcome=denied")
        .await
        .into_iter()
        .map(|e| e.request_id.expect("every denial names its request"))
        .collect();
    stored.sort();
    answered.sort();
    assert_eq!(
        stored, answered,
        "the audit log holds the ids the caller was answered with"
    );
    app.stop().await;
}

async fn names_and_schedules_refuse_what_they_cannot_hold(mode: Mode) {
    let app = spawn_app(mode).await;
    let before = app.snapshot().await;
    for bad in [
        "Contoso\u{202E}gnp.exe",
        "Fabri\u{200B}kam",
        "\u{2066}Contoso\u{2069}",
        "Contoso\u{200F}",
        "Contoso\u{FEFF}",
        "Cont\u{0007}oso",
    ] {
        let res = app
            .post_as(OWNER, "/api/v1/workspaces", json!({"name": bad, "slug": "fine"}))
            .await;
        let p = problem(res, 400).await;
        assert_eq!(fields(&p), ["name"], "{bad:?}");
        let res = app
            .patch_as(
                OWNER,
                &paths::environment(DEMO_WS, "env-contoso"),
                json!({"display_name": bad}),
            )
            .await;
        let p = problem(res, 400).await;
        assert_eq!(fields(&p), ["display_name"], "{bad:?}");
    }
    let res = app
        .post_as(
            OWNER,
            &paths::environments(DEMO_WS),
            json!({"slug": "env-x", "display_name": "Lit\u{202D}ware", "tenant_id": "33333333-3333-4333-8333-333333333333", "primary_domain": "litware.test"}),
        )
        .await;
    assert_eq!(fields(&problem(res, 400).await), ["display_name"]);

    let schedules = format!("{WS}/environments/env-contoso/backup-schedules");
    let now = app.app().state.clock.now_millis();
    for (body, field) in [
        (
            json!({"every_minutes": 60, "time_zone": "UTC", "keep_last": 1_000_000}),
            "keep_last",
        ),
        (
            json!({"every_minutes": 60, "time_zone": "UTC", "keep_days": 100_000}),
            "keep_days",
        ),
        (json!({"every_minutes": 5, "time_zone": "UTC"}), "every_minutes"),
        (json!({"every_minutes": 100_000, "time_zone": "UTC"}), "every_minutes"),
        (json!({"cron": "61 * * * *", "time_zone": "UTC"}), "cron"),
        (json!({"cron": "0 6 * * *", "time_zone": "Mars/Olympus"}), "time_zone"),
        (
            json!({"every_minutes": 60, "time_zone": "UTC", "first_due_ms": now + 6 * 366 * 86_400_000_i64}),
            "first_due_ms",
        ),
        (
            json!({"every_minutes": 60, "time_zone": "UTC", "first_due_ms": i64::MAX}),
            "first_due_ms",
        ),
    ] {
        let p = problem(app.post_as(OWNER, &schedules, body.clone()).await, 400).await;
        assert!(fields(&p).contains(&field), "{body}: {:?}", p.errors);
    }
    let long_cron = format!("0 6 * * {}", "1,".repeat(60) + "2");
    let p = problem(
        app.post_as(OWNER, &schedules, json!({"cron": long_cron, "time_zone": "UTC"}))
            .await,
        400,
    )
    .await;
    assert!(fields(&p).contains(&"cron"));
    assert_eq!(app.snapshot().await, before, "nothing was written");

    // The bounds leave the ordinary cases alone.
    let res = app
        .post_as(
            OWNER,
            &schedules,
            json!({"cron": "30 2 * * *", "time_zone": "Europe/Berlin", "keep_last": 30}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .patch_as(
            OWNER,
            &paths::environment(DEMO_WS, "env-contoso"),
            json!({"display_name": "Zürich — مؤسسة"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

// ---- item 6: no existence oracle, and a quota ---------------------------------------------

async fn workspace_slugs_reveal_nothing_and_creation_has_a_quota(mode: Mode) {
    let dir = TempDir::new();
    let mut c = config(mode, &dir);
    c.workspace_quota = 3;
    let app = spawn_with(c, dir).await;
    let create = |who: &'static str, name: &str, slug: &str| {
        app.post_as(who, "/api/v1/workspaces", json!({"name": name, "slug": slug}))
    };

    let res = create(OWNER, "Alpha Corp", "alpha").await;
    assert_eq!(res.status(), 201);
    let mine: api::Workspace = res.json().await.unwrap();
    assert!(
        mine.id.starts_with("ws-") && mine.id != "alpha",
        "a minted id: {}",
        mine.id
    );
    assert_eq!(mine.slug, "alpha");

    // Another user with the same slug, and with the slug of someone else's workspace id: both
    // simply succeed, so neither tells them anything exists.
    for slug in ["alpha", "ws-demo", "ws-other"] {
        let res = create(OUTSIDER, "Theirs", slug).await;
        assert_eq!(res.status(), 201, "{slug}");
        let theirs: api::Workspace = res.json().await.unwrap();
        assert!(theirs.id != mine.id && theirs.id != slug);
        assert_eq!(theirs.slug, slug);
        // They own what they created and nothing else.
        assert_eq!(
            app.get_as(OUTSIDER, &format!("/api/v1/workspaces/{}", theirs.id))
                .await
                .status(),
            200
        );
    }
    assert_eq!(app.get_as(OUTSIDER, WS).await.status(), 404);
    // The only conflict is with one's own handle.
    let p = problem(create(OWNER, "Again", "alpha").await, 409).await;
    assert!(p.detail.unwrap().contains("you already have"));

    // OUTSIDER has used the quota of 3: a fourth is refused, and nothing is written.
    let before = app.snapshot().await;
    let p = problem(create(OUTSIDER, "Fourth", "fourth").await, 429).await;
    assert_eq!(p.kind, "urn:tenantatlas:problem:quota");
    assert!(p.detail.unwrap().contains("3 workspaces"));
    assert_eq!(app.snapshot().await, before);
    // The quota is per user: the owner still has room.
    assert_eq!(create(OWNER, "Beta", "beta").await.status(), 201);

    let l: api::WorkspaceList = app.get_as(OUTSIDER, "/api/v1/workspaces").await.json().await.unwrap();
    let mut slugs: Vec<&str> = l.items.iter().map(|w| w.slug.as_str()).collect();
    slugs.sort();
    assert_eq!(
        slugs,
        ["alpha", "ws-demo", "ws-other", "ws-other"],
        "three created plus ws-other"
    );
    app.stop().await;
}

// ---- item 8: browser hardening ---------------------------------------------------------------

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn assert_browser_headers(h: &axum::http::HeaderMap) {
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "style-src 'self'",
    ] {
        assert!(csp.split(';').any(|d| d.trim() == directive), "{directive:?} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
}

#[tokio::test]
async fn the_web_app_and_the_api_send_the_browser_headers() {
    let app = spawn_app(Mode::Embedded).await;
    // The web app (built or not), one of its routes, the API, an API problem.
    for path in ["/", "/workspaces/ws-demo", "/api/health", "/api/v1/nothing"] {
        let res = app.get(path).await;
        assert_browser_headers(res.headers());
    }
    let res = app.get_as(OWNER, "/api/v1/me").await;
    assert_eq!(res.status(), 200);
    assert_browser_headers(res.headers());
    // The demo sign-in keeps its own, stricter policy, and its stylesheet is a file.
    let res = app.get("/oidc/style.css").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_browser_headers(res.headers());
    app.stop().await;
}

#[test]
fn the_web_page_has_no_inline_script_or_style() {
    let html = std::fs::read_to_string(repo("web/index.html")).unwrap();
    let mut rest = html.as_str();
    let mut scripts = 0;
    while let Some(at) = rest.find("<script") {
        let tag_end = rest[at..].find('>').unwrap() + at;
        let tag = &rest[at..=tag_end];
        assert!(tag.contains(" src=\""), "a script from a file: {tag}");
        assert!(
            rest[tag_end + 1..].starts_with("</script>"),
            "with no inline body: {tag}"
        );
        scripts += 1;
        rest = &rest[tag_end..];
    }
    assert!(scripts >= 1);
    assert!(!html.contains("<style") && !html.contains(" style="), "{html}");
    // No event-handler attributes (` onload=`, ` onclick=` …).
    let handler = html.split(" on").skip(1).any(|after| {
        let name: String = after.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && after[name.len()..].starts_with('=')
    });
    assert!(!handler, "{html}");
    let boot = std::fs::read_to_string(repo("web/boot.js")).unwrap();
    assert!(boot.contains("import init from \"/atlas-web.js\""));
    // Yew components set no `style` attribute either (the CSP would drop it).
    for entry in walk(&repo("web/src")) {
        let src = std::fs::read_to_string(&entry).unwrap();
        assert!(
            !src.contains(" style={") && !src.contains(" style=\""),
            "{}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_template_attaches_the_response_headers_policy_to_web_and_api() {
    let text = std::fs::read_to_string(repo("infra/template.yaml")).unwrap();
    let t: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let policy = &t["Resources"]["WebResponseHeadersPolicy"];
    assert_eq!(policy["Type"], "AWS::CloudFront::ResponseHeadersPolicy");
    let sec = &policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let csp = match &sec["ContentSecurityPolicy"]["ContentSecurityPolicy"] {
        serde_yaml::Value::Tagged(t) => t.value[0].as_str().unwrap().to_owned(),
        other => other.as_str().unwrap().to_owned(),
    };
    // The same policy the local server sends, but for the issuer's host in connect-src.
    let local: Vec<&str> = router::CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
    let deployed: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert_eq!(local.len(), deployed.len(), "{csp}");
    for (l, d) in local.iter().zip(&deployed) {
        if l.starts_with("connect-src") {
            assert_eq!(*d, "connect-src 'self' https://${IssuerHost}");
        } else {
            assert_eq!(l, d);
        }
    }
    assert_eq!(sec["ContentSecurityPolicy"]["Override"], true);
    assert_eq!(sec["ContentTypeOptions"]["Override"], true);
    assert_eq!(sec["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(sec["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");

    let dist = &t["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"];
    let attached = |b: &serde_yaml::Value| match &b["ResponseHeadersPolicyId"] {
        serde_yaml::Value::Tagged(t) => t.tag == "Ref" && t.value == "WebResponseHeadersPolicy",
        _ => false,
    };
    assert!(attached(&dist["DefaultCacheBehavior"]), "on the web app");
    let behaviours = dist["CacheBehaviors"].as_sequence().unwrap();
    assert!(!behaviours.is_empty());
    for b in behaviours {
        assert!(attached(b), "on {:?}", b["PathPattern"]);
    }
}

// ---- item 9: local mode ----------------------------------------------------------------------

#[cfg(unix)]
fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    let app = spawn_app(Mode::Embedded).await;
    let data = app.dir.0.join("data");
    assert_eq!(mode_of(&data), 0o700);
    assert_eq!(mode_of(&data.join("atlas.db")), 0o600);
    assert_eq!(mode_of(&data.join("master.key")), 0o600);
    for f in ["atlas.db-wal", "atlas.db-shm"] {
        if data.join(f).exists() {
            assert_eq!(mode_of(&data.join(f)), 0o600, "{f}");
        }
    }
    let (config, dir) = app.stop().await;

    // A data directory left open by hand (or by an older version) is closed on the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("atlas.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = spawn_with(config, dir).await;
    assert_eq!(mode_of(&data), 0o700);
    assert_eq!(mode_of(&data.join("atlas.db")), 0o600);
    assert_eq!(app.get_as(OWNER, WS).await.status(), 200, "the data is still there");
    app.stop().await;
}

#[tokio::test]
async fn the_demo_sign_in_serves_only_on_loopback_unless_allowed() {
    let dir = TempDir::new();
    let mut c = config(Mode::Embedded, &dir);
    c.bind = "0.0.0.0:0".parse().unwrap();
    let err = match local::start(c.clone()).await {
        Ok(_) => panic!("started on a non-loopback address with the demo sign-in"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("0.0.0.0") && err.contains("--allow-remote-demo-signin"),
        "{err}"
    );
    assert!(!dir.0.join("data").exists(), "refused before touching anything");

    // Explicitly allowed: it serves.
    c.allow_remote_demo_signin = true;
    let app = spawn_with(c, dir).await;
    let port = app.app().addr.port();
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/oidc/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;

    // The environment variable does the same as the flag.
    let on = |v: &'static str| {
        atlas_app::Config::from_lookup(move |k| (k == "ATLAS_ALLOW_REMOTE_DEMO_SIGNIN").then(|| v.to_owned()))
            .unwrap()
            .allow_remote_demo_signin
    };
    assert!(on("1") && on("true") && !on("0"));
}

atlas_tests::on_both_backends!(
    long_uris_and_huge_inputs_get_bounded_4xx,
    denials_store_only_a_validated_request_id,
    names_and_schedules_refuse_what_they_cannot_hold,
    workspace_slugs_reveal_nothing_and_creation_has_a_quota,
);
