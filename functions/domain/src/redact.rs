//! Redaction of secret-looking values in payloads, audit metadata and support context.
//! Keys that name a secret are masked whatever their value; values that look like a credential
//! (a JWT, a PEM block, a long opaque token) are masked whatever their key.

use serde_json::Value;

pub const MASK: &str = "[redacted]";

const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "privatekey",
    "private_key",
    "credential",
    "certificate",
    "clientassertion",
    "sharedkey",
    "connectionstring",
    "preshared",
    "pfx",
    "authorization",
];

pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase();
    let compact = k.replace('_', "");
    SECRET_KEY_PARTS
        .iter()
        .any(|p| k.contains(p) || compact.contains(&p.replace('_', "")))
}

pub fn looks_secret(value: &str) -> bool {
    let v = value.trim();
    let jwt = v.split('.').count() == 3 && v.starts_with("eyJ") && v.len() > 40;
    let pem = v.contains("-----BEGIN ");
    // Long runs of base64/hex without spaces: keys, hashes of secrets, SAS tokens.
    let opaque = v.len() >= 40
        && !v.contains(' ')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c))
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars().any(|c| c.is_ascii_alphabetic());
    jwt || pem || opaque
}

/// Masks secrets in place, recursively.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_null() && !matches!(v, Value::Bool(_)) {
                    *v = Value::String(MASK.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(s) if looks_secret(s) => *s = MASK.into(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_and_values_are_masked_and_the_rest_kept() {
        let mut v = json!({
            "displayName": "Wi-Fi corp",
            "wifiPassword": "hunter2",
            "clientSecret": {"nested": 1},
            "settings": [{"name": "x", "preSharedKey": "abc"}, {"value": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"}],
            "hash": "0123456789abcdef0123456789abcdef01234567",
            "isEncrypted": true,
            "note": "a normal sentence that is fairly long but has spaces in it",
        });
        redact(&mut v);
        assert_eq!(v["displayName"], "Wi-Fi corp");
        assert_eq!(v["wifiPassword"], MASK);
        assert_eq!(v["clientSecret"], MASK);
        assert_eq!(v["settings"][0]["preSharedKey"], MASK);
        assert_eq!(v["settings"][0]["name"], "x");
        assert_eq!(v["settings"][1]["value"], MASK);
        assert_eq!(v["hash"], MASK);
        assert_eq!(v["isEncrypted"], true);
        assert!(v["note"].as_str().unwrap().starts_with("a normal"));
    }
}
