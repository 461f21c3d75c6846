//! Labelled form controls that show their field's error (from problem+json) next to them.

use wasm_bindgen::JsCast as _;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The value of the input or select that fired `e`.
pub fn value_of(e: &Event) -> String {
    let Some(target) = e.target() else { return String::new() };
    if let Some(input) = target.dyn_ref::<HtmlInputElement>() {
        return input.value();
    }
    target
        .dyn_ref::<HtmlSelectElement>()
        .map(HtmlSelectElement::value)
        .unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct TextFieldProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    pub onchange: Callback<String>,
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or(AttrValue::Static("text"))]
    pub kind: AttrValue,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    #[prop_or_default]
    pub required: bool,
    #[prop_or_default]
    pub autocomplete: Option<AttrValue>,
    /// Values to pick from as you type (a `<datalist>`); any other value may still be typed.
    #[prop_or_default]
    pub suggestions: Vec<String>,
}

pub fn text_field(props: &TextFieldProps) -> Html {
    let oninput = {
        let cb = props.onchange.clone();
        Callback::from(move |e: InputEvent| cb.emit(value_of(&e)))
    };
    // Also on `change`: a value set without typing (a browser's autofill or clear, WebDriver's
    // clear) fires no `input`, and the next render would put the stale value back.
    let onchange = {
        let cb = props.onchange.clone();
        Callback::from(move |e: Event| cb.emit(value_of(&e)))
    };
    let hint_id = format!("{}-hint", props.id);
    let error_id = format!("{}-error", props.id);
    let described: Vec<&str> = [
        props.hint.as_ref().map(|_| hint_id.as_str()),
        props.error.as_ref().map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    html! {
        <div class={classes!("field", props.error.as_ref().map(|_| "field--invalid"))}>
            <label for={props.id.clone()}>{ &props.label }</label>
            if let Some(hint) = &props.hint {
                <span class="field__hint" id={hint_id.clone()}>{ hint }</span>
            }
            <input id={props.id.clone()} name={props.id.clone()} type={props.kind.clone()}
                value={props.value.clone()} {oninput} {onchange} required={props.required}
                autocomplete={props.autocomplete.clone()}
                list={(!props.suggestions.is_empty()).then(|| format!("{}-list", props.id))}
                aria-invalid={props.error.is_some().to_string()}
                aria-describedby={(!described.is_empty()).then(|| described.join(" "))} />
            if !props.suggestions.is_empty() {
                <datalist id={format!("{}-list", props.id)}>{ for props.suggestions.iter().map(|v| html! { <option value={v.clone()} /> }) }</datalist>
            }
            if let Some(error) = &props.error {
                <span class="field__error" id={error_id}>{ error }</span>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct SelectFieldProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    /// (value, label) pairs.
    pub options: Vec<(String, String)>,
    pub onchange: Callback<String>,
    #[prop_or_default]
    pub error: Option<String>,
}

pub fn select_field(props: &SelectFieldProps) -> Html {
    let cb = props.onchange.clone();
    let onchange = Callback::from(move |e: Event| cb.emit(value_of(&e)));
    let error_id = format!("{}-error", props.id);
    html! {
        <div class={classes!("field", props.error.as_ref().map(|_| "field--invalid"))}>
            <label for={props.id.clone()}>{ &props.label }</label>
            <select id={props.id.clone()} name={props.id.clone()} {onchange}
                aria-invalid={props.error.is_some().to_string()}
                aria-describedby={props.error.as_ref().map(|_| error_id.clone())}>
                { for props.options.iter().map(|(v, l)| html! {
                    <option value={v.clone()} selected={*v == *props.value}>{ l }</option>
                }) }
            </select>
            if let Some(error) = &props.error {
                <span class="field__error" id={error_id}>{ error }</span>
            }
        </div>
    }
}

/// Whether the checkbox or radio that fired `e` is checked.
pub fn checked(e: &Event) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        .is_some_and(|i| i.checked())
}
