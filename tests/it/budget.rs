//! The tenant write budget shared through the table (ADR 0015): two Graph clients, as two step
//! Lambdas would be, writing to one tenant side by side stay under the tenant's write ceiling
//! together; without the shared budget, the same writes overrun it.

use std::sync::Arc;
use std::time::Duration;

use atlas_graph::{AppIdentity, GraphClient, GraphConfig};
use atlas_graph_sim::{ALL_ROLES, Faults, RateLimit};
use atlas_tests::app::{Mode, spawn_without_workers};
use atlas_tests::sim::{CLIENT_ID, CLIENT_SECRET, new_tenant, shared};
use serde_json::json;

const WINDOW: Duration = Duration::from_secs(4);
const CEILING: u32 = 40;

fn config() -> GraphConfig {
    let base = shared().base_url.clone();
    GraphConfig {
        app_writes_per_20s: CEILING,
        budget_window: WINDOW,
        ..GraphConfig::for_base_url(&base)
    }
}

/// 2 × 30 PATCHes to one tenant from two clients at once; the simulator's limiter counts writes
/// per sliding `WINDOW` and answers 429 past `CEILING`. Returns how many it refused.
async fn two_writers(clients: [GraphClient; 2]) -> u64 {
    let sim = &shared().sim;
    let (tenant, _) = new_tenant();
    sim.grant(&tenant, CLIENT_ID, ALL_ROLES);
    let limit = RateLimit {
        window_ms: WINDOW.as_millis() as u64,
        max_writes: CEILING,
        ..RateLimit::default()
    };
    sim.set_faults(
        &tenant,
        Faults {
            rate_limit: Some(limit),
            ..Faults::default()
        },
    );
    let ids: Vec<String> = sim
        .objects(&tenant, "deviceConfigurations")
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let mut writers = tokio::task::JoinSet::new();
    for client in clients {
        let tc = client.tenant(&tenant, AppIdentity::with_secret(CLIENT_ID, CLIENT_SECRET));
        let ids = ids.clone();
        writers.spawn(async move {
            for n in 0..30 {
                let id = &ids[n % ids.len()];
                let path = format!("/beta/deviceManagement/deviceConfigurations/{id}");
                tc.patch(&path, &json!({"description": format!("write {n}")}))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    sim.stats(&tenant).throttled
}

#[tokio::test]
async fn processes_sharing_the_table_budget_stay_under_the_tenant_write_ceiling() {
    let app = spawn_without_workers(Mode::Aws).await;
    let table = app.app().state.table.clone();
    let client = || {
        let budget = atlas_app::state::TableBudget { table: table.clone() };
        GraphClient::with_shared_writes(config(), Some(Arc::new(budget))).unwrap()
    };
    assert_eq!(two_writers([client(), client()]).await, 0, "no write refused");

    // The control: each process keeping only its own budget overruns the tenant's ceiling.
    let alone = || GraphClient::new(config()).unwrap();
    assert!(
        two_writers([alone(), alone()]).await > 0,
        "own budgets only: Graph refuses writes"
    );
    app.stop().await;
}
