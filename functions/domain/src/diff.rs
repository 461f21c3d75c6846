//! Field-level JSON diff: the paths where two payloads differ, with both values.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// A JSON pointer (`/settings/3/value`).
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Every leaf-level difference between `a` and `b`; arrays compare position by position.
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    out
}

fn escape(k: &str) -> String {
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
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
