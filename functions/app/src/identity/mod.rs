//! Who is calling: bearer JWTs verified against the issuer's JWKS, and — in local mode — the
//! bundled OIDC issuer with the seeded demo users.

#[cfg(feature = "local")]
pub mod issuer;
pub mod jwt;

use async_trait::async_trait;

/// The caller, derived from verified token claims only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's `sub`: the stable user id memberships are keyed by.
    pub user_id: String,
    /// The token's `email` claim (lowercased); invitations are matched against it.
    pub email: String,
    /// The token's `name` claim, or the email when absent.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    /// Bad signature, wrong issuer or audience, expired, not yet valid, unknown key, malformed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The key set could not be fetched: a server-side fault, not the caller's.
    #[error("cannot fetch the issuer's keys: {0}")]
    KeysUnavailable(String),
}

/// Verifies a bearer token (the part after `Bearer `).
#[async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    async fn verify(&self, token: &str) -> Result<Actor, AuthError>;
}

/// A seeded user of local mode.
#[cfg(feature = "local")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    pub user_id: &'static str,
    pub email: &'static str,
    pub name: &'static str,
}

/// The demo users of local mode. Memberships for them are seeded by `local::seed_demo`.
#[cfg(feature = "local")]
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        user_id: "u-owner",
        email: "owner@demo.test",
        name: "Olivia Owner",
    },
    DemoUser {
        user_id: "u-manager",
        email: "manager@demo.test",
        name: "Manuel Manager",
    },
    DemoUser {
        user_id: "u-operator",
        email: "operator@demo.test",
        name: "Opal Operator",
    },
    DemoUser {
        user_id: "u-readonly",
        email: "readonly@demo.test",
        name: "Rey Readonly",
    },
    DemoUser {
        user_id: "u-outsider",
        email: "outsider@other.test",
        name: "Otto Outsider",
    },
    // A member of no workspace: signs in to the first-run page (create a workspace, or accept
    // an invitation).
    DemoUser {
        user_id: "u-newcomer",
        email: "newcomer@demo.test",
        name: "Nia Newcomer",
    },
    // No workspace's member: the platform operator of local mode (`ATLAS_PLATFORM_OPERATORS`).
    DemoUser {
        user_id: "u-platform",
        email: "platform@demo.test",
        name: "Pia Platform",
    },
];
