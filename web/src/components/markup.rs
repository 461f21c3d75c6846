//! Markup that repeats on many pages, built by one function each: a table's column header and a
//! labelled fact. Each `html!` site compiles to its own construction code, so a shape repeated
//! dozens of times costs the bundle far more inline than through one helper.

use yew::prelude::*;

/// `<th scope="col">label</th>`.
pub fn th(label: &'static str) -> Html {
    html! { <th scope="col">{ label }</th> }
}

/// `<div class="fact"><dt>label</dt><dd>value</dd></div>`.
pub fn fact(label: &'static str, value: Html) -> Html {
    html! { <div class="fact"><dt>{ label }</dt><dd>{ value }</dd></div> }
}
