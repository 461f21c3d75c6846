//! Exceptions (risk acceptance), the governance policy and SLA steps (spec 016): self-approval is
//! refused with the reason; the expiry is required and capped; an accepted value stays watched
//! (a change reopens); the expiry warns once, then reopens and reports once, even when two ticks
//! race; revoke reopens; SLA steps once each and again after a reopen.

use std::sync::Arc;
use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::findings::Detection;
use atlas_app::records::alerts::{AlertEventRecord, EVENTS};
use atlas_app::state::AppState;
use atlas_domain::alerts::AlertEventType;
use atlas_domain::findings::{ExceptionStatus, FindingStatus, Severity};
use atlas_store::{ManualClock, Query};
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, demo_ws_pk, spawn_app};
use atlas_tests::findings::drift_detection;
use serde_json::{Value, json};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const ENV: &str = "env-contoso";

fn detection(object: &str, severity: Severity, current: Value, changed_by: Option<&str>) -> Detection {
    let mut d = drift_detection(ENV, "deviceConfigurations", object, severity, current);
    d.changed_by = changed_by.map(str::to_owned);
    d
}

/// One detection pass over the family, as `drift.detect` would run it.
async fn detect(state: &AppState, ds: Vec<Detection>) -> atlas_app::findings::Observed {
    atlas_tests::findings::detect(state, DEMO_WS, ENV, "deviceConfigurations", ds).await
}

async fn finding(app: &TestApp, id: &str) -> api::FindingDetail {
    let res = app.get_as(OWNER, &paths::finding(DEMO_WS, id)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn exception(app: &TestApp, id: &str) -> api::ExceptionDetail {
    let res = app.get_as(OWNER, &paths::exception(DEMO_WS, id)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The alert events reported so far, of one type.
async fn reported(state: &AppState, kind: AlertEventType) -> Vec<AlertEventRecord> {
    let q = Query::partition(demo_ws_pk()).begins_with(EVENTS);
    let all: Vec<AlertEventRecord> = atlas_app::records::query_all(&state.table, q).await.unwrap();
    all.into_iter().filter(|e| e.kind == kind).collect()
}

async fn request(app: &TestApp, user: &str, finding: &str, body: Value) -> (u16, Value) {
    let res = app
        .post_as(user, &paths::finding_exceptions(DEMO_WS, finding), body)
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn decide(app: &TestApp, user: &str, path: &str, reason: Option<&str>) -> (u16, Value) {
    let res = app.post_as(user, path, json!({"reason": reason})).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn now_ms() -> i64 {
    atlas_app::exceptions::days_from_now(0)
}

/// The app's state on a clock the test moves, starting now.
fn on_manual_clock(app: &TestApp) -> (AppState, ManualClock) {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let mut state = app.app().state.clone();
    state.clock = Arc::new(clock.clone());
    (state, clock)
}

fn ms(d: i64) -> Duration {
    Duration::from_millis(d as u64)
}

async fn request_approve_and_watch(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let d = detection("kiosk", Severity::High, json!(6), None);
    let id = d.fingerprint();
    assert_eq!(detect(&state, vec![d.clone()]).await.opened, 1);
    let created = reported(&state, AlertEventType::FindingCreated).await;
    assert_eq!(created.len(), 1, "an opened finding is reported once");
    assert_eq!(created[0].severity, Some(Severity::High));
    assert!(created[0].link.ends_with(&format!("/findings/{id}")));
    // A due date from the default policy (high: 7 days) is stored with the finding.
    let f = finding(&app, &id).await.finding;
    let due = f.due_ms.expect("a high finding has a due date");
    assert!((due - (now_ms() + 7 * DAY_MS)).abs() < 60_000, "due in 7 days");

    // Bad requests change nothing: no expiry in the future, beyond the cap, no justification.
    let cases = [
        (
            json!({"justification": "x", "expires_ms": now_ms() - 1000}),
            "expires_ms",
        ),
        (
            json!({"justification": "x", "expires_ms": now_ms() + 91 * DAY_MS}),
            "expires_ms",
        ),
        (
            json!({"justification": "  ", "expires_ms": now_ms() + DAY_MS}),
            "justification",
        ),
        (
            json!({"justification": "x", "ticket_url": "javascript:alert(1)", "expires_ms": now_ms() + DAY_MS}),
            "ticket_url",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = request(&app, MANAGER, &id, body).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, problem) = request(
        &app,
        MANAGER,
        &id,
        json!({"justification": "x", "expires_ms": now_ms() + 91 * DAY_MS}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        problem["errors"][0]["message"].as_str().unwrap().contains("90 days"),
        "the cap is named: {problem}"
    );
    let list: api::ExceptionList = app
        .get_as(OWNER, &paths::exceptions(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert!(list.items.is_empty(), "a refused request writes nothing");
    // Readonly members cannot request; outsiders do not see the finding.
    let ok = json!({"justification": "Kiosks are replaced in Q3", "ticket_url": "https://tickets.example.com/CHG-7", "expires_ms": now_ms() + 30 * DAY_MS});
    assert_eq!(request(&app, READONLY, &id, ok.clone()).await.0, 403);
    assert_eq!(request(&app, OUTSIDER, &id, ok.clone()).await.0, 404);

    let (status, e) = request(&app, MANAGER, &id, ok.clone()).await;
    assert_eq!(status, 201, "{e}");
    let e: api::Exception = serde_json::from_value(e).unwrap();
    assert_eq!(e.state, ExceptionStatus::Requested);
    assert_eq!(e.requested_by, MANAGER);
    // One at a time per finding.
    assert_eq!(request(&app, OPERATOR, &id, ok.clone()).await.0, 409);

    // The requester cannot approve it: 403 with the reason; an operator lacks the capability.
    let approve = paths::exception_approve(DEMO_WS, &e.id);
    let (status, problem) = decide(&app, MANAGER, &approve, None).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("another member"),
        "self-approval says why: {problem}"
    );
    assert_eq!(decide(&app, OPERATOR, &approve, None).await.0, 403);
    assert_eq!(
        finding(&app, &id).await.finding.state,
        FindingStatus::New,
        "nothing moved"
    );

    let (status, approved) = decide(&app, OWNER, &approve, Some("Kiosk VLAN is isolated")).await;
    assert_eq!(status, 200, "{approved}");
    let detail = finding(&app, &id).await;
    assert_eq!(detail.finding.state, FindingStatus::RiskAccepted);
    assert_eq!(detail.exceptions.len(), 1);
    assert_eq!(detail.exceptions[0].state, ExceptionStatus::Active);
    assert_eq!(detail.exceptions[0].decided_by.as_deref(), Some(OWNER));
    assert_eq!(
        detail.exceptions[0].pinned,
        Some(json!(6)),
        "the accepted value is pinned"
    );
    assert_eq!(decide(&app, OWNER, &approve, None).await.0, 409, "approved once");

    // The same value seen again: still accepted, one more sighting.
    let again = detect(&state, vec![d.clone()]).await;
    assert_eq!((again.updated, again.reopened), (1, 0));
    assert_eq!(finding(&app, &id).await.finding.state, FindingStatus::RiskAccepted);

    // Someone lowers it further: the acceptance does not cover that. The finding reopens with a
    // new due date, the exception is voided, and the reopening is reported.
    let worse = detection("kiosk", Severity::High, json!(4), Some("mallory@contoso.test"));
    assert_eq!(detect(&state, vec![worse]).await.reopened, 1);
    let detail = finding(&app, &id).await;
    assert_eq!(detail.finding.state, FindingStatus::Reopened);
    assert_eq!(detail.finding.current, Some(json!(4)));
    let ex = exception(&app, &e.id).await;
    assert_eq!(ex.exception.state, ExceptionStatus::Voided);
    assert_eq!(ex.exception.ended_by.as_deref(), Some("mallory@contoso.test"));
    let kinds: Vec<&str> = ex.history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["requested", "approved", "voided"]);
    let reopened = reported(&state, AlertEventType::FindingReopened).await;
    assert_eq!(reopened.len(), 1);
    assert!(
        reopened[0].data["reason"]
            .as_str()
            .unwrap()
            .contains("changed after its risk was accepted")
    );
    // The finding is free for a new request again.
    assert_eq!(request(&app, MANAGER, &id, ok).await.0, 201);
    // The audit log answers who accepted it, when and why.
    let audit: Value = app
        .get_as(
            OWNER,
            &format!("{}?action=exception.approve", paths::audit_events(DEMO_WS)),
        )
        .await
        .json()
        .await
        .unwrap();
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{audit}");
    assert_eq!(items[0]["actor_email"], OWNER, "{audit}");
    assert_eq!(items[0]["metadata"]["requested_by"], MANAGER);
    app.stop().await;
}

async fn expiry_warns_once_then_reopens(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let d = detection("edge", Severity::Medium, json!(8), None);
    let id = d.fingerprint();
    detect(&state, vec![d]).await;
    let body = json!({"justification": "Vendor fix pending", "expires_ms": now_ms() + 10 * DAY_MS});
    let (_, e) = request(&app, OPERATOR, &id, body).await;
    let e: api::Exception = serde_json::from_value(e).unwrap();
    let (status, _) = decide(&app, MANAGER, &paths::exception_approve(DEMO_WS, &e.id), None).await;
    assert_eq!(status, 200);
    assert_eq!(e.warn_at_ms, e.expires_ms - 7 * DAY_MS, "the warning is 7 days ahead");

    let (later, clock) = on_manual_clock(&app);
    // Before the warning: nothing to do.
    clock.advance(ms(2 * DAY_MS));
    assert_eq!(atlas_app::exceptions::sweep(&later).await.unwrap().warned, 0);
    // Past the warning time: two ticks at once warn once.
    clock.advance(ms(2 * DAY_MS));
    let (a, b) = tokio::join!(
        atlas_app::exceptions::sweep(&later),
        atlas_app::exceptions::sweep(&later)
    );
    assert_eq!(a.unwrap().warned + b.unwrap().warned, 1, "one warning");
    assert_eq!(reported(&state, AlertEventType::ExceptionExpiring).await.len(), 1);
    assert_eq!(atlas_app::exceptions::sweep(&later).await.unwrap().warned, 0);
    assert_eq!(finding(&app, &id).await.finding.state, FindingStatus::RiskAccepted);

    // Past the expiry: the finding reopens and the expiry is reported, once.
    clock.advance(ms(7 * DAY_MS));
    let (a, b) = tokio::join!(
        atlas_app::exceptions::sweep(&later),
        atlas_app::exceptions::sweep(&later)
    );
    assert_eq!(a.unwrap().expired + b.unwrap().expired, 1, "one expiry");
    assert_eq!(atlas_app::exceptions::sweep(&later).await.unwrap().expired, 0);
    let detail = finding(&app, &id).await;
    assert_eq!(detail.finding.state, FindingStatus::Reopened);
    let last = detail.history.last().unwrap();
    assert_eq!(last.reason.as_deref(), Some("its exception expired"));
    let ex = exception(&app, &e.id).await;
    assert_eq!(ex.exception.state, ExceptionStatus::Expired);
    let kinds: Vec<&str> = ex.history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["requested", "approved", "expiring", "expired"]);
    let expired = reported(&state, AlertEventType::ExceptionExpired).await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].data["finding_id"], json!(id));
    // A request never approved simply expires, freeing its finding.
    let body = json!({"justification": "Again", "expires_ms": now_ms() + DAY_MS});
    let (status, again) = request(&app, OPERATOR, &id, body).await;
    assert_eq!(status, 201, "{again}");
    clock.advance(ms(2 * DAY_MS));
    atlas_app::exceptions::sweep(&later).await.unwrap();
    let again = exception(&app, again["id"].as_str().unwrap()).await;
    assert_eq!(again.exception.state, ExceptionStatus::Expired);
    assert!(finding(&app, &id).await.finding.state.is_open());
    app.stop().await;
}

async fn revoke_reopens_and_requesters_withdraw(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let d = detection("laptops", Severity::Low, json!(10), None);
    let id = d.fingerprint();
    detect(&state, vec![d]).await;
    let body = json!({"justification": "Pilot ring", "expires_ms": now_ms() + 20 * DAY_MS});
    let (_, e) = request(&app, OPERATOR, &id, body.clone()).await;
    let eid = e["id"].as_str().unwrap().to_owned();
    let revoke = paths::exception_revoke(DEMO_WS, &eid);
    assert_eq!(
        decide(&app, OPERATOR, &revoke, None).await.0,
        400,
        "a reason is required"
    );
    // The requester withdraws their own request.
    let (status, w) = decide(&app, OPERATOR, &revoke, Some("opened by mistake")).await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["state"], "withdrawn");
    // A new request, approved; the operator may not revoke an accepted risk, a manager may.
    let (_, e) = request(&app, OPERATOR, &id, body).await;
    let eid = e["id"].as_str().unwrap().to_owned();
    let reject = paths::exception_reject(DEMO_WS, &eid);
    assert_eq!(
        decide(&app, MANAGER, &reject, None).await.0,
        400,
        "a rejection says why"
    );
    decide(&app, MANAGER, &paths::exception_approve(DEMO_WS, &eid), None).await;
    let revoke = paths::exception_revoke(DEMO_WS, &eid);
    let (status, problem) = decide(&app, OPERATOR, &revoke, Some("no longer needed")).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(finding(&app, &id).await.finding.state, FindingStatus::RiskAccepted);
    let (status, r) = decide(&app, MANAGER, &revoke, Some("the pilot ended")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["state"], "revoked");
    assert_eq!(finding(&app, &id).await.finding.state, FindingStatus::Reopened);
    // A rejected request leaves the finding as it was, free for another request.
    let body = json!({"justification": "Third time", "expires_ms": now_ms() + 5 * DAY_MS});
    let (_, e) = request(&app, OPERATOR, &id, body.clone()).await;
    let reject = paths::exception_reject(DEMO_WS, e["id"].as_str().unwrap());
    let (status, r) = decide(&app, MANAGER, &reject, Some("fix it instead")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(finding(&app, &id).await.finding.state, FindingStatus::Reopened);
    let (_, e) = request(&app, OPERATOR, &id, body).await;
    // Closing the finding withdraws its pending request.
    let triage = json!({"ids": [id], "state": "resolved", "reason": "fixed in the tenant"});
    let res = app.post_as(OPERATOR, &paths::findings_triage(DEMO_WS), triage).await;
    assert_eq!(res.status(), 200);
    let pending = exception(&app, e["id"].as_str().unwrap()).await;
    assert_eq!(pending.exception.state, ExceptionStatus::Withdrawn);
    // Filters: by status, and only the member's environments.
    let list: api::ExceptionList = app
        .get_as(OWNER, &format!("{}?state=revoked", paths::exceptions(DEMO_WS)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let res = app
        .get_as(OWNER, &format!("{}?state=forever", paths::exceptions(DEMO_WS)))
        .await;
    assert_eq!(res.status(), 400);
    app.stop().await;
}

async fn sla_steps_once_each_and_again_after_reopen(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let d = detection("servers", Severity::Critical, json!(0), None);
    let id = d.fingerprint();
    detect(&state, vec![d.clone()]).await;
    let (later, clock) = on_manual_clock(&app);
    // Critical is due in 1 day; managers are told 3 days later.
    clock.advance(ms(DAY_MS - 60_000));
    assert_eq!(atlas_app::exceptions::sweep(&later).await.unwrap().sla_steps, 0);
    clock.advance(ms(2 * 60_000));
    let (a, b) = tokio::join!(
        atlas_app::exceptions::sweep(&later),
        atlas_app::exceptions::sweep(&later)
    );
    assert_eq!(a.unwrap().sla_steps + b.unwrap().sla_steps, 1, "the owner step once");
    let breached = reported(&state, AlertEventType::FindingSlaBreached).await;
    assert_eq!(breached.len(), 1);
    assert_eq!(breached[0].data["escalation"], "owner");
    clock.advance(ms(3 * DAY_MS));
    assert_eq!(atlas_app::exceptions::sweep(&later).await.unwrap().sla_steps, 1);
    assert_eq!(
        atlas_app::exceptions::sweep(&later).await.unwrap().sla_steps,
        0,
        "no third step"
    );
    let breached = reported(&state, AlertEventType::FindingSlaBreached).await;
    assert_eq!(breached.len(), 2);
    assert!(breached.iter().any(|b| b.data["escalation"] == "managers"));
    // Resolved, then seen again: a new opening, a new due date, the steps start over.
    let resolve = json!({"ids": [id], "state": "resolved", "reason": "fixed"});
    assert_eq!(
        app.post_as(OWNER, &paths::findings_triage(DEMO_WS), resolve)
            .await
            .status(),
        200
    );
    assert_eq!(
        atlas_app::exceptions::sweep(&later).await.unwrap().sla_steps,
        0,
        "closed: off the index"
    );
    assert_eq!(detect(&later, vec![d]).await.reopened, 1);
    let f = finding(&app, &id).await.finding;
    assert!(
        f.due_ms.unwrap() > now_ms() + 4 * DAY_MS,
        "the new due date counts from the reopening"
    );
    clock.advance(ms(DAY_MS + 60_000));
    assert_eq!(atlas_app::exceptions::sweep(&later).await.unwrap().sla_steps, 1);
    assert_eq!(reported(&state, AlertEventType::FindingSlaBreached).await.len(), 3);
    app.stop().await;
}

async fn governance_policy_caps_and_validates(mode: Mode) {
    let app = spawn_app(mode).await;
    let path = paths::governance_policy(DEMO_WS);
    let p: api::GovernancePolicy = app.get_as(READONLY, &path).await.json().await.unwrap();
    assert_eq!(
        (p.exception_max_days, p.exception_warn_days, p.sla.high_days),
        (90, 7, 7)
    );
    let put = |user: &'static str, body: Value| {
        let app = &app;
        let path = path.clone();
        async move {
            let res = app
                .req(reqwest::Method::PUT, &path, Some(user))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut bad = serde_json::to_value(p).unwrap();
    bad["exception_max_days"] = json!(0);
    bad["sla"]["low_days"] = json!(1000);
    let (status, problem) = put(OWNER, bad).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"exception_max_days") && fields.contains(&"sla.low_days"),
        "{problem}"
    );
    let mut shorter = serde_json::to_value(p).unwrap();
    shorter["exception_max_days"] = json!(30);
    assert_eq!(put(MANAGER, shorter.clone()).await.0, 403, "the owner sets the policy");
    let (status, saved) = put(OWNER, shorter).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["exception_max_days"], 30);
    // The new cap applies to the next request.
    let state = app.app().state.clone();
    let d = detection("phones", Severity::Medium, json!(1), None);
    detect(&state, vec![d.clone()]).await;
    let body = json!({"justification": "x", "expires_ms": now_ms() + 31 * DAY_MS});
    let (status, problem) = request(&app, OPERATOR, &d.fingerprint(), body).await;
    assert_eq!(status, 400);
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("30 days"));
    app.stop().await;
}

atlas_tests::on_both_backends!(
    request_approve_and_watch,
    expiry_warns_once_then_reopens,
    revoke_reopens_and_requesters_withdraw,
    sla_steps_once_each_and_again_after_reopen,
    governance_policy_caps_and_validates,
);
