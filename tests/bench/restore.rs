//! `atlas-bench restore --policies N [--backend embedded|dynamodb] [--throttle] [--write-faults PCT]`
//!
//! Same-tenant restore of N deleted objects through the local stack against the simulator (its own
//! process): back up, delete every captured object in the "portal", draft, preview, confirm, and
//! time the `restore.execute` run. Writes are paced by Intune's per-tenant write ceiling (200 per
//! 20 s), which the Graph client keeps to; `--throttle` makes the simulator enforce it too. The
//! last line is `restore items=N seconds=S graph_requests=R writes=W rss_mib=M created=C failed=F
//! lost=L duplicates=D`, where L counts objects neither back nor reported failed and D objects
//! created twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use atlas_graph::families::FAMILIES;
use atlas_graph_sim::{Faults, RateLimit, ServerErrors};
use atlas_tests::TempDir;
use atlas_tests::app::{OWNER, TestApp, start_stack};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backup::{
    Admin, BENCH_DOMAIN, BENCH_TENANT, Endpoint, backend, connect, flag, peak_rss_kib, sim_families, wait_run,
};

const ENV: &str = "/api/v1/workspaces/ws-demo/environments/env-bench";

async fn post<T: serde::de::DeserializeOwned>(app: &TestApp, path: &str, body: Value) -> T {
    let res = app.post_as(OWNER, path, body).await;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert!(status.is_success(), "POST {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
}

/// Display names of the tenant's objects, per catalog family.
async fn live_names(admin: &Admin, tenant: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for f in FAMILIES {
        let mut names = Vec::new();
        for sf in sim_families(f.code) {
            for o in admin.objects(tenant, sf).await {
                let name = o["displayName"].as_str().or(o["name"].as_str()).unwrap_or("");
                names.push(name.to_owned());
            }
        }
        out.insert(f.code, names);
    }
    out
}

pub async fn run(args: &[String]) {
    let policies: usize = flag(args, "--policies").and_then(|v| v.parse().ok()).unwrap_or(200);
    let throttle = args.iter().any(|a| a == "--throttle");
    let write_faults: f64 = flag(args, "--write-faults").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let mode = backend(args);
    let endpoint = Endpoint::spawn_simulator().await;
    let admin = endpoint.bench_tenant(policies).await;
    let tenant = BENCH_TENANT;
    let dir = TempDir::new();
    let app = start_stack(endpoint.stack_config(mode, &dir), dir).await;
    connect(&app, tenant, BENCH_DOMAIN).await;

    let run: atlas_api_types::OperationRun = post(&app, &format!("{ENV}/backups"), json!({})).await;
    let backup = wait_run(&app, &run.id).await;
    assert_eq!(
        backup.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{:?}",
        backup.items
    );
    let set: atlas_api_types::BackupSetDetail = app
        .get_as(OWNER, &format!("{ENV}/backups/{}", run.id))
        .await
        .json()
        .await
        .unwrap();
    let before = live_names(admin, tenant).await;

    // The portal admin deletes every captured object but the scope tags (Intune's built-in
    // Default tag cannot be deleted, and the others are what the objects are tagged with).
    let chosen: Vec<&atlas_api_types::BackupItem> = set.items.iter().filter(|i| i.family != "roleScopeTags").collect();
    for i in &chosen {
        let mut gone = false;
        for sf in sim_families(&i.family) {
            let path = format!("/tenants/{tenant}/objects/{sf}/{}", i.id);
            gone |= admin.send(Method::DELETE, &path, None).await.status() == 204;
        }
        assert!(gone, "delete {} {}", i.family, i.id);
    }

    let draft: atlas_api_types::Restore = post(
        &app,
        &format!("{ENV}/restores"),
        json!({
            "backup_set_id": set.set.id, "include_assignments": true,
            "items": chosen.iter().map(|i| format!("{}/{}", i.family, i.id)).collect::<Vec<_>>(),
        }),
    )
    .await;
    let t_preview = Instant::now();
    let preview: atlas_api_types::RestorePreview =
        post(&app, &format!("{ENV}/restores/{}/previews", draft.id), json!({})).await;
    let preview_seconds = t_preview.elapsed().as_secs_f64();
    let planned: BTreeMap<&str, usize> = preview.items.iter().fold(BTreeMap::new(), |mut m, i| {
        *m.entry(i.action.as_str()).or_default() += 1;
        m
    });
    assert!(preview.blockers.is_empty(), "{:?}", preview.blockers);

    let faults = Faults {
        rate_limit: throttle.then(RateLimit::default),
        server_errors: (write_faults > 0.0).then(|| ServerErrors {
            fraction: write_faults / 100.0,
            statuses: vec![500],
            writes_only: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let faults_path = admin.arm(tenant, &faults).await;
    let graph = app.app().state.graph.clone();
    let counters = graph.counters();

    let t = Instant::now();
    let body = json!({"preview_id": preview.id, "fingerprint": preview.fingerprint, "confirm": "env-bench"});
    let run: atlas_api_types::OperationRun = post(&app, &format!("{ENV}/restores/{}/confirm", draft.id), body).await;
    let view = wait_run(&app, &run.id).await;
    let seconds = t.elapsed().as_secs_f64();
    let rss_mib = peak_rss_kib("self") / 1024;
    let sent = graph.counters().sent - counters.sent;
    let stats = admin.stats(tenant).await;
    admin.send(Method::DELETE, &faults_path, None).await;
    app.stop().await;

    let writes = crate::backup::writes(&stats);
    let mut results: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed_names = BTreeSet::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for i in &view.items {
        let r = i.detail["result"].as_str().unwrap_or("?").to_owned();
        if r == "failed" {
            let why = i.detail["reason"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(160)
                .collect::<String>();
            *reasons
                .entry(format!("{}: {why}", i.detail["family"].as_str().unwrap_or("")))
                .or_default() += 1;
            failed_names.insert((
                i.detail["family"].as_str().unwrap_or("").to_owned(),
                i.detail["name"].as_str().unwrap_or("").to_owned(),
            ));
        }
        *results.entry(r).or_default() += 1;
    }
    let after = live_names(admin, tenant).await;
    let (mut lost, mut duplicates) = (0, 0);
    for (family, names) in &before {
        let back = &after[family];
        for n in names {
            let count = back.iter().filter(|b| *b == n).count();
            let expected = names.iter().filter(|b| *b == n).count();
            if count < expected && !failed_names.contains(&(family.to_string(), n.clone())) {
                lost += 1;
            }
            if count > expected {
                duplicates += 1;
            }
        }
    }
    let items = view.items.len();
    println!("preview: {items} items planned {planned:?} in {preview_seconds:.1} s");
    println!(
        "outcome={} results={results:?}",
        view.run.outcome.map(|o| o.as_str()).unwrap_or("")
    );
    for (why, n) in reasons.iter().take(10) {
        println!("  failed ×{n}: {why}");
    }
    println!(
        "simulator saw: http_requests={} writes={writes} answered_429={} answered_5xx={} (write ceiling {} per app per Intune service per {} s)",
        stats.graph_requests - stats.batch_items,
        stats.throttled,
        stats.server_errors,
        RateLimit::default().max_writes,
        RateLimit::default().window_ms / 1000,
    );
    if let Some(mib) = endpoint.simulator_rss_mib() {
        println!("simulator process (not the product): peak_rss_mib={mib}");
    }
    println!(
        "restore items={items} seconds={seconds:.1} graph_requests={sent} writes={writes} rss_mib={rss_mib} created={} failed={} lost={lost} duplicates={duplicates}",
        results.get("created").copied().unwrap_or(0),
        results.get("failed").copied().unwrap_or(0),
    );
}
