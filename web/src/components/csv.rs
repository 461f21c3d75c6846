//! Downloads an export (CSV, or JSON) through the API client (it needs the bearer token, so a plain link
//! would not do): fetched, then handed to the browser as a file.

use wasm_bindgen::JsCast as _;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError};
use crate::components::error::{FormErrorProps, form_error};

/// Hands `text` to the browser as a file download.
pub fn save(text: &str, filename: &str, mime: &str) -> Option<()> {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let doc = web_sys::window()?.document()?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a").ok()?.dyn_into().ok()?;
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    // Revoked a little later: the download reads the blob after `click` returns.
    gloo_timers::callback::Timeout::new(10_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Some(())
}

#[derive(Properties, PartialEq)]
pub struct CsvButtonProps {
    pub path: AttrValue,
    pub filename: AttrValue,
    #[prop_or(AttrValue::Static("text/csv"))]
    pub mime: AttrValue,
    #[prop_or(AttrValue::Static("Download CSV"))]
    pub label: AttrValue,
}

#[component]
pub fn CsvButton(props: &CsvButtonProps) -> Html {
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let onclick = {
        let (busy, error, path, filename, mime) = (
            busy.clone(),
            error.clone(),
            props.path.clone(),
            props.filename.clone(),
            props.mime.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let (busy, error, path, filename, mime) = (
                busy.clone(),
                error.clone(),
                path.clone(),
                filename.clone(),
                mime.clone(),
            );
            busy.set(true);
            spawn_local(async move {
                match api::get_text(&path).await {
                    Ok(text) => {
                        save(&text, &filename, &mime);
                        error.set(None);
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    html! {
        <>
            <button type="button" class="button button--quiet" {onclick} disabled={*busy}>
                { if *busy { AttrValue::Static("Preparing\u{2026}") } else { props.label.clone() } }
            </button>
            { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
        </>
    }
}
