//! Loading and empty states, shared so every page says them the same way.

use yew::prelude::*;

use crate::api::ApiError;
use crate::components::error::{ErrorView, FormErrorProps, form_error};
use crate::hooks::{Load, Loaded, More};

/// Renders the data, or the loading or error state of a [`Loaded`].
pub fn view<T>(loaded: &Loaded<T>, action: &'static str, render: impl FnOnce(&T) -> Html) -> Html {
    match &loaded.state {
        Load::Ready(data) => render(data),
        state => not_ready(state.failed(), action, &loaded.reload),
    }
}

/// The loading or error state, built here once rather than at every [`view`] call site.
#[inline(never)]
fn not_ready(error: Option<&ApiError>, action: &'static str, retry: &Callback<()>) -> Html {
    match error {
        None => loading(),
        Some(error) => html! { <ErrorView error={error.clone()} {action} retry={retry.clone()} /> },
    }
}

pub fn loading() -> Html {
    html! { <p class="muted loading" role="status" aria-live="polite">{ "Loading\u{2026}" }</p> }
}

pub fn empty(children: Html) -> Html {
    html! { <div class="empty" role="status">{ children }</div> }
}

/// Under a paged list: "Load more" while there is a next page, and why the last one failed.
pub fn more_footer<T: Clone + 'static>(more: &More<T>) -> Html {
    html! {
        <>
            if more.has_next() {
                <button type="button" class="button button--quiet" onclick={more.load.clone()}>{ "Load more" }</button>
            }
            { form_error(&yew::props!(FormErrorProps { error: more.error() })) }
        </>
    }
}
