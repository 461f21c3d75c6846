//! `atlas-local`: the whole product in one process (what `cargo xtask up` runs), and
//! `atlas-local gen <root>`, which rewrites the files derived from the registries.
//!
//! Without `ATLAS_GRAPH_BASE_URL`, it also runs the bundled Microsoft Graph simulator with the
//! demo tenants, and connects the Contoso demo environment to it.

use std::process::ExitCode;

use atlas_graph_sim::{SimConfig, Simulator, TenantSpec};

/// The platform app registration of local mode (the simulator knows it; Microsoft does not).
const DEMO_CLIENT_ID: &str = "6f1b9c1e-2d3a-4b5c-8d9e-0a1b2c3d4e5f";

const HELP: &str = "\
atlas-local: TenantAtlas in one process (web app, API, workers, scheduler, embedded store)

usage:
  atlas-local [serve] [--allow-remote-demo-signin]
  atlas-local gen <repo-root>
  atlas-local --help

options:
  --allow-remote-demo-signin
      Serve the password-less demo sign-in on a non-loopback ATLAS_HOST (e.g. 0.0.0.0).
      Anyone who reaches the address can then sign in as any demo user; without this flag
      (or ATLAS_ALLOW_REMOTE_DEMO_SIGNIN=1) the server refuses to start on such an address.

environment:
  ATLAS_HOST, ATLAS_PORT        where to listen (default 127.0.0.1:8080)
  ATLAS_DATA_DIR                the embedded store (default .atlas-data, created 0700)
  ATLAS_WORKSPACE_QUOTA         workspaces one user may create (default 10)
  ATLAS_OIDC_ISSUER, ATLAS_OIDC_AUDIENCE
                                an external sign-in instead of the demo one
";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let allow_remote = args.iter().any(|a| a == "--allow-remote-demo-signin");
    args.retain(|a| a != "--allow-remote-demo-signin");
    match args.first().map(String::as_str) {
        Some("gen") => {
            let root = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("."));
            match atlas_app::manifest::write_all(&root) {
                Ok(changed) if changed.is_empty() => println!("generated files are up to date"),
                Ok(changed) => changed.iter().for_each(|f| println!("rewrote {f}")),
                Err(e) => {
                    eprintln!("gen: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        None | Some("serve") if args.len() <= 1 => match serve(allow_remote).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("unknown arguments: {}\n\n{HELP}", args.join(" "));
            ExitCode::from(2)
        }
    }
}

async fn serve(allow_remote_demo_signin: bool) -> Result<(), String> {
    atlas_app::telemetry::init();
    let mut config = atlas_app::Config::from_env().map_err(|e| e.to_string())?;
    config.allow_remote_demo_signin |= allow_remote_demo_signin;
    // Before the simulator starts on the same address: refuse early, with the reason.
    atlas_app::local::check_demo_signin_bind(&config).map_err(|e| e.to_string())?;
    let mut sim = None;
    if config.provider.simulate {
        let port: u16 = std::env::var("ATLAS_SIM_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(config.bind.port().wrapping_add(1));
        let sim_config = SimConfig {
            bind: (config.bind.ip(), port).into(),
            ..SimConfig::default()
        };
        let handle = Simulator::start(sim_config)
            .await
            .map_err(|e| format!("graph simulator: {e}"))?;
        let secret = format!("local-{}", ulid_like());
        handle.simulator().register_app(DEMO_CLIENT_ID, &secret);
        for (id, name, domain) in [
            (
                "11111111-1111-4111-8111-111111111111",
                "Contoso (demo)",
                "contoso.demo.test",
            ),
            (
                "22222222-2222-4222-8222-222222222222",
                "Fabrikam (demo)",
                "fabrikam.demo.test",
            ),
        ] {
            handle.simulator().add_tenant(TenantSpec {
                id: Some(id.into()),
                display_name: Some(name.into()),
                domains: vec![domain.into()],
                ..TenantSpec::default()
            });
        }
        let roles: Vec<&str> = atlas_graph_sim::ALL_ROLES.to_vec();
        handle
            .simulator()
            .grant("11111111-1111-4111-8111-111111111111", DEMO_CLIENT_ID, &roles);
        config.provider.graph_base = handle.base_url.clone();
        config.provider.login_base = handle.base_url.clone();
        config.provider.platform_app = Some((DEMO_CLIENT_ID.into(), secret));
        tracing::info!(url = %handle.base_url, "Microsoft Graph simulator is running");
        sim = Some(handle);
    }
    let app = atlas_app::local::start(config).await.map_err(|e| e.to_string())?;
    if sim.is_some() {
        match atlas_app::local::seed_demo_provider(&app.state, "env-contoso").await {
            Ok(_) => tracing::info!("demo environment env-contoso is connected to the simulator"),
            Err(e) => tracing::warn!(error = %e, "could not connect the demo environment"),
        }
    }
    tracing::info!(url = %app.url(), storage = app.state.table.kind(), "TenantAtlas is running");
    atlas_app::local::wait_for_stop().await;
    tracing::info!("stopping: finishing in-flight work");
    app.shutdown().await;
    if let Some(s) = sim {
        // The stop must finish within 10 s; a hung request to the simulator cannot hold it.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), s.stop()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// A fresh secret per process: the simulator forgets it on exit anyway.
fn ulid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", t, std::process::id())
}
