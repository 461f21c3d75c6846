//! The Lambda edges. Each binary in `atlas-lambdas` is one call to one of these with its own
//! name; everything they do is here, where tests can call it.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

use crate::config::Config;
use crate::state::AppState;
use crate::{registry, router, scheduler, steps, telemetry};

pub type Error = lambda_runtime::Error;

fn require_lambda() -> Result<(), Error> {
    // lambda_http::run panics outside Lambda; say what to do instead.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err("this binary runs under AWS Lambda; locally run `cargo xtask up`, which serves every route".into());
    }
    Ok(())
}

async fn start() -> Result<AppState, Error> {
    telemetry::init();
    let config = Config::from_env()?;
    // Under Lambda the issuer is external; the URL only names a local issuer, which is not used.
    Ok(AppState::connect(&config, "http://localhost").await?.state)
}

/// One HTTP route behind API Gateway: an axum router holding only that route.
pub async fn http_function(function: &str) -> Result<(), Error> {
    require_lambda()?;
    let route = registry::find(function).ok_or_else(|| format!("no route is named {function}"))?;
    let app = router::api(start().await?, &[route]);
    lambda_http::run(app).await
}

/// One operation-run step consuming its SQS queue, with partial batch failures.
pub async fn step_function(function: &str) -> Result<(), Error> {
    require_lambda()?;
    let step = steps::find(function).ok_or_else(|| format!("no step is named {function}"))?;
    let state = start().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(sqs_batch(state, &step, ev.payload).await)
    }))
    .await
}

/// The dead-letter consumer of a step's queue: records each message's unit as failed.
pub async fn dead_letter_function(function: &str) -> Result<(), Error> {
    require_lambda()?;
    let step = steps::steps()
        .iter()
        .find(|s| steps::dead_letter_function(s) == function)
        .copied()
        .ok_or_else(|| format!("no dead-letter consumer is named {function}"))?;
    let state = start().await?;
    let state = &state;
    let _ = step;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<SqsEvent>| async move {
        let mut resp = SqsBatchResponse::default();
        for r in ev.payload.records {
            if let Err(e) = crate::runs::dead_letter(state, r.body.as_deref().unwrap_or_default()).await {
                tracing::warn!(error = %e, "dead letter not recorded; it will be retried");
                let mut f = BatchItemFailure::default();
                f.item_identifier = r.message_id.unwrap_or_default();
                resp.batch_item_failures.push(f);
            }
        }
        Ok::<_, Error>(resp)
    }))
    .await
}

/// The EventBridge scheduler tick.
pub async fn scheduler_function() -> Result<(), Error> {
    require_lambda()?;
    let state = start().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        scheduler::tick(state).await.map_err(|e| Error::from(e.to_string()))
    }))
    .await
}

/// Handles one SQS event; the failed message ids go back so only they are redelivered.
pub async fn sqs_batch(state: &AppState, step: &steps::Step, event: SqsEvent) -> SqsBatchResponse {
    let messages = event
        .records
        .into_iter()
        .map(|r| (r.message_id.unwrap_or_default(), r.body.unwrap_or_default()))
        .collect();
    let failed = steps::handle_batch(state, step, messages).await;
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    resp
}

/// Every function's Lambda in one binary (ADR 0037): runs the function named `name` (a route, a
/// step, a step's dead-letter consumer or the scheduler tick), as the template's `ATLAS_FUNCTION`
/// names it. Err, naming what it accepts, when `name` is none of them.
pub async fn function_named(name: &str) -> Result<(), Error> {
    if registry::find(name).is_some() {
        http_function(name).await
    } else if steps::find(name).is_some() {
        step_function(name).await
    } else if steps::steps().iter().any(|s| steps::dead_letter_function(s) == name) {
        dead_letter_function(name).await
    } else if name == scheduler::FUNCTION {
        scheduler_function().await
    } else {
        Err(format!(
            "no function is named {name:?}: ATLAS_FUNCTION must name a route, a step, a step's dead-letter \
             consumer or {:?} (the functions of infra/template.yaml)",
            scheduler::FUNCTION
        )
        .into())
    }
}
