//! A Microsoft Graph simulator for Intune (see `README.md` and `/work/shared/design/graph-brief.md`).
//!
//! One HTTP server plays both sides the Graph client talks to: Entra ID (`/{tenant}/oauth2/v2.0/token`,
//! `/{tenant}/v2.0/adminconsent`) and Graph (`/v1.0/…`, `/beta/…`, `$batch`), for several seeded tenants,
//! with per-tenant fault injection and counters. Tests start it on port 0:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use atlas_graph_sim::{SimConfig, Simulator, TenantSpec};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let tenant = sim.add_tenant(TenantSpec::default());
//! sim.register_app("11111111-1111-4111-8111-111111111111", "secret");
//! sim.grant(&tenant.id, "11111111-1111-4111-8111-111111111111", &["DeviceManagementConfiguration.Read.All"]);
//! // token: POST {sim.base_url}/{tenant.id}/oauth2/v2.0/token; Graph: {sim.base_url}/beta/deviceManagement/…
//! # Ok(()) }
//! ```

mod admin;
mod audit;
mod auth;
mod batch;
mod catalog;
mod config;
mod families;
mod faults;
mod graph;
mod login;
mod odata;
mod rng;
mod seed;
mod server;
mod state;

use std::io;
use std::ops::Deref;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    AppSpec, ConsentBehavior, DEFAULT_USER_ROLE, GLOBAL_ADMINISTRATOR, INTUNE_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR, RECORD_LIMIT, Recorded, ServiceAdmitted, SimConfig, SimUser, Stats, TenantInfo,
    TenantSpec,
};
pub use families::{ALL_ROLES, READ_ROLES};
pub use faults::{Delay, Faults, PagingFault, RateLimit, ServerErrors, Throttle};

pub(crate) use server::json_response;
use state::Shared;

pub(crate) type Sim = Arc<Shared>;

/// The simulator's shared state. Cheap to clone; serve it with [`Simulator::router`] or [`Simulator::start`].
#[derive(Clone)]
pub struct Simulator {
    shared: Sim,
}

impl Simulator {
    /// A simulator whose links (`@odata.nextLink`, `Location`) point at `base_url`, with `config.tenants`
    /// tenants already created.
    pub fn new(config: SimConfig, base_url: impl Into<String>) -> Simulator {
        let tenants = config.tenants;
        let sim = Simulator {
            shared: Arc::new(Shared::new(config, base_url.into().trim_end_matches('/').to_string())),
        };
        for _ in 0..tenants {
            sim.add_tenant(TenantSpec::default());
        }
        sim
    }

    /// Binds `config.bind` (default 127.0.0.1:0) and serves until the handle is stopped or dropped.
    pub async fn start(config: SimConfig) -> io::Result<SimHandle> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let base_url = format!("http://{host}:{}", addr.port());
        let sim = Simulator::new(config, base_url.clone());
        let router = sim.router();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "graph simulator stopped");
            }
        });
        Ok(SimHandle {
            base_url,
            sim,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The whole HTTP surface: Entra endpoints, Graph, and the `/_sim` admin API.
    pub fn router(&self) -> axum::Router {
        server::router(self.shared.clone())
    }

    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.shared.base_url)
    }

    /// Creates a tenant seeded with realistic objects.
    ///
    /// # Panics
    /// On an invalid spec (id not a GUID, id or domain taken); see [`Simulator::try_add_tenant`].
    pub fn add_tenant(&self, spec: TenantSpec) -> TenantInfo {
        self.try_add_tenant(spec).unwrap_or_else(|e| panic!("add_tenant: {e}"))
    }

    pub fn try_add_tenant(&self, spec: TenantSpec) -> Result<TenantInfo, String> {
        self.shared.add_tenant(spec)
    }

    pub fn tenants(&self) -> Vec<TenantInfo> {
        self.shared.world().tenants.iter().map(|t| t.info.clone()).collect()
    }

    /// The users who can sign in to the tenant (a Global Administrator, an Intune Administrator,
    /// a Privileged Role Administrator and a plain user).
    pub fn users(&self, tenant: &str) -> Vec<SimUser> {
        self.tenant_op(tenant, |t| t.users.clone())
    }

    /// Registers a multi-tenant app with a client secret (see [`AppSpec`] for redirect URIs, roles, certificates).
    pub fn register_app(&self, client_id: &str, secret: &str) {
        self.register_app_spec(AppSpec {
            client_id: client_id.into(),
            secret: Some(secret.into()),
            ..AppSpec::default()
        });
    }

    pub fn register_app_spec(&self, spec: AppSpec) {
        self.shared.register_app(spec);
    }

    /// Admin consent done out of band: the app gets a service principal in the tenant with these roles.
    /// Tokens issued afterwards carry them; tokens issued before keep their old `roles`, as in Entra.
    ///
    /// # Panics
    /// On an unknown tenant (all tenant-taking helpers do).
    pub fn grant(&self, tenant: &str, client_id: &str, roles: &[&str]) {
        let roles = roles.iter().map(|r| r.to_string()).collect();
        self.shared
            .grant(tenant, client_id, roles)
            .unwrap_or_else(|e| panic!("grant: {e}"));
    }

    /// Removes the app's service principal: token requests fail with AADSTS7000229 and its tokens get 401.
    pub fn revoke(&self, tenant: &str, client_id: &str) {
        self.shared
            .revoke(tenant, client_id)
            .unwrap_or_else(|e| panic!("revoke: {e}"));
    }

    /// What `/adminconsent` does for this tenant.
    pub fn set_consent_behavior(&self, tenant: &str, behavior: ConsentBehavior) {
        self.tenant_op(tenant, |t| t.consent = behavior);
    }

    /// Replaces the tenant's faults and restarts their counters (so `every_nth` counts from now).
    pub fn set_faults(&self, tenant: &str, faults: Faults) {
        self.tenant_op(tenant, |t| {
            t.faults = faults;
            t.fault_state.reset();
        });
    }

    pub fn clear_faults(&self, tenant: &str) {
        self.set_faults(tenant, Faults::default());
    }

    pub fn faults(&self, tenant: &str) -> Faults {
        self.tenant_op(tenant, |t| t.faults.clone())
    }

    /// Request counters and current object/assignment counts.
    pub fn stats(&self, tenant: &str) -> Stats {
        self.tenant_op(tenant, |t| t.snapshot_stats())
    }

    pub fn reset_stats(&self, tenant: &str) {
        self.tenant_op(tenant, |t| t.reset_stats());
    }

    /// The objects of a family (`configurationPolicies`, `groups`, …) as a beta GET with every navigation
    /// property expanded would show them. Empty for an unknown family name.
    pub fn objects(&self, tenant: &str, family: &str) -> Vec<Value> {
        let shared = &*self.shared;
        self.tenant_op(tenant, |t| graph::snapshot(shared, t, family).unwrap_or_default())
    }

    /// Deletes an object behind the API's back (an admin deleting it in the portal, audited as the
    /// tenant's Global Administrator). True if it existed.
    pub fn delete_object(&self, tenant: &str, family: &str, id: &str) -> bool {
        let def = families::by_name(family).unwrap_or_else(|| panic!("unknown family {family}"));
        let delay = self.shared.config.audit_delay_ms;
        self.tenant_op(tenant, |t| {
            let actor = t.portal_actor(None).unwrap_or_else(|e| panic!("{e}"));
            t.portal_delete(def, id, actor, delay)
        })
    }

    /// Sets top-level properties of an object (an admin editing it in the portal, audited as the
    /// tenant's Global Administrator). True if it existed.
    pub fn patch_object(&self, tenant: &str, family: &str, id: &str, props: Value) -> bool {
        let def = families::by_name(family).unwrap_or_else(|| panic!("unknown family {family}"));
        let delay = self.shared.config.audit_delay_ms;
        self.tenant_op(tenant, |t| match props {
            Value::Object(p) => {
                let actor = t.portal_actor(None).unwrap_or_else(|e| panic!("{e}"));
                t.portal_patch(def, id, p, actor, delay)
            }
            _ => false,
        })
    }

    /// The tenant's Intune audit events visible now (see `SimConfig::audit_delay_ms`), newest first.
    pub fn audit_events(&self, tenant: &str) -> Vec<Value> {
        self.tenant_op(tenant, |t| t.audit.visible())
    }

    /// Adds a security group with `display_name`; returns its id.
    pub fn add_group(&self, tenant: &str, display_name: &str) -> String {
        let nick: String = display_name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let props = serde_json::json!({
            "@odata.type": "#microsoft.graph.group", "displayName": display_name,
            "mailEnabled": false, "mailNickname": nick, "securityEnabled": true, "groupTypes": [],
        });
        self.add_object(tenant, "groups", props)
    }

    /// Adds an object with `props` (an admin creating it in the portal, audited as the tenant's
    /// Global Administrator); returns its new id.
    pub fn add_object(&self, tenant: &str, family: &str, props: Value) -> String {
        let def = families::by_name(family).unwrap_or_else(|| panic!("unknown family {family}"));
        let delay = self.shared.config.audit_delay_ms;
        self.tenant_op(tenant, |t| {
            let actor = t.portal_actor(None).unwrap_or_else(|e| panic!("{e}"));
            t.portal_create(def, props.as_object().cloned().unwrap_or_default(), actor, delay)
        })
    }

    fn tenant_op<R>(&self, tenant: &str, f: impl FnOnce(&mut state::Tenant) -> R) -> R {
        self.shared.with_tenant(tenant, f).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A running simulator. Derefs to [`Simulator`] for the admin helpers; stops on drop or [`SimHandle::stop`].
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`: the base of both the login and the Graph URLs.
    pub base_url: String,
    sim: Simulator,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Stops accepting connections and waits (up to 5 s) for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Deref for SimHandle {
    type Target = Simulator;

    fn deref(&self) -> &Simulator {
        &self.sim
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
