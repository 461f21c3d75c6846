//! Alert destinations (workspace-owned): a signed webhook, a Microsoft Teams Workflows URL or
//! email recipients. A webhook or Teams URL must reach a public address (see `targets`).
//! A webhook's signing secret is 32 random bytes shown once, at create and at rotate, and sealed
//! like a provider's client secret; a Teams URL is a bearer credential, so it is sealed too and
//! shown masked. Neither is ever returned again, logged, or put in an audit event.

use atlas_api_types as api;
use atlas_domain::WorkspaceId;
use atlas_domain::alerts::DestinationKind;
use base64::Engine as _;
use serde_json::json;

use crate::audit::NewEvent;
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::records::alerts::{self as rec, AlertDestinationRecord};
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::secrets::{Sealed, Secret};
use crate::state::AppState;

const MAX_NAME: usize = 100;
const MAX_URL: usize = 2_000;
/// How many addresses one email destination may send to.
pub const MAX_RECIPIENTS: usize = 20;
/// How long the previous secret keeps signing after a rotation, unless the caller says.
pub const DEFAULT_GRACE_HOURS: u32 = 24;
const MAX_GRACE_HOURS: u32 = 168;
pub const SECRET_PREFIX: &str = "whsec_";

/// The seal's context binds a sealed value to its destination: it cannot be moved to another.
fn seal_context(ws: &WorkspaceId, destination_id: &str, what: &str) -> String {
    format!("alert-destination/{ws}/{destination_id}/{what}")
}

pub fn to_api(d: &AlertDestinationRecord) -> api::AlertDestination {
    api::AlertDestination {
        id: d.destination_id.clone(),
        name: d.name.clone(),
        kind: d.kind.as_str().to_owned(),
        url: match d.kind {
            DestinationKind::Teams => d.url_hint.clone(),
            _ => d.url.clone(),
        },
        recipients: d.recipients.clone(),
        enabled: d.enabled,
        secret_set: d.secret.is_some(),
        secret_version: d.secret_version,
        previous_secret_until_ms: d.previous_secret.as_ref().and(d.previous_until_ms),
        created_ms: d.created_ms,
        created_by: d.created_by.clone(),
        updated_ms: d.updated_ms,
    }
}

/// https, or http on a loopback host when the deployment allows it (local development and tests).
fn check_url(state: &AppState, f: &mut Fields, raw: &str) -> Option<reqwest::Url> {
    let url = match reqwest::Url::parse(raw.trim()) {
        Ok(u) if raw.len() <= MAX_URL => u,
        _ => {
            f.push(
                "url",
                format!("must be an absolute https URL of at most {MAX_URL} characters"),
            );
            return None;
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        f.push(
            "url",
            "must not carry credentials (user:password@); a webhook is authenticated by its signature",
        );
        return None;
    }
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" if url.host().is_some() => Some(url),
        "http" if loopback && state.alerts.allow_http_loopback => Some(url),
        "http" if loopback => {
            f.push(
                "url",
                "must be https; plain http is allowed only on loopback when ATLAS_ALERT_ALLOW_HTTP_LOOPBACK is set",
            );
            None
        }
        _ => {
            f.push("url", "must be an https URL");
            None
        }
    }
}

/// [`check_url`], then where the URL leads: a host that resolves to a private, loopback (without
/// the development flag), link-local, unique-local, multicast or unspecified address is refused.
async fn check_target(state: &AppState, f: &mut Fields, raw: &str) -> Option<reqwest::Url> {
    let url = check_url(state, f, raw)?;
    match super::targets::check_at_create(&url, state.alerts.allow_http_loopback).await {
        Some(blocked) => {
            f.push("url", blocked.to_string());
            None
        }
        None => Some(url),
    }
}

/// 1 to [`MAX_RECIPIENTS`] addresses (`name@domain`, no display names), trimmed and deduplicated.
fn check_recipients(f: &mut Fields, given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if given.is_empty() || given.len() > MAX_RECIPIENTS {
        f.push(
            "recipients",
            format!("an email destination needs 1 to {MAX_RECIPIENTS} addresses"),
        );
    }
    for (i, r) in given.iter().enumerate() {
        let r = r.trim();
        match r.parse::<lettre::Address>() {
            Ok(a) if r.len() <= 254 && !r.contains(['<', '>', ' ']) => {
                let a = a.to_string();
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
                    out.push(a);
                }
            }
            _ => f.push(
                &format!("recipients[{i}]"),
                format!("{r:?} is not an email address (name@example.com)"),
            ),
        }
    }
    out
}

/// Whether this deployment can send an email alert: an SMTP URL, or (local mode) an outbox.
fn email_refusal(state: &AppState) -> Option<&'static str> {
    (state.alerts.smtp.is_none() && state.alerts.outbox_dir.is_none()).then_some(
        "email destinations need an SMTP endpoint, and this deployment has none: set ATLAS_SMTP_URL \
         (in AWS, the SES SMTP endpoint: the template's SmtpUrl parameter)",
    )
}

fn hint(url: &reqwest::Url) -> String {
    format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or_default())
}

/// A fresh signing secret: `whsec_` and 32 random bytes, base64url.
fn new_secret() -> ServiceResult<Secret> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| ServiceError::Permanent("no randomness".into()))?;
    let text = format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    );
    b.iter_mut().for_each(|x| *x = 0);
    Ok(Secret::new(text.into_bytes()))
}

async fn seal(state: &AppState, ws: &WorkspaceId, id: &str, what: &str, plain: &[u8]) -> ServiceResult<Sealed> {
    state
        .secrets
        .seal(&seal_context(ws, id, what), plain)
        .await
        .map_err(|e| ServiceError::Permanent(e.to_string()))
}

async fn open(state: &AppState, ws: &WorkspaceId, id: &str, what: &str, sealed: &Sealed) -> ServiceResult<Secret> {
    state
        .secrets
        .open(&seal_context(ws, id, what), sealed)
        .await
        .map_err(|e| ServiceError::Permanent(format!("the destination's {what} cannot be opened: {e}")))
}

/// What a sender needs: where to post and the secrets that sign (current first, then the previous
/// one while its grace lasts). Only the delivery step calls this.
pub struct Opened {
    pub url: String,
    pub secrets: Vec<Secret>,
}

pub async fn open_for_send(state: &AppState, d: &AlertDestinationRecord) -> ServiceResult<Opened> {
    let ws = &d.workspace_id;
    let url = match (&d.kind, &d.sealed_url, &d.url) {
        (DestinationKind::Teams, Some(sealed), _) => open(state, ws, &d.destination_id, "url", sealed)
            .await?
            .expose_str()
            .map_err(|e| ServiceError::Permanent(e.to_string()))?
            .to_owned(),
        (_, _, Some(u)) => u.clone(),
        _ => return Err(ServiceError::Permanent("the destination has no URL".into())),
    };
    let mut secrets = Vec::new();
    if let Some(s) = &d.secret {
        secrets.push(open(state, ws, &d.destination_id, "secret", s).await?);
    }
    let now = state.clock.now_millis();
    if let (Some(s), Some(until)) = (&d.previous_secret, d.previous_until_ms)
        && until > now
    {
        secrets.push(open(state, ws, &d.destination_id, "secret", s).await?);
    }
    Ok(Opened { url, secrets })
}

/// Audit metadata for a destination: its shape, never a secret (a Teams URL is one).
fn summary(d: &AlertDestinationRecord) -> serde_json::Value {
    json!({
        "name": d.name,
        "kind": d.kind,
        "url": to_api(d).url,
        "recipients": d.recipients,
        "enabled": d.enabled,
        "secret_version": d.secret_version,
    })
}

pub async fn create(
    state: &AppState,
    scope: &WorkspaceScope,
    body: &api::AlertDestinationCreate,
) -> ServiceResult<api::DestinationCreated> {
    let mut f = Fields::default();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        f.push("name", format!("must be 1 to {MAX_NAME} characters"));
    }
    let kind = DestinationKind::parse(&body.kind);
    let mut recipients = Vec::new();
    let url = match (kind, &body.url) {
        (None, _) => {
            f.push("kind", "must be webhook, teams or email");
            None
        }
        (Some(DestinationKind::Email), url) => {
            if let Some(why) = email_refusal(state) {
                f.push("kind", why);
            }
            if url.is_some() {
                f.push("url", "an email destination has recipients, not a URL");
            }
            recipients = check_recipients(&mut f, &body.recipients);
            None
        }
        (Some(_), None) => {
            f.push("url", "is required for a webhook or Teams destination");
            None
        }
        (Some(_), Some(u)) => {
            if !body.recipients.is_empty() {
                f.push("recipients", "only email destinations have recipients");
            }
            check_target(state, &mut f, u).await
        }
    };
    f.checked()?;
    let Some(kind) = kind else {
        return Err(ServiceError::field("kind", "is required"));
    };
    let url = match (kind, url) {
        (DestinationKind::Email, _) => None,
        (_, Some(u)) => Some(u),
        (_, None) => return Err(ServiceError::field("url", "is required")),
    };
    let ws = scope.workspace_id().clone();
    let id = state.ids.next_id();
    let now = state.clock.now_millis();
    let mut d = AlertDestinationRecord {
        workspace_id: ws.clone(),
        destination_id: id.clone(),
        name: name.to_owned(),
        kind,
        url: None,
        sealed_url: None,
        url_hint: None,
        recipients: Vec::new(),
        secret: None,
        secret_version: 0,
        previous_secret: None,
        previous_until_ms: None,
        enabled: body.enabled,
        created_ms: now,
        created_by: scope.actor().email.clone(),
        updated_ms: now,
        version: 1,
    };
    let mut shown = None;
    match (kind, url) {
        (DestinationKind::Email, _) | (_, None) => d.recipients = recipients,
        (DestinationKind::Teams, Some(url)) => {
            d.sealed_url = Some(seal(state, &ws, &id, "url", url.as_str().as_bytes()).await?);
            d.url_hint = Some(hint(&url));
        }
        (DestinationKind::Webhook, Some(url)) => {
            let secret = new_secret()?;
            d.url = Some(url.to_string());
            d.secret = Some(seal(state, &ws, &id, "secret", secret.expose()).await?);
            d.secret_version = 1;
            shown = Some(secret);
        }
    }
    let ev = NewEvent::success("alert_destination.create", format!("alert_destination/{id}")).meta(summary(&d));
    crate::audit::commit(state, scope, vec![d.create()], ev).await?;
    Ok(api::DestinationCreated {
        destination: to_api(&d),
        secret: shown.map(|s| s.expose_str().unwrap_or_default().to_owned()),
    })
}

pub async fn list(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<Vec<api::AlertDestination>> {
    let ws = scope.records(&state.table);
    let all: Vec<AlertDestinationRecord> = records::query_all(&state.table, ws.query(rec::DESTINATIONS)).await?;
    let mut out: Vec<api::AlertDestination> = all.iter().map(to_api).collect();
    out.sort_by_key(|d| d.name.to_lowercase());
    Ok(out)
}

pub async fn destination(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<AlertDestinationRecord> {
    if !rec::is_id(id) {
        return Err(ServiceError::NotFound);
    }
    scope
        .records(&state.table)
        .get(rec::destination_sk(id))
        .await?
        .ok_or(ServiceError::NotFound)
}

pub async fn get(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::AlertDestination> {
    Ok(to_api(&destination(state, scope, id).await?))
}

async fn replace(
    state: &AppState,
    scope: &WorkspaceScope,
    prior: &AlertDestinationRecord,
    mut next: AlertDestinationRecord,
    ev: NewEvent,
) -> ServiceResult<AlertDestinationRecord> {
    next.version = prior.version + 1;
    next.updated_ms = state.clock.now_millis();
    let write = super::replace_at(next.to_item(), prior.version);
    super::commit_versioned(state, scope, write, ev, "destination").await?;
    Ok(next)
}

pub async fn patch(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::AlertDestinationPatch,
) -> ServiceResult<api::AlertDestination> {
    let prior = destination(state, scope, id).await?;
    let mut next = prior.clone();
    let mut f = Fields::default();
    if let Some(n) = &body.name {
        let n = n.trim();
        if n.is_empty() || n.chars().count() > MAX_NAME {
            f.push("name", format!("must be 1 to {MAX_NAME} characters"));
        }
        next.name = n.to_owned();
    }
    let email = prior.kind == DestinationKind::Email;
    match (&body.recipients, email) {
        (Some(_), false) => f.push("recipients", "only email destinations have recipients"),
        (Some(r), true) => next.recipients = check_recipients(&mut f, r),
        (None, _) => {}
    }
    let url = match (&body.url, email) {
        (Some(_), true) => {
            f.push("url", "an email destination has recipients, not a URL");
            None
        }
        (Some(u), false) => check_target(state, &mut f, u).await,
        (None, _) => None,
    };
    if let Some(e) = body.enabled {
        next.enabled = e;
    }
    f.checked()?;
    let mut url_changed = false;
    if let Some(url) = url {
        url_changed = true;
        match prior.kind {
            DestinationKind::Teams => {
                next.sealed_url = Some(seal(state, &prior.workspace_id, id, "url", url.as_str().as_bytes()).await?);
                next.url_hint = Some(hint(&url));
            }
            _ => next.url = Some(url.to_string()),
        }
    }
    // The fact that a (secret) URL changed is audited; its value is not.
    let ev = NewEvent::success("alert_destination.update", format!("alert_destination/{id}"))
        .meta(json!({"before": summary(&prior), "after": summary(&next), "url_changed": url_changed}));
    Ok(to_api(&replace(state, scope, &prior, next, ev).await?))
}

pub async fn delete(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<()> {
    let prior = destination(state, scope, id).await?;
    let ev = NewEvent::success("alert_destination.delete", format!("alert_destination/{id}")).meta(summary(&prior));
    let del = super::delete_at(prior.key(), prior.version);
    super::commit_versioned(state, scope, del, ev, "destination").await
}

/// A new signing secret, shown once; the old one keeps signing (as the second `v1=`) for the
/// grace period, so receivers can switch without losing a delivery.
pub async fn rotate(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::AlertSecretRotate,
) -> ServiceResult<api::DestinationCreated> {
    let grace = body.grace_hours.unwrap_or(DEFAULT_GRACE_HOURS);
    if grace > MAX_GRACE_HOURS {
        return Err(ServiceError::field(
            "grace_hours",
            format!("must be 0 to {MAX_GRACE_HOURS} hours"),
        ));
    }
    let prior = destination(state, scope, id).await?;
    if prior.kind != DestinationKind::Webhook {
        return Err(ServiceError::Conflict(format!(
            "only webhook destinations have a signing secret; this one is {}",
            prior.kind
        )));
    }
    let secret = new_secret()?;
    let mut next = prior.clone();
    next.previous_secret = prior.secret.clone();
    next.previous_until_ms = Some(state.clock.now_millis() + i64::from(grace) * 3_600_000);
    next.secret = Some(seal(state, &prior.workspace_id, id, "secret", secret.expose()).await?);
    next.secret_version = prior.secret_version + 1;
    let ev = NewEvent::success("alert_destination.rotate_secret", format!("alert_destination/{id}")).meta(json!({
        "secret_version": next.secret_version,
        "previous_valid_until_ms": next.previous_until_ms,
    }));
    let next = replace(state, scope, &prior, next, ev).await?;
    Ok(api::DestinationCreated {
        destination: to_api(&next),
        secret: Some(secret.expose_str().unwrap_or_default().to_owned()),
    })
}
