//! The dashboard (spec 020): counters kept on write agree with a recount from the findings after
//! every kind of move; trends walk back through each day's net change; a backup's end shows in
//! the tile and the day's success count; needs-attention is ordered by weight; entitlement holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_app::findings::Detection;
use atlas_app::records::dashboard as dash;
use atlas_app::records::drift::FindingRecord;
use atlas_app::state::AppState;
use atlas_domain::findings::Severity;
use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{ManualClock, Query};
use atlas_tests::app::{DEMO_WS, Mode, OPERATOR, OUTSIDER, OWNER, READONLY, TestApp, demo_ws_pk, spawn_app};
use atlas_tests::findings::drift_detection;
use serde_json::json;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const ENV: &str = "env-contoso";

fn detection(object: &str, severity: Severity) -> Detection {
    drift_detection(ENV, "deviceConfigurations", object, severity, json!(6))
}

async fn detect(state: &AppState, ds: Vec<Detection>) {
    atlas_tests::findings::detect(state, DEMO_WS, ENV, "deviceConfigurations", ds).await;
}

async fn dashboard(app: &TestApp, user: &str, query: &str) -> api::Dashboard {
    let res = app.get_as(user, &format!("{}{query}", paths::dashboard(DEMO_WS))).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn tile<'a>(d: &'a api::Dashboard, env: &str) -> &'a api::EnvironmentDashboard {
    d.environments
        .iter()
        .find(|e| e.environment_id == env)
        .unwrap_or_else(|| panic!("no tile for {env}: {d:?}"))
}

/// The counter item's numbers must equal a recount from the findings as stored.
async fn counters_agree_with_a_recount(state: &AppState) {
    let ws = WorkspaceId::parse(DEMO_WS).unwrap();
    let env = EnvironmentId::parse(ENV).unwrap();
    let q = Query::partition(demo_ws_pk()).begins_with(atlas_app::records::drift::FINDINGS);
    let findings: Vec<FindingRecord> = atlas_app::records::query_all(&state.table, q).await.unwrap();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.environment_id == env) {
        for (k, v) in dash::contribution(f) {
            *expected.entry(k).or_default() += v;
        }
    }
    let counter = state
        .table
        .get(&dash::counter_key(&ws, &env))
        .await
        .unwrap()
        .unwrap_or_default();
    for s in Severity::ALL {
        for attr in [dash::open_attr(*s), dash::overdue_attr(*s)] {
            let want = expected.get(&attr).copied().unwrap_or(0);
            assert_eq!(
                dash::number(&counter, &attr),
                want,
                "{attr}: kept {counter:?}, recounted {expected:?}"
            );
        }
    }
    assert_eq!(
        dash::number(&counter, dash::DRIFT_OPEN),
        expected.get(dash::DRIFT_OPEN).copied().unwrap_or(0)
    );
}

async fn counters_follow_every_move_and_trends_walk_back(mode: Mode) {
    let app = spawn_app(mode).await;
    // Three days ago, on a clock the test moves.
    let clock = ManualClock::new(time::OffsetDateTime::now_utc() - time::Duration::days(3));
    let mut state = app.app().state.clone();
    state.clock = Arc::new(clock.clone());

    let (crit, high, low) = (
        detection("kiosk", Severity::Critical),
        detection("phones", Severity::High),
        detection("laptops", Severity::Low),
    );
    detect(&state, vec![crit.clone(), high.clone(), low.clone()]).await;
    counters_agree_with_a_recount(&state).await;
    let d = dashboard(&app, OWNER, "").await;
    let t = tile(&d, ENV);
    assert_eq!((t.open.critical, t.open.high, t.open.low, t.drift_open), (1, 1, 1, 3));
    assert_eq!(d.trend.len(), 30, "30 days by default");
    let three_ago = &d.trend[d.trend.len() - 4];
    assert_eq!((three_ago.drift_new, three_ago.open.total()), (3, 3), "{three_ago:?}");
    assert_eq!(d.trend[d.trend.len() - 5].open.total(), 0, "nothing open before");

    // Triage through the API (today's clock): acknowledged stays open, resolved leaves.
    let triage = paths::findings_triage(DEMO_WS);
    let ack = json!({"ids": [high.fingerprint()], "state": "acknowledged"});
    assert_eq!(app.post_as(OPERATOR, &triage, ack).await.status(), 200);
    let fix = json!({"ids": [low.fingerprint()], "state": "resolved", "reason": "fixed at the source"});
    assert_eq!(app.post_as(OPERATOR, &triage, fix).await.status(), 200);
    counters_agree_with_a_recount(&state).await;

    // Two days on, the critical finding (due in a day) breaches its SLA: overdue, and the
    // heaviest item of needs-attention.
    clock.advance(Duration::from_millis(2 * DAY_MS as u64));
    let swept = atlas_app::exceptions::sweep(&state).await.unwrap();
    assert!(swept.sla_steps >= 1, "{swept:?}");
    counters_agree_with_a_recount(&state).await;
    let d = dashboard(&app, OWNER, "?days=90").await;
    assert_eq!(d.trend.len(), 90);
    let t = tile(&d, ENV);
    assert_eq!((t.open.critical, t.open.high, t.open.low), (1, 1, 0));
    assert_eq!(t.overdue.critical, 1);
    let first = &d.attention[0];
    assert_eq!(
        (first.kind.as_str(), first.weight, first.count),
        ("overdue_findings", 100, 1),
        "{:?}",
        d.attention
    );
    assert!(first.link.contains("severity=critical"), "{}", first.link);
    assert!(
        d.attention.windows(2).all(|w| w[0].weight >= w[1].weight),
        "ordered by weight"
    );
    let n = d.trend.len();
    assert_eq!(
        d.trend[n - 2].sla_breaches,
        1,
        "the breach counts on its day: {:?}",
        &d.trend[n - 4..]
    );
    assert_eq!(
        d.trend[n - 4].open.total(),
        3,
        "three days ago, three were open at the end of the day"
    );
    assert_eq!(d.trend[n - 1].open.total(), 2, "today two");

    // A detection that no longer sees the critical one resolves it: counters follow.
    detect(&state, vec![high.clone()]).await;
    counters_agree_with_a_recount(&state).await;
    let t = dashboard(&app, OWNER, "").await;
    assert_eq!(tile(&t, ENV).overdue.critical, 0);
    assert!(t.attention.iter().all(|a| a.weight != 100));

    // Entitlement: readonly sees only Contoso; another environment's filter is refused; an
    // outsider does not learn the workspace exists; a bad period is a field error.
    let ro = dashboard(&app, READONLY, "").await;
    assert!(
        ro.environments.iter().all(|e| e.environment_id == ENV),
        "{:?}",
        ro.environments
    );
    assert!(ro.attention.iter().all(|a| a.environment_id == ENV));
    let other = format!("{}?environment_id=env-fabrikam", paths::dashboard(DEMO_WS));
    assert_eq!(app.get_as(READONLY, &other).await.status(), 400);
    assert_eq!(app.get_as(OUTSIDER, &paths::dashboard(DEMO_WS)).await.status(), 404);
    let bad = format!("{}?days=7", paths::dashboard(DEMO_WS));
    let res = app.get_as(OWNER, &bad).await;
    assert_eq!(res.status(), 400);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "query.days", "{problem}");
    app.stop().await;
}

/// A backup's end sets the tile's last backup and counts in the day's successes; an environment
/// never backed up is in needs-attention until then.
async fn a_backup_shows_in_the_tile_and_the_trend(mode: Mode) {
    let app = spawn_app(mode).await;
    let (_, env) = app.connected_env_with("env-dash", Some(2)).await;
    let d = dashboard(&app, OWNER, "?environment_id=env-dash").await;
    assert_eq!(d.environments.len(), 1);
    assert!(
        d.attention
            .iter()
            .any(|a| a.kind == "backup_missing" && a.environment_id == "env-dash"),
        "{:?}",
        d.attention
    );
    let v = app.run_to_completion(&format!("{env}/backups"), json!({})).await;
    let d = dashboard(&app, OWNER, "?environment_id=env-dash").await;
    let t = tile(&d, "env-dash");
    assert_eq!(t.last_backup_run.as_deref(), Some(v.run.id.as_str()));
    assert_eq!(t.last_backup_outcome.as_deref(), v.run.outcome.map(|o| o.as_str()));
    assert!(t.last_good_backup_ms.is_some());
    let today = d.trend.last().unwrap();
    assert_eq!(today.backups_succeeded + today.backups_partial, 1, "{today:?}");
    assert!(
        d.attention.iter().all(|a| a.kind != "backup_missing"),
        "{:?}",
        d.attention
    );
    app.stop().await;
}

/// A new finding's reference is written before its transaction (ADR 0043 amendment): a pass that
/// stops between the two leaves a reference without its finding, which the next pass skips; it
/// then opens the finding once, with its history entry, and the counters agree.
async fn a_reference_left_without_its_finding_is_harmless(mode: Mode) {
    let app = spawn_app(mode).await;
    let state = app.app().state.clone();
    let ws = WorkspaceId::parse(DEMO_WS).unwrap();
    let env = EnvironmentId::parse(ENV).unwrap();
    let cover = atlas_tests::findings::drift_coverage(&env, "deviceConfigurations");
    // The finding's transaction cannot be written: the pass stops after the reference.
    state
        .table
        .refuse_writes(Some("No space left on device (os error 28)"), &["FINDING#"]);
    let stopped = atlas_app::findings::observe(&state, &ws, vec![detection("cfg-ref", Severity::High)], &cover).await;
    state.table.refuse_writes(None, &[]);
    assert!(stopped.is_err(), "{stopped:?}");
    let refs = Query::partition(atlas_tests::app::demo_env_pk(ENV)).begins_with("FINDINGREF#");
    let entity = <atlas_app::records::drift::FindingRef as atlas_app::records::Record>::ENTITY;
    let refs = state.table.query(&refs).await.unwrap().items;
    assert_eq!(
        refs.iter()
            .filter(|i| i.get("entity").and_then(|e| e.as_str()) == Some(entity))
            .count(),
        1,
        "the reference alone: {refs:?}"
    );
    counters_agree_with_a_recount(&state).await;

    let again = atlas_app::findings::observe(&state, &ws, vec![detection("cfg-ref", Severity::High)], &cover)
        .await
        .unwrap();
    assert_eq!((again.opened, again.updated, again.raced), (1, 0, 0), "{again:?}");
    let third = atlas_app::findings::observe(&state, &ws, vec![detection("cfg-ref", Severity::High)], &cover)
        .await
        .unwrap();
    assert_eq!((third.opened, third.updated), (0, 1), "{third:?}");
    let open = dashboard(&app, OWNER, "").await;
    assert_eq!(tile(&open, ENV).open.high, 1, "{open:?}");
    counters_agree_with_a_recount(&state).await;
    app.stop().await;
}

atlas_tests::on_both_backends!(
    counters_follow_every_move_and_trends_walk_back,
    a_backup_shows_in_the_tile_and_the_trend,
    a_reference_left_without_its_finding_is_harmless,
);

/// Findings stored before the dashboard kept counters (written here without them) are counted
/// once at start-up: the counters then agree with a recount, and a second start changes nothing.
#[tokio::test]
async fn data_from_before_the_dashboard_is_counted_once() {
    use atlas_app::records::Record;
    let app = spawn_app(Mode::Embedded).await;
    let state = app.app().state.clone();
    for (i, sev) in [Severity::High, Severity::High, Severity::Low].iter().enumerate() {
        let f: FindingRecord = serde_json::from_value(json!({
            "workspace_id": DEMO_WS, "environment_id": ENV, "finding_id": format!("old-{i}"),
            "source": "drift", "status": "new", "severity": sev, "title": "t",
            "first_seen_ms": 0, "last_seen_ms": 0, "opened_ms": 0, "count": 1, "version": 1
        }))
        .unwrap();
        state.table.put(f.to_item(), None).await.unwrap();
    }
    // The app's start-up already counted (nothing then) and left its marker: take it away, as a
    // data dir from before this release would be.
    state.table.delete(&dash::recount_marker(), None).await.unwrap();
    assert_eq!(
        atlas_app::dashboard::recount_once(&state).await.unwrap(),
        3,
        "every environment of the demo data"
    );
    counters_agree_with_a_recount(&state).await;
    let t = dashboard(&app, OWNER, "").await;
    assert_eq!((tile(&t, ENV).open.high, tile(&t, ENV).open.low), (2, 1));
    assert_eq!(atlas_app::dashboard::recount_once(&state).await.unwrap(), 0, "once");
    app.stop().await;
}
