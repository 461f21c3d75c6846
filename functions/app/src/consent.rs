//! The consent sign-in's `state`: signed (HMAC-SHA-256), bound to workspace, environment and
//! initiator, expiring after 15 minutes, and single-use through a conditional write. Its record
//! also keeps what must never travel through the browser: the PKCE verifier and the nonce the ID
//! token has to echo. The callback trusts nothing else in the query string (see `proof`).

pub mod proof;

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Cond, TableError, Update};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

use crate::error::{ServiceError, ServiceResult};
use crate::records::provider::{ConsentStateRecord, SigningKeyRecord, consent_state_key, signing_key_key};
use crate::records::{self, Record};
use crate::secrets::SecretBox;
use crate::state::AppState;

pub const VALID_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateClaims {
    /// A random nonce: the key of the single-use record.
    pub n: String,
    pub ws: String,
    pub env: String,
    /// The initiating user's id.
    pub by: String,
    pub exp_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the consent state is not one we issued")]
    Forged,
    #[error("the consent state expired")]
    Expired(StateClaims),
    #[error("the consent state was already used")]
    Replayed(StateClaims),
}

/// The HMAC key, made once, kept sealed in the table so every function shares it.
async fn key(state: &AppState, secrets: &SecretBox) -> ServiceResult<hmac::Key> {
    const CONTEXT: &str = "system/consent-state-key";
    if let Some(k) = records::get::<SigningKeyRecord>(&state.table, &signing_key_key()).await? {
        let raw = secrets.open(CONTEXT, &k.sealed).await.map_err(permanent)?;
        return Ok(hmac::Key::new(hmac::HMAC_SHA256, raw.expose()));
    }
    let mut fresh = [0u8; 32];
    aws_lc_rs::rand::fill(&mut fresh).map_err(|_| permanent("no randomness"))?;
    let sealed = secrets.seal(CONTEXT, &fresh).await.map_err(permanent)?;
    let item = SigningKeyRecord { sealed }.to_item();
    match state.table.put(item, Some(Cond::NotExists)).await {
        Ok(()) => Ok(hmac::Key::new(hmac::HMAC_SHA256, &fresh)),
        // Another process made it first: use theirs.
        Err(TableError::ConditionFailed) => Box::pin(key(state, secrets)).await,
        Err(e) => Err(e.into()),
    }
}

/// A server fault: answered as a 500, its detail logged.
fn permanent(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Permanent(e.to_string())
}

/// A started consent sign-in: the signed state, and what the authorize URL carries of the
/// server-side secrets (the PKCE challenge, the nonce).
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub expires_ms: i64,
    pub code_challenge: String,
    pub nonce: String,
}

/// What the first use of a state hands the callback.
#[derive(Debug, Clone)]
pub enum Consumed {
    First {
        verifier: String,
        nonce: String,
    },
    /// The very same callback again (the browser reloaded): the result recorded the first time.
    Repeat {
        result: Option<String>,
    },
}

fn random_b64(n: usize) -> ServiceResult<String> {
    let mut raw = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| permanent("no randomness"))?;
    Ok(B64.encode(raw))
}

/// Issues a state for an initiator, and records it as unused with a fresh PKCE verifier and nonce.
pub async fn issue(
    state: &AppState,
    secrets: &SecretBox,
    ws: &WorkspaceId,
    env: &EnvironmentId,
    by: &str,
) -> ServiceResult<Issued> {
    let mut raw = [0u8; 24];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| permanent("no randomness"))?;
    // RFC 7636: 43 characters of base64url from 32 random bytes.
    let verifier = random_b64(32)?;
    let nonce = random_b64(18)?;
    let code_challenge = B64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let exp_ms = state.clock.now_millis() + VALID_MS;
    let claims = StateClaims {
        n: B64.encode(raw),
        ws: ws.to_string(),
        env: env.to_string(),
        by: by.to_owned(),
        exp_ms,
    };
    let payload = serde_json::to_vec(&claims).map_err(permanent)?;
    let tag = hmac::sign(&key(state, secrets).await?, &payload);
    let record = ConsentStateRecord {
        n: claims.n.clone(),
        workspace_id: claims.ws.clone(),
        environment_id: claims.env.clone(),
        initiator: by.to_owned(),
        exp_ms,
        used: false,
        ttl: exp_ms / 1000 + 86_400,
        verifier: Some(verifier),
        nonce: nonce.clone(),
        fingerprint: None,
        used_ms: None,
        result: None,
    };
    state.table.put(record.to_item(), Some(Cond::NotExists)).await?;
    Ok(Issued {
        token: format!("{}.{}", B64.encode(&payload), B64.encode(tag.as_ref())),
        expires_ms: exp_ms,
        code_challenge,
        nonce,
    })
}

/// Checks the signature and expiry; does not consume.
pub async fn verify(
    state: &AppState,
    secrets: &SecretBox,
    token: &str,
) -> ServiceResult<Result<StateClaims, StateError>> {
    let Some((p, t)) = token.split_once('.') else {
        return Ok(Err(StateError::Forged));
    };
    let (Ok(payload), Ok(tag)) = (B64.decode(p), B64.decode(t)) else {
        return Ok(Err(StateError::Forged));
    };
    if hmac::verify(&key(state, secrets).await?, &payload, &tag).is_err() {
        return Ok(Err(StateError::Forged));
    }
    let Ok(claims) = serde_json::from_slice::<StateClaims>(&payload) else {
        return Ok(Err(StateError::Forged));
    };
    if claims.exp_ms <= state.clock.now_millis() {
        return Ok(Err(StateError::Expired(claims)));
    }
    Ok(Ok(claims))
}

/// Marks the state used, recording what the callback said (`fingerprint`). A repeat of the very
/// same callback is recognised: the browser may reload; anything else is a replay.
pub async fn consume(
    state: &AppState,
    claims: &StateClaims,
    fingerprint: &str,
) -> ServiceResult<Result<Consumed, StateError>> {
    let upd = Update::new()
        .set("used", true)
        .set("fingerprint", fingerprint)
        .set("used_ms", state.clock.now_millis());
    match state
        .table
        .update(
            &consent_state_key(&claims.n),
            &upd,
            Some(Cond::And(vec![Cond::Exists, Cond::eq("used", false)])),
        )
        .await
    {
        Ok(rec) => {
            let rec = ConsentStateRecord::from_item(rec)?;
            Ok(Ok(Consumed::First {
                verifier: rec.verifier.unwrap_or_default(),
                nonce: rec.nonce,
            }))
        }
        Err(TableError::ConditionFailed) => {
            let rec: Option<ConsentStateRecord> = records::get(&state.table, &consent_state_key(&claims.n)).await?;
            let rec = rec.filter(|r| r.fingerprint.as_deref() == Some(fingerprint));
            Ok(if let Some(rec) = rec {
                Ok(Consumed::Repeat { result: rec.result })
            } else {
                Err(StateError::Replayed(claims.clone()))
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Records the callback's result on the used state, so a reload shows the same page.
pub fn result_update(claims: &StateClaims, result: &str) -> atlas_store::TxItem {
    atlas_store::TxItem::Update {
        key: consent_state_key(&claims.n),
        update: Update::new().set("result", result).remove("verifier"),
        cond: Some(Cond::Exists),
    }
}

/// [`result_update`] on its own, for results that change nothing else.
pub async fn record_result(state: &AppState, claims: &StateClaims, result: &str) -> ServiceResult<()> {
    let upd = Update::new().set("result", result).remove("verifier");
    state
        .table
        .update(&consent_state_key(&claims.n), &upd, Some(Cond::Exists))
        .await?;
    Ok(())
}
