//! The onboarding wizard (issue 18 item 1, spec 024), in the third bundle: add an environment by
//! name and tenant, then admin consent (the tenant's own sign-in page), verify, the first
//! inventory and the first backup. The draft lives on the server, so the wizard resumes from
//! any device at the step the real objects say; each step's run is followed live.

use atlas_api_types::{
    ConsentStart, OnboardingAdvance, OnboardingCreate, OnboardingDraft, OnboardingDraftList, OnboardingStep,
};
use atlas_domain::Status;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{TextFieldProps, text_field};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::status_badge::status_badge;
use crate::hooks::{use_interval, use_load};
use crate::pages::workspace::WsProps;
use crate::router::{Link, use_navigator};

const STEPS: [(OnboardingStep, &str); 5] = [
    (OnboardingStep::Consent, "Admin consent"),
    (OnboardingStep::Verify, "Verify"),
    (OnboardingStep::Inventory, "First inventory"),
    (OnboardingStep::Backup, "First backup"),
    (OnboardingStep::Done, "Done"),
];

/// Start a draft (environment name and tenant), and the drafts not finished yet.
#[component]
pub fn OnboardingPage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let drafts = use_load(ws.clone(), |ws| async move {
        api::get::<OnboardingDraftList>(&paths::onboarding(&ws)).await
    });
    let name = use_state(String::new);
    let tenant = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let navigator = use_navigator();
    let onsubmit = {
        let (name, tenant, error, busy, ws) = (name.clone(), tenant.clone(), error.clone(), busy.clone(), ws.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = OnboardingCreate {
                display_name: (*name).clone(),
                tenant: (*tenant).clone(),
            };
            let (error, busy, ws, navigator) = (error.clone(), busy.clone(), ws.clone(), navigator.clone());
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, OnboardingDraft>(&paths::onboarding(&ws), &body).await {
                    Ok(d) => navigator.push(&Route::OnboardingDraft { ws, draft: d.id }),
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
            <h1>{ "Add an environment" }</h1>
            <p class="muted">{ "Five steps: the environment and its tenant, a tenant administrator's consent, a verification, the first inventory and the first backup. You can leave at any step and come back from any device." }</p>
            <form class="form panel" {onsubmit} aria-label="Add an environment" novalidate=true data-testid="onboarding-form">
                { text_field(&yew::props!(TextFieldProps { id: "onb-name", label: "Environment name", value: (*name).clone(), required: true,
                    hint: "As operators will see it, e.g. Contoso production", onchange: { let s = name.clone(); Callback::from(move |v| s.set(v)) }, error: field("display_name") })) }
                { text_field(&yew::props!(TextFieldProps { id: "onb-tenant", label: "Tenant domain or id", value: (*tenant).clone(), required: true,
                    hint: "One of the tenant's verified domains (contoso.onmicrosoft.com) or its GUID", onchange: { let s = tenant.clone(); Callback::from(move |v| s.set(v)) }, error: field("tenant") })) }
                { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                <button type="submit" class="button" disabled={*busy} data-testid="onboarding-start">{ "Add and continue" }</button>
            </form>
            { load::view(&drafts, "load the onboarding drafts", |list: &OnboardingDraftList| {
                let open: Vec<&OnboardingDraft> = list.items.iter().filter(|d| d.state != OnboardingStep::Done).collect();
                if open.is_empty() {
                    return Html::default();
                }
                html! {
                    <section class="panel" aria-labelledby="drafts-title">
                        <h2 id="drafts-title">{ "Not finished yet" }</h2>
                        <ul class="cards">{ for open.into_iter().map(|d| html! {
                            <li class="card" data-testid={format!("draft-{}", d.id)}>
                                <p><Link to={Route::OnboardingDraft { ws: ws.clone(), draft: d.id.clone() }}>{ &d.display_name }</Link>
                                    { " " }{ status_badge(d.status.as_str()) }</p>
                                <p class="muted">{ &d.reason }</p>
                            </li>
                        }) }</ul>
                    </section>
                }
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct DraftProps {
    pub ws: String,
    pub draft: String,
}

/// One draft: the steps with where it stands, the current step's action, its run followed live.
#[component]
pub fn DraftPage(props: &DraftProps) -> Html {
    let key = (props.ws.clone(), props.draft.clone());
    let draft = use_load(key.clone(), |(ws, d)| async move {
        api::get::<OnboardingDraft>(&paths::onboarding_draft(&ws, &d)).await
    });
    let error = use_state(|| None::<ApiError>);
    let consent = use_state(|| None::<ConsentStart>);
    let current = draft.state.ready().cloned();
    // While a step's run runs the draft is read again, so its end moves the wizard on (the
    // live run shows the progress meanwhile).
    let running = current.as_ref().is_some_and(|d| d.status == Status::Running);
    use_interval(1500, running, draft.reload.clone());
    let advance = {
        let (key, error, reload) = (key.clone(), error.clone(), draft.reload.clone());
        Callback::from(move |step: OnboardingStep| {
            let ((ws, d), error, reload) = (key.clone(), error.clone(), reload.clone());
            spawn_local(async move {
                let body = OnboardingAdvance { step };
                match api::patch::<_, OnboardingDraft>(&paths::onboarding_draft(&ws, &d), &body).await {
                    Ok(_) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let start_consent = {
        let (key, error, consent) = (key.clone(), error.clone(), consent.clone());
        Callback::from(move |_: MouseEvent| {
            let ((ws, d), error, consent) = (key.clone(), error.clone(), consent.clone());
            spawn_local(async move {
                match api::post_empty::<ConsentStart>(&paths::provider_consent(&ws, &d)).await {
                    Ok(c) => {
                        error.set(None);
                        consent.set(Some(c));
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let on_done = {
        let reload = draft.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    let (ws, _) = key;
    let err = (*error).clone();
    load::view(&draft, "load the onboarding draft", |d: &OnboardingDraft| {
        let step_button = |step: OnboardingStep, label: &'static str, id: &'static str| {
            let advance = advance.clone();
            html! {
                <button type="button" class="button" data-testid={id}
                    onclick={Callback::from(move |_: MouseEvent| advance.emit(step))}>{ label }</button>
            }
        };
        let idle = d.status != Status::Running && d.status != Status::Blocked;
        let again = matches!(d.status, Status::Failed | Status::NeedsAttention | Status::Expired);
        html! {
            <>
                <div class="page-head">
                    <h1>{ format!("Onboarding {}", d.display_name) }</h1>
                    { status_badge(d.status.as_str()) }
                </div>
                <p class="muted">{ format!("Tenant {} ({})", d.tenant, d.tenant_id) }</p>
                <ol class="steps" aria-label="Onboarding steps" data-testid="onboarding-steps" data-state={d.state.as_str()}>
                    { for STEPS.iter().map(|(s, label)| {
                        let mark = if *s < d.state || d.state == OnboardingStep::Done { "done" } else if *s == d.state { "current" } else { "todo" };
                        html! {
                            <li class={classes!("steps__item", format!("steps__item--{mark}"))} data-step={s.as_str()} data-mark={mark}
                                aria-current={(mark == "current").then_some("step")}>{ *label }</li>
                        }
                    }) }
                </ol>
                <section class="panel" aria-labelledby="step-title" data-testid="onboarding-step">
                    <h2 id="step-title">{ STEPS.iter().find(|(s, _)| *s == d.state).map(|(_, l)| *l).unwrap_or_default() }</h2>
                    <p data-testid="onboarding-reason">{ status_badge(d.status.as_str()) }{ " " }{ &d.reason }</p>
                    if idle {
                        { match d.state {
                            OnboardingStep::Consent => html! {
                                <>
                                    <p>{ "A Global Administrator of the tenant signs in on Microsoft's page and grants admin consent to TenantAtlas; you come back here afterwards." }</p>
                                    if let Some(c) = &*consent {
                                        <p><a class="button" href={c.consent_url.clone()} data-testid="open-consent">{ "Sign in to the tenant" }</a></p>
                                    } else {
                                        <button type="button" class="button" data-testid="start-consent" onclick={start_consent.clone()}>{ "Start admin consent" }</button>
                                    }
                                </>
                            },
                            OnboardingStep::Verify => step_button(OnboardingStep::Verify, if again { "Verify again" } else { "Verify the connection" }, "onboarding-verify"),
                            OnboardingStep::Inventory => step_button(OnboardingStep::Inventory, if again { "Sync again" } else { "Sync the inventory" }, "onboarding-inventory"),
                            OnboardingStep::Backup => step_button(OnboardingStep::Backup, if again { "Back up again" } else { "Run the first backup" }, "onboarding-backup"),
                            OnboardingStep::Done => html! {
                                <p data-testid="onboarding-done">
                                    <Link to={Route::Environment { ws: ws.clone(), env: d.environment_id.clone() }} classes="button">{ "Open the environment" }</Link>
                                    if let Some(set) = &d.backup_run_id {
                                        { " " }<Link to={Route::BackupSet { ws: ws.clone(), env: d.environment_id.clone(), set: set.clone() }}>{ "The first backup" }</Link>
                                    }
                                </p>
                            },
                        } }
                    }
                    { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                    if let Some(run) = d.run.clone() {
                        <LiveRun key={run.id.clone()} ws={ws.clone()} run={run.clone()} on_done={on_done.clone()} />
                    }
                </section>
            </>
        }
    })
}
