//! An environment's backup schedules: the list with next runs and retention, and the form for a
//! new one.

use std::rc::Rc;

use atlas_api_types::{BackupSchedule, BackupScheduleCreate, BackupScheduleList};
use atlas_domain::Capability;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::format;
use crate::hooks::use_load;
use crate::pages::environment::EnvProps;
use crate::session::use_session;

/// The new-schedule form as typed, a request under way, and why the last request failed.
#[derive(Clone, PartialEq)]
struct Form {
    /// `interval` or `cron`.
    kind: String,
    every: String,
    cron: String,
    tz: String,
    keep_last: String,
    keep_days: String,
    busy: bool,
    error: Option<ApiError>,
}

impl Default for Form {
    fn default() -> Self {
        Self {
            kind: "interval".into(),
            every: "1440".into(),
            cron: "30 2 * * *".into(),
            tz: "UTC".into(),
            keep_last: "7".into(),
            keep_days: String::new(),
            busy: false,
            error: None,
        }
    }
}

impl Form {
    fn body(&self) -> BackupScheduleCreate {
        let num = |s: &str| s.trim().parse::<u32>().ok();
        BackupScheduleCreate {
            // An unparsable number goes as 0 so the server names the field.
            every_minutes: (self.kind == "interval").then(|| num(&self.every).unwrap_or(0)),
            cron: (self.kind == "cron").then(|| self.cron.clone()),
            time_zone: self.tz.clone(),
            families: None,
            first_due_ms: None,
            keep_last: num(&self.keep_last),
            keep_days: num(&self.keep_days),
            keep_partial: None,
        }
    }
}

enum Action {
    Kind(String),
    Every(String),
    Cron(String),
    Tz(String),
    KeepLast(String),
    KeepDays(String),
    Busy(bool),
    Saved,
    Failed(ApiError),
}

impl Reducible for Form {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut f = (*self).clone();
        match action {
            Action::Kind(v) => f.kind = v,
            Action::Every(v) => f.every = v,
            Action::Cron(v) => f.cron = v,
            Action::Tz(v) => f.tz = v,
            Action::KeepLast(v) => f.keep_last = v,
            Action::KeepDays(v) => f.keep_days = v,
            Action::Busy(on) => f.busy = on,
            Action::Saved => f.error = None,
            Action::Failed(e) => f.error = Some(e),
        }
        Rc::new(f)
    }
}

#[component]
pub(super) fn Schedules(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let list = use_load(key.clone(), |(ws, env)| async move {
        api::get::<BackupScheduleList>(&paths::backup_schedules(&ws, &env)).await
    });
    let form = use_reducer(Form::default);
    let can_manage = session.can(&key.0, Capability::BackupManage);
    let create = {
        let (form, key, reload) = (form.clone(), key.clone(), list.reload.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = form.body();
            let (dispatch, (ws, env), reload) = (form.dispatcher(), key.clone(), reload.clone());
            dispatch.dispatch(Action::Busy(true));
            spawn_local(async move {
                match api::post::<_, BackupSchedule>(&paths::backup_schedules(&ws, &env), &body).await {
                    Ok(_) => {
                        dispatch.dispatch(Action::Saved);
                        reload.emit(());
                    }
                    Err(e) => dispatch.dispatch(Action::Failed(e)),
                }
                dispatch.dispatch(Action::Busy(false));
            });
        })
    };
    let remove = {
        let (dispatch, key, reload) = (form.dispatcher(), key.clone(), list.reload.clone());
        Callback::from(move |id: String| {
            let (dispatch, (ws, env), reload) = (dispatch.clone(), key.clone(), reload.clone());
            spawn_local(async move {
                let path = paths::backup_schedule(&ws, &env, &id);
                match api::delete::<()>(&path, None).await {
                    Ok(()) => reload.emit(()),
                    Err(e) => dispatch.dispatch(Action::Failed(e)),
                }
            });
        })
    };
    let set = |field: fn(String) -> Action| form.dispatcher().to_callback().reform(field);
    let err = form.error.clone();
    let field = |n: &str| err.as_ref().and_then(|e| e.field(n));
    html! {
        <section class="panel" aria-labelledby="sched-title">
            <h2 id="sched-title">{ "Schedules" }</h2>
            { load::view(&list, "load the schedules", |l: &BackupScheduleList| {
                if l.items.is_empty() {
                    return html! { { load::empty(html! { <>{ "No schedule: backups run only when started by hand." }</> }) } };
                }
                html! {
                    <ul class="cards" data-testid="schedules">{ for l.items.iter().map(|s| {
                        let id = s.id.clone();
                        let remove = remove.clone();
                        html! {
                            <li class="card">
                                <p><strong>{ when_text(s) }</strong>{ format!(" \u{b7} {} \u{b7} retention: {}", s.time_zone, retention(s)) }</p>
                                if s.enabled {
                                    <p class="muted">{ "Next runs: " }{ s.upcoming_ms.iter().map(|m| format::time(*m)).collect::<Vec<_>>().join(", ") }</p>
                                } else {
                                    <p class="muted" data-testid="schedule-paused">{ "Paused: no backup starts until it is resumed." }</p>
                                }
                                if can_manage {
                                    <crate::router::Link to={crate::app::Route::ScheduleEdit { ws: key.0.clone(), env: key.1.clone(), schedule: s.id.clone() }} classes="button button--quiet">{ "Edit" }</crate::router::Link>
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
                    { select_field(&yew::props!(SelectFieldProps { id: "sched-kind", label: "Runs", value: form.kind.clone(), options: vec![("interval".into(), "At a fixed interval".into()), ("cron".into(), "At cron times".into())], onchange: set(Action::Kind) })) }
                    if form.kind == "interval" {
                        { select_field(&yew::props!(SelectFieldProps { id: "sched-every", label: "Every", value: form.every.clone(), options: vec![("60".into(), "hour".into()), ("360".into(), "6 hours".into()), ("720".into(), "12 hours".into()),
                                ("1440".into(), "day".into()), ("10080".into(), "week".into())], onchange: set(Action::Every), error: field("every_minutes") })) }
                    } else {
                        { text_field(&yew::props!(TextFieldProps { id: "sched-cron", label: "Cron (minute hour day month weekday)", value: form.cron.clone(), hint: "Evaluated in the time zone below, e.g. 30 2 * * * for 02:30 every day", onchange: set(Action::Cron), error: field("cron") })) }
                    }
                    { text_field(&yew::props!(TextFieldProps { id: "sched-tz", label: "Time zone (IANA)", value: form.tz.clone(), onchange: set(Action::Tz), error: field("time_zone") })) }
                    { text_field(&yew::props!(TextFieldProps { id: "sched-keep-last", label: "Keep the newest N sets", kind: "number", value: form.keep_last.clone(), onchange: set(Action::KeepLast), error: field("keep_last") })) }
                    { text_field(&yew::props!(TextFieldProps { id: "sched-keep-days", label: "Keep sets younger than N days", kind: "number", value: form.keep_days.clone(), onchange: set(Action::KeepDays), error: field("keep_days") })) }
                    { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                    <button type="submit" class="button" disabled={form.busy}>{ "Add schedule" }</button>
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
