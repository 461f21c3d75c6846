//! One finding: its fields, desired vs current side by side, its history, and the triage moves
//! its status allows (a reason for resolved and false positive), plus its owner.

use atlas_api_types::{Finding, FindingDetail, FindingStatus, FindingsTriage};
use atlas_domain::Capability;
use atlas_domain::findings::allowed;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{TextFieldProps, text_field};
use crate::components::findings::{TRIAGE_STATUSES, needs_reason, side_by_side, status_label, status_tag, triage};
use crate::components::load;
use crate::components::status_badge::severity_badge;
use crate::families;
use crate::format;
use crate::hooks::use_load;
use crate::pages::findings::FindingsQuery;
use crate::pages::findings::exceptions::Exceptions;
use crate::router::Link;
use crate::session::use_session;

#[derive(Properties, PartialEq)]
pub struct FindingProps {
    pub ws: String,
    pub finding: String,
}

fn dash(v: Option<&str>) -> String {
    v.map_or_else(|| "\u{2014}".to_owned(), str::to_owned)
}

#[component]
pub fn FindingPage(props: &FindingProps) -> Html {
    let session = use_session();
    let can_triage = session.can(&props.ws, Capability::FindingsTriage);
    let detail = use_load((props.ws.clone(), props.finding.clone()), |(ws, id)| async move {
        api::get::<FindingDetail>(&paths::finding(&ws, &id)).await
    });
    let ws = props.ws.clone();
    let reload = detail.reload.clone();
    load::view(&detail, "load the finding", |d: &FindingDetail| {
        let f = &d.finding;
        html! {
            <>
                <div class="page-head">
                    <h1>{ &f.title }</h1>
                    <Link to={Route::Findings { ws: ws.clone() }}
                        query={Some(FindingsQuery { environment_id: f.environment_id.clone(), ..FindingsQuery::default() }.pairs())}>
                        { "Back to the findings" }</Link>
                </div>
                <dl class="facts" data-testid="finding-facts">
                    { crate::components::markup::fact("Status", html! { <>{ status_tag(f.state) }</> }) }
                    { crate::components::markup::fact("Severity", html! { <>{ severity_badge(f.severity.as_str()) }</> }) }
                    { crate::components::markup::fact("Source", html! { <>{ f.source.as_str() }{ f.kind.map(|k| format!(" \u{b7} {k}")).unwrap_or_default() }</> }) }
                    { crate::components::markup::fact("Environment", html! { <>
                        <Link to={Route::Environment { ws: ws.clone(), env: f.environment_id.clone() }}><crate::session::EnvName ws={ws.clone()} env={f.environment_id.clone()} /></Link></> }) }
                    { crate::components::markup::fact("Object", html! { <>{ f.object.as_ref().map_or_else(|| "\u{2014}".to_owned(),
                        |o| format!("{} ({})", o.name, families::label(&o.family))) }</> }) }
                    { crate::components::markup::fact("Property", html! { <>if f.property.is_empty() { { "The whole object" } } else { <code>{ &f.property }</code> }</> }) }
                    { crate::components::markup::fact("Matched by", html! { <>{ dash(f.matched_by.map(|m| m.as_str())) }</> }) }
                    { crate::components::markup::fact("First seen", html! { <>{ format::when(f.first_seen_ms) }</> }) }
                    { crate::components::markup::fact("Last seen", html! { <>{ format!("{} ({} detection{})", format::time(f.last_seen_ms), f.count, if f.count == 1 { "" } else { "s" }) }</> }) }
                    <div class="fact"><dt>{ "Owner" }</dt><dd data-testid="finding-owner">{ dash(f.owner.as_deref()) }</dd></div>
                    { crate::components::markup::fact("Due", html! { <>{ format::when_opt(f.due_ms) }
                        if f.overdue { { " " }<span class="badge badge--bad overdue">{ "Overdue" }</span> }</> }) }
                    { crate::components::markup::fact("Changed by", html! { <>{ dash(f.changed_by.as_deref()) }</> }) }
                </dl>
                <section class="panel" aria-labelledby="finding-values-title">
                    <h2 id="finding-values-title">{ "Desired vs current" }</h2>
                    { side_by_side(&f.desired, &f.current) }
                </section>
                if can_triage {
                    <Triage ws={ws.clone()} finding={f.clone()} reload={reload.clone()} />
                }
                <Exceptions ws={ws.clone()} finding={f.clone()} items={d.exceptions.clone()} reload={reload.clone()} />
                <section class="panel" aria-labelledby="finding-history-title">
                    <h2 id="finding-history-title">{ "History" }</h2>
                    <div class="table-wrap"><table class="table" data-testid="finding-history">
                        <thead><tr>{ crate::components::markup::th("When") }{ crate::components::markup::th("What") }{ crate::components::markup::th("Status") }
                            { crate::components::markup::th("Who") }{ crate::components::markup::th("Reason") }</tr></thead>
                        <tbody>{ for d.history.iter().map(|e| html! {
                            <tr data-kind={e.kind.clone()}>
                                <td>{ format::when(e.at_ms) }</td>
                                <td>{ crate::components::status_badge::words(&e.kind) }</td>
                                <td>{ match (e.from, e.to) {
                                    (Some(a), Some(b)) => format!("{} \u{2192} {}", status_label(a), status_label(b)),
                                    (None, Some(b)) => status_label(b).to_owned(),
                                    (Some(a), None) => status_label(a).to_owned(),
                                    (None, None) => "\u{2014}".to_owned(),
                                } }</td>
                                <td>{ &e.actor }</td>
                                <td>{ dash(e.reason.as_deref()) }</td>
                            </tr>
                        }) }</tbody>
                    </table></div>
                </section>
            </>
        }
    })
}

#[derive(Properties, PartialEq)]
struct TriageProps {
    ws: String,
    finding: Finding,
    reload: Callback<()>,
}

/// Why a triage of this one finding did not go through.
#[derive(Clone, PartialEq)]
enum Refused {
    /// Changed by someone else since it was loaded (or no longer allowed from its status).
    Meanwhile(String),
    Error(ApiError),
}

#[component]
fn Triage(props: &TriageProps) -> Html {
    let f = &props.finding;
    let reason = use_state(String::new);
    let owner = use_state(|| f.owner.clone().unwrap_or_default());
    let busy = use_state(|| false);
    let refused = use_state(|| None::<Refused>);
    let send = |status: Option<FindingStatus>, set_owner: bool| {
        let (ws, id, reason, owner, busy, refused, reload) = (
            props.ws.clone(),
            f.id.clone(),
            reason.clone(),
            owner.clone(),
            busy.clone(),
            refused.clone(),
            props.reload.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let body = FindingsTriage {
                ids: vec![id.clone()],
                state: status,
                owner: set_owner.then(|| owner.trim().to_owned()),
                reason: (status.is_some() && !reason.trim().is_empty()).then(|| reason.trim().to_owned()),
            };
            let (ws, reason, busy, refused, reload) = (
                ws.clone(),
                reason.clone(),
                busy.clone(),
                refused.clone(),
                reload.clone(),
            );
            busy.set(true);
            spawn_local(async move {
                let outcome = match triage(&ws, &body).await {
                    Ok(r) => match r.items.into_iter().next() {
                        Some(i) if i.http_status == 200 => None,
                        Some(i) if i.http_status == 404 => Some(Refused::Error(ApiError::NotFound)),
                        Some(i) => Some(Refused::Meanwhile(i.error.unwrap_or_default())),
                        None => Some(Refused::Error(ApiError::Status(500))),
                    },
                    Err(ApiError::Problem(p)) if p.status == 409 => {
                        Some(Refused::Meanwhile(p.detail.unwrap_or_default()))
                    }
                    Err(e) => Some(Refused::Error(e)),
                };
                busy.set(false);
                if outcome.is_none() {
                    reason.set(String::new());
                    reload.emit(());
                }
                refused.set(outcome);
            });
        })
    };
    let moves: Vec<FindingStatus> = TRIAGE_STATUSES.into_iter().filter(|to| allowed(f.state, *to)).collect();
    let no_reason = reason.trim().is_empty();
    let field_error = |name: &str| match &*refused {
        Some(Refused::Error(e)) => e.field(name),
        _ => None,
    };
    html! {
        <section class="panel" aria-labelledby="triage-title">
            <h2 id="triage-title">{ "Triage" }</h2>
            if let Some(Refused::Meanwhile(why)) = &*refused {
                <div class="banner banner--warn triage-conflict" role="alert">
                    <p>{ "This finding changed meanwhile, reload to see its current state." }
                        if !why.is_empty() { { " " }<span class="muted">{ why }</span> }</p>
                    <button type="button" class="button button--quiet" onclick={{
                        let (reload, refused) = (props.reload.clone(), refused.clone());
                        Callback::from(move |_: MouseEvent| { refused.set(None); reload.emit(()); })
                    }}>{ "Reload" }</button>
                </div>
            }
            if moves.is_empty() {
                <p class="muted">{ format!("No triage move is allowed from {}.", status_label(f.state)) }</p>
            } else {
                { text_field(&yew::props!(TextFieldProps { id: "triage-reason", label: "Reason", value: (*reason).clone(), hint: AttrValue::Static("Needed to resolve or mark as false positive."), onchange: { let r = reason.clone(); Callback::from(move |v| r.set(v)) }, error: field_error("reason") })) }
                <div class="actions">
                    { for moves.iter().map(|to| html! {
                        <button type="button" class="button triage-move" data-status={to.as_str()}
                            disabled={*busy || (needs_reason(*to) && no_reason)} onclick={send(Some(*to), false)}>
                            { status_label(*to) }</button>
                    }) }
                </div>
            }
            <div class="toolbar">
                { text_field(&yew::props!(TextFieldProps { id: "finding-owner", label: "Owner (email, empty to clear)", value: (*owner).clone(), onchange: { let o = owner.clone(); Callback::from(move |v| o.set(v)) }, error: field_error("owner") })) }
                <button type="button" class="button button--quiet" id="finding-owner-save" disabled={*busy} onclick={send(None, true)}>{ "Set owner" }</button>
            </div>
            if let Some(Refused::Error(e)) = &*refused { { form_error(&yew::props!(FormErrorProps { error: Some(e.clone()) })) } }
        </section>
    }
}
