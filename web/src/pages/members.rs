//! Members and roles: invite, change a role, choose which environments a member is entitled to.

use atlas_api_types::{
    AllEnvironments, EnvironmentList, Environments, Invitation, InvitationCreate, InvitationCreated, InvitationList,
    Member, MemberList, MemberPatch,
};
use atlas_domain::{Capability, InvitationStatus, Role};
use wasm_bindgen::JsCast as _;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::format;
use crate::hooks::use_load;
use crate::pages::workspace::WsProps;
use crate::session::use_session;

/// The accept-invitation page with the token in the fragment, which browsers never send to a
/// server: it stays out of access logs and referrers.
fn invitation_link(token: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/invitations/accept#token={token}")
}

fn role_options() -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), r.as_str().to_owned()))
        .collect()
}

fn env_text(e: &Environments) -> String {
    match e {
        Environments::All(_) => "All environments".into(),
        Environments::Only(list) if list.is_empty() => "No environment".into(),
        Environments::Only(list) => list.join(", "),
    }
}

#[derive(Properties, PartialEq)]
struct EntitlementProps {
    id: AttrValue,
    all: Vec<(String, String)>,
    value: Environments,
    onchange: Callback<Environments>,
}

/// "All environments" or a chosen subset, as a fieldset of checkboxes.
fn entitlement(props: &EntitlementProps) -> Html {
    let is_all = matches!(props.value, Environments::All(_));
    let chosen: Vec<String> = match &props.value {
        Environments::Only(l) => l.clone(),
        Environments::All(_) => Vec::new(),
    };
    let toggle_all = {
        let cb = props.onchange.clone();
        Callback::from(move |e: Event| {
            let checked = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .is_some_and(|i| i.checked());
            cb.emit(if checked {
                Environments::All(AllEnvironments::All)
            } else {
                Environments::Only(Vec::new())
            });
        })
    };
    html! {
        <fieldset class="field">
            <legend>{ "Environments" }</legend>
            <label class="check"><input type="checkbox" id={format!("{}-all", props.id)} checked={is_all} onchange={toggle_all} />{ " All environments" }</label>
            if !is_all {
                { for props.all.iter().map(|(id, name)| {
                    let on = chosen.contains(id);
                    let (cb, chosen, id2) = (props.onchange.clone(), chosen.clone(), id.clone());
                    let onchange = Callback::from(move |_: Event| {
                        let mut next: Vec<String> = chosen.iter().filter(|c| **c != id2).cloned().collect();
                        if !on {
                            next.push(id2.clone());
                        }
                        cb.emit(Environments::Only(next));
                    });
                    html! { <label class="check"><input type="checkbox" checked={on} {onchange} />{ format!(" {name}") }</label> }
                }) }
            }
        </fieldset>
    }
}

#[component]
pub fn MembersPage(props: &WsProps) -> Html {
    let session = use_session();
    let ws = props.ws.clone();
    let can_manage = session.can(&ws, Capability::MembersManage);
    let members = use_load(ws.clone(), |ws| async move {
        api::get::<MemberList>(&paths::members(&ws)).await
    });
    let invitations = use_load((ws.clone(), can_manage), |(ws, can)| async move {
        if can {
            api::get::<InvitationList>(&paths::invitations(&ws)).await
        } else {
            Ok(InvitationList { items: Vec::new() })
        }
    });
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let all_envs: Vec<(String, String)> = envs
        .state
        .ready()
        .map(|l| l.items.iter().map(|e| (e.id.clone(), e.display_name.clone())).collect())
        .unwrap_or_default();

    let editing = use_state(|| None::<(String, MemberPatch)>);
    let error = use_state(|| None::<ApiError>);
    let save = {
        let (editing, error, ws, reload) = (editing.clone(), error.clone(), ws.clone(), members.reload.clone());
        Callback::from(move |_: MouseEvent| {
            let Some((user, patch)) = (*editing).clone() else {
                return;
            };
            let (editing, error, ws, reload) = (editing.clone(), error.clone(), ws.clone(), reload.clone());
            spawn_local(async move {
                match api::patch::<_, Member>(&paths::member(&ws, &user), &patch).await {
                    Ok(_) => {
                        error.set(None);
                        editing.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };

    // Invitation form.
    let email = use_state(String::new);
    let role = use_state(|| Role::Readonly);
    let inv_envs = use_state(|| Environments::All(AllEnvironments::All));
    let inv_error = use_state(|| None::<ApiError>);
    let created = use_state(|| None::<InvitationCreated>);
    let invite = {
        let (email, role, inv_envs, inv_error, created, ws, reload) = (
            email.clone(),
            role.clone(),
            inv_envs.clone(),
            inv_error.clone(),
            created.clone(),
            ws.clone(),
            invitations.reload.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = InvitationCreate {
                email: (*email).clone(),
                role: *role,
                environments: (*inv_envs).clone(),
            };
            let (inv_error, created, ws, reload, email) = (
                inv_error.clone(),
                created.clone(),
                ws.clone(),
                reload.clone(),
                email.clone(),
            );
            spawn_local(async move {
                match api::post::<_, InvitationCreated>(&paths::invitations(&ws), &body).await {
                    Ok(c) => {
                        inv_error.set(None);
                        created.set(Some(c));
                        email.set(String::new());
                        reload.emit(());
                    }
                    Err(e) => inv_error.set(Some(e)),
                }
            });
        })
    };
    let revoke = {
        let (inv_error, ws, reload) = (inv_error.clone(), ws.clone(), invitations.reload.clone());
        Callback::from(move |id: String| {
            let (inv_error, ws, reload) = (inv_error.clone(), ws.clone(), reload.clone());
            spawn_local(async move {
                match api::delete::<()>(&paths::invitation(&ws, &id), None).await {
                    Ok(()) => reload.emit(()),
                    Err(e) => inv_error.set(Some(e)),
                }
            });
        })
    };
    let err = (*error).clone();
    let inv_err = (*inv_error).clone();
    html! {
        <>
            <h1>{ "Members and roles" }</h1>
            <section class="panel" aria-labelledby="members-title">
                <h2 id="members-title">{ "Members" }</h2>
                { load::view(&members, "load the members", |list: &MemberList| {
                    if list.items.is_empty() {
                        return html! { { load::empty(html! { <>{ "No members." }</> }) } };
                    }
                    html! {
                        <div class="table-wrap"><table class="table" data-testid="members-table">
                            <thead><tr>{ crate::components::markup::th("Member") }{ crate::components::markup::th("Role") }{ crate::components::markup::th("Environments") }{ crate::components::markup::th("Joined") }
                                if can_manage { <th scope="col" class="row-actions"><span class="visually-hidden">{ "Actions" }</span></th> }</tr></thead>
                            <tbody>{ for list.items.iter().map(|m| {
                                let edit_this = editing.as_ref().filter(|(u, _)| *u == m.user_id).map(|(_, p)| p.clone());
                                let start = {
                                    let (editing, m, error) = (editing.clone(), m.clone(), error.clone());
                                    Callback::from(move |_: MouseEvent| {
                                        error.set(None);
                                        editing.set(Some((m.user_id.clone(), MemberPatch { role: Some(m.role), environments: Some(m.environments.clone()) })));
                                    })
                                };
                                html! {
                                    <tr data-member={m.email.clone()}>
                                        <td>{ &m.name }<br /><span class="muted">{ &m.email }</span></td>
                                        if let Some(p) = edit_this {
                                            <td>{ select_field(&yew::props!(SelectFieldProps { id: format!("role-{}", m.user_id), label: "Role", value: p.role.map(|r| r.as_str().to_owned()).unwrap_or_default(), options: role_options(), error: err.as_ref().and_then(|e| e.field("role")), onchange: { let (e, u, p) = (editing.clone(), m.user_id.clone(), p.clone()); Callback::from(move |v: String| e.set(Some((u.clone(), MemberPatch { role: Role::parse(&v), ..p.clone() })))) } })) }</td>
                                            <td>{ entitlement(&yew::props!(EntitlementProps { id: format!("envs-{}", m.user_id), all: all_envs.clone(), value: p.environments.clone().unwrap_or(Environments::Only(Vec::new())), onchange: { let (e, u, p) = (editing.clone(), m.user_id.clone(), p.clone()); Callback::from(move |v| e.set(Some((u.clone(), MemberPatch { environments: Some(v), ..p.clone() })))) } })) }</td>
                                            <td>{ format::when(m.joined_ms) }</td>
                                            <td class="actions row-actions">
                                                <button type="button" class="button" onclick={save.clone()}>{ "Save" }</button>
                                                <button type="button" class="button button--quiet" onclick={{ let e = editing.clone(); Callback::from(move |_: MouseEvent| e.set(None)) }}>{ "Cancel" }</button>
                                                { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
                                            </td>
                                        } else {
                                            <td>{ m.role.as_str() }</td>
                                            <td>{ env_text(&m.environments) }</td>
                                            <td>{ format::when(m.joined_ms) }</td>
                                            if can_manage {
                                                <td class="row-actions"><button type="button" class="button button--quiet" onclick={start} aria-label={format!("Change role of {}", m.email)}>{ "Change role" }</button></td>
                                            }
                                        }
                                    </tr>
                                }
                            }) }</tbody>
                        </table></div>
                    }
                }) }
                if let Some(why) = session.lacks(&ws, Capability::MembersManage) {
                    { crate::components::markup::why_not(why) }
                }
            </section>
            if can_manage {
                <section class="panel" aria-labelledby="inv-title">
                    <h2 id="inv-title">{ "Invitations" }</h2>
                    { load::view(&invitations, "load the invitations", |list: &InvitationList| {
                        let pending: Vec<&Invitation> = list.items.iter().filter(|i| i.state == InvitationStatus::Pending).collect();
                        if pending.is_empty() {
                            return html! { { load::empty(html! { <>{ "No pending invitation." }</> }) } };
                        }
                        html! {
                            <ul class="cards">{ for pending.into_iter().map(|i| {
                                let (revoke, id) = (revoke.clone(), i.id.clone());
                                html! {
                                    <li class="card">
                                        <p><strong>{ &i.email }</strong>{ format!(" \u{b7} {} \u{b7} {}", i.role, env_text(&i.environments)) }</p>
                                        <p class="muted">{ crate::components::status_badge::state_badge(i.status, i.state.as_str(), &crate::components::status_badge::words(i.state.as_str()), "invitation-status") }{ " expires " }{ format::when(i.expires_ms) }</p>
                                        <button type="button" class="button button--quiet" onclick={Callback::from(move |_: MouseEvent| revoke.emit(id.clone()))}>{ "Revoke" }</button>
                                    </li>
                                }
                            }) }</ul>
                        }
                    }) }
                    <form class="form" onsubmit={invite} aria-label="Invite someone" novalidate=true>
                        <h3>{ "Invite someone" }</h3>
                        { text_field(&yew::props!(TextFieldProps { id: "invite-email", label: "Email", kind: "email", value: (*email).clone(), required: true, onchange: { let s = email.clone(); Callback::from(move |v| s.set(v)) }, error: inv_err.as_ref().and_then(|e| e.field("email")) })) }
                        { select_field(&yew::props!(SelectFieldProps { id: "invite-role", label: "Role", value: role.as_str().to_owned(), options: role_options(), onchange: { let s = role.clone(); Callback::from(move |v: String| if let Some(r) = Role::parse(&v) { s.set(r) }) }, error: inv_err.as_ref().and_then(|e| e.field("role")) })) }
                        { entitlement(&yew::props!(EntitlementProps { id: "invite-envs", all: all_envs.clone(), value: (*inv_envs).clone(), onchange: { let s = inv_envs.clone(); Callback::from(move |v| s.set(v)) } })) }
                        { form_error(&yew::props!(FormErrorProps { error: inv_err.clone() })) }
                        <button type="submit" class="button">{ "Send invitation" }</button>
                    </form>
                    if let Some(c) = &*created {
                        <div class="banner banner--ok" role="status" data-testid="invitation-token">
                            <p>{ format!("Invitation for {} created. Send them this link; it is shown only once:", c.invitation.email) }</p>
                            <p class="breakable"><a data-testid="invitation-link" href={invitation_link(&c.accept_token)}>{ invitation_link(&c.accept_token) }</a></p>
                            <p class="muted">{ "Or the acceptance token alone: " }<code>{ &c.accept_token }</code></p>
                        </div>
                    }
                </section>
            }
        </>
    }
}
