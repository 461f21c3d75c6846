//! The HTTP API over a real socket, on both backends.

use atlas_api_types::{Health, Problem};
use atlas_tests::app::{Mode, spawn_app};

async fn health_reports_its_backends(mode: Mode, storage: &str, queue: &str) {
    let app = spawn_app(mode).await;
    let res = app.get("/api/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(res.headers().contains_key("x-request-id"));
    let h: Health = res.json().await.unwrap();
    assert_eq!(h.state, "ok");
    assert_eq!(h.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(h.storage, storage);
    assert_eq!(h.queue, queue);
    app.stop().await;
}

#[tokio::test]
async fn health_embedded() {
    health_reports_its_backends(Mode::Embedded, "embedded", "embedded").await;
}

#[tokio::test]
async fn health_dynamodb_sqs() {
    health_reports_its_backends(Mode::Aws, "dynamodb", "sqs").await;
}

#[tokio::test]
async fn unknown_api_route_is_a_problem_with_the_request_id() {
    let app = spawn_app(Mode::Embedded).await;
    let res = app.get("/api/v1/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let p: Problem = res.json().await.unwrap();
    assert_eq!(p.status, 404);
    assert_eq!(p.kind, "urn:tenantatlas:problem:not-found");
    assert_eq!(p.request_id.as_deref(), Some(id.as_str()));
    // A method the route does not have is not served either.
    let res = app
        .client
        .delete(format!("{}/api/health", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_lists_every_registered_route() {
    let app = spawn_app(Mode::Embedded).await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    for r in atlas_app::registry::routes() {
        let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
        assert_eq!(op["operationId"], r.function, "{r:?} is in the served document");
    }
    app.stop().await;
}

#[tokio::test]
async fn web_app_is_served_at_the_root_with_spa_fallback() {
    let app = spawn_app(Mode::Embedded).await;
    // Before a build: a page that says how to build it, never a bare error.
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("cargo xtask up"));

    std::fs::create_dir_all(app.web_dir()).unwrap();
    std::fs::write(
        app.web_dir().join("index.html"),
        "<!doctype html><title>TenantAtlas</title><div id=app></div>",
    )
    .unwrap();
    std::fs::write(app.web_dir().join("style.css"), "body{}").unwrap();
    let index = app.get("/").await.text().await.unwrap();
    assert!(index.contains("<title>TenantAtlas</title>"));
    let css = app.get("/style.css").await;
    assert_eq!(css.headers()["content-type"], "text/css");
    // A client-side route is answered with the app, so a reload works.
    let deep = app.get("/workspaces/ws-demo/operations").await;
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().contains("<title>TenantAtlas</title>"));
    app.stop().await;
}
