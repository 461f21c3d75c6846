//! Developer commands. `cargo xtask up` runs the product locally; `cargo xtask test` installs
//! what the tests need on a fresh machine and runs every check. Standard library only, so it
//! builds in seconds before anything else.

mod browser;
mod coldstart;
mod package;
mod pyenv;
mod token;
mod web;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask <command>
  up [--port N] [--data-dir DIR] [--dev-web]   build the web app and run everything locally (default 127.0.0.1:8080)
  test [--quick]                               install test tools, then fmt, clippy, template lint and every test
  token <email> [--url URL]                    print a bearer token for a demo user of the running local stack
  bench [backup --policies N [--backend embedded|dynamodb] [--throttle] [--batch-faults PCT] [--latency-ms L]
         [--graph-url URL [--login-url URL] [--tenant GUID --domain D --client-id ID --client-secret S]]]
  bench restore --policies N [--backend embedded|dynamodb] [--throttle] [--write-faults PCT]
  bench alerts --events N [--fail PCT]
  bench drift --policies N [--changed PCT] [--unchanged-cycles C] [--poll-seconds S]
  bench dashboard --findings N [--requests R]
  bench evidence --objects N --days D
  bench lint --policies N
  bench promote --policies N [--backend embedded|dynamodb] [--throttle]
  bench reads-during-backup [--policies N] [--rate R] [--backend embedded|dynamodb]
                                               measure store, queue and API latency, a full backup, a restore
                                               of N deleted objects, or read latency during a backup (docs/benchmarks.md)
  gen                                          rewrite the files derived from the route and step registries
  package [--no-sam]                           build the Lambda package (arm64, cargo-lambda) and `sam build` it
  coldstart [--profile P] [--runs N] [--memory MB]
                                               init, first invoke and peak RSS of a route and a step Lambda
  web [--dev]                                  build the web app into web/dist and print its size";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    let res = match args.first().map(String::as_str) {
        Some("up") => up(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("gen") => gen_files(&root),
        Some("package") => package::package(&root, &args[1..]),
        Some("coldstart") => coldstart::coldstart(&root, &args[1..]),
        // The backup and restore benches run the simulator as its own process, so it is built first.
        Some("bench") => run(
            &root,
            cargo().args([
                "build",
                "--quiet",
                "--profile",
                "bench-local",
                "-p",
                "atlas-graph-sim",
                "--bin",
                "graph-sim",
            ]),
        )
        .and_then(|()| {
            run(
                &root,
                cargo()
                    .args([
                        "run",
                        "--quiet",
                        "--profile",
                        "bench-local",
                        "-p",
                        "atlas-tests",
                        "--bin",
                        "atlas-bench",
                        "--",
                    ])
                    .args(&args[1..]),
            )
        }),
        Some("token") => match args.get(1) {
            Some(email) => {
                let base = flag(&args, "--url").unwrap_or("http://127.0.0.1:8080");
                token::token(email, base).map(|t| println!("{t}"))
            }
            None => Err("usage: cargo xtask token <email> [--url http://127.0.0.1:8080]".into()),
        },
        Some("web") => build_web(&root, !args.iter().any(|a| a == "--dev")),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn say(msg: &str) {
    eprintln!("\x1b[1mxtask:\x1b[0m {msg}");
}

/// Runs a command in the repository root; Err names it when it fails.
fn run(root: &Path, cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.current_dir(root).status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The host crates' tests: lib, bins and tests are every target in this workspace, so building
/// these is also what clippy's `--all-targets` would lint.
const HOST_TESTS: [&str; 7] = [
    "test",
    "--workspace",
    "--exclude",
    "atlas-web",
    "--lib",
    "--bins",
    "--tests",
];

/// A cargo command for the host crates in `cargo xtask test`: unless `quick`, with clippy-driver as
/// the workspace's rustc wrapper and warnings denied, the way `cargo clippy -- -D warnings` runs it.
/// Every host build of the test run goes through here, so none of them rebuilds another's crates.
fn host(mut cmd: Command, quick: bool) -> Command {
    if !quick {
        let driver = Command::new("rustup")
            .args(["which", "clippy-driver"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "clippy-driver".into());
        cmd.env("RUSTC_WORKSPACE_WRAPPER", driver)
            .env("CLIPPY_ARGS", "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__");
    }
    cmd
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn build_web(root: &Path, release: bool) -> Result<(), String> {
    web::ensure_web_tools(root, release)?;
    web::build_web(root, release)?;
    let (raw, gz) = web::bundle_size(root)?;
    say(&format!(
        "web app built: wasm {} KB, {} KB gzipped",
        raw / 1024,
        gz / 1024
    ));
    Ok(())
}

/// Builds the web app and the local server, then becomes the server (Ctrl-C stops it gracefully).
fn up(root: &Path, args: &[String]) -> Result<(), String> {
    build_web(root, !args.iter().any(|a| a == "--dev-web"))?;
    say("building the local server");
    run(root, cargo().args(["build", "--quiet", "-p", "atlas-local"]))?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let mut cmd = Command::new(target.join("debug/atlas-local"));
    cmd.current_dir(root).env("ATLAS_WEB_DIR", root.join("web/dist"));
    if let Some(p) = flag(args, "--port") {
        cmd.env("ATLAS_PORT", p);
    }
    if let Some(d) = flag(args, "--data-dir") {
        cmd.env("ATLAS_DATA_DIR", d);
    }
    let port = flag(args, "--port").unwrap_or("8080");
    say(&format!(
        "starting on http://127.0.0.1:{port} (Ctrl-C stops it; data stays in .atlas-data)"
    ));
    use std::os::unix::process::CommandExt as _;
    Err(format!("could not start the server: {}", cmd.exec()))
}

fn gen_files(root: &Path) -> Result<(), String> {
    run(
        root,
        cargo()
            .args(["run", "--quiet", "-p", "atlas-local", "--", "gen"])
            .arg(root),
    )
}

/// A child process killed when dropped, so a failing step never leaves it behind.
struct Service {
    name: &'static str,
    child: std::process::Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        say(&format!("stopped {} (pid {pid})", self.name));
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn start_moto(bin: &Path) -> Result<(Service, String), String> {
    let port = free_port()?;
    // moto with DynamoDB requests serialized: tests/support/moto_server.py says why.
    let exe = pyenv::exe(bin, "python");
    let mut cmd = Command::new(&exe);
    cmd.arg(root().join("tests/support/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    pyenv::offline_aws_env(&mut cmd);
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", exe.display()))?;
    let svc = Service {
        name: "moto_server",
        child,
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(60) {
            return Err("moto_server did not listen within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    say(&format!(
        "moto_server listening on 127.0.0.1:{port} (pid {})",
        svc.child.id()
    ));
    Ok((svc, format!("http://127.0.0.1:{port}")))
}

/// Everything CI runs, from a fresh machine: installs, then checks, then tests on both backends.
fn test(root: &Path, args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut times: Vec<(String, Duration)> = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> Result<(), String>| -> Result<(), String> {
        say(name);
        let t = Instant::now();
        let r = f();
        times.push((name.to_owned(), t.elapsed()));
        r.map_err(|e| format!("{name}: {e}"))
    };
    // The Python tools download while the Rust checks compile (pip waits on the network, cargo on
    // the cores); they are first needed by the template lint.
    let pip_started = Instant::now();
    let pip = std::thread::spawn({
        let root = root.to_owned();
        move || {
            let r = pyenv::ensure_pyenv(&root);
            (r, pip_started.elapsed())
        }
    });
    let mut pip = Some(pip);
    let mut bin = PathBuf::new();
    step("install the wasm32 target", &mut || {
        run(
            root,
            Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        )
    })?;
    let mut chromedriver = PathBuf::new();
    step("install Chromium and chromedriver (apt-get, when missing)", &mut || {
        chromedriver = browser::ensure()?;
        Ok(())
    })?;
    step(
        "install openssl (apt-get, when missing; evidence packs are verified with it)",
        &mut || browser::ensure_openssl(),
    )?;
    if !quick {
        step("cargo fmt --check", &mut || {
            run(root, cargo().args(["fmt", "--all", "--check"]))
        })?;
        step(
            "clippy and build (host crates, every target; atlas-local; the Lambdas alone)",
            &mut || {
                // Linted while built for the tests, as `cargo clippy` lints (clippy-driver as the
                // workspace's rustc wrapper): the dependencies compile once instead of once for
                // clippy and again for the tests. `host()` gives the later steps the same wrapper,
                // so what is built here is fresh for them.
                run(root, host(cargo(), quick).args(HOST_TESTS).arg("--no-run"))?;
                // `--workspace`, so its dependencies keep the workspace's features (with `-p` alone,
                // cargo resolves other features and compiles many of them again).
                run(
                    root,
                    host(cargo(), quick).args([
                        "build",
                        "--workspace",
                        "--exclude",
                        "atlas-web",
                        "--bin",
                        "atlas-local",
                    ]),
                )?;
                // The Lambda binary alone, as `cargo xtask package` compiles it: without atlas-app's `local` feature,
                // which the workspace builds above unify in (atlas-local and the tests enable it).
                run(
                    root,
                    host(cargo(), quick).args(["check", "--quiet", "-p", "atlas-lambdas", "--bins"]),
                )
            },
        )?;
        step("clippy (web app, wasm32)", &mut || {
            run(
                root,
                cargo().args([
                    "clippy",
                    "-p",
                    "atlas-web",
                    "--target",
                    "wasm32-unknown-unknown",
                    "--",
                    "-D",
                    "warnings",
                ]),
            )
        })?;
    }
    step(
        "install Python tools (moto, cfn-lint, aws-sam-cli): the wait for the background install",
        &mut || {
            let (r, took) = pip
                .take()
                .ok_or("already awaited")?
                .join()
                .map_err(|_| "the install panicked".to_owned())?;
            say(&format!("Python tools ready after {:.1} s", took.as_secs_f64()));
            bin = r?;
            Ok(())
        },
    )?;
    step("lint infra/template.yaml (cfn-lint, sam validate --lint)", &mut || {
        pyenv::lint_template(root, &bin)
    })?;
    // Two servers: one moto is bound to one core and the DynamoDB tests wait on it
    // (tests/support/moto.rs deals tests over them).
    let motos = [start_moto(&bin)?, start_moto(&bin)?];
    let endpoint = motos.iter().map(|m| m.1.as_str()).collect::<Vec<_>>().join(",");
    let mut counts = (0u64, 0u64);
    let res = step("cargo test (embedded and DynamoDB/SQS backends)", &mut || {
        let mut cmd = host(cargo(), quick);
        cmd.args(HOST_TESTS)
            .args([
                "--no-fail-fast",
                "--",
                // Passing tests' output too: the matrix prints how many routes and cases it covered.
                "--show-output",
                // Most tests wait on a run, a queue or moto rather than on the CPU: four at a time
                // keeps both cores busy (and both moto servers).
                "--test-threads=4",
            ])
            .env("ATLAS_MOTO_ENDPOINT", &endpoint)
            .env("ATLAS_MOTO_SERVER", pyenv::exe(&bin, "moto_server"));
        let (ok, c) = run_counting(root, &mut cmd)?;
        counts = c;
        if ok { Ok(()) } else { Err("some tests failed".into()) }
    });
    drop(motos);
    // The web app's pure logic (route recognition and paths) runs on the host too.
    let web_res = step("web app unit tests (host)", &mut || {
        let (ok, c) = run_counting(root, cargo().args(["test", "-p", "atlas-web", "--lib"]))?;
        counts.0 += c.0;
        counts.1 += c.1;
        if ok {
            Ok(())
        } else {
            Err("some web app tests failed".into())
        }
    });
    let res = res.and(web_res);
    // The browser suite runs against the built web app and atlas-local as child processes.
    let browser_res = step("build the web app (release) and atlas-local", &mut || {
        build_web(root, true)?;
        run(
            root,
            host(cargo(), quick).args([
                "build",
                "--quiet",
                "--workspace",
                "--exclude",
                "atlas-web",
                "--bin",
                "atlas-local",
            ]),
        )
    })
    .and_then(|()| {
        step("browser suite (headless Chromium over WebDriver)", &mut || {
            let mut cmd = host(cargo(), quick);
            cmd.args(["test", "-p", "atlas-tests", "--test", "e2e", "--", "--test-threads=2"])
                .env("ATLAS_WEB_DIR", root.join("web/dist"))
                .env("CHROMEDRIVER", &chromedriver);
            let (ok, c) = run_counting(root, &mut cmd)?;
            counts.0 += c.0;
            counts.1 += c.1;
            if ok {
                Ok(())
            } else {
                Err("some browser tests failed".into())
            }
        })
    });
    say("step times:");
    for (name, t) in &times {
        eprintln!("  {:>7.1} s  {name}", t.as_secs_f64());
    }
    // One closing line for the whole run (cargo prints one per test binary).
    println!("total: {} passed, {} failed", counts.0, counts.1);
    res.and(browser_res)
}

/// Runs cargo test, passing its output through while adding up its `test result:` lines.
fn run_counting(root: &Path, cmd: &mut Command) -> Result<(bool, (u64, u64)), String> {
    use std::io::{BufRead as _, BufReader};
    let mut child = cmd
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let (mut passed, mut failed) = (0, 0);
    for line in BufReader::new(out).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            // "ok. 51 passed; 0 failed; 0 ignored; ..."
            for part in rest.split(['.', ';']) {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(word)) = (words.next(), words.next()) {
                    match (n.parse::<u64>(), word) {
                        (Ok(n), "passed") => passed += n,
                        (Ok(n), "failed") => failed += n,
                        _ => {}
                    }
                }
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok((status.success(), (passed, failed)))
}
