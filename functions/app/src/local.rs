//! Local mode: every route, the web app, the step workers, the scheduler and the outbox sweep in
//! one process on the embedded store. Stopping gives in-flight steps a grace period, then
//! releases their messages back to the queue; unfinished messages stay queued.

use std::net::SocketAddr;
use std::time::Duration;

use atlas_domain::ConnectionLifecycle;
use atlas_store::{Cond, Item, TableError};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::records::Record;
use crate::records::provider::{AppMode, ConnectionRecord};
use crate::scope::Entitlement;
use crate::state::{AppState, StartError};
use crate::{registry, router, scheduler, steps};

pub struct LocalApp {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The step workers' own runtime (see [`worker_runtime`]); `None` when workers are off.
    workers: Option<tokio::runtime::Runtime>,
}

impl LocalApp {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop: no new requests or receives; in-flight work finishes or, after
    /// [`steps::STOP_GRACE`], goes back to the queue. Done within [`STOP_WITHIN`] whatever hangs.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let drained =
            tokio::time::timeout(STOP_WITHIN, async { while self.tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("stop took too long; abandoning what is left (queued work stays queued)");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        if let Some(rt) = self.workers.take() {
            // Its tasks are done or aborted; a runtime cannot be dropped inside async code.
            rt.shutdown_background();
        }
    }
}

impl Drop for LocalApp {
    fn drop(&mut self) {
        if let Some(rt) = self.workers.take() {
            rt.shutdown_background();
        }
    }
}

/// The step workers (backups, restores, inventory) run on their own runtime whose threads run at
/// a lower CPU priority, so on a small machine a 10,000-object backup does not queue the API's
/// reads behind its JSON and hashing work (issue 22: read p99 during a backup). The request
/// handlers keep the caller's runtime at normal priority. Blocking store calls made by a step run
/// on this runtime's blocking threads, also lowered.
fn worker_runtime(nice: i32) -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("atlas-worker")
        .on_thread_start(move || lower_priority(nice))
        .enable_all()
        .build()
        .map_err(|e| StartError(format!("cannot start the step workers: {e}")))
}

/// `nice` for the calling thread (Linux applies `setpriority` per thread); 0 leaves it alone.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; no memory is shared.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice);
    }
}

/// Starts everything and returns once the server listens (port 0 picks a free port).
pub async fn start(config: Config) -> Result<LocalApp, StartError> {
    start_with_clock(config, std::sync::Arc::new(atlas_store::SystemClock)).await
}

/// [`start`] on a given clock: the fleet bench runs days on a manual one (issue 21).
pub async fn start_with_clock(
    config: Config,
    clock: std::sync::Arc<dyn atlas_store::Clock>,
) -> Result<LocalApp, StartError> {
    check_demo_signin_bind(&config)?;
    if let crate::config::Storage::Embedded { data_dir } = &config.storage {
        secure_data_dir(data_dir)?;
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| StartError(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener.local_addr().map_err(|e| StartError(e.to_string()))?;
    let started = AppState::connect_with(
        &config,
        &format!("http://{addr}"),
        clock,
        std::sync::Arc::new(atlas_store::UlidIds),
    )
    .await?;
    let state = started.state;
    // Data written before the dashboard kept its counters is counted once (spec 020).
    crate::dashboard::recount_once(&state)
        .await
        .map_err(|e| StartError(format!("counting the dashboard's aggregates: {e}")))?;
    if config.seed_demo {
        seed_demo(&state)
            .await
            .map_err(|e| StartError(format!("seeding demo data: {e}")))?;
    }
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let oidc = state
        .issuer
        .as_ref()
        .map(|issuer| ("/oidc", crate::identity::issuer::router(issuer.clone())));
    let app = router::with_web(state.clone(), &registry::routes(), config.web_dir.clone(), oidc);
    let mut rx = stopped.clone();
    tasks.spawn(async move {
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    let workers = if config.run_workers {
        Some(worker_runtime(config.worker_nice)?)
    } else {
        None
    };
    if let Some(rt) = &workers {
        for step in steps::steps() {
            tasks.spawn_on(steps::run_worker(state.clone(), *step, stopped.clone()), rt.handle());
            tasks.spawn_on(
                steps::run_dead_letters(state.clone(), *step, stopped.clone()),
                rt.handle(),
            );
        }
    }
    tasks.spawn(run_scheduler(state.clone(), config.scheduler_every, stopped.clone()));
    tasks.spawn(run_outbox_sweep(state.clone(), stopped.clone()));
    Ok(LocalApp {
        addr,
        state,
        stop,
        tasks,
        workers,
    })
}

/// The bundled issuer signs anyone in as any demo user without a password: it serves only on a
/// loopback address unless the operator says otherwise.
pub fn check_demo_signin_bind(config: &Config) -> Result<(), StartError> {
    if !matches!(config.identity, crate::config::Identity::Local { .. }) || config.bind.ip().is_loopback() {
        return Ok(());
    }
    if config.allow_remote_demo_signin {
        tracing::warn!(
            bind = %config.bind,
            "the password-less demo sign-in is reachable from other machines: anyone who reaches it can sign in"
        );
        return Ok(());
    }
    Err(StartError(format!(
        "refusing to listen on {}: local mode's demo sign-in needs no password, so it serves only on a \
         loopback address (127.0.0.1 or ::1). Set ATLAS_HOST=127.0.0.1, configure an external sign-in \
         with ATLAS_OIDC_ISSUER, or, knowing that anyone who reaches this address can sign in, pass \
         --allow-remote-demo-signin (ATLAS_ALLOW_REMOTE_DEMO_SIGNIN=1)",
        config.bind
    )))
}

/// The data directory holds the database and the master key: only its owner may enter it (0700)
/// and read the database (0600). A directory that already holds the database is ours, and is
/// tightened if it was created looser (by an older version or by hand).
pub fn secure_data_dir(dir: &std::path::Path) -> Result<(), StartError> {
    let err = |p: &std::path::Path, e: std::io::Error| StartError(format!("{}: {e}", p.display()));
    let db = dir.join(crate::state::EMBEDDED_DB_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let existed = dir.exists();
        if !existed {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| err(dir, e))?;
        } else if db.exists() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| err(dir, e))?;
        } else {
            let mode = std::fs::metadata(dir).map_err(|e| err(dir, e))?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the data directory is open to other users");
            }
        }
        // Created empty with its final mode, so SQLite never makes it world-readable; SQLite gives
        // its -wal and -shm files the database's mode.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&db)
            .map_err(|e| err(&db, e))?;
        for f in [
            db.clone(),
            dir.join(format!("{}-wal", crate::state::EMBEDDED_DB_FILE)),
            dir.join(format!("{}-shm", crate::state::EMBEDDED_DB_FILE)),
        ] {
            if f.exists() {
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).map_err(|e| err(&f, e))?;
            }
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        let _ = db;
    }
    Ok(())
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

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_stop() {
    shutdown_signal().await;
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

/// A stop (SIGTERM, Ctrl-C) completes within this, whatever is in flight.
pub const STOP_WITHIN: Duration = Duration::from_secs(8);
/// How often local mode sends what run starts left in the outbox (a crash between commit and
/// send); the first sweep runs at start, so work a killed process owed is sent on restart.
pub const OUTBOX_SWEEP_EVERY: Duration = Duration::from_secs(2);

async fn run_outbox_sweep(state: AppState, mut stop: watch::Receiver<bool>) {
    // On DynamoDB (a protocol server in tests) a GSI query is not free: sweep less often there.
    let every = if state.queues.kind() == "sqs" {
        OUTBOX_SWEEP_EVERY * 5
    } else {
        OUTBOX_SWEEP_EVERY
    };
    let mut timer = tokio::time::interval(every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = timer.tick() => {
                if let Err(e) = crate::runs::sweep_outbox(&state).await {
                    tracing::warn!(error = %e, "outbox sweep failed; the next one retries");
                }
                // Locally alert events a writer left pending go out within seconds, not a tick.
                if let Err(e) = crate::alerts::dispatch::sweep(&state).await {
                    tracing::warn!(error = %e, "alert dispatch failed; the next sweep retries");
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
        }
    }
}

pub const DEMO_WORKSPACE: &str = "ws-demo";
pub const OTHER_WORKSPACE: &str = "ws-other";

/// Demo data, written once in one transaction: conditional creates make a restart (or a second
/// process) a no-op. The demo users are those of the local issuer.
pub async fn seed_demo(state: &AppState) -> Result<bool, TableError> {
    use crate::records::tenancy::{EnvironmentRecord, MemberRecord, TenantLockRecord, WorkspaceRecord};
    use atlas_domain::{EnvironmentId, EnvironmentLifecycle, Role, WorkspaceId};
    let now = state.clock.now_millis();
    let id = |ws: &str| WorkspaceId::parse(ws).expect("a demo workspace id is valid");
    let mut items: Vec<Item> = Vec::new();
    let mut workspace = |ws: &str, name: &str, owners: i64| {
        let w = WorkspaceRecord {
            workspace_id: id(ws),
            name: name.into(),
            slug: ws.into(),
            owner_count: owners,
            created_ms: now,
            last_activity_ms: Some(now),
            created_by: None,
        };
        items.push(w.to_item());
    };
    workspace(DEMO_WORKSPACE, "Demo MSP", 1);
    workspace(OTHER_WORKSPACE, "Other Corp", 1);
    for (ws, env, name, tenant, domain) in [
        (
            DEMO_WORKSPACE,
            "env-contoso",
            "Contoso (demo)",
            "11111111-1111-4111-8111-111111111111",
            "contoso.demo.test",
        ),
        (
            DEMO_WORKSPACE,
            "env-fabrikam",
            "Fabrikam (demo)",
            "22222222-2222-4222-8222-222222222222",
            "fabrikam.demo.test",
        ),
        (
            OTHER_WORKSPACE,
            "env-tailspin",
            "Tailspin",
            "44444444-4444-4444-8444-444444444444",
            "tailspin.other.test",
        ),
    ] {
        let env = EnvironmentId::parse(env).expect("a demo environment id is valid");
        let e = EnvironmentRecord {
            workspace_id: id(ws),
            environment_id: env.clone(),
            display_name: name.into(),
            tenant_id: tenant.into(),
            primary_domain: domain.into(),
            lifecycle: EnvironmentLifecycle::Active,
            created_ms: now,
        };
        items.push(e.to_item());
        let lock = TenantLockRecord {
            workspace_id: Some(id(ws)),
            tenant_id: tenant.into(),
            environment_id: env,
        };
        items.push(lock.to_item());
    }
    let contoso = || Entitlement::Only([EnvironmentId::parse("env-contoso").expect("valid")].into());
    let grants: [(&str, Role, Entitlement); 5] = [
        (DEMO_WORKSPACE, Role::Owner, Entitlement::All),
        (DEMO_WORKSPACE, Role::Manager, Entitlement::All),
        (DEMO_WORKSPACE, Role::Operator, Entitlement::All),
        (DEMO_WORKSPACE, Role::Readonly, contoso()),
        (OTHER_WORKSPACE, Role::Owner, Entitlement::All),
    ];
    for (user, (ws, role, envs)) in crate::identity::DEMO_USERS.iter().zip(grants) {
        let actor = crate::identity::Actor {
            user_id: user.user_id.into(),
            email: user.email.into(),
            name: user.name.into(),
        };
        let m = MemberRecord::new(id(ws), &actor, role, envs, now);
        items.push(m.to_item());
        items.push(m.email_entry().to_item());
    }
    items.push(crate::records::tenancy::SeedMarkRecord { version: 2 }.to_item());
    let tx: Vec<atlas_store::TxItem> = items
        .into_iter()
        .map(|item| atlas_store::TxItem::Put {
            item,
            cond: Some(Cond::NotExists),
        })
        .collect();
    match state.table.transact(tx).await {
        Ok(()) => {
            tracing::info!("demo data seeded");
            Ok(true)
        }
        Err(TableError::TransactionCanceled { .. }) => Ok(false), // seeded before
        Err(e) => Err(e),
    }
}

/// Local mode's demo: the Contoso environment connected through the platform app to the bundled
/// simulator, consented and verified, so the stack comes up Ready. Idempotent.
pub async fn seed_demo_provider(state: &AppState, env: &str) -> Result<crate::provider::Found, crate::ApiError> {
    use crate::scope::{Entitlement, EnvScope, Proof, WorkspaceScope};
    let Some((client_id, _)) = state.provider.platform_app.clone() else {
        return Err(crate::ApiError::Conflict("no platform app is configured".into()));
    };
    let ws = atlas_domain::WorkspaceId::parse(DEMO_WORKSPACE).map_err(crate::ApiError::internal)?;
    let env_id = atlas_domain::EnvironmentId::parse(env).map_err(crate::ApiError::internal)?;
    // The system acts here, as the seed does; its audit events name it.
    let actor = crate::identity::Actor {
        user_id: "system".into(),
        email: "system@tenantatlas".into(),
        name: "System".into(),
    };
    let scope = EnvScope::new(
        WorkspaceScope::new(
            actor,
            ws.clone(),
            atlas_domain::Role::Owner,
            Entitlement::All,
            None,
            Proof::checked(),
        ),
        env_id.clone(),
        Proof::checked(),
    );
    let env_record = crate::tenancy::environment_record(state, &scope).await?;
    let now = state.clock.now_millis();
    let conn = ConnectionRecord {
        workspace_id: ws.clone(),
        environment_id: env_id.clone(),
        tenant: env_record.tenant_id.clone(),
        tenant_id: env_record.tenant_id,
        app_mode: AppMode::Platform,
        client_id,
        lifecycle: ConnectionLifecycle::Created,
        created_ms: now,
        version: 1,
        credential: None,
        consent: None,
        verification: None,
        run_failure: None,
        disabled_ms: None,
    };
    match state.table.put(conn.to_item(), Some(Cond::NotExists)).await {
        Ok(()) | Err(TableError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    seed_proven_consent(state, DEMO_WORKSPACE, env).await?;
    crate::provider::verify(state, &scope).await?;
    let conn = crate::provider::load(state, &scope)
        .await?
        .ok_or(crate::ApiError::NotFound)?;
    Ok(crate::provider::Found {
        verification: conn
            .verification
            .ok_or_else(|| crate::ApiError::internal("no verification recorded"))?,
        tenant_id: Some(conn.tenant_id),
    })
}

/// A seeded fact: the connection of `ws`/`env` is consented and its tenant's administration was
/// proven out of band (local mode's demo tenant; tests of what follows consent). Writes the proof
/// on the connection, the tenant claim, and the tenant's owner when it has none. Idempotent: a
/// connection that already holds a proof keeps it.
pub async fn seed_proven_consent(state: &AppState, ws: &str, env: &str) -> Result<(), crate::ApiError> {
    use crate::records::provider::{AdminProof, ConnectionConsent, TenantClaimRecord, TenantOwnerRecord};
    let key = crate::records::provider::connection_key(
        &atlas_domain::WorkspaceId::parse(ws).map_err(crate::ApiError::internal)?,
        &atlas_domain::EnvironmentId::parse(env).map_err(crate::ApiError::internal)?,
    );
    let conn: ConnectionRecord = crate::records::get(&state.table, &key)
        .await?
        .ok_or(crate::ApiError::NotFound)?;
    if conn.proof().is_some() {
        return Ok(());
    }
    let tenant = conn.tenant_id.clone();
    let now = state.clock.now_millis();
    let proof_id = state.ids.next_id();
    let consent = ConnectionConsent {
        outcome: atlas_domain::ConsentOutcome::Granted,
        at_ms: now,
        error: None,
        error_description: None,
        proof: Some(AdminProof {
            id: proof_id.clone(),
            oid: "seed".into(),
            upn: "seeded".into(),
            role: "Global Administrator".into(),
            role_source: "seed".into(),
            tenant_id: tenant.clone(),
            at_ms: now,
            initiator: "system".into(),
        }),
    };
    let claim = TenantClaimRecord {
        tenant_id: tenant.clone(),
        workspace_id: ws.into(),
        environment_id: env.into(),
        proof_id: proof_id.clone(),
        oid: "seed".into(),
        upn: "seeded".into(),
        role: "Global Administrator".into(),
        at_ms: now,
    };
    state
        .table
        .transact(vec![
            conn.record_consent(ConnectionLifecycle::Consented, &consent),
            claim.put(),
        ])
        .await?;
    let owner = TenantOwnerRecord {
        tenant_id: tenant,
        workspace_id: ws.into(),
        environment_id: env.into(),
        at_ms: now,
    };
    match state.table.put(owner.to_item(), Some(Cond::NotExists)).await {
        Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
