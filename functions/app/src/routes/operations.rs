//! The operations hub and the canonical run viewer. The viewer's legitimacy comes from the run
//! itself — its workspace membership and direct environment entitlement — never from the
//! environment the client happens to have selected; a difference is reported, not refused.

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, OperationType};
use atlas_store::Item;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::records::runs::{self as rec, OperationRun};
use crate::records::{self, Record};
use crate::routes::audit::csv_cell;
use crate::scope::WorkspaceScope;
use crate::state::AppState;
use crate::tenancy;

pub const HUB_FILTERS: &[&str] = &["environment_id", "operation_type", "status"];
pub const HUB_QUERY: &[&str] = &["environment_id", "operation_type", "status", "cursor", "limit"];

struct Filters {
    env: Option<EnvironmentId>,
    kind: Option<OperationType>,
    status: Option<String>,
}

async fn filters(state: &AppState, scope: &WorkspaceScope, q: &QueryMap) -> ApiResult<Filters> {
    let kind = match q.get("operation_type") {
        None => None,
        Some(t) => Some(OperationType::parse(t).ok_or_else(|| {
            let all: Vec<&str> = OperationType::ALL.iter().map(|o| o.as_str()).collect();
            ApiError::field("query.operation_type", format!("must be one of {}", all.join(", ")))
        })?),
    };
    let status = q.get("status").map(str::to_owned);
    if let Some(st) = &status
        && atlas_domain::Status::parse(st).is_none()
    {
        return Err(ApiError::field(
            "query.status",
            "must be a canonical status such as running, ready or failed",
        ));
    }
    Ok(Filters {
        env: tenancy::hub_environment(state, scope, q.get("environment_id")).await?,
        kind,
        status,
    })
}

fn visible(scope: &WorkspaceScope, run: &OperationRun, f: &Filters) -> bool {
    let env = run.environment_id.as_deref();
    let entitled = env.is_none_or(|e| EnvironmentId::parse(e).is_ok_and(|e| scope.entitled_to(&e)));
    entitled
        && f.env.as_ref().is_none_or(|want| env == Some(want.as_str()))
        && f.kind.is_none_or(|k| run.kind == k)
        && f.status.as_ref().is_none_or(|st| run.status().as_str() == st)
}

/// Newest first, filtered while paging with a read budget; the cursor continues exactly.
async fn page(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &Filters,
    cursor: Option<String>,
    limit: usize,
) -> ApiResult<(Vec<api::OperationRun>, Option<String>)> {
    let mut q = rec::workspace_runs(scope.workspace_id()).limit(100).after(cursor);
    let mut out: Vec<OperationRun> = Vec::new();
    for _ in 0..20 {
        let p = records::query::<OperationRun>(&state.table, &q).await?;
        let count = p.items.len();
        for (idx, run) in p.items.into_iter().enumerate() {
            if visible(scope, &run, f) {
                out.push(run);
                if out.len() == limit {
                    let last = out.last().expect("non-empty").to_item();
                    let mut key = Item::new();
                    for k in ["PK", "SK", "GSI1PK", "GSI1SK"] {
                        if let Some(v) = last.get(k) {
                            key.insert(k.into(), v.clone());
                        }
                    }
                    let more = p.next.is_some() || idx + 1 < count;
                    let next = more.then(|| atlas_store::table::encode_cursor(&key));
                    return Ok((views(state, out).await?, next));
                }
            }
        }
        match p.next {
            Some(n) => q.cursor = Some(n),
            None => return Ok((views(state, out).await?, None)),
        }
    }
    let next = q.cursor.take();
    Ok((views(state, out).await?, next))
}

/// The runs as the API shows them; an active run's counts are on its tally (ADR 0044).
async fn views(state: &AppState, runs: Vec<OperationRun>) -> ApiResult<Vec<api::OperationRun>> {
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        out.push(crate::runs::tallied(state, run).await?.to_api());
    }
    Ok(out)
}

pub async fn list(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::OperationPage>> {
    let f = filters(&state, &scope, &q).await?;
    let limit = q.int("limit", 1, 200)?.unwrap_or(50) as usize;
    let (items, next) = page(&state, &scope, &f, q.get("cursor").map(str::to_owned), limit).await?;
    Ok(Json(api::OperationPage { items, next }))
}

pub async fn export(State(state): State<AppState>, scope: WorkspaceScope, q: QueryMap) -> ApiResult<Response> {
    let f = filters(&state, &scope, &q).await?;
    let mut csv = String::from(
        "id,type,label,environment_id,initiator,state,outcome,status,reason,created_ms,duration_ms,total,succeeded,failed,skipped\r\n",
    );
    let mut cursor = None;
    loop {
        let (items, next) = page(&state, &scope, &f, cursor.take(), 200).await?;
        for r in items {
            let cells = [
                r.id,
                r.operation_type.to_string(),
                r.label,
                r.environment_id.unwrap_or_default(),
                r.initiator,
                r.state.to_string(),
                r.outcome.map(|o| o.to_string()).unwrap_or_default(),
                r.status.to_string(),
                r.reason.unwrap_or_default(),
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
    Ok(super::csv_download("operations.csv", Body::from(csv)))
}

/// The canonical viewer. A run of another workspace, or of an environment the member is not
/// entitled to, is a plain 404.
pub async fn get(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, run_id)): Path<(String, String)>,
    q: QueryMap,
) -> ApiResult<Json<api::OperationView>> {
    let run: OperationRun = scope
        .records(&state.table)
        .owned(&rec::run_key(&run_id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let run = crate::runs::tallied(&state, run).await?;
    let env = run.environment_id.clone();
    if let Some(e) = &env
        && !EnvironmentId::parse(e).is_ok_and(|e| scope.entitled_to(&e))
    {
        return Err(ApiError::NotFound);
    }
    let selected = q.get("selected_environment_id");
    let context_mismatch = match (selected, &env) {
        (Some(sel), Some(e)) => sel != e,
        (Some(_), None) => true,
        _ => false,
    };
    let items = rec::units(&state.table, &run_id, false)
        .await?
        .iter()
        .map(api::RunItem::from)
        .collect();
    Ok(Json(api::OperationView {
        run: run.to_api(),
        context_mismatch,
        items,
    }))
}

/// The answer to starting a run: 202, the run, and its canonical address in `Location`.
pub fn accepted(scope: &crate::scope::EnvScope, run: &OperationRun) -> Response {
    accepted_in(scope.workspace(), run)
}

/// [`accepted`] for a run a workspace-level route started (in one of its environments).
pub fn accepted_in(scope: &WorkspaceScope, run: &OperationRun) -> Response {
    let run = run.to_api();
    let location = atlas_api_types::paths::operation(scope.workspace_id().as_str(), &run.id);
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(run)).into_response()
}
