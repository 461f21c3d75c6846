//! The system console's routes (spec 025): platform operators only; every call is written to the
//! system audit log before it is answered.

use atlas_api_types as api;
use axum::Json;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;

use crate::error::ApiResult;
use crate::extract::QueryMap;
use crate::routes::audit::csv_cell;
use crate::scope::PlatformScope;
use crate::state::AppState;
use crate::system::{self, Search};

pub const RUNS_QUERY: &[&str] = &["status", "type", "workspace", "since", "until", "cursor", "limit"];
pub const EXPORT_QUERY: &[&str] = &["status", "type", "workspace", "since", "until"];
pub const AUDIT_QUERY: &[&str] = &["cursor", "limit"];

async fn audited(state: &AppState, scope: &PlatformScope, action: &str, uri: &OriginalUri) -> ApiResult<()> {
    system::record_access(state, scope, action, &uri.0.to_string()).await?;
    Ok(())
}

pub async fn runs(
    State(state): State<AppState>,
    scope: PlatformScope,
    uri: OriginalUri,
    q: QueryMap,
) -> ApiResult<Json<api::SystemRunPage>> {
    audited(&state, &scope, "get-system-runs", &uri).await?;
    let s = Search::parse(|k| q.get(k), state.clock.now_millis())?;
    let limit = q.int("limit", 1, 200)?.unwrap_or(50) as usize;
    let (items, next) = system::search(&state, &s, q.get("cursor"), limit).await?;
    Ok(Json(api::SystemRunPage { items, next }))
}

pub async fn export(
    State(state): State<AppState>,
    scope: PlatformScope,
    uri: OriginalUri,
    q: QueryMap,
) -> ApiResult<Response> {
    audited(&state, &scope, "get-system-runs-csv", &uri).await?;
    let s = Search::parse(|k| q.get(k), state.clock.now_millis())?;
    let mut csv = String::from(
        "id,workspace_id,environment_id,type,label,initiator,state,outcome,status,reason,created_ms,duration_ms,total,succeeded,failed,skipped\r\n",
    );
    let mut cursor: Option<String> = None;
    loop {
        let (items, next) = system::search(&state, &s, cursor.as_deref(), 200).await?;
        for r in items {
            // Metadata only; a reason may quote an upstream error, so it is redacted like the rest.
            let mut reason = serde_json::Value::String(r.reason.unwrap_or_default());
            atlas_domain::redact::redact(&mut reason);
            let cells = [
                r.id,
                r.workspace_id,
                r.environment_id.unwrap_or_default(),
                r.operation_type.to_string(),
                r.label,
                r.initiator,
                r.state.to_string(),
                r.outcome.map(|o| o.to_string()).unwrap_or_default(),
                r.status.to_string(),
                reason.as_str().unwrap_or_default().to_owned(),
                r.created_ms.to_string(),
                r.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
                r.total.to_string(),
                r.succeeded.to_string(),
                r.failed.to_string(),
                r.skipped.to_string(),
            ];
            csv.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            csv.push_str("\r\n");
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    Ok(super::csv_download("system-runs.csv", Body::from(csv)))
}

pub async fn run(
    State(state): State<AppState>,
    scope: PlatformScope,
    uri: OriginalUri,
    Path(run_id): Path<String>,
) -> ApiResult<Json<api::SystemRunDetail>> {
    audited(&state, &scope, "get-system-run", &uri).await?;
    Ok(Json(system::run_detail(&state, &run_id).await?))
}

pub async fn audit(
    State(state): State<AppState>,
    scope: PlatformScope,
    uri: OriginalUri,
    q: QueryMap,
) -> ApiResult<Json<api::SystemAuditPage>> {
    audited(&state, &scope, "get-system-audit-events", &uri).await?;
    let limit = q.int("limit", 1, 200)?.unwrap_or(50) as usize;
    let (items, next) = system::audit_log(&state, q.get("cursor"), limit).await?;
    Ok(Json(api::SystemAuditPage { items, next }))
}
