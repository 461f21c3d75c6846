//! One backup set: its items, restore from it, and deletion behind a typed confirmation.

use std::rc::Rc;

use atlas_api_types::{BackupItem, BackupSetDetail, BackupSetStatus, Confirm, Environment};
use atlas_domain::Capability;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::confirm::ConfirmDialog;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::load;
use crate::components::status_badge::status_badge;
use crate::format;
use crate::hooks::use_load;
use crate::router::{Link, use_navigator};
use crate::session::use_session;

/// The delete dialog: open or not, a request under way, and why the last one failed.
#[derive(Clone, Default, PartialEq)]
struct State {
    confirming: bool,
    busy: bool,
    error: Option<ApiError>,
}

enum Action {
    Confirming(bool),
    Busy(bool),
    Failed(ApiError),
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Confirming(on) => s.confirming = on,
            Action::Busy(on) => s.busy = on,
            Action::Failed(e) => s.error = Some(e),
        }
        Rc::new(s)
    }
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
    let state = use_reducer(State::default);
    let navigator = use_navigator();
    let delete = {
        let (dispatch, key, navigator) = (state.dispatcher(), key.clone(), navigator.clone());
        Callback::from(move |confirm: String| {
            let (dispatch, (ws, env, set), navigator) = (dispatch.clone(), key.clone(), navigator.clone());
            dispatch.dispatch(Action::Busy(true));
            spawn_local(async move {
                let path = paths::backup(&ws, &env, &set);
                match api::delete(&path, Some(&Confirm { confirm })).await {
                    Ok(()) => navigator.push(&Route::Backups { ws, env }),
                    Err(e) => dispatch.dispatch(Action::Failed(e)),
                }
                dispatch.dispatch(Action::Busy(false));
            });
        })
    };
    // A new capture of only the failed families, once per set: the server answers a repeat with
    // the same run.
    let retry = {
        let (dispatch, key, navigator) = (state.dispatcher(), key.clone(), navigator.clone());
        Callback::from(move |_: MouseEvent| {
            let (dispatch, (ws, env, set), navigator) = (dispatch.clone(), key.clone(), navigator.clone());
            spawn_local(async move {
                match api::post_empty::<atlas_api_types::OperationRun>(&paths::backup_retry(&ws, &env, &set)).await {
                    Ok(run) => navigator.push(&Route::Run { ws, run: run.id }),
                    Err(e) => dispatch.dispatch(Action::Failed(e)),
                }
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
                    { status_badge(d.set.status.as_str()) }
                </div>
                <p><Link to={Route::Backups { ws: ws.clone(), env: env_id.clone() }}>{ "Back to backups" }</Link>
                    if let Some(r) = &d.set.run {
                        { " \u{b7} " }<Link to={Route::Run { ws: ws.clone(), run: r.id.clone() }}>{ "The capture run" }</Link>
                    }
                </p>
                if let Some(why) = session.lacks(&ws, Capability::RestorePreview) {
                    <p>{ crate::components::markup::unavailable("Restore from this set\u{2026}", why) }</p>
                } else {
                    <p><Link to={Route::Restores { ws: ws.clone(), env: env_id.clone() }} classes="button"
                        query={Some(vec![("set", set_id.clone())])}>{ "Restore from this set\u{2026}" }</Link></p>
                }
                if matches!(d.set.state, BackupSetStatus::Partial | BackupSetStatus::Failed) {
                    <div class="banner banner--warn" role="status">{ "Not every family was captured: the capture run lists which failed." }
                        if session.can(&ws, Capability::BackupRun) {
                            { " " }<button type="button" class="button" onclick={retry} data-testid="retry-failed">{ "Retry failed items" }</button>
                        }
                        { form_error(&yew::props!(FormErrorProps { error: state.error.clone().filter(|_| !state.confirming) })) }
                    </div>
                }
                <section class="panel" aria-labelledby="items-title">
                    <h2 id="items-title">{ format!("{} items", d.items.len()) }</h2>
                    if d.items.is_empty() {
                        { load::empty(html! { <>{ "This set holds no items." }</> }) }
                    } else {
                        <div class="table-wrap"><table class="table" data-testid="backup-items">
                            <thead><tr>{ crate::components::markup::th("Name") }{ crate::components::markup::th("Family") }{ crate::components::markup::th("Content hash") }</tr></thead>
                            <tbody>{ for d.items.iter().map(|i: &BackupItem| html! {
                                <tr>
                                    <td><Link to={Route::BackupItem { ws: ws.clone(), env: env_id.clone(), set: set_id.clone(), family: i.family.clone(), item: i.id.clone() }}>{ &i.name }</Link></td>
                                    <td>{ crate::families::label(&i.family) }<br /><span class="muted">{ &i.family }</span></td>
                                    <td><code>{ i.hash.chars().take(12).collect::<String>() }</code></td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                    }
                </section>
                if session.can(&ws, Capability::BackupManage) {
                    <section class="panel panel--danger" aria-labelledby="del-title">
                        <h2 id="del-title">{ "Delete this set" }</h2>
                        if state.confirming {
                            <ConfirmDialog id="delete-set" opener="[data-testid=delete-set]" title="Delete the backup set" expected={env_name.clone()} action_label="Delete set"
                                busy={state.busy} error={state.error.clone()} on_confirm={delete.clone()}
                                on_cancel={state.dispatcher().to_callback().reform(|()| Action::Confirming(false))}>
                                <p>{ "The set and its captured items are removed. Restores can no longer use it." }</p>
                            </ConfirmDialog>
                        } else {
                            <button type="button" class="button button--danger" onclick={state.dispatcher().to_callback().reform(|_: MouseEvent| Action::Confirming(true))}
                                data-testid="delete-set">{ "Delete set\u{2026}" }</button>
                        }
                    </section>
                }
            </>
        }
    })
}
