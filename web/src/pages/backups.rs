//! Backups: run now with live progress, sets (status honest: partial and failed say so), a
//! compare of two sets, and the schedule editor with its next runs and retention.

use atlas_api_types::{
    BackupDiff, BackupItem, BackupSchedule, BackupScheduleCreate, BackupScheduleList, BackupSetDetail, BackupSetList,
    BackupStart, Confirm, Environment, OperationRun,
};
use atlas_domain::{BackupSetStatus, Capability};
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::app::Route;
use crate::components::confirm::ConfirmDialog;
use crate::components::error::FormError;
use crate::components::field::{SelectField, TextField};
use crate::components::json::JsonView;
use crate::components::live_run::LiveRun;
use crate::components::load::{self, Empty};
use crate::components::status_badge::{OutcomeBadge, StatusBadge};
use crate::format;
use crate::hooks::use_load;
use crate::pages::environment::EnvProps;
use crate::session::{use_select_environment, use_session};

#[component]
pub fn BackupsPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let sets = use_load(key.clone(), |(ws, env)| async move {
        api::get::<BackupSetList>(&paths::backups(&ws, &env)).await
    });
    use_select_environment(&props.ws, &props.env, sets.state.ready().is_some());
    let started = use_state(|| None::<OperationRun>);
    let error = use_state(|| None::<ApiError>);
    let run_now = {
        let (started, error, key, reload) = (started.clone(), error.clone(), key.clone(), sets.reload.clone());
        Callback::from(move |_: MouseEvent| {
            let (started, error, (ws, env), reload) = (started.clone(), error.clone(), key.clone(), reload.clone());
            spawn_local(async move {
                let path = paths::backups(&ws, &env);
                match api::post::<_, OperationRun>(&path, &BackupStart::default()).await {
                    Ok(run) => {
                        error.set(None);
                        started.set(Some(run));
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let on_done = {
        let reload = sets.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    let from = use_state(String::new);
    let to = use_state(String::new);
    let navigator = use_navigator();
    let compare = {
        let (from, to, navigator, key) = (from.clone(), to.clone(), navigator.clone(), key.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(nav) = &navigator
                && !from.is_empty()
                && !to.is_empty()
            {
                nav.push(&Route::BackupDiff {
                    ws: key.0.clone(),
                    env: key.1.clone(),
                    set: (*from).clone(),
                    other: (*to).clone(),
                });
            }
        })
    };
    let (ws, env) = key.clone();
    let can_run = session.can(&ws, Capability::BackupRun);
    html! {
        <>
            <div class="page-head">
                <h1>{ "Backups" }</h1>
                <Link<Route> to={Route::Environment { ws: ws.clone(), env: env.clone() }}>{ env.clone() }</Link<Route>>
            </div>
            if can_run {
                <section class="panel" aria-labelledby="run-title">
                    <h2 id="run-title">{ "Back up now" }</h2>
                    <p>{ "Captures every policy family with its assignments. A family that cannot be read makes the set partial, never complete." }</p>
                    <button type="button" class="button" onclick={run_now} data-testid="run-backup">{ "Run backup now" }</button>
                    <FormError error={(*error).clone()} />
                    if let Some(run) = &*started {
                        <LiveRun ws={ws.clone()} run={run.clone()} {on_done} />
                    }
                </section>
            }
            <section class="panel" aria-labelledby="sets-title">
                <h2 id="sets-title">{ "Backup sets" }</h2>
                { load::view(&sets, "load the backup sets", |list: &BackupSetList| {
                    if list.items.is_empty() {
                        return html! { <Empty>{ "No backup yet." }</Empty> };
                    }
                    let options: Vec<(String, String)> = std::iter::once((String::new(), "Choose a set".to_owned()))
                        .chain(list.items.iter().map(|s| (s.id.clone(), format!("{} ({})", format::time(s.created_ms), s.status))))
                        .collect();
                    html! {
                        <>
                            <div class="table-wrap"><table class="table" data-testid="backup-sets">
                                <thead><tr><th scope="col">{ "Taken" }</th><th scope="col">{ "Status" }</th><th scope="col">{ "Families" }</th><th scope="col">{ "Run" }</th></tr></thead>
                                <tbody>{ for list.items.iter().map(|s| html! {
                                    <tr data-set={s.id.clone()} data-status={s.status.as_str()}>
                                        <td><Link<Route> to={Route::BackupSet { ws: ws.clone(), env: env.clone(), set: s.id.clone() }}>{ format::time(s.created_ms) }</Link<Route>></td>
                                        <td><OutcomeBadge outcome={s.status.as_str()} /></td>
                                        <td>{ s.families.len() }</td>
                                        <td>{ s.run.as_ref().map(|r| html! {
                                            <Link<Route> to={Route::Run { ws: ws.clone(), run: r.id.clone() }}>
                                                { format!("{}/{} items", r.succeeded, r.total) }
                                            </Link<Route>>
                                        }).unwrap_or_default() }</td>
                                    </tr>
                                }) }</tbody>
                            </table></div>
                            if list.items.len() > 1 {
                                <form class="toolbar" onsubmit={compare.clone()} aria-label="Compare two sets">
                                    <SelectField id="diff-from" label="Compare from" value={(*from).clone()} options={options.clone()}
                                        onchange={{ let s = from.clone(); Callback::from(move |v| s.set(v)) }} />
                                    <SelectField id="diff-to" label="to" value={(*to).clone()} options={options}
                                        onchange={{ let s = to.clone(); Callback::from(move |v| s.set(v)) }} />
                                    <button type="submit" class="button" disabled={from.is_empty() || to.is_empty()}>{ "Compare" }</button>
                                </form>
                            }
                        </>
                    }
                }) }
            </section>
            <Schedules ws={ws.clone()} env={env.clone()} />
        </>
    }
}

#[component]
fn Schedules(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let list = use_load(key.clone(), |(ws, env)| async move {
        api::get::<BackupScheduleList>(&paths::backup_schedules(&ws, &env)).await
    });
    let kind = use_state(|| "interval".to_owned());
    let every = use_state(|| "1440".to_owned());
    let cron = use_state(|| "30 2 * * *".to_owned());
    let tz = use_state(|| "UTC".to_owned());
    let keep_last = use_state(|| "7".to_owned());
    let keep_days = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let can_manage = session.can(&key.0, Capability::BackupManage);
    let create = {
        let (kind, cron) = (kind.clone(), cron.clone());
        let (every, tz, keep_last, keep_days, error, busy, key, reload) = (
            every.clone(),
            tz.clone(),
            keep_last.clone(),
            keep_days.clone(),
            error.clone(),
            busy.clone(),
            key.clone(),
            list.reload.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let num = |s: &str| s.trim().parse::<u32>().ok();
            let body = BackupScheduleCreate {
                // An unparsable number goes as 0 so the server names the field.
                every_minutes: (*kind == "interval").then(|| num(&every).unwrap_or(0)),
                cron: (*kind == "cron").then(|| (*cron).clone()),
                time_zone: (*tz).clone(),
                families: None,
                first_due_ms: None,
                keep_last: num(&keep_last),
                keep_days: num(&keep_days),
                keep_partial: None,
            };
            let (error, busy, (ws, env), reload) = (error.clone(), busy.clone(), key.clone(), reload.clone());
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, BackupSchedule>(&paths::backup_schedules(&ws, &env), &body).await {
                    Ok(_) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let remove = {
        let (error, key, reload) = (error.clone(), key.clone(), list.reload.clone());
        Callback::from(move |id: String| {
            let (error, (ws, env), reload) = (error.clone(), key.clone(), reload.clone());
            spawn_local(async move {
                let path = paths::backup_schedule(&ws, &env, &id);
                match api::delete::<()>(&path, None).await {
                    Ok(()) => reload.emit(()),
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let err = (*error).clone();
    let field = |n: &str| err.as_ref().and_then(|e| e.field(n));
    html! {
        <section class="panel" aria-labelledby="sched-title">
            <h2 id="sched-title">{ "Schedules" }</h2>
            { load::view(&list, "load the schedules", |l: &BackupScheduleList| {
                if l.items.is_empty() {
                    return html! { <Empty>{ "No schedule: backups run only when started by hand." }</Empty> };
                }
                html! {
                    <ul class="cards" data-testid="schedules">{ for l.items.iter().map(|s| {
                        let id = s.id.clone();
                        let remove = remove.clone();
                        html! {
                            <li class="card">
                                <p><strong>{ when_text(s) }</strong>{ format!(" \u{b7} {} \u{b7} retention: {}", s.time_zone, retention(s)) }</p>
                                <p class="muted">{ "Next runs: " }{ s.upcoming_ms.iter().map(|m| format::time(*m)).collect::<Vec<_>>().join(", ") }</p>
                                if can_manage {
                                    <button type="button" class="button button--quiet" onclick={Callback::from(move |_: MouseEvent| remove.emit(id.clone()))}>{ "Delete schedule" }</button>
                                }
                            </li>
                        }
                    }) }</ul>
                }
            }) }
            if can_manage {
                <form class="form" onsubmit={create} aria-label="New schedule">
                    <h3>{ "New schedule" }</h3>
                    <SelectField id="sched-kind" label="Runs" value={(*kind).clone()}
                        options={vec![("interval".into(), "At a fixed interval".into()), ("cron".into(), "At cron times".into())]}
                        onchange={{ let s = kind.clone(); Callback::from(move |v| s.set(v)) }} />
                    if *kind == "interval" {
                        <SelectField id="sched-every" label="Every" value={(*every).clone()}
                            options={vec![("60".into(), "hour".into()), ("360".into(), "6 hours".into()), ("720".into(), "12 hours".into()),
                                ("1440".into(), "day".into()), ("10080".into(), "week".into())]}
                            onchange={{ let s = every.clone(); Callback::from(move |v| s.set(v)) }} error={field("every_minutes")} />
                    } else {
                        <TextField id="sched-cron" label="Cron (minute hour day month weekday)" value={(*cron).clone()}
                            hint="Evaluated in the time zone below, e.g. 30 2 * * * for 02:30 every day"
                            onchange={{ let s = cron.clone(); Callback::from(move |v| s.set(v)) }} error={field("cron")} />
                    }
                    <TextField id="sched-tz" label="Time zone (IANA)" value={(*tz).clone()}
                        onchange={{ let s = tz.clone(); Callback::from(move |v| s.set(v)) }} error={field("time_zone")} />
                    <TextField id="sched-keep-last" label="Keep the newest N sets" kind="number" value={(*keep_last).clone()}
                        onchange={{ let s = keep_last.clone(); Callback::from(move |v| s.set(v)) }} error={field("keep_last")} />
                    <TextField id="sched-keep-days" label="Keep sets younger than N days" kind="number" value={(*keep_days).clone()}
                        onchange={{ let s = keep_days.clone(); Callback::from(move |v| s.set(v)) }} error={field("keep_days")} />
                    <FormError error={err.clone()} />
                    <button type="submit" class="button" disabled={*busy}>{ "Add schedule" }</button>
                </form>
            }
        </section>
    }
}

fn when_text(s: &BackupSchedule) -> String {
    match (&s.cron, s.every_minutes) {
        (Some(cron), _) => format!("At \u{201c}{cron}\u{201d}"),
        (None, Some(m)) => every_text(m),
        (None, None) => "Unscheduled".into(),
    }
}

fn every_text(minutes: u32) -> String {
    match minutes {
        m if m % 1440 == 0 => format!("Every {} day(s)", m / 1440),
        m if m % 60 == 0 => format!("Every {} hour(s)", m / 60),
        m => format!("Every {m} minutes"),
    }
}

fn retention(s: &BackupSchedule) -> String {
    match (s.keep_last, s.keep_days) {
        (None, None) => "keep everything".into(),
        (Some(n), None) => format!("newest {n}"),
        (None, Some(d)) => format!("{d} days"),
        (Some(n), Some(d)) => format!("newest {n} and anything under {d} days"),
    }
}

/// Opens the restore page with this set chosen.
#[derive(Clone, PartialEq, serde::Serialize)]
struct RestoreQuery {
    set: String,
}

#[derive(Properties, PartialEq)]
pub struct SetProps {
    pub ws: String,
    pub env: String,
    pub set: String,
}

#[component]
pub fn BackupSetPage(props: &SetProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone(), props.set.clone());
    let detail = use_load(key.clone(), |(ws, env, set)| async move {
        api::get::<BackupSetDetail>(&paths::backup(&ws, &env, &set)).await
    });
    let env = use_load(key.clone(), |(ws, env, _)| async move {
        api::get::<Environment>(&paths::environment(&ws, &env)).await
    });
    let confirming = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let navigator = use_navigator();
    let delete = {
        let (error, busy, key, navigator) = (error.clone(), busy.clone(), key.clone(), navigator.clone());
        Callback::from(move |confirm: String| {
            let (error, busy, (ws, env, set), navigator) =
                (error.clone(), busy.clone(), key.clone(), navigator.clone());
            busy.set(true);
            spawn_local(async move {
                let path = paths::backup(&ws, &env, &set);
                match api::delete(&path, Some(&Confirm { confirm })).await {
                    Ok(()) => {
                        if let Some(nav) = navigator {
                            nav.push(&Route::Backups { ws, env });
                        }
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let (ws, env_id, set_id) = key.clone();
    let env_name = env.state.ready().map(|e| e.display_name.clone()).unwrap_or_default();
    load::view(&detail, "load the backup set", |d: &BackupSetDetail| {
        html! {
            <>
                <div class="page-head">
                    <h1>{ format!("Backup of {}", format::time(d.set.created_ms)) }</h1>
                    <StatusBadge status={d.set.status.as_str()} />
                </div>
                <p><Link<Route> to={Route::Backups { ws: ws.clone(), env: env_id.clone() }}>{ "Back to backups" }</Link<Route>>
                    if let Some(r) = &d.set.run {
                        { " \u{b7} " }<Link<Route> to={Route::Run { ws: ws.clone(), run: r.id.clone() }}>{ "The capture run" }</Link<Route>>
                    }
                </p>
                if session.can(&ws, Capability::RestorePreview) {
                    <p><Link<Route, RestoreQuery> to={Route::Restores { ws: ws.clone(), env: env_id.clone() }} classes="button"
                        query={Some(RestoreQuery { set: set_id.clone() })}>{ "Restore from this set\u{2026}" }</Link<Route, RestoreQuery>></p>
                }
                if matches!(d.set.status, BackupSetStatus::Partial | BackupSetStatus::Failed) {
                    <div class="banner banner--warn" role="status">{ "Not every family was captured: the capture run lists which failed." }</div>
                }
                <section class="panel" aria-labelledby="items-title">
                    <h2 id="items-title">{ format!("{} items", d.items.len()) }</h2>
                    if d.items.is_empty() {
                        <Empty>{ "This set holds no items." }</Empty>
                    } else {
                        <div class="table-wrap"><table class="table" data-testid="backup-items">
                            <thead><tr><th scope="col">{ "Name" }</th><th scope="col">{ "Family" }</th><th scope="col">{ "Content hash" }</th></tr></thead>
                            <tbody>{ for d.items.iter().map(|i: &BackupItem| html! {
                                <tr>
                                    <td><Link<Route> to={Route::BackupItem { ws: ws.clone(), env: env_id.clone(), set: set_id.clone(), family: i.family.clone(), item: i.id.clone() }}>{ &i.name }</Link<Route>></td>
                                    <td>{ &i.family }</td>
                                    <td><code>{ i.hash.chars().take(12).collect::<String>() }</code></td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                    }
                </section>
                if session.can(&ws, Capability::BackupManage) {
                    <section class="panel panel--danger" aria-labelledby="del-title">
                        <h2 id="del-title">{ "Delete this set" }</h2>
                        if *confirming {
                            <ConfirmDialog id="delete-set" title="Delete the backup set" expected={env_name.clone()} action_label="Delete set"
                                busy={*busy} error={(*error).clone()} on_confirm={delete.clone()}
                                on_cancel={{ let c = confirming.clone(); Callback::from(move |()| c.set(false)) }}>
                                <p>{ "The set and its captured items are removed. Restores can no longer use it." }</p>
                            </ConfirmDialog>
                        } else {
                            <button type="button" class="button button--danger" onclick={{ let c = confirming.clone(); Callback::from(move |_: MouseEvent| c.set(true)) }}>{ "Delete set\u{2026}" }</button>
                        }
                    </section>
                }
            </>
        }
    })
}

#[derive(Properties, PartialEq)]
pub struct BackupItemProps {
    pub ws: String,
    pub env: String,
    pub set: String,
    pub family: String,
    pub item: String,
}

#[component]
pub fn BackupItemPage(props: &BackupItemProps) -> Html {
    let key = (
        props.ws.clone(),
        props.env.clone(),
        props.set.clone(),
        props.family.clone(),
        props.item.clone(),
    );
    let json = use_load(key.clone(), |(ws, env, set, family, item)| async move {
        api::get::<serde_json::Value>(&paths::backup_item(&ws, &env, &set, &family, &item)).await
    });
    let (ws, env, set, family, item) = key;
    html! {
        <>
            <div class="page-head">
                <h1>{ format!("{family} / {item}") }</h1>
                <Link<Route> to={Route::BackupSet { ws, env, set }}>{ "Back to the set" }</Link<Route>>
            </div>
            <p class="muted">{ "The captured object as stored in the backup; secret-looking values are redacted." }</p>
            { load::view(&json, "load the captured object", |v: &serde_json::Value| html! { <JsonView value={v.clone()} label="Captured object" /> }) }
        </>
    }
}

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
                <Link<Route> to={Route::Backups { ws, env }}>{ "Back to backups" }</Link<Route>>
            </div>
            { load::view(&diff, "compare the sets", |d: &BackupDiff| html! {
                <div data-testid="backup-diff">
                    <p>{ format!("{} added \u{b7} {} removed \u{b7} {} changed \u{b7} {} unchanged", d.added.len(), d.removed.len(), d.changed.len(), d.unchanged) }</p>
                    if d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty() {
                        <Empty>{ "No difference between the two sets." }</Empty>
                    }
                    if !d.added.is_empty() { <section class="panel"><h2>{ "Added" }</h2>{ item_list(&d.added) }</section> }
                    if !d.removed.is_empty() { <section class="panel"><h2>{ "Removed" }</h2>{ item_list(&d.removed) }</section> }
                    if !d.changed.is_empty() {
                        <section class="panel"><h2>{ "Changed" }</h2>
                            { for d.changed.iter().map(|c| html! {
                                <details class="change">
                                    <summary>{ &c.item.name }<span class="muted">{ format!(" ({}, {} fields)", c.item.family, c.fields.len()) }</span></summary>
                                    <div class="table-wrap"><table class="table">
                                        <thead><tr><th scope="col">{ "Field" }</th><th scope="col">{ "Before" }</th><th scope="col">{ "After" }</th></tr></thead>
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
