//! A restore preview as the restore wizard and the promotion plan show it: the summary, what
//! happens to each item (create, update, unchanged, conflict) with its field changes, the group
//! mapping, and what blocks confirming it.

use std::collections::BTreeMap;

use atlas_api_types::{PreviewItem, RestorePreview};
use yew::prelude::*;

use crate::components::load;
use crate::components::markup::th;
use crate::components::status_badge::status_badge;

/// The value of a group mapping input that drops the group's assignments.
pub const DROP: &str = "\u{2205}drop";

/// The operator's group mapping, editable: source group → target group (`None` drops the
/// group's assignments). `on_change` gets the source group id and the input's raw value: empty
/// (match by id, then name), [`DROP`], or a target group id.
pub struct GroupEdit<'a> {
    /// The workspace and the restore's target environment, whose groups are searched.
    pub ws: &'a str,
    pub env: &'a str,
    pub mapping: &'a BTreeMap<String, Option<String>>,
    pub on_change: Callback<(String, String)>,
}

/// The preview; its group mapping is read-only without `edit` (the promotion's comes from the
/// workspace's mapping table).
pub fn preview_view(p: &RestorePreview, edit: Option<GroupEdit<'_>>) -> Html {
    html! {
        <div data-testid="preview" data-preview={p.id.clone()}>
            <p class="badges" data-testid="preview-summary">
                <span class="chip chip--create">{ format!("{} create", p.summary.create) }</span>
                <span class="chip chip--update">{ format!("{} update", p.summary.update) }</span>
                <span class="chip">{ format!("{} unchanged", p.summary.unchanged) }</span>
                <span class="chip chip--conflict">{ format!("{} conflict", p.summary.conflict) }</span>
            </p>
            if p.items.is_empty() {
                { load::empty(html! { <>{ "Nothing to restore." }</> }) }
            } else {
                <div class="table-wrap"><table class="table" data-testid="preview-items">
                    <thead><tr>{ th("Item") }{ th("Action") }{ th("Matched by") }{ th("Changes") }</tr></thead>
                    <tbody>{ for p.items.iter().map(preview_row) }</tbody>
                </table></div>
            }
            if !p.groups.is_empty() {
                { groups_view(p, edit) }
            }
        </div>
    }
}

fn groups_view(p: &RestorePreview, edit: Option<GroupEdit<'_>>) -> Html {
    let editable = edit.is_some();
    html! {
        <>
            <h3>{ "Group mapping" }</h3>
            <p class="muted">{ if editable {
                "Groups in the backup's assignments, and the group each becomes in this tenant. Change a mapping, then preview again."
            } else {
                "Groups in the source's assignments, and the group each becomes in the target (the mapping table applied)."
            } }</p>
            <div class="table-wrap"><table class="table" data-testid="group-mapping">
                <thead><tr>{ th("In the backup") }{ th("Resolution") }{ th(if editable { "In this tenant" } else { "In the target" }) }</tr></thead>
                <tbody>{ for p.groups.iter().map(|g| {
                    let target = g.target_name.clone().or(g.target_group_id.clone()).unwrap_or_default();
                    let input = edit.as_ref().map(|edit| {
                        let src = g.source_group_id.clone();
                        html! {
                            <GroupPicker ws={edit.ws.to_owned()} env={edit.env.to_owned()} source={src.clone()}
                                source_name={g.source_name.clone().unwrap_or_else(|| src.clone())}
                                dropped={matches!(edit.mapping.get(&src), Some(None))}
                                on_change={edit.on_change.clone()} />
                        }
                    });
                    html! {
                        <tr data-resolution={g.resolution.clone()}>
                            <td>{ g.source_name.clone().unwrap_or_else(|| g.source_group_id.clone()) }</td>
                            <td>{ status_badge(if g.resolution == "unmapped" { "blocked" } else { "ready" }) }{ format!(" {}", g.resolution) }</td>
                            <td>{ target }{ input.unwrap_or_default() }</td>
                        </tr>
                    }
                }) }</tbody>
            </table></div>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct GroupPickerProps {
    ws: String,
    env: String,
    /// The source group's id and name.
    source: String,
    source_name: String,
    /// Its assignments are dropped (the operator chose so).
    dropped: bool,
    on_change: Callback<(String, String)>,
}

/// Picks the target group by name (issue 19 item 3): the operator types part of a name, the
/// target tenant's groups starting with it are listed (debounced, live from Graph) and one click
/// maps the source group to one; or drops its assignments, or goes back to automatic matching.
#[component]
fn GroupPicker(props: &GroupPickerProps) -> Html {
    use atlas_api_types::{DirectoryGroup, DirectoryGroupList};
    use gloo_timers::callback::Timeout;

    let query = use_state(String::new);
    let found = use_state(|| None::<Result<Vec<DirectoryGroup>, crate::api::ApiError>>);
    let picked = use_state(|| None::<String>);
    let timer = use_mut_ref(|| None::<Timeout>);
    let oninput = {
        let (query, found, timer, ws, env) = (query.clone(), found.clone(), timer, props.ws.clone(), props.env.clone());
        Callback::from(move |e: InputEvent| {
            let typed = crate::components::field::value_of(&e);
            query.set(typed.clone());
            let (found, ws, env) = (found.clone(), ws.clone(), env.clone());
            if typed.trim().is_empty() {
                *timer.borrow_mut() = None;
                found.set(None);
                return;
            }
            // A request per pause in typing, not per key.
            *timer.borrow_mut() = Some(Timeout::new(250, move || {
                wasm_bindgen_futures::spawn_local(async move {
                    let path = crate::api::with_query(
                        &crate::api::paths::directory_groups(&ws, &env),
                        &[("search", typed.trim())],
                    );
                    found.set(Some(
                        crate::api::get::<DirectoryGroupList>(&path).await.map(|l| l.items),
                    ));
                });
            }));
        })
    };
    let choose = |raw: String, name: Option<String>| {
        let (on_change, src, picked, found, query) = (
            props.on_change.clone(),
            props.source.clone(),
            picked.clone(),
            found.clone(),
            query.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            picked.set(name.clone());
            found.set(None);
            query.set(String::new());
            on_change.emit((src.clone(), raw.clone()));
        })
    };
    let id = format!("map-{}", props.source);
    html! {
        <div class="group-picker" data-source={props.source.clone()}>
            if let Some(name) = &*picked {
                <p class="muted" data-testid="picked-group">{ format!("Chosen: {name} (preview again to apply)") }</p>
            } else if props.dropped {
                <p class="muted" data-testid="picked-group">{ "Its assignments are dropped." }</p>
            }
            <label class="visually-hidden" for={id.clone()}>{ format!("Target group for {}", props.source_name) }</label>
            <input {id} type="search" class="mapping" autocomplete="off" placeholder="Type a group name\u{2026}"
                value={(*query).clone()} {oninput} />
            <button type="button" class="link" data-testid="drop-group" onclick={choose(DROP.to_owned(), None)}>{ "Drop its assignments" }</button>
            if props.dropped || picked.is_some() {
                { " \u{b7} " }<button type="button" class="link" onclick={choose(String::new(), None)}>{ "Match automatically" }</button>
            }
            { match &*found {
                None => Html::default(),
                Some(Err(e)) => html! { <p class="field__error">{ e.to_string() }</p> },
                Some(Ok(groups)) if groups.is_empty() => html! { <p class="muted">{ "No group of this tenant starts with that." }</p> },
                Some(Ok(groups)) => html! {
                    <ul class="group-results" aria-label="Groups of this tenant">{ for groups.iter().map(|g| html! {
                        <li><button type="button" class="link group-option" data-id={g.id.clone()}
                            onclick={choose(g.id.clone(), Some(g.display_name.clone()))}>{ &g.display_name }</button></li>
                    }) }</ul>
                },
            } }
        </div>
    }
}

/// What keeps a preview from being confirmed; nothing when the list is empty.
pub fn blockers_view(blockers: &[String], title: &'static str) -> Html {
    if blockers.is_empty() {
        return Html::default();
    }
    html! {
        <div class="alert" role="alert" data-testid="blockers"><p class="alert__title">{ title }</p>
            <ul>{ for blockers.iter().map(|b| html! { <li>{ b }</li> }) }</ul></div>
    }
}

fn preview_row(i: &PreviewItem) -> Html {
    html! {
        <tr data-action={i.action.clone()}>
            <td>{ &i.name }<br /><span class="muted">{ format!("{} \u{b7} {}", crate::families::label(&i.family), i.family) }</span>
                { for i.warnings.iter().map(|w| html! { <p class="muted">{ "\u{26a0} " }{ w }</p> }) }
                if let Some(c) = &i.conflict { <p class="form-error">{ c }</p> }
            </td>
            <td><span class={classes!("chip", format!("chip--{}", i.action))}>{ &i.action }</span></td>
            <td>{ &i.matched_by }</td>
            <td>
                if i.changes.is_empty() && i.assignments.added.is_empty() && i.assignments.removed.is_empty() {
                    <span class="muted">{ "\u{2014}" }</span>
                } else {
                    <details class="change">
                        <summary>{ format!("{} fields, assignments +{} \u{2212}{}", i.changes.len(), i.assignments.added.len(), i.assignments.removed.len()) }</summary>
                        <ul>{ for i.changes.iter().map(|c| html! {
                            <li><code>{ &c.path }</code>{ ": " }
                                <code>{ c.before.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "\u{2205}".into()) }</code>
                                { " \u{2192} " }
                                <code>{ c.after.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "\u{2205}".into()) }</code>
                                if c.secret {
                                    { " " }<span class="chip chip--secret" data-testid="secret-change"
                                        title="A secret differs: its values are hidden here; the restore writes the captured value.">
                                        { "secret changed" }</span>
                                }</li>
                        }) }
                        { for i.assignments.added.iter().map(|a| html! { <li>{ "+ " }{ a }</li> }) }
                        { for i.assignments.removed.iter().map(|a| html! { <li>{ "\u{2212} " }{ a }</li> }) }
                        { for i.assignments.dropped.iter().map(|a| html! { <li>{ "dropped: " }{ a }</li> }) }
                        </ul>
                    </details>
                }
            </td>
        </tr>
    }
}
