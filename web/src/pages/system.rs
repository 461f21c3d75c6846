//! The system console (spec 025): platform operators search runs across workspaces, download the
//! search as CSV and open a run's failure drill-down. Anyone else gets the API's 404, shown as the
//! same not-found page as an unknown address.

use atlas_api_types::{SystemRunDetail, SystemRunPage};
use atlas_domain::{OperationType, Status};
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::csv::CsvButton;
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::components::status_badge::status_badge;
use crate::format;
use crate::hooks::use_load;
use crate::router::{pairs, use_location, use_navigator};

const FILTERS: [&str; 5] = ["status", "type", "workspace", "days", "run"];

/// The search window in days (the API's `since`, counted back from now when the page asks).
const WINDOWS: [(&str, &str); 3] = [
    ("", "The last 7 days"),
    ("1", "The last 24 hours"),
    ("31", "The last 31 days"),
];

/// `path` with `since` for a window of `days` (none: the API's default week).
fn windowed(path: &str, days: &str) -> String {
    match days.parse::<i64>() {
        Ok(d) => {
            let since = js_sys::Date::now() as i64 - d * 86_400_000;
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}since={since}")
        }
        Err(_) => path.to_owned(),
    }
}

#[component]
pub fn SystemPage() -> Html {
    let location = use_location();
    let navigator = use_navigator();
    let [status, kind, workspace, days, run] = FILTERS.map(|k| location.value(k));
    let query: Vec<(&str, &str)> = [("status", &status), ("type", &kind), ("workspace", &workspace)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect();
    let search_path = with_query(&paths::system_runs(), &query);
    let export_path = windowed(&with_query(&paths::system_runs_export(), &query), &days);
    // The window's start is computed when the search is sent, not on every render.
    let page = use_load((search_path.clone(), days.clone()), |(p, days)| async move {
        api::get::<SystemRunPage>(&windowed(&p, &days)).await
    });
    let detail = use_load(run.clone(), |run| async move {
        if run.is_empty() {
            return Ok(None);
        }
        api::get::<SystemRunDetail>(&paths::system_run(&run)).await.map(Some)
    });
    let go = {
        let navigator = navigator.clone();
        let (status, kind, workspace, days) = (status.clone(), kind.clone(), workspace.clone(), days.clone());
        move |k: &'static str, v: String, run: String| {
            let mut vals = [
                ("status", status.clone()),
                ("type", kind.clone()),
                ("workspace", workspace.clone()),
                ("days", days.clone()),
            ];
            for p in vals.iter_mut() {
                if p.0 == k {
                    p.1 = v.clone();
                }
            }
            let fields: Vec<(&'static str, &str)> = vals
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain([("run", run.as_str())])
                .collect();
            navigator.push_with_query(&Route::System, &pairs(&fields));
        }
    };
    let on = |k: &'static str| {
        let go = go.clone();
        Callback::from(move |v: String| go(k, v, String::new()))
    };
    let open = |id: String| {
        let go = go.clone();
        Callback::from(move |_: MouseEvent| go("", String::new(), id.clone()))
    };
    let statuses: Vec<(String, String)> = std::iter::once((String::new(), "Any status".to_owned()))
        .chain(
            Status::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.label().to_owned())),
        )
        .collect();
    let kinds: Vec<(String, String)> = std::iter::once((String::new(), "Any type".to_owned()))
        .chain(
            OperationType::ALL
                .iter()
                .map(|t| (t.as_str().to_owned(), t.label().to_owned())),
        )
        .collect();
    html! {
        <>
            <div class="page-head">
                <h1>{ "System console" }</h1>
                <CsvButton path={export_path} filename="system-runs.csv" />
            </div>
            <p class="muted">{ "Runs of every workspace, newest first. Every search and every run you open is written to the system audit log." }</p>
            <div class="filters">
                { select_field(&yew::props!(SelectFieldProps { id: "system-status", label: "Status", value: status.clone(), options: statuses, onchange: on("status"), error: page.field_error("status") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "system-type", label: "Type", value: kind.clone(), options: kinds, onchange: on("type"), error: page.field_error("type") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "system-days", label: "Started", value: days.clone(), options: WINDOWS.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect::<Vec<_>>(), onchange: on("days"), error: page.field_error("since") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "system-days", label: "Started", value: days.clone(), options: WINDOWS.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect::<Vec<_>>(), onchange: on("days"), error: page.field_error("since") })) }
                { text_field(&yew::props!(TextFieldProps { id: "system-workspace", label: "Workspace id", value: workspace.clone(), onchange: on("workspace"), error: page.field_error("workspace") })) }
            </div>
            { load::view(&page, "search the runs", |p: &SystemRunPage| {
                if p.items.is_empty() {
                    return load::empty(html! { <>{ "No run matches." }</> });
                }
                html! {
                    <div class="table-wrap"><table class="table" data-testid="system-runs">
                        <thead><tr><th>{ "Run" }</th><th>{ "Workspace" }</th><th>{ "Environment" }</th><th>{ "Status" }</th><th>{ "Started" }</th></tr></thead>
                        <tbody>{ for p.items.iter().map(|r| html! {
                            <tr data-run={r.id.clone()} data-ws={r.workspace_id.clone()}>
                                <td><button type="button" class="button button--quiet" onclick={open(r.id.clone())}>{ &r.label }</button><br /><span class="muted"><code>{ &r.id }</code></span></td>
                                <td>{ &r.workspace_id }</td>
                                <td>{ r.environment_id.clone().unwrap_or_else(|| "\u{2014}".into()) }</td>
                                <td>{ status_badge(r.status.as_str()) }</td>
                                <td>{ format::when(r.created_ms) }</td>
                            </tr>
                        }) }</tbody>
                    </table></div>
                }
            }) }
            { load::view(&detail, "load the run", |d: &Option<SystemRunDetail>| match d {
                None => html! {},
                Some(d) => html! {
                    <section class="panel" data-testid="system-run-detail" aria-labelledby="drill-title">
                        <h2 id="drill-title">{ format!("{} in {}", d.run.label, d.run.workspace_id) }</h2>
                        <p>{ status_badge(d.run.status.as_str()) }{ format!(" {} of {} failed", d.run.failed, d.run.total) }</p>
                        <h3>{ "Errors" }</h3>
                        if d.errors.is_empty() {
                            <p class="muted">{ "None." }</p>
                        } else {
                            <ul data-testid="system-run-errors">{ for d.errors.iter().map(|e| html! { <li><code>{ &e.item }</code>{ ": " }{ &e.message }</li> }) }</ul>
                        }
                        <h3>{ "Step results (secrets redacted)" }</h3>
                        <ul>{ for d.items.iter().map(|i| html! { <li><code>{ &i.item }</code>{ format!(" {} ", i.result) }<code class="detail">{ i.detail.to_string() }</code></li> }) }</ul>
                    </section>
                },
            }) }
        </>
    }
}
