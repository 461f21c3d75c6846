//! The workspace chooser: search, sort, pins, environment badges and last activity.

use atlas_api_types::{WorkspaceList, WorkspaceSummary};
use gloo_timers::callback::Timeout;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::components::status_badge::status_badge;
use crate::format;
use crate::hooks::use_load;
use crate::router::Link;

#[component]
pub fn WorkspacesPage() -> Html {
    // What is typed, and (a quarter second after typing stops) what is searched for.
    let typed = use_state(String::new);
    let search = use_state(String::new);
    let pending = use_mut_ref(|| None::<Timeout>);
    let on_type = {
        let (typed, search, pending) = (typed.clone(), search.clone(), pending.clone());
        Callback::from(move |v: String| {
            typed.set(v.clone());
            let search = search.clone();
            *pending.borrow_mut() = Some(Timeout::new(250, move || search.set(v)));
        })
    };
    let sort = use_state(|| "name".to_owned());
    let list = use_load(((*search).clone(), (*sort).clone()), |(search, sort)| async move {
        api::get::<WorkspaceList>(&with_query(
            &paths::workspaces(),
            &[("search", &search), ("sort", &sort)],
        ))
        .await
    });
    let pin_error = use_state(|| None::<ApiError>);
    let toggle_pin = {
        let (reload, pin_error) = (list.reload.clone(), pin_error.clone());
        Callback::from(move |(ws, pinned): (String, bool)| {
            let (reload, pin_error) = (reload.clone(), pin_error.clone());
            spawn_local(async move {
                let path = paths::workspace_pin(&ws);
                let r = if pinned {
                    api::delete::<()>(&path, None).await
                } else {
                    api::put_unit(&path).await
                };
                match r {
                    Ok(()) => {
                        pin_error.set(None);
                        reload.emit(());
                    }
                    Err(e) => pin_error.set(Some(e)),
                }
            });
        })
    };
    let filtering = !search.is_empty();
    // First run: a signed-in user with no workspace goes to the page that creates one.
    let first_run = crate::session::use_session().me.memberships.is_empty();
    let navigator = crate::router::use_navigator();
    use_effect_with(first_run, move |first| {
        if *first {
            navigator.replace_url(&Route::Welcome.to_path());
        }
    });
    html! {
        <>
            <div class="page-head">
                <h1>{ "Your workspaces" }</h1>
                <Link to={Route::Welcome}>{ "New workspace" }</Link>
            </div>
            <form class="toolbar" role="search" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
                { text_field(&yew::props!(TextFieldProps { id: "ws-search", label: "Search", kind: "search", value: (*typed).clone(), onchange: on_type })) }
                { select_field(&yew::props!(SelectFieldProps { id: "ws-sort", label: "Sort by", value: (*sort).clone(), options: vec![("name".into(), "Name".into()), ("last_activity".into(), "Last activity".into())], onchange: { let s = sort.clone(); Callback::from(move |v| s.set(v)) } })) }
            </form>
            { form_error(&yew::props!(FormErrorProps { error: (*pin_error).clone() })) }
            { load::view(&list, "load your workspaces", |list: &WorkspaceList| {
                if list.items.is_empty() {
                    return html! { { load::empty(html! { <>
                        if filtering { { "No workspace matches that search." } }
                        else { { "You are not a member of any workspace yet: " }<Link to={Route::Welcome}>{ "create one" }</Link>{ ", or open the invitation link an owner sent you." } }
                    </> }) } };
                }
                html! {
                    <ul class="cards" data-testid="workspace-list">
                        { for list.items.iter().map(|w| card(w, toggle_pin.clone())) }
                    </ul>
                }
            }) }
        </>
    }
}

fn card(w: &WorkspaceSummary, toggle_pin: Callback<(String, bool)>) -> Html {
    let key = (w.id.clone(), w.pinned);
    let onclick = Callback::from(move |_: MouseEvent| toggle_pin.emit(key.clone()));
    html! {
        <li class="card" data-testid={format!("workspace-{}", w.id)}>
            <div class="card__head">
                <h2 class="card__title">
                    <Link to={Route::Workspace { ws: w.id.clone() }}>{ &w.name }</Link>
                </h2>
                <button type="button" class="button button--quiet" {onclick} aria-pressed={w.pinned.to_string()}
                    aria-label={format!("{} {}", if w.pinned { "Unpin" } else { "Pin" }, w.name)}>
                    { if w.pinned { "\u{2605} Pinned" } else { "\u{2606} Pin" } }
                </button>
            </div>
            <p class="muted">{ format!("Your role: {} \u{b7} {} environment{}", w.role, w.environment_count,
                if w.environment_count == 1 { "" } else { "s" }) }</p>
            <p class="badges" aria-label="Environments by status">
                { for w.environment_statuses.iter().map(|(status, n)| html! {
                    <span class="badge-count">{ status_badge(&(status.clone())) }{ format!(" \u{d7} {n}") }</span>
                }) }
            </p>
            <p class="muted">{ "Last activity: " }{ format::when_opt(w.last_activity_ms) }</p>
        </li>
    }
}
