//! The dashboard (spec 020): needs-attention first, each environment's numbers with its baseline
//! alignment gauge, and the 30/90-day trends as inline SVG with their numbers. One request.

use atlas_api_types::{Dashboard, EnvironmentDashboard, SeverityCounts};
use atlas_domain::Status;
use yew::prelude::*;

use crate::api::{self, paths, with_query};
use crate::app::Route;
use crate::components::charts::{Series, bar_chart, gauge, line_chart};
use crate::components::load;
use crate::components::status_badge::{canonical, status_badge};
use crate::format;
use crate::hooks::use_load;
use crate::router::{Link, use_navigator};

#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    pub ws: String,
    /// One environment's dashboard; the workspace's when none.
    #[prop_or_default]
    pub env: Option<String>,
}

/// How long ago, the exact time on hover; "never" without a time.
fn age(ms: Option<i64>) -> Html {
    match ms {
        Some(at) => format::when(at),
        None => html! { { "never" } },
    }
}

/// The tile's status: an active environment whose last backup did not fully succeed says so
/// (issue 19 item 5), in the word the backup's run and set show.
fn tile_status(t: &EnvironmentDashboard) -> Status {
    match t.last_backup_outcome.as_deref().map(canonical) {
        Some(backup) if t.status == Status::Ready && backup != Status::Ready => backup,
        _ => t.status,
    }
}

fn alignment(t: &EnvironmentDashboard) -> Option<i64> {
    (t.baseline_objects > 0).then(|| t.baseline_aligned * 100 / t.baseline_objects)
}

fn severity_line(label: &str, c: &SeverityCounts) -> Html {
    html! {
        <p class="dash__sev">
            <span class="muted">{ label }</span>
            { for [("critical", c.critical), ("high", c.high), ("medium", c.medium), ("low", c.low)].into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| html! { <span class={format!("sev sev--{s}")}>{ format!("{n} {s}") }</span> }) }
            if c.total() == 0 { <span>{ "none" }</span> }
        </p>
    }
}

#[component]
pub fn DashboardView(props: &DashboardProps) -> Html {
    let days = use_state(|| 30u32);
    let data = use_load(
        (props.ws.clone(), props.env.clone(), *days),
        |(ws, env, days)| async move {
            let days = days.to_string();
            let mut q = vec![("days", days.as_str())];
            if let Some(e) = env.as_deref() {
                q.push(("environment_id", e));
            }
            api::get::<Dashboard>(&with_query(&paths::dashboard(&ws), &q)).await
        },
    );
    let navigator = use_navigator();
    let ws = props.ws.clone();
    let period = |n: u32| {
        let days = days.clone();
        let current = *days == n;
        html! {
            <button type="button" class={classes!("button", "button--quiet", current.then_some("is-current"))}
                aria-pressed={current.to_string()} onclick={Callback::from(move |_| days.set(n))}>
                { format!("{n} days") }</button>
        }
    };
    load::view(&data, "load the dashboard", |d: &Dashboard| {
        let day_labels: Vec<String> = d.trend.iter().map(|p| p.day[5..].to_owned()).collect();
        let col = |f: fn(&atlas_api_types::TrendPoint) -> i64| d.trend.iter().map(f).collect::<Vec<i64>>();
        let open = [
            Series {
                name: "Critical",
                class: "critical",
                values: col(|p| p.open.critical),
            },
            Series {
                name: "High",
                class: "high",
                values: col(|p| p.open.high),
            },
            Series {
                name: "Medium",
                class: "medium",
                values: col(|p| p.open.medium),
            },
            Series {
                name: "Low",
                class: "low",
                values: col(|p| p.open.low),
            },
        ];
        let drift = [
            Series {
                name: "Open drift",
                class: "drift",
                values: col(|p| p.drift_open),
            },
            Series {
                name: "New drift",
                class: "new",
                values: col(|p| p.drift_new),
            },
        ];
        let backups = [
            Series {
                name: "Succeeded",
                class: "ok",
                values: col(|p| p.backups_succeeded),
            },
            Series {
                name: "Partial",
                class: "warn",
                values: col(|p| p.backups_partial),
            },
            Series {
                name: "Failed",
                class: "bad",
                values: col(|p| p.backups_failed),
            },
        ];
        let sla = [Series {
            name: "SLA breaches",
            class: "bad",
            values: col(|p| p.sla_breaches),
        }];
        let (ok, all) = d.trend.iter().fold((0, 0), |(ok, all), p| {
            (
                ok + p.backups_succeeded,
                all + p.backups_succeeded + p.backups_partial + p.backups_failed,
            )
        });
        let rate = if all > 0 {
            format!("{} % of {all} backups succeeded", ok * 100 / all)
        } else {
            "No backups in the period".into()
        };
        html! {
            <div class="dash" data-testid="dashboard">
                <section class="panel" aria-labelledby="attention-title" data-testid="needs-attention">
                    <h2 id="attention-title">{ "Needs attention" }</h2>
                    if d.attention.is_empty() {
                        <p class="muted">{ "Nothing needs attention: no overdue findings, failed runs, missing permissions or stale backups." }</p>
                    } else {
                        <ol class="attention">
                            { for d.attention.iter().map(|a| {
                                let nav = navigator.clone();
                                let link = a.link.clone();
                                let onclick = Callback::from(move |e: MouseEvent| {
                                    if e.button() == 0 && !(e.meta_key() || e.ctrl_key() || e.shift_key()) {
                                        e.prevent_default();
                                        nav.push_url(&link);
                                    }
                                });
                                let level = if a.weight >= 90 { "bad" } else if a.weight >= 50 { "warn" } else { "info" };
                                html! {
                                    <li class={format!("attention__item attention__item--{level}")} data-kind={a.kind.clone()}>
                                        <a href={a.link.clone()} {onclick}>{ &a.title }</a>
                                    </li>
                                }
                            }) }
                        </ol>
                    }
                </section>
                <section class="panel" aria-labelledby="health-title">
                    <h2 id="health-title">{ if d.environment_id.is_some() { "This environment" } else { "Environments" } }</h2>
                    <ul class="cards">
                        { for d.environments.iter().inspect(|t| crate::session::remember_environment_name(&ws, &t.environment_id, &t.display_name)).map(|t| html! {
                            <li class="card dash__env" data-testid={format!("dash-{}", t.environment_id)}>
                                <div class="card__head">
                                    <h3 class="card__title">
                                        <Link to={Route::Environment { ws: ws.clone(), env: t.environment_id.clone() }}>{ &t.display_name }</Link>
                                    </h3>
                                    <span data-testid="tile-status">{ status_badge(tile_status(t).as_str()) }</span>
                                </div>
                                <div class="dash__gauge">
                                    { gauge("Baseline alignment", alignment(t)) }
                                    <p class="muted">{ if t.baseline_objects > 0 {
                                        format!("{} of {} baseline objects aligned", t.baseline_aligned, t.baseline_objects)
                                    } else { "No drift check yet".to_owned() } }</p>
                                </div>
                                { severity_line("Open findings:", &t.open) }
                                if t.overdue.total() > 0 { { severity_line("Overdue:", &t.overdue) } }
                                <p data-testid="last-backup"><span class="muted">{ "Last backup: " }</span>
                                    { age(t.last_backup_ms) }
                                    if let Some(o) = &t.last_backup_outcome { { " " }{ status_badge(o) } }</p>
                                <p><span class="muted">{ "Permissions: " }</span>{ match t.permissions_missing {
                                    Some(0) => "all granted".to_owned(),
                                    Some(n) => format!("{n} missing"),
                                    None => "never verified".to_owned(),
                                } }</p>
                            </li>
                        }) }
                    </ul>
                </section>
                <section class="panel" aria-labelledby="trends-title">
                    <div class="panel__header">
                        <h2 id="trends-title">{ "Trends" }</h2>
                        <div class="button-row" role="group" aria-label="Period">{ period(30) }{ period(90) }</div>
                    </div>
                    <div class="grid">
                        { line_chart("Open findings by severity", "chart-open", &day_labels, &open) }
                        { line_chart("Drift", "chart-drift", &day_labels, &drift) }
                        { bar_chart(&format!("Backups \u{b7} {rate}"), "chart-backups", &day_labels, &backups) }
                        { bar_chart("SLA breaches", "chart-sla", &day_labels, &sla) }
                    </div>
                </section>
            </div>
        }
    })
}
