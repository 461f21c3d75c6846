//! The built web app over the local server (ADR 0036): content-hashed files precompressed and
//! kept for a year, the page revalidated on every visit, the API untouched.

use atlas_tests::app::{Mode, TestApp, spawn_app};

const HASHED_JS: &str = "atlas-web-0123abcd.js";
const HASHED_WASM: &str = "atlas-web-0123abcd_bg.wasm";
const INDEX: &str = "<!doctype html><title>TenantAtlas</title><p>Loading TenantAtlas…</p>";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A web dir as `cargo xtask web` leaves it, with stand-ins for the compressed siblings (the
/// server sends them as they are, so their bytes only need to be told apart).
fn build_fake_web(app: &TestApp) {
    let dir = app.web_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("index.html.br"), b"index-br").unwrap();
    std::fs::write(dir.join("index.html.gz"), b"index-gz").unwrap();
    std::fs::write(dir.join(HASHED_JS), "export default function init() {}").unwrap();
    std::fs::write(dir.join(format!("{HASHED_JS}.br")), b"js-br").unwrap();
    std::fs::write(dir.join(format!("{HASHED_JS}.gz")), b"js-gz").unwrap();
    std::fs::write(dir.join(HASHED_WASM), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join(format!("{HASHED_WASM}.br")), b"wasm-br").unwrap();
}

async fn get(app: &TestApp, path: &str, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.url));
    if let Some(enc) = accept_encoding {
        req = req.header("accept-encoding", enc);
    }
    req.send().await.expect("request")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn hashed_web_files_are_served_precompressed_and_kept_for_a_year() {
    let app = spawn_app(Mode::Embedded).await;
    build_fake_web(&app);
    let path = format!("/{HASHED_JS}");

    // Brotli when the browser takes it (and prefers it to gzip).
    let res = get(&app, &path, Some("gzip, deflate, br")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), Some("br"));
    assert!(header(&res, "content-type").unwrap().contains("javascript"));
    assert_eq!(header(&res, "cache-control"), Some(IMMUTABLE));
    assert!(
        header(&res, "vary")
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"js-br");

    // gzip when that is all it takes.
    let res = get(&app, &path, Some("gzip")).await;
    assert_eq!(header(&res, "content-encoding"), Some("gzip"));
    assert_eq!(header(&res, "cache-control"), Some(IMMUTABLE));
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"js-gz");

    // The plain file otherwise.
    let res = get(&app, &path, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(header(&res, "cache-control"), Some(IMMUTABLE));
    assert_eq!(res.text().await.unwrap(), "export default function init() {}");

    // The wasm keeps its type, compressed or not; with no .gz beside it, gzip gets it plain.
    let wasm = format!("/{HASHED_WASM}");
    let res = get(&app, &wasm, Some("br")).await;
    assert_eq!(header(&res, "content-encoding"), Some("br"));
    assert_eq!(header(&res, "content-type"), Some("application/wasm"));
    assert_eq!(header(&res, "cache-control"), Some(IMMUTABLE));
    let res = get(&app, &wasm, Some("gzip")).await;
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"\0asm\x01\0\0\0");

    // A hashed file this build does not have (an old page's) is a 404, not the page in its place.
    let res = get(&app, "/atlas-web-ffffffff.js", Some("br")).await;
    assert_eq!(res.status(), 404);
    assert_ne!(header(&res, "cache-control"), Some(IMMUTABLE));
    app.stop().await;
}

#[tokio::test]
async fn the_web_page_is_revalidated_and_the_api_keeps_its_own_caching() {
    let app = spawn_app(Mode::Embedded).await;
    build_fake_web(&app);

    for path in ["/", "/index.html", "/workspaces/ws-demo/operations"] {
        let res = get(&app, path, None).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(header(&res, "content-encoding"), None, "{path}");
        assert_eq!(res.text().await.unwrap(), INDEX, "{path}");

        let res = get(&app, path, Some("br, gzip")).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(header(&res, "content-encoding"), Some("br"), "{path}");
        assert!(header(&res, "content-type").unwrap().starts_with("text/html"), "{path}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"index-br", "{path}");

        let res = get(&app, path, Some("gzip")).await;
        assert_eq!(header(&res, "content-encoding"), Some("gzip"), "{path}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"index-gz", "{path}");
    }

    // The API's answers are not the web app's files: never kept as immutable.
    for path in ["/api/health", "/api/v1/nothing"] {
        let res = get(&app, path, Some("br, gzip")).await;
        let cache = header(&res, "cache-control").unwrap_or_default();
        assert!(
            !cache.contains("immutable") && !cache.contains("max-age=31536000"),
            "{path}: {cache}"
        );
        assert_eq!(header(&res, "content-encoding"), None, "{path}");
    }
    app.stop().await;
}
