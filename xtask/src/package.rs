//! `cargo xtask package`: the Lambda package for AWS (ADR 0037). One binary, `bootstrap`, runs
//! every function of `infra/template.yaml` (its `ATLAS_FUNCTION` names which); cargo-lambda builds
//! it for arm64 Linux (`provided.al2023`) into `target/lambda/bootstrap/bootstrap.zip`, the
//! CodeUri of every function, which `sam build` takes as it is.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, pyenv, run, say};

pub const USAGE: &str = "usage: cargo xtask package [--no-sam]
  Builds the one Lambda binary (bootstrap: every function of infra/template.yaml, ADR 0037) for
  arm64 Linux (provided.al2023) with cargo-lambda into target/lambda/bootstrap/bootstrap.zip, then
  runs `sam build`, whose .aws-sam/build/template.yaml deploys that zip for every function.
  Installs what it needs: the aarch64-unknown-linux-gnu Rust target (rustup) and cargo-lambda with
  zig (xtask/requirements.txt, into target/pyenv). Prints each package's function count and size,
  and the build times.

  --no-sam   build the zip only

  A cold figure (the workspace's dependencies already built): first
  cargo clean -p atlas-lambdas --release --target aarch64-unknown-linux-gnu";

/// Lambda's arm64 (Graviton) Linux.
pub const TARGET: &str = "aarch64-unknown-linux-gnu";
/// The one binary (and the name custom runtimes look for).
const BINARY: &str = "bootstrap";
/// Where the template's CodeUri points, relative to the workspace root.
const PACKAGE: &str = "target/lambda/bootstrap/bootstrap.zip";

pub fn package(root: &Path, args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    if let Some(a) = args.iter().find(|a| *a != "--no-sam") {
        return Err(format!("package: unknown argument {a:?}\n{USAGE}"));
    }
    let sam = !args.iter().any(|a| a == "--no-sam");
    let started = Instant::now();

    ensure_target(root, TARGET)?;
    let bin = pyenv::ensure_pyenv(root)?;
    if !pyenv::exe(&bin, "cargo-lambda").is_file() {
        return Err(format!(
            "{} is missing: check {}",
            pyenv::exe(&bin, "cargo-lambda").display(),
            pyenv::REQUIREMENTS
        ));
    }

    say(&format!(
        "cargo lambda build --release --arm64 ({TARGET}, zip) -p atlas-lambdas --bin {BINARY}"
    ));
    let t = Instant::now();
    // The venv's bin first on PATH: `cargo lambda` is found there, and it finds zig there too
    // (`python3 -m ziglang`), so nothing is installed outside target/.
    run(
        root,
        cargo().env("PATH", path_with(&bin)?).args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--output-format",
            "zip",
            "-p",
            "atlas-lambdas",
            "--bin",
            BINARY,
        ]),
    )?;
    let cargo_took = t.elapsed();

    // The template names target/lambda/… under the root; a CARGO_TARGET_DIR elsewhere is copied in.
    let built = target_dir(root).join("lambda").join(BINARY).join("bootstrap.zip");
    let zip = root.join(PACKAGE);
    if built != zip {
        std::fs::create_dir_all(zip.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
        std::fs::copy(&built, &zip).map_err(|e| format!("{} → {}: {e}", built.display(), zip.display()))?;
    }
    let binary = target_dir(root).join(TARGET).join("release").join(BINARY);

    let mut sam_took = Duration::ZERO;
    if sam {
        say("sam build (every function's CodeUri is the zip: nothing to build again)");
        let t = Instant::now();
        sam_build(root, &bin)?;
        sam_took = t.elapsed();
        check_built_template(root)?;
    }

    for (code_uri, functions) in packages(root)? {
        let path = root.join("infra").join(&code_uri);
        let bytes = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e} (the template's CodeUri {code_uri})", path.display()))?
            .len();
        let raw = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
        println!(
            "package {} functions={} zip_bytes={bytes} zip_mib={:.2} binary_bytes={raw} binary_mib={:.2}",
            code_uri.trim_start_matches("../"),
            functions.len(),
            mib(bytes),
            mib(raw)
        );
    }
    println!(
        "package build: cargo_lambda_s={:.1} sam_build_s={:.1} total_s={:.1}",
        cargo_took.as_secs_f64(),
        sam_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// Adds a Rust target with rustup when it is not installed yet.
pub fn ensure_target(root: &Path, target: &str) -> Result<(), String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("rustup: {e} (the {target} target is installed with rustup)"))?;
    if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    say(&format!("installing the {target} Rust target"));
    run(root, Command::new("rustup").args(["target", "add", target]))
}

/// `PATH` with the venv's bin directory first.
fn path_with(bin: &Path) -> Result<std::ffi::OsString, String> {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&rest)))
        .map_err(|e| e.to_string())
}

/// `sam build` from the venv, offline (no credentials, no telemetry, no Docker); its output is shown
/// only when it fails.
fn sam_build(root: &Path, bin: &Path) -> Result<(), String> {
    let mut cmd = Command::new(pyenv::exe(bin, "sam"));
    cmd.args(["build", "--template", pyenv::TEMPLATE])
        .current_dir(root)
        .stdin(Stdio::null());
    pyenv::offline_aws_env(&mut cmd);
    let out = cmd.output().map_err(|e| format!("sam: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sam build failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The functions of the template grouped by their package (CodeUri, relative to `infra/`), from
/// each `AWS::Serverless::Function`'s `CodeUri` and `ATLAS_FUNCTION`.
fn packages(root: &Path) -> Result<Vec<(String, Vec<String>)>, String> {
    let path = root.join(pyenv::TEMPLATE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut code_uri: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(uri) = line.strip_prefix("CodeUri: ") {
            code_uri = Some(uri.to_owned());
        } else if let Some(name) = line.strip_prefix("ATLAS_FUNCTION: ")
            && let Some(uri) = code_uri.take()
        {
            match out.iter_mut().find(|(u, _)| *u == uri) {
                Some((_, names)) => names.push(name.to_owned()),
                None => out.push((uri, vec![name.to_owned()])),
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{}: no function with a CodeUri and ATLAS_FUNCTION",
            path.display()
        ));
    }
    Ok(out)
}

/// `sam build` wrote a template whose every function deploys the zip (not a directory it built).
fn check_built_template(root: &Path) -> Result<(), String> {
    let built = root.join(".aws-sam/build/template.yaml");
    let text = std::fs::read_to_string(&built).map_err(|e| format!("{}: {e}", built.display()))?;
    let uris: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CodeUri: "))
        .collect();
    let wanted: usize = packages(root)?.iter().map(|(_, f)| f.len()).sum();
    let bad: Vec<&&str> = uris.iter().filter(|u| !u.ends_with("/bootstrap.zip")).collect();
    if uris.len() != wanted || !bad.is_empty() {
        return Err(format!(
            "{}: {} functions, {} CodeUris, not the package: {bad:?}",
            built.display(),
            wanted,
            uris.len()
        ));
    }
    say(&format!(
        "sam build: {} functions deploy {PACKAGE} ({})",
        uris.len(),
        built.display()
    ));
    Ok(())
}
