//! The audit log hub: filters, cursor pages, and a streamed CSV export.

use atlas_api_types as api;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;

use crate::audit::{self, Filters, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::scope::WorkspaceScope;
use crate::state::AppState;
use crate::tenancy;

pub const FILTERS: &[&str] = &["environment_id", "actor", "action", "outcome", "from", "to"];
pub const LIST_QUERY: &[&str] = &[
    "environment_id",
    "actor",
    "action",
    "outcome",
    "from",
    "to",
    "cursor",
    "limit",
];

async fn filters(state: &AppState, scope: &WorkspaceScope, q: &QueryMap) -> ApiResult<Filters> {
    let outcome = match q.get("outcome") {
        None => None,
        Some(o) => Some(
            Outcome::parse(o).ok_or_else(|| ApiError::field("query.outcome", "must be success, denied or failed"))?,
        ),
    };
    let from_ms = q.int("from", 0, i64::MAX / 2)?;
    let to_ms = q.int("to", 0, i64::MAX / 2)?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && f > t
    {
        return Err(ApiError::field("query.from", "must not be after `to`"));
    }
    Ok(Filters {
        environment: tenancy::hub_environment(state, scope, q.get("environment_id")).await?,
        actor: q.get("actor").map(str::to_owned),
        action: q.get("action").map(str::to_owned),
        outcome,
        from_ms,
        to_ms,
    })
}

pub async fn list(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::AuditPage>> {
    let f = filters(&state, &scope, &q).await?;
    let limit = q.int("limit", 1, 200)?.unwrap_or(50) as usize;
    let (items, next) = audit::list(&state, &scope, &f, q.get("cursor").map(str::to_owned), limit).await?;
    Ok(Json(api::AuditPage { items, next }))
}

pub use crate::audit::csv_cell;

const HEADER: &str =
    "id,time_ms,actor_id,actor_email,action,target,environment_id,outcome,reason,request_id,metadata\r\n";

fn row(e: &api::AuditEvent) -> String {
    let cells = [
        e.id.clone(),
        e.at_ms.to_string(),
        e.actor_id.clone(),
        e.actor_email.clone(),
        e.action.clone(),
        e.target.clone(),
        e.environment_id.clone().unwrap_or_default(),
        e.outcome.to_string(),
        e.reason.clone().unwrap_or_default(),
        e.request_id.clone().unwrap_or_default(),
        e.metadata.to_string(),
    ];
    let mut line = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Streams every matching event, page by page, without holding the log in memory.
pub async fn export(State(state): State<AppState>, scope: WorkspaceScope, q: QueryMap) -> ApiResult<Response> {
    let f = filters(&state, &scope, &q).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        if tx.send(Ok(HEADER.to_owned())).await.is_err() {
            return;
        }
        let mut cursor = None;
        loop {
            match audit::list(&state, &scope, &f, cursor.take(), 200).await {
                Ok((items, next)) => {
                    let chunk: String = items.iter().map(row).collect();
                    if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                    match next {
                        Some(n) => cursor = Some(n),
                        None => return,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    // Ends the body with an error, so the client sees a broken download, never a short file.
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
        }
    });
    let stream = tokio_stream_from(rx);
    let name = format!("audit-{}.csv", scope_name(&q));
    Ok(super::csv_download(&name, Body::from_stream(stream)))
}

fn scope_name(q: &QueryMap) -> String {
    q.get("environment_id")
        .map(|e| format!("env-{e}"))
        .unwrap_or_else(|| "workspace".into())
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<String, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `GET …/audit/verify`: the hash chain checked from seq 1 to the head.
pub async fn verify(State(state): State<AppState>, scope: WorkspaceScope) -> ApiResult<Json<api::AuditVerification>> {
    Ok(Json(audit::verify(&state, scope.workspace_id()).await?))
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "\"'+1\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("a,b\r\nc"), "\"a,b\r\nc\"");
    }
}
