//! `cargo xtask coldstart`: a route function and a step function started the way Lambda starts
//! them, under a minimal Lambda Runtime API emulator (std::net), against DynamoDB and SQS on a
//! `moto_server` on loopback. Measures init (spawn → the runtime's first `GET …/invocation/next`),
//! the first invocation (event handed over → its response posted) and the process's peak RSS
//! (`VmHWM` in /proc/<pid>/status once it asks for the next event). Linux only (/proc).
//!
//! The binary is the host (x86_64) build of the one Lambda binary, `bootstrap` (ADR 0037), the
//! same source `cargo xtask package` builds for arm64.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::package::target_dir;
use crate::{cargo, pyenv, run, say, start_moto};

pub const USAGE: &str = "usage: cargo xtask coldstart [--profile release|bench-local] [--runs N] [--memory MB]
  Builds the Lambda binary (bootstrap, ADR 0037) for the host with the given cargo profile (default
  release), starts a moto_server on loopback (DynamoDB, SQS), then starts the binary N times (default
  5) for a route (get-health, events/http-get-health.json) and for a step (step-run-reconcile,
  events/sqs-run-reconcile.json) under a Lambda Runtime API emulator on loopback, and prints per
  function the median init (spawn → first GET /next), first invocation and peak RSS (VmHWM):
    coldstart function=get-health kind=route init_ms=… first_invoke_ms=… max_rss_mib=… …
  --memory MB   AWS_LAMBDA_FUNCTION_MEMORY_SIZE given to the function and the limit the peak RSS is
                checked against (default 128); the process is not limited to it.
  Each run's log: target/coldstart/<function>.log.";

/// The functions measured: (function, kind, sample event).
const CASES: [(&str, &str, &str); 2] = [
    ("get-health", "route", "events/http-get-health.json"),
    ("step-run-reconcile", "step", "events/sqs-run-reconcile.json"),
];
/// The table and queue-name prefix on the moto server.
const TABLE: &str = "atlas-coldstart";
/// moto's default account; its queue URLs are `<endpoint>/<account>/<name>`.
const MOTO_ACCOUNT: &str = "123456789012";
/// The region the protocol-server mode creates in (atlas_store::aws::sdk_config).
const REGION: &str = "us-east-1";
/// How long a start or an invocation may take before the run is abandoned.
const PATIENCE: Duration = Duration::from_secs(60);

struct Opts {
    profile: String,
    runs: usize,
    memory_mb: u64,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        profile: "release".into(),
        runs: 5,
        memory_mb: 128,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("coldstart: {a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--profile" => o.profile = value()?.clone(),
            "--runs" => {
                o.runs = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("coldstart: --runs takes a positive number\n{USAGE}"))?
            }
            "--memory" => {
                o.memory_mb = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 128)
                    .ok_or_else(|| format!("coldstart: --memory takes megabytes, 128 or more\n{USAGE}"))?
            }
            other => return Err(format!("coldstart: unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

pub fn coldstart(root: &Path, args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let o = parse(args)?;
    if !Path::new("/proc/self/status").is_file() {
        return Err("coldstart reads the peak RSS from /proc: Linux only".into());
    }
    say(&format!(
        "building the Lambda binary for the host (cargo build --profile {} -p atlas-lambdas --bin bootstrap)",
        o.profile
    ));
    run(
        root,
        cargo().args([
            "build",
            "--quiet",
            "--profile",
            &o.profile,
            "-p",
            "atlas-lambdas",
            "--bin",
            "bootstrap",
        ]),
    )?;
    let dir = if o.profile == "dev" {
        "debug"
    } else {
        o.profile.as_str()
    };
    let exe = target_dir(root).join(dir).join("bootstrap");
    let logs = target_dir(root).join("coldstart");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let bin = pyenv::ensure_pyenv(root)?;
    let (_moto, endpoint) = start_moto(&bin)?;

    // Once, unmeasured, in the protocol-server mode (ATLAS_AWS_ENDPOINT): it creates the table and
    // the queues the template would. The measured starts then take the AWS path: the SDK's own
    // endpoint setting (AWS_ENDPOINT_URL), queue URLs from the environment, nothing created.
    say("creating the table and queues on moto_server (one unmeasured start)");
    let setup = Start {
        exe: &exe,
        function: "get-health",
        event: String::new(),
        memory_mb: o.memory_mb,
        endpoint: &endpoint,
        protocol_server: true,
        log: logs.join("setup.log"),
    };
    let _ = std::fs::remove_file(&setup.log);
    setup.init_only()?;

    for (function, kind, event) in CASES {
        let path = root.join(event);
        let event = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let start = Start {
            exe: &exe,
            function,
            event,
            memory_mb: o.memory_mb,
            endpoint: &endpoint,
            protocol_server: false,
            log: logs.join(format!("{function}.log")),
        };
        let _ = std::fs::remove_file(&start.log);
        let mut runs = Vec::new();
        for _ in 0..o.runs {
            runs.push(start.measure()?);
        }
        let med = |f: fn(&Measured) -> f64| median(runs.iter().map(f).collect());
        let max = |f: fn(&Measured) -> f64| runs.iter().map(f).fold(0.0, f64::max);
        let rss = max(|m| m.rss_kib as f64) / 1024.0;
        println!(
            "coldstart function={function} kind={kind} init_ms={:.1} first_invoke_ms={:.1} max_rss_mib={rss:.1} \
             runs={} init_ms_max={:.1} first_invoke_ms_max={:.1} memory_mb={} fits={} profile={} response={}",
            med(|m| m.init_ms),
            med(|m| m.invoke_ms),
            runs.len(),
            max(|m| m.init_ms),
            max(|m| m.invoke_ms),
            o.memory_mb,
            if rss < o.memory_mb as f64 { "yes" } else { "no" },
            o.profile,
            runs.last().map(|m| m.summary.as_str()).unwrap_or("")
        );
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

struct Measured {
    init_ms: f64,
    invoke_ms: f64,
    rss_kib: u64,
    /// The response's status code (a route) or its batch item failures (a step).
    summary: String,
}

/// One start of the binary as one function.
struct Start<'a> {
    exe: &'a Path,
    function: &'a str,
    event: String,
    memory_mb: u64,
    endpoint: &'a str,
    protocol_server: bool,
    log: PathBuf,
}

/// A started function process, killed when dropped.
struct Running {
    child: Child,
    runtime: Emulator,
    spawned: Instant,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.runtime.stop.store(true, Ordering::SeqCst);
    }
}

impl Start<'_> {
    fn spawn(&self) -> Result<Running, String> {
        let runtime = Emulator::start(self.event.clone())?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.exe);
        // Lambda's environment, not this shell's: only what the function is given there.
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", runtime.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("{TABLE}-{}", self.function))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", self.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{TABLE}-{}", self.function),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("_HANDLER", "bootstrap")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_SESSION_TOKEN", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("TZ", ":UTC")
            .env("RUST_LOG", "info")
            .env("ATLAS_FUNCTION", self.function)
            .env("ATLAS_STORAGE", "dynamodb")
            .env("ATLAS_TABLE", TABLE)
            // Not called by these two functions: an issuer and keys that are never fetched.
            .env("ATLAS_OIDC_ISSUER", "https://issuer.coldstart.invalid")
            .env("ATLAS_OIDC_AUDIENCE", "api://tenantatlas-coldstart")
            .env("ATLAS_OIDC_JWKS_URL", "http://127.0.0.1:9/keys")
            .env("ATLAS_GRAPH_BASE_URL", "http://127.0.0.1:9")
            .env("ATLAS_LOGIN_BASE_URL", "http://127.0.0.1:9")
            .env("ATLAS_KMS_KEY_ID", "alias/atlas-coldstart")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        if self.protocol_server {
            cmd.env("ATLAS_AWS_ENDPOINT", self.endpoint);
        } else {
            cmd.env("AWS_ENDPOINT_URL", self.endpoint);
            // What the template gives a step: its queue and its dead-letter queue.
            if let Some(queue) = self.function.strip_prefix("step-") {
                let var = queue.to_uppercase().replace('-', "_");
                let url = format!("{}/{MOTO_ACCOUNT}/{TABLE}-{queue}", self.endpoint);
                cmd.env(format!("ATLAS_QUEUE_URL_{var}"), &url)
                    .env(format!("ATLAS_DLQ_URL_{var}"), format!("{url}-dlq"));
            }
        }
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e} (run `cargo xtask coldstart` to build it)", self.exe.display()))?;
        Ok(Running {
            child,
            runtime,
            spawned,
        })
    }

    /// Starts the function and waits until it asks for its first event.
    fn init_only(&self) -> Result<(), String> {
        let mut r = self.spawn()?;
        r.wait_for(self, |s| matches!(s, Seen::Next { .. })).map(|_| ())
    }

    fn measure(&self) -> Result<Measured, String> {
        let mut r = self.spawn()?;
        let Seen::Next { at: asked } = r.wait_for(self, |s| matches!(s, Seen::Next { .. }))? else {
            unreachable!()
        };
        let init = asked - r.spawned;
        let body = match r.wait_for(self, |s| matches!(s, Seen::Response { .. }))? {
            Seen::Response { at, body } => {
                let invoke = at - asked;
                // Peak RSS once the invocation is over and the runtime waits for the next event.
                r.wait_for(self, |s| matches!(s, Seen::Next { .. }))?;
                let rss = peak_rss_kib(r.child.id())?;
                return Ok(Measured {
                    init_ms: init.as_secs_f64() * 1000.0,
                    invoke_ms: invoke.as_secs_f64() * 1000.0,
                    rss_kib: rss,
                    summary: summary(&body),
                });
            }
            other => format!("{other:?}"),
        };
        Err(body)
    }
}

/// `status=200` for a route, `batch_item_failures=N` for a step.
fn summary(body: &str) -> String {
    let field = |key: &str| {
        body.find(key).map(|i| {
            body[i + key.len()..]
                .chars()
                .skip_while(|c| *c == '"' || *c == ':' || c.is_whitespace())
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
        })
    };
    if let Some(code) = field("\"statusCode\"") {
        format!("status={code}")
    } else if body.contains("batchItemFailures") {
        format!("batch_item_failures={}", body.matches("itemIdentifier").count())
    } else {
        format!("bytes={}", body.len())
    }
}

impl Running {
    /// Waits for the runtime API call `want` matches; Err on an error report, when the process
    /// exits, or after [`PATIENCE`].
    fn wait_for(&mut self, start: &Start<'_>, want: impl Fn(&Seen) -> bool) -> Result<Seen, String> {
        let began = Instant::now();
        loop {
            match self.runtime.seen.recv_timeout(Duration::from_millis(20)) {
                Ok(s) if want(&s) => return Ok(s),
                Ok(Seen::InitError { body } | Seen::Error { body }) => {
                    return Err(format!(
                        "{} reported an error: {body} (log: {})",
                        start.function,
                        start.log.display()
                    ));
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err("the runtime emulator stopped".into()),
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) (log: {})",
                    start.function,
                    start.log.display()
                ));
            }
            if began.elapsed() > PATIENCE {
                return Err(format!("{} did not answer within {PATIENCE:?}", start.function));
            }
        }
    }
}

/// The peak resident set (`VmHWM`) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// What the function asked of the runtime API, in order.
#[derive(Debug)]
enum Seen {
    /// `GET /2018-06-01/runtime/invocation/next`.
    Next { at: Instant },
    /// `POST …/invocation/{id}/response`.
    Response { at: Instant, body: String },
    /// `POST …/invocation/{id}/error`.
    Error { body: String },
    /// `POST /2018-06-01/runtime/init/error`.
    InitError { body: String },
}

/// The Lambda Runtime API on a loopback port, for one event: the first `next` gets it, a later
/// `next` is held open (as Lambda does between invocations) until the emulator stops.
struct Emulator {
    port: u16,
    seen: Receiver<Seen>,
    stop: Arc<AtomicBool>,
}

impl Emulator {
    fn start(event: String) -> Result<Emulator, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let (tx, seen) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let pending = Arc::new(Mutex::new(Some(event)));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (tx, pending, stopping) = (tx.clone(), pending.clone(), stopping.clone());
                        std::thread::spawn(move || serve(conn, &tx, &pending, &stopping));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(Emulator { port, seen, stop })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One connection: requests one after another (the runtime client keeps connections alive).
fn serve(conn: TcpStream, tx: &Sender<Seen>, pending: &Mutex<Option<String>>, stop: &AtomicBool) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_nodelay(true);
    let Ok(mut out) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    while let Some((method, path, body)) = read_request(&mut reader) {
        let at = Instant::now();
        let path = path.split('?').next().unwrap_or_default().to_owned();
        let reply = match (method.as_str(), path.as_str()) {
            ("GET", "/2018-06-01/runtime/invocation/next") => {
                let event = pending.lock().map(|mut p| p.take()).unwrap_or(None);
                let _ = tx.send(Seen::Next { at });
                match event {
                    Some(event) => next_response(&event),
                    None => {
                        // Held, as between invocations; the process is killed while it waits.
                        while !stop.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        return;
                    }
                }
            }
            ("POST", "/2018-06-01/runtime/init/error") => {
                let _ = tx.send(Seen::InitError { body });
                accepted()
            }
            ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/response") => {
                let _ = tx.send(Seen::Response { at, body });
                accepted()
            }
            ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/error") => {
                let _ = tx.send(Seen::Error { body });
                accepted()
            }
            _ => "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_owned(),
        };
        if out.write_all(reply.as_bytes()).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

fn accepted() -> String {
    let body = "{\"status\":\"OK\"}";
    format!(
        "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn next_response(event: &str) -> String {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\
         lambda-runtime-aws-request-id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
         lambda-runtime-deadline-ms: {deadline}\r\n\
         lambda-runtime-invoked-function-arn: arn:aws:lambda:{REGION}:{MOTO_ACCOUNT}:function:{TABLE}\r\n\
         lambda-runtime-trace-id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0\r\n\
         \r\n{event}",
        len = event.len(),
        deadline = now_ms + 29_000,
    )
}

/// Reads one HTTP/1.1 request: (method, path, body); None when the connection ends.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, String, String)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = value.parse().ok()?;
            } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                // The last chunk; no trailers expected beyond the blank line just read.
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some((method, path, String::from_utf8_lossy(&body).into_owned()))
}
