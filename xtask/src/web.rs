//! Builds the Yew app into `web/dist` and installs the tools that build needs.
//! Standard library only: xtask must build in seconds on a fresh machine.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use std::{env, fs};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const PACKAGE: &str = "atlas-web";
/// The app's bundles (ADR 0027), by binary name: cargo writes `<name>.wasm`, wasm-bindgen's
/// `--out-name <name>` gives `<name>.js` and `<name>_bg.wasm`. The first is the one every visit
/// loads; each other is loaded the first time one of its pages opens.
const BUNDLES: [&str; 3] = ["atlas-web", "atlas-web-more", "atlas-web-promote"];
/// The main bundle: what the budget is about.
const OUT_NAME: &str = BUNDLES[0];
const RELEASE_PROFILE: &str = "release-web";
/// The product budget for the release wasm, gzipped: 400 KiB.
const GZIP_BUDGET: u64 = 400 * 1024;
/// Copied from `web/` into `web/dist` as they are.
const STATIC_FILES: [&str; 3] = ["index.html", "boot.js", "style.css"];
/// What rustc enables by default for wasm32-unknown-unknown; wasm-opt must accept them.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the web app into `<root>/web/dist` (index.html, boot.js, style.css and each bundle's
/// `.js` and `_bg.wasm`).
/// release = true uses `--profile release-web` (already defined in the root Cargo.toml) and runs `wasm-opt -Oz` when available,
/// then fails when the gzipped wasm is over [`GZIP_BUDGET`].
pub fn build_web(root: &Path, release: bool) -> Result<(), String> {
    let started = Instant::now();
    let profile = if release { RELEASE_PROFILE } else { "dev" };
    eprintln!("web: building {PACKAGE} for {WASM_TARGET} ({profile})");
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(root)
        .args(["build", "-p", PACKAGE, "--target", WASM_TARGET]);
    if release {
        cargo.args(["--profile", RELEASE_PROFILE]);
    }
    run(&mut cargo)?;

    // Cargo puts the dev profile in `debug/`, custom profiles in a folder of their own name.
    let profile_dir = if release { RELEASE_PROFILE } else { "debug" };
    let dist = dist_dir(root);
    if dist.exists() {
        fs::remove_dir_all(&dist).map_err(|e| format!("cannot clear {}: {e}", dist.display()))?;
    }
    fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    let bindgen = find_tool(root, "wasm-bindgen")
        .ok_or("wasm-bindgen not found on PATH or in ~/.cargo/bin: install the web tools first")?;
    let wasm_opt = if release { find_tool(root, "wasm-opt") } else { None };
    if release && wasm_opt.is_none() {
        eprintln!("web: wasm-opt not found, bundles left unoptimised");
    }
    for name in BUNDLES {
        let wasm = target_dir(root)
            .join(WASM_TARGET)
            .join(profile_dir)
            .join(format!("{name}.wasm"));
        if !wasm.is_file() {
            return Err(format!("cargo build succeeded but {} is missing", wasm.display()));
        }
        eprintln!("web: wasm-bindgen {name} -> {}", dist.display());
        run(Command::new(&bindgen)
            .current_dir(root)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&dist)
            .args(["--out-name", name])
            .arg(&wasm))?;
        if let Some(wasm_opt) = &wasm_opt {
            let bundle = dist.join(format!("{name}_bg.wasm"));
            eprintln!("web: wasm-opt -Oz {name}");
            run(Command::new(wasm_opt)
                .arg("-Oz")
                .args(WASM_FEATURES)
                .arg(&bundle)
                .arg("-o")
                .arg(&bundle))?;
        }
    }

    for name in STATIC_FILES {
        let from = root.join("web").join(name);
        fs::copy(&from, dist.join(name)).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    }

    let (wasm_bytes, gzipped) = bundle_size(root)?;
    let mut lazy = Vec::new();
    for name in &BUNDLES[1..] {
        lazy.push((*name, gzipped_size(&dist.join(format!("{name}_bg.wasm")))?));
    }
    let later: Vec<String> = lazy
        .iter()
        .map(|(name, (bytes, gz))| format!("{name} {} KiB, {} KiB gzipped", bytes / 1024, gz / 1024))
        .collect();
    eprintln!(
        "web: {} ready in {:.1}s (wasm {} KiB, {} KiB gzipped; pages loaded later: {})",
        dist.display(),
        started.elapsed().as_secs_f64(),
        wasm_bytes / 1024,
        gzipped / 1024,
        later.join("; ")
    );
    if release {
        let later: Vec<String> = lazy.iter().map(|(name, (_, gz))| format!("{name} {gz} B")).collect();
        eprintln!(
            "web: wasm gzipped {gzipped} B (later bundles: {}), budget {GZIP_BUDGET} B each",
            later.join(", ")
        );
        if let Some((name, (_, gz))) = lazy.iter().find(|(_, (_, gz))| *gz > GZIP_BUDGET) {
            return Err(format!(
                "the bundle {name} is over the size budget: {gz} B gzipped, budget {GZIP_BUDGET} B"
            ));
        }
        if gzipped > GZIP_BUDGET {
            return Err(format!(
                "the web app is over its size budget: the wasm is {gzipped} B gzipped, {} B over the {GZIP_BUDGET} B \
                 ({} KiB) budget; see docs/benchmarks.md for what to trim",
                gzipped - GZIP_BUDGET,
                GZIP_BUDGET / 1024
            ));
        }
    }
    Ok(())
}

/// Installs what the web build needs when missing: `rustup target add wasm32-unknown-unknown`; `wasm-bindgen-cli` via `cargo install wasm-bindgen-cli --version <exactly the wasm-bindgen version in Cargo.lock>` (no --locked) unless `wasm-bindgen --version` already prints that version; `wasm-opt` from the npm package `binaryen` installed into `<root>/target/tools/node_modules` (npm install --prefix) when release and not present.
pub fn ensure_web_tools(root: &Path, release: bool) -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|line| line.trim() == WASM_TARGET) {
        eprintln!("web: adding the {WASM_TARGET} target");
        timed(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }

    // The CLI must match the library exactly, or wasm-bindgen refuses the module.
    let lock_path = root.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path).map_err(|e| format!("cannot read {}: {e}", lock_path.display()))?;
    let wanted = locked_version(&lock, "wasm-bindgen")
        .ok_or("Cargo.lock has no wasm-bindgen; is atlas-web a workspace member?")?;
    let current = find_tool(root, "wasm-bindgen")
        .and_then(|tool| output(Command::new(tool).arg("--version")).ok())
        .unwrap_or_default();
    if current.split_whitespace().nth(1) != Some(wanted.as_str()) {
        eprintln!("web: installing wasm-bindgen-cli {wanted} (takes a few minutes)");
        timed(
            Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into())).args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &wanted,
            ]),
        )?;
    }

    if release && find_tool(root, "wasm-opt").is_none() {
        let prefix = tools_dir(root);
        eprintln!("web: installing binaryen (wasm-opt) into {}", prefix.display());
        fs::create_dir_all(&prefix).map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
        timed(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg("binaryen"),
        )?;
        if find_tool(root, "wasm-opt").is_none() {
            return Err("npm installed binaryen but wasm-opt is still missing".into());
        }
    }
    Ok(())
}

/// Size figures of the main bundle: (wasm bytes, wasm gzipped bytes) — gzip via the `gzip -c` command.
pub fn bundle_size(root: &Path) -> Result<(u64, u64), String> {
    gzipped_size(&dist_dir(root).join(format!("{OUT_NAME}_bg.wasm")))
}

/// (bytes, gzipped bytes) of one file.
fn gzipped_size(wasm: &Path) -> Result<(u64, u64), String> {
    let bytes = fs::metadata(wasm)
        .map_err(|e| format!("cannot read {}: {e}", wasm.display()))?
        .len();
    let gzip = Command::new("gzip")
        .arg("-c")
        .arg(wasm)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if !gzip.status.success() {
        return Err(format!("gzip -c {} failed: {}", wasm.display(), gzip.status));
    }
    Ok((bytes, gzip.stdout.len() as u64))
}

fn dist_dir(root: &Path) -> PathBuf {
    root.join("web").join("dist")
}

fn tools_dir(root: &Path) -> PathBuf {
    root.join("target").join("tools")
}

/// Cargo resolves a relative `CARGO_TARGET_DIR` against its working directory, which is `root` here.
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Looks in `target/tools` (npm), then `PATH`, then cargo's bin folder (where `cargo install` puts tools).
fn find_tool(root: &Path, name: &str) -> Option<PathBuf> {
    let npm_bin = tools_dir(root).join("node_modules").join(".bin");
    let cargo_bin = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"));
    let path = env::var_os("PATH").unwrap_or_default();
    std::iter::once(npm_bin)
        .chain(env::split_paths(&path))
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The version of `name` in a Cargo.lock: the `version` line after its `name` line.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line == wanted {
            let version = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_string());
        }
    }
    None
}

fn describe(cmd: &Command) -> String {
    let args: Vec<&OsStr> = cmd.get_args().collect();
    let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
    format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "))
}

/// Runs with inherited output and fails on a non-zero exit.
fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed: {status}", describe(cmd)))
    }
}

/// Like `run`, then reports how long it took: installs are slow enough to be worth a figure.
fn timed(cmd: &mut Command) -> Result<(), String> {
    let started = Instant::now();
    run(cmd)?;
    eprintln!("web: done in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Captures stdout; stderr still reaches the terminal.
fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed: {}", describe(cmd), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
