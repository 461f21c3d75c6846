//! Access tokens: what the token endpoint returned, plus the claims we read without verifying
//! (the token is Graph's to verify; we only look at `roles` to know what was granted).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

#[derive(Clone)]
pub struct AccessToken {
    bearer: Arc<str>,
    /// When the token endpoint says it expires (from `expires_in`, measured from our request).
    pub expires_at: Instant,
    /// The lifetime the endpoint granted.
    pub lifetime: Duration,
    /// Application permissions granted (`roles` claim); empty when none or when the token is opaque.
    pub roles: Vec<String>,
    /// `tid` claim.
    pub tenant_id: Option<String>,
    /// `appid` (v1 tokens) or `azp` (v2).
    pub app_id: Option<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("bearer", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("roles", &self.roles)
            .field("tenant_id", &self.tenant_id)
            .field("app_id", &self.app_id)
            .finish()
    }
}

impl AccessToken {
    pub(crate) fn new(bearer: String, requested_at: Instant, lifetime: Duration) -> Self {
        let claims = jwt_claims(&bearer).unwrap_or(Value::Null);
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
        let roles = claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        AccessToken {
            expires_at: requested_at + lifetime,
            lifetime,
            roles,
            tenant_id: text("tid"),
            app_id: text("appid").or_else(|| text("azp")),
            bearer: Arc::from(bearer),
        }
    }

    /// The raw bearer token. Never log it.
    pub fn bearer(&self) -> &str {
        &self.bearer
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// Still usable at `now`, leaving `margin` (at most half the lifetime) before expiry.
    pub(crate) fn is_fresh(&self, now: Instant, margin: Duration) -> bool {
        let margin = margin.min(self.lifetime / 2);
        now + margin < self.expires_at
    }
}

/// The payload of a JWS compact token, unverified. `None` when it is not one.
pub(crate) fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE.decode(payload))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `expires_in` arrives as a number from v2.0 endpoints and as a string from some older ones.
pub(crate) fn parse_expires_in(v: Option<&Value>) -> Option<Duration> {
    let secs = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fake_jwt(claims: Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn roles_and_ids_come_from_the_payload() {
        let jwt = fake_jwt(
            json!({"roles":["DeviceManagementConfiguration.Read.All","Group.Read.All"],
            "tid":"t-1","appid":"a-1","ver":"1.0"}),
        );
        let t = AccessToken::new(jwt, Instant::now(), Duration::from_secs(3599));
        assert_eq!(
            t.roles,
            vec!["DeviceManagementConfiguration.Read.All", "Group.Read.All"]
        );
        assert!(t.has_role("devicemanagementconfiguration.read.all"));
        assert!(!t.has_role("DeviceManagementConfiguration.ReadWrite.All"));
        assert_eq!(t.tenant_id.as_deref(), Some("t-1"));
        assert_eq!(t.app_id.as_deref(), Some("a-1"));
        assert!(!format!("{t:?}").contains(t.bearer()));
    }

    #[test]
    fn no_roles_claim_and_opaque_tokens_mean_no_roles() {
        let t = AccessToken::new(fake_jwt(json!({"tid":"t"})), Instant::now(), Duration::from_secs(60));
        assert!(t.roles.is_empty());
        let t = AccessToken::new("opaque".into(), Instant::now(), Duration::from_secs(60));
        assert!(t.roles.is_empty());
        assert_eq!(t.tenant_id, None);
    }

    #[test]
    fn freshness_keeps_a_margin_of_at_most_half_the_lifetime() {
        let t0 = Instant::now();
        let t = AccessToken::new("x".into(), t0, Duration::from_secs(3600));
        let margin = Duration::from_secs(300);
        assert!(t.is_fresh(t0 + Duration::from_secs(3299), margin));
        assert!(!t.is_fresh(t0 + Duration::from_secs(3300), margin));
        // A 60 s token is reused for 30 s, not refreshed on every call.
        let short = AccessToken::new("x".into(), t0, Duration::from_secs(60));
        assert!(short.is_fresh(t0 + Duration::from_secs(29), margin));
        assert!(!short.is_fresh(t0 + Duration::from_secs(30), margin));
    }

    #[test]
    fn expires_in_number_or_string() {
        assert_eq!(parse_expires_in(Some(&json!(3599))), Some(Duration::from_secs(3599)));
        assert_eq!(parse_expires_in(Some(&json!("3599"))), Some(Duration::from_secs(3599)));
        assert_eq!(parse_expires_in(Some(&json!(-1))), None);
        assert_eq!(parse_expires_in(None), None);
    }
}
