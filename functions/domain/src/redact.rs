//! Redaction by meaning: what a payload's own schema says is a secret is masked, nothing else.
//!
//! A value is secret when
//! - it is the `value` of a settings-catalog `…SecretSettingValue` (any `valueState`);
//! - it is the string value of a settings-catalog setting whose `settingDefinitionId` names a
//!   password, pre-shared key, key or secret (`com.apple.wifi.managed_password`);
//! - it is the `value` of an OMA-URI setting that Intune encrypts (`isEncrypted`, or a
//!   `secretReferenceValueId`);
//! - it is a property whose name means a secret ([`SECRET_PROPERTIES`], or a name whose head noun
//!   is a password, passphrase, secret, token or a shared/private/API key: `preSharedKey`,
//!   `wifiPassword`, `clientSecret`) holding a string, object or array;
//! - it is an Apple custom profile's `payload` whose property list carries a secret key;
//! - it is free text shaped like a credential (a JWT, a PEM block, a connection string's key).
//!
//! Numbers and booleans are never secret (`passwordMinimumLength`, `passwordRequired`), nor are
//! choice values (enums), ids, hashes or scripts: masking them would hide settings a reader needs.
//! Masking replaces a value; it never hides that a value differs (see [`crate::diff::diff_redacted`]).

use base64::Engine as _;
use serde_json::Value;

pub const MASK: &str = "[redacted]";

/// Property names the Graph resources document as secret (Wi-Fi, VPN, certificate, e-mail and
/// app-protection types), matched exactly (case-insensitively). The head-noun rule of
/// [`is_secret_key`] catches the rest of the family (`…Password`, `…SharedSecret`).
pub const SECRET_PROPERTIES: &[&str] = &[
    // windowsWifiConfiguration, iosWiFiConfiguration, macOSWiFiConfiguration, android*WiFiConfiguration
    "preSharedKey",
    "wpaPreSharedKey",
    "wepKey",
    "wiFiPreSharedKey",
    // VPN profiles (shared secret of L2TP/IPsec, custom data that carries credentials)
    "sharedSecret",
    "presharedKeyValue",
    // imported PFX certificates (userPFXCertificate) and certificate payloads
    "encryptedPfxBlob",
    "encryptedPfxPassword",
    "pfxBlob",
    "pfxPassword",
    "certContent",
    "privateKey",
    "certificatePassword",
    // e-mail / Exchange profiles and derived credentials
    "password",
    "passphrase",
    // Apple push and enrollment tokens
    "token",
    "tokenValue",
    "appleIdToken",
];

/// Settings-catalog definition ids whose last segment ends with one of these name a secret.
const SECRET_DEFINITION_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "presharedkey",
    "sharedkey",
    "privatekey",
    "psk",
    "apikey",
];

/// Nouns that make a property name a secret when they are its last word.
const SECRET_HEADS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "pfx",
    "credential",
    "credentials",
    "assertion",
    "authorization",
    "psk",
];

/// Words that, before `key`, make it a secret key (`preSharedKey`, `privateKey`, `apiKey`).
const SECRET_KEY_QUALIFIERS: &[&str] = &[
    "shared",
    "private",
    "api",
    "access",
    "secret",
    "signing",
    "encryption",
    "wep",
    "network",
    "account",
    "subscription",
    "license",
    "product",
    "recovery",
];

/// Plist keys in Apple custom profiles that hold secrets.
const SECRET_PLIST_KEYS: &[&str] = &[
    "password",
    "sharedsecret",
    "presharedkey",
    "passphrase",
    "authpassword",
    "xauthpassword",
    "pkcs12",
];

/// A property name's words: camelCase, `snake_case`, `kebab-case` and dotted names split alike.
fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a property name means a secret: an explicit Graph property, or a name whose last word
/// is a secret noun. `passwordMinimumLength` (a length), `passwordRequired` (a flag) and
/// `secretReferenceValueId` (an id) are not: their head noun is not a secret.
pub fn is_secret_key(key: &str) -> bool {
    if SECRET_PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(key)) {
        return true;
    }
    let w = words(key);
    let Some(last) = w.last().map(String::as_str) else {
        return false;
    };
    let prev = w.len().checked_sub(2).map(|i| w[i].as_str());
    if SECRET_HEADS.contains(&last) {
        return true;
    }
    match (prev, last) {
        (Some(p), "key") if SECRET_KEY_QUALIFIERS.contains(&p) => return true,
        (Some("connection"), "string") => return true,
        (Some("pfx" | "cert" | "certificate"), "blob" | "content") => return true,
        _ => {}
    }
    // All-lowercase compounds (`clientsecret`, `presharedkey`, `apikey`).
    w.len() == 1
        && [
            "password",
            "passwd",
            "passphrase",
            "secret",
            "presharedkey",
            "sharedkey",
            "privatekey",
            "apikey",
            "accesstoken",
            "refreshtoken",
            "connectionstring",
        ]
        .iter()
        .any(|s| last.ends_with(s))
}

/// Whether a settings-catalog definition id names a secret (`com.apple.wifi.managed_password`),
/// judged on its last segment: `…_devicelock_minimumpasswordage` names an age, not a password.
pub fn is_secret_definition(definition_id: &str) -> bool {
    let lower = definition_id.to_ascii_lowercase();
    let last = lower.rsplit(['_', '.']).next().unwrap_or_default();
    last == "key" || last == "pin" || SECRET_DEFINITION_SUFFIXES.iter().any(|s| last.ends_with(s))
}

/// Free text shaped like a credential: a JWT, a PEM block, or a connection string with a key.
pub fn looks_secret(value: &str) -> bool {
    let v = value.trim();
    let jwt = v.starts_with("eyJ")
        && v.len() > 40
        && v.split('.').count() == 3
        && v.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_=".contains(c)));
    let pem = v.contains("-----BEGIN ");
    let lower = v.to_ascii_lowercase();
    let keyed = ["accountkey=", "sharedaccesskey=", "sharedaccesssignature=", "password="]
        .iter()
        .any(|k| lower.contains(k));
    jwt || pem || keyed
}

fn odata_type(m: &serde_json::Map<String, Value>) -> String {
    m.get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.")
        .to_ascii_lowercase()
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn maskable(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn plist_has_secret(payload: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(payload.trim()) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    text.split("<key>").skip(1).any(|rest| {
        let key = rest.split("</key>").next().unwrap_or_default().trim();
        SECRET_PLIST_KEYS.iter().any(|s| key.ends_with(s))
    })
}

fn walk(value: &Value, ptr: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            let ty = odata_type(m);
            // Keys whose value is secret because of what this object is.
            let mut secret_here: Vec<&str> = Vec::new();
            if ty.ends_with("secretsettingvalue") {
                secret_here.push("value");
            }
            if ty.starts_with("omasetting")
                && (m.get("isEncrypted") == Some(&Value::Bool(true))
                    || m.get("secretReferenceValueId")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()))
            {
                secret_here.push("value");
            }
            if (ty == "ioscustomconfiguration" || ty == "macoscustomconfiguration")
                && m.get("payload").and_then(Value::as_str).is_some_and(plist_has_secret)
            {
                secret_here.push("payload");
            }
            let secret_setting = m
                .get("settingDefinitionId")
                .and_then(Value::as_str)
                .is_some_and(is_secret_definition);
            for (k, v) in m {
                let p = format!("{ptr}/{}", escape(k));
                if (secret_here.contains(&k.as_str()) || is_secret_key(k)) && maskable(v) {
                    out.push(p);
                    continue;
                }
                if secret_setting && (k == "simpleSettingValue" || k == "simpleSettingCollectionValue") {
                    secret_setting_values(v, &p, out);
                    continue;
                }
                walk(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{ptr}/{i}"), out);
            }
        }
        Value::String(s) if looks_secret(s) => out.push(ptr.to_owned()),
        _ => {}
    }
}

/// The string values under a secret setting's `simpleSettingValue` (or collection): an integer
/// value of a setting named `…_password` is still a number, never masked.
fn secret_setting_values(v: &Value, ptr: &str, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                secret_setting_values(item, &format!("{ptr}/{i}"), out);
            }
        }
        Value::Object(m) => match m.get("value") {
            Some(Value::String(s)) if !s.is_empty() => out.push(format!("{ptr}/value")),
            _ => walk(v, ptr, out),
        },
        other => walk(other, ptr, out),
    }
}

/// JSON pointers (RFC 6901) of every secret value in `doc`, in document order.
pub fn secret_pointers(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out
}

/// Whether `path` is `secret` or lies inside it.
pub fn is_within(path: &str, secret: &str) -> bool {
    path == secret || (path.starts_with(secret) && path.as_bytes().get(secret.len()) == Some(&b'/'))
}

/// Masks the values at `pointers` (relative to `value`).
pub fn mask_at(value: &mut Value, pointers: &[String]) {
    for p in pointers {
        if p.is_empty() {
            *value = Value::String(MASK.into());
        } else if let Some(v) = value.pointer_mut(p) {
            *v = Value::String(MASK.into());
        }
    }
}

/// Masks secrets in place.
pub fn redact(value: &mut Value) {
    let pointers = secret_pointers(value);
    mask_at(value, &pointers);
}

#[cfg(test)]
pub(crate) mod tests {
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
        assert_eq!(
            v["hash"], "0123456789abcdef0123456789abcdef01234567",
            "a hash is not a secret"
        );
        assert_eq!(v["isEncrypted"], true);
        assert!(v["note"].as_str().unwrap().starts_with("a normal"));
    }

    #[test]
    fn password_settings_that_are_not_passwords_stay_visible() {
        // A Windows device-restrictions profile: 13 values, none of them a secret.
        let mut v = json!({
            "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
            "passwordRequired": true, "passwordMinimumLength": 8, "passwordRequiredType": "alphanumeric",
            "passwordExpirationDays": 90, "passwordMinimumCharacterSetCount": 3,
            "passwordPreviousPasswordBlockCount": 5, "passwordSignInFailureCountBeforeFactoryReset": 10,
            "passwordMinutesOfInactivityBeforeScreenTimeout": 15, "passwordBlockSimple": true,
            "passwordRequireWhenResumeFromIdleState": true, "edgeBlockPasswordManager": false,
            "secretReferenceValueId": "5f1c0a7e-9f7a-4a4b-8f0e-2c3d4e5f6a7b", "tokenExpiryDays": 7,
        });
        let before = v.clone();
        redact(&mut v);
        assert_eq!(v, before);
        assert!(secret_pointers(&before).is_empty());
    }

    #[test]
    fn key_names_are_judged_by_their_head_noun() {
        for k in [
            "preSharedKey",
            "wifiPassword",
            "clientSecret",
            "client_secret",
            "accessToken",
            "privateKey",
            "apiKey",
            "connectionString",
            "encryptedPfxBlob",
            "certContent",
            "presharedkey",
            "AuthPassword",
            "vpnSharedSecret",
            "proxyCredentials",
        ] {
            assert!(is_secret_key(k), "{k} is a secret");
        }
        for k in [
            "passwordMinimumLength",
            "passwordRequired",
            "passwordExpirationDays",
            "secretReferenceValueId",
            "isEncrypted",
            "preSharedKeyIsSet",
            "tokenExpiryDays",
            "key",
            "value",
            "keyValuePairs",
            "publicKey",
            "credentialType",
            "passwordRequiredType",
            "edgeBlockPasswordManager",
            "scriptContent",
        ] {
            assert!(!is_secret_key(k), "{k} is not a secret");
        }
    }

    #[test]
    fn settings_catalog_secrets_are_found_by_type_and_definition() {
        let mut v = json!({"settings": [
            {"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
                "settingDefinitionId": "vendor_msft_custom_servicekey",
                "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSecretSettingValue",
                                       "value": "c9b1e0f2-token", "valueState": "encryptedValueToken"}}},
            {"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
                "settingDefinitionId": "com.apple.wifi.managed_password",
                "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
                                       "value": "hunter2"}}},
            {"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
                "settingDefinitionId": "device_vendor_msft_policy_config_devicelock_minimumpasswordage",
                "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue",
                                       "value": 12}}},
            {"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": "device_vendor_msft_policy_config_browser_allowpasswordmanager",
                "choiceSettingValue": {"value": "device_vendor_msft_policy_config_browser_allowpasswordmanager_1", "children": []}}},
        ]});
        redact(&mut v);
        let s = |i: usize| &v["settings"][i]["settingInstance"];
        assert_eq!(s(0)["simpleSettingValue"]["value"], MASK);
        assert_eq!(s(0)["simpleSettingValue"]["valueState"], "encryptedValueToken");
        assert_eq!(s(1)["simpleSettingValue"]["value"], MASK);
        assert_eq!(s(2)["simpleSettingValue"]["value"], 12);
        assert_eq!(
            s(3)["choiceSettingValue"]["value"],
            "device_vendor_msft_policy_config_browser_allowpasswordmanager_1"
        );
        assert_eq!(
            s(1)["settingDefinitionId"],
            "com.apple.wifi.managed_password",
            "the definition stays visible"
        );
    }

    #[test]
    fn oma_uri_values_are_secret_only_when_intune_encrypts_them() {
        let mut v = json!({"@odata.type": "#microsoft.graph.windows10CustomConfiguration", "omaSettings": [
            {"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Proxy", "omaUri": "./Device/X",
             "isEncrypted": true, "secretReferenceValueId": "s1", "value": "********"},
            {"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Plain", "omaUri": "./Device/Y",
             "isEncrypted": false, "secretReferenceValueId": null, "value": "visible"},
            {"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "Telemetry", "omaUri": "./Device/Z",
             "isEncrypted": false, "value": 3},
        ]});
        redact(&mut v);
        assert_eq!(v["omaSettings"][0]["value"], MASK);
        assert_eq!(v["omaSettings"][0]["omaUri"], "./Device/X");
        assert_eq!(v["omaSettings"][1]["value"], "visible");
        assert_eq!(v["omaSettings"][2]["value"], 3);
    }

    #[test]
    fn apple_custom_payloads_are_masked_when_their_plist_holds_a_secret() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut v = json!([
            {"@odata.type": "#microsoft.graph.iosCustomConfiguration",
             "payload": b64("<plist><dict><key>SharedSecret</key><string>x</string></dict></plist>")},
            {"@odata.type": "#microsoft.graph.iosCustomConfiguration",
             "payload": b64("<plist><dict><key>AllowCamera</key><true/></dict></plist>")},
        ]);
        redact(&mut v);
        assert_eq!(v[0]["payload"], MASK);
        assert_ne!(v[1]["payload"], MASK);
    }

    #[test]
    fn credential_shaped_free_text_is_masked_but_scripts_and_ids_are_not() {
        assert!(looks_secret("-----BEGIN PRIVATE KEY-----\nMIIE..."));
        assert!(looks_secret(
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="
        ));
        assert!(!looks_secret("V3JpdGUtSG9zdCAiaGVsbG8iCg=="));
        assert!(!looks_secret("804339ad-1553-4478-a742-138fb5807418_1"));
        assert!(!looks_secret("0123456789abcdef0123456789abcdef01234567"));
    }

    /// A tiny deterministic generator: property tests without a dependency.
    pub(crate) struct Gen(u64);
    impl Gen {
        pub(crate) fn new(seed: u64) -> Self {
            Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    const SECRET_KEYS: &[&str] = &[
        "preSharedKey",
        "sharedSecret",
        "wifiPassword",
        "clientSecret",
        "privateKey",
    ];
    const PLAIN_KEYS: &[&str] = &[
        "passwordMinimumLength",
        "passwordRequired",
        "displayName",
        "ssid",
        "passwordExpirationDays",
        "connectAutomatically",
        "omaUri",
        "description",
    ];

    fn gen_doc(g: &mut Gen, depth: u32, planted: &mut Vec<String>) -> Value {
        let mut m = serde_json::Map::new();
        for _ in 0..=g.below(5) {
            let roll = g.below(10);
            if roll < 2 {
                let s = format!("S3cret-{}", g.below(1_000_000));
                planted.push(s.clone());
                m.insert(SECRET_KEYS[g.below(SECRET_KEYS.len() as u64) as usize].into(), json!(s));
            } else if roll < 3 && depth < 3 {
                m.insert(format!("nested{}", g.below(4)), gen_doc(g, depth + 1, planted));
            } else if roll < 4 {
                let s = format!("Tok-{}", g.below(1_000_000));
                planted.push(s.clone());
                m.insert(
                    format!("setting{}", g.below(4)),
                    json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSecretSettingValue",
                           "value": s, "valueState": "notEncrypted"}),
                );
            } else {
                let k = PLAIN_KEYS[g.below(PLAIN_KEYS.len() as u64) as usize];
                let v = match g.below(3) {
                    0 => json!(g.below(64)),
                    1 => json!(g.below(2) == 0),
                    _ => json!(format!("plain {}", g.below(100))),
                };
                m.insert(k.into(), v);
            }
        }
        Value::Object(m)
    }

    #[test]
    fn property_no_planted_secret_survives_and_no_plain_value_is_masked() {
        for seed in 0..500 {
            let mut g = Gen::new(seed);
            let mut planted = Vec::new();
            let doc = gen_doc(&mut g, 0, &mut planted);
            let mut red = doc.clone();
            redact(&mut red);
            let text = red.to_string();
            for s in &planted {
                assert!(!text.contains(s.as_str()), "seed {seed}: {s} leaked in {text}");
            }
            // Every masked pointer was a secret by meaning; every other leaf is untouched.
            let masked = secret_pointers(&doc);
            check_untouched(&doc, &red, "", &masked, seed);
        }
    }

    fn check_untouched(orig: &Value, red: &Value, ptr: &str, masked: &[String], seed: u64) {
        if masked.iter().any(|m| is_within(ptr, m)) {
            assert_eq!(red, &json!(MASK), "seed {seed}: {ptr}");
            return;
        }
        match (orig, red) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    check_untouched(v, &b[k], &format!("{ptr}/{}", escape(k)), masked, seed);
                }
            }
            (a, b) => assert_eq!(a, b, "seed {seed}: {ptr} changed"),
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        let mut v = json!({"preSharedKey": "abc", "x": [{"@odata.type": "#microsoft.graph.omaSettingString", "isEncrypted": true, "value": "v"}]});
        redact(&mut v);
        let once = v.clone();
        redact(&mut v);
        assert_eq!(v, once);
    }
}
