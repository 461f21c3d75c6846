//! A run that was just started, followed until it completes: counts and percent as they move.

use atlas_api_types::{OperationRun, OperationView, RunState};
use yew::prelude::*;

use crate::api::{self, paths};
use crate::app::Route;
use crate::components::error::ErrorView;
use crate::components::progress::{RunProgressProps, run_progress};
use crate::hooks::{Load, use_interval, use_load};
use crate::router::Link;

#[derive(Properties, PartialEq)]
pub struct LiveRunProps {
    pub ws: String,
    pub run: OperationRun,
    /// Called once, when the run completes.
    #[prop_or_default]
    pub on_done: Option<Callback<OperationRun>>,
}

#[component]
pub fn LiveRun(props: &LiveRunProps) -> Html {
    let view = use_load((props.ws.clone(), props.run.id.clone()), |(ws, run)| async move {
        api::get::<OperationView>(&paths::operation(&ws, &run)).await
    });
    let run = view.state.ready().map_or_else(|| props.run.clone(), |v| v.run.clone());
    let done = run.state == RunState::Completed;
    use_interval(800, !done, view.reload.clone());
    {
        let on_done = props.on_done.clone();
        let finished = done.then(|| run.clone());
        use_effect_with(done, move |done| {
            if *done && let (Some(cb), Some(run)) = (on_done, finished) {
                cb.emit(run);
            }
        });
    }
    html! {
        <div class="live-run" aria-live="polite" data-testid="live-run" data-run={run.id.clone()}>
            <p>
                <strong>{ &run.label }</strong>{ " \u{b7} " }
                <Link to={Route::Run { ws: props.ws.clone(), run: run.id.clone() }}>{ "Open the run" }</Link>
            </p>
            { run_progress(&yew::props!(RunProgressProps { run: run.clone() })) }
            if let Load::Failed(e) = &view.state {
                <ErrorView error={e.clone()} action="follow the run" />
            }
        </div>
    }
}
