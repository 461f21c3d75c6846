//! The one client for the TenantAtlas API: every call goes through `send`, which turns HTTP
//! statuses and problem+json bodies into `ApiError`. Per-resource calls stay one-liners on top.

use std::fmt;

use atlas_api_types::Problem;
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: no session, or it expired.
    Unauthorized,
    /// 403: signed in, but not allowed.
    Forbidden,
    /// 404 without a problem body worth showing.
    NotFound,
    /// An `application/problem+json` answer, with any field errors.
    Problem(Problem),
    /// Any other failed status without a problem body.
    Status(u16),
    /// The request never got an answer (offline, DNS, CORS, aborted).
    Network(String),
    /// The answer's body did not match the expected type.
    Decode(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("Your session has ended. Sign in again."),
            Self::Forbidden => f.write_str("You do not have access to this."),
            Self::NotFound => f.write_str("Not found."),
            Self::Problem(problem) => match &problem.detail {
                Some(detail) => write!(f, "{}: {detail}", problem.title),
                None => f.write_str(&problem.title),
            },
            Self::Status(status) => write!(f, "The server answered with status {status}."),
            Self::Network(_) => f.write_str("The service could not be reached."),
            Self::Decode(_) => f.write_str("The service sent an answer this app does not understand."),
        }
    }
}

/// `GET path` (same origin, e.g. `/api/health`).
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    send(Request::get(path)).await
}

async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ApiError> {
    let response = request
        .header("Accept", "application/json, application/problem+json")
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if response.ok() {
        let body = body(&response).await?;
        return serde_json::from_str(&body).map_err(|e| ApiError::Decode(e.to_string()));
    }
    Err(error(&response).await)
}

async fn error(response: &Response) -> ApiError {
    match response.status() {
        401 => return ApiError::Unauthorized,
        403 => return ApiError::Forbidden,
        404 => return ApiError::NotFound,
        _ => {}
    }
    let is_problem = response
        .headers()
        .get("content-type")
        .is_some_and(|kind| kind.starts_with("application/problem+json"));
    if is_problem
        && let Ok(body) = body(response).await
        && let Ok(problem) = serde_json::from_str::<Problem>(&body)
    {
        return ApiError::Problem(problem);
    }
    ApiError::Status(response.status())
}

async fn body(response: &Response) -> Result<String, ApiError> {
    response.text().await.map_err(|e| ApiError::Network(e.to_string()))
}
