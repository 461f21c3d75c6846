//! The second bundle's root: the signed-in user (its own `/me`, as the shell reads it), then
//! its own router rendering the page of the current route. Navigation in either bundle reaches
//! the other through the `atlas:navigate` window event (`router::Navigator`).

use std::rc::Rc;

use atlas_api_types::Me;
use yew::prelude::*;

use crate::api::{self, paths};
use crate::components::load;
use crate::hooks::use_load;
use crate::router::Router;
use crate::session::Session;

#[component]
pub fn MoreApp() -> Html {
    let me = use_load((), |()| async { api::get::<Me>(&paths::me()).await });
    load::view(&me, "load your session", |me: &Me| {
        let session = Session {
            me: Rc::new(me.clone()),
        };
        html! {
            <ContextProvider<Session> context={session}>
                <Router render={crate::pages::more_page as fn(crate::app::Route) -> Html} />
            </ContextProvider<Session>>
        }
    })
}
