//! The second bundle: the pages `pages::more_page` maps, mounted by the main bundle into its
//! shell (`components::lazy`) and destroyed when the operator leaves them.

use std::cell::RefCell;

use atlas_web::more::MoreApp;
use wasm_bindgen::prelude::*;

thread_local! {
    static APP: RefCell<Option<yew::AppHandle<MoreApp>>> = const { RefCell::new(None) };
    static IDS_MOVED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[yew::component]
fn Nothing() -> yew::Html {
    yew::Html::default()
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

/// Renders the current route's page into `root` (the main bundle's placeholder).
#[wasm_bindgen]
pub fn mount(root: web_sys::Element) {
    unmount();
    move_past_the_shells_subtree_id();
    root.set_inner_html("");
    let app = yew::Renderer::<MoreApp>::with_root(root).render();
    APP.with(|a| *a.borrow_mut() = Some(app));
}

/// Destroys what [`mount`] rendered (the operator left its pages).
#[wasm_bindgen]
pub fn unmount() {
    if let Some(app) = APP.with(|a| a.borrow_mut().take()) {
        app.destroy();
    }
}

fn main() {}
