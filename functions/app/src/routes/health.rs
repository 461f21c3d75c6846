use atlas_api_types::Health;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::{AppState, VERSION};

/// 200 when the table answers, 503 (same body, `degraded`) when it does not.
#[tracing::instrument(skip_all)]
pub async fn get(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ok = match state.table.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "health: table did not answer");
            false
        }
    };
    let body = Health {
        status: if ok { "ok" } else { "degraded" }.to_owned(),
        version: VERSION.to_owned(),
        storage: state.table.kind().to_owned(),
        queue: state.queues.kind().to_owned(),
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}
