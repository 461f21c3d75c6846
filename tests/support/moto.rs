//! `moto_server`, the DynamoDB/SQS-protocol server the AWS-backend tests talk to.
//!
//! `cargo xtask test` starts [`SHARDS`] of them on free loopback ports, passes their endpoints in
//! `ATLAS_MOTO_ENDPOINT` (comma-separated), and stops them by PID afterwards. A plain `cargo test`
//! starts them here instead, stopped at exit.
//!
//! Why several: moto is one Python process, bound to one core by its interpreter lock, and the
//! DynamoDB tests wait on it. Each test uses its own table and queues, so a test talks to one
//! server only and tests are dealt round-robin over the servers.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How many servers a test run uses when it starts them itself (and `cargo xtask test` too).
pub const SHARDS: usize = 2;

static ENDPOINTS: OnceLock<Vec<String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);
static CHILDREN: Mutex<Vec<Child>> = Mutex::new(Vec::new());

extern "C" fn stop_children() {
    if let Ok(mut g) = CHILDREN.lock() {
        for mut c in g.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
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

/// The endpoint for one test's table and queues: the next server, round-robin.
pub fn endpoint() -> String {
    let all = ENDPOINTS.get_or_init(|| {
        if let Ok(e) = std::env::var("ATLAS_MOTO_ENDPOINT") {
            return e
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
        }
        // SAFETY: registers a plain `extern "C"` function with no captured state.
        unsafe { libc::atexit(stop_children) };
        let bin = binary();
        let ports: Vec<u16> = (0..SHARDS).map(|_| free_port()).collect();
        for &port in &ports {
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
            CHILDREN.lock().expect("moto lock").push(child);
        }
        ports
            .into_iter()
            .map(|port| {
                wait_for_port(port, Duration::from_secs(60));
                format!("http://127.0.0.1:{port}")
            })
            .collect()
    });
    assert!(!all.is_empty(), "ATLAS_MOTO_ENDPOINT names no endpoint");
    all[NEXT.fetch_add(1, Ordering::Relaxed) % all.len()].clone()
}

/// Creates a KMS asymmetric signing key on the protocol server (`key_spec`: `ECC_NIST_P256`;
/// moto has no `ECC_NIST_EDWARDS25519`) and returns its id. moto does not check signatures: the
/// Authorization header only names the service and region.
pub async fn kms_signing_key(endpoint: &str, key_spec: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/", endpoint.trim_end_matches('/')))
        .header("x-amz-target", "TrentService.CreateKey")
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(serde_json::json!({"KeySpec": key_spec, "KeyUsage": "SIGN_VERIFY"}).to_string())
        .send()
        .await
        .expect("KMS CreateKey");
    assert!(res.status().is_success(), "KMS CreateKey: {}", res.status());
    let v: serde_json::Value = res.json().await.expect("CreateKey's answer");
    v["KeyMetadata"]["KeyId"].as_str().expect("a key id").to_owned()
}

/// A bucket name of this test (lowercase, digits and dashes); the stack creates the bucket with
/// Object Lock at start, as the template does in AWS.
pub fn bucket_name() -> String {
    crate::unique("atlas-evidence")
}
