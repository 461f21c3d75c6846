use axum::Json;

/// The document is derived from the registry once per process.
pub async fn get() -> Json<&'static serde_json::Value> {
    Json(crate::openapi::document())
}
