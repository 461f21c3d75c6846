//! The app shell, its routes and the signed-in session.

use std::rc::Rc;

use atlas_api_types::Me;
use atlas_domain::Capability;
use wasm_bindgen::JsCast as _;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::components::load::{self};
use crate::hooks::use_load;
use crate::pages;
use crate::session::{Selection, Session, selected_environment};

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/sign-in")]
    SignIn,
    #[at("/auth/callback")]
    Callback,
    #[at("/workspaces")]
    Workspaces,
    #[at("/workspaces/:ws")]
    Workspace { ws: String },
    #[at("/workspaces/:ws/operations")]
    Operations { ws: String },
    #[at("/workspaces/:ws/operations/:run")]
    Run { ws: String, run: String },
    #[at("/workspaces/:ws/audit")]
    Audit { ws: String },
    #[at("/workspaces/:ws/members")]
    Members { ws: String },
    #[at("/workspaces/:ws/baselines")]
    Baselines { ws: String },
    #[at("/workspaces/:ws/findings")]
    Findings { ws: String },
    #[at("/workspaces/:ws/findings/:finding")]
    Finding { ws: String, finding: String },
    #[at("/workspaces/:ws/environments/:env")]
    Environment { ws: String, env: String },
    #[at("/workspaces/:ws/environments/:env/drift")]
    Drift { ws: String, env: String },
    #[at("/workspaces/:ws/environments/:env/provider")]
    Provider { ws: String, env: String },
    #[at("/workspaces/:ws/environments/:env/inventory")]
    Inventory { ws: String, env: String },
    #[at("/workspaces/:ws/environments/:env/inventory/:family/:item")]
    InventoryItem {
        ws: String,
        env: String,
        family: String,
        item: String,
    },
    #[at("/workspaces/:ws/environments/:env/backups")]
    Backups { ws: String, env: String },
    #[at("/workspaces/:ws/environments/:env/backups/:set")]
    BackupSet { ws: String, env: String, set: String },
    #[at("/workspaces/:ws/environments/:env/backups/:set/items/:family/:item")]
    BackupItem {
        ws: String,
        env: String,
        set: String,
        family: String,
        item: String,
    },
    #[at("/workspaces/:ws/environments/:env/backups/:set/diff/:other")]
    BackupDiff {
        ws: String,
        env: String,
        set: String,
        other: String,
    },
    #[at("/workspaces/:ws/environments/:env/restores")]
    Restores { ws: String, env: String },
    #[at("/workspaces/:ws/environments/:env/restores/:restore")]
    Restore { ws: String, env: String, restore: String },
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// The workspace a route belongs to, for the workspace navigation.
    fn workspace(&self) -> Option<&str> {
        match self {
            Route::Workspace { ws }
            | Route::Operations { ws }
            | Route::Run { ws, .. }
            | Route::Audit { ws }
            | Route::Members { ws }
            | Route::Baselines { ws }
            | Route::Findings { ws }
            | Route::Finding { ws, .. }
            | Route::Drift { ws, .. }
            | Route::Environment { ws, .. }
            | Route::Provider { ws, .. }
            | Route::Inventory { ws, .. }
            | Route::InventoryItem { ws, .. }
            | Route::Backups { ws, .. }
            | Route::BackupSet { ws, .. }
            | Route::BackupItem { ws, .. }
            | Route::BackupDiff { ws, .. }
            | Route::Restores { ws, .. }
            | Route::Restore { ws, .. } => Some(ws),
            _ => None,
        }
    }
}

/// Where the browser is now (path and query), to come back to after signing in.
pub fn current_path() -> String {
    web_sys::window()
        .map(|w| {
            let l = w.location();
            format!("{}{}", l.pathname().unwrap_or_default(), l.search().unwrap_or_default())
        })
        .unwrap_or_else(|| "/workspaces".into())
}

fn switch(route: Route) -> Html {
    match route {
        Route::SignIn => public(html! { <pages::sign_in::SignInPage /> }),
        Route::Callback => public(html! { <pages::sign_in::CallbackPage /> }),
        Route::NotFound => public(html! { { pages::not_found::not_found() } }),
        route => html! { <Authed {route} /> },
    }
}

/// Pages shown without a session.
fn public(content: Html) -> Html {
    html! {
        <>
            <header class="topbar">
                <Link<Route> to={Route::Workspaces} classes="brand">{ "TenantAtlas" }</Link<Route>>
            </header>
            <main id="main" class="content" tabindex="-1">{ content }</main>
        </>
    }
}

#[component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <a class="skip-link" href="#main">{ "Skip to content" }</a>
            <Switch<Route> render={switch} />
        </BrowserRouter>
    }
}

#[derive(Properties, PartialEq)]
struct AuthedProps {
    route: Route,
}

/// Everything behind sign-in: loads `/me` once, provides the session, renders the shell.
#[component]
fn Authed(props: &AuthedProps) -> Html {
    let navigator = use_navigator();
    let has_token = api::token().is_some();
    use_effect_with(has_token, move |has| {
        if !*has && let Some(nav) = navigator {
            let _ = nav.push_with_query(&Route::SignIn, &[("return", current_path())]);
        }
    });
    let me = use_load(has_token, |has| async move {
        if has {
            api::get::<Me>(&api::paths::me()).await
        } else {
            Err(api::ApiError::Unauthorized)
        }
    });
    if !has_token {
        return html! {};
    }
    load::view(&me, "load your profile", |me: &Me| {
        let session = Session {
            me: Rc::new(me.clone()),
        };
        html! {
            <ContextProvider<Session> context={session}>
                <Shell route={props.route.clone()} />
            </ContextProvider<Session>>
        }
    })
}

#[derive(Properties, PartialEq)]
struct ShellProps {
    route: Route,
}

#[component]
fn Shell(props: &ShellProps) -> Html {
    let session = use_context::<Session>().expect("inside the session provider");
    let navigator = use_navigator();
    let sign_out = Callback::from(move |_: MouseEvent| {
        api::set_token(None);
        if let Some(nav) = &navigator {
            nav.push(&Route::SignIn);
        }
    });
    // A new page moves keyboard and screen-reader focus to its content, as a page load would.
    // Changing only the query (filters) keeps focus where the operator is.
    let first = use_mut_ref(|| true);
    use_effect_with(props.route.clone(), move |_| {
        if !std::mem::replace(&mut *first.borrow_mut(), false)
            && let Some(main) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("main"))
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = main.focus();
        }
    });
    // Only a member sees the workspace's navigation; anyone else is looking at a not-found page.
    let ws = props
        .route
        .workspace()
        .filter(|w| session.is_member(w))
        .map(str::to_owned);
    let selected = {
        let ws = ws.clone();
        use_state(move || {
            ws.as_ref()
                .and_then(|w| selected_environment(w).map(|e| (w.clone(), e)))
        })
    };
    let selection = Selection {
        set: {
            let selected = selected.clone();
            Callback::from(move |key| selected.set(Some(key)))
        },
    };
    let nav = ws.as_ref().map(|ws| {
        let link = |to: Route, label: &str| {
            let current = to == props.route;
            html! {
                <li><Link<Route> {to} classes={classes!("nav__link", current.then_some("nav__link--current"))}>{ label }</Link<Route>></li>
            }
        };
        let selected = (*selected).clone().filter(|(w, _)| w == ws).map(|(_, e)| e);
        html! {
            <nav class="wsnav" aria-label="Workspace">
                <ul>
                    { link(Route::Workspace { ws: ws.clone() }, "Overview") }
                    { link(Route::Operations { ws: ws.clone() }, "Operations") }
                    { link(Route::Findings { ws: ws.clone() }, "Findings") }
                    if cfg!(feature = "baseline-pages") {
                        { link(Route::Baselines { ws: ws.clone() }, "Baselines") }
                    }
                    if session.can(ws, Capability::AuditView) {
                        { link(Route::Audit { ws: ws.clone() }, "Audit log") }
                    }
                    { link(Route::Members { ws: ws.clone() }, "Members") }
                </ul>
                if let Some(env) = selected {
                    <p class="wsnav__env muted" data-testid="selected-environment">
                        { "Environment: " }
                        <Link<Route> to={Route::Environment { ws: ws.clone(), env: env.clone() }}>{ env }</Link<Route>>
                    </p>
                }
            </nav>
        }
    });
    html! {
        <>
            <header class="topbar">
                <Link<Route> to={Route::Workspaces} classes="brand">{ "TenantAtlas" }</Link<Route>>
                if let Some(ws) = &ws {
                    <span class="topbar__ws" data-testid="current-workspace">{ ws }</span>
                }
                <span class="topbar__spacer"></span>
                <span class="topbar__user" data-testid="signed-in-as">{ &session.me.email }</span>
                <button type="button" class="button button--quiet" onclick={sign_out}>{ "Sign out" }</button>
            </header>
            { nav.unwrap_or_default() }
            // Focusable so the skip link moves keyboard focus, not just the scroll position.
            <main id="main" class="content" tabindex="-1">
                <ContextProvider<Selection> context={selection}>
                    { pages::page(props.route.clone()) }
                </ContextProvider<Selection>>
            </main>
        </>
    }
}
