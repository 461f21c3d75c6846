//! A run's progress: counts and percent while it runs, its outcome once done.

use atlas_api_types::{OperationRun, RunState};
use yew::prelude::*;

use crate::components::status_badge::{run_status, status_badge};

#[derive(Properties, PartialEq)]
pub struct RunProgressProps {
    pub run: OperationRun,
}

/// Percent of units finished (succeeded, failed or skipped).
pub fn percent(run: &OperationRun) -> u64 {
    let done = run.succeeded + run.failed + run.skipped;
    match (done * 100).checked_div(run.total) {
        Some(pct) => pct.min(100),
        // No units at all: done once completed.
        None if run.state == RunState::Completed => 100,
        None => 0,
    }
}

pub fn run_progress(props: &RunProgressProps) -> Html {
    let run = &props.run;
    let pct = percent(run);
    let done = run.succeeded + run.failed + run.skipped;
    html! {
        <div class="progress-block" data-testid="run-progress" data-state={run.state.as_str()}>
            <div class="progress-block__head">
                { status_badge(run_status(run).as_str()) }
                <span>{ format!("{done} of {} done \u{b7} {pct}%", run.total) }</span>
            </div>
            <div class="progress" role="progressbar" aria-label={format!("{} progress", run.label)}
                aria-valuemin="0" aria-valuemax="100" aria-valuenow={pct.to_string()}>
                // A class per 5 %: the content security policy allows no inline style.
                <div class={classes!("progress__bar", format!("progress__bar--{}", pct / 5 * 5))}></div>
            </div>
            <p class="muted">
                { format!("{} succeeded, {} failed, {} skipped", run.succeeded, run.failed, run.skipped) }
                if let Some(reason) = &run.reason { { " \u{b7} " }{ reason } }
            </p>
        </div>
    }
}
