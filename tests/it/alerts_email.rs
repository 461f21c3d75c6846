//! Alerts (spec 016, ADR 0029): email destinations — delivered to a real SMTP server started by
//! the test (`aiosmtpd`), or written to the workspace's outbox when no SMTP URL is configured —
//! and the public-only rule for webhook and Teams targets, at create and again at send.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::alerts::deliver::QUEUE;
use atlas_app::config::SmtpUrl;
use atlas_app::records::Record;
use atlas_app::records::alerts::AlertDestinationRecord;
use atlas_domain::WorkspaceId;
use atlas_domain::alerts::DestinationKind;
use atlas_tests::TempDir;
use atlas_tests::app::{DEMO_WS, Mode, OUTSIDER, OWNER, TestApp, eventually};
use atlas_tests::smtp::SmtpSink;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// A stack with a fast backoff and `window`; `smtp` as given; plain http on loopback allowed
/// when `loopback`; `outbox` false takes the outbox away (AWS without SMTP).
async fn stack(
    mode: Mode,
    smtp: Option<String>,
    loopback: bool,
    outbox: bool,
    window: Duration,
    workers: bool,
) -> TestApp {
    let dir = TempDir::new();
    let mut c = atlas_tests::app::config(mode, &dir);
    c.alerts.allow_http_loopback = loopback;
    c.alerts.retry_base = Duration::from_millis(200);
    c.alerts.retry_window = window;
    c.alerts.smtp = smtp.map(|u| SmtpUrl::parse(&u).unwrap());
    c.alerts.from = "TenantAtlas Alerts <alerts@atlas.example>".into();
    if !outbox {
        c.alerts.outbox_dir = None;
    }
    c.run_workers = workers;
    atlas_tests::app::spawn_with(c, dir).await
}

fn hour() -> Duration {
    Duration::from_secs(3_600)
}

async fn email_destination(app: &TestApp, as_user: &str, ws: &str, to: &[&str]) -> api::DestinationCreated {
    let body = json!({"name": "SOC mailbox", "kind": "email", "recipients": to});
    let res = app.post_as(as_user, &paths::alert_destinations(ws), body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

async fn send_test(app: &TestApp, as_user: &str, ws: &str, dest: &str) -> api::AlertDelivery {
    let res = app
        .post_as(as_user, &paths::alert_destination_test(ws, dest), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

async fn delivery(app: &TestApp, as_user: &str, ws: &str, id: &str) -> api::AlertDeliveryDetail {
    let res = app.get_as(as_user, &paths::alert_delivery(ws, id)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn until_status(app: &TestApp, as_user: &str, ws: &str, id: &str, status: &str) -> api::AlertDeliveryDetail {
    eventually(&format!("delivery {id} to be {status}"), app.run_deadline(), || async {
        let d = delivery(app, as_user, ws, id).await;
        (d.delivery.state == status).then_some(d)
    })
    .await
}

/// Until the delivery has at least one attempt.
async fn first_attempt(app: &TestApp, id: &str) -> api::AlertDeliveryDetail {
    eventually(
        &format!("delivery {id} to be attempted"),
        app.run_deadline(),
        || async {
            let d = delivery(app, OWNER, DEMO_WS, id).await;
            (!d.attempts.is_empty()).then_some(d)
        },
    )
    .await
}

/// A header's value in a raw RFC 5322 message (unfolded).
fn header(data: &str, name: &str) -> Option<String> {
    let head = data.split("\r\n\r\n").next().unwrap_or(data);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The message's body, quoted-printable soft breaks undone.
fn body_text(data: &str) -> String {
    let body = data.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    body.replace("=\r\n", "").replace("=3D", "=")
}

/// An email destination with an SMTP URL: the test event reaches a real SMTP server with both
/// recipients, the subject and the event id; the attempt says `smtp 250` with the server's
/// reply; a redelivery is the same message (the same Message-ID).
async fn email_is_delivered_over_smtp(mode: Mode) {
    let sink = SmtpSink::start();
    let app = stack(mode, Some(sink.url()), false, true, hour(), true).await;
    let dest = email_destination(&app, OWNER, DEMO_WS, &["soc@example.com", " oncall@example.org "]).await;
    assert_eq!(dest.destination.kind, "email");
    assert_eq!(dest.destination.recipients, ["soc@example.com", "oncall@example.org"]);
    assert!(dest.secret.is_none() && !dest.destination.secret_set);
    let d = send_test(&app, OWNER, DEMO_WS, &dest.destination.id).await;
    let done = until_status(&app, OWNER, DEMO_WS, &d.id, "delivered").await;
    assert_eq!(done.attempts.len(), 1, "{done:?}");
    let a = &done.attempts[0];
    assert!(a.ok && a.http_status.is_none());
    assert_eq!(a.result.as_deref(), Some("smtp 250"));
    assert!(
        a.response.starts_with("250") && a.response.contains("queued as sink-1"),
        "{a:?}"
    );
    let got = eventually("the message at the SMTP server", app.run_deadline(), || async {
        sink.received().into_iter().next()
    })
    .await;
    let mut rcpts = got.rcpt_tos.clone();
    rcpts.sort();
    assert_eq!(rcpts, ["oncall@example.org", "soc@example.com"]);
    assert_eq!(got.mail_from, "alerts@atlas.example");
    let subject = header(&got.data, "Subject").unwrap();
    assert_eq!(subject, "[test] Test alert for \"SOC mailbox\"");
    let event_id = done.delivery.event_id.clone();
    let message_id = header(&got.data, "Message-ID").unwrap();
    assert_eq!(
        message_id,
        format!("<{}.alert@atlas.example>", event_id.to_ascii_lowercase())
    );
    assert!(body_text(&got.data).contains(&event_id), "{}", got.data);
    assert!(header(&got.data, "To").unwrap().contains("soc@example.com"));

    // Redeliver: the same message again (the same Message-ID), a second attempt series.
    let res = app
        .post_as(OWNER, &paths::alert_delivery_redeliver(DEMO_WS, &d.id), json!({}))
        .await;
    assert_eq!(res.status(), 202);
    let second = eventually("the redelivered message", app.run_deadline(), || async {
        sink.received().get(1).cloned()
    })
    .await;
    assert_eq!(header(&second.data, "Message-ID").unwrap(), message_id);
    let again = until_status(&app, OWNER, DEMO_WS, &d.id, "delivered").await;
    assert_eq!(again.delivery.series, 1);
    // The SMTP URL (it may hold a password) is in no answer and no audit event.
    for path in [paths::audit_events(DEMO_WS), paths::alert_delivery(DEMO_WS, &d.id)] {
        let text = app.get_as(OWNER, &path).await.text().await.unwrap();
        assert!(!text.contains("smtp://"), "{path}: {text}");
    }
    app.stop().await;
}

/// No SMTP URL: the message is written to `<data dir>/outbox/<delivery id>.eml` (whole, no
/// temporary file left) and the attempt says `outbox`; the outbox route lists it for its own
/// workspace only — another workspace's member gets 404, and their workspace lists only theirs.
async fn without_smtp_email_goes_to_the_workspace_outbox(mode: Mode) {
    let app = stack(mode, None, false, true, hour(), true).await;
    let dest = email_destination(&app, OWNER, DEMO_WS, &["soc@example.com"]).await;
    let d = send_test(&app, OWNER, DEMO_WS, &dest.destination.id).await;
    let done = until_status(&app, OWNER, DEMO_WS, &d.id, "delivered").await;
    assert_eq!(done.attempts[0].result.as_deref(), Some("outbox"));
    let outbox_dir = app.dir.0.join("data/outbox");
    let file = outbox_dir.join(format!("{}.eml", d.id));
    let data = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(
        header(&data, "Subject").unwrap(),
        "[test] Test alert for \"SOC mailbox\""
    );
    assert!(body_text(&data).contains(&d.event_id));
    let names: Vec<String> = std::fs::read_dir(&outbox_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{}.eml", d.id)], "no temporary file is left");

    let list: api::AlertOutboxList = app
        .get_as(OWNER, &paths::alert_outbox(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let m = &list.items[0];
    assert_eq!(m.delivery_id, d.id);
    assert_eq!(m.to, ["soc@example.com"]);
    assert_eq!(m.subject, "[test] Test alert for \"SOC mailbox\"");
    assert!(m.body.contains(&d.event_id) && m.at_ms > 0);
    assert_eq!(m.message_id, header(&data, "Message-ID").unwrap());

    // Another workspace: its member sees only its own outbox, and not this one.
    let res = app
        .post_as(
            OUTSIDER,
            &paths::workspaces(),
            json!({"name": "Other MSP", "slug": "other-msp"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let other: Value = res.json().await.unwrap();
    let other = other["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_as(OUTSIDER, &paths::alert_outbox(DEMO_WS)).await.status(),
        StatusCode::NOT_FOUND
    );
    let theirs: api::AlertOutboxList = app
        .get_as(OUTSIDER, &paths::alert_outbox(&other))
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs.items.is_empty(), "{theirs:?}");
    let od = email_destination(&app, OUTSIDER, &other, &["noc@other.test"]).await;
    let sent = send_test(&app, OUTSIDER, &other, &od.destination.id).await;
    until_status(&app, OUTSIDER, &other, &sent.id, "delivered").await;
    let theirs: api::AlertOutboxList = app
        .get_as(OUTSIDER, &paths::alert_outbox(&other))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs.items.iter().map(|m| m.delivery_id.as_str()).collect::<Vec<_>>(),
        [sent.id.as_str()]
    );
    let ours: api::AlertOutboxList = app
        .get_as(OWNER, &paths::alert_outbox(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ours.items.iter().map(|m| m.delivery_id.as_str()).collect::<Vec<_>>(),
        [d.id.as_str()]
    );
    assert_eq!(
        app.get_as(OWNER, &paths::alert_outbox(&other)).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

/// Neither an SMTP URL nor an outbox (AWS without `SmtpUrl`): an email destination is refused
/// with a field error that says what to configure, and nothing is written.
async fn email_without_smtp_or_outbox_is_refused(mode: Mode) {
    let app = stack(mode, None, false, false, hour(), false).await;
    let before = app.snapshot().await;
    let res = app
        .post_as(
            OWNER,
            &paths::alert_destinations(DEMO_WS),
            json!({"name": "SOC", "kind": "email", "recipients": ["soc@example.com"]}),
        )
        .await;
    let (field, message) = first_error(res).await;
    assert_eq!(field, "kind");
    assert!(
        message.contains("ATLAS_SMTP_URL") && message.contains("SES"),
        "{message}"
    );
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

/// An SMTP server that is down: every attempt fails (recorded with the error), retried with
/// backoff until the window ends, then the delivery fails like a webhook's.
async fn a_down_smtp_server_is_retried_then_failed(mode: Mode) {
    let port = atlas_tests::moto::free_port();
    let app = stack(
        mode,
        Some(format!("smtp://127.0.0.1:{port}")),
        false,
        true,
        Duration::from_secs(2),
        false,
    )
    .await;
    let dest = email_destination(&app, OWNER, DEMO_WS, &["soc@example.com"]).await;
    let d = send_test(&app, OWNER, DEMO_WS, &dest.destination.id).await;
    let failed = eventually("the email delivery to fail", app.run_deadline(), || async {
        app.deliver(QUEUE).await;
        let v = delivery(&app, OWNER, DEMO_WS, &d.id).await;
        (v.delivery.state == "failed").then_some(v)
    })
    .await;
    assert!(failed.attempts.len() >= 2, "{failed:?}");
    assert!(
        failed
            .attempts
            .iter()
            .all(|a| !a.ok && a.error.as_deref().unwrap().contains("SMTP"))
    );
    let reason = failed.delivery.reason.unwrap();
    assert!(reason.contains("retry window") && reason.contains("SMTP"), "{reason}");
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

/// Webhook and Teams URLs that lead to private, loopback, link-local (the metadata service),
/// unique-local, multicast or unspecified addresses, or carry credentials, are refused at create
/// and at patch with a field error, and nothing is written; bad recipients likewise.
async fn private_targets_are_refused_at_create(mode: Mode) {
    let app = stack(mode, None, false, true, hour(), false).await;
    let before = app.snapshot().await;
    for (kind, url, want) in [
        (
            "webhook",
            "https://10.0.0.5/hook",
            "resolves to a private address (10.0.0.5); alert targets must be public",
        ),
        (
            "webhook",
            "https://169.254.169.254/latest/meta-data/",
            "resolves to a link-local address (169.254.169.254)",
        ),
        (
            "teams",
            "https://[fd00::5]/workflows",
            "resolves to a unique-local address (fd00::5)",
        ),
        (
            "webhook",
            "https://[::ffff:192.168.1.10]/x",
            "resolves to a private address",
        ),
        (
            "webhook",
            "https://127.0.0.1/hook",
            "resolves to a loopback address (127.0.0.1)",
        ),
        ("webhook", "https://0.0.0.0/hook", "resolves to a unspecified address"),
        ("teams", "https://224.0.0.1/x", "resolves to a multicast address"),
        (
            "webhook",
            "https://user:pw@hooks.example.com/x",
            "must not carry credentials",
        ),
    ] {
        let res = app
            .post_as(
                OWNER,
                &paths::alert_destinations(DEMO_WS),
                json!({"name": "Target", "kind": kind, "url": url}),
            )
            .await;
        let (field, message) = first_error(res).await;
        assert_eq!(field, "url", "{url}");
        assert!(message.contains(want), "{url}: {message}");
    }
    for (body, field) in [
        (json!({"name": "M", "kind": "email", "recipients": []}), "recipients"),
        (
            json!({"name": "M", "kind": "email", "recipients": ["ok@example.com", "not an address"]}),
            "recipients[1]",
        ),
        (
            json!({"name": "M", "kind": "email", "recipients": (0..21).map(|i| format!("u{i}@example.com")).collect::<Vec<_>>()}),
            "recipients",
        ),
        (
            json!({"name": "M", "kind": "email", "recipients": ["a@example.com"], "url": "https://x.example.com"}),
            "url",
        ),
    ] {
        let res = app
            .post_as(OWNER, &paths::alert_destinations(DEMO_WS), body.clone())
            .await;
        assert_eq!(first_error(res).await.0, field, "{body}");
    }
    assert_eq!(app.snapshot().await, before, "refused targets write nothing");

    // A public-looking name is accepted (send time checks what it resolves to then); a patch to
    // a private address is refused and changes nothing.
    let res = app
        .post_as(
            OWNER,
            &paths::alert_destinations(DEMO_WS),
            json!({"name": "SOC", "kind": "webhook", "url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: api::DestinationCreated = res.json().await.unwrap();
    let before = app.snapshot().await;
    let res = app
        .patch_as(
            OWNER,
            &paths::alert_destination(DEMO_WS, &created.destination.id),
            json!({"url": "https://192.168.0.1/hook"}),
        )
        .await;
    let (field, message) = first_error(res).await;
    assert_eq!(
        (field.as_str(), message.contains("192.168.0.1")),
        ("url", true),
        "{message}"
    );
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

/// A receiver on loopback counting requests; `status` and `location` make its answer.
struct Counter {
    url: String,
    hits: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Counter {
    async fn start(status: StatusCode, location: Option<String>) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let (h, location) = (h.clone(), location.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let mut headers = axum::http::HeaderMap::new();
                    if let Some(l) = location {
                        headers.insert("location", l.parse().unwrap());
                    }
                    (status, headers, "moved")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, hits, _task: task }
    }
}

/// A 3xx answer is a failed attempt recorded with its status; the redirect is not followed.
async fn a_redirect_is_a_failed_attempt_and_not_followed(mode: Mode) {
    let app = stack(mode, None, true, true, hour(), true).await;
    let elsewhere = Counter::start(StatusCode::OK, None).await;
    let mover = Counter::start(StatusCode::FOUND, Some(elsewhere.url.clone())).await;
    let res = app
        .post_as(
            OWNER,
            &paths::alert_destinations(DEMO_WS),
            json!({"name": "Mover", "kind": "webhook", "url": mover.url}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let dest: api::DestinationCreated = res.json().await.unwrap();
    let d = send_test(&app, OWNER, DEMO_WS, &dest.destination.id).await;
    let seen = first_attempt(&app, &d.id).await;
    let a = &seen.attempts[0];
    assert!(!a.ok);
    assert_eq!(a.http_status, Some(302));
    assert_eq!(a.result.as_deref(), Some("http 302"));
    assert!(
        a.error.as_deref().unwrap().contains("redirects are not followed"),
        "{a:?}"
    );
    assert_eq!(seen.delivery.state, "pending", "a redirect is retried like any failure");
    assert_eq!(mover.hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        elsewhere.hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
    app.stop().await;
}

/// A destination whose name resolves to a loopback address by the time it is sent to (here it
/// is written straight to the table, as if DNS had changed since create) is refused at send:
/// the attempt fails naming the address, and the receiver is never reached.
async fn send_time_check_refuses_a_target_that_now_resolves_privately(mode: Mode) {
    let app = stack(mode, None, false, true, hour(), true).await;
    let rx = Counter::start(StatusCode::OK, None).await;
    let url = rx.url.replace("127.0.0.1", "localhost");
    let state = &app.app().state;
    let now = state.clock.now_millis();
    let dest = AlertDestinationRecord {
        workspace_id: WorkspaceId::parse(DEMO_WS).unwrap(),
        destination_id: "rebound".into(),
        name: "Rebound".into(),
        kind: DestinationKind::Webhook,
        url: Some(url),
        sealed_url: None,
        url_hint: None,
        recipients: Vec::new(),
        secret: None,
        secret_version: 0,
        previous_secret: None,
        previous_until_ms: None,
        enabled: true,
        created_ms: now,
        created_by: OWNER.into(),
        updated_ms: now,
        version: 1,
    };
    state.table.transact(vec![dest.create()]).await.unwrap();
    let d = send_test(&app, OWNER, DEMO_WS, "rebound").await;
    let seen = first_attempt(&app, &d.id).await;
    let a = &seen.attempts[0];
    assert!(!a.ok && a.http_status.is_none(), "{a:?}");
    let error = a.error.as_deref().unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback address"),
        "{error}"
    );
    assert_eq!(rx.hits.load(Ordering::SeqCst), 0, "nothing reached the receiver");
    app.stop().await;
}

atlas_tests::on_both_backends!(
    email_is_delivered_over_smtp,
    without_smtp_email_goes_to_the_workspace_outbox,
    email_without_smtp_or_outbox_is_refused,
    a_down_smtp_server_is_retried_then_failed,
    private_targets_are_refused_at_create,
    a_redirect_is_a_failed_attempt_and_not_followed,
    send_time_check_refuses_a_target_that_now_resolves_privately,
);
