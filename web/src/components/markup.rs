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

/// `<div class="fact"><dt>label</dt><dd>value</dd></div>`.
pub fn fact(label: &'static str, value: Html) -> Html {
    html! { <div class="fact"><dt>{ label }</dt><dd>{ value }</dd></div> }
}
