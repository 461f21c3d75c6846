//! Strict request parsing: JSON bodies with unknown fields refused by name, a size limit (413),
//! and query parameters as a map (the guard has already refused undeclared keys).

use std::collections::BTreeMap;

use atlas_api_types::FieldError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body parsed strictly.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(BODY_LIMIT)
            } else {
                ApiError::field("body", "could not be read")
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        // "unknown field `x`, expected one of …" names the field in the message, not the path.
        let field = match msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
            Some(f) if path == "." => f.to_owned(),
            Some(f) if path == f || path.ends_with(&format!(".{f}")) => path,
            Some(f) => format!("{path}.{f}"),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        let message = match msg.split(" at line ").next() {
            Some(m) if m.starts_with("unknown field") => "is not a field of this request".to_owned(),
            Some(m) => m.to_owned(),
            None => msg.clone(),
        };
        ApiError::BadRequest(vec![FieldError { field, message }])
    })
}

/// The query parameters, decoded; undeclared keys never get this far.
pub struct QueryMap(pub BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        Ok(QueryMap(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl QueryMap {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn int(&self, k: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::field(
                    &format!("query.{k}"),
                    format!("must be a whole number from {min} to {max}"),
                )),
            },
        }
    }
}

pub use crate::error::Fields;

/// The request id the router assigned (or the caller sent and the router kept), for audit events.
pub struct RequestId(pub Option<String>);

pub use crate::telemetry::valid_request_id;

/// The request's id if it is a valid one (the router replaces any other, so this is belt and braces
/// for code that runs outside it).
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(crate::router::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(RequestId(request_id(&parts.headers)))
    }
}
