//! Alerts (spec 016): rules, signed webhook destinations and the delivery history, against a
//! real HTTP receiver on loopback started by the test. The receiver records every request and
//! can fail the first N (or all); signatures are checked by Python's `hmac`, an implementation
//! independent of ours.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::alerts::deliver::QUEUE;
use atlas_app::alerts::{NewAlert, dispatch, event_item};
use atlas_domain::alerts::AlertEventType;
use atlas_domain::{EnvironmentId, Severity, WorkspaceId};
use atlas_tests::TempDir;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, eventually};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    event_id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// An HTTP receiver on loopback: answers 500 to the first `fail_first` requests (all of them
/// when `fail_first` is `usize::MAX`), then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    served: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let served = Arc::new(AtomicUsize::new(0));
        let (g, s) = (got.clone(), served.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    let h = |k: &str| atlas_tests::header_text(&headers, k);
                    g.lock().unwrap().push(Got {
                        event_id: h("atlas-event-id"),
                        timestamp: h("atlas-timestamp"),
                        signature: h("atlas-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let n = s.fetch_add(1, Ordering::SeqCst);
                    if n < fail_first {
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("receiver down (request {})", n + 1),
                        )
                    } else {
                        (StatusCode::OK, "thanks".to_owned())
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            got,
            served,
            _task: task,
        }
    }

    fn requests(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

/// A stack whose webhooks may be plain http on loopback, with a fast backoff and `window`.
async fn stack(mode: Mode, window: Duration, workers: bool) -> TestApp {
    let dir = TempDir::new();
    let mut c = atlas_tests::app::config(mode, &dir);
    c.alerts.allow_http_loopback = true;
    c.alerts.retry_base = Duration::from_millis(200);
    c.alerts.retry_window = window;
    c.run_workers = workers;
    atlas_tests::app::spawn_with(c, dir).await
}

fn deadline(app: &TestApp) -> Duration {
    app.run_deadline()
}

async fn destination(app: &TestApp, kind: &str, url: &str) -> api::DestinationCreated {
    let body = json!({"name": format!("Receiver ({kind})"), "kind": kind, "url": url});
    let res = app.post_as(OWNER, &paths::alert_destinations(DEMO_WS), body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn webhook(app: &TestApp, url: &str) -> api::DestinationCreated {
    destination(app, "webhook", url).await
}

async fn delivery(app: &TestApp, id: &str) -> api::AlertDeliveryDetail {
    let res = app.get_as(OWNER, &paths::alert_delivery(DEMO_WS, id)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn send_test(app: &TestApp, dest: &str) -> api::AlertDelivery {
    let res = app
        .post_as(OWNER, &paths::alert_destination_test(DEMO_WS, dest), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

async fn until_status(app: &TestApp, id: &str, status: &str) -> api::AlertDeliveryDetail {
    eventually(&format!("delivery {id} to be {status}"), deadline(app), || async {
        let d = delivery(app, id).await;
        (d.delivery.state == status).then_some(d)
    })
    .await
}

/// Checks `v1=` signatures with Python's `hmac`: which of `signature`'s values verify.
fn python_verifies(secret: &str, timestamp: &str, body: &str, signature: &str) -> Vec<bool> {
    let script = r#"
import hashlib, hmac, os
secret, ts, body, header = (os.environ[k] for k in ("SECRET", "TS", "BODY", "SIG"))
expected = hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
print(",".join("1" if hmac.compare_digest(expected, v.strip()[3:]) else "0" for v in header.split(",")))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("SECRET", secret)
        .env("TS", timestamp)
        .env("BODY", body)
        .env("SIG", signature)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .map(|v| v == "1")
        .collect()
}

/// A receiver that fails three times then answers: delivered once, four attempts in the
/// history, each with its status and the answer's first bytes; redeliver starts a new series
/// with the same event id.
async fn retries_until_delivered_with_every_attempt_recorded(mode: Mode) {
    let app = stack(mode, Duration::from_secs(3_600), true).await;
    let rx = Receiver::start(3).await;
    let dest = webhook(&app, &rx.url).await;
    let d = send_test(&app, &dest.destination.id).await;
    let done = until_status(&app, &d.id, "delivered").await;
    assert_eq!(done.delivery.attempts, 4, "{done:?}");
    assert_eq!(done.attempts.len(), 4);
    let statuses: Vec<Option<u16>> = done.attempts.iter().map(|a| a.http_status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
    assert!(done.attempts[0].response.starts_with("receiver down (request 1)"));
    assert!(done.attempts[0].error.as_deref().unwrap().contains("500"));
    assert!(done.attempts[3].ok && done.attempts[3].response == "thanks");
    // Spaced by the backoff: each wait at least as long as the one before.
    let gaps: Vec<i64> = done.attempts.windows(2).map(|w| w[1].at_ms - w[0].at_ms).collect();
    assert!(gaps.iter().all(|g| *g >= 200), "{gaps:?}");
    // Delivered once: one 2xx; every request carries the same event id.
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 4);
    assert!(reqs.iter().all(|r| r.event_id == done.delivery.event_id));
    assert_eq!(done.payload["id"], done.delivery.event_id.as_str());
    assert_eq!(done.payload["type"], "test");
    assert!(done.payload["link"].as_str().unwrap().starts_with("http"));
    // Redeliver: a new series on the same delivery, the same event id.
    let res = app
        .post_as(OWNER, &paths::alert_delivery_redeliver(DEMO_WS, &d.id), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    let again = eventually("the redelivery", deadline(&app), || async {
        let v = delivery(&app, &d.id).await;
        (v.delivery.state == "delivered" && v.delivery.attempts == 5).then_some(v)
    })
    .await;
    assert_eq!(again.delivery.series, 1);
    assert_eq!(again.attempts.last().unwrap().series, 1);
    assert_eq!(rx.requests().len(), 5);
    assert_eq!(rx.requests()[4].event_id, done.delivery.event_id);
    // A delivered delivery's message arriving again sends nothing.
    let body = atlas_app::alerts::deliver::DeliverMessage::new(&WorkspaceId::parse(DEMO_WS).unwrap(), &d.id, 4, 0);
    atlas_app::alerts::deliver::handle(&app.app().state, &body.body())
        .await
        .unwrap();
    assert_eq!(rx.served.load(Ordering::SeqCst), 5);
    // Listed newest first, filterable by status.
    let page = deliveries(&app, "?state=delivered").await;
    assert_eq!(page.len(), 1);
    app.stop().await;
}

/// A receiver down past the retry window: the delivery fails, says why, and its message is in
/// the step's dead-letter queue.
async fn a_receiver_down_past_the_window_is_dead_lettered(mode: Mode) {
    let app = stack(mode, Duration::from_secs(2), false).await;
    let rx = Receiver::start(usize::MAX).await;
    let dest = webhook(&app, &rx.url).await;
    let d = send_test(&app, &dest.destination.id).await;
    let failed = eventually("the delivery to fail", deadline(&app), || async {
        app.deliver(QUEUE).await;
        let v = delivery(&app, &d.id).await;
        (v.delivery.state == "failed").then_some(v)
    })
    .await;
    assert!(failed.attempts.len() >= 2, "{failed:?}");
    assert!(failed.attempts.iter().all(|a| !a.ok && a.http_status == Some(500)));
    let reason = failed.delivery.reason.clone().unwrap();
    assert!(reason.contains("retry window") && reason.contains("500"), "{reason}");
    let dlq = app.app().state.queues.dead_letter(QUEUE).unwrap().clone();
    let dead = dlq.receive(10, Duration::from_secs(30), Duration::ZERO).await.unwrap();
    assert!(
        dead.iter().any(|m| m.body.contains(&d.id)),
        "the failed delivery's message is in the dead-letter queue: {dead:?}"
    );
    // Listed as failed.
    let page = deliveries(&app, "?state=failed").await;
    assert_eq!(page.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [d.id.as_str()]);
    app.stop().await;
}

fn finding_event(env: &str, severity: Severity, object: &str) -> NewAlert {
    NewAlert {
        kind: AlertEventType::FindingCreated,
        environment_id: Some(EnvironmentId::parse(env).unwrap()),
        severity: Some(severity),
        object: object.into(),
        state: "open".into(),
        title: format!("{object} differs"),
        link: format!("/workspaces/{DEMO_WS}/findings/x"),
        data: json!({}),
    }
}

/// Writes an event as a reporting service would (its own commit) and dispatches it.
async fn report(app: &TestApp, alert: NewAlert) {
    let state = &app.app().state;
    let item = event_item(state, &WorkspaceId::parse(DEMO_WS).unwrap(), alert);
    state.table.transact(vec![item.clone()]).await.unwrap();
    dispatch::after_commit(state, &[item]).await;
}

/// The delivery history, with a `?query` or "".
async fn deliveries(app: &TestApp, query: &str) -> Vec<api::AlertDelivery> {
    let res = app
        .get_as(OWNER, &format!("{}{query}", paths::alert_deliveries(DEMO_WS)))
        .await;
    assert_eq!(res.status(), 200);
    res.json::<api::AlertDeliveryPage>().await.unwrap().items
}

/// Rules match by type, severity and environment; the same incident twice alerts once; a
/// snoozed rule records the match as suppressed and sends nothing; the sweep dispatches what a
/// writer left pending.
async fn rules_match_dedupe_and_snooze(mode: Mode) {
    let app = stack(mode, Duration::from_secs(3_600), true).await;
    let rx = Receiver::start(0).await;
    let dest = webhook(&app, &rx.url).await;
    let rule = json!({"name": "High drift on Contoso", "event_types": ["finding.created"], "min_severity": "high",
        "environments": ["env-contoso"], "destinations": [dest.destination.id]});
    let res = app.post_as(OWNER, &paths::alert_rules(DEMO_WS), rule).await;
    assert_eq!(res.status(), 201);
    let rule: api::AlertRule = res.json().await.unwrap();

    report(&app, finding_event("env-contoso", Severity::Critical, "finding/a")).await;
    report(&app, finding_event("env-contoso", Severity::Critical, "finding/a")).await; // same incident
    report(&app, finding_event("env-contoso", Severity::Low, "finding/b")).await; // below the minimum
    report(&app, finding_event("env-fabrikam", Severity::High, "finding/c")).await; // another environment
    eventually("one delivery", deadline(&app), || async {
        let all = deliveries(&app, "").await;
        (all.len() == 1 && all[0].state == "delivered").then_some(())
    })
    .await;
    assert_eq!(rx.requests().len(), 1, "the same incident twice is one delivery");
    let body: Value = serde_json::from_str(&rx.requests()[0].body).unwrap();
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["object"], "finding/a");
    assert_eq!(body["environment_id"], "env-contoso");
    assert!(body["occurred_at"].as_str().unwrap().ends_with('Z'));

    // Snoozed: recorded as suppressed, not sent.
    let until = now_ms() + 86_400_000;
    let res = app
        .req(
            reqwest::Method::PUT,
            &paths::alert_rule_snooze(DEMO_WS, &rule.id),
            Some(OWNER),
        )
        .json(&json!({"reason": "Maintenance window", "until_ms": until}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    report(&app, finding_event("env-contoso", Severity::High, "finding/d")).await;
    let all = deliveries(&app, "").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].state, "suppressed", "newest first: {all:?}");
    // The sweep dispatches an event its writer left pending (a crash after the commit).
    let res = app
        .req(
            reqwest::Method::DELETE,
            &paths::alert_rule_snooze(DEMO_WS, &rule.id),
            Some(OWNER),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let state = &app.app().state;
    let item = event_item(
        state,
        &WorkspaceId::parse(DEMO_WS).unwrap(),
        finding_event("env-contoso", Severity::High, "finding/e"),
    );
    state.table.transact(vec![item]).await.unwrap();
    eventually("the swept event's delivery", deadline(&app), || async {
        dispatch::sweep(state).await.ok();
        let all = deliveries(&app, "").await;
        (all.len() == 3 && all[0].state == "delivered").then_some(())
    })
    .await;
    assert_eq!(rx.requests().len(), 2);
    // Rule changes are audited, with the snooze's reason.
    let audit: Value = app
        .get_as(OWNER, &format!("{}?limit=50", paths::audit_events(DEMO_WS)))
        .await
        .json()
        .await
        .unwrap();
    let actions = texts(&audit["items"], "action");
    for a in [
        "alert_rule.create",
        "alert_rule.snooze",
        "alert_rule.unsnooze",
        "alert_destination.create",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    app.stop().await;
}

/// A 400's first field error: its field and message.
async fn first_error(res: reqwest::Response) -> (String, String) {
    assert_eq!(res.status(), 400);
    let p: Value = res.json().await.unwrap();
    let e = &p["errors"][0];
    (
        e["field"].as_str().unwrap().into(),
        e["message"].as_str().unwrap().into(),
    )
}

/// `key` of every object in the list `v`.
fn texts<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    v.as_array().unwrap().iter().map(|e| e[key].as_str().unwrap()).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The signature verifies with Python's `hmac` and a tampered body does not; the secret is
/// shown once (no read returns it, nor the audit log, nor the table in plaintext); after a
/// rotation both secrets sign during the grace period, the new one first.
async fn signatures_verify_independently_and_the_secret_is_shown_once(mode: Mode) {
    let app = stack(mode, Duration::from_secs(3_600), true).await;
    let rx = Receiver::start(0).await;
    let created = webhook(&app, &rx.url).await;
    let secret = created.secret.clone().expect("the secret, once");
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    let id = created.destination.id.clone();
    // Never again.
    for path in [
        paths::alert_destination(DEMO_WS, &id),
        paths::alert_destinations(DEMO_WS),
    ] {
        let text = app.get_as(OWNER, &path).await.text().await.unwrap();
        assert!(!text.contains(&secret) && !text.contains("whsec_"), "{path}: {text}");
    }
    let audit = app
        .get_as(OWNER, &paths::audit_events(DEMO_WS))
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(&secret[6..]));
    let dump = serde_json::to_string(&app.snapshot().await).unwrap();
    assert!(!dump.contains(&secret[6..]), "the table holds the secret sealed only");

    let d = send_test(&app, &id).await;
    until_status(&app, &d.id, "delivered").await;
    let got = rx.requests().pop().unwrap();
    assert_eq!(got.event_id, d.event_id);
    let ts: i64 = got.timestamp.parse().unwrap();
    assert!(
        (ts - now_ms() / 1000).abs() < 300,
        "a unix-seconds timestamp within the replay window"
    );
    assert_eq!(
        python_verifies(&secret, &got.timestamp, &got.body, &got.signature),
        [true]
    );
    let tampered = got.body.replace("\"test\"", "\"run.failed\"");
    assert_ne!(tampered, got.body);
    assert_eq!(
        python_verifies(&secret, &got.timestamp, &tampered, &got.signature),
        [false]
    );
    assert_eq!(
        python_verifies(&secret, &(ts + 1).to_string(), &got.body, &got.signature),
        [false],
        "the timestamp is signed too"
    );

    // Rotate: the new secret shown once; both sign during the grace period, the new one first.
    let res = app
        .post_as(
            OWNER,
            &paths::alert_destination_rotate(DEMO_WS, &id),
            json!({"grace_hours": 24}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: api::DestinationCreated = res.json().await.unwrap();
    let fresh = rotated.secret.unwrap();
    assert_ne!(fresh, secret);
    assert_eq!(rotated.destination.secret_version, 2);
    assert!(rotated.destination.previous_secret_until_ms.is_some());
    let d = send_test(&app, &id).await;
    until_status(&app, &d.id, "delivered").await;
    let got = rx.requests().pop().unwrap();
    assert_eq!(got.signature.matches("v1=").count(), 2, "{}", got.signature);
    assert_eq!(
        python_verifies(&fresh, &got.timestamp, &got.body, &got.signature),
        [true, false]
    );
    assert_eq!(
        python_verifies(&secret, &got.timestamp, &got.body, &got.signature),
        [false, true]
    );
    // The rotation is audited without either secret.
    let audit = app
        .get_as(OWNER, &paths::audit_events(DEMO_WS))
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("alert_destination.rotate_secret"));
    assert!(!audit.contains(&fresh[6..]) && !audit.contains(&secret[6..]));
    app.stop().await;
}

/// Bad input is a 400 naming each field and changes nothing; a snooze over 30 days is refused;
/// plain http is refused unless on loopback with the development flag; an outsider gets 404 and
/// a member without `alerts.manage` 403.
async fn refusals_are_self_explanatory_and_change_nothing(mode: Mode) {
    let app = atlas_tests::app::spawn_app(mode).await;
    let before = app.snapshot().await;
    let res = app
        .post_as(
            OWNER,
            &paths::alert_rules(DEMO_WS),
            json!({"name": "", "event_types": ["finding.exploded"], "min_severity": "urgent",
                   "environments": ["env-nowhere"], "destinations": ["nope"]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: Value = res.json().await.unwrap();
    let fields = texts(&p["errors"], "field");
    for f in [
        "name",
        "event_types[0]",
        "min_severity",
        "environments[0]",
        "destinations[0]",
    ] {
        assert!(fields.contains(&f), "{f} named: {p}");
    }
    let msg = p["errors"].to_string();
    assert!(
        msg.contains("finding.created"),
        "the allowed event types are listed: {msg}"
    );
    // https only (this stack does not allow http on loopback).
    let stack = &app;
    let refused = |url: &'static str| async move {
        let body = json!({"name": "Plain", "kind": "webhook", "url": url});
        let res = stack.post_as(OWNER, &paths::alert_destinations(DEMO_WS), body).await;
        assert_eq!(res.status(), 400, "{url}");
        let p: Value = res.json().await.unwrap();
        p["errors"][0]["message"].as_str().unwrap().to_owned()
    };
    let loopback = refused("http://127.0.0.1:9/hook").await;
    assert!(loopback.contains("ATLAS_ALERT_ALLOW_HTTP_LOOPBACK"), "{loopback}");
    assert!(refused("http://hooks.example.com/x").await.contains("https"));
    assert_eq!(app.snapshot().await, before, "refused input changes nothing");

    // A Teams destination: its URL sealed and shown masked.
    let teams_url = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t";
    let teams = destination(&app, "teams", teams_url).await;
    assert!(teams.secret.is_none());
    assert_eq!(
        teams.destination.url.as_deref(),
        Some("https://prod-01.westeurope.logic.azure.com/…")
    );
    let all = app
        .get_as(OWNER, &paths::alert_destinations(DEMO_WS))
        .await
        .text()
        .await
        .unwrap();
    assert!(!all.contains("s3cr3t"));
    assert!(!serde_json::to_string(&app.snapshot().await).unwrap().contains("s3cr3t"));

    let res = app
        .post_as(
            OWNER,
            &paths::alert_rules(DEMO_WS),
            json!({"name": "Runs", "event_types": ["run.failed"], "destinations": [teams.destination.id]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let rule: api::AlertRule = res.json().await.unwrap();
    let snooze = paths::alert_rule_snooze(DEMO_WS, &rule.id);
    let before = app.snapshot().await;
    let put = |body: Value, user: &'static str| app.req(reqwest::Method::PUT, &snooze, Some(user)).json(&body).send();
    let res = put(
        json!({"reason": "Quiet month", "until_ms": now_ms() + 31 * 86_400_000}),
        OWNER,
    )
    .await
    .unwrap();
    let (field, message) = first_error(res).await;
    assert_eq!(field, "until_ms");
    assert!(message.contains("30 days"), "{message}");
    let res = put(json!({"reason": " ", "until_ms": now_ms() + 86_400_000}), OWNER)
        .await
        .unwrap();
    assert_eq!(first_error(res).await.0, "reason");
    assert_eq!(app.snapshot().await, before, "a refused snooze changes nothing");
    let res = put(
        json!({"reason": "Quiet week", "until_ms": now_ms() + 7 * 86_400_000}),
        MANAGER,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);

    // 404 for an outsider, 403 for a member without alerts.manage; reads need workspace.view.
    let rule_path = paths::alert_rule(DEMO_WS, &rule.id);
    assert_eq!(app.get_as(OUTSIDER, &rule_path).await.status(), 404);
    assert_eq!(app.get_as(READONLY, &rule_path).await.status(), 200);
    let res = app.patch_as(OPERATOR, &rule_path, json!({"enabled": false})).await;
    assert_eq!(res.status(), 403);
    let res = app.delete_as(OUTSIDER, &rule_path).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.get_as(OWNER, &paths::alert_rule(DEMO_WS, "no-such-rule"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get_as(OWNER, &paths::alert_delivery(DEMO_WS, "no-such-delivery"))
            .await
            .status(),
        404
    );
    app.stop().await;
}

/// A run that ends failed reports `run.failed` in the same commit, and a rule for it delivers.
async fn a_failed_run_alerts(mode: Mode) {
    // No workers: the backup stays queued until the test ends it.
    let app = stack(mode, Duration::from_secs(3_600), false).await;
    let rx = Receiver::start(0).await;
    let dest = webhook(&app, &rx.url).await;
    let rule = json!({"name": "Runs", "event_types": ["run.failed", "run.blocked", "run.partial"], "destinations": [dest.destination.id]});
    assert_eq!(
        app.post_as(OWNER, &paths::alert_rules(DEMO_WS), rule).await.status(),
        201
    );
    let state = &app.app().state;
    let (_, env) = app.connected_env("env-alerts").await;
    let res = app.post_as(OWNER, &format!("{env}/backups"), json!({})).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let run: api::OperationRun = res.json().await.unwrap();
    atlas_app::runs::finish(
        state,
        &run.id,
        atlas_domain::RunOutcome::Failed,
        Some("Injected for the test.".into()),
    )
    .await
    .unwrap();
    let got = eventually("the run.failed alert", deadline(&app), || async {
        // No workers: the delivery is handed to its step here.
        app.deliver(QUEUE).await;
        rx.requests().into_iter().find(|r| r.body.contains(&run.id))
    })
    .await;
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["type"], "run.failed");
    assert_eq!(body["object"], format!("run/{}", run.id));
    assert_eq!(body["data"]["reason"], "Injected for the test.");
    assert!(
        body["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/operations/{}", run.id))
    );
    app.stop().await;
}

atlas_tests::on_both_backends!(
    retries_until_delivered_with_every_attempt_recorded,
    a_receiver_down_past_the_window_is_dead_lettered,
    rules_match_dedupe_and_snooze,
    signatures_verify_independently_and_the_secret_is_shown_once,
    refusals_are_self_explanatory_and_change_nothing,
    a_failed_run_alerts,
);
