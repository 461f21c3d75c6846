//! `moto_server`, the DynamoDB/SQS-protocol server the AWS-backend tests talk to.
//!
//! `cargo xtask test` starts one on a free loopback port, passes `ATLAS_MOTO_ENDPOINT`, and stops
//! it by its PID afterwards. A plain `cargo test` starts one here instead, stopped at exit.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static ENDPOINT: OnceLock<String> = OnceLock::new();
static CHILD: Mutex<Option<Child>> = Mutex::new(None);

extern "C" fn stop_child() {
    if let Ok(mut g) = CHILD.lock()
        && let Some(mut c) = g.take()
    {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// The server's binary: `ATLAS_MOTO_SERVER`, the xtask's venv, or `PATH`.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("ATLAS_MOTO_SERVER") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/moto_server");
    if venv.exists() { venv } else { "moto_server".into() }
}

/// The command that serves moto on `port`: the venv's Python running `moto_server.py` (moto with
/// DynamoDB requests serialized, see that file), next to `moto_server`.
pub fn command(moto_server: &std::path::Path, port: u16) -> Command {
    let python = match moto_server.parent() {
        Some(dir) if dir.join("python").exists() => dir.join("python"),
        _ => PathBuf::from("python3"),
    };
    let mut cmd = Command::new(python);
    cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls until something accepts connections on the port, or panics at the deadline.
pub fn wait_for_port(port: u16, deadline: Duration) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < deadline,
            "nothing listened on port {port} within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn endpoint() -> String {
    ENDPOINT
        .get_or_init(|| {
            if let Ok(e) = std::env::var("ATLAS_MOTO_ENDPOINT") {
                return e;
            }
            let port = free_port();
            let bin = binary();
            let child = command(&bin, port)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}); run the tests with `cargo xtask test`, which installs it",
                        bin.display()
                    )
                });
            *CHILD.lock().expect("moto lock") = Some(child);
            // SAFETY: registers a plain `extern "C"` function with no captured state.
            unsafe { libc::atexit(stop_child) };
            wait_for_port(port, Duration::from_secs(60));
            format!("http://127.0.0.1:{port}")
        })
        .clone()
}
