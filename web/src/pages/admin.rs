//! Workspace and environment administration (issue 18 item 2, spec 024), in the third bundle:
//! the first-run page that creates a workspace, accepting an invitation, an environment's
//! lifecycle (suspend, archive, reactivate behind a typed confirmation) and editing a backup
//! schedule.

use atlas_api_types::{
    BackupSchedule, BackupScheduleList, BackupScheduleUpdate, Environment, EnvironmentPatch, InvitationAccept,
    MyMembership, Workspace, WorkspaceCreate,
};
use atlas_domain::{Capability, EnvironmentLifecycle};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::confirm::ConfirmDialog;
use crate::components::envs::lifecycle_banner;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, checked, select_field, text_field};
use crate::components::load;
use crate::components::status_badge::{status_badge, words};
use crate::hooks::use_load;
use crate::pages::environment::EnvProps;
use crate::router::Link;
use crate::session::use_session;

/// Leaves for `route` with a full page load: the shell's session (`/me`) then lists the
/// membership just made.
fn reload_into(route: &Route) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(&route.to_path());
    }
}

/// A handle from a name: lowercase letters and digits, dashes between words.
fn slug_of(name: &str) -> String {
    let mut s = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_end_matches('-').chars().take(40).collect()
}

/// First run: a signed-in user creates a workspace (they become its owner), or is told how to
/// join one.
#[component]
pub fn WelcomePage() -> Html {
    let session = use_session();
    let name = use_state(String::new);
    let slug = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let onsubmit = {
        let (name, slug, error, busy) = (name.clone(), slug.clone(), error.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = WorkspaceCreate {
                name: (*name).clone(),
                slug: if slug.is_empty() {
                    slug_of(&name)
                } else {
                    (*slug).clone()
                },
            };
            let (error, busy) = (error.clone(), busy.clone());
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, Workspace>(&paths::workspaces(), &body).await {
                    Ok(w) => reload_into(&Route::Workspace { ws: w.id }),
                    Err(e) => {
                        error.set(Some(e));
                        busy.set(false);
                    }
                }
            });
        })
    };
    let err = (*error).clone();
    let field = |n: &str| err.as_ref().and_then(|e| e.field(n));
    html! {
        <>
            <h1>{ "Welcome to TenantAtlas" }</h1>
            if session.me.memberships.is_empty() {
                <p>{ format!("Signed in as {}. You are not a member of any workspace yet: create one for your organisation, or open the invitation link an owner sent you.", session.me.email) }</p>
            } else {
                <p><Link to={Route::Workspaces}>{ "Back to your workspaces" }</Link></p>
            }
            <form class="form panel" {onsubmit} aria-label="Create a workspace" novalidate=true data-testid="create-workspace">
                <h2>{ "Create a workspace" }</h2>
                <p class="muted">{ "A workspace holds your managed environments, members, baselines, alerts and audit log. You become its owner." }</p>
                { text_field(&yew::props!(TextFieldProps { id: "ws-name", label: "Name", value: (*name).clone(), required: true,
                    onchange: { let s = name.clone(); Callback::from(move |v| s.set(v)) }, error: field("name") })) }
                { text_field(&yew::props!(TextFieldProps { id: "ws-slug", label: "Handle", value: (*slug).clone(),
                    hint: format!("Lowercase letters, digits and dashes; {} when left empty", if name.is_empty() { "made from the name".to_owned() } else { slug_of(&name) }),
                    onchange: { let s = slug.clone(); Callback::from(move |v| s.set(v)) }, error: field("slug") })) }
                { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                <button type="submit" class="button" disabled={*busy}>{ "Create workspace" }</button>
            </form>
        </>
    }
}

/// The token an invitation link carries in its fragment (`#token=…`).
fn token_in_link() -> String {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .unwrap_or_default()
        .to_owned()
}

/// Accepts an invitation: from its link (the token in the fragment) or with the token pasted.
#[component]
pub fn AcceptInvitationPage() -> Html {
    let session = use_session();
    let token = use_state(token_in_link);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let onsubmit = {
        let (token, error, busy) = (token.clone(), error.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = InvitationAccept {
                token: token.trim().to_owned(),
            };
            let (error, busy) = (error.clone(), busy.clone());
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, MyMembership>(&paths::invitation_accept(), &body).await {
                    Ok(m) => reload_into(&Route::Workspace { ws: m.workspace_id }),
                    Err(e) => {
                        error.set(Some(e));
                        busy.set(false);
                    }
                }
            });
        })
    };
    let err = (*error).clone();
    let not_yours = matches!(err, Some(ApiError::NotFound));
    html! {
        <>
            <h1>{ "Accept an invitation" }</h1>
            <form class="form panel" {onsubmit} aria-label="Accept the invitation" novalidate=true data-testid="accept-invitation">
                <p>{ format!("You are signed in as {}: the invitation must be for this address.", session.me.email) }</p>
                { text_field(&yew::props!(TextFieldProps { id: "invite-token", label: "Invitation token", value: (*token).clone(), autocomplete: "off",
                    hint: "Filled in from the link you were sent",
                    onchange: { let s = token.clone(); Callback::from(move |v| s.set(v)) }, error: err.as_ref().and_then(|e| e.field("token")) })) }
                if not_yours {
                    <p class="form-error" role="alert">{ "This invitation does not exist, was revoked, or is for another email address. Ask the owner who invited you for a new link." }</p>
                } else {
                    { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                }
                <button type="submit" class="button" disabled={*busy || token.trim().is_empty()} data-testid="accept">{ "Accept invitation" }</button>
            </form>
        </>
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Change {
    Suspend,
    Archive,
    Reactivate,
}

impl Change {
    fn to(self) -> EnvironmentLifecycle {
        match self {
            Change::Suspend => EnvironmentLifecycle::Suspended,
            Change::Archive => EnvironmentLifecycle::Archived,
            Change::Reactivate => EnvironmentLifecycle::Active,
        }
    }
    fn id(self) -> &'static str {
        match self {
            Change::Suspend => "suspend",
            Change::Archive => "archive",
            Change::Reactivate => "reactivate",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Change::Suspend => "Suspend environment",
            Change::Archive => "Archive environment",
            Change::Reactivate => "Reactivate environment",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Change::Suspend => {
                "Its pages become read-only and no work runs for it: queued runs end Blocked when they execute, schedules start nothing. Reactivate it to go on."
            }
            Change::Archive => {
                "It is kept for the record, read-only: no run, no schedule, no change until it is reactivated."
            }
            Change::Reactivate => "Its pages and schedules work again; runs can be started.",
        }
    }
}

/// An environment's settings: its lifecycle, each change behind a typed confirmation.
#[component]
pub fn EnvironmentSettingsPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let env = use_load(key.clone(), |(ws, env)| async move {
        api::get::<Environment>(&paths::environment(&ws, &env)).await
    });
    let open = use_state(|| None::<Change>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let confirm = {
        let (open, busy, error, key, reload) = (
            open.clone(),
            busy.clone(),
            error.clone(),
            key.clone(),
            env.reload.clone(),
        );
        Callback::from(move |_typed: String| {
            let Some(change) = *open else { return };
            let (open, busy, error, (ws, env), reload) =
                (open.clone(), busy.clone(), error.clone(), key.clone(), reload.clone());
            busy.set(true);
            spawn_local(async move {
                let body = EnvironmentPatch {
                    display_name: None,
                    lifecycle: Some(change.to()),
                };
                match api::patch::<_, Environment>(&paths::environment(&ws, &env), &body).await {
                    Ok(_) => {
                        error.set(None);
                        open.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    let cancel = {
        let (open, error) = (open.clone(), error.clone());
        Callback::from(move |()| {
            error.set(None);
            open.set(None);
        })
    };
    let (ws, env_id) = key;
    let can = session.can(&ws, Capability::EnvironmentsManage);
    load::view(&env, "load the environment", |e: &Environment| {
        let changes: Vec<Change> = match e.lifecycle {
            EnvironmentLifecycle::Active => vec![Change::Suspend, Change::Archive],
            EnvironmentLifecycle::Suspended => vec![Change::Reactivate, Change::Archive],
            EnvironmentLifecycle::Archived => vec![Change::Reactivate],
        };
        html! {
            <>
                <div class="page-head">
                    <h1>{ format!("{} \u{b7} settings", e.display_name) }</h1>
                    { status_badge(e.status.as_str()) }
                </div>
                <p><Link to={Route::Environment { ws: ws.clone(), env: env_id.clone() }}>{ "Back to the environment" }</Link></p>
                { lifecycle_banner(e.lifecycle) }
                <section class="panel" aria-labelledby="life-title">
                    <h2 id="life-title">{ "Lifecycle" }</h2>
                    <p data-testid="lifecycle" data-lifecycle={e.lifecycle.as_str()}>{ format!("This environment is {}.", words(e.lifecycle.as_str()).to_lowercase()) }</p>
                    if !can {
                        { crate::components::markup::why_not(session.lacks(&ws, Capability::EnvironmentsManage).unwrap_or_default()) }
                    } else if let Some(change) = *open {
                        <ConfirmDialog id={change.id()} opener={format!("[data-testid={}]", change.id())} title={change.label()} expected={e.display_name.clone()}
                            action_label={change.label()} busy={*busy} error={(*error).clone()} on_confirm={confirm.clone()} on_cancel={cancel.clone()}>
                            <p>{ change.what() }</p>
                        </ConfirmDialog>
                    } else {
                        <div class="actions">{ for changes.into_iter().map(|c| {
                            let open = open.clone();
                            let danger = c != Change::Reactivate;
                            html! {
                                <button type="button" class={classes!("button", danger.then_some("button--danger"))} data-testid={c.id()}
                                    onclick={Callback::from(move |_: MouseEvent| open.set(Some(c)))}>{ format!("{}\u{2026}", c.label()) }</button>
                            }
                        }) }</div>
                    }
                </section>
            </>
        }
    })
}

#[derive(Properties, PartialEq)]
pub struct ScheduleProps {
    pub ws: String,
    pub env: String,
    pub schedule: String,
}

/// The edit form as typed.
#[derive(Clone, PartialEq, Default)]
struct ScheduleForm {
    cron: String,
    every: String,
    tz: String,
    families: String,
    enabled: bool,
}

impl ScheduleForm {
    fn of(s: &BackupSchedule) -> Self {
        Self {
            cron: s.cron.clone().unwrap_or_default(),
            every: s.every_minutes.map(|m| m.to_string()).unwrap_or_default(),
            tz: s.time_zone.clone(),
            families: s.families.as_ref().map(|f| f.join(", ")).unwrap_or_default(),
            enabled: s.enabled,
        }
    }

    fn body(&self) -> BackupScheduleUpdate {
        let families: Vec<String> = self
            .families
            .split(',')
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        let cron = self.cron.trim();
        BackupScheduleUpdate {
            cron: (!cron.is_empty()).then(|| cron.to_owned()),
            // An unparsable number goes as 0 so the server names the field.
            every_minutes: cron.is_empty().then(|| self.every.trim().parse().unwrap_or(0)),
            time_zone: Some(self.tz.trim().to_owned()),
            families: (!families.is_empty()).then_some(families),
            enabled: Some(self.enabled),
        }
    }
}

/// Edits a backup schedule: its cron (or interval), time zone, families, paused or not. A bad
/// field is named next to it.
#[component]
pub fn ScheduleEditPage(props: &ScheduleProps) -> Html {
    let key = (props.ws.clone(), props.env.clone(), props.schedule.clone());
    let list = use_load(key.clone(), |(ws, env, _)| async move {
        api::get::<BackupScheduleList>(&paths::backup_schedules(&ws, &env)).await
    });
    let form = use_state(|| None::<ScheduleForm>);
    let error = use_state(|| None::<ApiError>);
    let saved = use_state(|| false);
    let current = list
        .state
        .ready()
        .and_then(|l| l.items.iter().find(|s| s.id == props.schedule).cloned());
    let value = (*form).clone().or_else(|| current.as_ref().map(ScheduleForm::of));
    let onsubmit = {
        let (value, error, saved, key, form) = (value.clone(), error.clone(), saved.clone(), key.clone(), form.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(v) = value.clone() else { return };
            let (error, saved, (ws, env, id), form) = (error.clone(), saved.clone(), key.clone(), form.clone());
            spawn_local(async move {
                match api::patch::<_, BackupSchedule>(&paths::backup_schedule(&ws, &env, &id), &v.body()).await {
                    Ok(s) => {
                        error.set(None);
                        form.set(Some(ScheduleForm::of(&s)));
                        saved.set(true);
                    }
                    Err(e) => {
                        saved.set(false);
                        error.set(Some(e));
                    }
                }
            });
        })
    };
    let (ws, env, _) = key;
    let set = |f: fn(&mut ScheduleForm, String)| {
        let (form, value, saved) = (form.clone(), value.clone(), saved.clone());
        Callback::from(move |v: String| {
            let mut next = value.clone().unwrap_or_default();
            f(&mut next, v);
            saved.set(false);
            form.set(Some(next));
        })
    };
    let err = (*error).clone();
    let field = |n: &str| err.as_ref().and_then(|e| e.field(n));
    html! {
        <>
            <h1>{ "Edit backup schedule" }</h1>
            <p><Link to={Route::Backups { ws: ws.clone(), env: env.clone() }}>{ "Back to backups" }</Link></p>
            { load::view(&list, "load the schedule", |_| match &value {
                None => html! { { load::empty(html! { <>{ "No such schedule: it may have been deleted." }</> }) } },
                Some(v) => html! {
                    <form class="form panel" onsubmit={onsubmit.clone()} aria-label="Edit the schedule" novalidate=true data-testid="schedule-form">
                        { text_field(&yew::props!(TextFieldProps { id: "edit-cron", label: "Cron (minute hour day month weekday)", value: v.cron.clone(),
                            hint: "Leave empty to run at a fixed interval instead", onchange: set(|f, v| f.cron = v), error: field("cron") })) }
                        if v.cron.trim().is_empty() {
                            { select_field(&yew::props!(SelectFieldProps { id: "edit-every", label: "Every", value: v.every.clone(), options: vec![("60".into(), "hour".into()), ("360".into(), "6 hours".into()), ("720".into(), "12 hours".into()),
                                ("1440".into(), "day".into()), ("10080".into(), "week".into())], onchange: set(|f, v| f.every = v), error: field("every_minutes") })) }
                        }
                        { text_field(&yew::props!(TextFieldProps { id: "edit-tz", label: "Time zone (IANA)", value: v.tz.clone(), onchange: set(|f, v| f.tz = v), error: field("time_zone") })) }
                        { text_field(&yew::props!(TextFieldProps { id: "edit-families", label: "Families", value: v.families.clone(),
                            hint: "Family codes separated by commas", onchange: set(|f, v| f.families = v), error: field("families") })) }
                        <div class="field">
                            <label><input type="checkbox" id="edit-enabled" checked={v.enabled}
                                onchange={{ let s = set(|f, v| f.enabled = v == "1"); Callback::from(move |e: Event| s.emit(if checked(&e) { "1".into() } else { String::new() })) }} />
                                { " Enabled (a paused schedule starts nothing)" }</label>
                        </div>
                        { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                        if *saved {
                            <p class="banner banner--ok" role="status" data-testid="schedule-saved">{ "Saved." }</p>
                        }
                        <button type="submit" class="button">{ "Save schedule" }</button>
                    </form>
                },
            }) }
        </>
    }
}
