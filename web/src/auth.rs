//! Sign-in with the OIDC authorization code flow and PKCE (S256). The issuer defaults to the local
//! one at `/oidc`; a deployment names another with `<meta name="atlas-oidc-issuer">`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use wasm_bindgen::JsCast as _;
use wasm_bindgen_futures::JsFuture;

use crate::api::{ApiError, enc};

const PENDING_KEY: &str = "atlas.pkce";
pub const CALLBACK_PATH: &str = "/auth/callback";

fn meta(name: &str) -> Option<String> {
    let doc = web_sys::window()?.document()?;
    doc.query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??
        .get_attribute("content")
        .filter(|v| !v.is_empty())
}

fn issuer() -> String {
    meta("atlas-oidc-issuer").unwrap_or_else(|| "/oidc".into())
}

fn client_id() -> String {
    meta("atlas-oidc-client-id").unwrap_or_else(|| "atlas-web".into())
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn redirect_uri() -> String {
    format!("{}{CALLBACK_PATH}", origin())
}

fn random(bytes: usize) -> Result<String, String> {
    let crypto = web_sys::window()
        .ok_or("no window")?
        .crypto()
        .map_err(|_| "no crypto")?;
    let mut buf = vec![0u8; bytes];
    crypto
        .get_random_values_with_u8_array(&mut buf)
        .map_err(|_| "no random source")?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

async fn s256(verifier: &str) -> Result<String, String> {
    let subtle = web_sys::window()
        .ok_or("no window")?
        .crypto()
        .map_err(|_| "no crypto")?
        .subtle();
    let data = js_sys::Uint8Array::from(verifier.as_bytes());
    let promise = subtle
        .digest_with_str_and_buffer_source("SHA-256", &data)
        .map_err(|_| "SHA-256 is unavailable (the page must be served over HTTPS or from localhost)")?;
    let digest = JsFuture::from(promise).await.map_err(|_| "hashing failed")?;
    let digest = js_sys::Uint8Array::new(digest.unchecked_ref());
    Ok(URL_SAFE_NO_PAD.encode(digest.to_vec()))
}

fn storage() -> Result<web_sys::Storage, String> {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .ok_or_else(|| "session storage is unavailable".into())
}

/// Starts sign-in: remembers the verifier, state and where to return, then leaves for the issuer.
pub async fn start(return_to: &str) -> Result<(), String> {
    let verifier = random(32)?;
    let state = random(16)?;
    let challenge = s256(&verifier).await?;
    let pending = serde_json::json!({"verifier": verifier, "state": state, "return_to": return_to});
    storage()?
        .set_item(PENDING_KEY, &pending.to_string())
        .map_err(|_| "cannot store the sign-in state")?;
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}\
         &code_challenge={}&code_challenge_method=S256",
        issuer(),
        enc(&client_id()),
        enc(&redirect_uri()),
        enc("openid email profile"),
        enc(&state),
        enc(&random(16)?),
        enc(&challenge),
    );
    web_sys::window()
        .ok_or("no window")?
        .location()
        .set_href(&url)
        .map_err(|_| "cannot open the sign-in page".into())
}

#[derive(Deserialize)]
struct Pending {
    verifier: String,
    state: String,
    return_to: String,
}

#[derive(Deserialize)]
struct Tokens {
    access_token: String,
}

/// Finishes sign-in on the callback: checks `state`, exchanges the code, stores the token and
/// answers where to go next.
pub async fn finish(code: &str, state: &str) -> Result<String, String> {
    let store = storage()?;
    let pending: Pending = store
        .get_item(PENDING_KEY)
        .ok()
        .flatten()
        .and_then(|p| serde_json::from_str(&p).ok())
        .ok_or("this sign-in was not started here, or was already used; start again")?;
    let _ = store.remove_item(PENDING_KEY);
    if pending.state != state {
        return Err("the sign-in answer does not match the request; start again".into());
    }
    let form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={}",
        enc(code),
        enc(&redirect_uri()),
        enc(&client_id()),
        enc(&pending.verifier)
    );
    let response = gloo_net::http::Request::post(&format!("{}/token", issuer()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|_| ApiError::Network(String::new()).to_string())?;
    if !response.ok() {
        return Err(format!("the issuer refused the sign-in (status {})", response.status()));
    }
    let tokens: Tokens = response.json().await.map_err(|_| "the issuer's answer is unreadable")?;
    crate::api::set_token(Some(&tokens.access_token));
    // Only same-app paths: a crafted return address must not send the operator elsewhere.
    let safe = pending.return_to.starts_with('/') && !pending.return_to.starts_with("//");
    Ok(if safe { pending.return_to } else { "/workspaces".into() })
}
