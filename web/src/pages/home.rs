//! The landing page: the product name and the service's health from `GET /api/health`.

use std::rc::Rc;

use atlas_api_types::Health;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError};
use crate::components::status_badge::{Status, StatusBadge};

#[derive(Debug, Clone, PartialEq)]
enum HealthState {
    Loading,
    Loaded(Health),
    Failed(ApiError),
}

enum Action {
    Load,
    Loaded(Health),
    Failed(ApiError),
}

impl Reducible for HealthState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new(match action {
            Action::Load => Self::Loading,
            Action::Loaded(health) => Self::Loaded(health),
            Action::Failed(error) => Self::Failed(error),
        })
    }
}

#[component]
pub fn HomePage() -> Html {
    let state = use_reducer_eq(|| HealthState::Loading);

    let load = {
        let dispatcher = state.dispatcher();
        use_callback((), move |(), ()| {
            let dispatcher = dispatcher.clone();
            dispatcher.dispatch(Action::Load);
            spawn_local(async move {
                dispatcher.dispatch(match api::get::<Health>("/api/health").await {
                    Ok(health) => Action::Loaded(health),
                    Err(error) => Action::Failed(error),
                });
            });
        })
    };
    {
        let load = load.clone();
        use_effect_with((), move |()| load.emit(()));
    }

    let loading = matches!(*state, HealthState::Loading);
    // Until an answer arrives there is no status to show; a failed check is unknown, not down.
    let badge = match &*state {
        HealthState::Loading => html! {},
        HealthState::Loaded(health) => {
            html! { <StatusBadge status={Status::parse(&health.status)} /> }
        }
        HealthState::Failed(_) => html! { <StatusBadge status={Status::Unknown} /> },
    };
    let body = match &*state {
        HealthState::Loading => html! {
            <p class="muted" role="status">{ "Checking the service\u{2026}" }</p>
        },
        HealthState::Loaded(health) => html! {
            <dl class="facts">
                <div class="fact">
                    <dt>{ "Version" }</dt>
                    <dd><code>{ &health.version }</code></dd>
                </div>
                <div class="fact">
                    <dt>{ "Storage" }</dt>
                    <dd>{ &health.storage }</dd>
                </div>
                <div class="fact">
                    <dt>{ "Queue" }</dt>
                    <dd>{ &health.queue }</dd>
                </div>
            </dl>
        },
        HealthState::Failed(error) => {
            let request_id = match error {
                ApiError::Problem(problem) => problem.request_id.clone(),
                _ => None,
            };
            html! {
                <div class="alert" role="alert">
                    <p class="alert__title">{ "Could not load the service status" }</p>
                    <p>{ error.to_string() }</p>
                    if let Some(id) = request_id {
                        <p class="muted">{ "Request id: " }<code>{ id }</code></p>
                    }
                    <button type="button" class="button" onclick={load.reform(|_: MouseEvent| ())}>
                        { "Try again" }
                    </button>
                </div>
            }
        }
    };

    html! {
        <>
            <div class="intro">
                <h1>{ "TenantAtlas" }</h1>
                <p class="muted">{ "Governance for your Microsoft Intune tenants." }</p>
            </div>
            <section class="panel" aria-labelledby="health-title" aria-busy={loading.to_string()}>
                <div class="panel__header">
                    <h2 id="health-title">{ "Service health" }</h2>
                    { badge }
                </div>
                { body }
            </section>
        </>
    }
}
