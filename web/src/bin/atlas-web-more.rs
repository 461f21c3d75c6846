//! The second bundle: the pages `pages::more_page` maps, mounted by the main bundle into its
//! shell (`components::lazy`) and destroyed when the operator leaves them.

use wasm_bindgen::prelude::*;

/// Renders the current route's page into `root` (the main bundle's placeholder); `me` is the
/// shell's `/me` answer as JSON, so the page does not ask for it again.
#[wasm_bindgen]
pub fn mount(root: web_sys::Element, me: Option<String>) {
    atlas_web::more::mount(root, atlas_web::pages::more_page, me);
}

/// Destroys what [`mount`] rendered (the operator left its pages).
#[wasm_bindgen]
pub fn unmount() {
    atlas_web::more::unmount();
}

fn main() {}
