//! Sign-in (authorization code + PKCE through the configured issuer) and its callback.

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::auth;
use crate::router::{Link, use_location, use_navigator};

#[component]
pub fn SignInPage() -> Html {
    let return_to = use_location().get("return").unwrap_or("/workspaces").to_owned();
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

#[component]
pub fn CallbackPage() -> Html {
    let location = use_location();
    let navigator = use_navigator();
    let error = use_state(|| None::<String>);
    {
        let error = error.clone();
        use_effect_with((), move |()| {
            spawn_local(async move {
                let q = |name| location.get(name).map(str::to_owned);
                let result = match (q("code"), q("state"), q("error")) {
                    (_, _, Some(e)) => Err(format!("{e}: {}", location.value("error_description"))),
                    (Some(code), Some(state), None) => auth::finish(&code, &state).await,
                    _ => Err("the sign-in answer is incomplete; start again".into()),
                };
                match result {
                    // The return path may carry a query, so it goes to history as it is.
                    Ok(to) => navigator.replace_url(&to),
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
                <Link to={crate::app::Route::SignIn} classes="button">{ "Start again" }</Link>
            } else {
                <p class="muted" role="status">{ "Finishing sign-in\u{2026}" }</p>
            }
        </section>
    }
}
