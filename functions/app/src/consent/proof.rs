//! Proof that the person completing consent administers the tenant (graph-brief §1.2, "a token
//! proves the grant, not who asked for it"). The callback's query proves nothing: we redeem the
//! authorization code ourselves at the tenant's token endpoint (with the connection's app
//! credential and the PKCE verifier kept server-side), check the ID token's signature against the
//! tenant's published keys and its `iss`, `aud`, `exp`, `nonce` and `tid`, and read the signed-in
//! user's directory roles from `wids` or, when the app's tokens do not carry it, from a delegated
//! `GET /me/transitiveMemberOf/microsoft.graph.directoryRole`. Tokens are used once and dropped.

use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::identity::jwt::parse_jwk_set;

/// The directory roles that prove administration of the tenant's Intune, by template id (the
/// same in every tenant), strongest first.
pub const ADMIN_ROLES: [(&str, &str); 3] = [
    ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator"),
    ("e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator"),
    ("3a2c62db-5318-420d-8d74-23affee5d9d5", "Intune Administrator"),
];

/// Who proved it. Never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub tenant_id: String,
    /// The signed-in user's object id.
    pub oid: String,
    pub upn: String,
    pub role: String,
    /// Where the role was read: `wids` or `graph`.
    pub role_source: &'static str,
}

/// Why a callback did not prove ownership. `code()` goes into the browser's redirect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the callback carried no authorization code (a consent callback alone proves nothing)")]
    NoCode,
    #[error("the authorization code could not be redeemed: {0}")]
    Redeem(String),
    #[error("the token endpoint returned no ID token")]
    NoIdToken,
    #[error("the tenant's signing keys could not be read: {0}")]
    Keys(String),
    #[error("the ID token's signature does not verify against the tenant's published keys")]
    Signature,
    #[error("the ID token is invalid: {0}")]
    Invalid(String),
    #[error("the ID token does not echo the nonce of this sign-in")]
    Nonce,
    #[error("the administrator signed in to tenant {0}, not this environment's tenant")]
    WrongTenant(String),
    #[error("{0} holds none of Global Administrator, Intune Administrator or Privileged Role Administrator")]
    NotAdmin(String),
    #[error("the directory roles could not be read: {0}")]
    Roles(String),
    #[error("the connection's app credential cannot redeem a code: {0}")]
    Credential(String),
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NoCode => "no_code",
            Rejection::Redeem(_) | Rejection::NoIdToken | Rejection::Credential(_) => "code_rejected",
            Rejection::Keys(_) | Rejection::Roles(_) => "unverifiable",
            Rejection::Signature => "bad_signature",
            Rejection::Invalid(_) | Rejection::Nonce => "invalid_token",
            Rejection::WrongTenant(_) => "wrong_tenant",
            Rejection::NotAdmin(_) => "not_admin",
        }
    }
}

/// What proving needs: the tenant, the app that redeems, the code and its binding.
pub struct Redemption<'a> {
    pub login_base: &'a str,
    pub graph_base: &'a str,
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code: &'a str,
    pub verifier: &'a str,
    pub nonce: &'a str,
    pub redirect_uri: &'a str,
}

/// A client per proof: consent is rare, and a pooled client must not outlive the runtime that
/// made it (each Lambda invocation and test has its own).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    tid: String,
    oid: String,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    /// Absent unless the app asks for directory roles (`groupMembershipClaims`).
    #[serde(default)]
    wids: Option<Vec<String>>,
}

/// Redeems the code and checks everything; `Ok` only for an administrator of `tenant_id`.
pub async fn prove(r: &Redemption<'_>) -> Result<Proof, Rejection> {
    let base = r.login_base.trim_end_matches('/');
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", r.client_id),
        ("client_secret", r.client_secret),
        ("code", r.code),
        ("redirect_uri", r.redirect_uri),
        ("code_verifier", r.verifier),
        ("scope", "openid profile https://graph.microsoft.com/.default"),
    ];
    let http = http();
    let res = http
        .post(format!("{base}/{}/oauth2/v2.0/token", r.tenant_id))
        .form(&form)
        .send()
        .await
        .map_err(|e| Rejection::Redeem(e.without_url().to_string()))?;
    if !res.status().is_success() {
        let body: Value = res.json().await.unwrap_or(Value::Null);
        // The AADSTS text names the reason (a reused or expired code, a PKCE mismatch); it holds no secret.
        let why = body
            .get("error_description")
            .and_then(Value::as_str)
            .map(|d| d.split(" Trace ID").next().unwrap_or(d).chars().take(300).collect())
            .unwrap_or_else(|| "the token endpoint refused the code".to_owned());
        return Err(Rejection::Redeem(why));
    }
    let tokens: TokenResponse = res
        .json()
        .await
        .map_err(|_| Rejection::Redeem("the token response is not JSON".into()))?;
    let id_token = tokens.id_token.ok_or(Rejection::NoIdToken)?;
    let keys = tenant_keys(&http, base, r.tenant_id).await?;
    let claims = verify_id_token(&id_token, &keys, &format!("{base}/{}/v2.0", r.tenant_id), r.client_id)?;
    check_claims(&claims, r.tenant_id, r.nonce)?;
    let upn = claims.preferred_username.clone().unwrap_or_else(|| claims.oid.clone());
    let (role, role_source) = match &claims.wids {
        Some(wids) => (admin_role(wids.iter().map(String::as_str)), "wids"),
        None => {
            let token = tokens
                .access_token
                .ok_or_else(|| Rejection::Roles("no delegated access token was issued".into()))?;
            (directory_roles(&http, r.graph_base, &token).await?, "graph")
        }
    };
    let role = role.ok_or_else(|| Rejection::NotAdmin(upn.clone()))?;
    Ok(Proof {
        tenant_id: claims.tid,
        oid: claims.oid,
        upn,
        role: role.to_owned(),
        role_source,
    })
}

/// `{login}/{tenant}/discovery/v2.0/keys`.
async fn tenant_keys(http: &reqwest::Client, base: &str, tenant: &str) -> Result<JwkSet, Rejection> {
    let url = format!("{base}/{tenant}/discovery/v2.0/keys");
    let body: Value = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| Rejection::Keys(e.without_url().to_string()))?
        .json()
        .await
        .map_err(|_| Rejection::Keys("not JSON".into()))?;
    parse_jwk_set(&body).ok_or_else(|| Rejection::Keys("not a JWK set".into()))
}

/// The signature against the key named by `kid` (RSA only: Entra signs RS256), then `iss`,
/// `aud`, `exp` and `nbf`.
fn verify_id_token(token: &str, keys: &JwkSet, issuer: &str, client_id: &str) -> Result<IdClaims, Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Invalid("malformed".into()))?;
    let kid = header.kid.ok_or(Rejection::Signature)?;
    let jwk = keys
        .keys
        .iter()
        .find(|k| {
            k.common.key_id.as_deref() == Some(kid.as_str()) && matches!(k.algorithm, AlgorithmParameters::RSA(_))
        })
        .ok_or(Rejection::Signature)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Rejection::Signature)?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.validate_nbf = true;
    v.leeway = 120;
    jsonwebtoken::decode::<IdClaims>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Rejection::Signature,
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => Rejection::Invalid("expired".into()),
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => Rejection::Invalid("another issuer".into()),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => Rejection::Invalid("issued to another app".into()),
            k => Rejection::Invalid(format!("{k:?}")),
        })
}

fn check_claims(c: &IdClaims, tenant_id: &str, nonce: &str) -> Result<(), Rejection> {
    if nonce.is_empty() || c.nonce.as_deref() != Some(nonce) {
        return Err(Rejection::Nonce);
    }
    if !c.tid.eq_ignore_ascii_case(tenant_id) {
        return Err(Rejection::WrongTenant(c.tid.clone()));
    }
    Ok(())
}

/// The strongest admin role among role template ids.
fn admin_role<'a>(held: impl Iterator<Item = &'a str> + Clone) -> Option<&'static str> {
    ADMIN_ROLES
        .iter()
        .find(|(id, _)| held.clone().any(|h| h.eq_ignore_ascii_case(id)))
        .map(|(_, name)| *name)
}

/// The signed-in user's activated directory roles, through Graph with the delegated token.
async fn directory_roles(
    http: &reqwest::Client,
    graph_base: &str,
    token: &str,
) -> Result<Option<&'static str>, Rejection> {
    let mut url = format!(
        "{}/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole?$select=id,displayName,roleTemplateId",
        graph_base.trim_end_matches('/')
    );
    let mut held: Vec<String> = Vec::new();
    // Few users hold more than a page of roles; a bound keeps a bad nextLink from looping.
    for _ in 0..10 {
        let res = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| Rejection::Roles(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(Rejection::Roles(format!("Graph answered {}", res.status().as_u16())));
        }
        let page: Value = res.json().await.map_err(|_| Rejection::Roles("not JSON".into()))?;
        held.extend(
            page.get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("roleTemplateId").and_then(Value::as_str).map(str::to_owned)),
        );
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => url = next.to_owned(),
            None => return Ok(admin_role(held.iter().map(String::as_str))),
        }
    }
    Ok(admin_role(held.iter().map(String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(tid: &str, nonce: Option<&str>) -> IdClaims {
        IdClaims {
            tid: tid.into(),
            oid: "o".into(),
            preferred_username: None,
            nonce: nonce.map(str::to_owned),
            wids: None,
        }
    }

    #[test]
    fn the_tenant_and_the_nonce_must_match() {
        let t = "11111111-1111-4111-8111-111111111111";
        assert_eq!(check_claims(&claims(t, Some("n1")), t, "n1"), Ok(()));
        assert_eq!(check_claims(&claims(t, Some("n2")), t, "n1"), Err(Rejection::Nonce));
        assert_eq!(check_claims(&claims(t, None), t, "n1"), Err(Rejection::Nonce));
        assert_eq!(
            check_claims(&claims(t, None), t, ""),
            Err(Rejection::Nonce),
            "an empty nonce never matches"
        );
        let other = "22222222-2222-4222-8222-222222222222";
        assert_eq!(
            check_claims(&claims(other, Some("n1")), t, "n1"),
            Err(Rejection::WrongTenant(other.into()))
        );
    }

    #[test]
    fn only_the_three_admin_roles_count_and_the_strongest_is_named() {
        let default_user = "b79fbf4d-3ef9-4689-8143-76b194e85509";
        assert_eq!(admin_role([default_user].into_iter()), None);
        assert_eq!(
            admin_role(["3a2c62db-5318-420d-8d74-23affee5d9d5", default_user].into_iter()),
            Some("Intune Administrator")
        );
        assert_eq!(
            admin_role(
                [
                    "3A2C62DB-5318-420D-8D74-23AFFEE5D9D5",
                    "62e90394-69f5-4237-9190-012177145e10"
                ]
                .into_iter()
            ),
            Some("Global Administrator")
        );
        // Helpdesk Administrator: an admin, but not of Intune.
        assert_eq!(admin_role(["729827e3-9c14-49f7-bb1b-9608f156bbb8"].into_iter()), None);
    }
}
