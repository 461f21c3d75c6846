//! An environment's drift: the baselines assigned to it, open drift by kind, when the change feed
//! last polled, "Detect now", the open drift findings with desired vs current side by side, and
//! the recent changes the feed saw (who changed what, when).

use atlas_api_types::{BaselineList, DriftChangeList, DriftSummary, FindingPage, OperationRun};
use atlas_domain::Capability;
use serde_json::Value;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::findings::{side_by_side, status_tag};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::status_badge::severity_badge;
use crate::families;
use crate::format;
use crate::hooks::{use_load, use_more};
use crate::pages::environment::EnvProps;
use crate::pages::findings::FindingsQuery;
use crate::router::Link;
use crate::session::use_session;

fn open_drift_path(ws: &str, env: &str, cursor: &str) -> String {
    with_query(
        &paths::findings(ws),
        &[
            ("environment_id", env),
            ("source", "drift"),
            ("state", "open"),
            ("cursor", cursor),
            ("limit", "50"),
        ],
    )
}

/// When the change feed last recorded a poll, and how stale that may be while it finds nothing.
fn polled_line(s: &DriftSummary) -> String {
    let quiet = match s.quiet_record_seconds {
        0 => String::new(),
        q if q % 3600 == 0 => format!("; a poll that finds nothing is recorded every {} h", q / 3600),
        q => format!("; a poll that finds nothing is recorded every {} min", q.div_ceil(60)),
    };
    format!(
        "Last poll recorded {} (polls every {} s{quiet})",
        format::time_opt(s.polled_ms),
        s.poll_seconds
    )
}

/// A change's properties (`[{name, old, new}]`) as `name: old → new` lines.
fn properties(v: &Value) -> Html {
    let Some(list) = v.as_array() else { return html! {} };
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "\u{2014}".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    html! {
        <ul class="checks">{ for list.iter().map(|p| html! {
            <li><code>{ text(p.get("name")) }</code>{ ": " }{ text(p.get("old")) }{ " \u{2192} " }{ text(p.get("new")) }</li>
        }) }</ul>
    }
}

#[component]
pub fn DriftPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let (ws, env) = key.clone();
    let can_detect = session.can(&ws, Capability::BaselineManage);
    let summary = use_load(key.clone(), |(ws, env)| async move {
        api::get::<DriftSummary>(&paths::drift(&ws, &env)).await
    });
    let baselines = use_load(ws.clone(), |ws| async move {
        api::get::<BaselineList>(&paths::baselines(&ws)).await
    });
    let findings = use_load(key.clone(), |(ws, env)| async move {
        api::get::<FindingPage>(&open_drift_path(&ws, &env, "")).await
    });
    let more = {
        let (ws, env) = key.clone();
        use_more(findings.state.ready().and_then(|p| p.next.clone()), move |cursor| {
            let path = open_drift_path(&ws, &env, &cursor);
            async move {
                let p = api::get::<FindingPage>(&path).await?;
                Ok((p.items, p.next))
            }
        })
    };
    let changes = use_load(key.clone(), |(ws, env)| async move {
        api::get::<DriftChangeList>(&paths::drift_changes(&ws, &env)).await
    });
    let started = use_state(|| None::<OperationRun>);
    let error = use_state(|| None::<ApiError>);
    let detect = {
        let (started, error, key) = (started.clone(), error.clone(), key.clone());
        Callback::from(move |_: MouseEvent| {
            let (started, error, (ws, env)) = (started.clone(), error.clone(), key.clone());
            spawn_local(async move {
                match api::post_empty::<OperationRun>(&paths::drift_detect(&ws, &env)).await {
                    Ok(run) => {
                        error.set(None);
                        started.set(Some(run));
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let on_done = {
        let reloads = [summary.reload.clone(), findings.reload.clone(), changes.reload.clone()];
        Callback::from(move |_| reloads.iter().for_each(|r| r.emit(())))
    };
    let baseline_name = |id: &str| {
        baselines
            .state
            .ready()
            .and_then(|l| l.items.iter().find(|b| b.id == id))
            .map_or_else(|| id.to_owned(), |b| b.name.clone())
    };
    html! {
        <>
            <div class="page-head">
                <h1>{ "Drift" }</h1>
                <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}>{ "Back to the environment" }</Link>
            </div>
            <section class="panel" aria-labelledby="drift-summary-title">
                <h2 id="drift-summary-title">{ "Summary" }</h2>
                { load::view(&summary, "load the drift summary", |s: &DriftSummary| {
                    let open = |k: &str| s.open.get(k).copied().unwrap_or(0);
                    html! {
                        <>
                            <dl class="facts" data-testid="drift-summary">
                                <div class="fact"><dt>{ "Missing" }</dt><dd data-kind="missing">{ open("missing") }</dd></div>
                                <div class="fact"><dt>{ "Extra" }</dt><dd data-kind="extra">{ open("extra") }</dd></div>
                                <div class="fact"><dt>{ "Changed" }</dt><dd data-kind="changed">{ open("changed") }</dd></div>
                            </dl>
                            <p class="muted" data-testid="drift-polled">{ polled_line(s) }</p>
                            <h3>{ "Assigned baselines" }</h3>
                            if s.assignments.is_empty() {
                                { load::empty(html! { <>{ "No baseline is assigned to this environment. " }
                                    <Link to={Route::Baselines { ws: ws.clone() }}>{ "Assign one on the baselines page." }</Link></> }) }
                            } else {
                                <ul class="checks">{ for s.assignments.iter().map(|a| html! {
                                    <li data-baseline={a.baseline_id.clone()}>{ baseline_name(&a.baseline_id) }
                                        <span class="muted">{ format!(" \u{b7} priority {} \u{b7} {}", a.priority,
                                            a.snapshot.map_or_else(|| "newest snapshot".to_owned(), |n| format!("snapshot #{n}"))) }</span></li>
                                }) }</ul>
                            }
                        </>
                    }
                }) }
                if can_detect {
                    <button type="button" id="detect-now" class="button" onclick={detect}>{ "Detect now" }</button>
                }
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                if let Some(run) = &*started {
                    <LiveRun ws={ws.clone()} run={run.clone()} {on_done} />
                }
            </section>
            <section class="panel" aria-labelledby="drift-findings-title">
                <div class="panel__header">
                    <h2 id="drift-findings-title">{ "Open drift findings" }</h2>
                    <Link to={Route::Findings { ws: ws.clone() }}
                        query={Some(FindingsQuery { environment_id: env.clone(), status: "open".into(), source: "drift".into(), ..FindingsQuery::default() }.pairs())}>
                        { "In the findings hub" }</Link>
                </div>
                { load::view(&findings, "load the drift findings", |p: &FindingPage| {
                    if p.items.is_empty() {
                        return html! { { load::empty(html! { <>{ "No open drift." }</> }) } };
                    }
                    html! {
                        <>
                            <div class="table-wrap"><table class="table" data-testid="drift-findings">
                                <thead><tr>{ crate::components::markup::th("Finding") }{ crate::components::markup::th("Desired vs current") }</tr></thead>
                                <tbody>{ for p.items.iter().chain(more.items()).map(|f| html! {
                                    <tr class="finding" data-id={f.id.clone()} data-kind={f.kind.map(|k| k.as_str())}>
                                        <td>
                                            { severity_badge(f.severity.as_str()) }{ " " }{ status_tag(f.state) }
                                            <p><Link to={Route::Finding { ws: ws.clone(), finding: f.id.clone() }}>{ &f.title }</Link></p>
                                            <p class="muted">
                                                { f.kind.map(|k| k.as_str()).unwrap_or_default() }
                                                if let Some(o) = &f.object { { format!(" \u{b7} {} ({})", o.name, families::label(&o.family)) } }
                                                if !f.property.is_empty() { { " \u{b7} " }<code>{ &f.property }</code> }
                                            </p>
                                            if let Some(who) = &f.changed_by { <p class="muted">{ format!("Changed by {who}") }</p> }
                                        </td>
                                        <td>{ side_by_side(&f.desired, &f.current) }</td>
                                    </tr>
                                }) }</tbody>
                            </table></div>
                            { load::more_footer(&more) }
                        </>
                    }
                }) }
            </section>
            <section class="panel" aria-labelledby="drift-changes-title">
                <h2 id="drift-changes-title">{ "Recent changes" }</h2>
                { load::view(&changes, "load the recent changes", |l: &DriftChangeList| {
                    if l.items.is_empty() {
                        return html! { { load::empty(html! { <>{ "No change seen yet." }</> }) } };
                    }
                    html! {
                        <div class="table-wrap"><table class="table" data-testid="drift-changes">
                            <thead><tr>{ crate::components::markup::th("When") }{ crate::components::markup::th("Who") }{ crate::components::markup::th("Activity") }
                                { crate::components::markup::th("Object") }{ crate::components::markup::th("Properties (old \u{2192} new)") }</tr></thead>
                            <tbody>{ for l.items.iter().map(|c| html! {
                                <tr class="change" data-id={c.id.clone()}>
                                    <td>{ format::when(c.at_ms) }</td>
                                    <td>{ &c.actor }</td>
                                    <td>{ &c.activity }<span class="muted">{ format!(" ({})", c.operation) }</span></td>
                                    <td>{ if c.object_name.is_empty() { c.object_id.clone() } else { c.object_name.clone() } }
                                        if let Some(f) = &c.family { <span class="muted">{ format!(" ({})", families::label(f)) }</span> }</td>
                                    <td>{ properties(&c.properties) }</td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                    }
                }) }
            </section>
        </>
    }
}
