//! The provider connection wizard: create → consent → return → verify, and a way forward from
//! every state: retry consent, edit the tenant, re-enable, and the high-risk rotate, disable and
//! remove actions, each confirmed with the environment's typed name.

use atlas_api_types::{
    Confirm, ConsentStart, CredentialRotate, DedicatedApp, Environment, OperationRun, ProviderConnection,
    ProviderConnectionCreate, ProviderConnectionUpdate,
};
use atlas_domain::{Capability, ConnectionLifecycle, Status};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::confirm::ConfirmDialog;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::status_badge::{status_badge, words};
use crate::format;
use crate::hooks::use_load;
use crate::pages::environment::{EnvProps, posture};
use crate::router::{Link, Location, use_location};
use crate::session::{use_select_environment, use_session};

#[derive(Default, Clone, PartialEq)]
struct ReturnQuery {
    consent: Option<String>,
    reason: Option<String>,
}

impl ReturnQuery {
    fn from_location(l: &Location) -> Self {
        Self {
            consent: l.get("consent").map(str::to_owned),
            reason: l.get("reason").map(str::to_owned),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Dialog {
    None,
    Rotate,
    Disable,
    Remove,
    Edit,
}

#[component]
pub fn ProviderPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let returned = ReturnQuery::from_location(&use_location());
    let env = use_load(key.clone(), |(ws, env)| async move {
        api::get::<Environment>(&paths::environment(&ws, &env)).await
    });
    let conn = use_load(key.clone(), |(ws, env)| async move {
        api::get::<ProviderConnection>(&paths::provider_connection(&ws, &env)).await
    });
    use_select_environment(
        &props.ws,
        &props.env,
        conn.state.ready().is_some(),
        env.state.ready().map(|e| e.display_name.clone()),
    );
    // The connection's ids; its paths are built where they are used.
    let base = key.clone();
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    let consent = use_state(|| None::<ConsentStart>);
    let verifying = use_state(|| None::<OperationRun>);
    let dialog = use_state(|| Dialog::None);

    // Form state for step 1.
    let tenant = use_state(String::new);
    let mode = use_state(|| "platform".to_owned());
    let client_id = use_state(String::new);
    let client_secret = use_state(String::new);
    let new_secret = use_state(String::new);
    // The tenant field starts as the environment's (its primary domain, else its GUID).
    {
        let (tenant, loaded) = (
            tenant.clone(),
            env.state.ready().map(|e| {
                if e.primary_domain.is_empty() {
                    e.tenant_id.clone()
                } else {
                    e.primary_domain.clone()
                }
            }),
        );
        use_effect_with(loaded, move |loaded| {
            if let Some(t) = loaded
                && tenant.is_empty()
            {
                tenant.set(t.clone());
            }
        });
    }

    // Runs one request; on success reloads the connection and hands the answer to `then`.
    let act = {
        let (error, busy, reload) = (error.clone(), busy.clone(), conn.reload.clone());
        move |fut: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>>>>| {
            let (error, busy, reload) = (error.clone(), busy.clone(), reload.clone());
            busy.set(true);
            spawn_local(async move {
                match fut.await {
                    Ok(()) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        }
    };
    let create = {
        let (act, base, tenant, mode, client_id, client_secret) = (
            act.clone(),
            base.clone(),
            tenant.clone(),
            mode.clone(),
            client_id.clone(),
            client_secret.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = ProviderConnectionCreate {
                tenant: (*tenant).clone(),
                dedicated_app: (*mode == "dedicated").then(|| DedicatedApp {
                    client_id: (*client_id).clone(),
                    client_secret: (*client_secret).clone(),
                }),
            };
            let base = base.clone();
            act(Box::pin(async move {
                api::post::<_, ProviderConnection>(&paths::provider_connection(&base.0, &base.1), &body)
                    .await
                    .map(drop)
            }));
        })
    };
    let start_consent = {
        let (act, base, consent) = (act.clone(), base.clone(), consent.clone());
        Callback::from(move |_: MouseEvent| {
            let (base, consent) = (base.clone(), consent.clone());
            act(Box::pin(async move {
                let start = api::post_empty::<ConsentStart>(&paths::provider_consent(&base.0, &base.1)).await?;
                consent.set(Some(start));
                Ok(())
            }));
        })
    };
    let verify = {
        let (act, base, verifying) = (act.clone(), base.clone(), verifying.clone());
        Callback::from(move |_: MouseEvent| {
            let (base, verifying) = (base.clone(), verifying.clone());
            act(Box::pin(async move {
                let run = api::post_empty::<OperationRun>(&paths::provider_verify(&base.0, &base.1)).await?;
                verifying.set(Some(run));
                Ok(())
            }));
        })
    };
    let rotate = {
        let (act, base, new_secret, dialog) = (act.clone(), base.clone(), new_secret.clone(), dialog.clone());
        Callback::from(move |confirm: String| {
            let (base, dialog) = (base.clone(), dialog.clone());
            let body = CredentialRotate {
                client_secret: (*new_secret).clone(),
                confirm,
            };
            act(Box::pin(async move {
                api::put::<_, ProviderConnection>(&paths::provider_credential(&base.0, &base.1), &body).await?;
                dialog.set(Dialog::None);
                Ok(())
            }));
        })
    };
    let disable = {
        let (act, base, dialog) = (act.clone(), base.clone(), dialog.clone());
        Callback::from(move |confirm: String| {
            let (base, dialog) = (base.clone(), dialog.clone());
            act(Box::pin(async move {
                api::post::<_, ProviderConnection>(&paths::provider_disable(&base.0, &base.1), &Confirm { confirm })
                    .await?;
                dialog.set(Dialog::None);
                Ok(())
            }));
        })
    };
    let enable = {
        let (act, base) = (act.clone(), base.clone());
        Callback::from(move |_: MouseEvent| {
            let base = base.clone();
            act(Box::pin(async move {
                api::post_empty::<ProviderConnection>(&paths::provider_enable(&base.0, &base.1)).await?;
                Ok(())
            }));
        })
    };
    let remove = {
        let (act, base, dialog, consent) = (act.clone(), base.clone(), dialog.clone(), consent.clone());
        Callback::from(move |confirm: String| {
            let (base, dialog, consent) = (base.clone(), dialog.clone(), consent.clone());
            act(Box::pin(async move {
                api::delete(
                    &paths::provider_connection(&base.0, &base.1),
                    Some(&Confirm { confirm }),
                )
                .await?;
                consent.set(None);
                dialog.set(Dialog::None);
                Ok(())
            }));
        })
    };
    let edit = {
        let (act, base, dialog, consent, tenant) = (
            act.clone(),
            base.clone(),
            dialog.clone(),
            consent.clone(),
            tenant.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (base, dialog, consent) = (base.clone(), dialog.clone(), consent.clone());
            let body = ProviderConnectionUpdate {
                tenant: Some((*tenant).clone()),
                client_id: None,
            };
            act(Box::pin(async move {
                api::patch::<_, ProviderConnection>(&paths::provider_connection(&base.0, &base.1), &body).await?;
                consent.set(None);
                dialog.set(Dialog::None);
                Ok(())
            }));
        })
    };
    let open = |d: Dialog| {
        let (dialog, error) = (dialog.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            error.set(None);
            dialog.set(d);
        })
    };
    let cancel = {
        let (dialog, error) = (dialog.clone(), error.clone());
        Callback::from(move |()| {
            error.set(None);
            dialog.set(Dialog::None);
        })
    };
    let on_verified = {
        let reload = conn.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    let can_manage = session.can(&key.0, Capability::ProviderManage);
    let can_verify = session.can(&key.0, Capability::ProviderVerify);
    let manage_why = session.lacks(&key.0, Capability::ProviderManage);
    let err = (*error).clone();
    let field = |name: &str| err.as_ref().and_then(|e| e.field(name));

    let env_name = env.state.ready().map(|e| e.display_name.clone()).unwrap_or_default();
    let return_banner = returned.consent.as_ref().map(|outcome| {
        let (class, text) = match outcome.as_str() {
            "granted" => ("banner banner--ok", "A tenant administrator signed in and proved this tenant is yours to manage. Verify the connection to check its permissions.".to_owned()),
            "declined" => ("banner banner--warn", "The administrator declined consent. Start consent again when ready.".to_owned()),
            "rejected" => ("banner banner--warn", rejection_text(returned.reason.as_deref())),
            _ => ("banner banner--warn", "Consent ended with an error. Start consent again.".to_owned()),
        };
        html! { <div class={class} role="status" data-testid="consent-result" data-outcome={outcome.clone()}>{ text }</div> }
    });

    let body = load::view(&conn, "load the provider connection", |c: &ProviderConnection| {
        let step = if !c.configured {
            1
        } else if c.lifecycle == Some(ConnectionLifecycle::Consented)
            && c.consent.as_ref().is_some_and(|x| x.proven_by.is_some())
        {
            4
        } else if c.lifecycle == Some(ConnectionLifecycle::Disabled) {
            0
        } else {
            2
        };
        let step_item = |n: u8, label: &str| {
            let state = if step > n || (n == 4 && c.status == Status::Ready) {
                "done"
            } else if step == n {
                "current"
            } else {
                "todo"
            };
            html! {
                <li class={classes!("steps__item", format!("steps__item--{state}"))}
                    aria-current={(state == "current").then_some("step")}>{ format!("{n}. {label}") }</li>
            }
        };
        let disabled = c.lifecycle == Some(ConnectionLifecycle::Disabled);
        let danger = match *dialog {
            Dialog::None | Dialog::Edit => html! {
                <div class="actions">
                    if c.app_mode.as_deref() == Some("dedicated") && !disabled {
                        <button type="button" class="button button--quiet" onclick={open(Dialog::Rotate)} data-testid="rotate">{ "Rotate client secret\u{2026}" }</button>
                    }
                    if !disabled {
                        <button type="button" class="button button--danger" onclick={open(Dialog::Disable)} data-testid="disable">{ "Disable connection\u{2026}" }</button>
                    }
                    <button type="button" class="button button--danger" onclick={open(Dialog::Remove)} data-testid="remove">{ "Remove connection\u{2026}" }</button>
                </div>
            },
            Dialog::Remove => html! {
                <ConfirmDialog id="remove" opener="[data-testid=remove]" title="Remove the connection" expected={env_name.clone()} action_label="Remove connection"
                    busy={*busy} error={err.clone()} on_confirm={remove.clone()} on_cancel={cancel.clone()}>
                    <p>{ "The connection, its consent record and its stored client secret are deleted. You can create a new connection afterwards." }</p>
                </ConfirmDialog>
            },
            Dialog::Rotate => html! {
                <ConfirmDialog id="rotate" opener="[data-testid=rotate]" title="Rotate the client secret" expected={env_name.clone()} action_label="Rotate secret"
                    busy={*busy} error={err.clone()} on_confirm={rotate.clone()} on_cancel={cancel.clone()}>
                    { text_field(&yew::props!(TextFieldProps { id: "new-secret", label: "New client secret", kind: "password", value: (*new_secret).clone(), autocomplete: "off", onchange: { let t = new_secret.clone(); Callback::from(move |v| t.set(v)) }, error: field("client_secret") })) }
                </ConfirmDialog>
            },
            Dialog::Disable => html! {
                <ConfirmDialog id="disable" opener="[data-testid=disable]" title="Disable the connection" expected={env_name.clone()} action_label="Disable connection"
                    busy={*busy} error={err.clone()} on_confirm={disable.clone()} on_cancel={cancel.clone()}>
                    <p>{ "No Graph call will be made for this environment until it is connected again. Syncs and backups stop." }</p>
                </ConfirmDialog>
            },
        };
        html! {
            <>
                <ol class="steps" aria-label="Connection steps">
                    { step_item(1, "Create") }{ step_item(2, "Consent") }{ step_item(3, "Return") }{ step_item(4, "Verify") }
                </ol>
                <section class="panel" aria-labelledby="conn-state">
                    <h2 id="conn-state">{ "Status" }</h2>
                    <p data-testid="connection-status">{ status_badge(c.status.as_str()) }{ " " }{ &c.status_reason }</p>
                    if let Some(p) = c.consent.as_ref().and_then(|x| x.proven_by.as_ref()) {
                        <p class="muted" data-testid="consent-proof">{ format!("Tenant administration proven by {} ({}).", p.upn, p.role) }</p>
                    }
                    if c.configured {
                        <dl class="facts">
                            { crate::components::markup::fact("Tenant", html! { <>{ c.tenant.clone().unwrap_or_default() }</> }) }
                            { crate::components::markup::fact("App", html! { <>{ match c.app_mode.as_deref() { Some("platform") => "TenantAtlas platform app", Some("dedicated") => "Your own app registration", other => other.unwrap_or_default() } }</> }) }
                            { crate::components::markup::fact("Lifecycle", html! { <>{ c.lifecycle.map(|l| words(l.as_str())).unwrap_or_default() }</> }) }
                            if let Some(cr) = &c.credential {
                                { crate::components::markup::fact("Credential", html! { <>{ format!("{} v{} set {}", cr.kind, cr.version, format::time(cr.set_ms)) }</> }) }
                            }
                        </dl>
                    }
                    if let Some(why) = manage_why.clone() { { crate::components::markup::why_not(why) } }
                </section>
                if step == 1 && can_manage {
                    <form class="panel form" aria-labelledby="create-title" onsubmit={create.clone()}>
                        <h2 id="create-title">{ "1. Create the connection" }</h2>
                        { text_field(&yew::props!(TextFieldProps { id: "tenant", label: "Tenant (this environment's GUID or primary domain)", value: (*tenant).clone(), required: true, onchange: { let t = tenant.clone(); Callback::from(move |v| t.set(v)) }, error: field("tenant") })) }
                        { select_field(&yew::props!(SelectFieldProps { id: "app-mode", label: "App identity", value: (*mode).clone(), options: vec![("platform".into(), "TenantAtlas platform app (recommended)".into()), ("dedicated".into(), "Our own app registration".into())], onchange: { let m = mode.clone(); Callback::from(move |v| m.set(v)) } })) }
                        if *mode == "dedicated" {
                            { text_field(&yew::props!(TextFieldProps { id: "client-id", label: "Client id", value: (*client_id).clone(), onchange: { let t = client_id.clone(); Callback::from(move |v| t.set(v)) }, error: field("dedicated_app.client_id") })) }
                            { text_field(&yew::props!(TextFieldProps { id: "client-secret", label: "Client secret", kind: "password", value: (*client_secret).clone(), autocomplete: "off", onchange: { let t = client_secret.clone(); Callback::from(move |v| t.set(v)) }, error: field("dedicated_app.client_secret") })) }
                        }
                        { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                        <button type="submit" class="button" disabled={*busy} data-testid="create-connection">{ "Create connection" }</button>
                    </form>
                }
                if step == 2 && can_manage {
                    <section class="panel" aria-labelledby="consent-title">
                        <h2 id="consent-title">{ "2. Sign in as a tenant administrator" }</h2>
                        <p>{ "A Global Administrator, Intune Administrator or Privileged Role Administrator of the tenant signs in. This proves the tenant is yours to manage; a Global Administrator is also asked to grant TenantAtlas its permissions if the tenant has not yet. You come back here afterwards." }</p>
                        { requested(c) }
                        if let Some(start) = &*consent {
                            <p><a class="button" href={start.consent_url.clone()} data-testid="open-consent">{ "Sign in to the tenant" }</a></p>
                            <p class="muted">{ "This link works once and expires " }{ format::until(start.expires_ms) }{ "." }</p>
                        } else {
                            <button type="button" class="button" onclick={start_consent.clone()} disabled={*busy} data-testid="start-consent">{ if c.consent.is_some() || returned.consent.is_some() { "Retry sign-in" } else { "Start sign-in" } }</button>
                        }
                        { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                    </section>
                }
                if step == 0 && can_manage {
                    <section class="panel" aria-labelledby="enable-title">
                        <h2 id="enable-title">{ "Disabled" }</h2>
                        <p>{ "No Graph call is made for this environment. Re-enable it to go back to where it was (verify it again), edit its tenant, or remove it and start over." }</p>
                        <button type="button" class="button" onclick={enable.clone()} disabled={*busy} data-testid="enable">{ "Re-enable connection" }</button>
                        if *dialog == Dialog::None { { form_error(&yew::props!(FormErrorProps { error: err.clone() })) } }
                    </section>
                }
                if c.configured && can_manage {
                    if *dialog == Dialog::Edit || (step == 2 && field("tenant").is_some()) {
                        <form class="panel form" aria-labelledby="edit-title" onsubmit={edit.clone()}>
                            <h2 id="edit-title">{ "Edit tenant" }</h2>
                            <p>{ "Changing the tenant resets consent: a tenant administrator signs in again." }</p>
                            { text_field(&yew::props!(TextFieldProps { id: "edit-tenant", label: "Tenant (GUID or verified domain)", value: (*tenant).clone(), required: true, onchange: { let t = tenant.clone(); Callback::from(move |v| t.set(v)) }, error: field("tenant") })) }
                            <div class="actions">
                                <button type="submit" class="button" disabled={*busy} data-testid="save-tenant">{ "Save tenant" }</button>
                                <button type="button" class="button button--quiet" onclick={{ let c = cancel.clone(); Callback::from(move |_: MouseEvent| c.emit(())) }}>{ "Cancel" }</button>
                            </div>
                        </form>
                    } else if *dialog == Dialog::None {
                        <p class="actions"><button type="button" class="button button--quiet" onclick={open(Dialog::Edit)} data-testid="edit-tenant">{ "Edit tenant" }</button></p>
                    }
                }
                if step == 4 {
                    <section class="panel" aria-labelledby="verify-title">
                        <h2 id="verify-title">{ "4. Verify" }</h2>
                        <p>{ "Signs in to the tenant, compares granted permissions and probes each policy family." }</p>
                        if can_verify {
                            <button type="button" class="button" onclick={verify.clone()} disabled={*busy || verifying.is_some()} data-testid="verify">{ "Verify connection" }</button>
                        } else if let Some(why) = session.lacks(&key.0, Capability::ProviderVerify) {
                            { crate::components::markup::why_not(why) }
                        }
                        if *dialog == Dialog::None { { form_error(&yew::props!(FormErrorProps { error: err.clone() })) } }
                        if let Some(run) = &*verifying {
                            <LiveRun ws={key.0.clone()} run={run.clone()} on_done={on_verified.clone()} />
                        }
                        <h3>{ "Permission posture" }</h3>
                        { posture(c, false) }
                    </section>
                }
                if c.configured && can_manage {
                    <section class="panel panel--danger" aria-labelledby="danger-title">
                        <h2 id="danger-title">{ "High-risk actions" }</h2>
                        { danger.clone() }
                    </section>
                }
            </>
        }
    });
    html! {
        <>
            <div class="page-head">
                <h1>{ "Provider connection" }</h1>
                <Link to={Route::Environment { ws: key.0.clone(), env: key.1.clone() }}>{ if env_name.is_empty() { key.1.clone() } else { env_name.clone() } }</Link>
            </div>
            { env.state.ready().map(|e| crate::components::envs::lifecycle_banner(e.lifecycle)).unwrap_or_default() }
            { return_banner.unwrap_or_default() }
            { body }
        </>
    }
}

/// The permissions consent asks for, each with why (issue 19 item 4): the administrator sees
/// here what Microsoft's consent page will list, read-write ones included.
fn requested(c: &ProviderConnection) -> Html {
    if c.requested_permissions.is_empty() {
        return Html::default();
    }
    html! {
        <>
            <h3>{ "Permissions TenantAtlas asks for" }</h3>
            <p class="muted">{ "Application permissions on Microsoft Graph. Read-write ones are used only when a member with the right role restores or promotes; every other feature only reads." }</p>
            <div class="table-wrap"><table class="table" data-testid="requested-permissions">
                <thead><tr>{ crate::components::markup::th("Permission") }{ crate::components::markup::th("Access") }{ crate::components::markup::th("Why") }</tr></thead>
                <tbody>{ for c.requested_permissions.iter().map(|p| html! {
                    <tr class="requested-permission" data-permission={p.permission.clone()}>
                        <td><code>{ &p.permission }</code></td>
                        <td>{ if p.read_write { "Read and write" } else { "Read" } }</td>
                        <td>{ &p.why }</td>
                    </tr>
                }) }</tbody>
            </table></div>
        </>
    }
}

/// Why a consent return proved nothing, in plain words (the callback's `reason`).
fn rejection_text(reason: Option<&str>) -> String {
    let why = match reason {
        Some("no_code") => {
            "The page came back without a sign-in. Only a tenant administrator signing in proves the tenant is yours; start consent again and sign in."
        }
        Some("not_admin") => {
            "The account that signed in is not a Global Administrator, Intune Administrator or Privileged Role Administrator of this tenant. Start consent again and sign in with an administrator account."
        }
        Some("wrong_tenant") => {
            "The account that signed in belongs to another tenant. Check the tenant (Edit tenant), then retry and sign in with an administrator of this environment's tenant."
        }
        Some("code_rejected") => {
            "Microsoft refused the sign-in's one-time code (already used, expired, or issued by another tenant). Start consent again."
        }
        Some("bad_signature") | Some("invalid_token") => {
            "The sign-in's identity token failed its checks, so it was not trusted. Start consent again; if it keeps happening, contact support."
        }
        Some("unverifiable") => {
            "The sign-in could not be checked with Microsoft just now. Start consent again in a moment."
        }
        Some("expired") => "The consent request expired (after 15 minutes). Start consent again.",
        Some("replayed") => "This consent request was already used. Start consent again.",
        _ => "The consent answer was rejected. Start consent again.",
    };
    why.to_owned()
}
