//! `atlas-bench evidence --objects N --days D`
//!
//! An evidence pack of the demo workspace through the local stack (embedded store and queue):
//! N objects spread over the last D days are stored first (half findings, each with one
//! transition, half audit events chained through `audit::transact` 25 a transaction), then the
//! pack is built: `POST …/evidence` for the period → the `evidence.build` run completes.
//!
//! The last line is `evidence objects=N days=D seconds=S bytes=B files=F`: S from the POST to the
//! run's completion (polled every 50 ms), B the ZIP's size, F its files.

use std::time::{Duration, Instant};

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::records::Record;
use atlas_app::records::drift::{FindingEventRecord, FindingRecord};
use atlas_domain::WorkspaceId;
use atlas_tests::app::{DEMO_WS, Mode, OWNER, eventually, spawn_app};
use serde_json::json;

use crate::backup::flag;

const DAY_MS: i64 = 86_400_000;

pub async fn run(args: &[String]) {
    let n: usize = flag(args, "--objects").and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let days: i64 = flag(args, "--days").and_then(|v| v.parse().ok()).unwrap_or(90);
    let app = spawn_app(Mode::Embedded).await;
    let state = &app.app().state;
    let ws = WorkspaceId::parse(DEMO_WS).unwrap();
    let now = state.clock.now_millis();
    let at = |i: usize| now - days * DAY_MS + (i as i64 * days * DAY_MS) / n.max(1) as i64;

    let seed = Instant::now();
    let findings = n / 2;
    let mut tx = Vec::new();
    for i in 0..findings {
        let t = at(i * 2);
        let severity = ["low", "medium", "high", "critical"][i % 4];
        let f: FindingRecord = serde_json::from_value(json!({
            "workspace_id": DEMO_WS, "environment_id": if i % 2 == 0 { "env-contoso" } else { "env-fabrikam" },
            "finding_id": format!("bench-{i:06}"), "source": "drift", "status": "acknowledged",
            "severity": severity, "title": format!("Setting {i} drifted"),
            "family": "deviceConfigurations", "object_id": format!("obj-{i}"), "object_name": format!("Policy {i}"),
            "property": "passwordMinimumLength", "desired": 14, "current": 8,
            "first_seen_ms": t, "last_seen_ms": t, "opened_ms": t, "count": 1, "version": 2,
            "owner": "owner@demo.test",
        }))
        .expect("a finding");
        let ev: FindingEventRecord = serde_json::from_value(json!({
            "workspace_id": DEMO_WS, "finding_id": f.finding_id, "event_id": format!("{:015}", t + 1),
            "at_ms": t + 1, "kind": "transition", "from": "new", "to": "acknowledged", "actor": "owner@demo.test",
            "reason": "investigating",
        }))
        .expect("a finding event");
        tx.push(f.create());
        tx.push(ev.create());
        if tx.len() >= 50 {
            state.table.transact(std::mem::take(&mut tx)).await.expect("seeded");
        }
    }
    if !tx.is_empty() {
        state.table.transact(std::mem::take(&mut tx)).await.expect("seeded");
    }
    let system = atlas_app::identity::Actor {
        user_id: "system".into(),
        email: "system@tenantatlas".into(),
        name: "System".into(),
    };
    let mut events = Vec::new();
    for i in 0..(n - findings) {
        let mut r = atlas_app::audit::record(
            state,
            &ws,
            &system,
            None,
            atlas_app::audit::NewEvent::success("finding.transition", format!("finding/bench-{i:06}"))
                .meta(json!({"from": "new", "to": "acknowledged", "reason": "investigating"})),
        );
        r.at_ms = at(i * 2 + 1);
        events.push(r.create());
        if events.len() >= 25 {
            atlas_app::audit::transact(state, std::mem::take(&mut events))
                .await
                .expect("chained");
        }
    }
    if !events.is_empty() {
        atlas_app::audit::transact(state, events).await.expect("chained");
    }
    eprintln!(
        "seeded {n} objects over {days} days in {:.1} s",
        seed.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let res = app
        .post_as(
            OWNER,
            &paths::evidence(DEMO_WS),
            json!({"from": now - days * DAY_MS - 1, "to": now + DAY_MS}),
        )
        .await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let run: api::OperationRun = res.json().await.unwrap();
    let view = paths::operation(DEMO_WS, &run.id);
    let done: api::OperationView = eventually("the evidence pack", Duration::from_secs(600), || async {
        let v: api::OperationView = app.get_as(OWNER, &view).await.json().await.ok()?;
        (v.run.state == "completed").then_some(v)
    })
    .await;
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(done.run.failed, 0, "{:?}", done.run);
    let pack: api::EvidencePack = app
        .get_as(OWNER, &paths::evidence_pack(DEMO_WS, &run.id))
        .await
        .json()
        .await
        .unwrap();
    println!(
        "evidence objects={n} days={days} seconds={seconds:.2} bytes={} files={}",
        pack.size.unwrap_or(0),
        pack.files.unwrap_or(0)
    );
    app.stop().await;
}
