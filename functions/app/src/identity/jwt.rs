//! `JwksVerifier`: bearer JWTs checked with `jsonwebtoken` against the issuer's published keys.
//!
//! Keys are cached by `kid`. A token with an unknown `kid` refreshes the set, but at most once per
//! [`REFETCH_EVERY`], so a flood of made-up `kid`s cannot turn into a flood of requests to the issuer.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use atlas_store::{Clock, SystemClock};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use time::OffsetDateTime;

pub use jsonwebtoken::jwk::{Jwk, JwkSet};

use super::{Actor, AuthError, TokenVerifier};

/// The least time between two fetches of the key set.
pub const REFETCH_EVERY: Duration = Duration::from_secs(30);
/// After a failed fetch, the next may come sooner: the issuer being briefly down should not lock
/// everyone out for the full interval.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// Longer than any real token; refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The exact `iss` tokens must carry.
    pub issuer: String,
    /// The `aud` tokens must carry (one of, when an array).
    pub audience: String,
    /// Where the issuer publishes its JWK set.
    pub jwks_url: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
}

impl JwtConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: jwks_url.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// Where the verifier gets the issuer's public keys.
#[async_trait]
pub trait JwksSource: Send + Sync + 'static {
    /// The current key set. `Err` only for [`AuthError::KeysUnavailable`].
    async fn fetch(&self) -> Result<JwkSet, AuthError>;
}

/// The key set from the issuer's `jwks_uri`, over HTTPS (or HTTP on loopback).
pub struct HttpJwksSource {
    client: reqwest::Client,
    url: String,
}

impl HttpJwksSource {
    pub fn new(url: impl Into<String>) -> Result<Self, AuthError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| AuthError::KeysUnavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            url: url.into(),
        })
    }
}

#[async_trait]
impl JwksSource for HttpJwksSource {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let unavailable = |e: reqwest::Error| AuthError::KeysUnavailable(format!("{}: {e}", self.url));
        let body: serde_json::Value = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        parse_jwk_set(&body).ok_or_else(|| AuthError::KeysUnavailable(format!("{}: not a JWK set", self.url)))
    }
}

/// A fixed key set, served in-process (local mode's issuer, tests).
#[derive(Debug, Clone)]
pub struct StaticJwks(pub JwkSet);

#[async_trait]
impl JwksSource for StaticJwks {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        Ok(self.0.clone())
    }
}

/// Reads `{"keys": [...]}`, skipping keys this crate cannot represent rather than failing the set:
/// issuers publish key types and fields we do not use.
pub fn parse_jwk_set(body: &serde_json::Value) -> Option<JwkSet> {
    let keys = body.get("keys")?.as_array()?;
    Some(JwkSet {
        keys: keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect(),
    })
}

struct CachedKey {
    key: DecodingKey,
    alg: Algorithm,
}

/// The key and algorithm a JWK is for, or `None` for keys we never accept (not for signatures,
/// not RS256 or ES256 on P-256).
fn usable(jwk: &Jwk) -> Option<(String, CachedKey)> {
    let kid = jwk.common.key_id.clone().filter(|k| !k.is_empty())?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256)) if p.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, CachedKey { key, alg }))
}

#[derive(Default)]
struct FetchState {
    last_at: Option<OffsetDateTime>,
    last_error: Option<String>,
}

pub struct JwksVerifier {
    config: JwtConfig,
    source: Arc<dyn JwksSource>,
    clock: Arc<dyn Clock>,
    keys: RwLock<HashMap<String, Arc<CachedKey>>>,
    /// Held across a fetch, so concurrent misses share one request.
    fetch: tokio::sync::Mutex<FetchState>,
}

impl JwksVerifier {
    /// Keys from `config.jwks_url` over HTTP.
    pub fn new(config: JwtConfig) -> Result<Self, AuthError> {
        let source = Arc::new(HttpJwksSource::new(config.jwks_url.clone())?);
        Ok(Self::with_source(config, source, Arc::new(SystemClock)))
    }

    /// Keys from any source; `config.jwks_url` is not used. The clock only paces refetches:
    /// `exp` and `nbf` are checked by `jsonwebtoken` against the system time.
    pub fn with_source(config: JwtConfig, source: Arc<dyn JwksSource>, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            source,
            clock,
            keys: RwLock::new(HashMap::new()),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    fn cached(&self, kid: &str) -> Option<Arc<CachedKey>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).get(kid).cloned()
    }

    /// The key for `kid`, refetching the set if it is unknown and the last fetch is old enough.
    async fn key(&self, kid: &str) -> Result<Arc<CachedKey>, AuthError> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let mut state = self.fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let now = self.clock.now();
        let wait = if state.last_error.is_some() {
            RETRY_AFTER_FAILURE
        } else {
            REFETCH_EVERY
        };
        if let Some(last) = state.last_at
            && now - last < wait
        {
            return Err(match &state.last_error {
                Some(e) => AuthError::KeysUnavailable(e.clone()),
                None => AuthError::Invalid("unknown signing key".into()),
            });
        }
        state.last_at = Some(now);
        match self.source.fetch().await {
            Ok(set) => {
                state.last_error = None;
                let fresh: HashMap<_, _> = set
                    .keys
                    .iter()
                    .filter_map(usable)
                    .map(|(k, v)| (k, Arc::new(v)))
                    .collect();
                tracing::info!(keys = fresh.len(), "fetched the issuer's signing keys");
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = fresh;
                self.cached(kid)
                    .ok_or_else(|| AuthError::Invalid("unknown signing key".into()))
            }
            Err(e) => {
                let detail = match e {
                    AuthError::KeysUnavailable(d) | AuthError::Invalid(d) => d,
                    AuthError::Missing => "no key set".into(),
                };
                tracing::warn!(error = %detail, "cannot fetch the issuer's signing keys");
                state.last_error = Some(detail.clone());
                Err(AuthError::KeysUnavailable(detail))
            }
        }
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&[&self.config.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_exp = true;
        v.validate_nbf = true;
        v.leeway = self.config.leeway_secs;
        v
    }
}

#[async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<Actor, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Invalid("too long".into()));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid("malformed".into()))?;
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or_else(|| AuthError::Invalid("no key id (kid) in the header".into()))?;
        let key = self.key(&kid).await?;
        // The key decides the algorithm, never the token: `decode` refuses a header `alg` not listed.
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation(key.alg))
            .map_err(|e| AuthError::Invalid(reason(e.kind())))?;
        data.claims.actor()
    }
}

#[derive(Deserialize)]
struct Claims {
    /// A string, never an array: `jsonwebtoken` would accept an array containing the issuer.
    #[allow(dead_code)]
    iss: String,
    sub: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

impl Claims {
    fn actor(self) -> Result<Actor, AuthError> {
        let user_id = self
            .sub
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| AuthError::Invalid("no subject (sub)".into()))?;
        let email = self
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .ok_or_else(|| AuthError::Invalid("no email claim".into()))?;
        let name = self
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| email.clone());
        Ok(Actor { user_id, email, name })
    }
}

fn reason(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "expired".into(),
        ErrorKind::ImmatureSignature => "not yet valid (nbf)".into(),
        ErrorKind::InvalidIssuer => "wrong issuer".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm => "algorithm does not match the key".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("missing claim {c}"),
        ErrorKind::InvalidClaimFormat(c) => format!("malformed claim {c}"),
        _ => "malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: serde_json::Value) -> Result<Actor, AuthError> {
        serde_json::from_value::<Claims>(v).unwrap().actor()
    }

    #[test]
    fn actor_comes_from_sub_email_and_name() {
        let a = claims(json!({"iss": "i", "sub": "u-1", "email": "Ann@Example.TEST", "name": "Ann"})).unwrap();
        assert_eq!(
            a,
            Actor {
                user_id: "u-1".into(),
                email: "ann@example.test".into(),
                name: "Ann".into()
            }
        );
        let a = claims(json!({"iss": "i", "sub": "u-1", "email": "ann@example.test", "name": " "})).unwrap();
        assert_eq!(a.name, "ann@example.test", "a blank name falls back to the email");
    }

    #[test]
    fn sub_and_email_are_required() {
        assert!(matches!(
            claims(json!({"iss": "i", "email": "a@b.test"})),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            claims(json!({"iss": "i", "sub": "", "email": "a@b.test"})),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            claims(json!({"iss": "i", "sub": "u"})),
            Err(AuthError::Invalid(_))
        ));
        assert!(serde_json::from_value::<Claims>(json!({"iss": ["i", "j"], "sub": "u"})).is_err());
    }

    #[test]
    fn only_signature_keys_for_rs256_or_es256_are_used() {
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "e",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let rsa = json!({"kty": "RSA", "kid": "r", "alg": "RS256", "use": "sig", "e": "AQAB",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        let set = parse_jwk_set(&json!({"keys": [
            ec,
            rsa,
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc", "x": ec["x"], "y": ec["y"]},
            {"kty": "EC", "crv": "P-256", "kid": "es384", "alg": "ES384", "x": ec["x"], "y": ec["y"]},
            {"kty": "RSA", "e": "AQAB", "n": rsa["n"]},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "w"},
        ]}))
        .unwrap();
        let used: HashMap<String, Algorithm> = set.keys.iter().filter_map(usable).map(|(k, v)| (k, v.alg)).collect();
        assert_eq!(
            used,
            HashMap::from([("e".to_owned(), Algorithm::ES256), ("r".to_owned(), Algorithm::RS256)])
        );
    }

    #[test]
    fn a_body_without_keys_is_not_a_set() {
        assert!(parse_jwk_set(&json!({"error": "x"})).is_none());
        assert_eq!(parse_jwk_set(&json!({"keys": []})).unwrap().keys.len(), 0);
    }

    #[tokio::test]
    async fn malformed_tokens_are_refused_before_any_fetch() {
        struct Never;
        #[async_trait]
        impl JwksSource for Never {
            async fn fetch(&self) -> Result<JwkSet, AuthError> {
                panic!("no fetch for a malformed token")
            }
        }
        let v = JwksVerifier::with_source(JwtConfig::new("i", "a", ""), Arc::new(Never), Arc::new(SystemClock));
        assert_eq!(v.verify("").await, Err(AuthError::Missing));
        assert!(matches!(v.verify("not.a.jwt").await, Err(AuthError::Invalid(_))));
        // {"alg":"ES256"} without a kid
        assert!(matches!(
            v.verify("eyJhbGciOiJFUzI1NiJ9.e30.c2ln").await,
            Err(AuthError::Invalid(m)) if m.contains("kid")
        ));
    }
}
