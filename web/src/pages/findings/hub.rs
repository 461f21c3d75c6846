//! The findings hub: filters in the URL (environment, status incl. "open", severity, source,
//! overdue, search), cursor pages, CSV, and bulk triage of the checked rows with each item's
//! outcome.

use atlas_api_types::{EnvironmentList, Finding, FindingPage, FindingSource, FindingStatus, FindingsTriage, Severity};
use atlas_domain::Capability;
use wasm_bindgen::JsCast as _;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{ApiError, paths, with_query};
use crate::app::Route;
use crate::components::csv::CsvButton;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::findings::{TRIAGE_STATUSES, needs_reason, status_label, status_tag, summary, triage};
use crate::components::load;
use crate::components::status_badge::severity_badge;
use crate::format;
use crate::hooks::{use_load, use_more};
use crate::pages::workspace::WsProps;
use crate::router::{Link, Location, QueryPairs, pairs, use_location, use_navigator};
use crate::session::use_session;
use crate::{api, families};

/// The hub's filters, as its URL query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindingsQuery {
    pub environment_id: String,
    pub status: String,
    pub severity: String,
    pub source: String,
    pub overdue: String,
    pub owner: String,
    pub baseline_id: String,
    pub search: String,
}

impl FindingsQuery {
    /// The filters in the URL's query; absent ones empty.
    pub fn from_location(l: &Location) -> Self {
        Self {
            environment_id: l.value("environment_id"),
            status: l.value("status"),
            severity: l.value("severity"),
            source: l.value("source"),
            overdue: l.value("overdue"),
            owner: l.value("owner"),
            baseline_id: l.value("baseline_id"),
            search: l.value("search"),
        }
    }

    /// The pairs this query serializes to: fields in order, empty ones left out.
    pub fn pairs(&self) -> QueryPairs {
        pairs(&[
            ("environment_id", &self.environment_id),
            ("status", &self.status),
            ("severity", &self.severity),
            ("source", &self.source),
            ("overdue", &self.overdue),
            ("owner", &self.owner),
            ("baseline_id", &self.baseline_id),
            ("search", &self.search),
        ])
    }
}

const PAGE: &str = "50";

/// `path` with the filters; `cursor` and `limit` only for pages (not the CSV).
pub fn findings_path(path: &str, q: &FindingsQuery, cursor: &str, limit: &str) -> String {
    with_query(
        path,
        &[
            ("environment_id", &q.environment_id),
            ("state", &q.status),
            ("severity", &q.severity),
            ("source", &q.source),
            ("owner", &q.owner),
            ("overdue", &q.overdue),
            ("baseline_id", &q.baseline_id),
            ("search", &q.search),
            ("cursor", cursor),
            ("limit", limit),
        ],
    )
}

fn options<T: Copy>(
    any: &str,
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> String,
) -> Vec<(String, String)> {
    let mut v = vec![(String::new(), any.to_owned())];
    v.extend(all.iter().map(|t| (code(*t).to_owned(), label(*t))));
    v
}

#[component]
pub fn FindingsPage(props: &WsProps) -> Html {
    let session = use_session();
    let ws = props.ws.clone();
    let can_triage = session.can(&ws, Capability::FindingsTriage);
    let navigator = use_navigator();
    let query = FindingsQuery::from_location(&use_location());
    let search = use_state(|| query.search.clone());
    {
        // A chip or the back button changes the query: the box shows its search.
        let search = search.clone();
        use_effect_with(query.search.clone(), move |s| search.set(s.clone()));
    }
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let page = use_load((ws.clone(), query.clone()), |(ws, q)| async move {
        api::get::<FindingPage>(&findings_path(&paths::findings(&ws), &q, "", PAGE)).await
    });
    let more = {
        let (ws, q) = (ws.clone(), query.clone());
        use_more(page.state.ready().and_then(|p| p.next.clone()), move |cursor| {
            let path = findings_path(&paths::findings(&ws), &q, &cursor, PAGE);
            async move {
                let p = api::get::<FindingPage>(&path).await?;
                Ok((p.items, p.next))
            }
        })
    };
    let push = {
        let (navigator, ws) = (navigator.clone(), ws.clone());
        Callback::from(move |q: FindingsQuery| {
            navigator.push_with_query(&Route::Findings { ws: ws.clone() }, &q.pairs());
        })
    };
    let set = |apply: fn(&mut FindingsQuery, String)| {
        let (push, query, search) = (push.clone(), query.clone(), search.clone());
        Callback::from(move |v: String| {
            let mut q = query.clone();
            q.search = (*search).clone();
            apply(&mut q, v);
            push.emit(q);
        })
    };
    let onsubmit = {
        let (push, query, search) = (push.clone(), query.clone(), search.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            push.emit(FindingsQuery {
                search: search.trim().to_owned(),
                ..query.clone()
            });
        })
    };
    let mut env_options = vec![(String::new(), "All environments".to_owned())];
    if let Some(list) = envs.state.ready() {
        env_options.extend(crate::pages::operations::names(list));
    } else if !query.environment_id.is_empty() {
        env_options.push((query.environment_id.clone(), query.environment_id.clone()));
    }
    let mut status_options = vec![(String::new(), "Any status".to_owned()), ("open".into(), "Open".into())];
    status_options.extend(
        FindingStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), status_label(*s).to_owned())),
    );
    let severity_options = options("Any severity", Severity::ALL, Severity::as_str, |s| {
        s.as_str().to_owned()
    });
    let source_options = options("Any source", FindingSource::ALL, FindingSource::as_str, |s| {
        s.as_str().to_owned()
    });
    let overdue_options = vec![
        (String::new(), "Overdue or not".to_owned()),
        ("true".into(), "Overdue only".into()),
        ("false".into(), "Not overdue".into()),
    ];
    let chip = |label: &str, q: FindingsQuery| {
        let current = q == query;
        html! {
            <Link to={Route::Findings { ws: ws.clone() }} query={Some(q.pairs())}
                classes={classes!("chip", current.then_some("chip--update"))}>{ label.to_owned() }</Link>
        }
    };
    let open_q = FindingsQuery {
        status: "open".into(),
        ..FindingsQuery::default()
    };
    let overdue_q = FindingsQuery {
        status: "open".into(),
        overdue: "true".into(),
        ..FindingsQuery::default()
    };
    html! {
        <>
            <div class="page-head">
                <h1>{ "Findings" }</h1>
                <CsvButton path={findings_path(&paths::findings_export(&ws), &query, "", "")} filename="findings.csv" />
            </div>
            <p class="badges" aria-label="Quick filters">
                { chip("Open", open_q) }{ chip("Overdue", overdue_q) }{ chip("All", FindingsQuery::default()) }
            </p>
            <form class="toolbar" {onsubmit} aria-label="Filter the findings">
                { select_field(&yew::props!(SelectFieldProps { id: "findings-env", label: "Environment", value: query.environment_id.clone(), options: env_options, onchange: set(|q, v| q.environment_id = v), error: page.field_error("environment_id") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "findings-status", label: "Status", value: query.status.clone(), options: status_options, onchange: set(|q, v| q.status = v), error: page.field_error("state") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "findings-severity", label: "Severity", value: query.severity.clone(), options: severity_options, onchange: set(|q, v| q.severity = v), error: page.field_error("severity") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "findings-source", label: "Source", value: query.source.clone(), options: source_options, onchange: set(|q, v| q.source = v), error: page.field_error("source") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "findings-overdue", label: "Due", value: query.overdue.clone(), options: overdue_options, onchange: set(|q, v| q.overdue = v), error: page.field_error("overdue") })) }
                { text_field(&yew::props!(TextFieldProps { id: "findings-search", label: "Search", kind: "search", value: (*search).clone(), onchange: { let s = search.clone(); Callback::from(move |v| s.set(v)) }, error: page.field_error("search") })) }
                <button type="submit" class="button">{ "Search" }</button>
            </form>
            { load::view(&page, "load the findings", |p: &FindingPage| {
                let items: Vec<Finding> = p.items.iter().chain(more.items()).cloned().collect();
                html! {
                    <>
                        <p class="muted" data-testid="findings-total">{ format!("{} finding{} match", p.total, if p.total == 1 { "" } else { "s" }) }</p>
                        if items.is_empty() {
                            { load::empty(html! { <>{ "No finding matches." }</> }) }
                        } else {
                            <Table ws={ws.clone()} {items} {can_triage} reload={page.reload.clone()} />
                            { load::more_footer(&more) }
                        }
                    </>
                }
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct TableProps {
    ws: String,
    items: Vec<Finding>,
    can_triage: bool,
    reload: Callback<()>,
}

/// The table with row checkboxes and, for triagers, the bulk bar above it.
#[component]
fn Table(props: &TableProps) -> Html {
    // Checked ids, sorted and without repeats (a set, kept as a Vec: smaller bundle than a BTreeSet).
    let checked = use_state(Vec::<String>::new);
    let status = use_state(String::new);
    let reason = use_state(String::new);
    let owner = use_state(String::new);
    let busy = use_state(|| false);
    let result = use_state(|| None::<String>);
    let error = use_state(|| None::<ApiError>);
    let toggle = |id: String| {
        let checked = checked.clone();
        Callback::from(move |_: Event| {
            let mut next = (*checked).clone();
            match next.binary_search(&id) {
                Ok(at) => drop(next.remove(at)),
                Err(at) => next.insert(at, id.clone()),
            }
            checked.set(next);
        })
    };
    let mut all_ids: Vec<String> = props.items.iter().map(|f| f.id.clone()).collect();
    all_ids.sort_unstable();
    all_ids.dedup();
    let toggle_all = {
        let (checked, all_ids) = (checked.clone(), all_ids.clone());
        Callback::from(move |e: Event| {
            let on = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .is_some_and(|i| i.checked());
            checked.set(if on { all_ids.clone() } else { Vec::new() });
        })
    };
    let apply = {
        let (checked, all_ids, status, reason, owner, busy, result, error, ws, reload) = (
            checked.clone(),
            all_ids.clone(),
            status.clone(),
            reason.clone(),
            owner.clone(),
            busy.clone(),
            result.clone(),
            error.clone(),
            props.ws.clone(),
            props.reload.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let body = FindingsTriage {
                // Only rows still shown: a reload may have dropped some that were checked.
                ids: checked
                    .iter()
                    .filter(|id| all_ids.binary_search(id).is_ok())
                    .cloned()
                    .collect(),
                state: FindingStatus::parse(&status),
                owner: (!owner.trim().is_empty()).then(|| owner.trim().to_owned()),
                reason: (!reason.trim().is_empty()).then(|| reason.trim().to_owned()),
            };
            let (checked, busy, result, error, ws, reload) = (
                checked.clone(),
                busy.clone(),
                result.clone(),
                error.clone(),
                ws.clone(),
                reload.clone(),
            );
            busy.set(true);
            spawn_local(async move {
                match triage(&ws, &body).await {
                    Ok(r) => {
                        error.set(None);
                        result.set(Some(summary(&r)));
                        checked.set(Vec::new());
                        reload.emit(());
                    }
                    Err(e) => {
                        result.set(None);
                        error.set(Some(e));
                    }
                }
                busy.set(false);
            });
        })
    };
    let chosen = FindingStatus::parse(&status);
    let missing_reason = chosen.is_some_and(needs_reason) && reason.trim().is_empty();
    let nothing = chosen.is_none() && owner.trim().is_empty();
    let mut status_options = vec![(String::new(), "Keep status".to_owned())];
    status_options.extend(
        TRIAGE_STATUSES
            .iter()
            .map(|s| (s.as_str().to_owned(), status_label(*s).to_owned())),
    );
    let err = |name: &str| (*error).as_ref().and_then(|e| e.field(name));
    let ws = &props.ws;
    html! {
        <>
            if props.can_triage {
                <div class="panel triage-bar" aria-label="Triage the checked findings">
                    <p>{ format!("{} checked", checked.len()) }</p>
                    <div class="toolbar">
                        { select_field(&yew::props!(SelectFieldProps { id: "triage-status", label: "Move to", value: (*status).clone(), options: status_options, onchange: { let s = status.clone(); Callback::from(move |v| s.set(v)) }, error: err("state") })) }
                        { text_field(&yew::props!(TextFieldProps { id: "triage-reason", label: "Reason", value: (*reason).clone(), hint: missing_reason.then_some(AttrValue::Static("Needed to resolve or mark as false positive.")), onchange: { let r = reason.clone(); Callback::from(move |v| r.set(v)) }, error: err("reason") })) }
                        { text_field(&yew::props!(TextFieldProps { id: "triage-owner", label: "Owner (email)", value: (*owner).clone(), onchange: { let o = owner.clone(); Callback::from(move |v| o.set(v)) }, error: err("owner") })) }
                        <button type="button" id="triage-apply" class="button" onclick={apply}
                            disabled={*busy || checked.is_empty() || nothing || missing_reason}>{ "Apply" }</button>
                    </div>
                    if let Some(r) = &*result { <p class="triage-result" role="status">{ r }</p> }
                    { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                </div>
            }
            <div class="table-wrap"><table class="table" id="findings-table" data-testid="findings-table">
                <thead><tr>
                    if props.can_triage {
                        <th scope="col"><input type="checkbox" aria-label="Check all" onchange={toggle_all}
                            checked={!all_ids.is_empty() && *checked == all_ids} /></th>
                    }
                    { crate::components::markup::th("Severity") }{ crate::components::markup::th("Status") }{ crate::components::markup::th("Title") }
                    { crate::components::markup::th("Environment") }{ crate::components::markup::th("Object") }{ crate::components::markup::th("Last seen") }
                    { crate::components::markup::th("Count") }{ crate::components::markup::th("Owner") }{ crate::components::markup::th("Due") }
                </tr></thead>
                <tbody>{ for props.items.iter().map(|f| html! {
                    <tr class="finding" data-id={f.id.clone()} data-status={f.status.as_str()}>
                        if props.can_triage {
                            <td><input type="checkbox" class="finding-check" value={f.id.clone()} aria-label={format!("Check {}", f.title)}
                                checked={checked.binary_search(&f.id).is_ok()} onchange={toggle(f.id.clone())} /></td>
                        }
                        <td>{ severity_badge(f.severity.as_str()) }</td>
                        <td>{ status_tag(f.state) }</td>
                        <td><Link to={Route::Finding { ws: ws.clone(), finding: f.id.clone() }}>{ &f.title }</Link>
                            <span class="muted">{ format!(" ({})", f.source.as_str()) }</span></td>
                        <td><crate::session::EnvName ws={ws.clone()} env={f.environment_id.clone()} /></td>
                        <td>{ f.object.as_ref().map(|o| format!("{} ({})", o.name, families::label(&o.family))).unwrap_or_else(|| "\u{2014}".into()) }</td>
                        <td>{ format::when(f.last_seen_ms) }</td>
                        <td>{ f.count }</td>
                        <td>{ f.owner.clone().unwrap_or_else(|| "\u{2014}".into()) }</td>
                        <td>{ format::when_opt(f.due_ms) }
                            if f.overdue { { " " }<span class="badge badge--bad overdue">{ "Overdue" }</span> }</td>
                    </tr>
                }) }</tbody>
            </table></div>
        </>
    }
}
