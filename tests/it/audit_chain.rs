//! The audit hash chain (spec 018), on both backends: a long chain verifies, concurrent audited
//! writes get seq 1..n without gaps or duplicates, and an event edited or deleted behind the
//! API's back is named by the verify route.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, Mode, OWNER, READONLY, TestApp, spawn_app};
use serde_json::json;

async fn verify(app: &TestApp) -> api::AuditVerification {
    let res = app.get_as(OWNER, &paths::audit_verify(DEMO_WS)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn invite(app: &TestApp, n: usize) {
    let body = json!({"email": format!("chain-{n}@demo.test"), "role": "readonly", "environments": "all"});
    let res = app.post_as(OWNER, &paths::invitations(DEMO_WS), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

/// The demo workspace's chained events as stored, sorted by seq.
async fn chained(app: &TestApp) -> Vec<atlas_store::Item> {
    let mut events: Vec<atlas_store::Item> = app
        .snapshot()
        .await
        .into_iter()
        .filter(|i| {
            i.get("entity") == Some(&json!("audit_event"))
                && i.get("workspace_id") == Some(&json!(DEMO_WS))
                && i.contains_key("seq")
        })
        .collect();
    events.sort_by_key(|i| i["seq"].as_u64().unwrap());
    events
}

async fn a_long_chain_verifies(mode: Mode) {
    let app = spawn_app(mode).await;
    // An event from before the chain existed: no seq, no hashes.
    let state = &app.app().state;
    let ws = atlas_domain::WorkspaceId::parse(DEMO_WS).unwrap();
    let system = atlas_app::identity::Actor {
        user_id: "system".into(),
        email: "system@tenantatlas".into(),
        name: "System".into(),
    };
    let legacy = atlas_app::audit::item(
        state,
        &ws,
        &system,
        None,
        atlas_app::audit::NewEvent::success("legacy.event", "x"),
    );
    state.table.put(legacy, None).await.unwrap();
    for n in 0..25 {
        invite(&app, n).await;
    }
    // A denial is chained too.
    let res = app
        .post_as(
            READONLY,
            &paths::invitations(DEMO_WS),
            json!({"email": "x@demo.test", "role": "readonly", "environments": "all"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let v = verify(&app).await;
    assert_eq!(v.first_broken, None, "{v:?}");
    assert!(v.head_seq >= 26, "{v:?}");
    assert_eq!(v.verified_events, v.head_seq);
    let events = chained(&app).await;
    assert_eq!(events.len() as u64, v.head_seq);
    assert_eq!(events.last().unwrap()["hash"], json!(v.head_hash));
    assert_eq!(events[0]["prev_hash"], json!("0".repeat(64)));
    for w in events.windows(2) {
        assert_eq!(w[1]["prev_hash"], w[0]["hash"]);
    }
    // Events written before the chain are counted, not chained.
    assert!(v.unchained_events >= 1);
    assert!(v.note.starts_with("chain starts at seq 1 at 20"), "{}", v.note);
    assert!(
        v.note
            .ends_with(&format!("; {} earlier events unchained", v.unchained_events))
    );
    app.stop().await;
}

async fn concurrent_writes_get_every_seq_once(mode: Mode) {
    let app = spawn_app(mode).await;
    let before = verify(&app).await.head_seq;
    let writes = (0..16).map(|n| invite(&app, 100 + n));
    let mut all: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> = Vec::new();
    for w in writes {
        all.push(Box::pin(w));
    }
    join_all(all).await;
    let v = verify(&app).await;
    assert_eq!(v.first_broken, None, "{v:?}");
    assert_eq!(v.head_seq, before + 16);
    let seqs: Vec<u64> = chained(&app).await.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=v.head_seq).collect::<Vec<_>>(),
        "seq 1..n, no gaps, no duplicates"
    );
    let invites = app
        .snapshot()
        .await
        .into_iter()
        .filter(|i| i.get("action") == Some(&json!("invitation.create")))
        .count();
    assert_eq!(invites, 16, "nothing lost or duplicated");
    app.stop().await;
}

/// Polls every future on one task: the requests run concurrently.
async fn join_all<'a>(futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>>) {
    let mut futs: Vec<Option<_>> = futs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futs.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await
}

async fn an_edit_behind_the_apis_back_is_named(mode: Mode) {
    let app = spawn_app(mode).await;
    for n in 0..6 {
        invite(&app, n).await;
    }
    assert_eq!(verify(&app).await.first_broken, None);
    let events = chained(&app).await;
    let mut victim = events[3].clone();
    let seq = victim["seq"].as_u64().unwrap();
    let id = victim["id"].as_str().unwrap().to_owned();
    victim["metadata"]
        .as_object_mut()
        .unwrap()
        .insert("role".into(), json!("owner"));
    // Straight to the table, as someone with write access to it would.
    app.app().state.table.put(victim, None).await.unwrap();

    let v = verify(&app).await;
    let broken = v.first_broken.expect("the edit is found");
    assert_eq!((broken.seq, broken.reason.as_str()), (seq, "hash mismatch"));
    assert_eq!(broken.event_id.as_deref(), Some(id.as_str()));
    assert_eq!(v.verified_events, seq - 1);
    app.stop().await;
}

async fn a_deleted_event_is_named_as_a_gap(mode: Mode) {
    let app = spawn_app(mode).await;
    for n in 0..6 {
        invite(&app, n).await;
    }
    let events = chained(&app).await;
    let gone = &events[2];
    let seq = gone["seq"].as_u64().unwrap();
    let key = atlas_store::Key::of(gone).unwrap();
    app.app().state.table.delete(&key, None).await.unwrap();
    let v = verify(&app).await;
    let broken = v.first_broken.expect("the gap is found");
    assert_eq!((broken.seq, broken.reason.as_str()), (seq, "missing seq"));
    assert_eq!(broken.event_id.as_deref(), events[3]["id"].as_str());

    // The tail deleted: the head on the workspace item still names it.
    let last = events.last().unwrap();
    app.app()
        .state
        .table
        .delete(&atlas_store::Key::of(last).unwrap(), None)
        .await
        .unwrap();
    let v = verify(&app).await;
    assert_eq!(
        v.first_broken.unwrap().seq,
        seq,
        "the first break is still the first gap"
    );
    app.stop().await;
}

atlas_tests::on_both_backends!(
    a_long_chain_verifies,
    concurrent_writes_get_every_seq_once,
    an_edit_behind_the_apis_back_is_named,
    a_deleted_event_is_named_as_a_gap,
);
