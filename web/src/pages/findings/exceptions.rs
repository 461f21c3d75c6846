//! A finding's risk acceptances (spec 016): request one (justification, ticket, expiry in days),
//! approve or reject a request (another member than its requester), revoke an accepted risk or
//! withdraw a request — with who, when, until when and why for each.

use atlas_api_types::{Exception, ExceptionDecision, ExceptionRequest, ExceptionStatus, Finding};
use atlas_domain::Capability;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{TextFieldProps, text_field};
use crate::components::load;
use crate::format;
use crate::hooks::use_load;
use crate::router::Link;
use crate::session::use_session;

#[derive(Properties, PartialEq)]
pub struct ExceptionsProps {
    pub ws: String,
    pub finding: Finding,
    pub items: Vec<Exception>,
    pub reload: Callback<()>,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[component]
pub fn Exceptions(props: &ExceptionsProps) -> Html {
    let session = use_session();
    let can_request = session.can(&props.ws, Capability::FindingsTriage);
    let can_decide = session.can(&props.ws, Capability::FindingsAcceptRisk);
    let me = session.me.email.clone();
    let justification = use_state(String::new);
    let ticket = use_state(String::new);
    let days = use_state(|| "30".to_owned());
    let reason = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(|| false);
    // One action: POST `path` with `body`, then reload the finding (its status moves too).
    let act = {
        let (error, busy, reload, reason) = (error.clone(), busy.clone(), props.reload.clone(), reason.clone());
        move |path: String, body: serde_json::Value| {
            let (error, busy, reload, reason) = (error.clone(), busy.clone(), reload.clone(), reason.clone());
            busy.set(true);
            spawn_local(async move {
                let done = api::post::<_, Exception>(&path, &body).await;
                busy.set(false);
                match done {
                    Ok(_) => {
                        error.set(None);
                        reason.set(String::new());
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let current = props.items.iter().find(|e| e.state.is_current());
    let request = {
        let (act, ws, id) = (act.clone(), props.ws.clone(), props.finding.id.clone());
        let (justification, ticket, days) = (justification.clone(), ticket.clone(), days.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // Not a number: 0 days, which the server refuses with the field's message.
            let n = days.trim().parse::<i64>().unwrap_or(0);
            let body = ExceptionRequest {
                justification: justification.trim().to_owned(),
                ticket_url: Some(ticket.trim().to_owned()).filter(|t| !t.is_empty()),
                expires_ms: format::now_ms() + n * DAY_MS,
            };
            act(
                paths::finding_exceptions(&ws, &id),
                serde_json::to_value(body).unwrap_or_default(),
            );
        })
    };
    let decide = |verb: &'static str, id: &str| {
        let (act, ws, id, reason) = (act.clone(), props.ws.clone(), id.to_owned(), reason.clone());
        Callback::from(move |_: MouseEvent| {
            let path = match verb {
                "approve" => paths::exception_approve(&ws, &id),
                "reject" => paths::exception_reject(&ws, &id),
                _ => paths::exception_revoke(&ws, &id),
            };
            let why = Some(reason.trim().to_owned()).filter(|r| !r.is_empty());
            act(
                path,
                serde_json::to_value(ExceptionDecision { reason: why }).unwrap_or_default(),
            );
        })
    };
    let field = |name: &str| error.as_ref().and_then(|e| e.field(name));
    html! {
        <section class="panel" aria-labelledby="exceptions-title" data-testid="exceptions">
            <h2 id="exceptions-title">{ "Risk acceptance" }</h2>
            if props.items.is_empty() {
                <p class="muted">{ "No exception was requested for this finding." }</p>
            } else {
                <ul class="checks">{ for props.items.iter().map(|e| html! {
                    <li class="exception" data-id={e.id.clone()} data-status={e.state.as_str()}>
                        { crate::components::status_badge::state_badge(e.status, e.state.as_str(), &crate::components::status_badge::words(e.state.as_str()), "exception-status") }{ " " }
                        { format!("until {} \u{b7} requested by {} {}", format::time(e.expires_ms), e.requested_by, format::time(e.requested_ms)) }
                        if let Some(by) = &e.decided_by { { format!(" \u{b7} decided by {by}") } }
                        <p>{ &e.justification }
                            if let Some(t) = &e.ticket_url { { " " }<a href={t.clone()} rel="noopener noreferrer" target="_blank">{ "Ticket" }</a> }</p>
                        if let Some(why) = e.end_reason.as_ref().or(e.decision_reason.as_ref()) { <p class="muted">{ why }</p> }
                    </li>
                }) }</ul>
            }
            if let Some(e) = current {
                { text_field(&yew::props!(TextFieldProps { id: "exception-reason", label: "Reason", value: (*reason).clone(), hint: AttrValue::Static("Needed to reject, revoke or withdraw."), onchange: { let r = reason.clone(); Callback::from(move |v| r.set(v)) }, error: field("reason") })) }
                <div class="actions">
                    if e.state == ExceptionStatus::Requested && can_decide {
                        if e.requested_by == me {
                            <p class="muted">{ "You requested it: another member approves it." }</p>
                        } else {
                            <button type="button" class="button" id="exception-approve" disabled={*busy} onclick={decide("approve", &e.id)}>{ "Approve" }</button>
                        }
                        <button type="button" class="button button--quiet" id="exception-reject" disabled={*busy} onclick={decide("reject", &e.id)}>{ "Reject" }</button>
                    }
                    if (e.state == ExceptionStatus::Active && can_decide) || (e.state == ExceptionStatus::Requested && (can_decide || e.requested_by == me)) {
                        <button type="button" class="button button--quiet" id="exception-revoke" disabled={*busy} onclick={decide("revoke", &e.id)}>
                            { if e.state == ExceptionStatus::Active { "Revoke" } else { "Withdraw" } }</button>
                    }
                </div>
            } else if can_request && props.finding.state.is_open() {
                <form class="form" onsubmit={request}>
                    { text_field(&yew::props!(TextFieldProps { id: "exception-justification", label: "Justification", value: (*justification).clone(), required: true, onchange: { let s = justification.clone(); Callback::from(move |v| s.set(v)) }, error: field("justification") })) }
                    { text_field(&yew::props!(TextFieldProps { id: "exception-ticket", label: "Ticket link (optional)", value: (*ticket).clone(), onchange: { let s = ticket.clone(); Callback::from(move |v| s.set(v)) }, error: field("ticket_url") })) }
                    { text_field(&yew::props!(TextFieldProps { id: "exception-days", label: "Expires in (days)", kind: AttrValue::Static("number"), value: (*days).clone(), hint: AttrValue::Static("Every acceptance expires; the workspace policy caps it (90 days by default)."), onchange: { let s = days.clone(); Callback::from(move |v| s.set(v)) }, error: field("expires_ms") })) }
                    <button type="submit" class="button" id="exception-request" disabled={*busy}>{ "Request risk acceptance" }</button>
                </form>
            }
            if error.as_ref().is_some_and(|e| e.field("reason").is_none()) { { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) } }
        </section>
    }
}

/// The workspace's risk acceptances (second bundle): who requested and decided each, until when
/// and why, filtered by status; each links to its finding.
#[component]
pub fn ExceptionsPage(props: &crate::pages::workspace::WsProps) -> Html {
    let status = use_state(String::new);
    let list = use_load((props.ws.clone(), (*status).clone()), |(ws, status)| async move {
        let path = api::with_query(&paths::exceptions(&ws), &[("state", status.as_str())]);
        api::get::<atlas_api_types::ExceptionList>(&path).await
    });
    let ws = props.ws.clone();
    let chip = |value: &'static str, label: &'static str| {
        let (status, current) = (status.clone(), *status == value);
        html! {
            <button type="button" class={classes!("chip", current.then_some("chip--update"))} aria-pressed={current.to_string()}
                onclick={Callback::from(move |_: MouseEvent| status.set(value.to_owned()))}>{ label }</button>
        }
    };
    html! {
        <>
            <div class="page-head"><h1>{ "Risk acceptances" }</h1></div>
            <div class="toolbar" role="group" aria-label="Status">
                { chip("", "All") }{ chip("requested", "Requested") }{ chip("active", "Active") }
                { chip("expired", "Expired") }{ chip("revoked", "Revoked") }{ chip("voided", "Voided") }
            </div>
            { load::view(&list, "load the risk acceptances", |l: &atlas_api_types::ExceptionList| {
                if l.items.is_empty() {
                    return load::empty(html! { <>{ "No risk acceptance matches." }</> });
                }
                html! {
                    <div class="table-wrap"><table class="table" data-testid="exceptions-table">
                        <thead><tr>{ crate::components::markup::th("Finding") }{ crate::components::markup::th("Status") }
                            { crate::components::markup::th("Requested") }{ crate::components::markup::th("Decided") }
                            { crate::components::markup::th("Until") }{ crate::components::markup::th("Why") }</tr></thead>
                        <tbody>{ for l.items.iter().map(|e| html! {
                            <tr class="exception" data-id={e.id.clone()} data-status={e.state.as_str()}>
                                <td><Link to={Route::Finding { ws: ws.clone(), finding: e.finding_id.clone() }}>{ &e.finding_title }</Link>
                                    <span class="muted">{ " \u{b7} " }<crate::session::EnvName ws={ws.clone()} env={e.environment_id.clone()} /></span></td>
                                <td>{ crate::components::status_badge::state_badge(e.status, e.state.as_str(), &crate::components::status_badge::words(e.state.as_str()), "exception-status") }</td>
                                <td>{ format!("{} {}", e.requested_by, format::time(e.requested_ms)) }</td>
                                <td>{ e.decided_by.as_ref().map(|by| format!("{by} {}", format::time_opt(e.decided_ms))).unwrap_or_default() }</td>
                                <td>{ format::when(e.expires_ms) }</td>
                                <td>{ &e.justification }
                                    if let Some(why) = e.end_reason.as_ref().or(e.decision_reason.as_ref()) { <p class="muted">{ why }</p> }</td>
                            </tr>
                        }) }</tbody>
                    </table></div>
                }
            }) }
        </>
    }
}
