//! The mapping table of an environment pair (source → target): the rows with who set them and
//! when, removing one, and the references the source uses that no row maps, with what automatic
//! resolution would pick and a form to map each (spec 022).

use std::rc::Rc;

use atlas_api_types::{Mapping, MappingChange, MappingRemove, MappingSet, MappingSuggestion, MappingTable};
use atlas_domain::Capability;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::app::Route;
use crate::components::envs::{env_name, env_options, use_env_names};
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::components::markup::th;
use crate::components::status_badge::status_badge;
use crate::format;
use crate::hooks::use_load;
use crate::pages::workspace::WsProps;
use crate::router::{Link, href, use_location, use_navigator};
use crate::session::use_session;

const KINDS: [(&str, &str); 7] = [
    ("group", "Group"),
    ("filter", "Assignment filter"),
    ("scope_tag", "Scope tag"),
    ("named_location", "Named location"),
    ("app", "App"),
    ("notification_template", "Notification template"),
    ("object", "Object (pins the policy compared and promoted onto)"),
];

fn kind_label(kind: &str) -> &str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or(kind, |(_, l)| l)
}

/// One change of one pair's table, all or nothing; the answer's body is not needed (the table is
/// loaded again).
async fn change(ws: &str, body: &MappingChange) -> Result<(), ApiError> {
    api::post_no_content(&paths::mappings(ws), body).await
}

#[component]
pub fn MappingsPage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let session = use_session();
    let can_edit = session.can(&ws, Capability::RestorePreview);
    let location = use_location();
    let navigator = use_navigator();
    let (source, target) = (location.value("source"), location.value("target"));
    let envs = use_env_names(&ws);
    let table = use_load((ws.clone(), source.clone(), target.clone()), |(ws, s, t)| async move {
        if s.is_empty() || t.is_empty() || s == t {
            return Ok(None);
        }
        let path = with_query(
            &paths::mappings(&ws),
            &[("source_environment_id", &s), ("target_environment_id", &t)],
        );
        api::get::<MappingTable>(&path).await.map(Some)
    });
    let choose = |which: &'static str| {
        let (navigator, ws, source, target) = (navigator.clone(), ws.clone(), source.clone(), target.clone());
        Callback::from(move |v: String| {
            let (s, t) = if which == "source" {
                (v, target.clone())
            } else {
                (source.clone(), v)
            };
            navigator.replace_url(&href(
                &Route::Mappings { ws: ws.clone() },
                &[("source", s), ("target", t)],
            ));
        })
    };
    html! {
        <>
            <div class="page-head">
                <h1>{ "Mapping table" }</h1>
                <Link to={Route::Compare { ws: ws.clone() }}>{ "Compare" }</Link>
            </div>
            <p class="muted">{ "Tenant-local references (groups, filters, scope tags, named locations, apps, notification templates) of a source environment and what each is in the target. Compare and promotion translate through it; an unresolved reference blocks a promotion." }</p>
            <div class="panel toolbar" data-testid="mapping-pair">
                { select_field(&yew::props!(SelectFieldProps { id: "mapping-source", label: "Source environment", value: source.clone(), options: env_options(&envs, "Choose the source"), onchange: choose("source") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "mapping-target", label: "Target environment", value: target.clone(), options: env_options(&envs, "Choose the target"), onchange: choose("target") })) }
            </div>
            if !can_edit {
                <p class="muted" data-testid="mapping-readonly">{ "Changing the mapping table needs the restore.preview permission." }</p>
            }
            if !source.is_empty() && source == target {
                <p class="form-error" role="alert">{ "Choose two different environments." }</p>
            }
            { load::view(&table, "load the mapping table", |t: &Option<MappingTable>| match t {
                None => load::empty(html! { <>{ "Choose a source and a target environment." }</> }),
                Some(t) => html! {
                    <TableView ws={ws.clone()} table={Rc::new(t.clone())} {can_edit} reload={table.reload.clone()}
                        source_name={env_name(&envs, &t.source_environment_id)} target_name={env_name(&envs, &t.target_environment_id)} />
                },
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct TableProps {
    ws: String,
    table: Rc<MappingTable>,
    can_edit: bool,
    reload: Callback<()>,
    source_name: String,
    target_name: String,
}

#[component]
fn TableView(props: &TableProps) -> Html {
    let t = &props.table;
    let error = use_state(|| None::<ApiError>);
    let remove = |m: &Mapping| {
        let body = MappingChange {
            source_environment_id: t.source_environment_id.clone(),
            target_environment_id: t.target_environment_id.clone(),
            set: Vec::new(),
            remove: vec![MappingRemove {
                kind: m.kind.clone(),
                source_id: m.source_id.clone(),
            }],
        };
        let (ws, error, reload) = (props.ws.clone(), error.clone(), props.reload.clone());
        Callback::from(move |_: MouseEvent| {
            let (ws, body, error, reload) = (ws.clone(), body.clone(), error.clone(), reload.clone());
            spawn_local(async move {
                match change(&ws, &body).await {
                    Ok(()) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let form = |s: Option<&MappingSuggestion>| {
        html! {
            <MapForm ws={props.ws.clone()} source_env={t.source_environment_id.clone()} target_env={t.target_environment_id.clone()}
                suggestion={s.cloned()} saved={props.reload.clone()} />
        }
    };
    let unresolved = t.suggestions.iter().filter(|s| s.resolution == "unresolved").count();
    html! {
        <>
            <section class="panel" aria-labelledby="mappings-title">
                <h2 id="mappings-title">{ format!("{} \u{2192} {}", props.source_name, props.target_name) }</h2>
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                if t.items.is_empty() {
                    { load::empty(html! { <>{ "No mapping yet: references resolve by id, then by name." }</> }) }
                } else {
                    <div class="table-wrap"><table class="table" data-testid="mapping-rows">
                        <thead><tr>{ th("Kind") }{ th("Source") }{ th("Target") }{ th("Set by") }
                            if props.can_edit { <th scope="col" class="row-actions"><span class="visually-hidden">{ "Actions" }</span></th> }</tr></thead>
                        <tbody>{ for t.items.iter().map(|m| html! {
                            <tr data-kind={m.kind.clone()}>
                                <td>{ kind_label(&m.kind) }</td>
                                <td>{ named(&m.source_name, &m.source_id) }</td>
                                <td>{ named(&m.target_name, &m.target_id) }</td>
                                <td>{ &m.updated_by_email }<br /><span class="muted">{ format::when(m.updated_ms) }</span></td>
                                if props.can_edit {
                                    <td class="row-actions"><button type="button" class="button button--quiet" onclick={remove(m)}
                                        aria-label={format!("Remove the mapping of {}", m.source_name.clone().unwrap_or_else(|| m.source_id.clone()))}>{ "Remove" }</button></td>
                                }
                            </tr>
                        }) }</tbody>
                    </table></div>
                }
                if props.can_edit {
                    <details class="mapping-add">
                        <summary>{ "Add a mapping" }</summary>
                        { form(None) }
                    </details>
                }
            </section>
            <section class="panel" aria-labelledby="suggestions-title">
                <div class="panel__header">
                    <h2 id="suggestions-title">{ "Unmapped references" }</h2>
                    if unresolved > 0 { <span data-testid="unresolved-count">{ status_badge("blocked") }{ format!(" {unresolved} unresolved") }</span> }
                </div>
                <p class="muted">{ "References the source's objects use that no row maps, and what automatic resolution would pick in the target." }</p>
                if t.suggestions.is_empty() {
                    { load::empty(html! { <>{ "Every reference is mapped." }</> }) }
                } else {
                    <div class="table-wrap"><table class="table" data-testid="mapping-suggestions">
                        <thead><tr>{ th("Kind") }{ th("Source") }{ th("Used by") }{ th("Resolution") }{ th("In the target") }
                            if props.can_edit { { th("Map") } }</tr></thead>
                        <tbody>{ for t.suggestions.iter().map(|s| html! {
                            <tr data-resolution={s.resolution.clone()} class={classes!((s.resolution == "unresolved").then_some("row--unresolved"))}>
                                <td>{ kind_label(&s.kind) }</td>
                                <td>{ named(&s.source_name, &s.source_id) }</td>
                                <td class="num">{ s.used_by }</td>
                                <td>{ resolution(&s.resolution) }</td>
                                <td>{ match &s.target_id {
                                    Some(id) => named(&s.target_name, id),
                                    None => html! { <span class="muted">{ "\u{2014}" }</span> },
                                } }</td>
                                if props.can_edit { <td>{ form(Some(s)) }</td> }
                            </tr>
                        }) }</tbody>
                    </table></div>
                }
            </section>
        </>
    }
}

fn named(name: &Option<String>, id: &str) -> Html {
    html! {
        <>
            { name.clone().unwrap_or_else(|| id.to_owned()) }
            if name.is_some() { <br /><code class="muted">{ id }</code> }
        </>
    }
}

fn resolution(r: &str) -> Html {
    let (status, label) = match r {
        "id" => ("ready", "same id"),
        "name" => ("needs_attention", "same name"),
        // Groups are not in the inventory: planning resolves them in the target's directory.
        "at_plan" => ("unknown", "resolved when planning"),
        _ => ("blocked", "unresolved"),
    };
    html! { <span data-resolution={r.to_owned()}>{ status_badge(status) }{ format!(" {label}") }</span> }
}

#[derive(Properties, PartialEq)]
struct MapFormProps {
    ws: String,
    source_env: String,
    target_env: String,
    /// The reference to map (kind and source fixed, target prefilled); a free row when absent.
    suggestion: Option<MappingSuggestion>,
    saved: Callback<()>,
}

/// Sets one row: POST `MappingChange` with it; a field the server refuses shows its message.
#[component]
fn MapForm(props: &MapFormProps) -> Html {
    let s = props.suggestion.clone();
    let draft = use_state(|| MappingSet {
        kind: s.as_ref().map_or_else(|| "group".to_owned(), |s| s.kind.clone()),
        source_id: s.as_ref().map(|s| s.source_id.clone()).unwrap_or_default(),
        target_id: s.as_ref().and_then(|s| s.target_id.clone()).unwrap_or_default(),
        source_name: s.as_ref().and_then(|s| s.source_name.clone()),
        target_name: s.as_ref().and_then(|s| s.target_name.clone()),
    });
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let edit = |apply: fn(&mut MappingSet, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            apply(&mut d, v);
            draft.set(d);
        })
    };
    let onsubmit = {
        let (draft, error, busy, saved) = (draft.clone(), error.clone(), busy.clone(), props.saved.clone());
        let (ws, source, target) = (props.ws.clone(), props.source_env.clone(), props.target_env.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = MappingChange {
                source_environment_id: source.clone(),
                target_environment_id: target.clone(),
                set: vec![(*draft).clone()],
                remove: Vec::new(),
            };
            let (ws, error, busy, saved) = (ws.clone(), error.clone(), busy.clone(), saved.clone());
            busy.set(true);
            spawn_local(async move {
                match change(&ws, &body).await {
                    Ok(()) => {
                        error.set(None);
                        saved.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let err = |name: &str| (*error).as_ref().and_then(|e| e.field_in_list(name));
    let prefix = match &s {
        Some(s) => format!("map-{}-{}", s.kind, s.source_id),
        None => "map-new".to_owned(),
    };
    let id = |f: &str| format!("{prefix}-{f}");
    let kinds: Vec<(String, String)> = KINDS.iter().map(|(k, l)| ((*k).to_owned(), (*l).to_owned())).collect();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        <form class="form form--inline mapping-form" {onsubmit} data-testid={prefix.clone()}>
            if s.is_none() {
                { select_field(&yew::props!(SelectFieldProps { id: id("kind"), label: "Kind", value: draft.kind.clone(), options: kinds, onchange: edit(|d, v| d.kind = v), error: err("kind") })) }
                { text_field(&yew::props!(TextFieldProps { id: id("source-id"), label: "Source id", value: draft.source_id.clone(), onchange: edit(|d, v| d.source_id = v), error: err("source_id"), required: true })) }
                { text_field(&yew::props!(TextFieldProps { id: id("source-name"), label: "Source name (optional)", value: opt(&draft.source_name), onchange: edit(|d, v| d.source_name = (!v.trim().is_empty()).then(|| v.trim().to_owned())), error: err("source_name") })) }
            }
            { text_field(&yew::props!(TextFieldProps { id: id("target-id"), label: "Target id", value: draft.target_id.clone(), onchange: edit(|d, v| d.target_id = v), error: err("target_id"), required: true })) }
            { text_field(&yew::props!(TextFieldProps { id: id("target-name"), label: "Target name (optional)", value: opt(&draft.target_name), onchange: edit(|d, v| d.target_name = (!v.trim().is_empty()).then(|| v.trim().to_owned())), error: err("target_name") })) }
            { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
            <button type="submit" class="button" disabled={*busy || draft.target_id.trim().is_empty()}>{ "Map" }</button>
        </form>
    }
}
