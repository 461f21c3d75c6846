//! Compare two sides of the workspace (an environment's current inventory, one of its backup
//! sets, or a baseline snapshot): counts per family and result, the objects filtered by result,
//! family and name, each with its property differences side by side, and the exports (spec 022).

use std::collections::BTreeSet;
use std::rc::Rc;

use atlas_api_types::{
    BackupSetList, Baseline, BaselineList, CompareCounts, CompareDifference, CompareObject, Comparison,
};
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::csv::CsvButton;
use crate::components::envs::{EnvNames, env_name, env_options, use_env_names};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::items::set_options;
use crate::components::load;
use crate::components::markup::th;
use crate::families;
use crate::format;
use crate::hooks::use_load;
use crate::pages::workspace::WsProps;
use crate::router::{Link, href, use_location, use_navigator};

/// A side's reference split into its kind and its two parameters:
/// `environment:{env}`, `backup:{env}:{set}`, `baseline:{id}[:{n}]`.
fn split_side(reference: &str) -> (String, String, String) {
    let mut parts = reference.splitn(3, ':');
    let kind = parts.next().unwrap_or_default().to_owned();
    let first = parts.next().unwrap_or_default().to_owned();
    let second = parts.next().unwrap_or_default().to_owned();
    (kind, first, second)
}

/// The reference of a side's parts; empty while it is incomplete.
fn join_side(kind: &str, first: &str, second: &str) -> String {
    match kind {
        _ if first.is_empty() => String::new(),
        "environment" => format!("environment:{first}"),
        "backup" if !second.is_empty() => format!("backup:{first}:{second}"),
        "baseline" if second.is_empty() => format!("baseline:{first}"),
        "baseline" => format!("baseline:{first}:{second}"),
        _ => String::new(),
    }
}

#[component]
pub fn ComparePage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let location = use_location();
    let navigator = use_navigator();
    let (qa, qb) = (location.value("a"), location.value("b"));
    let envs = use_env_names(&ws);
    let baselines = use_load(ws.clone(), |ws| async move {
        api::get::<BaselineList>(&paths::baselines(&ws)).await
    });
    let baselines: Rc<Vec<Baseline>> = Rc::new(baselines.state.ready().map(|l| l.items.clone()).unwrap_or_default());
    let a = use_state(|| qa.clone());
    let b = use_state(|| qb.clone());
    let comparison = use_load((ws.clone(), qa.clone(), qb.clone()), |(ws, a, b)| async move {
        if a.is_empty() || b.is_empty() {
            return Ok(None);
        }
        api::get::<Comparison>(&with_query(&paths::compare(&ws), &[("a", &a), ("b", &b)]))
            .await
            .map(Some)
    });
    let onsubmit = {
        let (a, b, ws) = (a.clone(), b.clone(), ws.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            navigator.push_url(&href(
                &Route::Compare { ws: ws.clone() },
                &[("a", (*a).clone()), ("b", (*b).clone())],
            ));
        })
    };
    let side = |id: &'static str, label: &'static str, value: &UseStateHandle<String>| {
        let v = value.clone();
        html! {
            <SidePicker {id} {label} ws={ws.clone()} envs={envs.clone()} baselines={baselines.clone()}
                value={(**value).clone()} onchange={Callback::from(move |s| v.set(s))} />
        }
    };
    html! {
        <>
            <div class="page-head">
                <h1>{ "Compare" }</h1>
                <Link to={Route::Mappings { ws: ws.clone() }}>{ "Mapping table" }</Link>
            </div>
            <p class="muted">{ "Compare two environments, backup sets or baseline snapshots from stored data: objects are matched by mapping, id, name, then similarity; references are translated through the mapping table." }</p>
            <form class="panel form compare-sides" {onsubmit} data-testid="compare-form">
                <div class="compare-sides__row">
                    { side("side-a", "Side A", &a) }
                    { side("side-b", "Side B", &b) }
                </div>
                <div class="actions">
                    <button type="submit" class="button" disabled={a.is_empty() || b.is_empty()} data-testid="compare-run">{ "Compare" }</button>
                </div>
            </form>
            { load::view(&comparison, "compare", |c: &Option<Comparison>| match c {
                None => load::empty(html! { <>{ "Choose both sides, then compare." }</> }),
                Some(c) => html! {
                    <ComparisonView ws={ws.clone()} comparison={Rc::new(c.clone())}
                        path={with_query(&paths::compare(&ws), &[("a", &qa), ("b", &qb)])} sides={(qa.clone(), qb.clone())} />
                },
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct SideProps {
    id: &'static str,
    label: &'static str,
    ws: String,
    envs: EnvNames,
    baselines: Rc<Vec<Baseline>>,
    /// The side's reference; empty while incomplete.
    value: String,
    onchange: Callback<String>,
}

/// One side: what kind, then the environment and its backup set, or the baseline and its
/// snapshot, each chosen by name.
#[component]
fn SidePicker(props: &SideProps) -> Html {
    // The parts as chosen, kept while incomplete (the reference is empty until then).
    let parts = use_state(|| {
        let (kind, first, second) = split_side(&props.value);
        (
            if kind.is_empty() {
                "environment".to_owned()
            } else {
                kind
            },
            first,
            second,
        )
    });
    let (kind, first, second) = (*parts).clone();
    let sets = use_load(
        (props.ws.clone(), kind.clone(), first.clone()),
        |(ws, kind, env)| async move {
            if kind != "backup" || env.is_empty() {
                return Ok(None);
            }
            api::get::<BackupSetList>(&paths::backups(&ws, &env)).await.map(Some)
        },
    );
    let set_parts = |which: u8| {
        let (parts, onchange) = (parts.clone(), props.onchange.clone());
        Callback::from(move |v: String| {
            let (k, f, s) = match which {
                0 => (v, String::new(), String::new()),
                1 => (parts.0.clone(), v, String::new()),
                _ => (parts.0.clone(), parts.1.clone(), v),
            };
            onchange.emit(join_side(&k, &f, &s));
            parts.set((k, f, s));
        })
    };
    let kinds = vec![
        ("environment".to_owned(), "Current inventory".to_owned()),
        ("backup".to_owned(), "Backup set".to_owned()),
        ("baseline".to_owned(), "Baseline snapshot".to_owned()),
    ];
    let id = |suffix: &str| format!("{}-{suffix}", props.id);
    let second_select = match kind.as_str() {
        "backup" => {
            let sets = sets.state.ready().and_then(Option::as_ref);
            Some(("Backup set", set_options(sets, "Choose a backup set")))
        }
        "baseline" => {
            let latest = props
                .baselines
                .iter()
                .find(|b| b.id == first)
                .and_then(|b| b.latest_snapshot)
                .unwrap_or(0);
            let mut options = vec![(String::new(), format!("Latest (#{latest})"))];
            options.extend((1..=latest).rev().map(|n| (n.to_string(), format!("#{n}"))));
            (!first.is_empty()).then_some(("Snapshot", options))
        }
        _ => None,
    };
    let first_select = if kind == "baseline" {
        let mut options = vec![(String::new(), "Choose a baseline".to_owned())];
        options.extend(props.baselines.iter().map(|b| {
            (
                b.id.clone(),
                format!("{} (from {})", b.name, env_name(&props.envs, &b.source_environment_id)),
            )
        }));
        ("Baseline", options)
    } else {
        ("Environment", env_options(&props.envs, "Choose an environment"))
    };
    html! {
        <fieldset class="field compare-side" data-testid={props.id}>
            <legend>{ props.label }</legend>
            { select_field(&yew::props!(SelectFieldProps { id: id("kind"), label: "What", value: kind.clone(), options: kinds, onchange: set_parts(0) })) }
            { select_field(&yew::props!(SelectFieldProps { id: id("from"), label: first_select.0, value: first.clone(), options: first_select.1, onchange: set_parts(1) })) }
            if let Some((label, options)) = second_select {
                { select_field(&yew::props!(SelectFieldProps { id: id("at"), label: label, value: second.clone(), options: options, onchange: set_parts(2) })) }
            }
        </fieldset>
    }
}

#[derive(Properties, PartialEq)]
struct ComparisonProps {
    ws: String,
    comparison: Rc<Comparison>,
    /// The comparison's API path, for the JSON export.
    path: String,
    /// The comparison's query (`a`, `b`), for the CSV export.
    sides: (String, String),
}

const RESULTS: [(&str, &str); 4] = [
    ("only_a", "Only in A"),
    ("only_b", "Only in B"),
    ("different", "Different"),
    ("same", "Same"),
];

fn count(c: &CompareCounts, result: &str) -> u64 {
    match result {
        "only_a" => c.only_a,
        "only_b" => c.only_b,
        "different" => c.different,
        _ => c.same,
    }
}

/// How many rows a page shows before "Show more".
const PAGE: usize = 200;

#[component]
fn ComparisonView(props: &ComparisonProps) -> Html {
    let c = &props.comparison;
    let result = use_state(String::new);
    let family = use_state(String::new);
    let search = use_state(String::new);
    let shown = use_state(|| PAGE);
    let needle = search.trim().to_lowercase();
    let matches = |o: &&CompareObject| {
        (result.is_empty() || o.result == *result)
            && (family.is_empty() || o.family == *family)
            && (needle.is_empty()
                || [&o.a_name, &o.b_name, &o.a_id, &o.b_id]
                    .iter()
                    .any(|n| n.as_deref().is_some_and(|n| n.to_lowercase().contains(&needle))))
    };
    let filtered: Vec<CompareObject> = c.objects.iter().filter(matches).cloned().collect();
    let total = filtered.len();
    let page: Rc<Vec<CompareObject>> = Rc::new(filtered.into_iter().take(*shown).collect());
    let chip = |code: &'static str, label: &'static str, n: u64| {
        let on = *result == code;
        let result = result.clone();
        let onclick = Callback::from(move |_: MouseEvent| result.set(if on { String::new() } else { code.to_owned() }));
        html! {
            <button type="button" class={classes!("chip", "chip--filter", format!("chip--{code}"), on.then_some("chip--on"))}
                aria-pressed={on.to_string()} data-result={code} {onclick}>{ format!("{label} {n}") }</button>
        }
    };
    let mut family_options = vec![(String::new(), "Every family".to_owned())];
    family_options.extend(c.families.iter().map(|f| (f.family.clone(), f.label.clone())));
    let (a, b) = &props.sides;
    let csv = with_query(
        &paths::compare_export(&props.ws),
        &[("a", a), ("b", b), ("family", &family)],
    );
    html! {
        <section class="panel" aria-labelledby="comparison-title" data-testid="comparison">
            <div class="panel__header">
                <h2 id="comparison-title">{ "Result" }</h2>
                <span class="actions">
                    <CsvButton path={props.path.clone()} filename="comparison.json" mime="application/json" label="Export JSON" />
                    <CsvButton path={csv} filename="comparison.csv" label="Export CSV" />
                </span>
            </div>
            <dl class="facts">
                <div class="fact"><dt>{ "A" }</dt><dd>{ format!("{} \u{b7} {} objects", c.a.label, c.a.objects) }</dd></div>
                <div class="fact"><dt>{ "B" }</dt><dd>{ format!("{} \u{b7} {} objects", c.b.label, c.b.objects) }</dd></div>
                <div class="fact"><dt>{ "Mappings applied" }</dt><dd>
                    { c.mappings_applied }{ " \u{b7} " }
                    <Link to={Route::Mappings { ws: props.ws.clone() }} query={Some(crate::router::pairs(&[("source", &c.a.environment_id), ("target", &c.b.environment_id)]))}>{ "Edit the mapping table" }</Link>
                </dd></div>
                <div class="fact"><dt>{ "Compared" }</dt><dd>{ format::when(c.compared_ms) }</dd></div>
            </dl>
            <p class="badges" data-testid="compare-counts" role="group" aria-label="Filter by result">
                <button type="button" class={classes!("chip", "chip--filter", result.is_empty().then_some("chip--on"))}
                    aria-pressed={result.is_empty().to_string()} onclick={{ let r = result.clone(); Callback::from(move |_: MouseEvent| r.set(String::new())) }}>
                    { format!("All {}", c.objects.len()) }</button>
                { for RESULTS.iter().map(|(code, label)| chip(code, label, count(&c.counts, code))) }
            </p>
            <div class="table-wrap"><table class="table" data-testid="compare-families">
                <thead><tr>{ th("Family") }{ for RESULTS.iter().map(|(_, l)| th(l)) }</tr></thead>
                <tbody>{ for c.families.iter().map(|f| html! {
                    <tr data-family={f.family.clone()}>
                        <td>{ &f.label }</td>
                        { for RESULTS.iter().map(|(code, _)| html! { <td class="num">{ count(&f.counts, code) }</td> }) }
                    </tr>
                }) }</tbody>
            </table></div>
            <div class="toolbar">
                { select_field(&yew::props!(SelectFieldProps { id: "compare-family", label: "Family", value: (*family).clone(), options: family_options, onchange: { let f = family.clone(); Callback::from(move |v| f.set(v)) } })) }
                { text_field(&yew::props!(TextFieldProps { id: "compare-search", label: "Name", value: (*search).clone(), onchange: { let s = search.clone(); Callback::from(move |v| s.set(v)) }, kind: "search" })) }
            </div>
            <ObjectTable objects={page} a_label={c.a.environment_name.clone()} b_label={c.b.environment_name.clone()} />
            <p class="muted">{ format!("{} of {total} objects shown", total.min(*shown)) }</p>
            if total > *shown {
                <button type="button" class="button button--quiet" onclick={{ let s = shown.clone(); Callback::from(move |_: MouseEvent| s.set(*s + PAGE)) }}>{ "Show more" }</button>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct ObjectTableProps {
    pub objects: Rc<Vec<CompareObject>>,
    /// What A and B are, for the column headers (environment names).
    pub a_label: String,
    pub b_label: String,
}

fn object_key(o: &CompareObject) -> String {
    format!(
        "{}/{}/{}",
        o.family,
        o.a_id.as_deref().unwrap_or_default(),
        o.b_id.as_deref().unwrap_or_default()
    )
}

/// Compared objects, each row expanding to its property differences side by side: the compare
/// page and a promotion's verification.
#[component]
pub fn ObjectTable(props: &ObjectTableProps) -> Html {
    let open = use_state(BTreeSet::<String>::new);
    if props.objects.is_empty() {
        return load::empty(html! { <>{ "No object matches." }</> });
    }
    let name = |n: &Option<String>, id: &Option<String>| match (n, id) {
        (None, None) => html! { <span class="muted">{ "\u{2014}" }</span> },
        (n, id) => html! { <>{ n.clone().or(id.clone()).unwrap_or_default() }</> },
    };
    html! {
        <div class="table-wrap"><table class="table" data-testid="compare-objects">
            <thead><tr>{ th("Family") }<th scope="col">{ format!("A: {}", props.a_label) }</th><th scope="col">{ format!("B: {}", props.b_label) }</th>{ th("Result") }{ th("Matched by") }{ th("Differences") }</tr></thead>
            <tbody>{ for props.objects.iter().map(|o| {
                let key = object_key(o);
                let expanded = open.contains(&key);
                let toggle = {
                    let (open, key) = (open.clone(), key.clone());
                    Callback::from(move |_: MouseEvent| {
                        let mut next = (*open).clone();
                        if !next.remove(&key) {
                            next.insert(key.clone());
                        }
                        open.set(next);
                    })
                };
                let diff_id = format!("diff-{}", key.replace('/', "-"));
                html! {
                    <>
                        <tr data-result={o.result.clone()}>
                            <td>{ families::label(&o.family) }</td>
                            <td>{ name(&o.a_name, &o.a_id) }</td>
                            <td>{ name(&o.b_name, &o.b_id) }</td>
                            <td><span class={classes!("chip", format!("chip--{}", o.result))}>{ result_label(&o.result) }</span></td>
                            <td>{ matched(o) }</td>
                            <td>
                                if o.differences.is_empty() {
                                    <span class="muted">{ "\u{2014}" }</span>
                                } else {
                                    <button type="button" class="button button--quiet" onclick={toggle}
                                        aria-expanded={expanded.to_string()} aria-controls={diff_id.clone()}>
                                        { format!("{} {} {}", if expanded { "Hide" } else { "Show" }, o.differences.len(),
                                            if o.differences.len() == 1 { "property" } else { "properties" }) }</button>
                                }
                            </td>
                        </tr>
                        if expanded {
                            <tr class="compare-diff" id={diff_id}>
                                <td colspan="6">{ diff_table(&o.differences) }</td>
                            </tr>
                        }
                    </>
                }
            }) }</tbody>
        </table></div>
    }
}

fn result_label(result: &str) -> &str {
    RESULTS.iter().find(|(c, _)| *c == result).map_or(result, |(_, l)| l)
}

/// How the object was matched; a similarity match shows its score and asks for a review.
fn matched(o: &CompareObject) -> Html {
    match (o.matched_by.as_deref(), o.score) {
        (None, _) => html! { <span class="muted">{ "unmatched" }</span> },
        (Some("similarity"), Some(score)) => html! {
            <>
                { format!("similarity {}%", (score * 100.0).round() as i64) }{ " " }
                <span class="chip chip--review" title="Matched by similarity: check it is the same object">{ "review" }</span>
            </>
        },
        (Some(by), _) => html! { <>{ by }</> },
    }
}

/// Path | A | B, one row per differing property (secrets arrive masked).
pub fn diff_table(diffs: &[CompareDifference]) -> Html {
    let value = |v: &Option<serde_json::Value>| match v {
        None => html! { <span class="muted">{ "absent" }</span> },
        Some(v) => html! { <code class="diff-value">{ v.to_string() }</code> },
    };
    html! {
        <table class="table table--diff" data-testid="property-diff">
            <thead><tr>{ th("Property") }{ th("A") }{ th("B") }</tr></thead>
            <tbody>{ for diffs.iter().map(|d| html! {
                <tr><td><code>{ &d.path }</code></td><td>{ value(&d.a) }</td><td>{ value(&d.b) }</td></tr>
            }) }</tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::{join_side, split_side};

    #[test]
    fn a_side_comes_back_from_its_parts() {
        for side in [
            "environment:env-contoso",
            "backup:env-contoso:01m95f0jwz2dmvbx99j4t3hcgq",
            "baseline:b-1",
            "baseline:b-1:3",
        ] {
            let (kind, first, second) = split_side(side);
            assert_eq!(join_side(&kind, &first, &second), side);
        }
    }

    #[test]
    fn an_incomplete_side_is_empty() {
        assert_eq!(join_side("environment", "", ""), "");
        assert_eq!(join_side("backup", "env-contoso", ""), "");
        assert_eq!(join_side("baseline", "", "2"), "");
        assert_eq!(join_side("nonsense", "x", "y"), "");
    }
}
