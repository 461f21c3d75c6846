//! The root of a lazily loaded bundle (`atlas-web-more`, `atlas-web-promote`; ADR 0027): the
//! signed-in user (the shell's `/me`, handed over at mount; fetched only without it), then its own router rendering the page
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
    /// The shell's `/me` answer: one request per page load, not one per bundle (issue 19 item 7).
    pub me: Option<Rc<Me>>,
}

impl PartialEq for MoreProps {
    /// A bundle's page function is fixed for the life of its app.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[component]
pub fn MoreApp(props: &MoreProps) -> Html {
    let given = props.me.clone();
    let fetched = use_load(given.is_none(), |fetch| async move {
        if fetch {
            api::get::<Me>(&paths::me()).await.map(Some)
        } else {
            Ok(None)
        }
    });
    let render = props.render;
    let app = move |me: Rc<Me>| {
        html! {
            <ContextProvider<Session> context={Session { me }}>
                <Router {render} />
            </ContextProvider<Session>>
        }
    };
    match given {
        Some(me) => app(me),
        None => load::view(&fetched, "load your session", |me: &Option<Me>| {
            me.clone().map(|me| app(Rc::new(me))).unwrap_or_default()
        }),
    }
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
/// lazy bundle's exported `mount` does. `me` is the shell's `/me` as JSON.
pub fn mount(root: web_sys::Element, render: fn(Route) -> Html, me: Option<String>) {
    unmount();
    move_past_the_shells_subtree_id();
    root.set_inner_html("");
    let me = me.and_then(|j| serde_json::from_str::<Me>(&j).ok()).map(Rc::new);
    let app = yew::Renderer::<MoreApp>::with_root_and_props(root, MoreProps { render, me }).render();
    APP.with(|a| *a.borrow_mut() = Some(app));
}

/// Destroys what [`mount`] rendered (the operator left the bundle's pages).
pub fn unmount() {
    if let Some(app) = APP.with(|a| a.borrow_mut().take()) {
        app.destroy();
    }
}
