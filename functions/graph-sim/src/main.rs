//! `graph-sim`: serve the simulator locally with seeded tenants and one consented app.

use std::net::{IpAddr, SocketAddr};

use atlas_graph_sim::{Delay, SimConfig, Simulator, Throttle};

const USAGE: &str = "usage: graph-sim [--host IP] [--port N] [--tenants N] [--policies N] [--throttle FRACTION] [--latency-ms L] [--seed S] \
[--client-id GUID] [--client-secret S] [--audit-delay-ms MS] [--no-admin]";

struct Args {
    config: SimConfig,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut config = SimConfig {
        tenants: 2,
        ..SimConfig::default()
    };
    let (mut host, mut port): (IpAddr, u16) = ([127, 0, 0, 1].into(), 8090);
    let (mut client_id, mut client_secret) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        if flag == "--no-admin" {
            // Only what Microsoft serves: no `/_sim` seeding, faults or stats.
            config.admin_api = false;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--host" => host = value.parse().map_err(|e| bad(&e))?,
            "--port" => port = value.parse().map_err(|e| bad(&e))?,
            "--tenants" => config.tenants = value.parse().map_err(|e| bad(&e))?,
            "--policies" => config.policies_per_family = value.parse().map_err(|e| bad(&e))?,
            "--seed" => config.seed = value.parse().map_err(|e| bad(&e))?,
            "--audit-delay-ms" => config.audit_delay_ms = value.parse().map_err(|e| bad(&e))?,
            "--throttle" => {
                let fraction: f64 = value.parse().map_err(|e| bad(&e))?;
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(bad(&"must be a fraction between 0 and 1"));
                }
                config.initial_faults.throttle = Some(Throttle {
                    fraction,
                    retry_after: Some(1.5),
                    ..Throttle::default()
                });
            }
            // Graph's round trip: every answer (a `$batch` envelope once) comes this late.
            "--latency-ms" => {
                config.initial_faults.delay = Some(Delay {
                    ms: value.parse().map_err(|e| bad(&e))?,
                    fraction: 1.0,
                    token_endpoint: true,
                });
            }
            "--client-id" => client_id = Some(value),
            "--client-secret" => client_secret = Some(value),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    config.bind = SocketAddr::new(host, port);
    Ok(Args {
        config,
        client_id,
        client_secret,
    })
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let seed = args.config.seed;
    let sim = Simulator::start(args.config).await.unwrap_or_else(|e| {
        eprintln!("graph-sim: cannot bind: {e}");
        std::process::exit(1);
    });
    let client_id = args
        .client_id
        .unwrap_or_else(|| format!("5eed{:04x}-0000-4000-8000-00000000a7a5", seed & 0xFFFF));
    let secret = args.client_secret.unwrap_or_else(|| format!("sim-secret-{seed}"));
    sim.register_app(&client_id, &secret);
    let tenants = sim.tenants();
    let roles: Vec<&str> = atlas_graph_sim::ALL_ROLES.to_vec();
    for t in &tenants {
        sim.grant(&t.id, &client_id, &roles);
    }
    let summary = serde_json::json!({
        "base_url": sim.base_url,
        "client_id": client_id,
        "client_secret": secret,
        "roles": roles,
        "tenants": tenants,
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    let _ = tokio::signal::ctrl_c().await;
    sim.stop().await;
}
