//! The OIDC issuer of local mode: a sign-in page listing the demo users, the authorization-code
//! flow with PKCE (S256 only), a demo-user grant for `cargo xtask token`, discovery and the JWK set.
//! In AWS, Entra ID or Cognito issue the tokens and none of this is served.
//!
//! Tokens are ES256 JWTs signed with a P-256 key the caller persists, so they survive restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_store::Clock;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Url;
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::jwt::{JwkSet, JwksSource, JwtConfig, StaticJwks};
use super::{DEMO_USERS, DemoUser};

/// The grant `cargo xtask token` uses: a token for a demo user, no browser involved.
pub const DEMO_GRANT: &str = "urn:tenantatlas:params:oauth:grant-type:demo-user";
/// Lifetime of access and ID tokens.
pub const TOKEN_TTL: Duration = Duration::from_secs(3_600);
/// Lifetime of an authorization code.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// Longest accepted `state`, `nonce` or `client_id`: bounds what a pending code holds.
const MAX_PARAM_LEN: usize = 1_024;

#[derive(Debug, thiserror::Error)]
#[error("local issuer: {0}")]
pub struct IssuerError(String);

pub struct LocalIssuer {
    /// Without a trailing slash; the `iss` of every token.
    issuer: String,
    issuer_url: Url,
    audience: String,
    kid: String,
    signing: EncodingKey,
    /// Public point, uncompressed coordinates, base64url.
    x: String,
    y: String,
    clock: Arc<dyn Clock>,
    codes: Mutex<HashMap<String, PendingCode>>,
}

struct PendingCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    user: DemoUser,
    expires: OffsetDateTime,
}

impl LocalIssuer {
    /// `issuer_url` is where the router is mounted, e.g. `http://127.0.0.1:8080/oidc`; it is the
    /// tokens' `iss`, and redirect URIs must share its origin. `audience` is the API's `aud`.
    pub fn new(
        issuer_url: String,
        audience: String,
        signing_key_pkcs8: Vec<u8>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IssuerError> {
        let issuer = issuer_url.trim_end_matches('/').to_owned();
        let parsed = Url::parse(&issuer).map_err(|e| IssuerError(format!("issuer URL {issuer:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(IssuerError(format!("issuer URL {issuer:?} is not an http(s) URL")));
        }
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &signing_key_pkcs8)
            .map_err(|e| IssuerError(format!("the signing key is not a P-256 PKCS#8 key: {e}")))?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(IssuerError("unexpected public key encoding".into()));
        }
        let kid = URL_SAFE_NO_PAD.encode(digest(&SHA256, point).as_ref())[..16].to_owned();
        Ok(Self {
            issuer,
            issuer_url: parsed,
            audience,
            kid,
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..]),
            signing: EncodingKey::from_ec_der(&signing_key_pkcs8),
            clock,
            codes: Mutex::new(HashMap::new()),
        })
    }

    /// A new P-256 signing key as PKCS#8 DER, for the caller to persist.
    pub fn generate_key() -> Vec<u8> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("the system random source works")
            .as_ref()
            .to_vec()
    }

    pub fn issuer_url(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The signing key's id: the first 16 characters of the base64url SHA-256 of its public point.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// What a `JwksVerifier` for this issuer's tokens is configured with.
    pub fn verifier_config(&self) -> JwtConfig {
        JwtConfig::new(&self.issuer, &self.audience, format!("{}/jwks", self.issuer))
    }

    /// An access token for the API (`aud` = the API audience).
    pub fn issue(&self, user: &DemoUser, ttl: Duration) -> String {
        self.sign(user, &self.audience, None, ttl)
    }

    fn sign(&self, user: &DemoUser, aud: &str, nonce: Option<&str>, ttl: Duration) -> String {
        let now = self.clock.now().unix_timestamp();
        let claims = TokenClaims {
            iss: &self.issuer,
            aud,
            sub: user.user_id,
            email: user.email,
            name: user.name,
            iat: now,
            nbf: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            jti: ulid::Ulid::new().to_string(),
            nonce,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).expect("the signing key was checked by LocalIssuer::new")
    }

    /// The public JWK set, as served at `/jwks`.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
            "kid": self.kid, "alg": "ES256", "use": "sig",
        }]})
    }

    pub fn jwk_set(&self) -> JwkSet {
        serde_json::from_value(self.jwks()).expect("a well-formed EC JWK")
    }

    /// The key set in-process, for a `JwksVerifier` in the same process as the issuer.
    pub fn source(&self) -> Arc<dyn JwksSource> {
        Arc::new(StaticJwks(self.jwk_set()))
    }

    pub fn discovery(&self) -> Value {
        let i = &self.issuer;
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "jwks_uri": format!("{i}/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", DEMO_GRANT],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "aud", "sub", "email", "name", "iat", "nbf", "exp", "jti", "nonce"],
        })
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn codes(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingCode>> {
        self.codes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks an authorization request. Every failure is shown as a page, never redirected:
    /// only a checked `redirect_uri` is ever put in a `Location`.
    fn authorize_request(&self, p: &Params) -> Result<AuthorizeRequest, String> {
        let redirect_uri = p.get("redirect_uri").ok_or("redirect_uri is required")?;
        let parsed = Url::parse(redirect_uri).map_err(|_| "redirect_uri is not an absolute URL")?;
        if parsed.origin() != self.issuer_url.origin() || parsed.fragment().is_some() {
            return Err(format!(
                "redirect_uri must be on this server's origin ({}) and have no fragment",
                self.issuer_url.origin().ascii_serialization()
            ));
        }
        let client_id = p.get("client_id").ok_or("client_id is required")?;
        if p.get("response_type") != Some("code") {
            return Err("response_type must be code".into());
        }
        if p.get("code_challenge_method") != Some("S256") {
            return Err("code_challenge_method must be S256".into());
        }
        let code_challenge = p.get("code_challenge").ok_or("code_challenge is required")?;
        if code_challenge.len() != 43 || !code_challenge.bytes().all(is_base64url) {
            return Err("code_challenge must be a base64url SHA-256 (43 characters)".into());
        }
        let (state, nonce) = (p.get("state"), p.get("nonce"));
        if [Some(client_id), state, nonce]
            .into_iter()
            .flatten()
            .any(|v| v.len() > MAX_PARAM_LEN)
        {
            return Err("a parameter is too long".into());
        }
        Ok(AuthorizeRequest {
            client_id: client_id.to_owned(),
            redirect_uri: parsed,
            redirect_uri_raw: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            code_challenge: code_challenge.to_owned(),
            nonce: nonce.map(str::to_owned),
            login_hint: p.get("login_hint").map(str::to_lowercase),
        })
    }

    /// A single-use code for `user`, bound to the request's client, redirect URI and challenge.
    fn grant_code(&self, req: &AuthorizeRequest, user: DemoUser) -> String {
        let code = random_token();
        let now = self.now();
        let mut codes = self.codes();
        codes.retain(|_, c| c.expires > now);
        codes.insert(
            code.clone(),
            PendingCode {
                client_id: req.client_id.clone(),
                redirect_uri: req.redirect_uri_raw.clone(),
                code_challenge: req.code_challenge.clone(),
                nonce: req.nonce.clone(),
                user,
                expires: now + CODE_TTL,
            },
        );
        code
    }

    fn exchange_code(&self, p: &Params) -> Result<Value, OAuthError> {
        let need = |k: &str| p.get(k).ok_or_else(|| OAuthError::request(format!("{k} is required")));
        let (code, redirect_uri, client_id, verifier) = (
            need("code")?,
            need("redirect_uri")?,
            need("client_id")?,
            need("code_verifier")?,
        );
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_pkce_verifier_char) {
            return Err(OAuthError::request(
                "code_verifier must be 43 to 128 unreserved characters",
            ));
        }
        // Removed before any other check: a code is spent by its first presentation.
        let pending = self.codes().remove(code);
        let pending = pending
            .filter(|c| c.expires > self.now())
            .ok_or_else(|| OAuthError::grant("the code is unknown, used or expired"))?;
        if pending.client_id != client_id || pending.redirect_uri != redirect_uri {
            return Err(OAuthError::grant(
                "the code was issued to another client or redirect_uri",
            ));
        }
        if pkce_s256(verifier) != pending.code_challenge {
            return Err(OAuthError::grant("the code_verifier does not match the code_challenge"));
        }
        tracing::info!(email = pending.user.email, "local sign-in");
        Ok(json!({
            "access_token": self.issue(&pending.user, TOKEN_TTL),
            "id_token": self.sign(&pending.user, client_id, pending.nonce.as_deref(), TOKEN_TTL),
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL.as_secs(),
            "scope": "openid email profile",
        }))
    }

    fn demo_grant(&self, p: &Params) -> Result<Value, OAuthError> {
        let email = p.get("email").ok_or_else(|| OAuthError::request("email is required"))?;
        let user = demo_user(email).ok_or_else(|| {
            let known: Vec<&str> = DEMO_USERS.iter().map(|u| u.email).collect();
            OAuthError::grant(format!(
                "{email} is not a demo user; the demo users are {}",
                known.join(", ")
            ))
        })?;
        Ok(json!({
            "access_token": self.issue(user, TOKEN_TTL),
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL.as_secs(),
        }))
    }
}

#[derive(Serialize)]
struct TokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    email: &'a str,
    name: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

struct AuthorizeRequest {
    client_id: String,
    redirect_uri: Url,
    /// As sent: the token request must repeat it exactly.
    redirect_uri_raw: String,
    state: Option<String>,
    code_challenge: String,
    nonce: Option<String>,
    login_hint: Option<String>,
}

/// The demo user with this email, in any letter case.
pub fn demo_user(email: &str) -> Option<&'static DemoUser> {
    DEMO_USERS.iter().find(|u| u.email.eq_ignore_ascii_case(email.trim()))
}

/// The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)), unpadded.
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref())
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_pkce_verifier_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `application/x-www-form-urlencoded` parameters. Empty values count as absent and a repeated
/// name is refused, as OAuth requires.
#[derive(Debug, Default)]
struct Params(HashMap<String, String>);

impl Params {
    fn parse(input: &[u8]) -> Result<Self, String> {
        let mut out = HashMap::new();
        for (k, v) in form_urlencoded::parse(input) {
            if v.is_empty() {
                continue;
            }
            if out.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(format!("{k} is given more than once"));
            }
        }
        Ok(Self(out))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
}

/// The issuer's endpoints, to be nested at the path of `issuer_url`:
/// `app.nest("/oidc", issuer::router(issuer))`.
pub fn router<S: Clone + Send + Sync + 'static>(issuer: Arc<LocalIssuer>) -> Router<S> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize_submit))
        .route("/token", post(token))
        .route("/style.css", get(stylesheet))
        .with_state(issuer)
}

async fn discovery(State(iss): State<Arc<LocalIssuer>>) -> Response {
    axum::Json(iss.discovery()).into_response()
}

async fn jwks(State(iss): State<Arc<LocalIssuer>>) -> Response {
    axum::Json(iss.jwks()).into_response()
}

async fn authorize_page(State(iss): State<Arc<LocalIssuer>>, RawQuery(query): RawQuery) -> Response {
    let req = Params::parse(query.unwrap_or_default().as_bytes()).and_then(|p| iss.authorize_request(&p));
    match req {
        Ok(req) => page(StatusCode::OK, sign_in_page(&req)),
        Err(reason) => refused(&reason),
    }
}

async fn authorize_submit(State(iss): State<Arc<LocalIssuer>>, body: Bytes) -> Response {
    let params = match Params::parse(&body) {
        Ok(p) => p,
        Err(reason) => return refused(&reason),
    };
    let req = match iss.authorize_request(&params) {
        Ok(r) => r,
        Err(reason) => return refused(&reason),
    };
    let Some(user) = params.get("email").and_then(demo_user) else {
        return refused("choose one of the demo users");
    };
    let code = iss.grant_code(&req, *user);
    let mut location = req.redirect_uri;
    location.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = &req.state {
        location.query_pairs_mut().append_pair("state", state);
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_string()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

async fn token(State(iss): State<Arc<LocalIssuer>>, body: Bytes) -> Response {
    let res = Params::parse(&body)
        .map_err(OAuthError::request)
        .and_then(|p| match p.get("grant_type") {
            Some("authorization_code") => iss.exchange_code(&p),
            Some(DEMO_GRANT) => iss.demo_grant(&p),
            Some(other) => Err(OAuthError {
                error: "unsupported_grant_type",
                error_description: format!("{other} is not supported"),
            }),
            None => Err(OAuthError::request("grant_type is required")),
        });
    let (status, body) = match res {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (StatusCode::BAD_REQUEST, json!(e)),
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response()
}

#[derive(Debug, Serialize)]
struct OAuthError {
    error: &'static str,
    error_description: String,
}

impl OAuthError {
    fn request(d: impl Into<String>) -> Self {
        Self {
            error: "invalid_request",
            error_description: d.into(),
        }
    }
    fn grant(d: impl Into<String>) -> Self {
        Self {
            error: "invalid_grant",
            error_description: d.into(),
        }
    }
}

const PAGE_HEADERS: [(HeaderName, &str); 4] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
];

fn page(status: StatusCode, body: String) -> Response {
    (status, PAGE_HEADERS, Html(body)).into_response()
}

fn refused(reason: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        layout(
            "Sign-in request refused",
            &format!(
                "<h1>Sign-in request refused</h1><p role=\"alert\">{}</p>\
                 <p>Start again from the TenantAtlas app.</p>",
                esc(reason)
            ),
        ),
    )
}

fn sign_in_page(req: &AuthorizeRequest) -> String {
    let mut hidden = String::new();
    let fields = [
        ("response_type", Some("code")),
        ("client_id", Some(req.client_id.as_str())),
        ("redirect_uri", Some(req.redirect_uri_raw.as_str())),
        ("state", req.state.as_deref()),
        ("code_challenge", Some(req.code_challenge.as_str())),
        ("code_challenge_method", Some("S256")),
        ("nonce", req.nonce.as_deref()),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            hidden.push_str(&format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", esc(v)));
        }
    }
    let hinted = req.login_hint.as_deref().and_then(demo_user).map(|u| u.email);
    let mut users = String::new();
    for (i, u) in DEMO_USERS.iter().enumerate() {
        let focus = if hinted.map_or(i == 0, |h| h == u.email) {
            " autofocus"
        } else {
            ""
        };
        users.push_str(&format!(
            "<li><button type=\"submit\" name=\"email\" value=\"{email}\"{focus}>\
             <span class=\"name\">{name}</span> <span class=\"email\">{email}</span></button></li>",
            email = esc(u.email),
            name = esc(u.name),
        ));
    }
    layout(
        "Sign in to TenantAtlas",
        &format!(
            "<h1>Sign in to TenantAtlas</h1>\
             <p>Local mode: choose a demo user to continue as. There is no password; these users \
             exist only on this machine.</p>\
             <form method=\"post\" action=\"authorize\">{hidden}\
             <fieldset><legend>Demo users</legend><ul>{users}</ul></fieldset></form>"
        ),
    )
}

/// The sign-in pages' stylesheet: a file of its own, as the content security policy allows no
/// inline style.
const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;padding:2rem;color:#1b1b1f;background:#f6f7f9}\
main{max-width:32rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}\
fieldset{border:0;padding:0;margin:0}legend{font-weight:600;margin-bottom:.5rem}\
ul{list-style:none;padding:0;margin:0}li{margin:.5rem 0}\
button{width:100%;text-align:left;font:inherit;padding:.75rem 1rem;border:1px solid #8a8f98;\
border-radius:6px;background:#fff;cursor:pointer}\
button:hover{background:#eef2ff}button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}\
.name{font-weight:600}.email{color:#4a4f57}\
";

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

fn layout(title: &str, main: &str) -> String {
    // Relative: the pages live at `<issuer>/authorize`, the sheet at `<issuer>/style.css`.
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"style.css\">\
         </head><body><main>{main}</main></body></html>",
        title = esc(title)
    )
}

/// Escapes text for HTML content and double- or single-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::SystemClock;

    fn issuer() -> LocalIssuer {
        LocalIssuer::new(
            "http://127.0.0.1:8080/oidc/".into(),
            "api".into(),
            LocalIssuer::generate_key(),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    fn params(s: &str) -> Params {
        Params::parse(s.as_bytes()).unwrap()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_s256_matches_rfc_7636() {
        assert_eq!(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), CHALLENGE);
    }

    #[test]
    fn the_kid_is_stable_for_a_key_and_differs_between_keys() {
        let key = LocalIssuer::generate_key();
        let a = LocalIssuer::new("http://h/oidc".into(), "a".into(), key.clone(), Arc::new(SystemClock)).unwrap();
        let b = LocalIssuer::new("http://h/oidc".into(), "b".into(), key, Arc::new(SystemClock)).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 16);
        assert_ne!(a.kid(), issuer().kid());
        assert_eq!(a.jwks()["keys"][0]["kid"], a.kid());
        assert_eq!(a.jwk_set().keys.len(), 1);
    }

    #[test]
    fn a_bad_key_or_url_is_refused() {
        let c: Arc<dyn Clock> = Arc::new(SystemClock);
        assert!(LocalIssuer::new("http://h/oidc".into(), "a".into(), b"nope".to_vec(), c.clone()).is_err());
        assert!(LocalIssuer::new("not a url".into(), "a".into(), LocalIssuer::generate_key(), c).is_err());
    }

    #[test]
    fn form_parameters_decode_and_repeats_are_refused() {
        let p = params("a=x%2By+z&b=&c=%C3%A9");
        assert_eq!(p.get("a"), Some("x+y z"));
        assert_eq!(p.get("b"), None, "an empty value is absent");
        assert_eq!(p.get("c"), Some("é"));
        assert!(Params::parse(b"a=1&a=2").is_err());
    }

    fn authorize_query(redirect_uri: &str) -> String {
        format!(
            "response_type=code&client_id=web&redirect_uri={redirect_uri}&state=s&code_challenge={CHALLENGE}\
             &code_challenge_method=S256"
        )
    }

    #[test]
    fn only_redirects_to_the_issuers_own_origin() {
        let iss = issuer();
        for ok in ["http://127.0.0.1:8080/auth/callback", "http://127.0.0.1:8080/?x=1"] {
            assert!(iss.authorize_request(&params(&authorize_query(ok))).is_ok(), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8080/cb",
            "http://127.0.0.1:8081/cb",
            "http://localhost:8080/cb",
            "http://evil.test/cb",
            "//evil.test/cb",
            "/cb",
            "http://127.0.0.1:8080/cb#frag",
            "javascript:alert(1)",
        ] {
            assert!(iss.authorize_request(&params(&authorize_query(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_code_with_s256_is_accepted() {
        let iss = issuer();
        let base = authorize_query("http://127.0.0.1:8080/cb");
        for bad in [
            base.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            base.replace("&code_challenge_method=S256", ""),
            base.replace("response_type=code", "response_type=token"),
            base.replace(CHALLENGE, "short"),
            base.replace("client_id=web", ""),
        ] {
            assert!(iss.authorize_request(&params(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sign_in_page_escapes_what_it_echoes() {
        let iss = issuer();
        let q = authorize_query("http://127.0.0.1:8080/cb").replace("state=s", "state=%22%3E%3Cscript%3E");
        let html = sign_in_page(&iss.authorize_request(&params(&q)).unwrap());
        assert!(!html.contains("<script>"));
        assert!(
            !html.contains("<style>"),
            "no inline style under the content security policy"
        );
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(html.contains("owner@demo.test"));
    }

    #[test]
    fn demo_users_are_found_in_any_case() {
        assert_eq!(demo_user("Owner@Demo.Test").map(|u| u.user_id), Some("u-owner"));
        assert!(demo_user("nobody@demo.test").is_none());
    }
}
