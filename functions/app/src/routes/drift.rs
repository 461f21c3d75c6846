//! Baselines (workspace-owned), drift per environment and the findings hub (spec 015).

use std::collections::BTreeSet;

use atlas_api_types as api;
use atlas_domain::findings::{FindingSource, FindingStatus, Severity};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::drift::{self, baselines, feed};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap};
use crate::findings::{self, Filter};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

pub const FINDINGS_FILTERS: &[&str] = &[
    "environment_id",
    "state",
    "severity",
    "source",
    "owner",
    "overdue",
    "baseline_id",
    "search",
];
pub const FINDINGS_QUERY: &[&str] = &[
    "environment_id",
    "state",
    "severity",
    "source",
    "owner",
    "overdue",
    "baseline_id",
    "search",
    "cursor",
    "limit",
];
pub const DETECT_QUERY: &[&str] = &["families", "refresh"];

pub async fn create_baseline(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::BaselineCreate>,
) -> ApiResult<(StatusCode, Json<api::Baseline>)> {
    Ok((
        StatusCode::CREATED,
        Json(baselines::create(&state, &scope, &body).await?),
    ))
}

pub async fn list_baselines(
    State(state): State<AppState>,
    scope: WorkspaceScope,
) -> ApiResult<Json<api::BaselineList>> {
    Ok(Json(api::BaselineList {
        items: baselines::list(&state, &scope).await?,
    }))
}

pub async fn get_baseline(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::Baseline>> {
    Ok(Json(baselines::get(&state, &scope, &id).await?))
}

pub async fn capture_snapshot(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<api::SnapshotCreate>,
) -> ApiResult<(StatusCode, Json<api::BaselineSnapshot>)> {
    Ok((
        StatusCode::CREATED,
        Json(baselines::capture(&state, &scope, &id, &body).await?),
    ))
}

pub async fn capture_fresh(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let started = baselines::capture_fresh(&state, &scope, &id).await?;
    Ok(crate::routes::operations::accepted_in(&scope, &started.run))
}

pub async fn list_snapshots(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::BaselineSnapshotList>> {
    Ok(Json(api::BaselineSnapshotList {
        items: baselines::snapshots(&state, &scope, &id).await?,
    }))
}

pub async fn assign(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<api::BaselineAssign>,
) -> ApiResult<Json<api::BaselineAssignment>> {
    Ok(Json(baselines::assign(&state, &scope, &id, &body).await?))
}

pub async fn unassign(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    baselines::unassign(&state, &scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn summary(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::DriftSummary>> {
    Ok(Json(drift::summary(&state, &scope).await?))
}

pub async fn changes(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Json<api::DriftChangeList>> {
    Ok(Json(feed::changes(&state, &scope).await?))
}

/// `?families=a,b` narrows the run to those of the covered families; `?refresh=false` compares
/// the stored inventory without reading Graph (after the change feed or a sync brought it up to date).
pub async fn start_detect(State(state): State<AppState>, scope: EnvScope, q: QueryMap) -> ApiResult<Response> {
    let only: Option<BTreeSet<String>> = q.get("families").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    if let Some(bad) = only
        .iter()
        .flatten()
        .find(|f| atlas_graph::families::Family::by_code(f).is_none())
    {
        return Err(ApiError::field(
            "query.families",
            format!("{bad:?} is not a policy family"),
        ));
    }
    let refresh = match q.get("refresh") {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::field("query.refresh", "must be true or false")),
    };
    let started = drift::start_detect(&state, &scope, only.as_ref(), refresh).await?;
    Ok(crate::routes::operations::accepted(&scope, &started.run))
}

pub(crate) fn parse_or<T>(q: &QueryMap, key: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> ApiResult<Option<T>> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| ApiError::field(&format!("query.{key}"), format!("must be one of {}", all.join(", ")))),
    }
}

async fn filter(state: &AppState, scope: &WorkspaceScope, q: &QueryMap) -> ApiResult<Filter> {
    let statuses: Vec<&str> = FindingStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status = match q.get("state") {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for s in list.split(',').map(str::trim) {
                if s == "open" {
                    out.extend(FindingStatus::ALL.iter().copied().filter(|s| s.is_open()));
                } else {
                    out.push(FindingStatus::parse(s).ok_or_else(|| {
                        ApiError::field(
                            "query.state",
                            format!("must be open or one of {} (comma-separated)", statuses.join(", ")),
                        )
                    })?);
                }
            }
            Some(out)
        }
    };
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let sources: Vec<&str> = FindingSource::ALL.iter().map(|s| s.as_str()).collect();
    let overdue = match q.get("overdue") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::field("query.overdue", "must be true or false")),
    };
    Ok(Filter {
        environment_id: crate::tenancy::hub_environment(state, scope, q.get("environment_id")).await?,
        status,
        severity: parse_or(q, "severity", Severity::parse, &severities)?,
        source: parse_or(q, "source", FindingSource::parse, &sources)?,
        owner: q.get("owner").map(str::to_lowercase),
        overdue,
        baseline_id: q.get("baseline_id").map(str::to_owned),
        search: q.get("search").map(str::to_owned).filter(|s| !s.trim().is_empty()),
    })
}

pub async fn list_findings(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::FindingPage>> {
    let f = filter(&state, &scope, &q).await?;
    let limit = q.int("limit", 1, 500)?.unwrap_or(50) as usize;
    Ok(Json(findings::page(&state, &scope, &f, q.get("cursor"), limit).await?))
}

pub async fn export_findings(State(state): State<AppState>, scope: WorkspaceScope, q: QueryMap) -> ApiResult<Response> {
    let f = filter(&state, &scope, &q).await?;
    let items = findings::matching(&state, &scope, &f).await?;
    Ok(super::csv_download("findings.csv", Body::from(findings::csv(&items))))
}

pub async fn get_finding(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::FindingDetail>> {
    Ok(Json(findings::detail(&state, &scope, &id).await?))
}

pub async fn triage(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::FindingsTriage>,
) -> ApiResult<Json<api::TriageResult>> {
    Ok(Json(findings::triage(&state, &scope, &body).await?))
}
