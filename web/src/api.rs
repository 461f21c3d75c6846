//! The one client for the TenantAtlas API: every call goes through `send`, which adds the bearer
//! token and turns HTTP statuses and problem+json bodies into `ApiError`. Pages map the error to a
//! view with `components::error::ErrorView` (401 → sign-in, 403 → permission, 404 → not found).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use atlas_api_types::Problem;
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

const TOKEN_KEY: &str = "atlas.token";

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: no session, or it expired.
    Unauthorized,
    /// 403: signed in, but not allowed.
    Forbidden,
    /// 404: absent, or not ours to see; the two are indistinguishable on purpose.
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
            Self::Forbidden => f.write_str("You do not have permission to do this."),
            Self::NotFound => f.write_str("Not found."),
            // The detail says what happened; the title is the generic words of the status
            // ("The resource changed or already exists"), shown only when there is nothing better.
            Self::Problem(problem) => {
                // ASCII only: Unicode case tables would cost every bundle kilobytes.
                let mut text = problem.detail.clone().unwrap_or_else(|| problem.title.clone());
                if let Some(first) = text.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                f.write_str(&text)
            }
            Self::Status(status) => write!(f, "The server answered with status {status}."),
            Self::Network(_) => f.write_str("The service could not be reached."),
            Self::Decode(_) => f.write_str("The service sent an answer this app does not understand."),
        }
    }
}

impl ApiError {
    /// The message for one form field, from a problem's field errors (`query.` prefixes ignored).
    pub fn field(&self, name: &str) -> Option<String> {
        let Self::Problem(p) = self else { return None };
        let msgs: Vec<&str> = p
            .errors
            .iter()
            .filter(|e| e.field == name || e.field.strip_prefix("query.") == Some(name))
            .map(|e| e.message.as_str())
            .collect();
        (!msgs.is_empty()).then(|| msgs.join("; "))
    }

    /// Like [`field`](Self::field), also matching the field inside a list of the body
    /// (`set[0].target_id`, `remove.0.source_id`): forms that send one row at a time.
    pub fn field_in_list(&self, name: &str) -> Option<String> {
        let Self::Problem(p) = self else { return None };
        let msgs: Vec<&str> = p
            .errors
            .iter()
            .filter(|e| e.field == name || e.field.rsplit(['.', ']']).next() == Some(name))
            .map(|e| e.message.as_str())
            .collect();
        (!msgs.is_empty()).then(|| msgs.join("; "))
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The bearer token of this tab's session (sessionStorage: gone when the tab closes).
pub fn token() -> Option<String> {
    storage()?.get_item(TOKEN_KEY).ok()?
}

pub fn set_token(token: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match token {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}

/// Percent-encodes a query value (as `encodeURIComponent` does).
pub use atlas_api_types::paths::encode as enc;

/// `path?k=v&…`, leaving out empty values.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    parse(&text(Request::get(path), None).await?)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let body = json(body)?;
    parse(&text(Request::post(path), Some(body)).await?)
}

/// A POST without a body (starting runs, consent, verification).
pub async fn post_empty<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    parse(&text(Request::post(path), None).await?)
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let body = json(body)?;
    parse(&text(Request::patch(path), Some(body)).await?)
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let body = json(body)?;
    parse(&text(Request::put(path), Some(body)).await?)
}

/// A POST whose answer carries no body (204).
pub async fn post_no_content<B: Serialize>(path: &str, body: &B) -> Result<(), ApiError> {
    let body = json(body)?;
    exchange(Request::post(path), Some(body), false).await.map(drop)
}

/// A POST without a body whose answer is not read (a step of a promotion: the page loads the
/// promotion again).
pub async fn post_unit(path: &str) -> Result<(), ApiError> {
    exchange(Request::post(path), None, false).await.map(drop)
}

/// PUT or DELETE whose answer carries no body worth reading (204).
pub async fn put_unit(path: &str) -> Result<(), ApiError> {
    exchange(Request::put(path), None, false).await.map(drop)
}

pub async fn delete<B: Serialize>(path: &str, body: Option<&B>) -> Result<(), ApiError> {
    let body = body.map(json).transpose()?;
    exchange(Request::delete(path), body, false).await.map(drop)
}

/// A text answer (CSV exports).
pub async fn get_text(path: &str) -> Result<String, ApiError> {
    text(Request::get(path), None).await
}

/// A request body as JSON text. Serializing here keeps the network code below free of the body's
/// type, so it is compiled once rather than once per request and answer type.
fn json<B: Serialize>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Network(e.to_string()))
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    serde_json::from_str(body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// The answer's body as text.
fn text(request: RequestBuilder, body: Option<String>) -> Exchange {
    exchange(request, body, true)
}

/// The network part of a call, boxed: every typed call above awaits this one future, so the
/// request and response machinery is compiled once instead of inside each caller's future.
type Exchange = Pin<Box<dyn Future<Output = Result<String, ApiError>>>>;

/// Sends the request; the answer's body as text when `read`, else empty.
fn exchange(request: RequestBuilder, body: Option<String>, read: bool) -> Exchange {
    Box::pin(async move {
        let response = send(request, body).await?;
        if !read {
            return Ok(String::new());
        }
        response.text().await.map_err(|e| ApiError::Network(e.to_string()))
    })
}

async fn send(request: RequestBuilder, body: Option<String>) -> Result<Response, ApiError> {
    let mut request = request.header("Accept", "application/json, application/problem+json");
    if let Some(token) = token() {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request.header("Content-Type", "application/json").body(body),
        None => request.build(),
    }
    .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    if response.ok() {
        Ok(response)
    } else {
        Err(error(&response).await)
    }
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
        && let Ok(body) = response.text().await
        && let Ok(problem) = serde_json::from_str::<Problem>(&body)
    {
        return ApiError::Problem(problem);
    }
    ApiError::Status(response.status())
}

/// Paths of the API: the builders shared with the route registry and the tests.
pub use atlas_api_types::paths;

#[cfg(test)]
mod tests {
    use atlas_api_types::{FieldError, Problem};

    use super::ApiError;

    #[test]
    fn a_field_error_is_found_inside_a_list_of_the_body() {
        let problem = Problem {
            kind: "about:blank".into(),
            title: "Invalid".into(),
            status: 400,
            detail: None,
            errors: vec![
                FieldError {
                    field: "set[0].target_id".into(),
                    message: "no such group".into(),
                },
                FieldError {
                    field: "source_environment_id".into(),
                    message: "is required".into(),
                },
            ],
            request_id: None,
        };
        let e = ApiError::Problem(problem);
        assert_eq!(e.field_in_list("target_id").as_deref(), Some("no such group"));
        assert_eq!(e.field_in_list("source_environment_id").as_deref(), Some("is required"));
        assert_eq!(e.field_in_list("kind"), None);
        assert_eq!(e.field("target_id"), None);
    }

    #[test]
    fn a_problem_says_its_detail_without_the_generic_title() {
        let mut problem = Problem {
            kind: "urn:tenantatlas:problem:conflict".into(),
            title: "The resource changed or already exists".into(),
            status: 409,
            detail: Some("the connection is disabled: enable it first".into()),
            errors: Vec::new(),
            request_id: None,
        };
        let e = ApiError::Problem(problem.clone());
        assert_eq!(e.to_string(), "The connection is disabled: enable it first");
        problem.detail = None;
        assert_eq!(
            ApiError::Problem(problem).to_string(),
            "The resource changed or already exists"
        );
    }
}
