//! The root of a lazily loaded bundle (`atlas-web-more`, `atlas-web-promote`; ADR 0027): the
//! signed-in user (its own `/me`, as the shell reads it), then its own router rendering the page
//! of the current route with the bundle's page function. Navigation in any bundle reaches the
//! others through the `atlas:navigate` window event (`router::Navigator`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use atlas_api_types::Me;
use yew::prelude::*;

use crate::api::{self, paths};
use crate::app::Route;
use crate::components::load;
use crate::hooks::use_load;
use crate::router::Router;
use crate::session::Session;

#[derive(Properties)]
pub struct MoreProps {
    /// The bundle's page function (`pages::more_page`, `pages::promote_page`).
    pub render: fn(Route) -> Html,
}

impl PartialEq for MoreProps {
    /// A bundle's page function is fixed for the life of its app.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[component]
pub fn MoreApp(props: &MoreProps) -> Html {
    let me = use_load((), |()| async { api::get::<Me>(&paths::me()).await });
    load::view(&me, "load your session", |me: &Me| {
        let session = Session {
            me: Rc::new(me.clone()),
        };
        html! {
            <ContextProvider<Session> context={session}>
                <Router render={props.render} />
            </ContextProvider<Session>>
        }
    })
}

thread_local! {
    static APP: RefCell<Option<yew::AppHandle<MoreApp>>> = const { RefCell::new(None) };
    static IDS_MOVED: Cell<bool> = const { Cell::new(false) };
}

#[component]
fn Nothing() -> Html {
    Html::default()
}

/// Yew tells its apps' DOM subtrees apart by an id counted per wasm module, from 1, and the
/// shell's app (the other module) holds 1: a first app of this module with id 1 would make the
/// shell handle this app's events as its own (a form's submit then goes unhandled). One
/// throwaway app moves this module's ids past it.
fn move_past_the_shells_subtree_id() {
    if IDS_MOVED.with(|m| m.replace(true)) {
        return;
    }
    if let Some(scratch) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("div").ok())
    {
        yew::Renderer::<Nothing>::with_root(scratch).render().destroy();
    }
}

/// Renders the current route's page, by `render`, into `root` (the shell's placeholder): what a
/// lazy bundle's exported `mount` does.
pub fn mount(root: web_sys::Element, render: fn(Route) -> Html) {
    unmount();
    move_past_the_shells_subtree_id();
    root.set_inner_html("");
    let app = yew::Renderer::<MoreApp>::with_root_and_props(root, MoreProps { render }).render();
    APP.with(|a| *a.borrow_mut() = Some(app));
}

/// Destroys what [`mount`] rendered (the operator left the bundle's pages).
pub fn unmount() {
    if let Some(app) = APP.with(|a| a.borrow_mut().take()) {
        app.destroy();
    }
}
