//! Builds the Yew app into `web/dist` and installs the tools that build needs.
//! Every built file but `index.html` gets a content hash in its name, so browsers and CloudFront
//! may keep it for a year; each gets `.gz` and `.br` siblings for the local server (ADR 0036).
//! Three small crates besides the standard library: flate2, brotli and sha2.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use std::{env, fs};

use sha2::Digest as _;

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
/// The hand-written files in `web/`: the page (kept under its name, every reference in it
/// rewritten), the script that starts the app and the stylesheet (both hashed).
const INDEX: &str = "index.html";
const BOOT: &str = "boot.js";
const STYLE: &str = "style.css";
/// The line of `boot.js` that the build replaces with the lazy bundles' built files.
const BOOT_FILES_LINE: &str = "const files = ";
/// Hex digits of the SHA-256 of a file's content in its built name.
const HASH_LEN: usize = 8;
/// What gets `.gz` and `.br` siblings.
const COMPRESSED_EXTENSIONS: [&str; 4] = ["js", "wasm", "css", "html"];
/// What rustc enables by default for wasm32-unknown-unknown; wasm-opt must accept them.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the web app into `<root>/web/dist`: index.html, `boot-<hash>.js`, `style-<hash>.css`
/// and each bundle's `<name>-<hash>.js` and `<name>-<hash>_bg.wasm`, each with `.gz` and `.br`
/// beside it. The folder is emptied first, so files of earlier builds never pile up.
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

    fingerprint(root, &dist)?;
    // Release: the smallest files; dev: quick, the bundles are large and rebuilt often.
    let (gzip_level, brotli_quality) = if release { (9, 11) } else { (1, 1) };
    precompress(&dist, gzip_level, brotli_quality)?;

    let (wasm_bytes, gzipped) = bundle_size(root)?;
    let main_wasm = built_file(&dist, OUT_NAME, "_bg.wasm")?;
    let served = |ext: &str| -> Result<u64, String> {
        let file = PathBuf::from(format!("{}.{ext}", main_wasm.display()));
        Ok(fs::metadata(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .len())
    };
    eprintln!(
        "web: {}: {wasm_bytes} B, served as .gz {} B, .br {} B",
        main_wasm.file_name().unwrap_or_default().to_string_lossy(),
        served("gz")?,
        served("br")?
    );
    let mut lazy = Vec::new();
    for name in &BUNDLES[1..] {
        lazy.push((*name, gzipped_size(&built_file(&dist, name, "_bg.wasm")?)?));
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

/// Size figures of the main bundle: (wasm bytes, wasm gzipped bytes) — gzip via the `gzip -c` command
/// (its default level, as the budget has always been measured; the served `.gz` is smaller).
pub fn bundle_size(root: &Path) -> Result<(u64, u64), String> {
    gzipped_size(&built_file(&dist_dir(root), OUT_NAME, "_bg.wasm")?)
}

/// Gives every built file but index.html its content hash in its name and rewrites the references
/// to it, in dependency order so that a changed wasm changes its glue's name too: the wasm files,
/// their wasm-bindgen glue (which loads `<name>_bg.wasm` by a relative URL), the stylesheet,
/// `boot.js` (which imports the main glue and, by a generated name-to-file map, the lazy ones),
/// then index.html.
fn fingerprint(root: &Path, dist: &Path) -> Result<(), String> {
    let mut renames: Vec<(String, String)> = Vec::new();
    for name in BUNDLES {
        let file = format!("{name}_bg.wasm");
        let bytes = read(&dist.join(&file))?;
        let hashed = hashed_name(&file, &bytes);
        rename(&dist.join(&file), &dist.join(&hashed))?;
        renames.push((file, hashed));
    }
    for name in BUNDLES {
        let file = format!("{name}.js");
        let glue = rewrite_references(&read_text(&dist.join(&file))?, &renames);
        let wasm = format!("{name}_bg.wasm");
        let loads = renames
            .iter()
            .find(|(from, _)| *from == wasm)
            .map(|(_, to)| to.as_str());
        if !loads.is_some_and(|to| glue.contains(to)) {
            return Err(format!(
                "{file} no longer names {wasm}: has wasm-bindgen changed how it loads it?"
            ));
        }
        let hashed = hashed_name(&file, glue.as_bytes());
        write(&dist.join(&hashed), glue.as_bytes())?;
        fs::remove_file(dist.join(&file)).map_err(|e| format!("cannot remove {file}: {e}"))?;
        renames.push((file, hashed));
    }
    let style = read(&root.join("web").join(STYLE))?;
    let hashed = hashed_name(STYLE, &style);
    write(&dist.join(&hashed), &style)?;
    renames.push((STYLE.into(), hashed));

    let boot = boot_with_files(&read_text(&root.join("web").join(BOOT))?, &renames)?;
    let boot = rewrite_references(&boot, &renames);
    let hashed = hashed_name(BOOT, boot.as_bytes());
    write(&dist.join(&hashed), boot.as_bytes())?;
    renames.push((BOOT.into(), hashed));

    let index = rewrite_references(&read_text(&root.join("web").join(INDEX))?, &renames);
    for (from, to) in &renames {
        if (from == BOOT || from == STYLE) && !index.contains(to.as_str()) {
            return Err(format!("{INDEX} does not load /{from}"));
        }
    }
    write(&dist.join(INDEX), index.as_bytes())
}

/// `name.ext` -> `name-<hash>.ext`; `name_bg.wasm` -> `name-<hash>_bg.wasm` (wasm-bindgen's suffix
/// stays last, so a file's bundle is still plain to see).
pub(crate) fn hashed_name(file: &str, content: &[u8]) -> String {
    let digest = sha2::Sha256::digest(content);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let hash = &hex[..HASH_LEN];
    let (stem, ext) = match file.strip_suffix("_bg.wasm") {
        Some(stem) => (stem, "_bg.wasm".to_string()),
        None => match file.rsplit_once('.') {
            Some((stem, ext)) => (stem, format!(".{ext}")),
            None => (file, String::new()),
        },
    };
    format!("{stem}-{hash}{ext}")
}

/// Replaces each file name of `renames` (from, to) where it stands as a whole path segment in
/// a URL: after `/` or a quote, before a quote, `?`, `#` or `)`. So `atlas-web.js` in
/// `"/atlas-web.js"` or `'atlas-web_bg.wasm'` is rewritten, `atlas-web.json` or `my-atlas-web.js`
/// is not.
pub(crate) fn rewrite_references(text: &str, renames: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (from, to) in renames {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(from.as_str()) {
            let before = if at > 0 {
                rest[..at].chars().last()
            } else {
                result.chars().last()
            };
            let after = rest[at + from.len()..].chars().next();
            let starts = matches!(before, Some('/' | '"' | '\'' | '`'));
            let ends = matches!(after, Some('"' | '\'' | '`' | '?' | '#' | ')'));
            result.push_str(&rest[..at]);
            result.push_str(if starts && ends { to } else { from });
            rest = &rest[at + from.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// Replaces `boot.js`'s line `const files = …;` with the lazy bundles' built glue files, by
/// bundle name (`{"atlas-web-more": "/atlas-web-more-<hash>.js", …}`).
pub(crate) fn boot_with_files(boot: &str, renames: &[(String, String)]) -> Result<String, String> {
    let mut entries = Vec::new();
    for name in &BUNDLES[1..] {
        let glue = format!("{name}.js");
        let (_, built) = renames
            .iter()
            .find(|(from, _)| *from == glue)
            .ok_or_else(|| format!("{glue} was not built"))?;
        entries.push(format!("\"{name}\": \"/{built}\""));
    }
    let line = format!("{BOOT_FILES_LINE}{{{}}};", entries.join(", "));
    let mut found = false;
    let mut out: Vec<&str> = Vec::new();
    for l in boot.lines() {
        if l.starts_with(BOOT_FILES_LINE) {
            found = true;
            out.push(&line);
        } else {
            out.push(l);
        }
    }
    if !found {
        return Err(format!(
            "{BOOT} has no line starting `{BOOT_FILES_LINE}` for the lazy bundles' files"
        ));
    }
    Ok(out.join("\n") + "\n")
}

/// The built file of a bundle: `<name>-<hash><suffix>` in `dist` (suffix `.js` or `_bg.wasm`).
fn built_file(dist: &Path, name: &str, suffix: &str) -> Result<PathBuf, String> {
    let entries = fs::read_dir(dist).map_err(|e| format!("cannot read {}: {e}", dist.display()))?;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let hash = file
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_suffix(suffix));
        if hash.is_some_and(|h| h.len() == HASH_LEN && h.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Ok(entry.path());
        }
    }
    Err(format!(
        "{} has no {name}-<hash>{suffix}: build the web app first",
        dist.display()
    ))
}

/// Writes `<file>.gz` and `<file>.br` beside each js, wasm, css and html file of `dist`, one
/// thread per file.
fn precompress(dist: &Path, gzip_level: u32, brotli_quality: i32) -> Result<(), String> {
    let entries = fs::read_dir(dist).map_err(|e| format!("cannot read {}: {e}", dist.display()))?;
    let files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|ext| COMPRESSED_EXTENSIONS.iter().any(|c| ext == *c))
        })
        .collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .iter()
            .map(|file| scope.spawn(move || compress_file(file, gzip_level, brotli_quality)))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|_| Err("a compression thread panicked".into())))
    })
}

fn compress_file(file: &Path, gzip_level: u32, brotli_quality: i32) -> Result<(), String> {
    let bytes = read(file)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(gzip_level));
    gz.write_all(&bytes)
        .and_then(|()| gz.finish())
        .map_err(|e| format!("cannot gzip {}: {e}", file.display()))
        .and_then(|out| write(&PathBuf::from(format!("{}.gz", file.display())), &out))?;
    let mut br = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: brotli_quality,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut bytes.as_slice(), &mut br, &params)
        .map_err(|e| format!("cannot brotli {}: {e}", file.display()))?;
    write(&PathBuf::from(format!("{}.br", file.display())), &br)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    fs::rename(from, to).map_err(|e| format!("cannot rename {} to {}: {e}", from.display(), to.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn renames() -> Vec<(String, String)> {
        [
            ("atlas-web_bg.wasm", "atlas-web-0a1b2c3d_bg.wasm"),
            ("atlas-web.js", "atlas-web-11111111.js"),
            ("atlas-web-more.js", "atlas-web-more-22222222.js"),
            ("atlas-web-promote.js", "atlas-web-promote-33333333.js"),
            ("style.css", "style-44444444.css"),
            ("boot.js", "boot-55555555.js"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    #[test]
    fn hashed_names_keep_the_bundle_suffix_and_follow_the_content() {
        let a = hashed_name("atlas-web_bg.wasm", b"one");
        assert!(a.starts_with("atlas-web-") && a.ends_with("_bg.wasm"), "{a}");
        assert_eq!(a.len(), "atlas-web-_bg.wasm".len() + HASH_LEN);
        assert_eq!(a, hashed_name("atlas-web_bg.wasm", b"one"));
        assert_ne!(a, hashed_name("atlas-web_bg.wasm", b"two"));
        // SHA-256 of "one" starts 7692c3ad.
        assert_eq!(hashed_name("style.css", b"one"), "style-7692c3ad.css");
        assert_eq!(hashed_name("atlas-web-more.js", b"one"), "atlas-web-more-7692c3ad.js");
    }

    #[test]
    fn references_are_rewritten_where_they_are_whole_urls() {
        let html = r#"<link rel="stylesheet" href="/style.css"><link rel="modulepreload" href="/atlas-web.js">
<link rel="preload" href="/atlas-web_bg.wasm" as="fetch"><script type="module" src="/boot.js"></script>"#;
        let out = rewrite_references(html, &renames());
        assert_eq!(
            out,
            r#"<link rel="stylesheet" href="/style-44444444.css"><link rel="modulepreload" href="/atlas-web-11111111.js">
<link rel="preload" href="/atlas-web-0a1b2c3d_bg.wasm" as="fetch"><script type="module" src="/boot-55555555.js"></script>"#
        );
        // wasm-bindgen's glue loads its wasm relative to itself.
        let glue = "module_or_path = new URL('atlas-web_bg.wasm', import.meta.url);";
        assert_eq!(
            rewrite_references(glue, &renames()),
            "module_or_path = new URL('atlas-web-0a1b2c3d_bg.wasm', import.meta.url);"
        );
        // Names inside other names, or prose, stay as they are.
        let other = "\"/my-atlas-web.js\" '/atlas-web.json' the atlas-web.js file \"/xstyle.css\"";
        assert_eq!(rewrite_references(other, &renames()), other);
    }

    #[test]
    fn boot_gets_the_lazy_bundles_files_by_name() {
        let boot = "import init from \"/atlas-web.js\";\n// the map\nconst files = {};\ninit();\n";
        let out = boot_with_files(boot, &renames()).unwrap();
        let out = rewrite_references(&out, &renames());
        assert_eq!(
            out,
            "import init from \"/atlas-web-11111111.js\";\n// the map\nconst files = {\"atlas-web-more\": \
             \"/atlas-web-more-22222222.js\", \"atlas-web-promote\": \"/atlas-web-promote-33333333.js\"};\ninit();\n"
        );
        assert!(boot_with_files("init();\n", &renames()).is_err());
        // The checked-in boot.js has the line the build replaces.
        let source = include_str!("../../web/boot.js");
        assert!(boot_with_files(source, &renames()).is_ok());
    }

    #[test]
    fn precompressed_siblings_decode_to_the_file() {
        let dir = env::temp_dir().join(format!("xtask-precompress-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let content: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        fs::write(dir.join("a-0123abcd_bg.wasm"), &content).unwrap();
        fs::write(dir.join("notes.txt"), b"not an asset").unwrap();
        precompress(&dir, 9, 11).unwrap();

        let gz = fs::read(dir.join("a-0123abcd_bg.wasm.gz")).unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut plain).unwrap();
        assert_eq!(plain, content);
        let br = fs::read(dir.join("a-0123abcd_bg.wasm.br")).unwrap();
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut plain).unwrap();
        assert_eq!(plain, content);
        assert!(br.len() < gz.len() && gz.len() < content.len());
        assert!(!dir.join("notes.txt.gz").exists() && !dir.join("notes.txt.br").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
