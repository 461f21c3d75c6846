//! Evidence packs: start a build, list, detail, a short-lived download link, the download.

use atlas_api_types as api;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};
use crate::evidence;
use crate::extract::{JsonBody, QueryMap};
use crate::scope::WorkspaceScope;
use crate::state::AppState;
use crate::tenancy;

pub const LIST_QUERY: &[&str] = &["environment_id"];

/// `POST …/evidence`: 202 with the `evidence.build` run.
pub async fn start(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::EvidenceStart>,
) -> ApiResult<Response> {
    let run = evidence::start(&state, &scope, body).await?;
    Ok(crate::routes::operations::accepted_in(&scope, &run))
}

pub async fn list(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    q: QueryMap,
) -> ApiResult<Json<api::EvidencePackList>> {
    let env = tenancy::hub_environment(&state, &scope, q.get("environment_id")).await?;
    Ok(Json(api::EvidencePackList {
        items: evidence::list(&state, &scope, env.as_ref()).await?,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<api::EvidencePack>> {
    Ok(Json(evidence::to_api(&evidence::get(&state, &scope, &id).await?)))
}

pub async fn link(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<api::EvidenceLink>)> {
    Ok((StatusCode::CREATED, Json(evidence::link(&state, &scope, &id).await?)))
}

pub async fn get_settings(
    State(state): State<AppState>,
    scope: WorkspaceScope,
) -> ApiResult<Json<api::EvidenceSettings>> {
    Ok(Json(evidence::settings(&state, scope.workspace_id()).await?))
}

/// `PUT …/evidence/settings`: owners only (`members.manage`), audited with old and new values.
pub async fn put_settings(
    State(state): State<AppState>,
    scope: WorkspaceScope,
    JsonBody(body): JsonBody<api::EvidenceSettings>,
) -> ApiResult<Json<api::EvidenceSettings>> {
    Ok(Json(evidence::set_settings(&state, &scope, body).await?))
}

pub const DOWNLOAD_QUERY: &[&str] = &["token"];

/// `GET /api/v1/evidence-download?token=…`: the ZIP, authorized by the link's token alone.
pub async fn download(State(state): State<AppState>, q: QueryMap) -> ApiResult<Response> {
    let token = q
        .get("token")
        .ok_or_else(|| ApiError::field("query.token", "is required: the link's token"))?;
    let Some((pack, bytes)) = evidence::download(&state, token).await? else {
        return Err(ApiError::NotFound);
    };
    let name = format!("attachment; filename=\"evidence-{}.zip\"", pack.pack_id);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
