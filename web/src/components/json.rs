//! A JSON document: its top-level fields as a readable table (field, value in words), the
//! pretty-printed JSON behind a "Show raw JSON" toggle. Payloads arrive already redacted by the API.

use serde_json::Value;
use yew::prelude::*;

pub fn json_view(value: &Value, label: &'static str) -> Html {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let raw = html! {
        <pre class="json" tabindex="0" aria-label={label} data-testid="json">{ text }</pre>
    };
    let Value::Object(fields) = value else {
        return raw;
    };
    html! {
        <>
            <div class="table-wrap"><table class="table" aria-label={label} data-testid="json-fields">
                <thead><tr><th scope="col">{ "Field" }</th><th scope="col">{ "Value" }</th></tr></thead>
                <tbody>{ for fields.iter().map(|(k, v)| html! {
                    <tr><th scope="row" title={k.clone()}>{ field_name(k) }</th><td>{ value_text(v) }</td></tr>
                }) }</tbody>
            </table></div>
            <details data-testid="raw-json"><summary>{ "Show raw JSON" }</summary>{ raw }</details>
        </>
    }
}

/// `passwordMinimumLength` → `Password minimum length`; `@odata.type` → `Odata type`.
pub fn field_name(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        match c {
            '@' | '_' | '.' | '-' if out.is_empty() || out.ends_with(' ') => {}
            '@' | '_' | '.' | '-' => out.push(' '),
            c if out.is_empty() => out.push(c.to_ascii_uppercase()),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// A value in words: text as it is, yes / no, a dash for none, nested values as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "\u{2014}".into(),
        Value::Bool(b) => (if *b { "Yes" } else { "No" }).into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "None".into(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_values_read_as_words() {
        assert_eq!(field_name("passwordMinimumLength"), "Password minimum length");
        assert_eq!(field_name("@odata.type"), "Odata type");
        assert_eq!(field_name("id"), "Id");
        assert_eq!(value_text(&serde_json::json!(true)), "Yes");
        assert_eq!(value_text(&serde_json::json!(null)), "\u{2014}");
        assert_eq!(value_text(&serde_json::json!([])), "None");
        assert_eq!(value_text(&serde_json::json!("x")), "x");
        assert_eq!(value_text(&serde_json::json!({"a": 1})), "{\"a\":1}");
    }
}
