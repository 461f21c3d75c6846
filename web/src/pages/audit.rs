//! The audit log: filters (environment, outcome, actor, action; the actor and action pick from
//! those seen), cursor pages and CSV, in the shared list table (sortable headers, column searches,
//! filter chips, the event count). A page of the main bundle, beside the table's other users.

use std::rc::Rc;

use atlas_api_types::{AuditPage, EnvironmentList};
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::csv::CsvButton;
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::load;
use crate::components::status_badge::outcome_badge;
use crate::components::table::{Cell, Chip, Column, DataTable, Row, sort_num};
use crate::format;
use crate::hooks::{use_load, use_more};
use crate::pages::workspace::WsProps;
use crate::router::{Link, Location, QueryPairs, pairs, use_location, use_navigator};

#[derive(Debug, Clone, PartialEq, Default)]
struct Filters {
    environment_id: String,
    outcome: String,
    actor: String,
    action: String,
}

impl Filters {
    fn from_location(l: &Location) -> Self {
        Self {
            environment_id: l.value("environment_id"),
            outcome: l.value("outcome"),
            actor: l.value("actor"),
            action: l.value("action"),
        }
    }

    fn pairs(&self) -> QueryPairs {
        pairs(&[
            ("environment_id", &self.environment_id),
            ("outcome", &self.outcome),
            ("actor", &self.actor),
            ("action", &self.action),
        ])
    }
}

fn audit_path(path: &str, f: &Filters, cursor: &str) -> String {
    with_query(
        path,
        &[
            ("environment_id", &f.environment_id),
            ("outcome", &f.outcome),
            ("actor", &f.actor),
            ("action", &f.action),
            ("cursor", cursor),
        ],
    )
}

/// The app's page of what an event's target (`kind/id`) names, when there is one: a run, a
/// promotion, a finding, an alert delivery, an environment, a restore (in the event's
/// environment) or the list page of baselines, risk acceptances, members and alerts. A deleted
/// backup set has no page left.
pub fn target_route(ws: &str, env: Option<&str>, target: &str) -> Option<Route> {
    let (kind, id) = target.split_once('/')?;
    let (ws, id) = (ws.to_owned(), id.to_owned());
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(match (kind, env) {
        ("run", _) => Route::Run { ws, run: id },
        ("promotion", _) => Route::Promotion { ws, promotion: id },
        ("finding", _) => Route::Finding { ws, finding: id },
        ("alert_delivery", _) => Route::AlertDelivery { ws, delivery: id },
        ("environment", _) => Route::Environment { ws, env: id },
        ("restore", Some(env)) => Route::Restore {
            ws,
            env: env.to_owned(),
            restore: id,
        },
        ("baseline", _) => Route::Baselines { ws },
        ("exception", _) => Route::Exceptions { ws },
        ("member" | "invitation", _) => Route::Members { ws },
        ("alert_rule" | "alert_destination" | "alert-destination", _) => Route::Alerts { ws },
        _ => return None,
    })
}

fn target_view(ws: &str, env: Option<&str>, target: &str) -> Html {
    match target_route(ws, env, target) {
        Some(to) => html! { <Link {to}>{ target }</Link> },
        None => html! { <>{ target }</> },
    }
}

#[component]
pub fn AuditPageView(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let navigator = use_navigator();
    let filters = Filters::from_location(&use_location());
    let draft = use_state(|| filters.clone());
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    let page = use_load((ws.clone(), filters.clone()), |(ws, f)| async move {
        api::get::<AuditPage>(&audit_path(&paths::audit_events(&ws), &f, "")).await
    });
    let more = {
        let (ws, filters) = (ws.clone(), filters.clone());
        use_more(page.state.ready().and_then(|p| p.next.clone()), move |cursor| {
            let (ws, f) = (ws.clone(), filters.clone());
            async move {
                let p = api::get::<AuditPage>(&audit_path(&paths::audit_events(&ws), &f, &cursor)).await?;
                Ok((p.items, p.next))
            }
        })
    };
    let onsubmit = {
        let (navigator, draft, ws) = (navigator.clone(), draft.clone(), ws.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            navigator.push_with_query(&Route::Audit { ws: ws.clone() }, &draft.pairs());
        })
    };
    let set = |apply: fn(&mut Filters, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            apply(&mut d, v);
            draft.set(d);
        })
    };
    // Actors and actions seen on the pages loaded so far: the filters' pick lists (the API matches
    // them exactly).
    let seen = use_mut_ref(|| {
        (
            std::collections::BTreeSet::<String>::new(),
            std::collections::BTreeSet::<String>::new(),
        )
    });
    if let Some(p) = page.state.ready() {
        let mut seen = seen.borrow_mut();
        for e in p.items.iter().chain(more.items()) {
            seen.0.insert(if e.actor_email.is_empty() {
                e.actor_id.clone()
            } else {
                e.actor_email.clone()
            });
            seen.1.insert(e.action.clone());
        }
    }
    let (actors, actions): (Vec<String>, Vec<String>) = {
        let seen = seen.borrow();
        (seen.0.iter().cloned().collect(), seen.1.iter().cloned().collect())
    };
    let mut env_options = vec![(String::new(), "All environments".to_owned())];
    if let Some(list) = envs.state.ready() {
        env_options.extend(list.items.iter().map(|e| (e.id.clone(), e.display_name.clone())));
    }
    let columns = Rc::new(vec![
        Column::new("When"),
        Column::searchable("Who"),
        Column::searchable("Action"),
        Column::searchable("Target"),
        Column::searchable("Environment"),
        Column::searchable("Outcome"),
    ]);
    // The URL's filters (applied by the API) as chips; × drops one.
    let drop = |clear: fn(&mut Filters)| {
        let (navigator, filters, ws) = (navigator.clone(), filters.clone(), ws.clone());
        Callback::from(move |()| {
            let mut f = filters.clone();
            clear(&mut f);
            navigator.push_with_query(&Route::Audit { ws: ws.clone() }, &f.pairs());
        })
    };
    let mut chips = Vec::new();
    if !filters.environment_id.is_empty() {
        let name = env_options
            .iter()
            .find(|(id, _)| *id == filters.environment_id)
            .map_or_else(|| filters.environment_id.clone(), |(_, n)| n.clone());
        chips.push(Chip {
            label: format!("Environment: {name}"),
            remove: drop(|f| f.environment_id.clear()),
        });
    }
    if !filters.outcome.is_empty() {
        chips.push(Chip {
            label: format!("Outcome: {}", filters.outcome),
            remove: drop(|f| f.outcome.clear()),
        });
    }
    if !filters.actor.is_empty() {
        chips.push(Chip {
            label: format!("Actor: {}", filters.actor),
            remove: drop(|f| f.actor.clear()),
        });
    }
    if !filters.action.is_empty() {
        chips.push(Chip {
            label: format!("Action: {}", filters.action),
            remove: drop(|f| f.action.clear()),
        });
    }
    html! {
        <>
            <div class="page-head">
                <h1>{ "Audit log" }</h1>
                <CsvButton path={audit_path(&paths::audit_events_export(&ws), &filters, "")} filename="audit-log.csv" />
            </div>
            <form class="toolbar" {onsubmit} aria-label="Filter the audit log">
                { select_field(&yew::props!(SelectFieldProps { id: "audit-env", label: "Environment", value: draft.environment_id.clone(), options: env_options.clone(), onchange: set(|f, v| f.environment_id = v), error: page.field_error("environment_id") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "audit-outcome", label: "Outcome", value: draft.outcome.clone(), options: vec![(String::new(), "Any".into()), ("success".into(), "Success".into()), ("denied".into(), "Denied".into()), ("failed".into(), "Failed".into())], onchange: set(|f, v| f.outcome = v), error: page.field_error("outcome") })) }
                { text_field(&yew::props!(TextFieldProps { id: "audit-actor", label: "Actor", value: draft.actor.clone(), onchange: set(|f, v| f.actor = v), error: page.field_error("actor"), suggestions: actors })) }
                { text_field(&yew::props!(TextFieldProps { id: "audit-action", label: "Action", value: draft.action.clone(), onchange: set(|f, v| f.action = v), error: page.field_error("action"), suggestions: actions })) }
                <button type="submit" class="button">{ "Apply filters" }</button>
            </form>
            { load::view(&page, "load the audit log", |p: &AuditPage| {
                if p.items.is_empty() {
                    return html! { { load::empty(html! { <>{ "No audit event matches." }</> }) } };
                }
                let rows: Vec<Row> = p.items.iter().chain(more.items()).map(|e| {
                    let who = if e.actor_email.is_empty() { e.actor_id.clone() } else { e.actor_email.clone() };
                    let reason = e.reason.as_ref().map(|r| format!(" {r}")).unwrap_or_default();
                    Row {
                        cells: vec![
                            Cell::view(html! { <>{ format::when(e.at_ms) }</> }, format::time(e.at_ms)).sort_by(sort_num(e.at_ms)),
                            Cell::text(who),
                            Cell::view(html! { <code>{ &e.action }</code> }, e.action.clone()),
                            Cell::view(target_view(&ws, e.environment_id.as_deref(), &e.target), e.target.clone()),
                            match e.environment_id.as_deref() {
                                Some(env) => {
                                    let name = env_options.iter().find(|(id, _)| id == env).map_or(env, |(_, n)| n.as_str()).to_owned();
                                    Cell::view(html! { <Link to={Route::Environment { ws: ws.clone(), env: env.to_owned() }}>{ name.clone() }</Link> }, name)
                                }
                                None => Cell::text("\u{2014}"),
                            },
                            Cell::view(html! { <>{ outcome_badge(e.outcome.as_str()) }{ reason.clone() }</> }, format!("{}{reason}", e.outcome.as_str())),
                        ],
                        data: vec![("action", e.action.clone()), ("outcome", e.outcome.as_str().to_owned())],
                    }
                }).collect();
                html! {
                    <>
                        <DataTable testid="audit-table" noun="events" columns={columns.clone()} rows={Rc::new(rows)} chips={chips.clone()} initial_sort={Some((0, true))} more={more.has_next()} />
                        { load::more_footer(&more) }
                    </>
                }
            }) }
        </>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_links_to_the_page_of_what_it_names() {
        assert_eq!(
            target_route("w", None, "run/r1"),
            Some(Route::Run {
                ws: "w".into(),
                run: "r1".into()
            })
        );
        assert_eq!(
            target_route("w", Some("e"), "restore/x"),
            Some(Route::Restore {
                ws: "w".into(),
                env: "e".into(),
                restore: "x".into()
            })
        );
        assert_eq!(target_route("w", None, "restore/x"), None);
        assert_eq!(target_route("w", Some("e"), "backup/s"), None);
        assert_eq!(target_route("w", None, "workspace"), None);
    }
}
