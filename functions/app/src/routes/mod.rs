//! HTTP handlers, one module per resource.

pub mod alerts;
pub mod audit;
pub mod backups;
pub mod dashboard;
pub mod directory;
pub mod drift;
pub mod environments;
pub mod evidence;
pub mod exceptions;
pub mod health;
pub mod inventory;
pub mod invitations;
pub mod lint;
pub mod members;
pub mod notifications;
pub mod onboarding;
pub mod openapi;
pub mod operations;
pub mod posture;
pub mod promotion;
pub mod provider;
pub mod restores;
pub mod support;
pub mod system;
pub mod workspaces;

/// A CSV download: the body, named `filename`, never cached (every export route answers so).
pub fn csv_download(filename: &str, body: axum::body::Body) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
