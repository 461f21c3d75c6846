//! `atlas-local`: the whole product in one process (what `cargo xtask up` runs), and
//! `atlas-local gen <root>`, which rewrites the files derived from the registries.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let root = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("."));
            match atlas_app::manifest::write_all(&root) {
                Ok(changed) if changed.is_empty() => println!("generated files are up to date"),
                Ok(changed) => changed.iter().for_each(|f| println!("rewrote {f}")),
                Err(e) => {
                    eprintln!("gen: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
            std::process::ExitCode::SUCCESS
        }
        None | Some("serve") => {
            atlas_app::telemetry::init();
            let config = match atlas_app::Config::from_env() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            match atlas_app::local::run(config).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Some(other) => {
            eprintln!("usage: atlas-local [serve | gen <repo-root>] (unknown: {other})");
            std::process::ExitCode::from(2)
        }
    }
}
