//! Field-level JSON diff: the paths where two payloads differ, with both values.
//! Differences are found on the real values; [`diff_redacted`] masks secrets afterwards, so a
//! changed secret is still reported as a change (with both values masked).

use serde_json::Value;

use crate::redact;

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// A JSON pointer (`/settings/3/value`).
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Some value of this change is masked because it is a secret; the change itself is real.
    pub secret: bool,
}

/// Every leaf-level difference between `a` and `b`; arrays compare position by position.
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    out
}

/// [`diff`] of the real values, then masked: secrets in either document are shown as
/// [`redact::MASK`], and a changed secret stays in the list, flagged `secret`.
pub fn diff_redacted(a: &Value, b: &Value) -> Vec<Change> {
    mask_changes(a, b, diff(a, b))
}

/// Masks `changes` (found between `a` and `b`, paths relative to them) by the secrets of both
/// documents: a change at or inside a secret has both values masked; a change that adds or
/// removes a subtree has the secrets inside that subtree masked.
pub fn mask_changes(a: &Value, b: &Value, changes: Vec<Change>) -> Vec<Change> {
    let sa = redact::secret_pointers(a);
    let sb = redact::secret_pointers(b);
    changes
        .into_iter()
        .map(|mut c| {
            let base = if c.path == "/" { "" } else { c.path.as_str() };
            if sa.iter().chain(&sb).any(|s| redact::is_within(base, s)) {
                let mask = || Value::String(redact::MASK.into());
                c.before = c.before.map(|_| mask());
                c.after = c.after.map(|_| mask());
                c.secret = true;
                return c;
            }
            let inner = |secrets: &[String]| -> Vec<String> {
                secrets
                    .iter()
                    .filter(|s| s.len() > base.len() && redact::is_within(s, base))
                    .map(|s| s[base.len()..].to_owned())
                    .collect()
            };
            for (side, secrets) in [(&mut c.before, &sa), (&mut c.after, &sb)] {
                let inside = inner(secrets);
                if let Some(v) = side
                    && !inside.is_empty()
                {
                    redact::mask_at(v, &inside);
                    c.secret = true;
                }
            }
            c
        })
        .collect()
}

pub(crate) fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&format!("{path}/{}", escape(k)), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk(&format!("{path}/{i}"), x.get(i), y.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Change {
            path: if path.is_empty() { "/".into() } else { path.into() },
            before: a.cloned(),
            after: b.cloned(),
            secret: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::MASK;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_leaves() {
        let a = json!({"name": "A", "settings": [{"v": 1}, {"v": 2}], "gone": true, "a/b": 1});
        let b = json!({"name": "B", "settings": [{"v": 1}, {"v": 3}, {"v": 4}], "new": "x", "a/b": 1});
        let d = diff(&a, &b);
        let paths: Vec<&str> = d.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/gone", "/name", "/new", "/settings/1/v", "/settings/2"]);
        assert_eq!(d[1].before, Some(json!("A")));
        assert_eq!(d[2].before, None);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn a_changed_secret_is_a_masked_change_and_an_unchanged_one_is_no_change() {
        let a = json!({"@odata.type": "#microsoft.graph.windowsWifiConfiguration", "ssid": "CORP",
                       "preSharedKey": "old-psk", "passwordMinimumLength": 8, "sharedSecret": "same"});
        let b = json!({"@odata.type": "#microsoft.graph.windowsWifiConfiguration", "ssid": "CORP",
                       "preSharedKey": "new-psk", "passwordMinimumLength": 12, "sharedSecret": "same"});
        let d = diff_redacted(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].path, "/passwordMinimumLength");
        assert_eq!(
            (d[0].before.clone(), d[0].after.clone()),
            (Some(json!(8)), Some(json!(12)))
        );
        assert!(!d[0].secret);
        assert_eq!(d[1].path, "/preSharedKey");
        assert_eq!(
            (d[1].before.clone(), d[1].after.clone()),
            (Some(json!(MASK)), Some(json!(MASK)))
        );
        assert!(d[1].secret);
        assert!(!format!("{d:?}").contains("psk\""));
    }

    #[test]
    fn a_secret_setting_value_that_changed_is_reported_masked() {
        let setting = |v: &str| {
            json!({"settings": [{"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
                "settingDefinitionId": "com.apple.wifi.managed_password",
                "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSecretSettingValue",
                                       "value": v, "valueState": "encryptedValueToken"}}}]})
        };
        let d = diff_redacted(&setting("tok-a"), &setting("tok-b"));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "/settings/0/settingInstance/simpleSettingValue/value");
        assert!(d[0].secret);
        assert_eq!(d[0].after, Some(json!(MASK)));
        assert!(diff_redacted(&setting("tok-a"), &setting("tok-a")).is_empty());
    }

    #[test]
    fn an_added_subtree_has_its_secrets_masked_inside() {
        let a = json!({"omaSettings": []});
        let b = json!({"omaSettings": [{"@odata.type": "#microsoft.graph.omaSettingString", "omaUri": "./X",
                                        "isEncrypted": true, "value": "plain-secret"}]});
        let d = diff_redacted(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "/omaSettings/0");
        assert!(d[0].secret);
        let after = d[0].after.clone().unwrap();
        assert_eq!(after["value"], MASK);
        assert_eq!(after["omaUri"], "./X");
    }

    #[test]
    fn a_secret_in_only_one_document_still_masks_both_sides() {
        // The value became encrypted: whatever it was before is masked too.
        let a = json!({"s": {"@odata.type": "#microsoft.graph.omaSettingString", "isEncrypted": false, "value": "v1"}});
        let b = json!({"s": {"@odata.type": "#microsoft.graph.omaSettingString", "isEncrypted": true, "value": "v2"}});
        let d = diff_redacted(&a, &b);
        let v = d.iter().find(|c| c.path == "/s/value").expect("value change reported");
        assert_eq!(
            (v.before.clone(), v.after.clone()),
            (Some(json!(MASK)), Some(json!(MASK)))
        );
    }

    #[test]
    fn property_redaction_never_drops_or_adds_a_change() {
        let keys = [
            "preSharedKey",
            "passwordMinimumLength",
            "ssid",
            "clientSecret",
            "passwordRequired",
            "note",
        ];
        for seed in 0..400u64 {
            let mut g = crate::redact::tests::Gen::new(seed);
            let mut doc = || {
                let mut m = serde_json::Map::new();
                for k in keys {
                    match g.below(4) {
                        0 => {}
                        1 => {
                            m.insert(k.into(), json!(g.below(3)));
                        }
                        2 => {
                            m.insert(k.into(), json!(format!("v{}", g.below(3))));
                        }
                        _ => {
                            m.insert(k.into(), json!(g.below(2) == 0));
                        }
                    }
                }
                Value::Object(m)
            };
            let (a, b) = (doc(), doc());
            let real = diff(&a, &b);
            let shown = diff_redacted(&a, &b);
            let paths = |d: &[Change]| d.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
            assert_eq!(paths(&real), paths(&shown), "seed {seed}");
            for (r, s) in real.iter().zip(&shown) {
                if !s.secret {
                    assert_eq!(r, s, "seed {seed}: a non-secret change is shown as it is");
                } else {
                    assert_eq!(r.before.is_some(), s.before.is_some());
                    assert_eq!(r.after.is_some(), s.after.is_some());
                }
                // Numbers and booleans of non-secret settings are never masked.
                let plain = !crate::redact::is_secret_key(r.path.trim_start_matches('/'));
                for (rv, sv) in [(&r.before, &s.before), (&r.after, &s.after)] {
                    if let Some(v @ (Value::Number(_) | Value::Bool(_))) = rv
                        && plain
                    {
                        assert_eq!(Some(v), sv.as_ref(), "seed {seed}: {}", r.path);
                    }
                }
            }
        }
    }
}
