//! The workspace's permission posture (issue 16), a page of the second bundle: per environment
//! the canonical status from its latest verification (never Ready when stale or unverified),
//! each required permission granted or not and what it blocks, and when it was verified.

use atlas_api_types::{EnvironmentPosture, WorkspacePosture};
use yew::prelude::*;

use crate::api::{self, paths};
use crate::app::Route;
use crate::components::load;
use crate::components::markup::th;
use crate::components::status_badge::status_badge;
use crate::format;
use crate::hooks::use_load;
use crate::pages::workspace::WsProps;
use crate::router::Link;

#[component]
pub fn PosturePage(props: &WsProps) -> Html {
    let list = use_load(props.ws.clone(), |ws| async move {
        api::get::<WorkspacePosture>(&paths::workspace_posture(&ws)).await
    });
    let ws = props.ws.clone();
    html! {
        <>
            <div class="page-head"><h1>{ "Permission posture" }</h1></div>
            <p class="muted">{ "What each environment's last verification found: every permission TenantAtlas needs, granted or not, and what a missing one blocks. A report older than 7 days is not trusted as Ready; a missing permission is also a finding." }</p>
            { load::view(&list, "load the permission posture", |l: &WorkspacePosture| {
                if l.items.is_empty() {
                    return load::empty(html! { <>{ "No environment yet." }</> });
                }
                html! { <>{ for l.items.iter().map(|e| environment(&ws, e)) }</> }
            }) }
        </>
    }
}

fn environment(ws: &str, e: &EnvironmentPosture) -> Html {
    html! {
        <section class="panel posture" data-env={e.environment_id.clone()} data-status={e.status.as_str()}>
            <div class="page-head">
                <h2><Link to={Route::Provider { ws: ws.to_owned(), env: e.environment_id.clone() }}>{ &e.display_name }</Link></h2>
                { status_badge(e.status.as_str()) }
            </div>
            <p>{ &e.status_reason }</p>
            if let Some(r) = &e.latest {
                <p class="muted">{ format!("Verified {}", format::time(r.verified_ms)) }</p>
                if !r.permissions.is_empty() {
                    <div class="table-wrap"><table class="table">
                        <thead><tr>{ th("Permission") }{ th("Granted") }{ th("Blocks without it") }</tr></thead>
                        <tbody>{ for r.permissions.iter().map(|p| html! {
                            <tr class="permission" data-granted={p.granted.to_string()}>
                                <td><code>{ &p.permission }</code></td>
                                <td>if p.granted { <span class="chip chip--create">{ "Granted" }</span> } else { <span class="chip chip--conflict">{ "Missing" }</span> }</td>
                                <td>{ p.blocks.join(", ") }</td>
                            </tr>
                        }) }</tbody>
                    </table></div>
                }
            }
        </section>
    }
}
