//! Entra ID endpoints: client-credentials token, admin consent, JWKS; and bearer validation for Graph.
//!
//! Tokens are RS256 JWTs signed with an in-memory key generated once per process, in the v1 app-only shape
//! (graph-brief §1.1): `aud`, `iss=https://sts.windows.net/{tid}/`, `appid`, `tid`, `oid`, `roles`, `ver:"1.0"`.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use serde_json::{Value, json};

use crate::config::{AppSpec, ConsentBehavior};
use crate::faults::Draw;
use crate::state::{Grant, Shared, Tenant, World};
use crate::{Sim, json_response};

pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub(crate) const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) struct Signer {
    key: RsaKeyPair,
    kid: String,
    n: String,
    e: String,
}

impl Signer {
    /// One RSA-2048 key per process: generating it costs tens of milliseconds, too much per test.
    pub(crate) fn global() -> &'static Signer {
        static SIGNER: OnceLock<Signer> = OnceLock::new();
        SIGNER.get_or_init(Signer::generate)
    }

    /// A key no tenant publishes: what signs a forged ID token.
    pub(crate) fn unpublished() -> &'static Signer {
        static SIGNER: OnceLock<Signer> = OnceLock::new();
        SIGNER.get_or_init(Signer::generate)
    }

    pub(crate) fn generate() -> Signer {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
        let public = key.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let kid = B64URL.encode(&n[..20]);
        Signer {
            key,
            kid,
            n: B64URL.encode(&n),
            e: B64URL.encode(&e),
        }
    }

    /// This key as a JWK, with the issuer template Entra publishes.
    pub(crate) fn jwk(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": self.n, "e": self.e,
               "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"})
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing");
        format!("{input}.{}", B64URL.encode(sig))
    }

    /// Claims of a token this process signed, or why not.
    pub(crate) fn verify(&self, token: &str) -> Result<Value, &'static str> {
        let (input, sig) = token
            .rsplit_once('.')
            .ok_or("IDX14100: JWT is not well formed, there are no dots (.).")?;
        let (_, claims) = input.split_once('.').ok_or("IDX14100: JWT is not well formed.")?;
        let sig = B64URL.decode(sig).map_err(|_| "IDX14100: JWT is not well formed.")?;
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, self.key.public_key().as_ref())
            .verify(input.as_bytes(), &sig)
            .map_err(|_| "Access token validation failure. Invalid signature.")?;
        let claims = B64URL.decode(claims).map_err(|_| "IDX14100: JWT is not well formed.")?;
        serde_json::from_slice(&claims).map_err(|_| "IDX14100: JWT is not well formed.")
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn is_general(tenant: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|g| g.eq_ignore_ascii_case(tenant))
}

/// An Entra (AADSTS) error response.
fn aad_error(shared: &Shared, status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let trace = shared.next_request_id();
    let correlation = shared.next_request_id();
    let ts = crate::seed::graph_time(time::OffsetDateTime::now_utc());
    let ts = format!("{} {}Z", &ts[..10], &ts[11..19]);
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}"),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (
        status,
        [(header::CACHE_CONTROL, "no-store, no-cache")],
        axum::Json(body),
    )
        .into_response()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `POST /{tenant}/oauth2/v2.0/token` (client credentials).
pub(crate) async fn token(
    State(sim): State<Sim>,
    Path(tenant_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &sim;
    let mut fields = form(&body);
    if let Some((id, secret)) = basic_auth(&headers) {
        fields.push(("client_id".into(), id));
        fields.push(("client_secret".into(), secret));
    }
    let (result, delay) = {
        let mut w = shared.world();
        let r = issue_token(shared, &mut w, &tenant_key, &fields);
        let delay = w.tenant(&tenant_key).and_then(|t| {
            t.faults.delay_for(
                &Draw {
                    seed: shared.config.seed,
                    tenant: &t.info.id,
                    method: "POST",
                    url: "token",
                    is_write: false,
                    batch_item: false,
                    app: "",
                    service: ("token", 1),
                },
                true,
            )
        });
        (r, delay)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    match result {
        Ok(body) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store, no-cache")],
            axum::Json(body),
        )
            .into_response(),
        Err((status, error, code, message)) => aad_error(shared, status, error, code, &message),
    }
}

pub(crate) type AadErr = (StatusCode, &'static str, u32, String);

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(b.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let dec = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    Some((dec(id), dec(secret)))
}

fn issue_token(shared: &Shared, w: &mut World, tenant_key: &str, f: &[(String, String)]) -> Result<Value, AadErr> {
    let bad = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    if is_general(tenant_key) {
        return Err((
            bad,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials."
                .into(),
        ));
    }
    let Some(ti) = w.tenant_index(tenant_key) else {
        return Err((
            bad,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant_key}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    };
    w.tenants[ti].stats.token_requests += 1;
    let grant_type = field(f, "grant_type").unwrap_or_default();
    if !["client_credentials", "authorization_code"].contains(&grant_type) {
        return Err((
            bad,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let missing = |p: &str| {
        (
            bad,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{p}'."),
        )
    };
    let client_id = field(f, "client_id")
        .ok_or_else(|| missing("client_id"))?
        .to_ascii_lowercase();
    if grant_type == "client_credentials" {
        let scope = field(f, "scope").ok_or_else(|| missing("scope"))?;
        check_scope(scope)?;
    }
    let tenant = &w.tenants[ti];
    let Some(app) = w.apps.get(&client_id).cloned() else {
        return Err((
            bad,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                tenant.info.display_name
            ),
        ));
    };
    let via_cert = if let Some(assertion) = field(f, "client_assertion") {
        if field(f, "client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err((
                bad,
                "invalid_request",
                70002,
                format!("client_assertion_type must be '{ASSERTION_TYPE}'."),
            ));
        }
        check_assertion(shared, tenant, tenant_key, &app, assertion)
            .map_err(|(code, m)| (unauthorized, "invalid_client", code, m))?;
        true
    } else if let Some(secret) = field(f, "client_secret") {
        if app.secret.as_deref() != Some(secret) {
            return Err((
                unauthorized,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ));
        }
        false
    } else {
        return Err((
            unauthorized,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        ));
    };
    if grant_type == "authorization_code" {
        return crate::login::redeem(shared, w, ti, &app, f);
    }
    let grant = tenant.grants.get(&client_id).filter(|_| !tenant.faults.consent_revoked).ok_or_else(|| {
        (
            unauthorized,
            "invalid_client",
            7000229,
            format!(
                "The client application {client_id} is missing service principal in the tenant {}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
                tenant.info.id
            ),
        )
    })?;
    let lifetime = shared.config.token_lifetime.as_secs();
    let access_token = shared
        .signer
        .sign(&claims(shared, tenant, &app, grant, via_cert, lifetime));
    Ok(
        json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token}),
    )
}

fn check_scope(scope: &str) -> Result<(), AadErr> {
    let bad = StatusCode::BAD_REQUEST;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let graph_default = |s: &str| {
        s.eq_ignore_ascii_case("https://graph.microsoft.com/.default")
            || s.eq_ignore_ascii_case(&format!("{GRAPH_APP_ID}/.default"))
    };
    if scopes.len() == 1 && graph_default(scopes[0]) {
        return Ok(());
    }
    if scopes.iter().all(|s| s.ends_with("/.default")) {
        return Err((
            bad,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {} was not found in the tenant.",
                scopes.join(" ")
            ),
        ));
    }
    Err((
        bad,
        "invalid_scope",
        1002012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    ))
}

fn claims(shared: &Shared, tenant: &Tenant, app: &AppSpec, grant: &Grant, via_cert: bool, lifetime: u64) -> Value {
    let now = now_secs();
    let tid = &tenant.info.id;
    let iss = format!("https://sts.windows.net/{tid}/");
    let uti = B64URL.encode(&shared.next_request_id().as_bytes()[..16]);
    let mut c = json!({
        "aud": GRAPH_RESOURCE,
        "iss": iss,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "app_displayname": app.display_name.clone().unwrap_or_else(|| "TenantAtlas".into()),
        "appid": app.client_id,
        "appidacr": if via_cert { "2" } else { "1" },
        "idp": iss,
        "idtyp": "app",
        "oid": grant.sp_id,
        "sub": grant.sp_id,
        "tid": tid,
        "uti": uti,
        "ver": "1.0",
        "xms_sim": shared.instance,
    });
    if !grant.roles.is_empty() {
        c["roles"] = json!(grant.roles);
    }
    c
}

/// Checks a client assertion: JWT structure, `alg` RS256/PS256 with `x5t`/`kid`, `iss` = `sub` = client id,
/// `aud` = this tenant's token endpoint, `exp`/`nbf`, `jti`; and the signature when the app registered a key.
fn check_assertion(
    shared: &Shared,
    tenant: &Tenant,
    tenant_key: &str,
    app: &AppSpec,
    jwt: &str,
) -> Result<(), (u32, String)> {
    let malformed = || (50027, "JWT token is invalid or malformed.".to_string());
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed());
    }
    let decode = |p: &str| -> Result<Value, (u32, String)> {
        B64URL
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(malformed)
    };
    let header = decode(parts[0])?;
    let claims = decode(parts[1])?;
    let alg = header["alg"].as_str().unwrap_or_default();
    if !["RS256", "PS256"].contains(&alg) {
        return Err((
            5002738,
            format!("Invalid JWT token. '{alg}' is not a supported signature algorithm."),
        ));
    }
    if ["x5t", "x5t#S256", "kid"].iter().all(|k| header.get(*k).is_none()) {
        return Err((
            700027,
            "Client assertion failed signature validation: the header has no x5t or kid.".into(),
        ));
    }
    let id = &app.client_id;
    for claim in ["iss", "sub"] {
        if !claims[claim].as_str().is_some_and(|v| v.eq_ignore_ascii_case(id)) {
            return Err((
                700021,
                format!("Client assertion application identifier doesn't match 'client_id' parameter ('{claim}')."),
            ));
        }
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => audience_matches(shared, tenant, tenant_key, a),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audience_matches(shared, tenant, tenant_key, a)),
        _ => false,
    };
    if !aud_ok {
        return Err((
            700212,
            "No matching federated identity record found for presented assertion audience.".into(),
        ));
    }
    let now = now_secs();
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let nbf = claims["nbf"].as_u64().unwrap_or(0);
    if exp <= now || nbf > now + 300 {
        return Err((700024, "Client assertion is not within its valid time range.".into()));
    }
    if claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err((50027, "JWT token is invalid or malformed: no jti.".into()));
    }
    if let Some(key) = &app.public_key {
        let key = B64.decode(key).map_err(|_| {
            (
                700027,
                "The registered certificate key is not valid base64.".to_string(),
            )
        })?;
        let sig = B64URL.decode(parts[2]).map_err(|_| malformed())?;
        let params: &signature::RsaParameters = if alg == "PS256" {
            &signature::RSA_PSS_2048_8192_SHA256
        } else {
            &signature::RSA_PKCS1_2048_8192_SHA256
        };
        let input = format!("{}.{}", parts[0], parts[1]);
        signature::UnparsedPublicKey::new(params, &key)
            .verify(input.as_bytes(), &sig)
            .map_err(|_| (700027, "Client assertion failed signature validation.".to_string()))?;
    }
    Ok(())
}

fn audience_matches(shared: &Shared, tenant: &Tenant, tenant_key: &str, aud: &str) -> bool {
    let rest = [
        "https://login.microsoftonline.com/".to_string(),
        format!("{}/", shared.base_url),
    ]
    .iter()
    .find_map(|p| aud.strip_prefix(p.as_str()).map(str::to_string));
    let Some(rest) = rest else { return false };
    let Some((t, path)) = rest.split_once('/') else {
        return false;
    };
    let tenant_ok = t.eq_ignore_ascii_case(tenant_key)
        || t.eq_ignore_ascii_case(&tenant.info.id)
        || tenant.info.domains.iter().any(|d| d.eq_ignore_ascii_case(t));
    tenant_ok && ["oauth2/v2.0/token", "oauth2/token", "v2.0"].contains(&path.trim_end_matches('/'))
}

/// The caller behind a Graph bearer token.
pub(crate) struct Caller {
    pub tenant_index: usize,
    /// The token's `appid`, lower-case.
    pub app_id: String,
    pub roles: Vec<String>,
    /// The signed-in user's object id, for a delegated token (`scp`); `None` for app-only.
    pub user: Option<String>,
    /// Delegated scopes (`scp`, space-separated in the token).
    pub scopes: Vec<String>,
}

/// Validates `Authorization: Bearer …` for Graph. Err carries the 401 message.
pub(crate) fn authenticate(shared: &Shared, w: &World, headers: &HeaderMap) -> Result<Caller, &'static str> {
    let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err("Access token is empty.");
    };
    let token = match v.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err("Access token is empty."),
    };
    if token.is_empty() {
        return Err("Access token is empty.");
    }
    let claims = shared.signer.verify(token)?;
    if claims["xms_sim"].as_str() != Some(shared.instance.as_str()) {
        return Err("Access token validation failure. Invalid issuer.");
    }
    let aud = claims["aud"].as_str().unwrap_or_default();
    if ![GRAPH_RESOURCE, "https://graph.microsoft.com/", GRAPH_APP_ID].contains(&aud) {
        return Err("Access token validation failure. Invalid audience.");
    }
    let now = now_secs();
    if claims["exp"].as_u64().unwrap_or(0) <= now || claims["nbf"].as_u64().unwrap_or(u64::MAX) > now + 300 {
        return Err("Lifetime validation failed, the token is expired.");
    }
    let tid = claims["tid"].as_str().unwrap_or_default();
    let Some(ti) = w.tenant_index(tid) else {
        return Err("Access token validation failure. Invalid issuer.");
    };
    let tenant = &w.tenants[ti];
    let appid = claims["appid"].as_str().unwrap_or_default().to_ascii_lowercase();
    // Simplification: Entra tokens stay valid until they expire; here revocation takes effect at once.
    if tenant.faults.consent_revoked || !tenant.grants.contains_key(&appid) {
        return Err("Access token validation failure. The service principal of the application was removed.");
    }
    let roles = claims["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let scopes: Vec<String> = claims["scp"]
        .as_str()
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let user = (!scopes.is_empty())
        .then(|| claims["oid"].as_str().map(str::to_string))
        .flatten();
    Ok(Caller {
        tenant_index: ti,
        app_id: appid,
        roles,
        user,
        scopes,
    })
}

/// `GET /{tenant}/v2.0/adminconsent` and `GET /{tenant}/adminconsent` (v1).
pub(crate) async fn admin_consent_v2(
    State(sim): State<Sim>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    admin_consent(&sim, &tenant, q.as_deref().unwrap_or_default(), true)
}

pub(crate) async fn admin_consent_v1(
    State(sim): State<Sim>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    admin_consent(&sim, &tenant, q.as_deref().unwrap_or_default(), false)
}

pub(crate) fn error_page(code: u32, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {}</p></body></html>",
        message.replace('<', "&lt;")
    );
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn admin_consent(shared: &Shared, tenant_key: &str, query: &str, v2: bool) -> Response {
    let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| field(&q, k).map(str::to_string);
    let mut w = shared.world();
    let general = if v2 {
        tenant_key.eq_ignore_ascii_case("organizations")
    } else {
        tenant_key.eq_ignore_ascii_case("common")
    };
    let ti = if general {
        // The admin picks the tenant by signing in; `login_hint`/`domain_hint` stand in for that here.
        let hint =
            get("domain_hint").or_else(|| get("login_hint").and_then(|h| h.rsplit('@').next().map(str::to_string)));
        match hint {
            Some(h) => w.tenant_index(&h),
            None => (!w.tenants.is_empty()).then_some(0),
        }
    } else if is_general(tenant_key) {
        return error_page(
            90130,
            &format!("Application permissions require a tenant or 'organizations' here, not '{tenant_key}'."),
        );
    } else {
        w.tenant_index(tenant_key)
    };
    let Some(ti) = ti else {
        return error_page(90002, &format!("Tenant '{tenant_key}' not found."));
    };
    let Some(client_id) = get("client_id").map(|c| c.to_ascii_lowercase()) else {
        return error_page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(app) = w.apps.get(&client_id).cloned() else {
        return error_page(
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        );
    };
    let Some(redirect) = get("redirect_uri") else {
        return error_page(
            900144,
            "The request body must contain the following parameter: 'redirect_uri'.",
        );
    };
    if !app.redirect_uris.is_empty() && !app.redirect_uris.contains(&redirect) {
        return error_page(
            50011,
            &format!(
                "The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        );
    }
    let state = get("state");
    let tenant = &mut w.tenants[ti];
    *tenant.stats.requests.entry("GET adminconsent".into()).or_insert(0) += 1;
    let tid = tenant.info.id.clone();
    let mut params: Vec<(String, String)> = Vec::new();
    let requested: Option<Vec<String>> = if v2 {
        get("scope").map(|s| s.split_whitespace().map(str::to_string).collect())
    } else {
        Some(vec![format!("{GRAPH_RESOURCE}/.default")])
    };
    match (&tenant.consent, requested) {
        (_, None) => {
            params.push(("error".into(), "invalid_request".into()));
            params.push((
                "error_description".into(),
                "AADSTS900144: The request body must contain the following parameter: 'scope'.".into(),
            ));
        }
        (ConsentBehavior::Grant, Some(scopes)) => {
            let roles = consented_roles(shared, &app, &scopes);
            let sp_id = match tenant.grants.get(&client_id) {
                Some(g) => g.sp_id.clone(),
                None => tenant.rng.guid(),
            };
            let scope_out: Vec<String> = roles.iter().map(|r| format!("{GRAPH_RESOURCE}/{r}")).collect();
            tenant.grants.insert(client_id, Grant { roles, sp_id });
            params.push(("admin_consent".into(), "True".into()));
            params.push(("tenant".into(), tid));
            if v2 {
                params.push(("scope".into(), scope_out.join(" ")));
            }
        }
        (ConsentBehavior::Decline, Some(_)) => {
            params.push(("admin_consent".into(), "False".into()));
            params.push(("tenant".into(), tid));
        }
        (
            ConsentBehavior::Error {
                error,
                error_description,
            },
            Some(_),
        ) => {
            if v2 {
                params.push(("admin_consent".into(), "True".into()));
            }
            params.push(("error".into(), error.clone()));
            params.push(("error_description".into(), error_description.clone()));
        }
    }
    if let Some(s) = state {
        params.push(("state".into(), s));
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!("{redirect}{sep}{encoded}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `.default` grants the app's required roles (or the simulator's defaults); explicit
/// `https://graph.microsoft.com/{Role}` scopes grant those roles.
pub(crate) fn consented_roles(shared: &Shared, app: &AppSpec, scopes: &[String]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for s in scopes {
        let role = s
            .strip_prefix("https://graph.microsoft.com/")
            .or_else(|| s.strip_prefix(&format!("{GRAPH_APP_ID}/")))
            .unwrap_or(s);
        if role == ".default" {
            let defaults = if app.required_roles.is_empty() {
                &shared.config.default_roles
            } else {
                &app.required_roles
            };
            roles.extend(defaults.iter().cloned());
        } else {
            roles.push(role.to_string());
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

/// `GET /{tenant}/discovery/v2.0/keys`: the tenant's ID-token key and the access-token key.
pub(crate) async fn jwks(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    let tenant_key = {
        let mut w = sim.world();
        w.tenant_mut(&tenant).map(|t| t.id_signer().jwk())
    };
    let mut keys: Vec<Value> = tenant_key.into_iter().collect();
    keys.push(sim.signer.jwk());
    json_response(StatusCode::OK, &[], Some(json!({"keys": keys})))
}
