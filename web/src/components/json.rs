//! A JSON document, pretty-printed. Payloads arrive already redacted by the API.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct JsonViewProps {
    pub value: serde_json::Value,
    pub label: AttrValue,
}

#[component]
pub fn JsonView(props: &JsonViewProps) -> Html {
    let text = serde_json::to_string_pretty(&props.value).unwrap_or_default();
    html! {
        <pre class="json" tabindex="0" aria-label={props.label.clone()} data-testid="json">{ text }</pre>
    }
}
