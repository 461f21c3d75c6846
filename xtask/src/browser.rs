//! The browser suite's tools: Chromium and chromedriver from the Debian packages (`chromium`,
//! `chromium-driver`), installed with apt-get when missing. Standard library only.

use std::path::PathBuf;
use std::process::Command;

const PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn apt_get(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed ({status})", args.join(" ")))
    }
}

/// Installs Chromium and chromedriver unless both are on PATH; answers chromedriver's path.
pub fn ensure() -> Result<PathBuf, String> {
    if which("chromium").is_none() || which("chromedriver").is_none() {
        if !is_root() {
            return Err(format!(
                "the browser suite needs Chromium and chromedriver: sudo apt-get install {}",
                PACKAGES.join(" ")
            ));
        }
        apt_get(&["update", "-q"])?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(PACKAGES);
        apt_get(&args)?;
    }
    which("chromedriver").ok_or_else(|| "chromedriver is still not on PATH".into())
}

/// The evidence pack test verifies packs with the `openssl` binary (the Debian package
/// `openssl`; `sha256sum` is coreutils): installed with apt-get when missing.
pub fn ensure_openssl() -> Result<(), String> {
    if which("openssl").is_some() {
        return Ok(());
    }
    if !is_root() {
        return Err("the evidence pack test needs openssl: sudo apt-get install openssl".into());
    }
    apt_get(&["update", "-q"])?;
    apt_get(&["install", "-y", "-q", "--no-install-recommends", "openssl"])?;
    which("openssl")
        .map(drop)
        .ok_or_else(|| "openssl is still not on PATH".into())
}
