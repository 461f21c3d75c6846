//! The layer rule of ADR 0023, checked on the sources: services, steps and records never import
//! the HTTP edge (route modules, the router, the guard, request extraction). Only the edge
//! modules listed in [`EDGES`] may.

use std::path::{Path, PathBuf};

/// The HTTP edge itself, and the modules that assemble it (the route table, the Lambda and local
/// entry points).
const EDGES: &[&str] = &[
    "routes/",
    "router.rs",
    "auth.rs",
    "extract.rs",
    "registry.rs",
    "lambda.rs",
    "local.rs",
];

/// What a module below the edge must not name.
const UPWARD: &[&str] = &["crate::routes", "crate::router", "crate::auth", "crate::extract"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_service_or_step_imports_the_http_edge() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 20,
        "found only {} source files under {root:?}",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        if EDGES
            .iter()
            .any(|e| rel == *e || (e.ends_with('/') && rel.starts_with(e)))
        {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            // `use crate::{auth, …}` names them without the `crate::` prefix on each.
            let grouped = line.contains("use crate::{")
                && ["routes", "router", "auth", "extract"]
                    .iter()
                    .any(|m| line.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == *m));
            if grouped || UPWARD.iter().any(|u| line.contains(u)) {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules below the HTTP edge import it (ADR 0023):\n{}",
        found.join("\n")
    );
}
