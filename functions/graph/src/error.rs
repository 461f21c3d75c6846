//! Typed Graph errors. Graph's `code`, `request-id` and `client-request-id` survive into every variant
//! that came from a response, so callers branch on codes and support can trace a call.

use std::time::Duration;

use serde_json::Value;

/// Errors carry the context a caller or a support ticket needs. The response-derived variants box
/// their details so `Result<_, GraphError>` stays small.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The token endpoint refused us (bad secret or assertion, consent revoked, unknown tenant …).
    #[error("token request refused: {0}")]
    Auth(Box<AuthError>),
    /// Still 429 after every retry.
    #[error("throttled: {0}")]
    Throttled(Box<ResponseError>),
    /// Any other non-success status (after retries, for the retryable ones).
    #[error("{0}")]
    Http(Box<ResponseError>),
    /// Multi Admin Approval: the write needs an approval; `approval_code` (from `x-msft-approval-code`)
    /// names the request to poll.
    #[error("Multi Admin Approval required: {0}")]
    ApprovalRequired(Box<ResponseError>),
    #[error("{method} {path} timed out after {timeout:?}")]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
    },
    /// A list could not be read to its end. Never hand out the pages read so far as if they were all.
    #[error("incomplete read of {path} after {pages_read} page(s), {items_read} item(s): {reason}")]
    Incomplete {
        path: String,
        pages_read: u32,
        items_read: usize,
        reason: String,
        #[source]
        source: Option<Box<GraphError>>,
    },
    #[error("network error on {method} {path}: {message}")]
    Network {
        method: String,
        path: String,
        message: String,
    },
    #[error("undecodable response from {path}: {message}")]
    Decode { path: String, message: String },
    /// A caller mistake caught before anything was sent (bad key, foreign URL, duplicate batch ids …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// A non-success response from Graph (or a `$batch` item).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{method} {path} returned {status} {code}: {message}")]
pub struct ResponseError {
    pub method: String,
    /// Path and query under the Graph base.
    pub path: String,
    pub status: u16,
    /// Graph's `error.code` (`Forbidden`, `TooManyRequests`, `ApprovalRequired` …), or `http_{status}`.
    pub code: String,
    pub message: String,
    /// The `request-id` response header, else the body's `innerError`.
    pub request_id: Option<String>,
    /// The id we sent (or the body's).
    pub client_request_id: Option<String>,
    /// The last `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    /// `x-msft-approval-code` (Multi Admin Approval).
    pub approval_code: Option<String>,
}

/// A refusal from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant {tenant} ({status}): {code}: {description}")]
pub struct AuthError {
    pub tenant: String,
    pub status: u16,
    /// OAuth `error`, e.g. `invalid_client`, `unauthorized_client`, `invalid_scope`.
    pub code: String,
    pub description: String,
    /// The AADSTS numbers (`error_codes`).
    pub error_codes: Vec<i64>,
    pub correlation_id: Option<String>,
}

impl GraphError {
    /// The response details, for the variants that came from a Graph response.
    pub fn response(&self) -> Option<&ResponseError> {
        match self {
            GraphError::Throttled(r) | GraphError::Http(r) | GraphError::ApprovalRequired(r) => Some(r),
            GraphError::Incomplete { source: Some(s), .. } => s.response(),
            _ => None,
        }
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Auth(a) => Some(a.status),
            _ => self.response().map(|r| r.status),
        }
    }

    /// Graph's error `code` (or the OAuth `error` for [`GraphError::Auth`]).
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Auth(a) => Some(&a.code),
            _ => self.response().map(|r| r.code.as_str()),
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        self.response().and_then(|r| r.request_id.as_deref())
    }

    pub fn client_request_id(&self) -> Option<&str> {
        self.response().and_then(|r| r.client_request_id.as_deref())
    }

    /// How long Graph asked us to stay away (`Retry-After` on a 429 or 503) when the request gave
    /// up instead of sleeping through it: the caller should come back then, not fail the work.
    pub fn must_wait(&self) -> Option<Duration> {
        let r = self.response()?;
        matches!(r.status, 429 | 503).then_some(r.retry_after?)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, GraphError::Http(r) if r.status == 404)
    }

    /// 403 (other than an approval request): usually a missing application permission.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, GraphError::Http(r) if r.status == 403)
    }
}

/// What a Graph error body (`{"error":{"code","message","innerError":{…}}}`) says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

/// Parses a Graph error body. `innerError` may nest; ids are taken from the outermost level that has them.
/// Anything unparseable yields an empty [`ErrorBody`]: the status still tells the story.
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    parse_error_value(&value)
}

pub(crate) fn parse_error_value(value: &Value) -> ErrorBody {
    let Some(error) = value.get("error").filter(|e| e.is_object()) else {
        return ErrorBody::default();
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut out = ErrorBody {
        code: text(error, "code"),
        message: text(error, "message"),
        ..ErrorBody::default()
    };
    let mut inner = error.get("innerError").or_else(|| error.get("innererror"));
    while let Some(level) = inner {
        out.request_id = out.request_id.or_else(|| text(level, "request-id"));
        out.client_request_id = out.client_request_id.or_else(|| text(level, "client-request-id"));
        inner = level.get("innerError").or_else(|| level.get("innererror"));
    }
    out
}

/// What the token endpoint's error body says (`error`, `error_description`, `error_codes`, `correlation_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenErrorBody {
    pub code: Option<String>,
    pub description: Option<String>,
    pub error_codes: Vec<i64>,
    pub correlation_id: Option<String>,
}

pub(crate) fn parse_token_error(body: &[u8]) -> TokenErrorBody {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return TokenErrorBody::default();
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    TokenErrorBody {
        code: text("error"),
        description: text("error_description"),
        error_codes: v
            .get("error_codes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default(),
        correlation_id: text("correlation_id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_error_body_with_nested_inner_error() {
        let body = br#"{"error":{"code":"Forbidden","message":"Application is not authorized",
            "innerError":{"date":"2025-02-13T10:17:05","innerError":{"request-id":"r-1","client-request-id":"c-1"}}}}"#;
        let parsed = parse_error_body(body);
        assert_eq!(parsed.code.as_deref(), Some("Forbidden"));
        assert_eq!(parsed.message.as_deref(), Some("Application is not authorized"));
        assert_eq!(parsed.request_id.as_deref(), Some("r-1"));
        assert_eq!(parsed.client_request_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn throttling_body_from_the_docs() {
        let body = br#"{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51",
            "message":"Please retry after","request-id":"94fb3b52","status":"429"},"message":"Please retry again later."}}"#;
        let parsed = parse_error_body(body);
        assert_eq!(parsed.code.as_deref(), Some("TooManyRequests"));
        assert_eq!(parsed.message.as_deref(), Some("Please retry again later."));
        assert_eq!(parsed.request_id.as_deref(), Some("94fb3b52"));
        assert_eq!(parsed.client_request_id, None);
    }

    #[test]
    fn garbage_bodies_parse_to_nothing() {
        assert_eq!(parse_error_body(b"<html>502 Bad Gateway</html>"), ErrorBody::default());
        assert_eq!(parse_error_body(b""), ErrorBody::default());
        assert_eq!(parse_error_body(br#"{"error":"invalid_client"}"#), ErrorBody::default());
    }

    #[test]
    fn token_error_body() {
        let body = br#"{"error":"invalid_scope","error_description":"AADSTS70011: bad scope","error_codes":[70011],
            "timestamp":"2025-01-01 00:00:00Z","trace_id":"t","correlation_id":"corr"}"#;
        let parsed = parse_token_error(body);
        assert_eq!(parsed.code.as_deref(), Some("invalid_scope"));
        assert_eq!(parsed.description.as_deref(), Some("AADSTS70011: bad scope"));
        assert_eq!(parsed.error_codes, vec![70011]);
        assert_eq!(parsed.correlation_id.as_deref(), Some("corr"));
    }

    #[test]
    fn accessors_look_through_incomplete() {
        let inner = GraphError::Http(Box::new(ResponseError {
            method: "GET".into(),
            path: "/beta/x".into(),
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "m".into(),
            request_id: Some("r".into()),
            client_request_id: Some("c".into()),
            retry_after: None,
            approval_code: None,
        }));
        let e = GraphError::Incomplete {
            path: "/beta/x".into(),
            pages_read: 2,
            items_read: 50,
            reason: "page 3 failed".into(),
            source: Some(Box::new(inner)),
        };
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.code(), Some("ServiceUnavailable"));
        assert_eq!(e.request_id(), Some("r"));
        assert_eq!(e.client_request_id(), Some("c"));
        assert!(!e.is_forbidden());
        assert!(std::mem::size_of::<GraphError>() <= 96);
    }
}
