//! High-risk confirmation: the operator types the environment's display name. The button stays
//! disabled until it matches, and the server checks the same text again.

use yew::prelude::*;

use crate::api::ApiError;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{TextFieldProps, text_field};

#[derive(Properties, PartialEq)]
pub struct ConfirmProps {
    pub id: AttrValue,
    /// What happens, in an operator's words.
    pub title: AttrValue,
    pub children: Html,
    /// The environment's display name, which must be typed.
    pub expected: AttrValue,
    pub action_label: AttrValue,
    pub busy: bool,
    pub error: Option<ApiError>,
    /// Called with the typed text.
    pub on_confirm: Callback<String>,
    pub on_cancel: Callback<()>,
}

#[component]
pub fn ConfirmDialog(props: &ConfirmProps) -> Html {
    let typed = use_state(String::new);
    let matches = typed.trim() == props.expected.as_str();
    let onsubmit = {
        let typed = typed.clone();
        let cb = props.on_confirm.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            cb.emit((*typed).clone());
        })
    };
    let field_error = props.error.as_ref().and_then(|e| e.field("confirm"));
    html! {
        <form class="confirm" role="alertdialog" aria-labelledby={format!("{}-title", props.id)} {onsubmit}>
            <h3 id={format!("{}-title", props.id)}>{ &props.title }</h3>
            { props.children.clone() }
            { text_field(&yew::props!(TextFieldProps { id: format!("{}-confirm", props.id), label: format!("Type \u{201c}{}\u{201d} to confirm", props.expected), value: (*typed).clone(), onchange: { let t = typed.clone(); Callback::from(move |v| t.set(v)) }, error: field_error, autocomplete: "off" })) }
            { form_error(&yew::props!(FormErrorProps { error: props.error.clone() })) }
            <div class="actions">
                <button type="submit" class="button button--danger" disabled={!matches || props.busy}>{ &props.action_label }</button>
                <button type="button" class="button button--quiet" onclick={props.on_cancel.reform(|_: MouseEvent| ())}>{ "Cancel" }</button>
            </div>
        </form>
    }
}
