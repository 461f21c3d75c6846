//! Microsoft Graph client for TenantAtlas.
//!
//! One [`GraphClient`] per process (one pooled rustls `reqwest::Client`, one token cache, shared
//! budgets); a [`TenantClient`] per tenant and app. Every call goes through the same loop: client-side
//! budgets and a per-tenant concurrency limit, a cached client-credentials token, a `client-request-id`,
//! retries of 429/5xx honouring `Retry-After` (else full-jitter backoff), and typed errors that keep
//! Graph's code and request ids. Lists are read to their end or fail with [`GraphError::Incomplete`].

mod audit;
mod batch;
mod budget;
mod client;
mod config;
mod credential;
mod error;
pub mod families;
mod read;
mod retry;
pub mod services;
mod token;

pub use audit::{AuditActor, AuditEvent, AuditProperty, AuditResource, audit_events_path};
pub use batch::{BatchItem, BatchRequest, BatchResponse, MAX_BATCH};
pub use budget::{SHARED_SLOTS, SharedBudget, SlidingWindow};
pub use client::{GraphClient, GraphCounters, GraphRequest, GraphResponse, TenantClient};
pub use config::{GRAPH_DEFAULT_SCOPE, GraphConfig, MICROSOFT_GRAPH_BASE, MICROSOFT_LOGIN_BASE};
pub use credential::{AppIdentity, CertificateCredential, ClientSecret, Credential};
pub use error::{AuthError, ErrorBody, GraphError, ResponseError, parse_error_body};
pub use read::{FailedObject, FamilyRead, ObjectsRead, Presence};
pub use reqwest::Method;
pub use retry::{full_jitter, parse_retry_after};
pub use token::AccessToken;

/// A Graph API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// A random (v4) GUID for `client-request-id` and assertion `jti`s.
pub(crate) fn new_guid() -> String {
    let mut v = fastrand::u128(..);
    v = (v & !(0xF << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn guids_are_v4_shaped_and_distinct() {
        let a = super::new_guid();
        let b = super::new_guid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
