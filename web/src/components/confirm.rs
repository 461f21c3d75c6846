//! High-risk confirmation: the operator types the environment's display name. The button stays
//! disabled until it matches, and the server checks the same text again.
//!
//! Opened by a button, it behaves as a modal dialog for the keyboard (issue 19 item 6): focus moves
//! into it, Tab and Shift-Tab stay inside, Escape cancels, and focus goes back to the opener.

use wasm_bindgen::JsCast as _;
use web_sys::{Element, HtmlElement};
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
    /// False for a confirmation that is a step of its page rather than opened by a button (the
    /// restore's): it neither takes focus nor holds it, and Escape does not cancel.
    #[prop_or(true)]
    pub modal: bool,
    /// The button that opened the dialog, as a CSS selector: it is usually replaced by the dialog
    /// and rendered anew when it closes, so focus returns to it by name.
    #[prop_or_default]
    pub opener: Option<AttrValue>,
}

/// What can take focus inside the dialog, in tab order.
const FOCUSABLE: &str =
    "input:not([disabled]), select:not([disabled]), textarea:not([disabled]), button:not([disabled]), a[href]";

fn focusable(root: &Element) -> Vec<HtmlElement> {
    let Ok(list) = root.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
        .collect()
}

fn active_element() -> Option<Element> {
    web_sys::window()?.document()?.active_element()
}

#[component]
pub fn ConfirmDialog(props: &ConfirmProps) -> Html {
    let typed = use_state(String::new);
    let form = use_node_ref();
    // What had focus when the dialog first rendered, for an opener that stays on the page.
    let focused_before = use_mut_ref(active_element);
    {
        let form = form.clone();
        let opener = props.opener.clone();
        use_effect_with(props.modal, move |modal| {
            let modal = *modal;
            if modal && let Some(first) = form.cast::<Element>().and_then(|f| focusable(&f).into_iter().next()) {
                let _ = first.focus();
            }
            move || {
                if !modal {
                    return;
                }
                // After the render that closed the dialog, when the page's opener is back.
                gloo_timers::callback::Timeout::new(0, move || {
                    let document = web_sys::window().and_then(|w| w.document());
                    let by_name = opener.and_then(|o| document?.query_selector(&o).ok().flatten());
                    let target = by_name.or_else(|| focused_before.take().filter(|e| e.is_connected()));
                    if let Some(el) = target.and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
                        let _ = el.focus();
                    }
                })
                .forget();
            }
        });
    }
    let matches = typed.trim() == props.expected.as_str();
    let onsubmit = {
        let typed = typed.clone();
        let cb = props.on_confirm.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            cb.emit((*typed).clone());
        })
    };
    let onkeydown = {
        let (form, cancel, modal) = (form.clone(), props.on_cancel.clone(), props.modal);
        Callback::from(move |e: KeyboardEvent| {
            if !modal {
                return;
            }
            match e.key().as_str() {
                "Escape" => {
                    e.prevent_default();
                    cancel.emit(());
                }
                "Tab" => {
                    let Some(root) = form.cast::<Element>() else { return };
                    let items = focusable(&root);
                    let (Some(first), Some(last)) = (items.first(), items.last()) else {
                        return;
                    };
                    let active = active_element();
                    let at = |el: &HtmlElement| active.as_ref() == Some(el.unchecked_ref::<Element>());
                    // Wrap around at either end; inside, the browser moves focus as usual.
                    if e.shift_key() && at(first) {
                        e.prevent_default();
                        let _ = last.focus();
                    } else if !e.shift_key() && at(last) {
                        e.prevent_default();
                        let _ = first.focus();
                    }
                }
                _ => {}
            }
        })
    };
    let field_error = props.error.as_ref().and_then(|e| e.field("confirm"));
    html! {
        <form ref={form} class="confirm" role="alertdialog" aria-modal={props.modal.then_some("true")}
            aria-labelledby={format!("{}-title", props.id)} {onsubmit} {onkeydown}>
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
