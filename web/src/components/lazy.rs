//! The placeholder of a page that lives in a lazily loaded bundle: asks `boot.js` to load that
//! bundle (once) and mount it here, and to destroy it when the page is left.

use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::session::Session;

/// The bundle of members, baselines, drift, restores, alerts, evidence.
pub const MORE: &str = "atlas-web-more";
/// The bundle of compare, the mapping table and promotions (spec 022).
pub const PROMOTE: &str = "atlas-web-promote";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = window, js_name = atlasMoreMount)]
    fn more_mount(root: &web_sys::Element, bundle: &str, me: &str);
    #[wasm_bindgen(js_namespace = window, js_name = atlasMoreUnmount)]
    fn more_unmount(bundle: &str);
}

#[derive(Properties, PartialEq)]
pub struct LazyProps {
    /// [`MORE`] or [`PROMOTE`].
    pub bundle: &'static str,
}

#[component]
pub fn Lazy(props: &LazyProps) -> Html {
    let root = use_node_ref();
    // The bundle gets the signed-in user from here rather than asking `/me` again.
    let me = use_context::<Session>().and_then(|s| serde_json::to_string(&*s.me).ok());
    {
        let root = root.clone();
        use_effect_with(props.bundle, move |bundle| {
            let bundle: &'static str = bundle;
            if let Some(el) = root.cast::<web_sys::Element>() {
                more_mount(&el, bundle, me.as_deref().unwrap_or_default());
            }
            move || more_unmount(bundle)
        });
    }
    // Empty for the bundle to fill; the stylesheet says "Loading…" meanwhile. Keyed by bundle: a
    // page of another bundle gets a fresh element, so listeners the previous bundle's app left on
    // its element (Yew never removes them) cannot take the new app's events.
    html! { <div key={props.bundle} ref={root} class="lazy-page" data-testid="more-root" data-bundle={props.bundle}></div> }
}
