//! Sign-in (authorization code + PKCE through the configured issuer) and its callback.

use serde::Deserialize;
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::history::{BrowserHistory, History};
use yew_router::prelude::*;

use crate::auth;

#[derive(Deserialize, Default)]
struct SignInQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

#[component]
pub fn SignInPage() -> Html {
    let location = use_location();
    let return_to = location
        .and_then(|l| l.query::<SignInQuery>().ok())
        .and_then(|q| q.return_to)
        .unwrap_or_else(|| "/workspaces".into());
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let onclick = {
        let (error, busy) = (error.clone(), busy.clone());
        Callback::from(move |_: MouseEvent| {
            let (error, busy, return_to) = (error.clone(), busy.clone(), return_to.clone());
            busy.set(true);
            spawn_local(async move {
                if let Err(e) = auth::start(&return_to).await {
                    error.set(Some(e));
                    busy.set(false);
                }
            });
        })
    };
    html! {
        <section class="panel panel--narrow" aria-labelledby="sign-in-title">
            <h1 id="sign-in-title">{ "Sign in to TenantAtlas" }</h1>
            <p class="muted">{ "Governance for your Microsoft Intune tenants. Sign in with your organisation's account." }</p>
            if let Some(e) = &*error {
                <p class="form-error" role="alert">{ e }</p>
            }
            <button type="button" class="button" {onclick} disabled={*busy} data-testid="sign-in">
                { if *busy { "Opening sign-in\u{2026}" } else { "Sign in" } }
            </button>
        </section>
    }
}

#[derive(Deserialize, Default)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[component]
pub fn CallbackPage() -> Html {
    let location = use_location();
    let error = use_state(|| None::<String>);
    {
        let error = error.clone();
        let query = location
            .and_then(|l| l.query::<CallbackQuery>().ok())
            .unwrap_or_default();
        use_effect_with((), move |()| {
            spawn_local(async move {
                let result = match (query.code, query.state, query.error) {
                    (_, _, Some(e)) => Err(format!("{e}: {}", query.error_description.unwrap_or_default())),
                    (Some(code), Some(state), None) => auth::finish(&code, &state).await,
                    _ => Err("the sign-in answer is incomplete; start again".into()),
                };
                match result {
                    // The return path may carry a query, so it goes to history as it is.
                    Ok(to) => BrowserHistory::new().replace(to),
                    Err(e) => error.set(Some(e)),
                }
            });
        });
    }
    html! {
        <section class="panel panel--narrow" aria-labelledby="callback-title">
            <h1 id="callback-title">{ "Signing in" }</h1>
            if let Some(e) = &*error {
                <p class="form-error" role="alert">{ e }</p>
                <Link<crate::app::Route> to={crate::app::Route::SignIn} classes="button">{ "Start again" }</Link<crate::app::Route>>
            } else {
                <p class="muted" role="status">{ "Finishing sign-in\u{2026}" }</p>
            }
        </section>
    }
}
