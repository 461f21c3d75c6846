//! A JSON document, pretty-printed. Payloads arrive already redacted by the API.

use yew::prelude::*;

pub fn json_view(value: &serde_json::Value, label: &'static str) -> Html {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    html! {
        <pre class="json" tabindex="0" aria-label={label} data-testid="json">{ text }</pre>
    }
}
