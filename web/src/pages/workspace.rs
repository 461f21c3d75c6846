//! A workspace's overview: its environments with their status, and the latest runs.

use atlas_api_types::{Environment, EnvironmentList, OperationPage, ProviderConnection, Workspace};
use atlas_domain::{Capability, EnvironmentLifecycle, Status};
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::load;
use crate::components::status_badge::{status_badge, words};
use crate::format;
use crate::hooks::{Load, use_load};
use crate::pages::dashboard::DashboardView;
use crate::pages::findings::FindingsQuery;
use crate::pages::operations::{RunTableProps, run_table};
use crate::router::Link;
use crate::router::QueryPairs;

/// The hub's address for `env`'s open findings (all environments when empty).
fn open_query(env: &str) -> Option<QueryPairs> {
    Some(
        FindingsQuery {
            environment_id: env.to_owned(),
            status: "open".into(),
            ..FindingsQuery::default()
        }
        .pairs(),
    )
}

#[derive(Properties, PartialEq)]
pub struct WsProps {
    pub ws: String,
}

#[component]
pub fn WorkspacePage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let session = crate::session::use_session();
    let workspace = use_load(ws.clone(), |ws| async move {
        api::get::<Workspace>(&paths::workspace(&ws)).await
    });
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let runs = use_load(ws.clone(), |ws| async move {
        api::get::<OperationPage>(&with_query(&paths::operations(&ws), &[("limit", "5")])).await
    });
    load::view(&workspace, "load the workspace", |w: &Workspace| {
        html! {
            <>
                <h1>{ &w.name }</h1>
                <p class="muted">{ format!("{} owner{} \u{b7} created {} \u{b7} last activity {}", w.owner_count,
                    if w.owner_count == 1 { "" } else { "s" }, format::time(w.created_ms), format::time_opt(w.last_activity_ms)) }</p>
                <nav class="subnav" aria-label="Workspace">
                    <Link to={Route::Findings { ws: ws.clone() }} query={open_query("")} classes="button button--quiet">{ "Open findings" }</Link>
                    <Link to={Route::Baselines { ws: ws.clone() }} classes="button button--quiet">{ "Baselines" }</Link>
                    <Link to={Route::Compare { ws: ws.clone() }} classes="button button--quiet">{ "Compare" }</Link>
                    <Link to={Route::Promotions { ws: ws.clone() }} classes="button button--quiet">{ "Promotions" }</Link>
                    if session.can(&ws, Capability::EnvironmentsManage) {
                        <span data-testid="add-environment"><Link to={Route::Onboarding { ws: ws.clone() }} classes="button">{ "Add environment" }</Link></span>
                    }
                </nav>
                <DashboardView ws={ws.clone()} />
                <section class="panel" aria-labelledby="envs-title">
                    <h2 id="envs-title">{ "Managed environments" }</h2>
                    { load::view(&envs, "load the environments", |list: &EnvironmentList| {
                        if list.items.is_empty() {
                            return html! { { load::empty(html! { <>{ "No environments you are entitled to. An owner can add one or entitle you." }</> }) } };
                        }
                        html! {
                            <ul class="cards" data-testid="environment-list">
                                { for list.items.iter().map(|e| html! { <EnvCard ws={ws.clone()} env={e.clone()} /> }) }
                            </ul>
                        }
                    }) }
                </section>
                <section class="panel" aria-labelledby="runs-title">
                    <div class="panel__header">
                        <h2 id="runs-title">{ "Latest operations" }</h2>
                        <Link to={Route::Operations { ws: ws.clone() }}>{ "All operations" }</Link>
                    </div>
                    { load::view(&runs, "load the operations", |page: &OperationPage| html! {
                        { run_table(&yew::props!(RunTableProps { ws: ws.clone(), runs: page.items.clone(), envs: envs.state.ready().map(crate::pages::operations::names).unwrap_or_default() })) }
                    }) }
                </section>
            </>
        }
    })
}

#[derive(Properties, PartialEq)]
struct EnvCardProps {
    ws: String,
    env: Environment,
}

/// An environment with its health: an active environment is as healthy as its provider
/// connection, so the card asks the connection.
#[component]
fn EnvCard(props: &EnvCardProps) -> Html {
    let e = &props.env;
    let active = e.lifecycle == EnvironmentLifecycle::Active;
    let conn = use_load(
        (props.ws.clone(), e.id.clone(), active),
        |(ws, env, active)| async move {
            if !active {
                return Ok(None);
            }
            api::get::<ProviderConnection>(&paths::provider_connection(&ws, &env))
                .await
                .map(Some)
        },
    );
    let status = match &conn.state {
        Load::Ready(c) => c.as_ref().as_ref().map_or(Some(e.status), |c| Some(c.status)),
        Load::Loading => None,
        Load::Failed(_) => Some(Status::Unknown),
    };
    html! {
        <li class="card" data-testid={format!("environment-{}", e.id)}>
            <div class="card__head">
                <h3 class="card__title">
                    <Link to={Route::Environment { ws: props.ws.clone(), env: e.id.clone() }}>{ &e.display_name }</Link>
                </h3>
                if let Some(status) = status { { status_badge(status.as_str()) } }
            </div>
            <p class="muted">{ &e.primary_domain }{ " \u{b7} " }{ words(e.lifecycle.as_str()) }</p>
            <p>
                <Link to={Route::Findings { ws: props.ws.clone() }} query={open_query(&e.id)} classes="open-findings">
                    { "Open findings" }</Link>
            </p>
        </li>
    }
}
