//! Evidence Overview (issue 16), a page of the second bundle: the workspace's evidence packs
//! (filtered by environment only), "Build pack" for a period, and download through a short-lived
//! link. Each pack shows its status, period, size and the ZIP's SHA-256.

use atlas_api_types::{EnvironmentList, EvidenceLink, EvidencePack, EvidencePackList, EvidenceStart, OperationRun};
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
        .is_some_and(|l| l.items.iter().any(|p| p.status == "building"));
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
            <p class="muted">{ "Evidence packs an auditor can verify offline: a ZIP with the period's environments, baselines, findings with every transition, risk acceptances, changes, backups and restores, and the hash-chained audit log — with SHA256SUMS and a detached Ed25519 signature over its manifest (README.txt inside says how to check both)." }</p>
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
                        <thead><tr>{ th("Built") }{ th("Scope") }{ th("Period") }{ th("Status") }{ th("Size") }{ th("SHA-256") }{ th("") }</tr></thead>
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
        <tr class="evidence-pack" data-id={p.id.clone()} data-status={p.status.clone()}>
            <td>{ format!("{} by {}", format::time(p.created_ms), p.created_by) }</td>
            <td>{ p.environment_id.clone().unwrap_or_else(|| "Whole workspace".into()) }</td>
            <td>{ format!("{} \u{2192} {}", day(p.from_ms), day(p.to_ms)) }</td>
            <td><span class="chip">{ &p.status }</span>
                if let Some(r) = &p.reason { <span class="muted">{ format!(" {r}") }</span> }</td>
            <td>{ p.size.map(size).unwrap_or_default() }</td>
            <td><code class="snippet">{ p.sha256.clone().unwrap_or_default() }</code></td>
            <td>
                if p.status == "ready" {
                    <button type="button" class="button button--quiet download" onclick={download}>{ "Download" }</button>
                }
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
            </td>
        </tr>
    }
}
