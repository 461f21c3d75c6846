//! The backups of an environment: run one now with live progress, the sets, and a compare of two.

use std::rc::Rc;

use atlas_api_types::{BackupSetList, BackupStart, OperationRun};
use atlas_domain::Capability;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::schedules::Schedules;
use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, select_field};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::status_badge::{canonical, status_badge};
use crate::components::table::{Cell, Column, DataTable, Row, sort_num};
use crate::format;
use crate::hooks::use_load;
use crate::pages::environment::EnvProps;
use crate::router::{Link, use_navigator};
use crate::session::{use_select_environment, use_session};

/// What the page holds beyond the loaded sets: the run it started, why starting one failed, and
/// the two sets chosen for a compare.
#[derive(Clone, Default, PartialEq)]
struct State {
    started: Option<OperationRun>,
    error: Option<ApiError>,
    from: String,
    to: String,
}

enum Action {
    Started(OperationRun),
    Failed(ApiError),
    From(String),
    To(String),
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Started(run) => {
                s.error = None;
                s.started = Some(run);
            }
            Action::Failed(e) => s.error = Some(e),
            Action::From(v) => s.from = v,
            Action::To(v) => s.to = v,
        }
        Rc::new(s)
    }
}

#[component]
pub fn BackupsPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let sets = use_load(key.clone(), |(ws, env)| async move {
        api::get::<BackupSetList>(&paths::backups(&ws, &env)).await
    });
    use_select_environment(&props.ws, &props.env, sets.state.ready().is_some(), None);
    let state = use_reducer(State::default);
    let run_now = {
        let (dispatch, key, reload) = (state.dispatcher(), key.clone(), sets.reload.clone());
        Callback::from(move |_: MouseEvent| {
            let (dispatch, (ws, env), reload) = (dispatch.clone(), key.clone(), reload.clone());
            spawn_local(async move {
                let path = paths::backups(&ws, &env);
                match api::post::<_, OperationRun>(&path, &BackupStart::default()).await {
                    Ok(run) => {
                        dispatch.dispatch(Action::Started(run));
                        reload.emit(());
                    }
                    Err(e) => dispatch.dispatch(Action::Failed(e)),
                }
            });
        })
    };
    let on_done = {
        let reload = sets.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    let navigator = use_navigator();
    let compare = {
        let (state, navigator, key) = (state.clone(), navigator.clone(), key.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !state.from.is_empty() && !state.to.is_empty() {
                navigator.push(&Route::BackupDiff {
                    ws: key.0.clone(),
                    env: key.1.clone(),
                    set: state.from.clone(),
                    other: state.to.clone(),
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
                <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}><crate::session::EnvName ws={ws.clone()} env={env.clone()} /></Link>
            </div>
            <crate::components::envs::LifecycleBanner ws={ws.clone()} env={env.clone()} />
            if can_run {
                <section class="panel" aria-labelledby="run-title">
                    <h2 id="run-title">{ "Back up now" }</h2>
                    <p>{ "Captures every policy family with its assignments. A family that cannot be read makes the set partial, never complete." }</p>
                    <button type="button" class="button" onclick={run_now} data-testid="run-backup">{ "Run backup now" }</button>
                    { form_error(&yew::props!(FormErrorProps { error: state.error.clone() })) }
                    if let Some(run) = &state.started {
                        <LiveRun ws={ws.clone()} run={run.clone()} {on_done} />
                    }
                </section>
            }
            if let Some(why) = session.lacks(&ws, Capability::BackupRun) {
                { crate::components::markup::why_not(why) }
            }
            <section class="panel" aria-labelledby="sets-title">
                <h2 id="sets-title">{ "Backup sets" }</h2>
                { load::view(&sets, "load the backup sets", |list: &BackupSetList| {
                    if list.items.is_empty() {
                        return html! { { load::empty(html! { <>{ "No backup yet." }</> }) } };
                    }
                    let options: Vec<(String, String)> = std::iter::once((String::new(), "Choose a set".to_owned()))
                        .chain(list.items.iter().map(|s| (s.id.clone(), format!("{} ({})", format::time(s.created_ms), canonical(s.status.as_str()).label()))))
                        .collect();
                    html! {
                        <>
                            <DataTable testid="backup-sets" noun="sets" columns={Rc::new(vec![Column::searchable("Taken"), Column::searchable("Status"), Column::num("Families"), Column::new("Run")])}
                                rows={Rc::new(list.items.iter().map(|s| Row {
                                    cells: vec![
                                        Cell::view(html! { <>
                                            <Link to={Route::BackupSet { ws: ws.clone(), env: env.clone(), set: s.id.clone() }}>{ format::when(s.created_ms) }</Link>
                                            if let Some(r) = &s.run { <span class="muted" data-testid="set-trigger">{ trigger(r) }</span> }
                                        </> }, format!("{} {}", format::time(s.created_ms), s.run.as_ref().map(trigger).unwrap_or_default()))
                                            .sort_by(sort_num(s.created_ms)),
                                        Cell::view(status_badge(s.status.as_str()), canonical(s.status.as_str()).label()),
                                        Cell::text(s.families.len().to_string()).sort_by(sort_num(i64::try_from(s.families.len()).unwrap_or(0))),
                                        Cell::view(s.run.as_ref().map(|r| html! {
                                            <Link to={Route::Run { ws: ws.clone(), run: r.id.clone() }}>
                                                { format!("{}/{} items", r.succeeded, r.total) }
                                            </Link>
                                        }).unwrap_or_default(), s.run.as_ref().map(|r| format!("{}/{} items", r.succeeded, r.total)).unwrap_or_default()),
                                    ],
                                    data: vec![("set", s.id.clone()), ("status", s.state.as_str().to_owned())],
                                }).collect::<Vec<_>>())}
                                initial_sort={Some((0, true))} />
                            if list.items.len() > 1 {
                                <form class="toolbar" onsubmit={compare.clone()} aria-label="Compare two sets">
                                    { select_field(&yew::props!(SelectFieldProps { id: "diff-from", label: "Compare from", value: state.from.clone(), options: options.clone(), onchange: state.dispatcher().to_callback().reform(Action::From) })) }
                                    { select_field(&yew::props!(SelectFieldProps { id: "diff-to", label: "to", value: state.to.clone(), options: options, onchange: state.dispatcher().to_callback().reform(Action::To) })) }
                                    <button type="submit" class="button" disabled={state.from.is_empty() || state.to.is_empty()}>{ "Compare" }</button>
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

/// How a set came to be: "Scheduled" (a schedule started it, as its creator) or "by <who>".
fn trigger(r: &atlas_api_types::OperationRun) -> String {
    if r.scheduled {
        " \u{b7} Scheduled".to_owned()
    } else {
        format!(" by {}", r.initiator)
    }
}
