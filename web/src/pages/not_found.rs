//! Shown for any path the router does not know.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;

#[component]
pub fn NotFoundPage() -> Html {
    html! {
        <section class="panel" aria-labelledby="not-found-title">
            <h1 id="not-found-title">{ "Page not found" }</h1>
            <p>{ "There is nothing at this address." }</p>
            <Link<Route> to={Route::Home} classes="button">{ "Back to the start page" }</Link<Route>>
        </section>
    }
}
