//! One Microsoft Graph simulator per test process, serving from its own thread so it outlives
//! any one test's runtime. Tests that change a tenant (faults, consent) make their own tenant.

use std::sync::OnceLock;

use atlas_graph_sim::{SimConfig, Simulator, TenantSpec};

/// The platform app registration the test stacks use.
pub const CLIENT_ID: &str = "7a7a7a7a-1111-4222-8333-944444444444";
pub const CLIENT_SECRET: &str = "test-platform-secret-value";

pub struct SharedSim {
    pub base_url: String,
    pub sim: Simulator,
}

pub fn shared() -> &'static SharedSim {
    static SIM: OnceLock<SharedSim> = OnceLock::new();
    SIM.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let handle = Simulator::start(SimConfig::default())
                    .await
                    .expect("the simulator starts");
                handle.simulator().register_app(CLIENT_ID, CLIENT_SECRET);
                tx.send((handle.base_url.clone(), handle.simulator().clone()))
                    .expect("send");
                // Serve for the life of the process.
                std::future::pending::<()>().await;
                drop(handle);
            });
        });
        let (base_url, sim) = rx.recv().expect("the simulator started");
        SharedSim { base_url, sim }
    })
}

/// A fresh tenant in the shared simulator: its GUID and primary domain.
pub fn new_tenant() -> (String, String) {
    new_tenant_with(None)
}

/// A fresh tenant with `policies_per_family` objects in each family (the simulator's default
/// when `None`).
pub fn new_tenant_with(policies_per_family: Option<usize>) -> (String, String) {
    let s = shared();
    let n = crate::unique("t").replace('-', "");
    let digits: String = n.chars().filter(|c| c.is_ascii_digit()).collect();
    let tail = format!("{:0>12}", &digits[digits.len().saturating_sub(12)..]);
    let id = format!("aaaaaaaa-bbbb-4ccc-8ddd-{tail}");
    let domain = format!("{n}.sim.test");
    s.sim.add_tenant(TenantSpec {
        id: Some(id.clone()),
        domains: vec![domain.clone()],
        policies_per_family,
        ..TenantSpec::default()
    });
    (id, domain)
}
