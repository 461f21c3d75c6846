//! Baselines: the workspace's profiles with their source, families, latest snapshot and
//! assignments; create one, capture a snapshot, assign it to an environment or remove that.

use atlas_api_types::{
    Baseline, BaselineAssign, BaselineAssignment, BaselineCreate, BaselineList, BaselineSnapshot, SnapshotCreate,
};
use atlas_domain::Capability;
use wasm_bindgen::JsCast as _;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::envs::{EnvNames, env_name, env_options, use_env_names};
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field, value_of};
use crate::components::load;
use crate::families::{self, FAMILIES};
use crate::format;
use crate::hooks::use_load;
use crate::pages::workspace::WsProps;
use crate::router::Link;
use crate::session::use_session;

#[component]
pub fn BaselinesPage(props: &WsProps) -> Html {
    let session = use_session();
    let ws = props.ws.clone();
    let can_manage = session.can(&ws, Capability::BaselineManage);
    let list = use_load(ws.clone(), |ws| async move {
        api::get::<BaselineList>(&paths::baselines(&ws)).await
    });
    let names = use_env_names(&ws);
    html! {
        <>
            <div class="page-head"><h1>{ "Baselines" }</h1></div>
            <p class="muted">{ "A baseline is the golden configuration captured from a source environment; drift detection compares assigned environments with it." }</p>
            { load::view(&list, "load the baselines", |l: &BaselineList| {
                if l.items.is_empty() {
                    return html! { { load::empty(html! { <>{ "No baseline yet." }</> }) } };
                }
                html! {
                    <ul class="cards" data-testid="baseline-list">
                        { for l.items.iter().map(|b| html! {
                            <BaselineCard key={b.id.clone()} ws={ws.clone()} baseline={b.clone()} envs={names.clone()} {can_manage} reload={list.reload.clone()} />
                        }) }
                    </ul>
                }
            }) }
            if can_manage {
                <CreateForm ws={ws.clone()} envs={names.clone()} created={list.reload.clone()} />
            }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct CreateProps {
    ws: String,
    envs: EnvNames,
    created: Callback<()>,
}

#[component]
fn CreateForm(props: &CreateProps) -> Html {
    let draft = use_state(|| BaselineCreate {
        name: String::new(),
        source_environment_id: String::new(),
        families: Vec::new(),
        objects: Vec::new(),
        ignored_properties: Vec::new(),
        report_extra: false,
    });
    let ignored = use_state(String::new);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let edit = |apply: fn(&mut BaselineCreate, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            apply(&mut d, v);
            draft.set(d);
        })
    };
    let onsubmit = {
        let (draft, ignored, busy, error, ws, created) = (
            draft.clone(),
            ignored.clone(),
            busy.clone(),
            error.clone(),
            props.ws.clone(),
            props.created.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut body = (*draft).clone();
            body.ignored_properties = ignored
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            let (draft, ignored, busy, error, ws, created) = (
                draft.clone(),
                ignored.clone(),
                busy.clone(),
                error.clone(),
                ws.clone(),
                created.clone(),
            );
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, Baseline>(&paths::baselines(&ws), &body).await {
                    Ok(_) => {
                        error.set(None);
                        let mut d = (*draft).clone();
                        d.name.clear();
                        d.families.clear();
                        draft.set(d);
                        ignored.set(String::new());
                        created.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let err = |name: &str| (*error).as_ref().and_then(|e| e.field(name));
    let sources = env_options(&props.envs, "Choose an environment");
    let on_ignored = {
        let ignored = ignored.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            {
                ignored.set(t.value());
            }
        })
    };
    let on_extra = {
        let draft = draft.clone();
        Callback::from(move |e: Event| {
            let on = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .is_some_and(|i| i.checked());
            let mut d = (*draft).clone();
            d.report_extra = on;
            draft.set(d);
        })
    };
    let families_error = err("families");
    let ignored_error = err("ignored_properties");
    html! {
        <section class="panel" aria-labelledby="baseline-create-title">
            <h2 id="baseline-create-title">{ "New baseline" }</h2>
            <form class="form" {onsubmit}>
                { text_field(&yew::props!(TextFieldProps { id: "baseline-name", label: "Name", value: draft.name.clone(), onchange: edit(|d, v| d.name = v), error: err("name"), required: true })) }
                { select_field(&yew::props!(SelectFieldProps { id: "baseline-source", label: "Source environment", value: draft.source_environment_id.clone(), options: sources, onchange: edit(|d, v| d.source_environment_id = v), error: err("source_environment_id") })) }
                <fieldset class={classes!("field", families_error.as_ref().map(|_| "field--invalid"))}>
                    <legend>{ "Policy families" }</legend>
                    { for FAMILIES.iter().map(|(code, label)| {
                        let on = draft.families.iter().any(|f| f == code);
                        let draft = draft.clone();
                        let onchange = Callback::from(move |_: Event| {
                            let mut d = (*draft).clone();
                            d.families.retain(|f| f != code);
                            if !on {
                                d.families.push((*code).to_owned());
                            }
                            draft.set(d);
                        });
                        html! { <label class="check"><input type="checkbox" name="family" value={*code} checked={on} {onchange} />{ format!(" {label}") }</label> }
                    }) }
                    if let Some(e) = families_error { <span class="field__error">{ e }</span> }
                </fieldset>
                <div class={classes!("field", ignored_error.as_ref().map(|_| "field--invalid"))}>
                    <label for="baseline-ignored">{ "Ignored properties" }</label>
                    <span class="field__hint">{ "JSON pointers never compared, one per line (for example /description)." }</span>
                    <textarea id="baseline-ignored" name="baseline-ignored" rows="3" value={(*ignored).clone()} oninput={on_ignored} />
                    if let Some(e) = ignored_error { <span class="field__error">{ e }</span> }
                </div>
                <label class="check"><input type="checkbox" id="baseline-report-extra" checked={draft.report_extra} onchange={on_extra} />
                    { " Report objects found in an environment but not in the baseline" }</label>
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                <div class="actions">
                    <button type="submit" id="baseline-create" class="button" disabled={*busy}>{ "Create baseline" }</button>
                </div>
            </form>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CardProps {
    ws: String,
    baseline: Baseline,
    envs: EnvNames,
    can_manage: bool,
    reload: Callback<()>,
}

#[component]
fn BaselineCard(props: &CardProps) -> Html {
    let b = &props.baseline;
    let captured = use_state(|| None::<u32>);
    let error = use_state(|| None::<ApiError>);
    let assign_env = use_state(String::new);
    let priority = use_state(|| "100".to_owned());
    let capture = {
        let (ws, id, captured, error, reload) = (
            props.ws.clone(),
            b.id.clone(),
            captured.clone(),
            error.clone(),
            props.reload.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let (ws, id, captured, error, reload) =
                (ws.clone(), id.clone(), captured.clone(), error.clone(), reload.clone());
            spawn_local(async move {
                let path = paths::baseline_snapshots(&ws, &id);
                match api::post::<_, BaselineSnapshot>(&path, &SnapshotCreate::default()).await {
                    Ok(s) => {
                        error.set(None);
                        captured.set(Some(s.number));
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let assign = {
        let (ws, id, env, priority, error, reload) = (
            props.ws.clone(),
            b.id.clone(),
            assign_env.clone(),
            priority.clone(),
            error.clone(),
            props.reload.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = BaselineAssign {
                priority: priority.trim().parse().unwrap_or(u32::MAX),
                ..BaselineAssign::default()
            };
            let (path, error, reload) = (
                paths::baseline_assignment(&ws, &env, &id),
                error.clone(),
                reload.clone(),
            );
            spawn_local(async move {
                match api::put::<_, BaselineAssignment>(&path, &body).await {
                    Ok(_) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let remove = |env: String| {
        let (path, error, reload) = (
            paths::baseline_assignment(&props.ws, &env, &b.id),
            error.clone(),
            props.reload.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let (path, error, reload) = (path.clone(), error.clone(), reload.clone());
            spawn_local(async move {
                match api::delete::<()>(&path, None).await {
                    Ok(()) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let mut env_options = vec![(String::new(), "Choose an environment".to_owned())];
    env_options.extend(props.envs.iter().cloned());
    let on_env = {
        let env = assign_env.clone();
        Callback::from(move |e: Event| env.set(value_of(&e)))
    };
    let families: Vec<&str> = b.families.iter().map(|f| families::label(f)).collect();
    let prio_error = (*error).as_ref().and_then(|e| e.field("priority"));
    html! {
        <li class="card baseline" data-id={b.id.clone()} data-testid={format!("baseline-{}", b.id)}>
            <div class="card__head"><h3 class="card__title">{ &b.name }</h3></div>
            <p class="muted">{ format!("Source: {} \u{b7} created {} by {}", env_name(&props.envs, &b.source_environment_id), format::time(b.created_ms), b.created_by) }</p>
            <p>{ families.join(", ") }</p>
            if !b.ignored_properties.is_empty() {
                <p class="muted">{ "Ignored: " }{ for b.ignored_properties.iter().map(|p| html! { <><code>{ p }</code>{ " " }</> }) }</p>
            }
            <p data-testid="latest-snapshot">{ match b.latest_snapshot {
                Some(n) => format!("Latest snapshot: #{n}"),
                None => "No snapshot yet".to_owned(),
            } }</p>
            if let Some(n) = *captured { <p class="banner banner--ok" role="status">{ format!("Snapshot #{n} captured.") }</p> }
            <h4>{ "Assignments" }</h4>
            if b.assignments.is_empty() {
                <p class="muted">{ "Not assigned to any environment." }</p>
            } else {
                <ul class="checks">{ for b.assignments.iter().map(|a| html! {
                    <li class="assignment" data-env={a.environment_id.clone()}>
                        <Link to={Route::Drift { ws: props.ws.clone(), env: a.environment_id.clone() }}>{ env_name(&props.envs, &a.environment_id) }</Link>
                        { format!(" \u{b7} priority {} \u{b7} {}", a.priority, a.snapshot.map_or_else(|| "newest snapshot".to_owned(), |n| format!("snapshot #{n}"))) }
                        if props.can_manage {
                            { " " }<button type="button" class="button button--quiet remove-assignment" onclick={remove(a.environment_id.clone())}>{ "Remove" }</button>
                        }
                    </li>
                }) }</ul>
            }
            if props.can_manage {
                <div class="actions">
                    <button type="button" class="button capture-snapshot" onclick={capture}>{ "Capture snapshot" }</button>
                </div>
                <form class="toolbar" onsubmit={assign} aria-label={format!("Assign {} to an environment", b.name)}>
                    <div class="field">
                        <label for={format!("assign-env-{}", b.id)}>{ "Environment" }</label>
                        <select id={format!("assign-env-{}", b.id)} class="assign-env" onchange={on_env}>
                            { for env_options.iter().map(|(v, l)| html! { <option value={v.clone()} selected={*v == *assign_env}>{ l }</option> }) }
                        </select>
                    </div>
                    { text_field(&yew::props!(TextFieldProps { id: format!("assign-priority-{}", b.id), label: "Priority", kind: "number", value: (*priority).clone(), onchange: { let p = priority.clone(); Callback::from(move |v| p.set(v)) }, error: prio_error })) }
                    <button type="submit" class="button button--quiet assign" disabled={assign_env.is_empty()}>{ "Assign to environment" }</button>
                </form>
            }
            { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
        </li>
    }
}
