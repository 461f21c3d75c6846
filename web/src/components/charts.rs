//! Inline SVG charts for the dashboard (no chart library): a line chart, stacked bars and a
//! gauge. Each chart carries its numbers as a table too (spec 020), for screen readers and for
//! anyone who wants the figures.

use yew::prelude::*;

/// One named series; `class` picks its colour from the stylesheet (`chart__s--<class>`).
#[derive(Clone, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
    pub values: Vec<i64>,
}

// Integer coordinates: no float formatting code in the bundle (see `format::duration`).
const W: i64 = 600;
const H: i64 = 180;

fn x(i: usize, n: usize) -> i64 {
    if n <= 1 { 0 } else { i as i64 * W / (n as i64 - 1) }
}

fn y(v: i64, max: i64) -> i64 {
    H - v.max(0) * H / max.max(1)
}

fn legend(series: &[Series]) -> Html {
    html! {
        <ul class="chart__legend">
            { for series.iter().map(|s| html! {
                <li><span class={classes!("chart__key", format!("chart__s--{}", s.class))}></span>{ s.name }</li>
            }) }
        </ul>
    }
}

/// The numbers behind a chart: one row per day, one column per series.
fn numbers(days: &[String], series: &[Series]) -> Html {
    html! {
        <details class="chart__numbers">
            <summary>{ "Numbers" }</summary>
            <table>
                <thead><tr><th scope="col">{ "Day" }</th>
                    { for series.iter().map(|s| html! { <th scope="col">{ s.name }</th> }) }</tr></thead>
                <tbody>
                    { for days.iter().enumerate().rev().map(|(i, d)| html! {
                        <tr><td>{ d }</td>{ for series.iter().map(|s| html! { <td>{ s.values.get(i).copied().unwrap_or(0) }</td> }) }</tr>
                    }) }
                </tbody>
            </table>
        </details>
    }
}

fn frame(title: &str, testid: &str, days: &[String], max: i64, body: Html, series: &[Series]) -> Html {
    let first = days.first().cloned().unwrap_or_default();
    let last = days.last().cloned().unwrap_or_default();
    html! {
        <figure class="chart" data-testid={testid.to_owned()}>
            <figcaption>{ title }</figcaption>
            <svg viewBox={format!("0 -8 {W} {}", H + 16)} preserveAspectRatio="none" class="chart__svg" role="img"
                aria-label={format!("{title}, {first} to {last}, highest {max}")}>
                <line x1="0" y1={H.to_string()} x2={W.to_string()} y2={H.to_string()} class="chart__axis" />
                { body }
            </svg>
            <div class="chart__scale muted"><span>{ first }</span><span>{ format!("max {max}") }</span><span>{ last }</span></div>
            { legend(series) }
            { numbers(days, series) }
        </figure>
    }
}

/// Lines over the days.
pub fn line_chart(title: &str, testid: &str, days: &[String], series: &[Series]) -> Html {
    let max = series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0);
    let n = days.len();
    let body = html! {
        { for series.iter().map(|s| {
            let points = s.values.iter().enumerate()
                .map(|(i, v)| format!("{},{}", x(i, n), y(*v, max)))
                .collect::<Vec<_>>().join(" ");
            html! { <polyline points={points} class={classes!("chart__line", format!("chart__s--{}", s.class))} /> }
        }) }
    };
    frame(title, testid, days, max, body, series)
}

/// Bars per day, the series stacked.
pub fn bar_chart(title: &str, testid: &str, days: &[String], series: &[Series]) -> Html {
    let n = days.len().max(1);
    let totals: Vec<i64> = (0..n)
        .map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let step = W / n as i64;
    let mut bars = Vec::new();
    for i in 0..n {
        let mut base = 0;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v > 0 {
                let (top, bottom) = (y(base + v, max), y(base, max));
                bars.push(html! {
                    <rect x={(i as i64 * step + step / 10).to_string()} y={top.to_string()}
                        width={(step * 8 / 10).max(1).to_string()} height={(bottom - top).to_string()}
                        class={format!("chart__bar chart__s--{}", s.class)} />
                });
            }
            base += v;
        }
    }
    frame(title, testid, days, max, html! { { for bars } }, series)
}

/// A half-circle gauge of a whole percentage; "—" when there is none yet.
pub fn gauge(label: &str, percent: Option<i64>) -> Html {
    // The arc from (10,50) over the top to (90,50): radius 40, length π·40 ≈ 125.7 (in tenths).
    let len = 1257;
    let filled = percent.map_or(0, |p| p.clamp(0, 100) * len / 100);
    let text = percent.map_or("\u{2014}".to_owned(), |p| format!("{p} %"));
    let class = match percent {
        Some(p) if p >= 95 => "chart__gauge--ok",
        Some(p) if p >= 80 => "chart__gauge--warn",
        Some(_) => "chart__gauge--bad",
        None => "",
    };
    html! {
        <svg viewBox="0 0 100 58" class={classes!("chart__gauge", class)} role="img" aria-label={format!("{label}: {text}")}>
            <path d="M10 50 A40 40 0 0 1 90 50" class="chart__gauge-track" />
            <path d="M10 50 A40 40 0 0 1 90 50" class="chart__gauge-fill"
                stroke-dasharray={format!("{}.{} {}.{}", filled / 10, filled % 10, len / 10, len % 10)} />
            <text x="50" y="48" text-anchor="middle" class="chart__gauge-text">{ text }</text>
        </svg>
    }
}
