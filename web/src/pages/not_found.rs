//! One not-found page for unknown addresses and for records that are absent or not ours to see:
//! it says nothing about whether anything exists there.

use yew::prelude::*;

use crate::app::Route;
use crate::router::Link;

pub fn not_found() -> Html {
    html! {
        <section class="panel" aria-labelledby="not-found-title" data-testid="not-found">
            <h1 id="not-found-title">{ "Page not found" }</h1>
            <p>{ "There is nothing here, or it is not available to you." }</p>
            <Link to={Route::Workspaces} classes="button">{ "Go to your workspaces" }</Link>
        </section>
    }
}
