//! The operations hub (filtered only by `environment_id` and `operation_type` in the URL) and the
//! canonical run viewer, which shows a banner when the selected environment is not the run's.

use std::rc::Rc;

use atlas_api_types::{EnvironmentList, OperationPage, OperationRun, OperationView, RunItem};
use atlas_domain::{OperationType, RunOutcome, RunState};
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::csv::CsvButton;
use crate::components::field::{SelectFieldProps, select_field};
use crate::components::load;
use crate::components::progress::{RunProgressProps, run_progress};
use crate::components::status_badge::{outcome_badge, run_status, status_badge, words};
use crate::components::table::{Cell, Chip, Column, DataTable, Row, sort_num};
use crate::format;
use crate::hooks::{use_interval, use_load};
use crate::pages::workspace::WsProps;
use crate::router::{Link, Location, QueryPairs, pairs, use_location, use_navigator};
use crate::session::selected_environment;

#[derive(Properties, PartialEq)]
pub struct RunTableProps {
    pub ws: String,
    pub runs: Vec<OperationRun>,
    /// Environments' display names by id, where the page has them (issue 19 item 2).
    #[prop_or_default]
    pub envs: Vec<(String, String)>,
    /// The page's own filters, as chips.
    #[prop_or_default]
    pub chips: Vec<Chip>,
}

/// An environment's display name: from `envs` when listed, else as last seen by the shell.
pub fn env_name(ws: &str, envs: &[(String, String)], env: &str) -> String {
    envs.iter()
        .find(|(id, _)| id == env)
        .map_or_else(|| crate::session::environment_name(ws, env), |(_, name)| name.clone())
}

/// `(id, display name)` of each environment of a list.
pub fn names(list: &EnvironmentList) -> Vec<(String, String)> {
    list.items
        .iter()
        .map(|e| {
            crate::session::remember_environment_name(&e.workspace_id, &e.id, &e.display_name);
            (e.id.clone(), e.display_name.clone())
        })
        .collect()
}

pub fn run_table(props: &RunTableProps) -> Html {
    if props.runs.is_empty() {
        return html! { { load::empty(html! { <>{ "No operations yet." }</> }) } };
    }
    let columns = Rc::new(vec![
        Column::searchable("Operation"),
        Column::searchable("Environment"),
        Column::searchable("Status"),
        Column::num("Items"),
        Column::new("Started"),
        Column::num("Duration"),
    ]);
    let rows: Vec<Row> = props
        .runs
        .iter()
        .map(|r| {
            let env = r
                .environment_id
                .as_deref()
                .map_or_else(|| "\u{2014}".to_owned(), |e| env_name(&props.ws, &props.envs, e));
            let status = run_status(r);
            let done = r.succeeded + r.failed + r.skipped;
            Row {
                cells: vec![
                    Cell::view(html! { <Link to={Route::Run { ws: props.ws.clone(), run: r.id.clone() }}>{ &r.label }</Link> }, r.label.clone()),
                    Cell::text(env),
                    Cell::view(status_badge(status.as_str()), status.label()),
                    Cell::view(
                        html! { <>{ format!("{done}/{}", r.total) }if r.failed > 0 { <span class="muted">{ format!(" ({} failed)", r.failed) }</span> }</> },
                        format!("{done}/{}", r.total),
                    )
                    .sort_by(sort_num(i64::try_from(r.total).unwrap_or(i64::MAX))),
                    Cell::view(html! { <>{ format::when(r.created_ms) }</> }, format::time(r.created_ms)).sort_by(sort_num(r.created_ms)),
                    Cell::text(r.duration_ms.map(format::duration).unwrap_or_else(|| "\u{2014}".into()))
                        .sort_by(sort_num(r.duration_ms.unwrap_or(-1))),
                ],
                data: vec![("run", r.id.clone()), ("type", r.operation_type.as_str().to_owned())],
            }
        })
        .collect();
    html! {
        <DataTable testid="run-table" noun="runs" {columns} rows={Rc::new(rows)} chips={props.chips.clone()} initial_sort={Some((4, true))} />
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HubQuery {
    pub environment_id: String,
    pub operation_type: String,
}

impl HubQuery {
    fn from_location(l: &Location) -> Self {
        Self {
            environment_id: l.value("environment_id"),
            operation_type: l.value("operation_type"),
        }
    }

    fn pairs(&self) -> QueryPairs {
        pairs(&[
            ("environment_id", &self.environment_id),
            ("operation_type", &self.operation_type),
        ])
    }
}

#[component]
pub fn OperationsPage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let navigator = use_navigator();
    let query = HubQuery::from_location(&use_location());
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let runs = use_load((ws.clone(), query.clone()), |(ws, q)| async move {
        api::get::<OperationPage>(&hub_path(&paths::operations(&ws), &q)).await
    });
    let running = runs
        .state
        .ready()
        .is_some_and(|p| p.items.iter().any(|r| r.state != RunState::Completed));
    use_interval(1500, running, runs.reload.clone());
    let set = |key: &'static str| {
        let (navigator, query, ws) = (navigator.clone(), query.clone(), ws.clone());
        Callback::from(move |v: String| {
            let mut q = query.clone();
            match key {
                "environment_id" => q.environment_id = v,
                _ => q.operation_type = v,
            }
            navigator.push_with_query(&Route::Operations { ws: ws.clone() }, &q.pairs());
        })
    };
    let mut env_options = vec![(String::new(), "All environments".to_owned())];
    if let Some(list) = envs.state.ready() {
        env_options.extend(list.items.iter().map(|e| (e.id.clone(), e.display_name.clone())));
    } else if !query.environment_id.is_empty() {
        env_options.push((query.environment_id.clone(), query.environment_id.clone()));
    }
    let mut type_options = vec![(String::new(), "All operations".to_owned())];
    type_options.extend(
        OperationType::ALL
            .iter()
            .map(|t| (t.as_str().to_owned(), t.label().to_owned())),
    );
    // The URL's filters (applied by the API) as chips; × drops one.
    let mut chips = Vec::new();
    if !query.environment_id.is_empty() {
        let name = env_options
            .iter()
            .find(|(id, _)| *id == query.environment_id)
            .map_or_else(|| query.environment_id.clone(), |(_, n)| n.clone());
        chips.push(Chip {
            label: format!("Environment: {name}"),
            remove: set("environment_id").reform(|()| String::new()),
        });
    }
    if let Some(t) = OperationType::ALL.iter().find(|t| t.as_str() == query.operation_type) {
        chips.push(Chip {
            label: format!("Operation: {}", t.label()),
            remove: set("operation_type").reform(|()| String::new()),
        });
    }
    html! {
        <>
            <div class="page-head">
                <h1>{ "Operations" }</h1>
                <CsvButton path={hub_path(&paths::operations_export(&ws), &query)} filename="operations.csv" />
            </div>
            <form class="toolbar" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
                { select_field(&yew::props!(SelectFieldProps { id: "hub-env", label: "Environment", value: query.environment_id.clone(), options: env_options, onchange: set("environment_id"), error: runs.field_error("environment_id") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "hub-type", label: "Operation type", value: query.operation_type.clone(), options: type_options, onchange: set("operation_type"), error: runs.field_error("operation_type") })) }
            </form>
            { load::view(&runs, "load the operations", |page: &OperationPage| html! {
                { run_table(&yew::props!(RunTableProps { ws: ws.clone(), runs: page.items.clone(), envs: envs.state.ready().map(names).unwrap_or_default(), chips: chips.clone() })) }
            }) }
        </>
    }
}

fn hub_path(path: &str, q: &HubQuery) -> String {
    with_query(
        path,
        &[
            ("environment_id", &q.environment_id),
            ("operation_type", &q.operation_type),
        ],
    )
}

#[derive(Properties, PartialEq)]
pub struct RunProps {
    pub ws: String,
    pub run: String,
}

/// The canonical run viewer. The selected environment is sent only so the API can report a
/// mismatch; it never decides whether the run may be seen.
#[component]
pub fn RunPage(props: &RunProps) -> Html {
    let selected = selected_environment(&props.ws);
    let view = use_load(
        (props.ws.clone(), props.run.clone(), selected.clone()),
        |(ws, run, sel)| async move {
            let path = paths::operation(&ws, &run);
            api::get::<OperationView>(&with_query(
                &path,
                &[("selected_environment_id", sel.as_deref().unwrap_or(""))],
            ))
            .await
        },
    );
    let running = view.state.ready().is_some_and(|v| v.run.state != RunState::Completed);
    use_interval(1000, running, view.reload.clone());
    let envs = use_load(props.ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let envs = envs.state.ready().map(names).unwrap_or_default();
    let ws = props.ws.clone();
    let name = |env: &str| env_name(&ws, &envs, env);
    load::view(&view, "load the run", |v: &OperationView| {
        let r = &v.run;
        html! {
            <>
                if v.context_mismatch {
                    <div class="banner" role="note" data-testid="context-mismatch">
                        <p>
                            { "This run belongs to " }
                            <strong>{ r.environment_id.as_deref().map_or_else(|| "no environment".to_owned(), name) }</strong>
                            { ", not to the environment you have selected (" }
                            <strong>{ selected.as_deref().map(name).unwrap_or_default() }</strong>
                            { "). You are seeing it at its canonical address; nothing was changed." }
                        </p>
                        if let Some(env) = &r.environment_id {
                            <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}>{ "Switch to the run's environment" }</Link>
                        }
                    </div>
                }
                <div class="page-head">
                    <h1>{ &r.label }</h1>
                    { status_badge(run_status(r).as_str()) }
                    // Ask for help with this run: the server attaches its context (spec 025).
                    if r.outcome.is_some_and(|o| o != RunOutcome::Succeeded) {
                        <Link to={Route::Support { ws: ws.clone() }} classes="button button--quiet" query={crate::router::pairs(&[("source", "operation_run"), ("run", r.id.as_str())])}>{ "Report a problem" }</Link>
                    }
                </div>
                <dl class="facts">
                    { crate::components::markup::fact("Type", html! { <><code>{ r.operation_type.as_str() }</code></> }) }
                    { crate::components::markup::fact("Environment", html! { <>{ r.environment_id.as_deref().map_or_else(|| "\u{2014}".to_owned(), name) }</> }) }
                    { crate::components::markup::fact("Started by", html! { <>{ if r.scheduled { format!("Its backup schedule (as {})", r.initiator) } else { r.initiator.clone() } }</> }) }
                    <div class="fact"><dt>{ "Outcome" }</dt><dd data-testid="run-outcome" data-outcome={r.outcome.map(RunOutcome::as_str)}>{ words(r.outcome.map_or_else(|| r.state.as_str(), RunOutcome::as_str)) }</dd></div>
                    { crate::components::markup::fact("Created", html! { <>{ format::when(r.created_ms) }</> }) }
                    { crate::components::markup::fact("Duration", html! { <>{ r.duration_ms.map(format::duration).unwrap_or_else(|| "\u{2014}".into()) }</> }) }
                </dl>
                { run_progress(&yew::props!(RunProgressProps { run: r.clone() })) }
                <section class="panel" aria-labelledby="items-title">
                    <h2 id="items-title">{ "Items" }</h2>
                    { run_items(&yew::props!(RunItemsProps { items: v.items.clone() })) }
                </section>
            </>
        }
    })
}

#[derive(Properties, PartialEq)]
pub struct RunItemsProps {
    pub items: Vec<RunItem>,
}

/// Per-item results of a run: what happened to each unit, with its detail.
pub fn run_items(props: &RunItemsProps) -> Html {
    if props.items.is_empty() {
        return html! { { load::empty(html! { <>{ "No per-item results yet." }</> }) } };
    }
    html! {
        <div class="table-wrap"><table class="table" data-testid="run-items">
            <thead><tr>{ crate::components::markup::th("Item") }{ crate::components::markup::th("Result") }{ crate::components::markup::th("Detail") }</tr></thead>
            <tbody>{ for props.items.iter().map(|i| html! {
                <tr data-result={i.result.clone()}>
                    <td>
                        if let Some(name) = i.detail.get("name").and_then(|n| n.as_str()) {
                            { name }<br /><span class="muted">{ &i.item }</span>
                        } else if crate::families::label(&i.item) != i.item {
                            // A family: its Intune admin center name, the Graph name as detail.
                            { crate::families::label(&i.item) }<br /><span class="muted">{ &i.item }</span>
                        } else {
                            { &i.item }
                        }
                    </td>
                    <td>
                        // What was done (created, updated…) says more than succeeded.
                        { outcome_badge(i.detail.get("result").and_then(|r| r.as_str()).unwrap_or(&i.result)) }
                    </td>
                    <td><code class="detail">{ detail(&i.detail) }</code></td>
                </tr>
            }) }</tbody>
        </table></div>
    }
}

/// A unit's detail as `key: value` pairs, leaving out what the other columns show.
fn detail(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "name" | "family" | "result"))
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                v => format!("{k}: {v}"),
            })
            .collect::<Vec<_>>()
            .join(" \u{b7} "),
        v => v.to_string(),
    }
}
