//! Report a problem (spec 025): from a failed run, a refused page or the user menu. The page shows
//! what will be sent (the server builds and redacts the context itself), then confirms with the
//! request's id and the snapshot as sent.

use atlas_api_types::{OperationView, SupportRequest, SupportRequestCreate};
use wasm_bindgen::JsCast as _;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, select_field};
use crate::components::status_badge::status_badge;
use crate::hooks::use_load;
use crate::pages::workspace::WsProps;
use crate::router::{Link, use_location};
use crate::session::use_session;

const KINDS: [(&str, &str); 4] = [
    ("technical_problem", "Something does not work"),
    ("access_problem", "I cannot reach something I need"),
    ("ux_feedback", "Feedback on the app"),
    ("other", "Something else"),
];

fn default_kind(source: &str) -> &'static str {
    match source {
        "operation_run" | "provider_connection" => "technical_problem",
        "access_denied" => "access_problem",
        _ => "ux_feedback",
    }
}

#[component]
pub fn SupportPage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let session = use_session();
    let location = use_location();
    let source = match location.value("source").as_str() {
        s @ ("operation_run" | "provider_connection" | "access_denied") => s.to_owned(),
        _ => "generic".to_owned(),
    };
    let (run, env, path) = (location.value("run"), location.value("env"), location.value("path"));
    let kind = {
        let source = source.clone();
        use_state(move || default_kind(&source).to_owned())
    };
    let message = use_state(String::new);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let sent = use_state(|| None::<SupportRequest>);
    let run_view = use_load((ws.clone(), run.clone()), |(ws, run)| async move {
        if run.is_empty() {
            return Ok(None);
        }
        api::get::<OperationView>(&paths::operation(&ws, &run)).await.map(Some)
    });
    let onsubmit = {
        let (ws, source, run, env, path) = (ws.clone(), source.clone(), run.clone(), env.clone(), path.clone());
        let (kind, message, busy, error, sent) =
            (kind.clone(), message.clone(), busy.clone(), error.clone(), sent.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
            let body = SupportRequestCreate {
                source_type: source.clone(),
                issue_kind: (*kind).clone(),
                message: (*message).clone(),
                environment_id: some(&env),
                run_id: some(&run),
                request_id: None,
                path: some(&path),
            };
            let (ws, busy, error, sent) = (ws.clone(), busy.clone(), error.clone(), sent.clone());
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, SupportRequest>(&paths::support_requests(&ws), &body).await {
                    Ok(r) => {
                        error.set(None);
                        sent.set(Some(r));
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        })
    };
    if let Some(r) = &*sent {
        return html! {
            <>
                <div class="page-head"><h1>{ "Report a problem" }</h1></div>
                <section class="panel" data-testid="support-confirmation" role="status">
                    <h2>{ "Sent to support" }</h2>
                    <p>{ "Your request id is " }<code data-testid="support-request-id">{ &r.id }</code>
                        { ". Support will answer by e-mail; quote the id if you write again." }</p>
                    <p>{ "Delivery: " }{ status_badge(r.status.as_str()) }</p>
                    <details>
                        <summary>{ "What was sent (secrets redacted)" }</summary>
                        <pre class="detail" data-testid="support-context">{ serde_json::to_string_pretty(&r.context).unwrap_or_default() }</pre>
                    </details>
                </section>
            </>
        };
    }
    let me = &session.me;
    let role = me
        .memberships
        .iter()
        .find(|m| m.workspace_id == ws)
        .map(|m| m.role.as_str().to_owned())
        .unwrap_or_default();
    let about = match source.as_str() {
        "operation_run" => match run_view.state.ready() {
            Some(Some(v)) => html! {
                <li data-testid="support-about-run">{ "The run " }
                    <Link to={Route::Run { ws: ws.clone(), run: v.run.id.clone() }}>{ &v.run.label }</Link>
                    { format!(": its outcome, counts ({} failed of {}), errors and step results", v.run.failed, v.run.total) }</li>
            },
            _ => html! { <li>{ format!("The run {run}: its outcome, counts, errors and step results") }</li> },
        },
        "provider_connection" => {
            html! { <li>{ format!("The provider connection of {env}: its state, never a credential") }</li> }
        }
        "access_denied" => html! { <li>{ format!("The page you were refused: {path}") }</li> },
        _ => html! {},
    };
    let on_kind = {
        let kind = kind.clone();
        Callback::from(move |v: String| kind.set(v))
    };
    let on_message = {
        let message = message.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            {
                message.set(t.value());
            }
        })
    };
    let err = |f: &str| error.as_ref().and_then(|e| e.field(f));
    let message_error = err("message");
    html! {
        <>
            <div class="page-head"><h1>{ "Report a problem" }</h1></div>
            <section class="panel" aria-labelledby="support-context-title">
                <h2 id="support-context-title">{ "What will be sent" }</h2>
                <ul data-testid="support-preview">
                    { about }
                    <li>{ format!("You: {} ({}), role {} in {}", me.name, me.email, if role.is_empty() { "\u{2014}" } else { &role }, session.workspace_name(&ws)) }</li>
                    <li>{ "The app's version and the request id" }</li>
                </ul>
                <p class="muted">{ "The server gathers this itself from what you can see, and masks anything that looks like a secret before it is saved and e-mailed." }</p>
            </section>
            <section class="panel" aria-labelledby="support-form-title">
                <h2 id="support-form-title">{ "Your message" }</h2>
                <form class="form" {onsubmit}>
                    { select_field(&yew::props!(SelectFieldProps { id: "support-kind", label: "What kind of problem", value: (*kind).clone(), options: KINDS.iter().map(|(k, l)| ((*k).to_owned(), (*l).to_owned())).collect::<Vec<_>>(), onchange: on_kind, error: err("issue_kind") })) }
                    <div class={classes!("field", message_error.as_ref().map(|_| "field--invalid"))}>
                        <label for="support-message">{ "What happened" }</label>
                        <textarea id="support-message" rows="5" value={(*message).clone()} oninput={on_message} />
                        if let Some(e) = message_error { <span class="field__error">{ e }</span> }
                    </div>
                    { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                    <div class="actions">
                        <button type="submit" id="support-send" class="button" disabled={*busy}>{ "Send to support" }</button>
                    </div>
                </form>
            </section>
        </>
    }
}
