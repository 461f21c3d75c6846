//! The placeholder of a page that lives in the second bundle: asks `boot.js` to load that
//! bundle (once) and mount it here, and to destroy it when the page is left.

use wasm_bindgen::prelude::*;
use yew::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = window, js_name = atlasMoreMount)]
    fn more_mount(root: &web_sys::Element);
    #[wasm_bindgen(js_namespace = window, js_name = atlasMoreUnmount)]
    fn more_unmount();
}

#[component]
pub fn Lazy() -> Html {
    let root = use_node_ref();
    {
        let root = root.clone();
        use_effect_with((), move |()| {
            if let Some(el) = root.cast::<web_sys::Element>() {
                more_mount(&el);
            }
            more_unmount
        });
    }
    // Empty for the second bundle to fill; the stylesheet says "Loading…" meanwhile.
    html! { <div ref={root} class="lazy-page" data-testid="more-root"></div> }
}
