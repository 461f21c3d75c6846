//! The app shell, its routes and the signed-in session.

use std::rc::Rc;

use atlas_api_types::Me;
use atlas_api_types::paths::encode;
use atlas_domain::Capability;
use wasm_bindgen::JsCast as _;
use yew::prelude::*;

use crate::api;
use crate::components::load::{self};
use crate::hooks::use_load;
use crate::pages;
use crate::router::{Link, Router, decode, use_navigator};
use crate::session::{SELECT_EVENT, Selection, Session, selected_environment};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Home,
    SignIn,
    Callback,
    Workspaces,
    Workspace {
        ws: String,
    },
    Operations {
        ws: String,
    },
    Run {
        ws: String,
        run: String,
    },
    Audit {
        ws: String,
    },
    Members {
        ws: String,
    },
    Baselines {
        ws: String,
    },
    Findings {
        ws: String,
    },
    Exceptions {
        ws: String,
    },
    Alerts {
        ws: String,
    },
    Posture {
        ws: String,
    },
    Evidence {
        ws: String,
    },
    Compare {
        ws: String,
    },
    Mappings {
        ws: String,
    },
    Promotions {
        ws: String,
    },
    Promotion {
        ws: String,
        promotion: String,
    },
    AlertDelivery {
        ws: String,
        delivery: String,
    },
    Finding {
        ws: String,
        finding: String,
    },
    Environment {
        ws: String,
        env: String,
    },
    Drift {
        ws: String,
        env: String,
    },
    Lint {
        ws: String,
        env: String,
    },
    Provider {
        ws: String,
        env: String,
    },
    Inventory {
        ws: String,
        env: String,
    },
    InventoryItem {
        ws: String,
        env: String,
        family: String,
        item: String,
    },
    Backups {
        ws: String,
        env: String,
    },
    BackupSet {
        ws: String,
        env: String,
        set: String,
    },
    BackupItem {
        ws: String,
        env: String,
        set: String,
        family: String,
        item: String,
    },
    BackupDiff {
        ws: String,
        env: String,
        set: String,
        other: String,
    },
    Restores {
        ws: String,
        env: String,
    },
    Restore {
        ws: String,
        env: String,
        restore: String,
    },
    // Issue 18 items 1–2 (the third bundle): first run, invitations, onboarding, environment
    // lifecycle, schedule edit.
    Welcome,
    AcceptInvitation,
    Onboarding {
        ws: String,
    },
    OnboardingDraft {
        ws: String,
        draft: String,
    },
    EnvironmentSettings {
        ws: String,
        env: String,
    },
    ScheduleEdit {
        ws: String,
        env: String,
        schedule: String,
    },
    /// Ask for help (spec 025); what it is about comes in the query (`source`, `run`, `path`).
    Support {
        ws: String,
    },
    /// The system console: platform operators only (spec 025).
    System,
    NotFound,
}

impl Route {
    /// The route of a browser path (percent-encoded, as `location.pathname` gives it), NotFound
    /// when it names none. One trailing `/` is ignored.
    pub fn recognize(path: &str) -> Route {
        Self::parse(path).unwrap_or(Route::NotFound)
    }

    /// The page's name, as the browser's tab and history show it (issue 19 item 6).
    pub fn title(&self) -> &'static str {
        match self {
            Route::Home | Route::Workspaces => "Workspaces",
            Route::SignIn | Route::Callback => "Sign in",
            Route::Workspace { .. } => "Overview",
            Route::Operations { .. } => "Operations",
            Route::Run { .. } => "Run",
            Route::Audit { .. } => "Audit log",
            Route::Members { .. } => "Members",
            Route::Baselines { .. } => "Baselines",
            Route::Findings { .. } => "Findings",
            Route::Finding { .. } => "Finding",
            Route::Exceptions { .. } => "Exceptions",
            Route::Alerts { .. } => "Alerts",
            Route::AlertDelivery { .. } => "Alert delivery",
            Route::Posture { .. } => "Permission posture",
            Route::Evidence { .. } => "Evidence",
            Route::Compare { .. } => "Compare",
            Route::Mappings { .. } => "Mappings",
            Route::Promotions { .. } => "Promotions",
            Route::Promotion { .. } => "Promotion",
            Route::Environment { .. } => "Environment",
            Route::Drift { .. } => "Drift",
            Route::Lint { .. } => "Policy lint",
            Route::Provider { .. } => "Provider connection",
            Route::Inventory { .. } => "Inventory",
            Route::InventoryItem { .. } => "Inventory item",
            Route::Backups { .. } => "Backups",
            Route::BackupSet { .. } => "Backup set",
            Route::BackupItem { .. } => "Backup item",
            Route::BackupDiff { .. } => "Backup comparison",
            Route::Restores { .. } => "Restores",
            Route::Restore { .. } => "Restore",
            Route::Welcome => "Welcome",
            Route::AcceptInvitation => "Accept invitation",
            Route::Onboarding { .. } => "Add environment",
            Route::OnboardingDraft { .. } => "Onboarding",
            Route::EnvironmentSettings { .. } => "Environment settings",
            Route::ScheduleEdit { .. } => "Edit schedule",
            Route::Support { .. } => "Report a problem",
            Route::System => "System console",
            Route::NotFound => "Not found",
        }
    }

    fn parse(path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        if path.is_empty() {
            return Some(Route::Home);
        }
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        Some(match segments.as_slice() {
            ["sign-in"] => Route::SignIn,
            ["auth", "callback"] => Route::Callback,
            ["404"] => Route::NotFound,
            ["workspaces"] => Route::Workspaces,
            ["welcome"] => Route::Welcome,
            ["invitations", "accept"] => Route::AcceptInvitation,
            ["workspaces", ws, "onboarding"] => Route::Onboarding { ws: param(ws)? },
            ["workspaces", ws, "onboarding", draft] => Route::OnboardingDraft {
                ws: param(ws)?,
                draft: param(draft)?,
            },
            ["system"] => Route::System,
            ["workspaces", ws, "support"] => Route::Support { ws: param(ws)? },
            ["workspaces", ws] => Route::Workspace { ws: param(ws)? },
            ["workspaces", ws, "operations"] => Route::Operations { ws: param(ws)? },
            ["workspaces", ws, "operations", run] => Route::Run {
                ws: param(ws)?,
                run: param(run)?,
            },
            ["workspaces", ws, "audit"] => Route::Audit { ws: param(ws)? },
            ["workspaces", ws, "members"] => Route::Members { ws: param(ws)? },
            ["workspaces", ws, "baselines"] => Route::Baselines { ws: param(ws)? },
            ["workspaces", ws, "findings"] => Route::Findings { ws: param(ws)? },
            ["workspaces", ws, "exceptions"] => Route::Exceptions { ws: param(ws)? },
            ["workspaces", ws, "alerts"] => Route::Alerts { ws: param(ws)? },
            ["workspaces", ws, "posture"] => Route::Posture { ws: param(ws)? },
            ["workspaces", ws, "evidence"] => Route::Evidence { ws: param(ws)? },
            ["workspaces", ws, "compare"] => Route::Compare { ws: param(ws)? },
            ["workspaces", ws, "mappings"] => Route::Mappings { ws: param(ws)? },
            ["workspaces", ws, "promotions"] => Route::Promotions { ws: param(ws)? },
            ["workspaces", ws, "promotions", promotion] => Route::Promotion {
                ws: param(ws)?,
                promotion: param(promotion)?,
            },
            ["workspaces", ws, "alerts", "deliveries", delivery] => Route::AlertDelivery {
                ws: param(ws)?,
                delivery: param(delivery)?,
            },
            ["workspaces", ws, "findings", finding] => Route::Finding {
                ws: param(ws)?,
                finding: param(finding)?,
            },
            ["workspaces", ws, "environments", env, rest @ ..] => {
                let (ws, env) = (param(ws)?, param(env)?);
                match rest {
                    [] => Route::Environment { ws, env },
                    ["drift"] => Route::Drift { ws, env },
                    ["lint"] => Route::Lint { ws, env },
                    ["settings"] => Route::EnvironmentSettings { ws, env },
                    ["backups", "schedules", schedule] => Route::ScheduleEdit {
                        ws,
                        env,
                        schedule: param(schedule)?,
                    },
                    ["provider"] => Route::Provider { ws, env },
                    ["inventory"] => Route::Inventory { ws, env },
                    ["inventory", family, item] => Route::InventoryItem {
                        ws,
                        env,
                        family: param(family)?,
                        item: param(item)?,
                    },
                    ["backups"] => Route::Backups { ws, env },
                    ["backups", set] => Route::BackupSet {
                        ws,
                        env,
                        set: param(set)?,
                    },
                    ["backups", set, "items", family, item] => Route::BackupItem {
                        ws,
                        env,
                        set: param(set)?,
                        family: param(family)?,
                        item: param(item)?,
                    },
                    ["backups", set, "diff", other] => Route::BackupDiff {
                        ws,
                        env,
                        set: param(set)?,
                        other: param(other)?,
                    },
                    ["restores"] => Route::Restores { ws, env },
                    ["restores", restore] => Route::Restore {
                        ws,
                        env,
                        restore: param(restore)?,
                    },
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// The browser path of the route, each segment percent-encoded.
    pub fn to_path(&self) -> String {
        const WS: &str = "workspaces";
        const ENV: &str = "environments";
        let segments: Vec<&str> = match self {
            Route::Home => vec![],
            Route::SignIn => vec!["sign-in"],
            Route::Callback => vec!["auth", "callback"],
            Route::NotFound => vec!["404"],
            Route::Workspaces => vec![WS],
            Route::System => vec!["system"],
            Route::Support { ws } => vec![WS, ws, "support"],
            Route::Workspace { ws } => vec![WS, ws],
            Route::Operations { ws } => vec![WS, ws, "operations"],
            Route::Run { ws, run } => vec![WS, ws, "operations", run],
            Route::Audit { ws } => vec![WS, ws, "audit"],
            Route::Members { ws } => vec![WS, ws, "members"],
            Route::Baselines { ws } => vec![WS, ws, "baselines"],
            Route::Findings { ws } => vec![WS, ws, "findings"],
            Route::Exceptions { ws } => vec![WS, ws, "exceptions"],
            Route::Alerts { ws } => vec![WS, ws, "alerts"],
            Route::Posture { ws } => vec![WS, ws, "posture"],
            Route::Evidence { ws } => vec![WS, ws, "evidence"],
            Route::Compare { ws } => vec![WS, ws, "compare"],
            Route::Mappings { ws } => vec![WS, ws, "mappings"],
            Route::Promotions { ws } => vec![WS, ws, "promotions"],
            Route::Promotion { ws, promotion } => vec![WS, ws, "promotions", promotion],
            Route::AlertDelivery { ws, delivery } => vec![WS, ws, "alerts", "deliveries", delivery],
            Route::Finding { ws, finding } => vec![WS, ws, "findings", finding],
            Route::Environment { ws, env } => vec![WS, ws, ENV, env],
            Route::Drift { ws, env } => vec![WS, ws, ENV, env, "drift"],
            Route::Lint { ws, env } => vec![WS, ws, ENV, env, "lint"],
            Route::Provider { ws, env } => vec![WS, ws, ENV, env, "provider"],
            Route::Inventory { ws, env } => vec![WS, ws, ENV, env, "inventory"],
            Route::InventoryItem { ws, env, family, item } => vec![WS, ws, ENV, env, "inventory", family, item],
            Route::Backups { ws, env } => vec![WS, ws, ENV, env, "backups"],
            Route::BackupSet { ws, env, set } => vec![WS, ws, ENV, env, "backups", set],
            Route::BackupItem {
                ws,
                env,
                set,
                family,
                item,
            } => vec![WS, ws, ENV, env, "backups", set, "items", family, item],
            Route::BackupDiff { ws, env, set, other } => vec![WS, ws, ENV, env, "backups", set, "diff", other],
            Route::Restores { ws, env } => vec![WS, ws, ENV, env, "restores"],
            Route::Restore { ws, env, restore } => vec![WS, ws, ENV, env, "restores", restore],
            Route::Welcome => vec!["welcome"],
            Route::AcceptInvitation => vec!["invitations", "accept"],
            Route::Onboarding { ws } => vec![WS, ws, "onboarding"],
            Route::OnboardingDraft { ws, draft } => vec![WS, ws, "onboarding", draft],
            Route::EnvironmentSettings { ws, env } => vec![WS, ws, ENV, env, "settings"],
            Route::ScheduleEdit { ws, env, schedule } => vec![WS, ws, ENV, env, "backups", "schedules", schedule],
        };
        if segments.is_empty() {
            return "/".into();
        }
        // The fixed segments are unreserved characters: encoding leaves them as they are.
        let mut path = String::new();
        for s in segments {
            path.push('/');
            path.push_str(&encode(s));
        }
        path
    }

    /// The workspace a route belongs to, for the workspace navigation.
    pub fn workspace(&self) -> Option<&str> {
        match self {
            Route::Workspace { ws }
            | Route::Support { ws }
            | Route::Operations { ws }
            | Route::Run { ws, .. }
            | Route::Audit { ws }
            | Route::Members { ws }
            | Route::Baselines { ws }
            | Route::Findings { ws }
            | Route::Exceptions { ws }
            | Route::Alerts { ws }
            | Route::Posture { ws }
            | Route::Evidence { ws }
            | Route::Compare { ws }
            | Route::Mappings { ws }
            | Route::Promotions { ws }
            | Route::Promotion { ws, .. }
            | Route::AlertDelivery { ws, .. }
            | Route::Finding { ws, .. }
            | Route::Drift { ws, .. }
            | Route::Lint { ws, .. }
            | Route::Environment { ws, .. }
            | Route::Provider { ws, .. }
            | Route::Inventory { ws, .. }
            | Route::InventoryItem { ws, .. }
            | Route::Backups { ws, .. }
            | Route::BackupSet { ws, .. }
            | Route::BackupItem { ws, .. }
            | Route::BackupDiff { ws, .. }
            | Route::Restores { ws, .. }
            | Route::Restore { ws, .. }
            | Route::Onboarding { ws }
            | Route::OnboardingDraft { ws, .. }
            | Route::EnvironmentSettings { ws, .. }
            | Route::ScheduleEdit { ws, .. } => Some(ws),
            _ => None,
        }
    }

    /// The environment an environment-owned page belongs to (Spec 338's scope indicator).
    fn environment(&self) -> Option<&str> {
        match self {
            Route::Environment { env, .. }
            | Route::Drift { env, .. }
            | Route::Lint { env, .. }
            | Route::Provider { env, .. }
            | Route::Inventory { env, .. }
            | Route::InventoryItem { env, .. }
            | Route::Backups { env, .. }
            | Route::BackupSet { env, .. }
            | Route::BackupItem { env, .. }
            | Route::BackupDiff { env, .. }
            | Route::Restores { env, .. }
            | Route::Restore { env, .. }
            | Route::EnvironmentSettings { env, .. }
            | Route::ScheduleEdit { env, .. } => Some(env),
            _ => None,
        }
    }
}

/// A route parameter: a non-empty segment, percent-decoded.
fn param(segment: &str) -> Option<String> {
    Some(segment).filter(|s| !s.is_empty()).and_then(decode)
}

/// Where the browser is now (path and query), to come back to after signing in.
pub fn current_path() -> String {
    web_sys::window()
        .map(|w| {
            let l = w.location();
            // The fragment too: an invitation link carries its token there.
            format!(
                "{}{}{}",
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default(),
                l.hash().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "/workspaces".into())
}

/// The page of a route: the router renders it after its children, again when the location changes.
pub fn switch(route: Route) -> Html {
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        doc.set_title(&format!("{} \u{b7} TenantAtlas", route.title()));
    }
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
                <Link to={Route::Workspaces} classes="brand">{ "TenantAtlas" }</Link>
            </header>
            <main id="main" class="content" tabindex="-1">{ content }</main>
        </>
    }
}

#[component]
pub fn App() -> Html {
    html! {
        <Router render={switch as fn(Route) -> Html}>
            <a class="skip-link" href="#main">{ "Skip to content" }</a>
        </Router>
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
        if !*has {
            navigator.push_with_query(&Route::SignIn, &[("return", current_path())]);
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
    let switch_to = {
        let navigator = navigator.clone();
        Callback::from(move |e: Event| {
            let ws = crate::components::field::value_of(&e);
            if !ws.is_empty() {
                navigator.push(&Route::Workspace { ws });
            }
        })
    };
    let sign_out = Callback::from(move |_: MouseEvent| {
        api::set_token(None);
        navigator.push(&Route::SignIn);
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
    // On a phone the header folds the navigation and the account behind a Menu button (issue 19
    // item 6); a new page closes it again.
    let menu_open = use_state_eq(|| false);
    {
        let menu_open = menu_open.clone();
        use_effect_with(props.route.clone(), move |_| menu_open.set(false));
    }
    let toggle_menu = {
        let menu_open = menu_open.clone();
        Callback::from(move |_: MouseEvent| menu_open.set(!*menu_open))
    };
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
    {
        // Pages of the second bundle select through storage and an event (`session`).
        let selected = selected.clone();
        use_effect_with(ws.clone(), move |ws| {
            let ws = ws.clone();
            let heard = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
                if let Some(w) = &ws
                    && let Some(e) = selected_environment(w)
                {
                    selected.set(Some((w.clone(), e)));
                }
            });
            let window = web_sys::window();
            if let Some(w) = &window {
                let _ = w.add_event_listener_with_callback(SELECT_EVENT, heard.as_ref().unchecked_ref());
            }
            move || {
                if let Some(w) = &window {
                    let _ = w.remove_event_listener_with_callback(SELECT_EVENT, heard.as_ref().unchecked_ref());
                }
            }
        });
    }
    let nav = ws.as_ref().map(|ws| {
        let link = |to: Route, label: &str| {
            let current = to == props.route;
            html! {
                <li><Link {to} classes={classes!("nav__link", current.then_some("nav__link--current"))}>{ label }</Link></li>
            }
        };
        let selected = (*selected).clone().filter(|(w, _)| w == ws).map(|(_, e)| e);
        let here = props.route.environment();
        html! {
            <nav id="wsnav" class="wsnav" aria-label="Workspace">
                <ul>
                    { link(Route::Workspace { ws: ws.clone() }, "Overview") }
                    { link(Route::Operations { ws: ws.clone() }, "Operations") }
                    { link(Route::Findings { ws: ws.clone() }, "Findings") }
                    { link(Route::Exceptions { ws: ws.clone() }, "Risk acceptances") }
                    { link(Route::Baselines { ws: ws.clone() }, "Baselines") }
                    { link(Route::Compare { ws: ws.clone() }, "Compare") }
                    { link(Route::Promotions { ws: ws.clone() }, "Promotions") }
                    { link(Route::Alerts { ws: ws.clone() }, "Alerts") }
                    { link(Route::Posture { ws: ws.clone() }, "Permissions") }
                    if session.can(ws, Capability::EvidenceExport) {
                        { link(Route::Evidence { ws: ws.clone() }, "Evidence") }
                    }
                    if session.can(ws, Capability::AuditView) {
                        { link(Route::Audit { ws: ws.clone() }, "Audit log") }
                    }
                    { link(Route::Members { ws: ws.clone() }, "Members") }
                </ul>
                // Spec 338: whether this page is workspace-wide or one environment's, by name.
                <p class="wsnav__env" data-testid="scope" data-scope={if here.is_some() { "environment" } else { "workspace" }}>
                    { match here { Some(e) => format!("Environment page \u{b7} {}", crate::session::environment_name(ws, e)),
                        None => format!("Workspace-wide \u{b7} {}", session.workspace_name(ws)) } }
                </p>
                if let Some(env) = selected {
                    <p class="wsnav__env muted" data-testid="selected-environment">
                        { "Environment: " }
                        <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}><crate::session::EnvName ws={ws.clone()} env={env.clone()} /></Link>
                    </p>
                }
            </nav>
        }
    });
    html! {
        <div class={classes!("shell", menu_open.then_some("shell--menu-open"))}>
            <header class="topbar">
                <Link to={Route::Workspaces} classes="brand">{ "TenantAtlas" }</Link>
                if let Some(ws) = &ws {
                    <span class="topbar__ws" data-testid="current-workspace" data-ws={ws.clone()}>{ session.workspace_name(ws) }</span>
                }
                if session.me.memberships.len() > 1 {
                    // The header's workspace switcher: to another workspace's overview.
                    <select class="topbar__switch" aria-label="Switch workspace" data-testid="workspace-switcher" onchange={switch_to}>
                        <option value="" selected={ws.is_none()}>{ "Switch workspace\u{2026}" }</option>
                        { for session.me.memberships.iter().map(|m| html! {
                            <option value={m.workspace_id.clone()} selected={ws.as_deref() == Some(m.workspace_id.as_str())}>{ &m.workspace_name }</option>
                        }) }
                    </select>
                }
                <span class="topbar__spacer"></span>
                <crate::components::bell::Bell />
                // Shown only on narrow screens (the stylesheet); controls what it folds away.
                <button type="button" id="menu-toggle" class="button button--quiet topbar__menu"
                    aria-expanded={menu_open.to_string()} aria-controls={if ws.is_some() { "shell-menu wsnav" } else { "shell-menu" }} onclick={toggle_menu}>{ "Menu" }</button>
                <div id="shell-menu" class="topbar__account">
                    <span class="topbar__user" data-testid="signed-in-as">{ &session.me.email }</span>
                    if let Some(w) = ws.clone().or_else(|| session.me.memberships.first().map(|m| m.workspace_id.clone())) {
                        <Link to={Route::Support { ws: w }} classes="button button--quiet" query={crate::router::pairs(&[("source", "generic")])}>{ "Report a problem" }</Link>
                    }
                    if session.me.platform_operator {
                        <Link to={Route::System} classes="button button--quiet">{ "System console" }</Link>
                    }
                    <button type="button" id="sign-out" class="button button--quiet" onclick={sign_out}>{ "Sign out" }</button>
                </div>
            </header>
            { nav.unwrap_or_default() }
            // Focusable so the skip link moves keyboard focus, not just the scroll position.
            <main id="main" class="content" tabindex="-1">
                <ContextProvider<Selection> context={selection}>
                    { pages::page(props.route.clone()) }
                </ContextProvider<Selection>>
            </main>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::Route;
    use crate::router::{Location, href};

    /// Every variant, with parameters that need encoding.
    fn every_route(p: &str) -> Vec<Route> {
        let s = || p.to_owned();
        vec![
            Route::Home,
            Route::SignIn,
            Route::Callback,
            Route::Workspaces,
            Route::Workspace { ws: s() },
            Route::Operations { ws: s() },
            Route::Run { ws: s(), run: s() },
            Route::Audit { ws: s() },
            Route::Members { ws: s() },
            Route::Baselines { ws: s() },
            Route::Findings { ws: s() },
            Route::Exceptions { ws: s() },
            Route::Alerts { ws: s() },
            Route::Posture { ws: s() },
            Route::Evidence { ws: s() },
            Route::Compare { ws: s() },
            Route::Mappings { ws: s() },
            Route::Promotions { ws: s() },
            Route::Promotion {
                ws: s(),
                promotion: s(),
            },
            Route::AlertDelivery { ws: s(), delivery: s() },
            Route::Finding { ws: s(), finding: s() },
            Route::Environment { ws: s(), env: s() },
            Route::Drift { ws: s(), env: s() },
            Route::Lint { ws: s(), env: s() },
            Route::Provider { ws: s(), env: s() },
            Route::Inventory { ws: s(), env: s() },
            Route::InventoryItem {
                ws: s(),
                env: s(),
                family: s(),
                item: s(),
            },
            Route::Backups { ws: s(), env: s() },
            Route::BackupSet {
                ws: s(),
                env: s(),
                set: s(),
            },
            Route::BackupItem {
                ws: s(),
                env: s(),
                set: s(),
                family: s(),
                item: s(),
            },
            Route::BackupDiff {
                ws: s(),
                env: s(),
                set: s(),
                other: s(),
            },
            Route::Restores { ws: s(), env: s() },
            Route::Restore {
                ws: s(),
                env: s(),
                restore: s(),
            },
            Route::Welcome,
            Route::AcceptInvitation,
            Route::Onboarding { ws: s() },
            Route::OnboardingDraft { ws: s(), draft: s() },
            Route::EnvironmentSettings { ws: s(), env: s() },
            Route::ScheduleEdit {
                ws: s(),
                env: s(),
                schedule: s(),
            },
            Route::Support { ws: s() },
            Route::System,
            Route::NotFound,
        ]
    }

    #[test]
    fn every_page_has_a_title_and_the_routes_of_one_page_share_it() {
        let titles: Vec<&str> = every_route("x").iter().map(Route::title).collect();
        assert!(titles.iter().all(|t| !t.is_empty()));
        let distinct: std::collections::BTreeSet<&str> = titles.iter().copied().collect();
        // Home and the chooser are one page, as are sign-in and its callback.
        assert_eq!(distinct.len(), titles.len() - 2, "{titles:?}");
    }

    #[test]
    fn every_route_comes_back_from_its_path() {
        for p in ["ws-1", "a b/c%d?e#f", "operations", "é+ü"] {
            for route in every_route(p) {
                let path = route.to_path();
                assert!(path.starts_with('/'), "{path}");
                assert_eq!(Route::recognize(&path), route, "{path}");
                if route != Route::Home {
                    assert_eq!(Route::recognize(&format!("{path}/")), route, "{path}/");
                }
            }
        }
    }

    #[test]
    fn paths_are_the_documented_ones() {
        let (ws, env) = ("w".to_owned(), "e".to_owned());
        let cases = [
            (Route::Home, "/"),
            (Route::SignIn, "/sign-in"),
            (Route::Callback, "/auth/callback"),
            (Route::Workspaces, "/workspaces"),
            (Route::Workspace { ws: ws.clone() }, "/workspaces/w"),
            (
                Route::Run {
                    ws: ws.clone(),
                    run: "r 1".into(),
                },
                "/workspaces/w/operations/r%201",
            ),
            (Route::Baselines { ws: ws.clone() }, "/workspaces/w/baselines"),
            (Route::Compare { ws: ws.clone() }, "/workspaces/w/compare"),
            (Route::Mappings { ws: ws.clone() }, "/workspaces/w/mappings"),
            (
                Route::Promotion {
                    ws: ws.clone(),
                    promotion: "p".into(),
                },
                "/workspaces/w/promotions/p",
            ),
            (
                Route::Drift {
                    ws: ws.clone(),
                    env: env.clone(),
                },
                "/workspaces/w/environments/e/drift",
            ),
            (
                Route::BackupItem {
                    ws: ws.clone(),
                    env: env.clone(),
                    set: "s".into(),
                    family: "f".into(),
                    item: "a/b".into(),
                },
                "/workspaces/w/environments/e/backups/s/items/f/a%2Fb",
            ),
            (
                Route::BackupDiff {
                    ws,
                    env,
                    set: "s".into(),
                    other: "o".into(),
                },
                "/workspaces/w/environments/e/backups/s/diff/o",
            ),
            (Route::NotFound, "/404"),
        ];
        for (route, path) in cases {
            assert_eq!(route.to_path(), path);
            assert_eq!(Route::recognize(path), route);
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert_eq!(Route::recognize(""), Route::Home);
        for path in [
            "/nope",
            "workspaces",
            "/workspaces/w/nope",
            "/workspaces//operations",
            "/workspaces/w/environments/e/backups/s/items/f",
            "/workspaces/w/environments/e/x",
            "/workspaces/%FF",
        ] {
            assert_eq!(Route::recognize(path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn queries_are_encoded_and_decoded() {
        let to = Route::Findings { ws: "w".into() };
        let url = href(&to, &[("search", "a b&c=d".into()), ("status", "open".into())]);
        assert_eq!(url, "/workspaces/w/findings?search=a%20b%26c%3Dd&status=open");
        let (path, search) = url.split_once('?').unwrap();
        let l = Location::parse(path, &format!("?{search}"));
        assert_eq!(l.get("search"), Some("a b&c=d"));
        assert_eq!(l.get("status"), Some("open"));
        assert_eq!(l.get("owner"), None);
        // Forms write spaces as `+`.
        assert_eq!(Location::parse("/", "?q=a+b%2B").get("q"), Some("a b+"));
        assert_eq!(Location::parse("/", "").query, vec![]);
    }
}
