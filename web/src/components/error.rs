//! How any failed API call is shown: 401 sends the operator to sign in, 403 explains the missing
//! permission, 404 is the same not-found page as an unknown address (nothing leaks), problem+json
//! shows its title, detail and request id.

use yew::prelude::*;

use crate::api::{self, ApiError};
use crate::app::Route;
use crate::pages::not_found::not_found;
use crate::router::use_navigator;

#[derive(Properties, PartialEq)]
pub struct ErrorViewProps {
    pub error: ApiError,
    /// What was being done, e.g. "load the inventory".
    #[prop_or_default]
    pub action: AttrValue,
    #[prop_or_default]
    pub retry: Option<Callback<()>>,
}

#[component]
pub fn ErrorView(props: &ErrorViewProps) -> Html {
    let navigator = use_navigator();
    let unauthorized = props.error == ApiError::Unauthorized;
    use_effect_with(unauthorized, move |unauthorized| {
        if *unauthorized {
            api::set_token(None);
            navigator.push_with_query(&Route::SignIn, &[("return", crate::app::current_path())]);
        }
    });
    match &props.error {
        ApiError::Unauthorized => {
            html! { <p role="status">{ "Your session has ended; taking you to sign in\u{2026}" }</p> }
        }
        ApiError::NotFound => html! { { not_found() } },
        ApiError::Forbidden => html! {
            <div class="alert" role="alert" data-testid="forbidden">
                <p class="alert__title">{ "You do not have permission for this" }</p>
                <p>{ "Your role in this workspace does not include it. Ask an owner or manager if you need it." }</p>
                { report_access_problem() }
            </div>
        },
        error => {
            let request_id = match error {
                ApiError::Problem(p) => p.request_id.clone(),
                _ => None,
            };
            let title = if props.action.is_empty() {
                "Something went wrong".to_owned()
            } else {
                format!("Could not {}", props.action)
            };
            html! {
                <div class="alert" role="alert">
                    <p class="alert__title">{ title }</p>
                    <p>{ error.to_string() }</p>
                    if let ApiError::Problem(p) = error {
                        if !p.errors.is_empty() {
                            <ul>{ for p.errors.iter().map(|e| html! { <li><code>{ &e.field }</code>{ ": " }{ &e.message }</li> }) }</ul>
                        }
                    }
                    if let Some(id) = request_id {
                        <p class="muted">{ "Request id: " }<code>{ id }</code></p>
                    }
                    if let Some(retry) = &props.retry {
                        <button type="button" class="button" onclick={retry.reform(|_: MouseEvent| ())}>{ "Try again" }</button>
                    }
                </div>
            }
        }
    }
}

/// "Report a problem" on a refusal, naming the refused page (spec 025).
fn report_access_problem() -> Html {
    let path = crate::app::current_path();
    let route = Route::recognize(path.split('?').next().unwrap_or_default());
    match route.workspace() {
        Some(ws) => html! {
            <crate::router::Link to={Route::Support { ws: ws.to_owned() }} classes="button button--quiet"
                query={crate::router::pairs(&[("source", "access_denied"), ("path", path.as_str())])}>{ "Report a problem" }</crate::router::Link>
        },
        None => html! {},
    }
}

/// A failed action's message next to a form: field errors go to their fields, so this shows only
/// what no field explains.
#[derive(Properties, PartialEq)]
pub struct FormErrorProps {
    pub error: Option<ApiError>,
}

pub fn form_error(props: &FormErrorProps) -> Html {
    match &props.error {
        None => html! {},
        Some(ApiError::Problem(p)) if !p.errors.is_empty() => html! {
            <p class="form-error" role="alert">{ "Check the highlighted fields." }</p>
        },
        Some(e @ (ApiError::Unauthorized | ApiError::NotFound)) => html! { <ErrorView error={e.clone()} /> },
        Some(e) => html! { <p class="form-error" role="alert">{ e.to_string() }</p> },
    }
}
