//! Evidence Overview (issue 16), a page of the second bundle: the workspace's evidence packs
//! (filtered by environment only), "Build pack" for a period, and download through a short-lived
//! link. Each pack shows its status, period, size, the ZIP's SHA-256 and its retention date. The
//! evidence settings (retention of new packs, member e-mails in packs) and "Verify audit chain".

use atlas_api_types::{
    AuditVerification, EnvironmentList, EvidenceLink, EvidencePack, EvidencePackList, EvidenceSettings, EvidenceStart,
    OperationRun,
};
use wasm_bindgen::JsCast;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::components::markup::th;
use crate::format;
use crate::hooks::{use_interval, use_load};
use crate::pages::workspace::WsProps;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `YYYY-MM-DD` (UTC midnight) as epoch ms; `None` when it is no date.
fn day_ms(day: &str) -> Option<i64> {
    let ms = js_sys::Date::parse(&format!("{day}T00:00:00Z"));
    (!ms.is_nan()).then_some(ms as i64)
}

fn day(ms: i64) -> String {
    let iso = String::from(js_sys::Date::new(&(ms as f64).into()).to_iso_string());
    iso[..10].to_owned()
}

fn size(bytes: u64) -> String {
    if bytes < 10 * 1024 {
        format!("{bytes} B")
    } else if bytes < 10 * 1024 * 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{} MiB", bytes / (1024 * 1024))
    }
}

#[component]
pub fn EvidencePage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let env_filter = use_state(String::new);
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let packs = use_load((ws.clone(), (*env_filter).clone()), |(ws, env)| async move {
        api::get::<EvidencePackList>(&with_query(&paths::evidence(&ws), &[("environment_id", env.as_str())])).await
    });
    let building = packs
        .state
        .ready()
        .is_some_and(|l| l.items.iter().any(|p| p.state == "building"));
    use_interval(1500, building, packs.reload.clone());
    let now = format::now_ms();
    let from = use_state(|| day(now - 90 * DAY_MS));
    let to = use_state(|| day(now + DAY_MS));
    let env = use_state(String::new);
    let error = use_state(|| None::<ApiError>);
    let build = {
        let (ws, from, to, env, error, reload) = (
            ws.clone(),
            from.clone(),
            to.clone(),
            env.clone(),
            error.clone(),
            packs.reload.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = EvidenceStart {
                environment_id: Some((*env).clone()).filter(|e| !e.is_empty()),
                // Not a date: 0, which the server refuses with the field's message.
                from: day_ms(&from).unwrap_or(0),
                to: day_ms(&to).unwrap_or(0),
            };
            let (path, error, reload) = (paths::evidence(&ws), error.clone(), reload.clone());
            spawn_local(async move {
                match api::post::<_, OperationRun>(&path, &body).await {
                    Ok(_) => {
                        error.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let mut env_options = vec![(String::new(), "Whole workspace".to_owned())];
    if let Some(l) = envs.state.ready() {
        env_options.extend(l.items.iter().map(|e| (e.id.clone(), e.display_name.clone())));
    }
    let field = |name: &str| error.as_ref().and_then(|e| e.field(name));
    let set = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    html! {
        <>
            <div class="page-head"><h1>{ "Evidence" }</h1></div>
            <p class="muted">{ "Evidence packs an auditor can verify offline: a ZIP with the period's environments, baselines, findings with every transition, risk acceptances, changes, backups and restores, and the hash-chained audit log — with SHA256SUMS and a detached signature over its manifest (README.txt inside says how to check both)." }</p>
            <SettingsPanel ws={ws.clone()} />
            <VerifyChain ws={ws.clone()} />
            <form class="form" onsubmit={build} aria-label="Build an evidence pack">
                { select_field(&yew::props!(SelectFieldProps { id: "evidence-env", label: "Scope", value: (*env).clone(), options: env_options.clone(), onchange: set(&env), error: field("environment_id") })) }
                { text_field(&yew::props!(TextFieldProps { id: "evidence-from", label: "From", kind: AttrValue::Static("date"), value: (*from).clone(), onchange: set(&from), error: field("from") })) }
                { text_field(&yew::props!(TextFieldProps { id: "evidence-to", label: "Until (not included)", kind: AttrValue::Static("date"), value: (*to).clone(), onchange: set(&to), error: field("to") })) }
                <button type="submit" class="button" id="evidence-build">{ "Build pack" }</button>
            </form>
            if error.as_ref().is_some_and(|e| ["from", "to", "environment_id"].iter().all(|f| e.field(f).is_none())) {
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
            }
            <div class="toolbar">
                { select_field(&yew::props!(SelectFieldProps { id: "evidence-filter", label: "Environment", value: (*env_filter).clone(), options: { let mut o = env_options; o[0].1 = "All".into(); o }, onchange: set(&env_filter), error: packs.field_error("environment_id") })) }
            </div>
            { load::view(&packs, "load the evidence packs", |l: &EvidencePackList| {
                if l.items.is_empty() {
                    return load::empty(html! { <>{ "No evidence pack yet." }</> });
                }
                html! {
                    <div class="table-wrap"><table class="table" data-testid="evidence-table">
                        <thead><tr>{ th("Built") }{ th("Scope") }{ th("Period") }{ th("Status") }{ th("Size") }{ th("SHA-256") }{ th("Kept until") }{ th("") }</tr></thead>
                        <tbody>{ for l.items.iter().map(|p| html! { <PackRow ws={ws.clone()} pack={p.clone()} /> }) }</tbody>
                    </table></div>
                }
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct PackRowProps {
    ws: String,
    pack: EvidencePack,
}

/// One pack; "Download" asks for a 5-minute link and lets the browser fetch it.
#[component]
fn PackRow(props: &PackRowProps) -> Html {
    let p = &props.pack;
    let error = use_state(|| None::<ApiError>);
    let download = {
        let (ws, id, error) = (props.ws.clone(), p.id.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            let (path, error) = (paths::evidence_link(&ws, &id), error.clone());
            spawn_local(async move {
                match api::post::<_, EvidenceLink>(&path, &serde_json::json!({})).await {
                    Ok(link) => {
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().set_href(&link.url);
                        }
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    html! {
        <tr class="evidence-pack" data-id={p.id.clone()} data-status={p.state.clone()}>
            <td>{ format!("{} by {}", format::time(p.created_ms), p.created_by) }</td>
            <td>{ p.environment_id.clone().unwrap_or_else(|| "Whole workspace".into()) }</td>
            <td>{ format!("{} \u{2192} {}", day(p.from_ms), day(p.to_ms)) }</td>
            <td>{ crate::components::status_badge::state_badge(p.status, &p.state, &crate::components::status_badge::words(&p.state), "pack-status") }
                if let Some(r) = &p.reason { <span class="muted">{ format!(" {r}") }</span> }</td>
            <td>{ p.size.map(size).unwrap_or_default() }</td>
            <td><code class="snippet">{ p.sha256.clone().unwrap_or_default() }</code></td>
            <td class="retain-until">{ p.retain_until_ms.map(day).unwrap_or_default() }</td>
            <td>
                if p.state == "ready" {
                    <button type="button" class="button button--quiet download" onclick={download}>{ "Download" }</button>
                }
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
            </td>
        </tr>
    }
}

/// The workspace's evidence settings: retention of new packs and member e-mails in packs. Saving
/// needs `members.manage` (owners); the server's field errors show under the field.
#[component]
fn SettingsPanel(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    // A manager builds packs but may not change these (403): the save is disabled, with why.
    let why_not = crate::session::use_session().lacks(&ws, atlas_domain::Capability::MembersManage);
    let loaded = use_load(ws.clone(), |ws| async move {
        api::get::<EvidenceSettings>(&paths::evidence_settings(&ws)).await
    });
    let days = use_state(|| None::<String>);
    let emails = use_state(|| None::<bool>);
    let error = use_state(|| None::<ApiError>);
    let saved = use_state(|| false);
    let current = loaded.state.ready().copied();
    let days_value = (*days)
        .clone()
        .or_else(|| current.map(|c| c.retention_days.to_string()))
        .unwrap_or_default();
    let emails_value = (*emails).or(current.map(|c| c.include_emails)).unwrap_or(false);
    let save = {
        let (ws, error, saved, reload, days_value) = (
            ws.clone(),
            error.clone(),
            saved.clone(),
            loaded.reload.clone(),
            days_value.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = EvidenceSettings {
                // Not a number: 0, which the server refuses with the field's message.
                retention_days: days_value.trim().parse().unwrap_or(0),
                include_emails: emails_value,
            };
            let (path, error, saved, reload) = (
                paths::evidence_settings(&ws),
                error.clone(),
                saved.clone(),
                reload.clone(),
            );
            spawn_local(async move {
                match api::put::<_, EvidenceSettings>(&path, &body).await {
                    Ok(_) => {
                        error.set(None);
                        saved.set(true);
                        reload.emit(());
                    }
                    Err(e) => {
                        saved.set(false);
                        error.set(Some(e));
                    }
                }
            });
        })
    };
    let on_days = {
        let days = days.clone();
        Callback::from(move |v: String| days.set(Some(v)))
    };
    let on_emails = {
        let emails = emails.clone();
        Callback::from(move |e: Event| {
            let on = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .is_some_and(|i| i.checked());
            emails.set(Some(on));
        })
    };
    let field = |name: &str| error.as_ref().and_then(|e| e.field(name));
    html! {
        <details class="panel" id="evidence-settings">
            <summary>{ "Settings" }</summary>
            <form class="form" onsubmit={save} aria-label="Evidence settings">
                { text_field(&yew::props!(TextFieldProps { id: "evidence-retention", label: "Keep new packs for (days, 30 to 3,650)", kind: AttrValue::Static("number"), value: days_value, onchange: on_days, error: field("retention_days") })) }
                <label class="check"><input type="checkbox" id="evidence-include-emails" checked={emails_value} onchange={on_emails} />
                    { " Include members' e-mail addresses in packs" }</label>
                if emails_value {
                    <p class="banner banner--warn" role="note">{ "Packs will name every member by e-mail address. Anyone holding a pack sees them, and a pack cannot be recalled once downloaded. Leave this off to use stable pseudonyms instead." }</p>
                }
                if error.as_ref().is_some_and(|e| e.field("retention_days").is_none()) {
                    { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                }
                <div class="actions">
                    <button type="submit" class="button" id="evidence-settings-save" disabled={why_not.is_some()}
                        title={why_not.clone()}>{ "Save settings" }</button>
                    if *saved { <span class="muted">{ " Saved. The retention applies to packs built from now on." }</span> }
                </div>
                if let Some(why) = why_not.clone() { { crate::components::markup::why_not(why) } }
            </form>
        </details>
    }
}

fn events(n: u64) -> String {
    if n == 1 {
        "1 event".into()
    } else {
        format!("{n} events")
    }
}

/// "Verify audit chain": `GET …/audit/verify`, and what it found.
#[component]
fn VerifyChain(props: &WsProps) -> Html {
    let result = use_state(|| None::<Result<AuditVerification, ApiError>>);
    let busy = use_state(|| false);
    let verify = {
        let (ws, result, busy) = (props.ws.clone(), result.clone(), busy.clone());
        Callback::from(move |_: MouseEvent| {
            let (path, result, busy) = (paths::audit_verify(&ws), result.clone(), busy.clone());
            busy.set(true);
            spawn_local(async move {
                result.set(Some(api::get::<AuditVerification>(&path).await));
                busy.set(false);
            });
        })
    };
    let outcome = match &*result {
        None => html! {},
        Some(Err(e)) => form_error(&yew::props!(FormErrorProps { error: Some(e.clone()) })),
        Some(Ok(v)) => {
            let (class, text) = match &v.first_broken {
                None => (
                    "chip chip--create",
                    format!(
                        "Intact: {} checked, head seq {}.",
                        events(v.verified_events),
                        v.head_seq
                    ),
                ),
                Some(b) => (
                    "chip chip--conflict",
                    format!(
                        "Broken at seq {} (event {}): {}. {} checked before it.",
                        b.seq,
                        b.event_id.clone().unwrap_or_else(|| "missing".into()),
                        b.reason,
                        events(v.verified_events)
                    ),
                ),
            };
            html! {
                <p id="audit-verify-result" data-intact={v.first_broken.is_none().to_string()}>
                    <span class={class}>{ text }</span>
                    if !v.note.is_empty() { <span class="muted">{ format!(" {}", v.note) }</span> }
                </p>
            }
        }
    };
    html! {
        <div class="toolbar">
            <button type="button" class="button button--quiet" id="audit-verify" disabled={*busy} onclick={verify}>{ "Verify audit chain" }</button>
            { outcome }
        </div>
    }
}
