//! One error type for every route, rendered as `application/problem+json`. Server faults are
//! logged with their detail and answered without it.

use atlas_api_types::{FieldError, Problem};
use atlas_store::{QueueError, TableError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: 400 with the offending fields.
    #[error("bad request")]
    BadRequest(Vec<FieldError>),
    /// Well-formed but not acceptable: 422 with the fields.
    #[error("unprocessable")]
    Unprocessable(Vec<FieldError>),
    #[error("authentication required")]
    Unauthorized,
    /// Missing capability: 403.
    #[error("forbidden")]
    Forbidden,
    /// Refused for a reason the caller can act on (self-approval): 403 with that reason.
    #[error("refused: {0}")]
    Refused(String),
    /// Absent, or not visible to this actor: the same 404 either way.
    #[error("not found")]
    NotFound,
    /// The state changed underneath, or a create found the record already there.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("body too large")]
    TooLarge(usize),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("busy, retry later")]
    Unavailable,
    /// The path and query are longer than the router's `URI_LIMIT`: 414.
    #[error("uri too long")]
    UriTooLong(usize),
    /// A per-user quota is used up: 429 with what to do.
    #[error("quota: {0}")]
    Quota(String),
    /// An upstream (Graph) asked us to come back after this long: queued work re-queues itself
    /// with that delay instead of holding its worker.
    #[error("must wait {0:?}")]
    Wait(std::time::Duration),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "validation", "The request is not valid"),
            ApiError::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "The request cannot be processed",
            ),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication is required"),
            ApiError::Forbidden | ApiError::Refused(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "You do not have permission for this action",
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "The resource changed or already exists",
            ),
            ApiError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "The request body is too large",
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "media-type",
                "The request body must be application/json",
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "This resource does not support the method",
            ),
            ApiError::Unavailable | ApiError::Wait(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is busy; retry later",
            ),
            ApiError::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri-too-long", "The request URI is too long"),
            ApiError::Quota(_) => (StatusCode::TOO_MANY_REQUESTS, "quota", "A quota is used up"),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side",
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.parts();
        let (detail, errors) = match self {
            ApiError::BadRequest(f) | ApiError::Unprocessable(f) => (None, bounded(f)),
            ApiError::Conflict(reason) | ApiError::Quota(reason) | ApiError::Refused(reason) => {
                (Some(truncate(reason, MAX_MESSAGE)), Vec::new())
            }
            ApiError::TooLarge(limit) => (Some(format!("The limit is {limit} bytes.")), Vec::new()),
            ApiError::UriTooLong(limit) => (
                Some(format!("The path and query may be at most {limit} bytes.")),
                Vec::new(),
            ),
            _ => (None, Vec::new()),
        };
        Problem {
            kind: format!("urn:tenantatlas:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
            request_id: None,
        }
    }
}

/// At most this many field errors are echoed; the rest are counted in a last entry.
pub const MAX_FIELD_ERRORS: usize = 20;
/// Field names echo what the caller sent, so they are cut to this many characters.
pub const MAX_FIELD_NAME: usize = 100;
pub const MAX_MESSAGE: usize = 300;

/// Cuts `s` to `max` characters, marking the cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// Caller input decides how many errors there are and how long their names are: a problem body
/// stays small whatever was sent.
fn bounded(errors: &[FieldError]) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = errors
        .iter()
        .take(MAX_FIELD_ERRORS)
        .map(|e| FieldError {
            field: truncate(&e.field, MAX_FIELD_NAME),
            message: truncate(&e.message, MAX_MESSAGE),
        })
        .collect();
    if errors.len() > MAX_FIELD_ERRORS {
        out.push(FieldError {
            field: "body".into(),
            message: format!("and {} more", errors.len() - MAX_FIELD_ERRORS),
        });
    }
    out
}

/// The problem a response carries, for the router to stamp with the request id without reading
/// the body back.
#[derive(Clone)]
pub struct ProblemExt(pub Problem);

impl From<TableError> for ApiError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::ConditionFailed => ApiError::Conflict("the record changed or already exists".into()),
            TableError::TransactionCanceled { .. } => {
                ApiError::Conflict("the records changed; nothing was written".into())
            }
            TableError::BadCursor => ApiError::field("cursor", "is not a cursor this API returned"),
            TableError::Throttled => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.extensions_mut().insert(ProblemExt(problem));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::Wait(d) = &self
            && let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let ApiError::Unauthorized = self {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Field errors collected while parsing a request into domain types.
#[derive(Default)]
pub struct Fields(pub Vec<FieldError>);

impl Fields {
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldError {
                    field: field.to_owned(),
                    message: e.to_string(),
                });
                None
            }
        }
    }
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }
    pub fn finish(self) -> Result<(), ApiError> {
        self.checked().map_err(ApiError::from)
    }

    /// The same, for a service: [`ServiceError::Invalid`] naming every field collected.
    pub fn checked(self) -> ServiceResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self.0))
        }
    }
}

/// `the store cannot write: …` from a store error's text, however deep the prefix sits.
pub fn cannot_write(error: &str) -> String {
    match error.find(atlas_store::CANNOT_WRITE) {
        Some(i) => error[i..].to_owned(),
        None => format!("{}: {error}", atlas_store::CANNOT_WRITE),
    }
}

impl ApiError {
    /// For a step whose store write failed as a full disk fails it: `the store cannot write: …`,
    /// so the failed unit (and its run) says why. `None` for any other error.
    pub fn store_write_failure(&self) -> Option<String> {
        let text = self.to_string();
        text.contains(atlas_store::CANNOT_WRITE).then(|| cannot_write(&text))
    }
}

/// What a service reports, by kind. Services and steps return it; it is mapped to an HTTP answer
/// once (`From<ServiceError> for ApiError`) and to a step's outcome once (`steps::unit`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input cannot be used: the offending fields.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// Absent, or not visible in the caller's scope.
    #[error("not found")]
    NotFound,
    /// The caller's role lacks what the action needs.
    #[error("forbidden")]
    Forbidden,
    /// Not allowed for a reason the caller can act on (a requester approving their own request).
    #[error("refused: {0}")]
    Refused(String),
    /// The state does not allow it, or a create found the record there.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Will fail the same way if retried (a revoked consent, a rejected payload).
    #[error("{0}")]
    Permanent(String),
    /// Come back after this long (an upstream's `Retry-After`, a dependency not ready yet).
    #[error("must wait {0:?}")]
    Wait(std::time::Duration),
    /// May succeed if retried: the store or the network failed underneath.
    #[error("transient: {0}")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }
}

impl ServiceError {
    /// For a step whose store write failed as a full disk fails it: `the store cannot write: …`,
    /// so the failed unit (and its run) says why. `None` for any other error.
    pub fn store_write_failure(&self) -> Option<String> {
        let text = self.to_string();
        text.contains(atlas_store::CANNOT_WRITE).then(|| cannot_write(&text))
    }
}

impl From<TableError> for ServiceError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::ConditionFailed => ServiceError::Conflict("the record changed or already exists".into()),
            TableError::TransactionCanceled { .. } => {
                ServiceError::Conflict("the records changed; nothing was written".into())
            }
            TableError::BadCursor => ServiceError::field("cursor", "is not a cursor this API returned"),
            other => ServiceError::Transient(Box::new(other)),
        }
    }
}

impl From<QueueError> for ServiceError {
    fn from(e: QueueError) -> Self {
        ServiceError::Transient(Box::new(e))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(fields) => ApiError::BadRequest(fields),
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::Forbidden => ApiError::Forbidden,
            ServiceError::Refused(why) => ApiError::Refused(why),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Wait(d) => ApiError::Wait(d),
            ServiceError::Transient(source) => match source.downcast::<TableError>() {
                Ok(t) => ApiError::from(*t),
                Err(other) => ApiError::Internal(other.to_string()),
            },
            ServiceError::Permanent(m) => ApiError::Internal(m),
        }
    }
}
