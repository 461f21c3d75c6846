//! The restore wizard: select a backup set and items → readiness → preview against live
//! (create / update / unchanged / conflict, group mapping) → confirmation bound to that preview,
//! with the typed environment name and the preview's expiry counting down → live progress →
//! per-item results. The server re-checks everything; this page only makes it visible.

use std::collections::BTreeMap;
use std::rc::Rc;

use atlas_api_types::{
    BackupSetDetail, BackupSetList, EnvironmentList, OperationRun, OperationView, Restore, RestoreConfirm,
    RestoreCreate, RestoreList, RestorePreview, RestorePreviewRequest,
};
use atlas_domain::{Capability, RestoreState, RunOutcome, RunState, Status};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::confirm::ConfirmDialog;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, checked, select_field};
use crate::components::items::{ItemPicker, load_live, scope_field, set_options};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::preview::{DROP, GroupEdit, blockers_view, preview_view};
use crate::components::status_badge::{outcome_badge, status_badge, words};
use crate::format;
use crate::hooks::{use_interval, use_load};
use crate::pages::environment::EnvProps;
use crate::pages::operations::{RunItemsProps, run_items};
use crate::router::{Link, Location, use_location, use_navigator};
use crate::session::{use_select_environment, use_session};

#[derive(Default)]
struct SelectQuery {
    set: Option<String>,
    source: Option<String>,
}

impl SelectQuery {
    fn from_location(l: &Location) -> Self {
        Self {
            set: l.get("set").map(str::to_owned),
            source: l.get("source").map(str::to_owned),
        }
    }
}

/// Step 1: the restores into this environment, and a new one from a chosen set.
#[component]
pub fn RestoresPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let query = SelectQuery::from_location(&use_location());
    let list = use_load(key.clone(), |(ws, env)| async move {
        api::get::<RestoreList>(&paths::restores(&ws, &env)).await
    });
    use_select_environment(&props.ws, &props.env, list.state.ready().is_some(), None);
    let envs = use_load(key.0.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let source = use_state(|| query.source.clone().unwrap_or_else(|| props.env.clone()));
    let sets = use_load((key.0.clone(), (*source).clone()), |(ws, src)| async move {
        api::get::<BackupSetList>(&paths::backups(&ws, &src)).await
    });
    let set = use_state(|| query.set.clone().unwrap_or_default());
    let detail = use_load(
        (key.0.clone(), (*source).clone(), (*set).clone()),
        |(ws, src, set)| async move {
            if set.is_empty() {
                return Ok(None);
            }
            api::get::<BackupSetDetail>(&paths::backup(&ws, &src, &set))
                .await
                .map(Some)
        },
    );
    let all_items = use_state(|| true);
    // This environment's inventory, for the picker's "differs from live" markers, once items are picked.
    let live = use_load((key.clone(), *all_items), |((ws, env), all)| async move {
        if all {
            return Ok(None);
        }
        load_live(&ws, &env).await.map(|l| Some(Rc::new(l)))
    });
    let chosen = use_state(Vec::<String>::new);
    let with_assignments = use_state(|| true);
    let accept_partial = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let navigator = use_navigator();
    let create = {
        let (source, set, all_items, chosen, with_assignments, accept_partial, error, key, navigator) = (
            source.clone(),
            set.clone(),
            all_items.clone(),
            chosen.clone(),
            with_assignments.clone(),
            accept_partial.clone(),
            error.clone(),
            key.clone(),
            navigator.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = RestoreCreate {
                backup_set_id: (*set).clone(),
                source_environment_id: (*source != key.1).then(|| (*source).clone()),
                items: (!*all_items).then(|| (*chosen).clone()),
                include_assignments: Some(*with_assignments),
                accept_partial: Some(*accept_partial),
            };
            let (error, (ws, env), navigator) = (error.clone(), key.clone(), navigator.clone());
            spawn_local(async move {
                match api::post::<_, Restore>(&paths::restores(&ws, &env), &body).await {
                    Ok(r) => navigator.push(&Route::Restore { ws, env, restore: r.id }),
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let (ws, env) = key.clone();
    let can = session.can(&ws, Capability::RestorePreview);
    let err = (*error).clone();
    let mut env_options: Vec<(String, String)> = Vec::new();
    if let Some(l) = envs.state.ready() {
        env_options.extend(l.items.iter().map(|e| (e.id.clone(), e.display_name.clone())));
    }
    let set_options = set_options(sets.state.ready(), "Choose a backup set");
    html! {
        <>
            <div class="page-head">
                <h1>{ "Restore" }</h1>
                <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}><crate::session::EnvName ws={ws.clone()} env={env.clone()} /></Link>
            </div>
            <crate::components::envs::LifecycleBanner ws={ws.clone()} env={env.clone()} />
            if can {
                <form class="panel form" onsubmit={create} aria-labelledby="select-title" data-testid="restore-select">
                    <h2 id="select-title">{ "1. Select what to restore" }</h2>
                    <p class="muted">{ "Into this environment. Nothing is written until you confirm a preview." }</p>
                    { select_field(&yew::props!(SelectFieldProps { id: "restore-source", label: "Backup of environment", value: (*source).clone(), options: env_options, error: err.as_ref().and_then(|e| e.field("source_environment_id")), onchange: { let (s, set) = (source.clone(), set.clone()); Callback::from(move |v| { set.set(String::new()); s.set(v) }) } })) }
                    { select_field(&yew::props!(SelectFieldProps { id: "restore-set", label: "Backup set", value: (*set).clone(), options: set_options, error: err.as_ref().and_then(|e| e.field("backup_set_id")), onchange: { let s = set.clone(); Callback::from(move |v| s.set(v)) } })) }
                    { scope_field("restore-scope", &all_items) }
                    if !*all_items {
                        { match detail.state.ready().cloned().flatten() {
                            Some(d) => html! { <ItemPicker items={Rc::new(d.items)} chosen={chosen.clone()} live={live.state.ready().cloned().flatten()} /> },
                            _ => html! { <p class="muted">{ "Choose a backup set to list its items." }</p> },
                        } }
                    }
                    <label class="check"><input type="checkbox" checked={*with_assignments}
                        onchange={{ let a = with_assignments.clone(); Callback::from(move |e: Event| a.set(checked(&e))) }} />{ " Restore assignments too" }</label>
                    <label class="check"><input type="checkbox" checked={*accept_partial}
                        onchange={{ let a = accept_partial.clone(); Callback::from(move |e: Event| a.set(checked(&e))) }} />{ " Go on even if the set is partial" }</label>
                    { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                    <div class="actions"><button type="submit" class="button" disabled={set.is_empty()} data-testid="restore-create">{ "Check readiness" }</button></div>
                </form>
            }
            <section class="panel" aria-labelledby="restores-title">
                <h2 id="restores-title">{ "Restores into this environment" }</h2>
                { load::view(&list, "load the restores", |l: &RestoreList| {
                    if l.items.is_empty() {
                        return html! { { load::empty(html! { <>{ "No restore yet." }</> }) } };
                    }
                    html! {
                        <div class="table-wrap"><table class="table">
                            <thead><tr>{ crate::components::markup::th("Created") }{ crate::components::markup::th("From") }{ crate::components::markup::th("State") }{ crate::components::markup::th("Readiness") }</tr></thead>
                            <tbody>{ for l.items.iter().map(|r| html! {
                                <tr>
                                    <td><Link to={Route::Restore { ws: ws.clone(), env: env.clone(), restore: r.id.clone() }}>{ format::when(r.created_ms) }</Link></td>
                                    <td>{ format!("{} \u{b7} {} items", r.source_environment_id, r.items.len()) }</td>
                                    <td>{ words(r.state.as_str()) }</td>
                                    <td>{ status_badge(r.readiness.status.as_str()) }</td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                    }
                }) }
            </section>
        </>
    }
}

/// Steps 2 to 6's own state: a fresh preview (it replaces the draft's until the draft is loaded
/// again), the operator's group mapping, the run a confirmation started, a request under way, why
/// the last one failed, and the clock the expiry countdown reads.
#[derive(Clone, PartialEq)]
struct Flow {
    preview: Option<RestorePreview>,
    mapping: BTreeMap<String, Option<String>>,
    started: Option<OperationRun>,
    busy: bool,
    error: Option<ApiError>,
    now: i64,
}

enum FlowAction {
    Busy(bool),
    Previewed(RestorePreview),
    Started(OperationRun),
    Cancelled,
    Failed(ApiError),
    /// Source group → target group, or `None` to drop its assignments.
    Map(String, Option<String>),
    /// Back to matching the source group by id, then name.
    Unmap(String),
    Tick(i64),
}

impl Reducible for Flow {
    type Action = FlowAction;

    fn reduce(self: Rc<Self>, action: FlowAction) -> Rc<Self> {
        let mut f = (*self).clone();
        match action {
            FlowAction::Busy(on) => f.busy = on,
            FlowAction::Previewed(p) => {
                f.error = None;
                f.preview = Some(p);
            }
            FlowAction::Started(run) => {
                f.error = None;
                f.started = Some(run);
            }
            FlowAction::Cancelled => f.preview = None,
            FlowAction::Failed(e) => f.error = Some(e),
            FlowAction::Map(src, target) => {
                f.mapping.insert(src, target);
            }
            FlowAction::Unmap(src) => {
                f.mapping.remove(&src);
            }
            FlowAction::Tick(now) => f.now = now,
        }
        Rc::new(f)
    }
}

#[derive(Properties, PartialEq)]
pub struct RestoreProps {
    pub ws: String,
    pub env: String,
    pub restore: String,
}

/// Steps 2 to 6 for one restore.
#[component]
pub fn RestorePage(props: &RestoreProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone(), props.restore.clone());
    // The restore's ids; its paths are built where they are used.
    let base = key.clone();
    let restore = {
        let base = base.clone();
        use_load(key.clone(), move |_| {
            let base = base.clone();
            async move { api::get::<Restore>(&paths::restore(&base.0, &base.1, &base.2)).await }
        })
    };
    use_select_environment(&props.ws, &props.env, restore.state.ready().is_some(), None);
    let flow = use_reducer(|| Flow {
        preview: None,
        mapping: BTreeMap::new(),
        started: None,
        busy: false,
        error: None,
        now: format::now_ms(),
    });
    let current_preview = flow
        .preview
        .clone()
        .or_else(|| restore.state.ready().and_then(|r| r.preview.clone()));
    let open = restore
        .state
        .ready()
        .is_some_and(|r| matches!(r.state, RestoreState::Draft | RestoreState::Previewed));
    use_interval(
        1000,
        open && current_preview.is_some(),
        flow.dispatcher()
            .to_callback()
            .reform(|()| FlowAction::Tick(format::now_ms())),
    );
    let run_preview = {
        let (base, flow) = (base.clone(), flow.clone());
        Callback::from(move |_: MouseEvent| {
            let body = RestorePreviewRequest {
                group_mapping: flow.mapping.clone(),
            };
            let (base, dispatch) = (base.clone(), flow.dispatcher());
            dispatch.dispatch(FlowAction::Busy(true));
            spawn_local(async move {
                match api::post::<_, RestorePreview>(&paths::restore_previews(&base.0, &base.1, &base.2), &body).await {
                    Ok(p) => dispatch.dispatch(FlowAction::Previewed(p)),
                    Err(e) => dispatch.dispatch(FlowAction::Failed(e)),
                }
                dispatch.dispatch(FlowAction::Busy(false));
            });
        })
    };
    let confirm = {
        let (base, dispatch, current) = (base.clone(), flow.dispatcher(), current_preview.clone());
        let reload = restore.reload.clone();
        Callback::from(move |typed: String| {
            let Some(p) = current.clone() else { return };
            let body = RestoreConfirm {
                preview_id: p.id.clone(),
                fingerprint: p.fingerprint.clone(),
                confirm: typed,
            };
            let (base, dispatch, reload) = (base.clone(), dispatch.clone(), reload.clone());
            dispatch.dispatch(FlowAction::Busy(true));
            spawn_local(async move {
                match api::post::<_, OperationRun>(&paths::restore_confirm(&base.0, &base.1, &base.2), &body).await {
                    Ok(run) => {
                        dispatch.dispatch(FlowAction::Started(run));
                        reload.emit(());
                    }
                    Err(e) => dispatch.dispatch(FlowAction::Failed(e)),
                }
                dispatch.dispatch(FlowAction::Busy(false));
            });
        })
    };
    let cancel = {
        let (base, dispatch, reload) = (base.clone(), flow.dispatcher(), restore.reload.clone());
        Callback::from(move |()| {
            let (base, dispatch, reload) = (base.clone(), dispatch.clone(), reload.clone());
            spawn_local(async move {
                match api::post_empty::<Restore>(&paths::restore_cancel(&base.0, &base.1, &base.2)).await {
                    Ok(_) => {
                        dispatch.dispatch(FlowAction::Cancelled);
                        reload.emit(());
                    }
                    Err(e) => dispatch.dispatch(FlowAction::Failed(e)),
                }
            });
        })
    };
    let on_map = flow
        .dispatcher()
        .to_callback()
        .reform(|(src, value): (String, String)| match value.as_str() {
            "" => FlowAction::Unmap(src),
            DROP => FlowAction::Map(src, None),
            id => FlowAction::Map(src, Some(id.to_owned())),
        });
    let on_done = {
        let reload = restore.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    let (ws, env, _) = key.clone();
    let can_execute = session.can(&ws, Capability::RestoreExecute);
    let err = flow.error.clone();
    load::view(&restore, "load the restore", |r: &Restore| {
        let expired = current_preview.as_ref().is_some_and(|p| p.expires_ms <= flow.now);
        let confirmable = current_preview.as_ref().is_some_and(|p| p.blockers.is_empty())
            && !expired
            && r.readiness.status != Status::Blocked
            && can_execute;
        let run = flow.started.clone().or_else(|| r.run.clone());
        html! {
            <>
                <div class="page-head">
                    <h1>{ format!("Restore into {}", r.environment_name) }</h1>
                    <Link to={Route::Restores { ws: ws.clone(), env: env.clone() }}>{ "All restores" }</Link>
                </div>
                <p class="muted">{ format!("From backup set {} of {} \u{b7} {} \u{b7} assignments {} \u{b7} state: {}",
                    r.backup_set_id, r.source_environment_id,
                    if r.items.is_empty() { "every item".to_owned() } else { format!("{} chosen items", r.items.len()) },
                    if r.include_assignments { "included" } else { "left out" }, r.state) }</p>
                <section class="panel" aria-labelledby="ready-title" data-testid="readiness" data-status={r.readiness.status.as_str()}>
                    <div class="panel__header">
                        <h2 id="ready-title">{ "2. Readiness" }</h2>
                        { status_badge(r.readiness.status.as_str()) }
                    </div>
                    <ul class="checks">{ for r.readiness.checks.iter().map(|c| html! {
                        <li>{ status_badge(c.status.as_str()) }{ " " }{ &c.message }</li>
                    }) }</ul>
                </section>
                if open {
                    <section class="panel" aria-labelledby="preview-title">
                        <div class="panel__header">
                            <h2 id="preview-title">{ "3. Preview against live" }</h2>
                            <button type="button" class="button" onclick={run_preview.clone()} disabled={flow.busy} data-testid="run-preview">
                                { if current_preview.is_some() { "Preview again" } else { "Preview" } }
                            </button>
                        </div>
                        { current_preview.as_ref().map_or_else(
                            || html! { { load::empty(html! { <>{ "Read the tenant's live configuration and see what the restore would do." }</> }) } },
                            |p| preview_view(p, Some(GroupEdit { ws: &ws, env: &env, mapping: &flow.mapping, on_change: on_map.clone() })),
                        ) }
                    </section>
                    if let Some(p) = &current_preview {
                        <section class="panel panel--danger" aria-labelledby="confirm-title-h">
                            <h2 id="confirm-title-h">{ "4. Confirm" }</h2>
                            <p data-testid="preview-expiry">
                                if expired { { status_badge("expired") }{ " This preview expired: preview again." } }
                                else { { format!("This preview expires {}.", countdown(p.expires_ms - flow.now)) } }
                            </p>
                            { blockers_view(&p.blockers, "Cannot confirm yet") }
                            if !can_execute {
                                <p class="muted">{ "Confirming a restore needs the restore.execute permission: a manager must confirm." }</p>
                            }
                            if confirmable {
                                <ConfirmDialog id="restore-confirm" title="Write this preview to the tenant" expected={r.environment_name.clone()}
                                    action_label="Confirm restore" modal={false} busy={flow.busy} error={err.clone()} on_confirm={confirm.clone()} on_cancel={cancel.clone()}>
                                    <p>{ format!("{} to create, {} to update, {} unchanged. Only what this preview shows is written; if live changes first, the confirmation is refused.",
                                        p.summary.create, p.summary.update, p.summary.unchanged) }</p>
                                </ConfirmDialog>
                            } else {
                                { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                                <button type="button" class="button button--quiet" onclick={cancel.reform(|_: MouseEvent| ())}>{ "Cancel this restore" }</button>
                            }
                        </section>
                    } else {
                        { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                    }
                }
                if let Some(run) = run {
                    <section class="panel" aria-labelledby="progress-title">
                        <h2 id="progress-title">{ "5. Progress" }</h2>
                        <LiveRun ws={ws.clone()} run={run.clone()} on_done={on_done.clone()} />
                    </section>
                    if run.state == RunState::Completed || r.run.as_ref().is_some_and(|x| x.state == RunState::Completed) {
                        <section class="panel" aria-labelledby="results-title">
                            <h2 id="results-title">{ "6. Results per item" }</h2>
                            <Results ws={ws.clone()} run={run.id.clone()} />
                        </section>
                    }
                }
            </>
        }
    })
}

fn countdown(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    format!("in {}:{:02}", s / 60, s % 60)
}

#[derive(Properties, PartialEq)]
struct ResultsProps {
    ws: String,
    run: String,
}

#[component]
fn Results(props: &ResultsProps) -> Html {
    let view = use_load((props.ws.clone(), props.run.clone()), |(ws, run)| async move {
        api::get::<OperationView>(&paths::operation(&ws, &run)).await
    });
    load::view(&view, "load the results", |v: &OperationView| {
        html! {
            <>
                <p data-testid="restore-outcome">{ outcome_badge(v.run.outcome.map_or_else(|| v.run.state.as_str(), RunOutcome::as_str)) }</p>
                { run_items(&yew::props!(RunItemsProps { items: v.items.clone() })) }
            </>
        }
    })
}
