//! Local mode: every route, the web app, the step workers and the scheduler in one process on
//! the embedded store. Stopping waits for in-flight steps; unfinished messages stay queued.

use std::net::SocketAddr;
use std::time::Duration;

use atlas_store::{Cond, Item, Table, TableError};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::state::{AppState, StartError};
use crate::{registry, router, scheduler, steps};

pub struct LocalApp {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl LocalApp {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop: no new requests or receives; in-flight work finishes.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts everything and returns once the server listens (port 0 picks a free port).
pub async fn start(config: Config) -> Result<LocalApp, StartError> {
    let started = AppState::connect(&config).await?;
    let state = started.state;
    if config.seed_demo {
        seed_demo(&state.table)
            .await
            .map_err(|e| StartError(format!("seeding demo data: {e}")))?;
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| StartError(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener.local_addr().map_err(|e| StartError(e.to_string()))?;
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let app = router::with_web(state.clone(), &registry::routes(), config.web_dir.clone());
    let mut rx = stopped.clone();
    tasks.spawn(async move {
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    for step in steps::steps() {
        tasks.spawn(steps::run_worker(state.clone(), *step, stopped.clone()));
    }
    tasks.spawn(run_scheduler(state.clone(), config.scheduler_every, stopped.clone()));
    Ok(LocalApp {
        addr,
        state,
        stop,
        tasks,
    })
}

/// Runs until Ctrl-C (or SIGTERM), then stops gracefully.
pub async fn run(config: Config) -> Result<(), StartError> {
    let app = start(config).await?;
    tracing::info!(url = %app.url(), storage = app.state.table.kind(), "TenantAtlas is running");
    shutdown_signal().await;
    tracing::info!("stopping: finishing in-flight work");
    app.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn run_scheduler(state: AppState, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = timer.tick() => {
                if let Err(e) = scheduler::tick(&state).await {
                    tracing::warn!(error = %e, "scheduler tick failed");
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
        }
    }
}

pub const DEMO_WORKSPACE: &str = "ws-demo";

/// Demo data, written once: conditional creates make a restart (or a second process) a no-op.
pub async fn seed_demo(table: &Table) -> Result<bool, TableError> {
    let marker: Item = json!({"PK": "SYSTEM", "SK": "SEED#demo", "entity": "seed", "version": 1})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let ws = DEMO_WORKSPACE;
    let mut items = vec![json!({
        "PK": format!("WS#{ws}"), "SK": "WORKSPACE", "entity": "workspace", "workspace_id": ws,
        "name": "Demo MSP", "slug": "demo",
    })];
    for (env, name, tenant, domain) in [
        (
            "env-contoso",
            "Contoso (demo)",
            "11111111-1111-4111-8111-111111111111",
            "contoso.demo.test",
        ),
        (
            "env-fabrikam",
            "Fabrikam (demo)",
            "22222222-2222-4222-8222-222222222222",
            "fabrikam.demo.test",
        ),
    ] {
        items.push(json!({
            "PK": format!("WS#{ws}"), "SK": format!("ENV#{env}"), "entity": "environment",
            "workspace_id": ws, "environment_id": env, "name": name, "tenant_id": tenant,
            "primary_domain": domain, "lifecycle": "active",
        }));
    }
    let mut tx: Vec<atlas_store::TxItem> = items
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .map(|item| atlas_store::TxItem::Put {
            item,
            cond: Some(Cond::NotExists),
        })
        .collect();
    tx.push(atlas_store::TxItem::Put {
        item: marker,
        cond: Some(Cond::NotExists),
    });
    match table.transact(tx).await {
        Ok(()) => {
            tracing::info!("demo data seeded");
            Ok(true)
        }
        Err(TableError::TransactionCanceled { .. }) => Ok(false), // seeded before
        Err(e) => Err(e),
    }
}
