//! OpenID Connect sign-in (Entra ID v2): the authorize endpoint with its sign-in page, the
//! authorization-code redemption, the discovery document, and Graph's
//! `GET /me/transitiveMemberOf/microsoft.graph.directoryRole` for delegated tokens.
//!
//! Modelled on learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow and
//! id-token-claims-reference: codes are single-use, expire after 10 minutes, are bound to the
//! client, the tenant, the `redirect_uri` and the PKCE challenge; ID tokens are v2 (`iss =
//! {login}/{tid}/v2.0`, `aud` = client id, `nonce` echoed) and carry `wids` only when the app's
//! `groupMembershipClaims` asks for directory roles. An admin who signs in with
//! `https://graph.microsoft.com/.default` consents for the organization when consent is needed
//! (or `prompt=consent` forces it), as the admin consent endpoint does; a user who may not consent
//! is sent back with `consent_required`.

use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Value, json};

use crate::auth::{AadErr, GRAPH_RESOURCE, Signer, consented_roles, error_page, field, is_general, now_secs};
use crate::config::{
    AppSpec, ConsentBehavior, DEFAULT_USER_ROLE, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR, SimUser,
    role_name,
};
use crate::odata::{GraphResp, ReqIds, error};
use crate::state::{Grant, Shared, World};
use crate::{Sim, json_response};

/// Entra's authorization codes live about ten minutes.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// An issued, not yet redeemed (or already redeemed) authorization code.
#[derive(Clone, Debug)]
pub(crate) struct PendingCode {
    pub tenant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<(String, String)>,
    pub nonce: Option<String>,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub issued: Instant,
    pub redeemed: bool,
}

/// The authorize request's parameters, checked.
struct AuthRequest {
    tenant_index: usize,
    app: AppSpec,
    redirect_uri: String,
    params: Vec<(String, String)>,
}

impl AuthRequest {
    fn get(&self, k: &str) -> Option<&str> {
        field(&self.params, k)
    }
}

/// Checks what must hold before anything may be sent to `redirect_uri` (errors are a page), then
/// what is reported to the client by redirect.
/// Errors are boxed: a `Response` is large, and this is not a hot path.
fn check(w: &World, tenant_key: &str, params: Vec<(String, String)>) -> Result<AuthRequest, Box<Response>> {
    if is_general(tenant_key) {
        // The product signs in against the tenant it manages; the general endpoints are not modelled.
        return Err(Box::new(error_page(
            90002,
            &format!("Tenant '{tenant_key}' is not modelled by this simulator; use a tenant id or domain."),
        )));
    }
    let Some(ti) = w.tenant_index(tenant_key) else {
        return Err(Box::new(error_page(
            90002,
            &format!("Tenant '{tenant_key}' not found."),
        )));
    };
    let Some(client_id) = field(&params, "client_id").map(str::to_ascii_lowercase) else {
        return Err(Box::new(error_page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )));
    };
    let Some(app) = w.apps.get(&client_id).cloned() else {
        return Err(Box::new(error_page(
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        )));
    };
    let Some(redirect_uri) = field(&params, "redirect_uri").map(str::to_string) else {
        return Err(Box::new(error_page(
            900144,
            "The request body must contain the following parameter: 'redirect_uri'.",
        )));
    };
    if !app.redirect_uris.is_empty() && !app.redirect_uris.contains(&redirect_uri) {
        return Err(Box::new(error_page(
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        )));
    }
    Ok(AuthRequest {
        tenant_index: ti,
        app,
        redirect_uri,
        params,
    })
}

/// The error redirect: `error`, `error_description` (AADSTS text), `state`.
fn redirect_error(req: &AuthRequest, error: &str, description: &str) -> Response {
    let mut params = vec![
        ("error".to_string(), error.to_string()),
        ("error_description".to_string(), description.to_string()),
    ];
    if let Some(s) = req.get("state") {
        params.push(("state".into(), s.into()));
    }
    redirect(&req.redirect_uri, params)
}

fn redirect(to: &str, params: Vec<(String, String)>) -> Response {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if to.contains('?') { '&' } else { '?' };
    (StatusCode::FOUND, [(header::LOCATION, format!("{to}{sep}{encoded}"))]).into_response()
}

/// What the client asked for that is reported by redirect (after `redirect_uri` is trusted).
fn protocol_errors(req: &AuthRequest) -> Option<Response> {
    if req.get("response_type") != Some("code") {
        return Some(redirect_error(
            req,
            "unsupported_response_type",
            "AADSTS700054: response_type is not supported for the application; this endpoint issues 'code'.",
        ));
    }
    if req.get("scope").is_none() {
        return Some(redirect_error(
            req,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        ));
    }
    if req.get("code_challenge").is_some()
        && !matches!(req.get("code_challenge_method").unwrap_or("plain"), "plain" | "S256")
    {
        return Some(redirect_error(
            req,
            "invalid_request",
            "AADSTS501491: Invalid code_challenge_method: it must be 'plain' or 'S256'.",
        ));
    }
    if let Some(mode) = req.get("response_mode")
        && !["query", "form_post", "fragment"].contains(&mode)
    {
        return Some(redirect_error(
            req,
            "invalid_request",
            "AADSTS900144: response_mode must be 'query', 'fragment' or 'form_post'.",
        ));
    }
    None
}

fn query_params(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: the sign-in page, one button per user of the tenant.
pub(crate) async fn authorize_page(
    State(sim): State<Sim>,
    Path(tenant_key): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let w = sim.world();
    let req = match check(&w, &tenant_key, query_params(q.as_deref())) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    if let Some(r) = protocol_errors(&req) {
        return r;
    }
    let tenant = &w.tenants[req.tenant_index];
    let hidden: String = req
        .params
        .iter()
        .filter(|(k, _)| k != "user")
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let buttons: String = tenant
        .users
        .iter()
        .map(|u| {
            let roles: Vec<&str> = u.roles.iter().map(|r| role_name(r)).collect();
            format!(
                r#"<li><button type="submit" name="user" value="{key}" data-testid="sign-in-{key}">{name} &lt;{upn}&gt;</button> <small>{roles}</small></li>"#,
                key = html_escape(&u.key),
                name = html_escape(&u.display_name),
                upn = html_escape(&u.user_principal_name),
                roles = html_escape(&if roles.is_empty() { "User".into() } else { roles.join(", ") }),
            )
        })
        .collect();
    let html = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in to your account</title></head><body><h1>Sign in to {tenant}</h1><p>{app} wants to sign you in.</p><form method="post" action="/{key}/oauth2/v2.0/authorize">{hidden}<ul>{buttons}</ul></form></body></html>"#,
        tenant = html_escape(&tenant.info.display_name),
        app = html_escape(req.app.display_name.as_deref().unwrap_or("An application")),
        key = html_escape(&tenant_key),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn is_graph_default(s: &str) -> bool {
    s.eq_ignore_ascii_case("https://graph.microsoft.com/.default")
        || s.eq_ignore_ascii_case(&format!("{}/.default", crate::auth::GRAPH_APP_ID))
}

fn may_consent_for_organization(u: &SimUser) -> bool {
    u.roles
        .iter()
        .any(|r| r == GLOBAL_ADMINISTRATOR || r == PRIVILEGED_ROLE_ADMINISTRATOR)
}

/// `POST /{tenant}/oauth2/v2.0/authorize` (the sign-in page's form, with `user`): signs the user in,
/// consents when needed and allowed, and redirects with `code` and `state`.
pub(crate) async fn authorize_sign_in(State(sim): State<Sim>, Path(tenant_key): Path<String>, body: Bytes) -> Response {
    let shared: &Shared = &sim;
    let mut w = shared.world();
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let req = match check(&w, &tenant_key, params) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    if let Some(r) = protocol_errors(&req) {
        return r;
    }
    let ti = req.tenant_index;
    let Some(user) = req.get("user").and_then(|u| w.tenants[ti].user(u)).cloned() else {
        return error_page(
            50034,
            "The user account does not exist in this directory. To sign into this application, the account must be added to the directory.",
        );
    };
    let client_id = req.app.client_id.clone();
    let scopes: Vec<String> = req
        .get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let tenant = &mut w.tenants[ti];
    *tenant.stats.requests.entry("POST authorize".into()).or_insert(0) += 1;
    let wants_app_permissions = scopes.iter().any(|s| is_graph_default(s));
    let required = consented_roles(shared, &req.app, &[format!("{GRAPH_RESOURCE}/.default")]);
    let granted = tenant
        .grants
        .get(&client_id)
        .is_some_and(|g| required.iter().all(|r| g.roles.contains(r)));
    let prompt = req.get("prompt").unwrap_or_default();
    let consent_needed = prompt == "consent" || (wants_app_permissions && !granted);
    if consent_needed {
        if prompt == "none" {
            return redirect_error(
                &req,
                "consent_required",
                "AADSTS65001: The user or administrator has not consented to use the application.",
            );
        }
        if !may_consent_for_organization(&user) {
            return redirect_error(
                &req,
                "consent_required",
                "AADSTS90094: Admin consent is required for the permissions requested by this application. An admin consent request may be sent to the admin.",
            );
        }
        match tenant.consent.clone() {
            ConsentBehavior::Grant => {
                let roles = consented_roles(
                    shared,
                    &req.app,
                    &scopes
                        .iter()
                        .filter(|s| is_graph_default(s))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                let sp_id = match tenant.grants.get(&client_id) {
                    Some(g) => g.sp_id.clone(),
                    None => tenant.rng.guid(),
                };
                let roles = if wants_app_permissions {
                    roles
                } else {
                    tenant
                        .grants
                        .get(&client_id)
                        .map(|g| g.roles.clone())
                        .unwrap_or_default()
                };
                tenant.grants.insert(client_id.clone(), Grant { roles, sp_id });
            }
            ConsentBehavior::Decline => {
                return redirect_error(
                    &req,
                    "access_denied",
                    "AADSTS65004: User declined to consent to access the app.",
                );
            }
            ConsentBehavior::Error {
                error,
                error_description,
            } => return redirect_error(&req, &error, &error_description),
        }
    }
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).expect("randomness");
    let code = format!("1.{}", B64URL.encode(raw));
    let challenge = req.get("code_challenge").map(|c| {
        (
            c.to_string(),
            req.get("code_challenge_method").unwrap_or("plain").to_string(),
        )
    });
    let pending = PendingCode {
        tenant_id: tenant.info.id.clone(),
        client_id,
        redirect_uri: req.redirect_uri.clone(),
        challenge,
        nonce: req.get("nonce").map(str::to_string),
        user_id: user.id.clone(),
        scopes,
        issued: Instant::now(),
        redeemed: false,
    };
    w.codes.insert(code.clone(), pending);
    let mut out = vec![("code".to_string(), code)];
    if let Some(s) = req.get("state") {
        out.push(("state".into(), s.into()));
    }
    out.push(("session_state".into(), shared.next_request_id()));
    redirect(&req.redirect_uri, out)
}

fn invalid_grant(code: u32, message: &str) -> AadErr {
    (StatusCode::BAD_REQUEST, "invalid_grant", code, message.to_string())
}

/// `grant_type=authorization_code` at `/{tenant}/oauth2/v2.0/token`, the client already
/// authenticated. A code is spent by its first redemption, whatever the outcome.
pub(crate) fn redeem(
    shared: &Shared,
    w: &mut World,
    tenant_index: usize,
    app: &AppSpec,
    f: &[(String, String)],
) -> Result<Value, AadErr> {
    let Some(code) = field(f, "code") else {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'code'.".into(),
        ));
    };
    let Some(pending) = w.codes.get_mut(code) else {
        return Err(invalid_grant(
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    if pending.redeemed {
        return Err(invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    pending.redeemed = true;
    let pending = pending.clone();
    if pending.issued.elapsed() > CODE_LIFETIME {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        ));
    }
    let tenant = &mut w.tenants[tenant_index];
    if !pending.tenant_id.eq_ignore_ascii_case(&tenant.info.id) {
        return Err(invalid_grant(
            700005,
            "Provided Authorization Code is intended to use against other tenant, thus rejected.",
        ));
    }
    if pending.client_id != app.client_id {
        return Err(invalid_grant(
            70000,
            "The provided authorization code was issued to a different client.",
        ));
    }
    if field(f, "redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return Err(invalid_grant(
            500112,
            "The reply address does not match the reply address provided when requesting Authorization code.",
        ));
    }
    if let Some((challenge, method)) = &pending.challenge {
        let Some(verifier) = field(f, "code_verifier") else {
            return Err(invalid_grant(
                50148,
                "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
            ));
        };
        let computed = if method == "S256" {
            B64URL.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
        } else {
            verifier.to_string()
        };
        if computed != *challenge {
            return Err(invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    let Some(user) = tenant.user(&pending.user_id).cloned() else {
        return Err(invalid_grant(
            50034,
            "The user account does not exist in this directory.",
        ));
    };
    let lifetime = shared.config.token_lifetime.as_secs();
    let now = now_secs();
    let tid = tenant.info.id.clone();
    let sp_id = tenant.grants.get(&app.client_id).map(|g| g.sp_id.clone());
    let openid = pending.scopes.iter().any(|s| s == "openid");
    let mut delegated: Vec<String> = pending
        .scopes
        .iter()
        .filter(|s| ["openid", "profile", "email"].contains(&s.as_str()))
        .cloned()
        .collect();
    // `.default` brings the app's statically configured delegated permission (User.Read).
    delegated.push("User.Read".into());
    let access = json!({
        "aud": GRAPH_RESOURCE, "iss": format!("https://sts.windows.net/{tid}/"), "iat": now, "nbf": now,
        "exp": now + lifetime, "appid": app.client_id, "appidacr": "1", "idtyp": "user", "name": user.display_name,
        "oid": user.id, "scp": delegated.join(" "), "sub": user.id, "tid": tid,
        "unique_name": user.user_principal_name, "upn": user.user_principal_name, "ver": "1.0",
        "xms_sim": shared.instance, "xms_sp": sp_id,
    });
    let mut body = json!({
        "token_type": "Bearer",
        "scope": delegated.join(" "),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": shared.signer.sign(&access),
    });
    if openid {
        let mut id = json!({
            "aud": app.client_id,
            "iss": format!("{}/{tid}/v2.0", shared.base_url),
            "iat": now, "nbf": now, "exp": now + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.user_principal_name,
            "sub": B64URL.encode(&digest::digest(&digest::SHA256, format!("{}|{}", user.id, app.client_id).as_bytes()).as_ref()[..24]),
            "tid": tid,
            "uti": B64URL.encode(&shared.next_request_id().as_bytes()[..16]),
            "ver": "2.0",
        });
        if let Some(n) = &pending.nonce {
            id["nonce"] = json!(n);
        }
        if app.emits_wids() {
            let mut wids = user.roles.clone();
            wids.push(DEFAULT_USER_ROLE.into());
            id["wids"] = json!(wids);
        }
        let signed = if tenant.faults.unpublished_signing_key {
            Signer::unpublished().sign(&id)
        } else {
            tenant.id_signer().sign(&id)
        };
        body["id_token"] = json!(signed);
    }
    Ok(body)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(State(sim): State<Sim>, Path(tenant_key): Path<String>) -> Response {
    let tid = {
        let w = sim.world();
        match w.tenant(&tenant_key) {
            Some(t) => t.info.id.clone(),
            None => return error_page(90002, &format!("Tenant '{tenant_key}' not found.")),
        }
    };
    let base = &sim.base_url;
    let doc = json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    });
    json_response(StatusCode::OK, &[], Some(doc))
}

/// Whether a Graph path is `me/transitiveMemberOf/microsoft.graph.directoryRole` (the cast may
/// be written `$/microsoft.graph.directoryRole` too).
pub(crate) fn is_my_directory_roles(path: &str) -> bool {
    let p = path.trim_end_matches('/').to_ascii_lowercase();
    p == "me/transitivememberof/microsoft.graph.directoryrole"
}

/// `GET /me/transitiveMemberOf/microsoft.graph.directoryRole`: the signed-in user's activated
/// directory roles. Needs a delegated token.
pub(crate) fn my_directory_roles(
    w: &World,
    tenant_index: usize,
    user: Option<&str>,
    scopes: &[String],
    method: &str,
    ids: &ReqIds,
    version: &str,
) -> GraphResp {
    if method != "GET" {
        return error(
            ids,
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        );
    }
    let Some(user) = user else {
        return error(
            ids,
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        );
    };
    let allowed = [
        "User.Read",
        "Directory.Read.All",
        "RoleManagement.Read.Directory",
        "User.Read.All",
    ];
    if !scopes.iter().any(|s| allowed.iter().any(|a| a.eq_ignore_ascii_case(s))) {
        return error(
            ids,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let tenant = &w.tenants[tenant_index];
    let Some(u) = tenant.user(user) else {
        return error(
            ids,
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{user}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let value: Vec<Value> = u
        .roles
        .iter()
        .map(|r| {
            let digest = digest::digest(&digest::SHA256, format!("{}|{r}", tenant.info.id).as_bytes());
            let b = digest.as_ref();
            let id = crate::rng::guid_from(
                u64::from_be_bytes(b[..8].try_into().unwrap_or_default()),
                u64::from_be_bytes(b[8..16].try_into().unwrap_or_default()),
            );
            json!({
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": id,
                "deletedDateTime": null,
                "description": format!("Members of this role are {}s.", role_name(r)),
                "displayName": role_name(r),
                "roleTemplateId": r,
            })
        })
        .collect();
    GraphResp {
        status: 200,
        headers: Vec::new(),
        body: Some(json!({
            "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#directoryRoles"),
            "value": value,
        })),
    }
}
