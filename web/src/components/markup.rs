//! Markup that repeats on many pages, built by one function each: a table's column header and a
//! labelled fact. Each `html!` site compiles to its own construction code, so a shape repeated
//! dozens of times costs the bundle far more inline than through one helper.

use yew::prelude::*;

/// `<th scope="col">label</th>`.
pub fn th(label: &'static str) -> Html {
    html! { <th scope="col">{ label }</th> }
}

/// The header of a row-actions column, which the stylesheet keeps in view on a phone.
pub fn th_actions() -> Html {
    html! { <th scope="col" class="row-actions">{ "Actions" }</th> }
}

/// A control the operator may not use, in place of it: shown disabled, the reason in its
/// `title` and for screen readers (issue 19 item 4). Never a link: following it would only
/// answer 403.
pub fn unavailable(label: &'static str, reason: String) -> Html {
    html! {
        <span class="button button--quiet" role="link" aria-disabled="true" data-testid="unavailable"
            title={reason.clone()} aria-label={format!("{label}: {reason}")}>{ label }</span>
    }
}

/// A sentence saying why an action is missing from the page (issue 19 item 4).
pub fn why_not(reason: String) -> Html {
    html! { <p class="muted" data-testid="why-not">{ reason }</p> }
}

/// `<div class="fact"><dt>label</dt><dd>value</dd></div>`.
pub fn fact(label: &'static str, value: Html) -> Html {
    html! { <div class="fact"><dt>{ label }</dt><dd>{ value }</dd></div> }
}
