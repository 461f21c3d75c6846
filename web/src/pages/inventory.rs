//! The inventory: filters (family, status), search, ghost badges, and an item's redacted JSON.

use atlas_api_types::{FamilySyncStatus, InventoryFamily, InventoryItem, InventoryPage, InventoryStatus};
use std::rc::Rc;

use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::json::json_view;
use crate::components::load;
use crate::components::status_badge::{deleted_badge, status_badge};
use crate::components::table::{Cell, Chip, Column, DataTable, Row, sort_num};
use crate::hooks::{use_load, use_more};
use crate::pages::environment::EnvProps;
use crate::router::{Link, Location, QueryPairs, pairs, use_location, use_navigator};
use crate::session::use_select_environment;
use crate::{families, format};

#[derive(Debug, Clone, PartialEq, Default)]
struct Filters {
    family: String,
    status: String,
    search: String,
}

impl Filters {
    fn from_location(l: &Location) -> Self {
        Self {
            family: l.value("family"),
            status: l.value("status"),
            search: l.value("search"),
        }
    }

    /// The URL's query: the filters set, in order.
    fn pairs(&self) -> QueryPairs {
        pairs(&[
            ("family", &self.family),
            ("status", &self.status),
            ("search", &self.search),
        ])
    }
}

fn list_path(ws: &str, env: &str, f: &Filters, cursor: &str) -> String {
    with_query(
        &paths::inventory(ws, env),
        &[
            ("family", &f.family),
            ("state", &f.status),
            ("search", &f.search),
            ("cursor", cursor),
        ],
    )
}

#[component]
pub fn InventoryListPage(props: &EnvProps) -> Html {
    let key = (props.ws.clone(), props.env.clone());
    let navigator = use_navigator();
    let filters = Filters::from_location(&use_location());
    let search = use_state(|| filters.search.clone());
    let page = use_load((key.clone(), filters.clone()), |((ws, env), f)| async move {
        api::get::<InventoryPage>(&list_path(&ws, &env, &f, "")).await
    });
    use_select_environment(&props.ws, &props.env, page.state.ready().is_some(), None);
    // Families seen in an unfiltered first page, for the family filter.
    let families = use_load(key.clone(), |(ws, env)| async move {
        let all = api::get::<InventoryPage>(&list_path(&ws, &env, &Filters::default(), "")).await?;
        let mut f: Vec<String> = all.items.into_iter().map(|i| i.family).collect();
        f.sort();
        f.dedup();
        Ok(f)
    });
    let more = {
        let (key, filters) = (key.clone(), filters.clone());
        use_more(page.state.ready().and_then(|p| p.next.clone()), move |cursor| {
            let ((ws, env), f) = (key.clone(), filters.clone());
            async move {
                let p = api::get::<InventoryPage>(&list_path(&ws, &env, &f, &cursor)).await?;
                Ok((p.items, p.next))
            }
        })
    };
    let push = {
        let (navigator, key) = (navigator.clone(), key.clone());
        move |f: Filters| {
            navigator.push_with_query(
                &Route::Inventory {
                    ws: key.0.clone(),
                    env: key.1.clone(),
                },
                &f.pairs(),
            );
        }
    };
    let set_family = {
        let (push, filters) = (push.clone(), filters.clone());
        Callback::from(move |v: String| {
            push(Filters {
                family: v,
                ..filters.clone()
            })
        })
    };
    let set_status = {
        let (push, filters) = (push.clone(), filters.clone());
        Callback::from(move |v: String| {
            push(Filters {
                status: v,
                ..filters.clone()
            })
        })
    };
    let onsubmit = {
        let (push, filters, search) = (push.clone(), filters.clone(), search.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            push(Filters {
                search: (*search).clone(),
                ..filters.clone()
            });
        })
    };
    let mut family_options = vec![(String::new(), "All families".to_owned())];
    if let Some(list) = families.state.ready() {
        family_options.extend(list.iter().map(|f| (f.clone(), families::label(f).to_owned())));
    }
    if !filters.family.is_empty() && !family_options.iter().any(|(v, _)| *v == filters.family) {
        family_options.push((filters.family.clone(), filters.family.clone()));
    }
    let filtered = filters != Filters::default();
    let columns = Rc::new(vec![
        Column::searchable("Name"),
        Column::searchable("Family"),
        Column::searchable("Platform"),
        Column::searchable("Assignments"),
        Column::new("Status"),
        Column::new("Last seen"),
    ]);
    // The URL's filters (applied by the API) as chips; × drops one.
    let mut chips = Vec::new();
    for (label, value, clear) in [
        (
            "Family",
            families::label(&filters.family).to_owned(),
            Filters {
                family: String::new(),
                ..filters.clone()
            },
        ),
        (
            "Status",
            match filters.status.as_str() {
                "active" => "Active".to_owned(),
                "deleted" => "Deleted (ghosts)".to_owned(),
                other => other.to_owned(),
            },
            Filters {
                status: String::new(),
                ..filters.clone()
            },
        ),
        (
            "Name",
            filters.search.clone(),
            Filters {
                search: String::new(),
                ..filters.clone()
            },
        ),
    ] {
        if !value.is_empty() {
            let (push, search) = (push.clone(), search.clone());
            chips.push(Chip {
                label: format!("{label}: {value}"),
                remove: Callback::from(move |()| {
                    if label == "Name" {
                        search.set(String::new());
                    }
                    push(clear.clone())
                }),
            });
        }
    }
    let (ws, env) = key.clone();
    html! {
        <>
            <div class="page-head">
                <h1>{ "Inventory" }</h1>
                <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}><crate::session::EnvName ws={ws.clone()} env={env.clone()} /></Link>
            </div>
            <crate::components::envs::LifecycleBanner ws={ws.clone()} env={env.clone()} />
            <form class="toolbar" role="search" {onsubmit}>
                { select_field(&yew::props!(SelectFieldProps { id: "inv-family", label: "Family", value: filters.family.clone(), options: family_options, onchange: set_family, error: page.field_error("family") })) }
                { select_field(&yew::props!(SelectFieldProps { id: "inv-status", label: "Status", value: filters.status.clone(), options: vec![(String::new(), "All".into()), ("active".into(), "Active".into()), ("deleted".into(), "Deleted (ghosts)".into())], onchange: set_status, error: page.field_error("state") })) }
                { text_field(&yew::props!(TextFieldProps { id: "inv-search", label: "Search by name", kind: "search", value: (*search).clone(), onchange: { let s = search.clone(); Callback::from(move |v| s.set(v)) } })) }
                <button type="submit" class="button">{ "Search" }</button>
            </form>
            { load::view(&page, "load the inventory", |p: &InventoryPage| {
                let unknown = unknown_families(&p.families);
                if p.items.is_empty() {
                    return html! { <>{ unknown }{ load::empty(html! { <>{ if filtered { "No item matches these filters." } else { "The inventory is empty: sync it from the environment page." } }</> }) }</> };
                }
                let rows: Vec<Row> = p.items.iter().chain(more.items()).map(|i| Row {
                    cells: vec![
                        Cell::view(html! { <Link to={Route::InventoryItem { ws: ws.clone(), env: env.clone(), family: i.family.clone(), item: i.id.clone() }}>{ &i.name }</Link> }, i.name.clone()),
                        Cell::view(html! { <>{ families::label(&i.family) }</> }, families::label(&i.family)),
                        Cell::text(i.platform.clone().unwrap_or_default()),
                        Cell::text(i.assignment_summary.clone()),
                        if i.state == InventoryStatus::Deleted { Cell::view(deleted_badge(), "Historical") } else { Cell::view(status_badge("ready"), "Ready") },
                        Cell::view(html! { <>{ format::when(i.last_seen_ms) }</> }, format::time(i.last_seen_ms)).sort_by(sort_num(i.last_seen_ms)),
                    ],
                    data: vec![("item", i.id.clone()), ("family", i.family.clone())],
                }).collect();
                html! {
                    <>
                        { unknown }
                        <DataTable testid="inventory-table" noun="items" columns={columns.clone()} rows={Rc::new(rows)} chips={chips.clone()}
                            more={more.has_next()} export={AttrValue::from("inventory.csv")} initial_sort={Some((0, false))} />
                        { load::more_footer(&more) }
                    </>
                }
            }) }
        </>
    }
}

/// Families whose last sync could not read them completely: their items are as an earlier sync saw
/// them and nothing was ghosted, so the page says which, since when and why.
fn unknown_families(families: &[InventoryFamily]) -> Html {
    let unknown: Vec<&InventoryFamily> = families
        .iter()
        .filter(|f| f.state == FamilySyncStatus::Unknown)
        .collect();
    if unknown.is_empty() {
        return Html::default();
    }
    html! {
        <div class="alert" role="status" data-testid="inventory-unknown">
            <p class="alert__title">{ "Some families could not be read completely" }</p>
            <p>{ "Their items are shown as an earlier sync saw them; nothing in them was marked deleted." }</p>
            <ul>{ for unknown.iter().map(|f| html! {
                <li data-family={f.family.clone()}>
                    { status_badge("unknown") }{ " " }<strong>{ &f.label }</strong>
                    { format!(" since {}: ", format::time(f.at_ms)) }{ f.reason.clone().unwrap_or_default() }
                </li>
            }) }</ul>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ItemProps {
    pub ws: String,
    pub env: String,
    pub family: String,
    pub item: String,
}

#[component]
pub fn InventoryItemPage(props: &ItemProps) -> Html {
    let key = (
        props.ws.clone(),
        props.env.clone(),
        props.family.clone(),
        props.item.clone(),
    );
    let item = use_load(key.clone(), |(ws, env, family, item)| async move {
        api::get::<InventoryItem>(&paths::inventory_item(&ws, &env, &family, &item)).await
    });
    load::view(&item, "load the item", |i: &InventoryItem| {
        html! {
            <>
                <div class="page-head">
                    <h1>{ &i.name }</h1>
                    if i.state == InventoryStatus::Deleted { { deleted_badge() } } else { { status_badge("ready") } }
                </div>
                <p><Link to={Route::Inventory { ws: key.0.clone(), env: key.1.clone() }}>{ "Back to the inventory" }</Link></p>
                <dl class="facts">
                    { crate::components::markup::fact("Family", html! { <>{ families::label(&i.family) }<span class="muted">{ format!(" \u{b7} {}", i.family) }</span></> }) }
                    { crate::components::markup::fact("Platform", html! { <>{ i.platform.clone().unwrap_or_default() }</> }) }
                    <References ws={key.0.clone()} env={key.1.clone()} summary={i.assignment_summary.clone()}
                        assignments={i.payload.as_ref().and_then(|p| p.get("assignments")).and_then(|a| a.as_array()).cloned().unwrap_or_default()}
                        scope_tags={i.scope_tags.clone()} />
                    { crate::components::markup::fact("Last modified in Intune", html! { <>{ i.last_modified.clone().unwrap_or_default() }</> }) }
                    { crate::components::markup::fact("Last seen", html! { <>{ format::when(i.last_seen_ms) }</> }) }
                    if let Some(d) = i.deleted_ms {
                        { crate::components::markup::fact("Deleted", html! { <>{ format::when(d) }</> }) }
                    }
                </dl>
                <section class="panel" aria-labelledby="payload-title">
                    <h2 id="payload-title">{ "Payload" }</h2>
                    <p class="muted">{ "Secret-looking values are redacted." }</p>
                    { i.payload.clone().map(|p| html! { { json_view(&p, "Item payload") } }).unwrap_or_else(|| html! { { load::empty(html! { <>{ "No payload stored." }</> }) } }) }
                </section>
                <section class="panel" aria-labelledby="history-title">
                    <h2 id="history-title">{ "History" }</h2>
                    <ol aria-label="Item history">{ for i.history.iter().map(|e| html! {
                        <li>{ &e.event }<span class="muted">{ format!(" {}", format::time(e.at_ms)) }</span></li>
                    }) }</ol>
                </section>
            </>
        }
    })
}

/// What an item's ids name: its assignments' groups (live from the tenant), assignment filters
/// and scope tags (from the inventory). A name that cannot be found leaves the id showing.
#[derive(Clone, PartialEq, Default)]
struct Names {
    groups: std::collections::BTreeMap<String, String>,
    filters: std::collections::BTreeMap<String, String>,
    tags: std::collections::BTreeMap<String, String>,
}

impl Names {
    fn of<'a>(map: &'a std::collections::BTreeMap<String, String>, id: &'a str) -> &'a str {
        map.get(id).map_or(id, String::as_str)
    }
}

async fn family_names(ws: &str, env: &str, family: &str) -> std::collections::BTreeMap<String, String> {
    let path = with_query(&paths::inventory(ws, env), &[("family", family), ("limit", "500")]);
    api::get::<InventoryPage>(&path)
        .await
        .map(|p| p.items.into_iter().map(|i| (i.id, i.name)).collect())
        .unwrap_or_default()
}

/// An assignment's target in words: "Include SG-Intune-Pilot · filter Corporate (include)".
fn target_words(target: &serde_json::Value, n: &Names) -> String {
    let text = |k: &str| target.get(k).and_then(serde_json::Value::as_str).unwrap_or_default();
    let kind = text("@odata.type");
    let group = Names::of(&n.groups, text("groupId"));
    let mut words = if kind.ends_with("exclusionGroupAssignmentTarget") {
        format!("Exclude {group}")
    } else if kind.ends_with("groupAssignmentTarget") {
        format!("Include {group}")
    } else if kind.ends_with("allDevicesAssignmentTarget") {
        "All devices".to_owned()
    } else if kind.ends_with("allLicensedUsersAssignmentTarget") {
        "All users".to_owned()
    } else {
        crate::components::status_badge::words(kind.trim_start_matches("#microsoft.graph."))
    };
    let filter = text("deviceAndAppManagementAssignmentFilterId");
    if !filter.is_empty() && filter != "00000000-0000-0000-0000-000000000000" {
        let mode = match text("deviceAndAppManagementAssignmentFilterType") {
            "" | "none" => "include",
            m => m,
        };
        words.push_str(&format!(" \u{b7} filter {} ({mode})", Names::of(&n.filters, filter)));
    }
    words
}

#[derive(Properties, PartialEq)]
struct ReferencesProps {
    ws: String,
    env: String,
    summary: String,
    assignments: Vec<serde_json::Value>,
    scope_tags: Vec<String>,
}

/// The item's assignments and scope tags by name (issue 19 item 2).
#[component]
fn References(props: &ReferencesProps) -> Html {
    let groups: Vec<String> = props
        .assignments
        .iter()
        .filter_map(|a| a.pointer("/target/groupId").and_then(serde_json::Value::as_str))
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let names = use_load(
        (props.ws.clone(), props.env.clone(), groups),
        |(ws, env, groups)| async move {
            let mut n = Names {
                filters: family_names(&ws, &env, "assignmentFilters").await,
                tags: family_names(&ws, &env, "roleScopeTags").await,
                ..Names::default()
            };
            if !groups.is_empty() {
                let path = with_query(&paths::directory_groups(&ws, &env), &[("ids", &groups.join(","))]);
                if let Ok(l) = api::get::<atlas_api_types::DirectoryGroupList>(&path).await {
                    n.groups = l.items.into_iter().map(|g| (g.id, g.display_name)).collect();
                }
            }
            Ok::<_, api::ApiError>(n)
        },
    );
    let n = names.state.ready().cloned().unwrap_or_default();
    let tags: Vec<&str> = props
        .scope_tags
        .iter()
        .map(|t| match (t.as_str(), n.tags.get(t)) {
            (_, Some(name)) => name.as_str(),
            ("0", None) => "Default",
            (id, None) => id,
        })
        .collect();
    html! {
        <>
            { crate::components::markup::fact("Assignments", html! {
                if props.assignments.is_empty() {
                    { &props.summary }
                } else {
                    <ul class="plain" data-testid="assignments">{ for props.assignments.iter().map(|a| html! {
                        <li>{ target_words(a.get("target").unwrap_or(a), &n) }</li>
                    }) }</ul>
                }
            }) }
            { crate::components::markup::fact("Scope tags", html! { <span data-testid="scope-tags">{ tags.join(", ") }</span> }) }
        </>
    }
}
