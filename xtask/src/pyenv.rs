//! The Python tools that `cargo xtask` drives: `moto_server` (the DynamoDB/SQS-protocol server the test
//! harness starts on loopback), `aiosmtpd` (the SMTP server the email alert tests start on loopback),
//! `cfn-lint` and the AWS SAM CLI (`sam validate --lint`, `sam build`,
//! `sam deploy`).
//!
//! They live in a private virtualenv at `<root>/target/pyenv`, installed from the exact pins in
//! `xtask/requirements.txt`. A stamp file inside the venv records the requirements it was installed
//! from, so pip only runs again when that file changes. Nothing here needs AWS credentials or any
//! network other than the Python package index (and that only while installing).
//!
//! Std-only on purpose: the xtask crate has no dependencies.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The pinned requirements, relative to the workspace root.
pub const REQUIREMENTS: &str = "xtask/requirements.txt";
/// The virtualenv, relative to the workspace root.
pub const VENV_DIR: &str = "target/pyenv";
/// The SAM template, relative to the workspace root.
pub const TEMPLATE: &str = "infra/template.yaml";
/// The region the offline tools are told to use (the deploy region in `samconfig.toml`).
pub const AWS_REGION: &str = "eu-west-1";

/// Records which requirements the venv was installed from; lives inside the venv so that deleting
/// the venv also forgets the install.
const STAMP_FILE: &str = ".requirements.stamp";
const STAMP_HEADER: &str = "# xtask pyenv stamp v1: the requirements this venv was installed from\n";
/// Serialises concurrent `ensure_pyenv` calls (two xtask processes, parallel test binaries).
const LOCK_DIR: &str = "target/pyenv.lock";
/// A lock older than this is taken to be left over from a killed process.
const LOCK_STALE_AFTER: Duration = Duration::from_secs(20 * 60);
/// Programs that must exist in the venv for it to count as installed.
const TOOLS: &[&str] = &["moto_server", "aiosmtpd", "cfn-lint", "sam", "cargo-lambda"];

/// Creates (once) a Python venv at `<root>/target/pyenv` with the pinned `moto[server]`, `aiosmtpd`,
/// `cfn-lint` and `aws-sam-cli` from `xtask/requirements.txt` and returns the venv's bin dir. Re-runs pip only
/// when requirements.txt changed since the last install (stamp file), or when the venv is broken.
///
/// The interpreter is `python3` (`python` on Windows), or `$ATLAS_PYTHON` when set.
pub fn ensure_pyenv(root: &Path) -> Result<PathBuf, String> {
    let req_path = root.join(REQUIREMENTS);
    let requirements = fs::read_to_string(&req_path).map_err(|e| format!("cannot read {}: {e}", req_path.display()))?;
    let venv = root.join(VENV_DIR);
    let bin = bin_dir(&venv);
    let stamp_path = venv.join(STAMP_FILE);
    let want_stamp = format!("{STAMP_HEADER}{requirements}");

    if is_current(&bin, &stamp_path, &want_stamp) {
        return Ok(bin);
    }

    fs::create_dir_all(root.join("target"))
        .map_err(|e| format!("cannot create {}: {e}", root.join("target").display()))?;
    let _lock = DirLock::acquire(&root.join(LOCK_DIR))?;
    // Another process may have finished the install while we waited for the lock.
    if is_current(&bin, &stamp_path, &want_stamp) {
        return Ok(bin);
    }

    let started = Instant::now();
    if !venv_python(&bin).is_file() {
        create_venv(&venv)?;
    }
    // Forget the old install first, so an interrupted pip run is retried next time.
    match fs::remove_file(&stamp_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", stamp_path.display())),
    }

    eprintln!("xtask: installing the Python tools from {REQUIREMENTS} into {VENV_DIR} (takes about a minute)...");
    let mut pip = Command::new(venv_python(&bin));
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input"])
        .args(["--progress-bar", "off", "--quiet", "--requirement"])
        .arg(&req_path)
        .current_dir(root)
        .env("PIP_REQUIRE_VIRTUALENV", "1")
        .stdin(Stdio::null());
    run_inherit(&mut pip, "pip install")?;

    for tool in TOOLS {
        if !exe(&bin, tool).is_file() {
            return Err(format!(
                "pip succeeded but {} is missing: check {REQUIREMENTS}",
                exe(&bin, tool).display()
            ));
        }
    }
    fs::write(&stamp_path, &want_stamp).map_err(|e| format!("cannot write {}: {e}", stamp_path.display()))?;
    eprintln!("xtask: Python tools ready in {:.1}s", started.elapsed().as_secs_f64());
    Ok(bin)
}

/// Runs `cfn-lint` and `sam validate --lint` on `infra/template.yaml` from that venv, offline-safe
/// (telemetry off, a region set, no credentials or instance metadata looked up); prints their output;
/// Err on any finding (any non-zero exit) of either tool. Both always run, so one call shows all.
pub fn lint_template(root: &Path, bin: &Path) -> Result<(), String> {
    let template = root.join(TEMPLATE);
    if !template.is_file() {
        return Err(format!("{} not found", template.display()));
    }
    let mut failed = Vec::new();

    // cfn-lint's exit code is a bit mask of the levels it matched (2 error, 4 warning, 8 info);
    // any bit, or a crash, fails the lint.
    let mut cfn_lint = tool_command(root, bin, "cfn-lint");
    cfn_lint.arg("--").arg(TEMPLATE);
    if !run_captured(&mut cfn_lint, "cfn-lint")? {
        failed.push("cfn-lint");
    }

    // `--config-file` is resolved against the template's directory, so it is given absolute.
    let mut sam = tool_command(root, bin, "sam");
    sam.args(["validate", "--lint", "--template", TEMPLATE, "--region", AWS_REGION]);
    let samconfig = root.join("samconfig.toml");
    if samconfig.is_file() {
        sam.arg("--config-file").arg(&samconfig);
    }
    if !run_captured(&mut sam, "sam validate --lint")? {
        failed.push("sam validate --lint");
    }

    if failed.is_empty() {
        println!("{TEMPLATE}: cfn-lint and sam validate --lint are clean");
        Ok(())
    } else {
        Err(format!("{TEMPLATE}: findings from {}", failed.join(" and ")))
    }
}

/// The venv's directory of executables.
pub fn bin_dir(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts")
    } else {
        venv.join("bin")
    }
}

/// A program inside the venv's bin dir (adds `.exe` on Windows).
pub fn exe(bin: &Path, name: &str) -> PathBuf {
    if cfg!(windows) {
        bin.join(format!("{name}.exe"))
    } else {
        bin.join(name)
    }
}

/// The environment every venv tool runs with: offline-safe, no AWS account needed. It never probes
/// the EC2 instance metadata endpoint (that is not a loopback address) and never sends telemetry.
pub fn offline_aws_env(cmd: &mut Command) -> &mut Command {
    cmd.env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", AWS_REGION)
        .env("AWS_REGION", AWS_REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PYTHONDONTWRITEBYTECODE", "1")
}

fn tool_command(root: &Path, bin: &Path, tool: &str) -> Command {
    let mut cmd = Command::new(exe(bin, tool));
    cmd.current_dir(root).stdin(Stdio::null());
    offline_aws_env(&mut cmd);
    cmd
}

fn venv_python(bin: &Path) -> PathBuf {
    exe(bin, "python")
}

fn is_current(bin: &Path, stamp_path: &Path, want_stamp: &str) -> bool {
    venv_python(bin).is_file()
        && TOOLS.iter().all(|t| exe(bin, t).is_file())
        && fs::read_to_string(stamp_path).is_ok_and(|have| have == want_stamp)
}

fn create_venv(venv: &Path) -> Result<(), String> {
    // A venv whose interpreter is gone (system Python upgraded or removed) cannot be repaired.
    if venv.exists() {
        fs::remove_dir_all(venv).map_err(|e| format!("cannot remove {}: {e}", venv.display()))?;
    }
    let python = std::env::var_os("ATLAS_PYTHON").unwrap_or_else(|| {
        if cfg!(windows) {
            "python".into()
        } else {
            "python3".into()
        }
    });
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "venv"]).arg(venv).stdin(Stdio::null());
    run_inherit(&mut cmd, "python3 -m venv").map_err(|e| {
        format!(
            "{e}\n(needs Python 3.9+ with the venv module: on Debian `apt-get install python3 python3-venv`; \
             set ATLAS_PYTHON to use another interpreter than {})",
            python.to_string_lossy()
        )
    })
}

/// Runs with inherited stdout/stderr; Err unless it exits 0.
fn run_inherit(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start {}: {e}", cmd.get_program().to_string_lossy()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Runs to completion, prints what it wrote (stdout to stdout, stderr to stderr) and returns whether
/// it exited 0. Err only when it could not be started.
fn run_captured(cmd: &mut Command, what: &str) -> Result<bool, String> {
    let Output { status, stdout, stderr } = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start {}: {e}", cmd.get_program().to_string_lossy()))?;
    println!("$ {what}");
    let _ = io::stdout().write_all(&stdout);
    let _ = io::stderr().write_all(&stderr);
    if !status.success() {
        println!("{what}: {status}");
    }
    Ok(status.success())
}

/// A lock held as a directory (creating one is atomic everywhere); removed on drop.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> Result<DirLock, String> {
        let started = Instant::now();
        let mut said = false;
        loop {
            match fs::create_dir(path) {
                Ok(()) => {
                    let _ = fs::write(path.join("pid"), std::process::id().to_string());
                    return Ok(DirLock(path.to_path_buf()));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > LOCK_STALE_AFTER) {
                        let _ = fs::remove_dir_all(path);
                        continue;
                    }
                    if started.elapsed() > LOCK_STALE_AFTER {
                        return Err(format!("timed out waiting for {}", path.display()));
                    }
                    if !said {
                        eprintln!(
                            "xtask: waiting for another install of the Python tools ({})",
                            path.display()
                        );
                        said = true;
                    }
                    thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
