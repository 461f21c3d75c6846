//! An environment: connection health, permission posture, last sync and last backup, and the
//! way to its inventory, backups and runs.

use atlas_api_types::{BackupSetList, Environment, OperationPage, OperationRun, ProviderConnection};
use atlas_domain::{Capability, EnvironmentLifecycle};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::status_badge::{severity_badge, status_badge};
use crate::format;
use crate::hooks::use_load;
use crate::router::Link;
use crate::session::{use_select_environment, use_session};

#[derive(Properties, PartialEq, Clone)]
pub struct EnvProps {
    pub ws: String,
    pub env: String,
}

#[component]
pub fn EnvironmentPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let env = use_load(key.clone(), |(ws, env)| async move {
        api::get::<Environment>(&paths::environment(&ws, &env)).await
    });
    use_select_environment(
        &props.ws,
        &props.env,
        env.state.ready().is_some(),
        env.state.ready().map(|e| e.display_name.clone()),
    );
    let conn = use_load(key.clone(), |(ws, env)| async move {
        api::get::<ProviderConnection>(&paths::provider_connection(&ws, &env)).await
    });
    let last_sync = use_load(key.clone(), |(ws, env)| async move {
        let path = with_query(
            &paths::operations(&ws),
            &[
                ("environment_id", &env),
                ("operation_type", "inventory.sync"),
                ("limit", "1"),
            ],
        );
        api::get::<OperationPage>(&path).await
    });
    let backups = use_load(key.clone(), |(ws, env)| async move {
        api::get::<BackupSetList>(&paths::backups(&ws, &env)).await
    });
    let started = use_state(|| None::<OperationRun>);
    let error = use_state(|| None::<ApiError>);
    let sync = {
        let (started, error, key) = (started.clone(), error.clone(), key.clone());
        Callback::from(move |_: MouseEvent| {
            let (started, error, (ws, env)) = (started.clone(), error.clone(), key.clone());
            spawn_local(async move {
                match api::post_empty::<OperationRun>(&paths::inventory_sync(&ws, &env)).await {
                    Ok(run) => {
                        error.set(None);
                        started.set(Some(run));
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let on_done = {
        let reload = last_sync.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    let (ws, env_id) = key.clone();
    let can_sync = session.can(&ws, Capability::InventorySync);
    let conn_status = conn.state.ready().map(|c| c.status);
    load::view(&env, "load the environment", |e: &Environment| {
        // An active environment is as healthy as its provider connection.
        let status = match (conn_status, e.lifecycle) {
            (Some(c), EnvironmentLifecycle::Active) => c,
            _ => e.status,
        };
        html! {
            <>
                <div class="page-head">
                    <h1>{ &e.display_name }</h1>
                    { status_badge(status.as_str()) }
                </div>
                <p class="muted">{ format!("{} \u{b7} tenant {} \u{b7} {}", e.primary_domain, e.tenant_id, crate::components::status_badge::words(e.lifecycle.as_str())) }</p>
                { crate::components::envs::lifecycle_banner(e.lifecycle) }
                <nav class="subnav" aria-label="Environment">
                    <Link to={Route::Provider { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Provider connection" }</Link>
                    <Link to={Route::Inventory { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Inventory" }</Link>
                    <Link to={Route::Backups { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Backups" }</Link>
                    if let Some(why) = session.lacks(&ws, Capability::RestorePreview) {
                        { crate::components::markup::unavailable("Restore", why) }
                    } else {
                        <Link to={Route::Restores { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Restore" }</Link>
                    }
                    <Link to={Route::Drift { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Drift" }</Link>
                    <Link to={Route::Lint { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Lint" }</Link>
                    <Link to={Route::Findings { ws: ws.clone() }} classes="button button--quiet"
                        query={Some(vec![("environment_id", env_id.clone())])}>{ "Findings" }</Link>
                    <Link to={Route::Operations { ws: ws.clone() }} classes="button button--quiet"
                        query={Some(vec![("environment_id", env_id.clone())])}>{ "Operations" }</Link>
                    <Link to={Route::EnvironmentSettings { ws: ws.clone(), env: env_id.clone() }} classes="button button--quiet">{ "Settings" }</Link>
                </nav>
                <crate::pages::dashboard::DashboardView ws={ws.clone()} env={Some(env_id.clone())} />
                <div class="grid">
                    <section class="panel" aria-labelledby="conn-title">
                        <h2 id="conn-title">{ "Connection health" }</h2>
                        { load::view(&conn, "load the provider connection", |c: &ProviderConnection| html! {
                            <>
                                <p>{ status_badge(c.status.as_str()) }{ " " }{ &c.status_reason }</p>
                                if let Some(v) = &c.verification {
                                    <p class="muted">{ "Last verified " }{ format::when(v.at_ms) }</p>
                                }
                                <h3>{ "Permission posture" }</h3>
                                { posture(c, true) }
                            </>
                        }) }
                    </section>
                    <section class="panel" aria-labelledby="sync-title">
                        <h2 id="sync-title">{ "Last inventory sync" }</h2>
                        { load::view(&last_sync, "load the last sync", |p: &OperationPage| match p.items.first() {
                            None => html! { { load::empty(html! { <>{ "Never synced." }</> }) } },
                            Some(r) => html! {
                                <p data-testid="last-sync">
                                    { status_badge(r.status.as_str()) }{ " " }
                                    <Link to={Route::Run { ws: ws.clone(), run: r.id.clone() }}>{ format::when(r.created_ms) }</Link>
                                    { format!(" \u{b7} {} of {} families", r.succeeded, r.total) }
                                </p>
                            },
                        }) }
                        if can_sync {
                            <button type="button" class="button" onclick={sync.clone()} data-testid="sync-inventory">{ "Sync inventory" }</button>
                        } else if let Some(why) = session.lacks(&ws, Capability::InventorySync) {
                            { crate::components::markup::why_not(why) }
                        }
                        { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                        if let Some(run) = &*started {
                            <LiveRun ws={ws.clone()} run={run.clone()} on_done={on_done.clone()} />
                        }
                    </section>
                    <section class="panel" aria-labelledby="backup-title">
                        <h2 id="backup-title">{ "Last backup" }</h2>
                        { load::view(&backups, "load the backups", |b: &BackupSetList| match b.items.first() {
                            None => html! { { load::empty(html! { <>{ "No backup yet." }</> }) } },
                            Some(s) => html! {
                                <p>
                                    { status_badge(s.status.as_str()) }{ " " }
                                    <Link to={Route::BackupSet { ws: ws.clone(), env: env_id.clone(), set: s.id.clone() }}>{ format::when(s.created_ms) }</Link>
                                    { format!(" \u{b7} {} families", s.families.len()) }
                                </p>
                            },
                        }) }
                    </section>
                </div>
            </>
        }
    })
}

/// The permission posture from the last verification. `compact` lists only what is missing (for
/// the environment page); otherwise every permission with what it blocks.
pub fn posture(c: &ProviderConnection, compact: bool) -> Html {
    let Some(v) = &c.verification else {
        return html! { { load::empty(html! { <>{ "Not verified yet: verify the connection to see which permissions are granted." }</> }) } };
    };
    if !v.token_ok {
        return html! { <p class="form-error">{ "No token could be acquired: " }{ v.error.clone().unwrap_or_default() }</p> };
    }
    let missing: Vec<_> = v.permissions.iter().filter(|p| !p.granted).collect();
    let summary = html! {
        <p data-testid="permission-posture">{ format!("{} of {} required permissions granted", v.permissions.len() - missing.len(), v.permissions.len()) }</p>
    };
    if compact {
        return html! {
            <>
                { summary }
                if !missing.is_empty() {
                    <ul>{ for missing.iter().map(|p| html! {
                        <li>{ severity_badge("high") }{ " " }<code>{ &p.permission }</code>{ format!(" \u{2014} blocks {}", p.blocks.join(", ")) }</li>
                    }) }</ul>
                }
            </>
        };
    }
    html! {
        <>
            { summary }
            <div class="table-wrap"><table class="table">
                <thead><tr>{ crate::components::markup::th("Permission") }{ crate::components::markup::th("Granted") }{ crate::components::markup::th("Needed for") }</tr></thead>
                <tbody>{ for v.permissions.iter().map(|p| html! {
                    <tr>
                        <td><code>{ &p.permission }</code></td>
                        <td>if p.granted { <span class="badge badge--ok">{ "\u{2713} Granted" }</span> } else { { severity_badge("high") }{ " Missing" } }</td>
                        <td>{ p.blocks.join(", ") }</td>
                    </tr>
                }) }</tbody>
            </table></div>
            if !v.probes.is_empty() {
                <p class="muted">{ format!("{} of {} policy families answered the probe", v.probes.iter().filter(|p| p.ok).count(), v.probes.len()) }</p>
            }
        </>
    }
}
