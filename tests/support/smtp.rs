//! A real SMTP server for the email alert tests: `aiosmtpd` (pinned in `xtask/requirements.txt`,
//! installed into the test venv by `cargo xtask`) running `support/smtp_sink.py` on a free
//! loopback port. It writes each message it accepts to its directory; the server is killed when
//! the value is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::TempDir;
use crate::moto::{free_port, wait_for_port};

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope's recipients (`RCPT TO`).
    pub rcpt_tos: Vec<String>,
    pub mail_from: String,
    /// The message as received (RFC 5322).
    pub data: String,
}

pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

/// The venv's Python, found as the tests find `moto_server`: next to `ATLAS_MOTO_SERVER`, in
/// the xtask's venv, or `python3` on `PATH`.
pub fn python() -> PathBuf {
    let moto = crate::moto::binary();
    match moto.parent() {
        Some(dir) if dir.join("python").exists() => dir.join("python"),
        _ => PathBuf::from("python3"),
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        let dir = TempDir::new();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/smtp_sink.py");
        let child = std::process::Command::new(python())
            .arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SMTP sink ({e}); `cargo xtask test` installs aiosmtpd"));
        wait_for_port(port, Duration::from_secs(30));
        Self { port, child, dir }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir.0)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "json"));
        names.sort();
        names
            .into_iter()
            .filter_map(|meta| {
                let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).ok()?).ok()?;
                let data = std::fs::read_to_string(meta.with_extension("eml")).ok()?;
                Some(Received {
                    rcpt_tos: m["rcpt_tos"]
                        .as_array()?
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    mail_from: m["mail_from"].as_str().unwrap_or_default().to_owned(),
                    data,
                })
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
