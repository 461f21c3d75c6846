//! The app shell and its routes.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::pages::home::HomePage;
use crate::pages::not_found::NotFoundPage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[not_found]
    #[at("/404")]
    NotFound,
}

fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <HomePage /> },
        Route::NotFound => html! { <NotFoundPage /> },
    }
}

#[component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <a class="skip-link" href="#main">{ "Skip to content" }</a>
            <header class="topbar">
                <Link<Route> to={Route::Home} classes="brand">{ "TenantAtlas" }</Link<Route>>
            </header>
            // Focusable so the skip link moves keyboard focus, not just the scroll position.
            <main id="main" class="content" tabindex="-1">
                <Switch<Route> render={switch} />
            </main>
        </BrowserRouter>
    }
}
