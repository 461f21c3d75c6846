//! Support intake (spec 025): a request from a failed run carries the run's context with its
//! secrets redacted, is saved before it is e-mailed to the support address over a real SMTP
//! server (`aiosmtpd`), is sent once however often its message is delivered, and the same
//! request within ten minutes is the first one. Outsiders and runs out of scope are 404s.

use std::time::Duration;

use atlas_api_types::paths;
use atlas_app::config::SmtpUrl;
use atlas_app::records::Record;
use atlas_app::records::runs::{Counts, OperationRun, RunItem, UnitResult};
use atlas_domain::{ItemResult, OperationType, RunOutcome, RunState, WorkspaceId};
use atlas_tests::TempDir;
use atlas_tests::app::{DEMO_WS, Mode, OUTSIDER, OWNER, READONLY, TestApp, eventually};
use atlas_tests::smtp::SmtpSink;
use serde_json::{Value, json};

const SECRET_KEY: &str = "SuperSecretAccountKey123==";
const CLIENT_SECRET: &str = "hunter2-client-secret";

async fn stack(mode: Mode, smtp: &SmtpSink, workers: bool) -> TestApp {
    let dir = TempDir::new();
    let mut c = atlas_tests::app::config(mode, &dir);
    c.alerts.smtp = Some(SmtpUrl::parse(&smtp.url()).unwrap());
    c.alerts.retry_base = Duration::from_millis(200);
    c.platform.support_address = "helpdesk@atlas.example".into();
    c.run_workers = workers;
    atlas_tests::app::spawn_with(c, dir).await
}

/// A failed backup run on `env` whose failed unit's error quotes a connection string and whose
/// detail holds a client secret, written as the steps would.
async fn failed_run(app: &TestApp, env: &str) -> String {
    let id = app.app().state.ids.next_id();
    let run = OperationRun {
        run_id: id.clone(),
        kind: OperationType::BackupCapture,
        workspace_id: DEMO_WS.into(),
        environment_id: Some(env.into()),
        initiator_id: "u-owner".into(),
        initiator_email: OWNER.into(),
        scheduled: false,
        queue: None,
        status: RunState::Completed,
        created_ms: 1,
        deadline_ms: 2,
        counts: Counts {
            total: 2,
            succeeded: 0,
            failed: 0,
            skipped: 0,
        },
        count_succeeded: 1,
        count_failed: 1,
        count_skipped: 0,
        read_units_milli: 0,
        write_units_milli: 0,
        outcome: Some(RunOutcome::Failed),
        reason: Some("1 of 2 families failed".into()),
        started_ms: Some(1),
        ended_ms: Some(2),
        gsi1pk: String::new(),
        gsi1sk: String::new(),
        deadline_on_lock: false,
    };
    // The two units as one message records them (ADR 0056): the second's detail, secrets and
    // all, rides in the first's record and must still be found and redacted.
    let units = vec![
        UnitResult {
            item: "deviceConfigurations".into(),
            result: ItemResult::Succeeded,
            detail: json!({"captured": 3}),
        },
        UnitResult {
            item: "deviceCompliancePolicies".into(),
            result: ItemResult::Failed,
            detail: json!({"error": format!("storage refused: DefaultEndpointsProtocol=https;AccountKey={SECRET_KEY}"),
                "clientSecret": CLIENT_SECRET}),
        },
    ];
    let record = RunItem::of_units(&id, units, 2).unwrap();
    let table = &app.app().state.table;
    table.put(run.to_item(), None).await.unwrap();
    table.put(record.to_item(), None).await.unwrap();
    id
}

async fn request(app: &TestApp, who: &str, body: Value) -> (u16, Value) {
    let res = app.post_as(who, &paths::support_requests(DEMO_WS), body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn from_run(run: &str, message: &str) -> Value {
    json!({"source_type": "operation_run", "issue_kind": "technical_problem", "run_id": run, "message": message})
}

async fn support_from_a_failed_run_is_emailed_once_with_secrets_redacted(mode: Mode) {
    let sink = SmtpSink::start();
    let app = stack(mode, &sink, true).await;
    let run = failed_run(&app, "env-contoso").await;
    let (s, created) = request(
        &app,
        READONLY,
        from_run(&run, "The backup failed, password=Hunter2 did not help"),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "received");
    assert_eq!(created["target"], format!("run/{run}"));
    assert_eq!(created["environment_id"], "env-contoso");
    let ctx = &created["context"];
    assert_eq!(ctx["run"]["id"], run.as_str());
    assert_eq!(ctx["run"]["counts"]["failed"], 1);
    assert_eq!(ctx["run"]["errors"][0]["item"], "deviceCompliancePolicies");
    assert_eq!(ctx["scope"]["role"], "readonly");
    assert_eq!(ctx["app_version"], atlas_app::VERSION);
    let text = created.to_string();
    for secret in [SECRET_KEY, CLIENT_SECRET, "Hunter2"] {
        assert!(!text.contains(secret), "{secret} leaked into the request: {text}");
    }
    assert!(text.contains("[redacted]"));

    // Delivered to the configured support address, once, with the run's context.
    let view = paths::support_request(DEMO_WS, &id);
    eventually("the request to be delivered", app.run_deadline(), || async {
        let v: Value = app.get_as(READONLY, &view).await.json().await.ok()?;
        (v["state"] == "delivered").then_some(())
    })
    .await;
    let got = sink.received();
    assert_eq!(got.len(), 1, "one e-mail");
    assert_eq!(got[0].rcpt_tos, ["helpdesk@atlas.example"]);
    let mail = got[0].data.replace("=\r\n", "").replace("=3D", "=");
    for want in [
        run.as_str(),
        id.as_str(),
        "deviceCompliancePolicies",
        "technical_problem",
        READONLY,
    ] {
        assert!(mail.contains(want), "{want} in the e-mail: {mail}");
    }
    for secret in [SECRET_KEY, CLIENT_SECRET, "Hunter2"] {
        assert!(!mail.contains(secret), "{secret} leaked into the e-mail");
    }

    // The same request again (case and spacing aside): the first one, no second e-mail.
    let (s, again) = request(
        &app,
        READONLY,
        from_run(&run, "the backup failed,   PASSWORD=Hunter2 did not help"),
    )
    .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["id"], id.as_str());
    // Another message is another request.
    let (s, other) = request(&app, READONLY, from_run(&run, "And the retry failed too")).await;
    assert_eq!(s, 201);
    assert_ne!(other["id"], id.as_str());
    eventually("the second request to be delivered", app.run_deadline(), || async {
        (sink.received().len() == 2).then_some(())
    })
    .await;

    // Mine are listed to me; the owner sees the workspace's; the operator sees none of them.
    let mine: Value = app
        .get_as(READONLY, &paths::support_requests(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let all: Value = app
        .get_as(OWNER, &paths::support_requests(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert_eq!(app.get_as("operator@demo.test", &view).await.status(), 404);
    let theirs: Value = app
        .get_as("operator@demo.test", &paths::support_requests(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));

    // Audited, and the audit event carries no secret either.
    let audit: Value = app
        .get_as(
            OWNER,
            &format!("{}?action=support.request.create", paths::audit_events(DEMO_WS)),
        )
        .await
        .json()
        .await
        .unwrap();
    let events = audit["items"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{audit}");
    assert!(events.iter().any(|e| e["target"] == format!("support-request/{id}")));
    assert_eq!(sink.received().len(), 2, "still one e-mail per request");
    app.stop().await;
}

async fn support_is_sent_once_across_redelivery_and_a_held_lease(mode: Mode) {
    let sink = SmtpSink::start();
    let app = stack(mode, &sink, false).await;
    let (s, created) = request(
        &app,
        OWNER,
        json!({"source_type": "access_denied", "issue_kind": "access_problem", "path": "/workspaces/ws-demo/audit", "message": "I cannot open the audit log"}),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["target"], "/workspaces/ws-demo/audit");
    let state = app.app().state.clone();
    let ws = WorkspaceId::parse(DEMO_WS).unwrap();
    let body = atlas_app::support::DeliverSupport::new(&ws, &id, 0).body();
    let key = atlas_app::records::support::request_key(&ws, &id);

    // Another copy holds the attempt (it was taken, then its process died): this copy waits.
    let now = state.clock.now_millis();
    let held = atlas_store::Update::new().set("lease_until_ms", now + 60_000);
    state.table.update(&key, &held, None).await.unwrap();
    let waited = atlas_app::support::deliver(&state, &body).await;
    assert!(
        matches!(waited, Err(atlas_app::error::ServiceError::Wait(_))),
        "{waited:?}"
    );
    assert!(sink.received().is_empty(), "nothing sent while another copy holds it");
    // The holder's lease runs out: the queued message (redelivered) sends, and then every further
    // copy of it finds the request delivered.
    let expired = atlas_store::Update::new().set("lease_until_ms", now - 1);
    state.table.update(&key, &expired, None).await.unwrap();
    assert_eq!(app.deliver_each(atlas_app::alerts::deliver::QUEUE, 3).await, 1);
    atlas_app::support::deliver(&state, &body).await.unwrap();
    assert_eq!(sink.received().len(), 1, "sent exactly once");
    let v: Value = app
        .get_as(OWNER, &paths::support_request(DEMO_WS, &id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "delivered");
    assert_eq!(v["status"], "ready");
    app.stop().await;
}

async fn support_refuses_bad_input_and_out_of_scope_targets(mode: Mode) {
    let sink = SmtpSink::start();
    let app = stack(mode, &sink, false).await;
    let before = app.snapshot().await.len();
    let (s, p) = request(
        &app,
        OWNER,
        json!({"source_type": "rumour", "issue_kind": "other", "message": " "}),
    )
    .await;
    assert_eq!(s, 400, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["source_type", "message"], "{p}");
    let (s, p) = request(
        &app,
        OWNER,
        json!({"source_type": "operation_run", "issue_kind": "other", "message": "x"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(p["errors"][0]["field"], "run_id");
    assert_eq!(app.snapshot().await.len(), before, "bad input changes nothing");

    // A Fabrikam run for the member entitled to Contoso only, and a run that does not exist:
    // the same 404. An outsider: 404 before anything is read.
    let fabrikam = failed_run(&app, "env-fabrikam").await;
    let (s, a) = request(&app, READONLY, from_run(&fabrikam, "x")).await;
    assert_eq!(s, 404);
    let (s, b) = request(&app, READONLY, from_run("01jnothere0000000000000000", "x")).await;
    assert_eq!(s, 404);
    let strip = |mut v: Value| {
        v.as_object_mut().map(|m| m.remove("request_id"));
        v
    };
    assert_eq!(strip(a), strip(b), "a run out of scope looks like a missing one");
    let contoso = failed_run(&app, "env-contoso").await;
    let (s, _) = request(&app, OUTSIDER, from_run(&contoso, "x")).await;
    assert_eq!(s, 404);
    let (s, _) = request(
        &app,
        READONLY,
        json!({"source_type": "provider_connection", "issue_kind": "technical_problem", "environment_id": "env-fabrikam", "message": "x"}),
    )
    .await;
    assert_eq!(s, 404, "a connection out of scope");
    // A connection in scope: its state, never a credential.
    let (s, c) = request(
        &app,
        OWNER,
        json!({"source_type": "provider_connection", "issue_kind": "technical_problem", "environment_id": "env-contoso", "message": "Consent fails"}),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    assert!(c["context"]["provider_connection"].is_object(), "{c}");
    assert_eq!(c["context"]["environment"]["name"], "Contoso (demo)");
    assert_eq!(
        app.get_as(OUTSIDER, &paths::support_request(DEMO_WS, c["id"].as_str().unwrap()))
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn support_from_a_failed_run_embedded() {
    support_from_a_failed_run_is_emailed_once_with_secrets_redacted(Mode::Embedded).await;
}

#[tokio::test]
async fn support_from_a_failed_run_dynamodb() {
    support_from_a_failed_run_is_emailed_once_with_secrets_redacted(Mode::Aws).await;
}

#[tokio::test]
async fn support_sent_once_embedded() {
    support_is_sent_once_across_redelivery_and_a_held_lease(Mode::Embedded).await;
}

#[tokio::test]
async fn support_sent_once_dynamodb() {
    support_is_sent_once_across_redelivery_and_a_held_lease(Mode::Aws).await;
}

#[tokio::test]
async fn support_refusals_embedded() {
    support_refuses_bad_input_and_out_of_scope_targets(Mode::Embedded).await;
}

#[tokio::test]
async fn support_refusals_dynamodb() {
    support_refuses_bad_input_and_out_of_scope_targets(Mode::Aws).await;
}
