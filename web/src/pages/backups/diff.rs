//! What changed between two backup sets, field by field.

use atlas_api_types::{BackupDiff, BackupItem};
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::load;
use crate::hooks::use_load;
use crate::router::Link;

#[derive(Properties, PartialEq)]
pub struct DiffProps {
    pub ws: String,
    pub env: String,
    pub set: String,
    pub other: String,
}

#[component]
pub fn BackupDiffPage(props: &DiffProps) -> Html {
    let key = (
        props.ws.clone(),
        props.env.clone(),
        props.set.clone(),
        props.other.clone(),
    );
    let diff = use_load(key.clone(), |(ws, env, set, other)| async move {
        api::get::<BackupDiff>(&with_query(&paths::backup_diff(&ws, &env, &set), &[("with", &other)])).await
    });
    let (ws, env, ..) = key;
    let item_list = |items: &[BackupItem]| {
        html! {
            <ul>{ for items.iter().map(|i| html! { <li>{ &i.name }<span class="muted">{ format!(" ({})", i.family) }</span></li> }) }</ul>
        }
    };
    html! {
        <>
            <div class="page-head">
                <h1>{ "Compare backup sets" }</h1>
                <Link to={Route::Backups { ws, env }}>{ "Back to backups" }</Link>
            </div>
            { load::view(&diff, "compare the sets", |d: &BackupDiff| html! {
                <div data-testid="backup-diff">
                    <p>{ format!("{} added \u{b7} {} removed \u{b7} {} changed \u{b7} {} unchanged", d.added.len(), d.removed.len(), d.changed.len(), d.unchanged) }</p>
                    if d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty() {
                        { load::empty(html! { <>{ "No difference between the two sets." }</> }) }
                    }
                    if !d.added.is_empty() { <section class="panel"><h2>{ "Added" }</h2>{ item_list(&d.added) }</section> }
                    if !d.removed.is_empty() { <section class="panel"><h2>{ "Removed" }</h2>{ item_list(&d.removed) }</section> }
                    if !d.changed.is_empty() {
                        <section class="panel"><h2>{ "Changed" }</h2>
                            { for d.changed.iter().map(|c| html! {
                                <details class="change">
                                    <summary>{ &c.item.name }<span class="muted">{ format!(" ({}, {} fields)", c.item.family, c.fields.len()) }</span></summary>
                                    <div class="table-wrap"><table class="table">
                                        <thead><tr>{ crate::components::markup::th("Field") }{ crate::components::markup::th("Before") }{ crate::components::markup::th("After") }</tr></thead>
                                        <tbody>{ for c.fields.iter().map(|f| html! {
                                            <tr><td><code>{ &f.path }</code>
                                                if f.secret {
                                                    { " " }<span class="chip chip--secret" title="A secret differs: its values are hidden.">{ "secret changed" }</span>
                                                }</td>
                                                <td><code>{ f.before.as_ref().map(|v| v.to_string()).unwrap_or_default() }</code></td>
                                                <td><code>{ f.after.as_ref().map(|v| v.to_string()).unwrap_or_default() }</code></td></tr>
                                        }) }</tbody>
                                    </table></div>
                                </details>
                            }) }
                        </section>
                    }
                </div>
            }) }
        </>
    }
}
